//! `HostState`, the data of every plugin store: the capabilities' contexts, composed, and the
//! views WASI and the capabilities borrow from it.

use std::sync::Arc;

use wasmtime::ResourceLimiter;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use crate::capabilities::CapabilityView;
use crate::capabilities::config::ConfigCtx;
use crate::capabilities::flow_links::LinksCtx;
use crate::capabilities::http::EgressCtx;
use crate::capabilities::log::LogCtx;
use crate::capabilities::secrets::SecretsCtx;
use crate::capabilities::storage::StorageCtx;
use crate::durability::WorkRef;
use crate::manifest::Binding;

/// Who is running: the tenant, the plugin, its binding and the work item, if any.
#[derive(Debug, Clone)]
pub struct Invocation {
    /// The tenant.
    pub tenant: String,
    /// The plugin id.
    pub plugin: String,
    /// The plugin's grants and settings in this tenant.
    pub binding: Arc<Binding>,
    /// The work item this invocation belongs to: its calls are journaled as steps.
    pub work: Option<WorkRef>,
}

/// Store data for one plugin invocation. Built by `store::new_store`, dropped with the store:
/// nothing in it outlives the invocation or is shared with another tenant or plugin.
pub struct HostState {
    pub(crate) table: ResourceTable,
    pub(crate) wasi: WasiCtx,
    pub(crate) http: WasiHttpCtx,
    pub(crate) egress: EgressCtx,
    pub(crate) config: ConfigCtx,
    pub(crate) log: LogCtx,
    pub(crate) secrets: SecretsCtx,
    pub(crate) storage: StorageCtx,
    pub(crate) links: LinksCtx,
    pub(crate) limiter: PluginLimiter,
    pub(crate) cpu: CpuMeter,
}

impl CapabilityView for HostState {
    fn config(&mut self) -> &mut ConfigCtx {
        &mut self.config
    }
    fn log(&mut self) -> &mut LogCtx {
        &mut self.log
    }
    fn secrets(&mut self) -> &mut SecretsCtx {
        &mut self.secrets
    }
    fn storage(&mut self) -> &mut StorageCtx {
        &mut self.storage
    }
    fn links(&mut self) -> &mut LinksCtx {
        &mut self.links
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for HostState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.egress,
        }
    }
}

/// Caps linear memory and tables, and remembers whether the cap was hit so the failure can be
/// reported as "memory limit" rather than a bare trap.
#[derive(Debug)]
pub(crate) struct PluginLimiter {
    pub(crate) memory_cap: usize,
    pub(crate) exceeded: Option<usize>,
}

/// The error a denied memory growth traps with.
#[derive(Debug, thiserror::Error)]
#[error("memory limit of {cap} bytes exceeded (wanted {desired})")]
pub(crate) struct MemoryCapExceeded {
    pub(crate) cap: usize,
    pub(crate) desired: usize,
}

impl ResourceLimiter for PluginLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.memory_cap {
            self.exceeded = Some(desired);
            // Trap rather than fail the grow: a guest allocator that sees a failed grow aborts
            // anyway, and the trap carries the reason.
            return Err(MemoryCapExceeded {
                cap: self.memory_cap,
                desired,
            }
            .into());
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 100_000)
    }
}

/// Counts epoch ticks observed while the guest executes: a CPU-time budget, since ticks that
/// pass while the guest waits on a host call (HTTP, storage) are not observed by it.
#[derive(Debug)]
pub(crate) struct CpuMeter {
    pub(crate) used_ticks: u64,
    pub(crate) max_ticks: u64,
    pub(crate) exceeded: bool,
}

/// The error a runaway guest traps with.
#[derive(Debug, thiserror::Error)]
#[error("CPU deadline of {ms} ms exceeded")]
pub(crate) struct CpuDeadlineExceeded {
    pub(crate) ms: u64,
}
