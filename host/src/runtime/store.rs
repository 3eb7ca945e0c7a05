//! A fresh, limited, deny-by-default store for every invocation.

use std::sync::Arc;

use wasmtime::{Store, UpdateDeadline};
use wasmtime_wasi::WasiCtx;
use wasmtime_wasi_http::WasiHttpCtx;

use super::engine::EPOCH_TICK;
use super::state::{CpuDeadlineExceeded, CpuMeter, HostState, Invocation, PluginLimiter};
use super::{LoadedPlugin, RuntimeInner};
use crate::capabilities::http::EgressPolicy;
use crate::capabilities::log::GuestOutput;
use crate::clock::WasiWallClock;
use crate::durability::CallLog;
use crate::manifest::WorldKind;

/// Builds the store for one invocation of `plugin` as `inv`: its own resource table, WASI
/// context with no filesystem, environment, arguments or sockets, egress gate from the binding's
/// grants, memory cap and CPU budget from the manifest's limits.
pub(crate) fn new_store(
    rt: &Arc<RuntimeInner>,
    plugin: &LoadedPlugin,
    inv: Invocation,
) -> Store<HostState> {
    let limits = plugin.manifest.limits;
    let mut wasi = WasiCtx::builder();
    wasi.stdout(GuestOutput::new(&inv, "stdout"))
        .stderr(GuestOutput::new(&inv, "stderr"))
        .wall_clock(WasiWallClock(rt.services.clock.clone()))
        .allow_ip_name_lookup(false)
        .allow_tcp(false)
        .allow_udp(false);
    let egress = EgressPolicy::new(rt.clone(), &inv);
    let state = HostState {
        table: wasmtime::component::ResourceTable::new(),
        wasi: wasi.build(),
        http: WasiHttpCtx::new(),
        egress,
        limiter: PluginLimiter {
            memory_cap: usize::try_from(limits.memory_bytes).unwrap_or(usize::MAX),
            exceeded: None,
        },
        cpu: CpuMeter {
            used_ticks: 0,
            max_ticks: (limits.cpu_ms / EPOCH_TICK.as_millis().max(1) as u64).max(1),
            exceeded: false,
        },
        // Only a flow routes calls to connectors; a connector's store carries no call log.
        calls: (plugin.manifest.world == WorldKind::Flow).then(|| {
            CallLog::new(
                rt.services.store.clone(),
                rt.services.clock.clone(),
                &inv.tenant,
                &inv.plugin,
                inv.work.clone(),
            )
        }),
        inv,
        rt: rt.clone(),
    };
    let mut store = Store::new(&rt.engine, state);
    store.limiter(|s| &mut s.limiter);
    store.set_epoch_deadline(1);
    let cpu_ms = limits.cpu_ms;
    store.epoch_deadline_callback(move |mut ctx| {
        let cpu = &mut ctx.data_mut().cpu;
        cpu.used_ticks += 1;
        if cpu.used_ticks > cpu.max_ticks {
            cpu.exceeded = true;
            return Err(CpuDeadlineExceeded { ms: cpu_ms }.into());
        }
        // Yield at every tick so a busy guest never starves other tasks on this thread and the
        // wall-clock timeout around the call can fire.
        Ok(UpdateDeadline::Yield(1))
    });
    store
}
