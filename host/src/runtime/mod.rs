//! Everything that touches wasmtime: the engine, loading and checking components, fresh stores
//! per invocation, and the domain calls the rest of the host makes ([`Runtime`]).
//!
//! This is the only module that names `Store`, `Linker`, `Component` or a `*Pre`.

pub mod bindings;
pub mod domain;
mod engine;
mod invoke;
pub mod metrics;
mod registry;
mod router;
pub(crate) mod state;
mod store;

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, RwLock};

use wasmtime::Engine;
use wasmtime::component::Linker;

pub use self::engine::{EPOCH_TICK, MAX_PLUGIN_MEMORY};
pub use self::invoke::{CarrierClient, ErpClient, FlowClient, InvokeError, TrapKind};
pub use self::metrics::Metrics;
pub use self::registry::{
    LoadError, PROBATION_CALLS, PluginInfo, VersionError, VersionInfo, VersionStatus, world_id,
};
pub(crate) use self::registry::{LoadedKind, LoadedPlugin};
use self::state::HostState;
use crate::capabilities;
use crate::capabilities::flow_links::ConnectorRouter;
pub use crate::capabilities::http::EgressLimits;
use crate::capabilities::http::{Credentials, EgressEnv, NoCredentials};
use crate::clock::{SharedClock, SystemClock};
use crate::db::Store;
pub use crate::durability::WorkRef;
use crate::manifest::{Binding, Manifest};
use crate::vault::Vault;

/// Shared services the capabilities need.
#[derive(Clone)]
pub struct Services {
    /// Durable state.
    pub store: Arc<dyn Store>,
    /// Secrets; `None` when no master key is configured (secret reads then fail with `denied`).
    pub vault: Option<Vault>,
    /// The host clock (also the plugins' wall clock).
    pub clock: SharedClock,
    /// Adds credentials to requests for connection-bound hosts.
    pub credentials: Arc<dyn Credentials>,
    /// Egress limits.
    pub egress: EgressLimits,
}

impl Services {
    /// Services over a store with the system clock, no vault and no credentials.
    pub fn new(store: Arc<dyn Store>) -> Self {
        Services {
            store,
            vault: None,
            clock: Arc::new(SystemClock),
            credentials: Arc::new(NoCredentials),
            egress: EgressLimits::default(),
        }
    }
}

/// Errors building the runtime.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The engine or linker could not be configured.
    #[error("cannot set up the wasmtime engine: {0:#}")]
    Engine(wasmtime::Error),
    /// The outgoing HTTP client could not be built.
    #[error("cannot build the HTTP client: {0}")]
    Http(#[from] reqwest::Error),
}

pub(crate) struct RuntimeInner {
    pub(crate) engine: Engine,
    connector_linker: Linker<HostState>,
    flow_linker: Linker<HostState>,
    plugins: RwLock<HashMap<String, Arc<LoadedPlugin>>>,
    bindings: RwLock<HashMap<(String, String), Arc<Binding>>>,
    pub(crate) services: Services,
    /// What every store's egress gate shares.
    pub(crate) egress: Arc<EgressEnv>,
    versions: registry::Versions,
    pub(crate) metrics: Arc<Metrics>,
}

/// Loads plugins and invokes them. Cheap to clone; clones share everything.
#[derive(Clone)]
pub struct Runtime {
    pub(crate) inner: Arc<RuntimeInner>,
}

impl Runtime {
    /// Builds the engine (with the compilation cache in `cache_dir`, if given), the linkers and
    /// the epoch ticker.
    pub fn new(services: Services, cache_dir: Option<&Path>) -> Result<Self, RuntimeError> {
        let engine = engine::build_engine(cache_dir).map_err(RuntimeError::Engine)?;
        engine::spawn_epoch_ticker(&engine);
        let mut connector_linker = Linker::new(&engine);
        capabilities::add_to_linker(&mut connector_linker).map_err(RuntimeError::Engine)?;
        let mut flow_linker = Linker::new(&engine);
        capabilities::add_to_linker(&mut flow_linker).map_err(RuntimeError::Engine)?;
        capabilities::add_flow_imports_to_linker(&mut flow_linker).map_err(RuntimeError::Engine)?;
        let egress = Arc::new(EgressEnv::new(
            services.credentials.clone(),
            services.egress,
            services.store.clone(),
            services.clock.clone(),
        )?);
        Ok(Runtime {
            inner: Arc::new(RuntimeInner {
                engine,
                connector_linker,
                flow_linker,
                plugins: RwLock::new(HashMap::new()),
                bindings: RwLock::new(HashMap::new()),
                services,
                egress,
                versions: registry::Versions::default(),
                metrics: Arc::new(Metrics::default()),
            }),
        })
    }

    /// The shared services.
    pub fn services(&self) -> &Services {
        &self.inner.services
    }

    /// Compiles a component (or takes it from the cache), checks it against the manifest's
    /// world — every import provided by the host, every export of the world present — and makes
    /// it the active version of its plugin id. Nothing changes when the check fails.
    pub fn load(&self, manifest: Manifest, bytes: &[u8]) -> Result<PluginInfo, LoadError> {
        self.load_startup(manifest, bytes)
    }

    /// Binds a loaded (or not yet loaded) plugin to a tenant with its grants and settings,
    /// replacing an earlier binding of the same pair.
    pub fn bind(&self, binding: Binding) {
        let mut bindings = self
            .inner
            .bindings
            .write()
            .unwrap_or_else(|p| p.into_inner());
        bindings.insert(
            (binding.tenant.clone(), binding.plugin.clone()),
            Arc::new(binding),
        );
    }

    /// A client for the ERP connector `plugin` in `tenant`.
    pub fn erp(&self, tenant: &str, plugin: &str) -> ErpClient {
        self.inner.erp_client(tenant, plugin, None)
    }

    /// A client for the carrier connector `plugin` in `tenant`.
    pub fn carrier(&self, tenant: &str, plugin: &str) -> CarrierClient {
        self.inner.carrier_client(tenant, plugin, None)
    }

    /// A client for the flow `plugin` in `tenant`. With `work`, every call the flow makes
    /// through the host is journaled as a step of that work item (and memoized writes are
    /// answered from the journal on a retry).
    pub fn flow(&self, tenant: &str, plugin: &str, work: Option<WorkRef>) -> FlowClient {
        FlowClient {
            rt: self.inner.clone(),
            tenant: tenant.to_owned(),
            plugin: plugin.to_owned(),
            work,
        }
    }

    /// The loaded plugins.
    pub fn plugins(&self) -> Vec<PluginInfo> {
        let plugins = self.inner.plugins.read().unwrap_or_else(|p| p.into_inner());
        let mut out: Vec<_> = plugins.values().map(|p| p.info()).collect();
        out.sort_by(|a, b| a.id.cmp(&b.id));
        out
    }
}

impl RuntimeInner {
    /// The router a flow's store uses to reach this runtime's connectors.
    pub(crate) fn router(self: &Arc<Self>) -> Arc<dyn ConnectorRouter> {
        Arc::new(router::Router(self.clone()))
    }

    pub(crate) fn plugin(&self, id: &str) -> Option<Arc<LoadedPlugin>> {
        self.plugins
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .cloned()
    }

    pub(crate) fn binding(&self, tenant: &str, plugin: &str) -> Option<Arc<Binding>> {
        self.bindings
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&(tenant.to_owned(), plugin.to_owned()))
            .cloned()
    }
}
