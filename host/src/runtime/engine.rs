//! The one `wasmtime::Engine` of the process, and the epoch ticker behind CPU deadlines.

use std::path::Path;
use std::time::Duration;

use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

/// How often the epoch advances. CPU budgets are counted in these ticks, so this is also the
/// granularity of the CPU deadline.
pub const EPOCH_TICK: Duration = Duration::from_millis(5);

pub use crate::manifest::MAX_PLUGIN_MEMORY;

/// Builds the engine: component model, epoch interruption, pooling allocator, and (when a
/// directory is given) wasmtime's on-disk compilation cache, keyed by the component's content
/// and the engine's settings, so restarts and hot swaps do not recompile.
pub fn build_engine(cache_dir: Option<&Path>) -> wasmtime::Result<Engine> {
    let mut config = Config::new();
    config.wasm_component_model(true);
    config.epoch_interruption(true);
    config.cranelift_opt_level(wasmtime::OptLevel::Speed);

    // The pooling allocator pre-reserves instance slots so instantiation is a few µs; that
    // matters because the host creates a fresh store and instance for every invocation.
    let mut pool = PoolingAllocationConfig::new();
    pool.total_component_instances(1_000);
    pool.total_core_instances(2_000);
    pool.total_memories(2_000);
    pool.total_tables(2_000);
    pool.max_memory_size(usize::try_from(MAX_PLUGIN_MEMORY).unwrap_or(usize::MAX));
    // Keep the first pages of each slot mapped between uses: guests touch their stack and data
    // first, and re-faulting them on every instantiation is the main per-call cost.
    pool.linear_memory_keep_resident(256 * 1024);
    pool.table_keep_resident(64 * 1024);
    config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    config.memory_init_cow(true);

    if let Some(dir) = cache_dir {
        std::fs::create_dir_all(dir)?;
        let mut cache_config = wasmtime::CacheConfig::new();
        cache_config.with_directory(dir);
        config.cache(Some(wasmtime::Cache::new(cache_config)?));
    }
    Engine::new(&config)
}

/// Advances the engine's epoch every [`EPOCH_TICK`] until the engine's last user is gone.
pub fn spawn_epoch_ticker(engine: &Engine) {
    let weak = engine.weak();
    // A plain thread, not a tokio task: a busy or blocked runtime must not stop the deadline
    // that protects it from runaway guests.
    let _ = std::thread::Builder::new()
        .name("mlc-epoch".into())
        .spawn(move || {
            while let Some(engine) = weak.upgrade() {
                engine.increment_epoch();
                drop(engine);
                std::thread::sleep(EPOCH_TICK);
            }
        });
}
