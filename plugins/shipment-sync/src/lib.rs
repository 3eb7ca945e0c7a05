//! The shipment-sync flow: IFS Cloud shipments → UPS shipments, tracking numbers and freight
//! back to IFS, UPS tracking events → IFS status. It has no network: its `erp` and `carrier`
//! imports are served by the host through the tenant's connectors. See README.md.

mod config;
mod discover;
mod mapping;
mod ops;
mod platform;
mod store;
mod subscriptions;
mod tracking;

#[cfg(test)]
mod tests;

use mlc_plugin_sdk::Error;
use mlc_plugin_sdk::TrackingEvent;
use mlc_plugin_sdk::exports::flow::{
    Discovery, Guest, Outcome, Tick, TrackingReport, Upkeep, WorkItem,
};

use platform::Host;

/// The flow component.
pub struct ShipmentSync;

impl Guest for ShipmentSync {
    fn discover(tick: Tick) -> Result<Discovery, Error> {
        ops::discover(&Host, &tick)
    }

    fn process(item: WorkItem) -> Result<Outcome, Error> {
        ops::process(&Host, &item)
    }

    fn maintain(tick: Tick) -> Result<Upkeep, Error> {
        ops::maintain(&Host, &tick)
    }

    fn handle_tracking(_tick: Tick, events: Vec<TrackingEvent>) -> Result<TrackingReport, Error> {
        ops::handle_tracking(&Host, &events)
    }
}

#[cfg(target_arch = "wasm32")]
mlc_plugin_sdk::export_sync_flow!(ShipmentSync with_types_in mlc_plugin_sdk::bindings::flow_world);
