//! `HostState`, the data of every plugin store, and the views WASI borrows from it.

use std::sync::Arc;

use wasmtime::ResourceLimiter;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use super::RuntimeInner;
use crate::capabilities::http::EgressPolicy;
use crate::durability::CallLog;
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

/// A work item run: the item and its attempt number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkRef {
    /// The work item id.
    pub item_id: String,
    /// Its run number.
    pub attempt: u32,
}

/// Store data for one plugin invocation. Built by `store::new_store`, dropped with the store:
/// nothing in it outlives the invocation or is shared with another tenant or plugin.
pub struct HostState {
    pub(crate) table: ResourceTable,
    pub(crate) wasi: WasiCtx,
    pub(crate) http: WasiHttpCtx,
    pub(crate) egress: EgressPolicy,
    pub(crate) limiter: PluginLimiter,
    pub(crate) cpu: CpuMeter,
    pub(crate) inv: Invocation,
    pub(crate) rt: Arc<RuntimeInner>,
    /// The record of calls a flow routes to connectors (`None` in a connector's store).
    pub(crate) calls: Option<CallLog>,
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
