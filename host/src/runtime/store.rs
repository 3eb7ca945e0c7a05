//! A fresh, limited, deny-by-default store for every invocation.

use std::sync::Arc;

use wasmtime::{Store, UpdateDeadline};
use wasmtime_wasi::WasiCtx;
use wasmtime_wasi_http::WasiHttpCtx;

use super::engine::EPOCH_TICK;
use super::state::{CpuDeadlineExceeded, CpuMeter, HostState, Invocation, PluginLimiter};
use super::{LoadedPlugin, RuntimeInner};
use crate::capabilities::config::ConfigCtx;
use crate::capabilities::flow_links::LinksCtx;
use crate::capabilities::http::EgressCtx;
use crate::capabilities::log::LogCtx;
use crate::capabilities::secrets::SecretsCtx;
use crate::capabilities::storage::StorageCtx;
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
    let services = &rt.services;
    let log = LogCtx::new(&inv.tenant, &inv.plugin);
    let mut wasi = WasiCtx::builder();
    wasi.stdout(log.output("stdout"))
        .stderr(log.output("stderr"))
        .wall_clock(WasiWallClock(services.clock.clone()))
        .allow_ip_name_lookup(false)
        .allow_tcp(false)
        .allow_udp(false);
    let egress = EgressCtx::new(
        rt.egress.clone(),
        inv.binding.clone(),
        inv.work.as_ref().map(|w| w.item_id.clone()),
    );
    // Only a flow routes calls to connectors; a connector's store has no links.
    let links = if plugin.manifest.world == WorldKind::Flow {
        let calls = CallLog::new(
            services.store.clone(),
            services.clock.clone(),
            &inv.tenant,
            &inv.plugin,
            inv.work.clone(),
        );
        LinksCtx::new(inv.binding.clone(), rt.router(), calls)
    } else {
        LinksCtx::none()
    };
    let state = HostState {
        table: wasmtime::component::ResourceTable::new(),
        wasi: wasi.build(),
        http: WasiHttpCtx::new(),
        egress,
        config: ConfigCtx::new(inv.binding.clone()),
        log,
        secrets: SecretsCtx::new(inv.binding.clone(), services.vault.clone()),
        storage: StorageCtx::new(&inv.binding, services.store.clone()),
        links,
        limiter: PluginLimiter {
            memory_cap: usize::try_from(limits.memory_bytes).unwrap_or(usize::MAX),
            exceeded: None,
        },
        cpu: CpuMeter {
            used_ticks: 0,
            max_ticks: (limits.cpu_ms / EPOCH_TICK.as_millis().max(1) as u64).max(1),
            exceeded: false,
        },
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
