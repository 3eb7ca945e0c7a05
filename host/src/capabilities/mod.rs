//! What a plugin can call: one module per WIT interface the host provides.
//!
//! Each module owns its context (`ConfigCtx`, `LogCtx`, `SecretsCtx`, `StorageCtx`,
//! `EgressCtx`, `LinksCtx`), built per store from the plugin's binding and the host's shared
//! services, and implements the generated `Host` trait on it, so each capability is tested
//! without a wasmtime `Store`. The runtime's store data composes the contexts and hands them out
//! through [`CapabilityView`].
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

use wasmtime::component::{HasData, HasSelf, Linker};
use wasmtime_wasi::WasiView;
use wasmtime_wasi_http::WasiHttpView;

use self::config::ConfigCtx;
use self::flow_links::LinksCtx;
use self::log::LogCtx;
use self::secrets::SecretsCtx;
use self::storage::StorageCtx;
use crate::runtime::bindings;

/// Store data that carries every capability's context (the runtime's `HostState`).
pub trait CapabilityView: WasiView + WasiHttpView + Send + 'static {
    /// `mlc:connect/config`.
    fn config(&mut self) -> &mut ConfigCtx;
    /// `mlc:connect/log`.
    fn log(&mut self) -> &mut LogCtx;
    /// `mlc:connect/secrets`.
    fn secrets(&mut self) -> &mut SecretsCtx;
    /// `mlc:connect/storage`.
    fn storage(&mut self) -> &mut StorageCtx;
    /// `mlc:connect/erp` and `mlc:connect/carrier` as a flow imports them.
    fn links(&mut self) -> &mut LinksCtx;
}

/// `mlc:connect/types` has no functions; its (empty) `Host` is served by this marker.
struct Types;

impl bindings::types::Host for Types {}

struct HasTypes;

impl HasData for HasTypes {
    type Data<'a> = Types;
}

/// Links every interface a connector may import.
pub(crate) fn add_to_linker<T: CapabilityView>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
    // WASI 0.2 (clocks, random, cli, io, filesystem, sockets), denied by the WasiCtx.
    wasmtime_wasi::p2::add_to_linker_async(linker)?;
    // wasi:http/outgoing-handler and types; egress passes `http::EgressCtx`.
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(linker)?;
    // mlc:connect host interfaces, in WIT order.
    bindings::types::add_to_linker::<T, HasTypes>(linker, |_| Types)?;
    bindings::log::add_to_linker::<T, HasSelf<LogCtx>>(linker, T::log)?;
    bindings::config::add_to_linker::<T, HasSelf<ConfigCtx>>(linker, T::config)?;
    bindings::secrets::add_to_linker::<T, HasSelf<SecretsCtx>>(linker, T::secrets)?;
    bindings::storage::add_to_linker::<T, HasSelf<StorageCtx>>(linker, T::storage)?;
    Ok(())
}

/// Links the interfaces only flows import: `erp` and `carrier`, served by calling the
/// connectors bound to the flow's tenant (see [`flow_links`]).
pub(crate) fn add_flow_imports_to_linker<T: CapabilityView>(
    linker: &mut Linker<T>,
) -> wasmtime::Result<()> {
    bindings::flow_imports::erp::add_to_linker::<T, HasSelf<LinksCtx>>(linker, T::links)?;
    bindings::flow_imports::carrier::add_to_linker::<T, HasSelf<LinksCtx>>(linker, T::links)?;
    Ok(())
}
