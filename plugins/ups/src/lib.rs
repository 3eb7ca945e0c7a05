//! UPS carrier connector: exports `mlc:connect/carrier` over UPS's REST APIs (Address
//! Validation, Rating, Shipping, Tracking, Track Alert, Quantum View). See README.md for the
//! configuration keys, storage keys and error mapping.

mod api;
mod client;
mod config;
mod mapping;
mod ops;
mod platform;
mod store;
mod time;

use mlc_plugin_sdk::exports::carrier::Guest;
use mlc_plugin_sdk::{
    Address, AddressValidation, CarrierShipment, Error, Label, Rate, RateRequest, ShipmentRequest,
    SubscriptionResult, TrackingEvent, TrackingPoll,
};

use crate::platform::Wasi;

/// The exported component.
pub struct UpsConnector;

impl Guest for UpsConnector {
    fn validate_address(address: Address) -> Result<AddressValidation, Error> {
        ops::validate_address(&Wasi, address)
    }

    fn rate_shipment(request: RateRequest) -> Result<Vec<Rate>, Error> {
        ops::rate_shipment(&Wasi, request)
    }

    fn create_shipment(request: ShipmentRequest) -> Result<CarrierShipment, Error> {
        ops::create_shipment(&Wasi, request)
    }

    fn find_shipments(reference: String) -> Result<Vec<CarrierShipment>, Error> {
        ops::find_shipments(&Wasi, reference)
    }

    fn void_shipment(shipment_id: String) -> Result<(), Error> {
        ops::void_shipment(&Wasi, shipment_id)
    }

    fn get_label(tracking_number: String) -> Result<Label, Error> {
        ops::get_label(&Wasi, tracking_number)
    }

    fn subscribe_tracking(tracking_numbers: Vec<String>) -> Result<SubscriptionResult, Error> {
        ops::subscribe_tracking(&Wasi, tracking_numbers)
    }

    fn poll_tracking(bookmark: Option<String>) -> Result<TrackingPoll, Error> {
        ops::poll_tracking(&Wasi, bookmark)
    }

    fn track(tracking_number: String) -> Result<Vec<TrackingEvent>, Error> {
        ops::track(&Wasi, tracking_number)
    }

    fn parse_tracking_webhook(body: Vec<u8>) -> Result<Vec<TrackingEvent>, Error> {
        ops::parse_tracking_webhook(&Wasi, body)
    }
}

// Native builds (unit tests) cannot link the component's export symbols.
#[cfg(target_arch = "wasm32")]
mlc_plugin_sdk::export_carrier_connector!(UpsConnector with_types_in mlc_plugin_sdk::bindings::carrier_world);
