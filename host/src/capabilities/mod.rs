//! What a plugin can call: one module per WIT interface the host provides.
//!
//! [`add_to_linker`] is the single list of linked interfaces. All of WASI 0.2 is linked —
//! components from componentize-py and componentize-js import filesystem and sockets
//! interfaces they never use — and denied through the `WasiCtx` (no preopens, no sockets, no
//! environment), so linking is not granting.

pub mod config;
pub mod flow_links;
pub mod http;
pub mod log;
pub mod secrets;
pub mod storage;

use wasmtime::component::{HasSelf, Linker};

use crate::runtime::bindings;
use crate::runtime::state::HostState;

/// Links every interface a connector may import.
pub(crate) fn add_to_linker(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    // WASI 0.2 (clocks, random, cli, io, filesystem, sockets), denied by the WasiCtx.
    wasmtime_wasi::p2::add_to_linker_async(linker)?;
    // wasi:http/outgoing-handler and types; egress passes `http::EgressPolicy`.
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(linker)?;
    // mlc:connect host interfaces, in WIT order.
    bindings::types::add_to_linker::<HostState, HasSelf<HostState>>(linker, |s| s)?;
    bindings::log::add_to_linker::<HostState, HasSelf<HostState>>(linker, |s| s)?;
    bindings::config::add_to_linker::<HostState, HasSelf<HostState>>(linker, |s| s)?;
    bindings::secrets::add_to_linker::<HostState, HasSelf<HostState>>(linker, |s| s)?;
    bindings::storage::add_to_linker::<HostState, HasSelf<HostState>>(linker, |s| s)?;
    Ok(())
}

/// Links the interfaces only flows import: `erp` and `carrier`, served by calling the
/// connectors bound to the flow's tenant (see [`flow_links`]).
pub(crate) fn add_flow_imports_to_linker(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    bindings::flow_imports::erp::add_to_linker::<HostState, HasSelf<HostState>>(linker, |s| s)?;
    bindings::flow_imports::carrier::add_to_linker::<HostState, HasSelf<HostState>>(linker, |s| s)?;
    Ok(())
}

impl bindings::types::Host for HostState {}
