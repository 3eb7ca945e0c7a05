//! Host-side bindings for `mlc:connect`. The only file that calls `bindgen!`.
//!
//! One invocation per world. The carrier and flow worlds reuse the erp world's modules for the
//! shared interfaces (`with:`), so a `Shipment` or an `Error` is one Rust type whether the host
//! receives it from a connector's export or hands it to a flow's import.

#[expect(missing_docs, reason = "bindgen-generated code")]
mod erp_world {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "mlc:connect/erp-connector",
        imports: { default: async | trappable | tracing },
        exports: { default: async },
        // The journal stores step inputs and outputs as JSON and answers retries from it.
        additional_derives: [serde::Serialize, serde::Deserialize, PartialEq],
        with: {
            "wasi": wasmtime_wasi::p2::bindings,
            "wasi:http": wasmtime_wasi_http::p2::bindings::http,
        },
    });
}

#[expect(missing_docs, reason = "bindgen-generated code")]
mod carrier_world {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "mlc:connect/carrier-connector",
        imports: { default: async | trappable | tracing },
        exports: { default: async },
        with: {
            "wasi": wasmtime_wasi::p2::bindings,
            "wasi:http": wasmtime_wasi_http::p2::bindings::http,
            "mlc:connect/types": super::erp_world::mlc::connect::types,
            "mlc:connect/log": super::erp_world::mlc::connect::log,
            "mlc:connect/config": super::erp_world::mlc::connect::config,
            "mlc:connect/secrets": super::erp_world::mlc::connect::secrets,
            "mlc:connect/storage": super::erp_world::mlc::connect::storage,
        },
    });
}

#[expect(missing_docs, reason = "bindgen-generated code")]
mod flow_world {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "mlc:connect/sync-flow",
        imports: { default: async | trappable | tracing },
        exports: { default: async },
        additional_derives: [serde::Serialize, serde::Deserialize, PartialEq],
        with: {
            "mlc:connect/types": super::erp_world::mlc::connect::types,
            "mlc:connect/log": super::erp_world::mlc::connect::log,
            "mlc:connect/config": super::erp_world::mlc::connect::config,
            "mlc:connect/storage": super::erp_world::mlc::connect::storage,
        },
    });
}

/// The contract's interfaces as the host implements them (imports of plugins).
pub use erp_world::mlc::connect::{config, log, secrets, storage, types};
/// The erp and carrier interfaces as a flow imports them (the host serves these).
pub mod flow_imports {
    pub use super::flow_world::mlc::connect::{carrier, erp};
}
/// The generated guest-export handles, for calling connectors.
pub use carrier_world::exports::mlc::connect::carrier::Guest as CarrierGuest;
/// The worlds' pre-instantiated handles and instance types.
pub use carrier_world::{CarrierConnector, CarrierConnectorPre};
pub use erp_world::exports::mlc::connect::erp::Guest as ErpGuest;
pub use erp_world::{ErpConnector, ErpConnectorPre};
pub use flow_world::exports::mlc::connect::flow;
pub use flow_world::{SyncFlow, SyncFlowPre};

/// Aliases used by `invoke`.
pub mod erp_exports {
    pub use super::erp_world::exports::mlc::connect::erp::Guest;
}
/// Aliases used by `invoke`.
pub mod carrier_exports {
    pub use super::carrier_world::exports::mlc::connect::carrier::Guest;
}
