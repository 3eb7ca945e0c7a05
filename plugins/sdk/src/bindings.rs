//! Guest bindings for `mlc:connect`, generated here and nowhere else.
//!
//! Each world is generated once. The carrier and flow worlds reuse the erp world's modules for
//! every interface they share (`with:`), so a `Shipment` or an `Error` is one Rust type in every
//! plugin. Export glue is only emitted when a plugin calls its world's `export_*!` macro, so a
//! connector built with this crate exports and imports only what its own world says.

#![allow(missing_docs, clippy::all, reason = "generated code")]

wit_bindgen::generate!({
    path: "../../wit",
    world: "mlc:connect/erp-connector",
    generate_all,
    pub_export_macro: true,
    export_macro_name: "export_erp_connector",
    default_bindings_module: "mlc_plugin_sdk::bindings",
});

/// The carrier-connector world, sharing every import with the erp world's modules.
pub mod carrier_world {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "mlc:connect/carrier-connector",
        with: {
            "wasi:http/types@0.2.12": crate::bindings::wasi::http::types,
            "wasi:http/outgoing-handler@0.2.12": crate::bindings::wasi::http::outgoing_handler,
            "wasi:io/error@0.2.12": crate::bindings::wasi::io::error,
            "wasi:io/poll@0.2.12": crate::bindings::wasi::io::poll,
            "wasi:io/streams@0.2.12": crate::bindings::wasi::io::streams,
            "wasi:clocks/monotonic-clock@0.2.12": crate::bindings::wasi::clocks::monotonic_clock,
            "mlc:connect/types@0.1.0": crate::bindings::mlc::connect::types,
            "mlc:connect/log@0.1.0": crate::bindings::mlc::connect::log,
            "mlc:connect/config@0.1.0": crate::bindings::mlc::connect::config,
            "mlc:connect/secrets@0.1.0": crate::bindings::mlc::connect::secrets,
            "mlc:connect/storage@0.1.0": crate::bindings::mlc::connect::storage,
        },
        pub_export_macro: true,
        export_macro_name: "export_carrier_connector",
        default_bindings_module: "mlc_plugin_sdk::bindings::carrier_world",
    });
}

/// The sync-flow world: its `erp` and `carrier` are imports served by the host.
pub mod flow_world {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "mlc:connect/sync-flow",
        with: {
            "mlc:connect/types@0.1.0": crate::bindings::mlc::connect::types,
            "mlc:connect/log@0.1.0": crate::bindings::mlc::connect::log,
            "mlc:connect/config@0.1.0": crate::bindings::mlc::connect::config,
            "mlc:connect/storage@0.1.0": crate::bindings::mlc::connect::storage,
        },
        pub_export_macro: true,
        export_macro_name: "export_sync_flow",
        default_bindings_module: "mlc_plugin_sdk::bindings::flow_world",
    });
}
