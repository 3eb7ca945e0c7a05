//! The IFS Cloud ERP connector: exports `mlc:connect/erp` over IFS's OData v4 projections
//! (`ShipmentHandling`, `CustomerOrderHandling`). See README.md for the settings it reads.

mod api;
mod client;
mod config;
mod freight;
mod mapping;
mod odata;
mod poll;
mod transport;
mod writeback;

#[cfg(test)]
mod tests;

use std::time::Duration;

use mlc_plugin_sdk::exports::erp::Guest;
use mlc_plugin_sdk::types::{FreightCharge, FreightOutcome, ReadyPage};
use mlc_plugin_sdk::{CarrierShipment, Error, Shipment, TrackingEvent, host};

use crate::client::Ifs;
use crate::config::Settings;
use crate::transport::Wasi;

/// The exported `erp` implementation.
pub struct Component;

/// Logs through the host; native unit tests have no host, so there it goes nowhere.
pub(crate) fn log_info(message: &str) {
    #[cfg(target_arch = "wasm32")]
    host::log(host::Level::Info, message);
    #[cfg(not(target_arch = "wasm32"))]
    let _ = message;
}

fn with_ifs<T>(f: impl FnOnce(&Ifs<'_>) -> Result<T, Error>) -> Result<T, Error> {
    let settings = Settings::from_lookup(&host::config::get)?;
    let transport = Wasi {
        timeout: Duration::from_millis(settings.timeout_ms),
    };
    f(&Ifs {
        s: &settings,
        t: &transport,
    })
}

impl Guest for Component {
    fn list_ready_shipments(
        cursor: Option<String>,
        page: Option<String>,
    ) -> Result<ReadyPage, Error> {
        with_ifs(|ifs| poll::list_ready(ifs, cursor, page))
    }

    fn get_shipment(erp_id: String) -> Result<Shipment, Error> {
        with_ifs(|ifs| ifs.get_shipment(&erp_id))
    }

    fn record_carrier_shipment(erp_id: String, shipment: CarrierShipment) -> Result<(), Error> {
        with_ifs(|ifs| {
            writeback::update_shipment(ifs, &erp_id, &|rec| {
                writeback::carrier_fields(ifs.s, &erp_id, &shipment, rec)
            })
        })
    }

    fn record_freight_cost(charge: FreightCharge) -> Result<FreightOutcome, Error> {
        with_ifs(|ifs| freight::record(ifs, &charge))
    }

    fn record_tracking(erp_id: String, event: TrackingEvent) -> Result<(), Error> {
        with_ifs(|ifs| {
            let fields = writeback::tracking_fields(ifs.s, &event)?;
            writeback::update_shipment(ifs, &erp_id, &|_| Ok(fields.clone()))
        })
    }
}

// Export glue only in the component: a native cdylib cannot carry the component-model symbol
// names (`cabi_post_mlc:connect/erp@0.1.0#…`), and native builds exist for the unit tests.
#[cfg(target_arch = "wasm32")]
mlc_plugin_sdk::export_erp_connector!(Component with_types_in mlc_plugin_sdk::bindings);
