//! The seam between the flow's logic and the host: the `erp` and `carrier` imports, storage,
//! configuration and logging. [`Host`] calls the real imports; tests use a scripted fake.

use mlc_plugin_sdk::flow_imports::{carrier, erp};
use mlc_plugin_sdk::host::{self, Level as HostLevel};
use mlc_plugin_sdk::{
    Address, AddressValidation, CarrierShipment, Error, FreightCharge, FreightOutcome, Rate,
    RateRequest, ReadyPage, Shipment, ShipmentRequest, SubscriptionResult, TrackingEvent,
    TrackingPoll,
};

/// Shorthand for contract results.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Log levels the flow uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    /// Normal operation.
    Info,
    /// Something unusual that did not fail.
    Warn,
    /// A failure.
    Error,
}

/// Everything the flow needs from outside.
pub trait Platform {
    // --- erp (served by the host through the tenant's ERP connector) ---
    /// `erp.list-ready-shipments`.
    fn list_ready_shipments(&self, cursor: Option<&str>, page: Option<&str>) -> Result<ReadyPage>;
    /// `erp.get-shipment`.
    fn get_shipment(&self, erp_id: &str) -> Result<Shipment>;
    /// `erp.record-carrier-shipment`.
    fn record_carrier_shipment(&self, erp_id: &str, shipment: &CarrierShipment) -> Result<()>;
    /// `erp.record-freight-cost`.
    fn record_freight_cost(&self, charge: &FreightCharge) -> Result<FreightOutcome>;
    /// `erp.record-tracking`.
    fn record_tracking(&self, erp_id: &str, event: &TrackingEvent) -> Result<()>;

    // --- carrier (served by the host through the tenant's carrier connector) ---
    /// `carrier.validate-address`.
    fn validate_address(&self, address: &Address) -> Result<AddressValidation>;
    /// `carrier.rate-shipment`.
    fn rate_shipment(&self, request: &RateRequest) -> Result<Vec<Rate>>;
    /// `carrier.create-shipment`.
    fn create_shipment(&self, request: &ShipmentRequest) -> Result<CarrierShipment>;
    /// `carrier.subscribe-tracking`.
    fn subscribe_tracking(&self, numbers: &[String]) -> Result<SubscriptionResult>;
    /// `carrier.poll-tracking`.
    fn poll_tracking(&self, bookmark: Option<&str>) -> Result<TrackingPoll>;

    // --- storage (private to this flow in this tenant) ---
    /// A key's value and revision.
    fn get(&self, key: &str) -> Result<Option<(Vec<u8>, u64)>>;
    /// Unconditional write.
    fn set(&self, key: &str, value: &[u8]) -> Result<u64>;
    /// Write if the revision matches (none: only if absent); none when it did not.
    fn compare_and_swap(
        &self,
        key: &str,
        expected: Option<u64>,
        value: &[u8],
    ) -> Result<Option<u64>>;
    /// Deletes a key (absent is fine).
    fn delete(&self, key: &str) -> Result<()>;
    /// Every key under a prefix, in byte order.
    fn list_keys(&self, prefix: &str) -> Result<Vec<String>>;

    // --- config and log ---
    /// One setting.
    fn config(&self, key: &str) -> Option<String>;
    /// One log line.
    fn log(&self, level: Level, message: &str);
}

/// The real host.
pub struct Host;

impl Platform for Host {
    fn list_ready_shipments(&self, cursor: Option<&str>, page: Option<&str>) -> Result<ReadyPage> {
        erp::list_ready_shipments(cursor, page)
    }
    fn get_shipment(&self, erp_id: &str) -> Result<Shipment> {
        erp::get_shipment(erp_id)
    }
    fn record_carrier_shipment(&self, erp_id: &str, shipment: &CarrierShipment) -> Result<()> {
        erp::record_carrier_shipment(erp_id, shipment)
    }
    fn record_freight_cost(&self, charge: &FreightCharge) -> Result<FreightOutcome> {
        erp::record_freight_cost(charge)
    }
    fn record_tracking(&self, erp_id: &str, event: &TrackingEvent) -> Result<()> {
        erp::record_tracking(erp_id, event)
    }
    fn validate_address(&self, address: &Address) -> Result<AddressValidation> {
        carrier::validate_address(address)
    }
    fn rate_shipment(&self, request: &RateRequest) -> Result<Vec<Rate>> {
        carrier::rate_shipment(request)
    }
    fn create_shipment(&self, request: &ShipmentRequest) -> Result<CarrierShipment> {
        carrier::create_shipment(request)
    }
    fn subscribe_tracking(&self, numbers: &[String]) -> Result<SubscriptionResult> {
        carrier::subscribe_tracking(numbers)
    }
    fn poll_tracking(&self, bookmark: Option<&str>) -> Result<TrackingPoll> {
        carrier::poll_tracking(bookmark)
    }
    fn get(&self, key: &str) -> Result<Option<(Vec<u8>, u64)>> {
        Ok(host::storage::get(key)?.map(|e| (e.value, e.revision)))
    }
    fn set(&self, key: &str, value: &[u8]) -> Result<u64> {
        host::storage::set(key, value)
    }
    fn compare_and_swap(
        &self,
        key: &str,
        expected: Option<u64>,
        value: &[u8],
    ) -> Result<Option<u64>> {
        host::storage::compare_and_swap(key, expected, value)
    }
    fn delete(&self, key: &str) -> Result<()> {
        host::storage::delete(key)
    }
    fn list_keys(&self, prefix: &str) -> Result<Vec<String>> {
        host::storage::all_keys(prefix)
    }
    fn config(&self, key: &str) -> Option<String> {
        host::config::get(key)
    }
    fn log(&self, level: Level, message: &str) {
        let level = match level {
            Level::Info => HostLevel::Info,
            Level::Warn => HostLevel::Warn,
            Level::Error => HostLevel::Error,
        };
        host::log(level, message);
    }
}
