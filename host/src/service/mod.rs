//! The long-lived service: everything `ml-connector serve` (and `demo`) runs, built from one
//! [`Config`]: the store and vault, the token manager, the runtime with its plugins and tenant
//! bindings, one scheduler loop per tenant flow, the webhook ingress and the admin API.

mod watch;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

pub use self::watch::{DirLoad, POLL_EVERY, scan_plugins_dir, watch_plugins_dir};
use crate::capabilities::http::Credentials;
use crate::clock::{SharedClock, SystemClock};
use crate::config::{Config, SecretRef};
use crate::credentials::TokenManager;
use crate::db::{DataDirLock, Store, open_data_dir};
use crate::manifest::{Manifest, WorldKind};
use crate::runtime::{Runtime, Services};
use crate::scheduler::{FlowHandle, FlowRunner, FlowSettings, RetryPolicy};
use crate::vault::{MasterKey, SecretString, Vault, VaultError};
use crate::webhooks::{SharedHeader, TenantWebhook, WebhookState};

/// Why the service could not start. Each case names what it was setting up.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The store could not be opened.
    #[error("cannot open the data directory {path}: {source}")]
    Store {
        /// The directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: crate::db::StoreError,
    },
    /// The vault refused the master key.
    #[error(transparent)]
    Vault(#[from] VaultError),
    /// The configuration is unusable (a path that cannot be resolved).
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// The token manager could not start.
    #[error("cannot set up credentials: {0}")]
    Credentials(String),
    /// The runtime could not start.
    #[error(transparent)]
    Runtime(#[from] crate::runtime::RuntimeError),
    /// A plugin could not be loaded.
    #[error("plugin `{plugin}`: {message}")]
    Plugin {
        /// The plugin id.
        plugin: String,
        /// Why.
        message: String,
    },
    /// A plugin's component was refused at load (the error names the plugin).
    #[error(transparent)]
    Load(crate::runtime::LoadError),
    /// A webhook credential could not be resolved.
    #[error("tenant `{tenant}`: webhook credential: {message}")]
    Webhook {
        /// The tenant.
        tenant: String,
        /// Why.
        message: String,
    },
    /// A listener could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: std::net::SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// How to start the service beyond its configuration.
#[derive(Clone)]
pub struct ServiceOptions {
    /// The host clock (the demo runs the host on a clock it advances with the simulators).
    pub clock: SharedClock,
    /// The master key; `None` reads `MLC_MASTER_KEY` / `MLC_MASTER_KEY_FILE`, and without one
    /// the service runs with no vault (no stored secrets).
    pub master_key: Option<MasterKey>,
    /// The admin API bearer token; `None` reads the environment variable the config names.
    pub admin_token: Option<SecretString>,
}

impl Default for ServiceOptions {
    fn default() -> Self {
        ServiceOptions {
            clock: Arc::new(SystemClock),
            master_key: None,
            admin_token: None,
        }
    }
}

/// The first-party plugins bundled in the binary: (id, world, component bytes).
pub const BUNDLED: &[(&str, WorldKind, &[u8])] = &[
    ("ifs-cloud", WorldKind::Erp, crate::bundled::IFS_CLOUD),
    ("ups", WorldKind::Carrier, crate::bundled::UPS),
    (
        "shipment-sync",
        WorldKind::Flow,
        crate::bundled::SHIPMENT_SYNC,
    ),
];

/// The running service's parts. Shared by the scheduler loops, the ingress and the admin API,
/// which read them through the accessors below.
pub struct Service {
    config: Config,
    runtime: Runtime,
    store: Arc<dyn Store>,
    vault: Option<Vault>,
    tokens: Arc<TokenManager>,
    clock: SharedClock,
    flows: Vec<Arc<FlowHandle>>,
    admin_token: Option<SecretString>,
    ready: AtomicBool,
    shutdown: CancellationToken,
    /// Held for the service's life.
    _lock: DataDirLock,
}

impl Service {
    /// The configuration it was built from.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The plugin runtime.
    pub fn runtime(&self) -> &Runtime {
        &self.runtime
    }

    /// The store (journal, inbox, kv, secrets, tokens, plugin versions).
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// Secrets, when a master key is configured.
    pub fn vault(&self) -> Option<&Vault> {
        self.vault.as_ref()
    }

    /// OAuth2 tokens of the configured connections.
    pub fn tokens(&self) -> &Arc<TokenManager> {
        &self.tokens
    }

    /// The host clock.
    pub fn clock(&self) -> &SharedClock {
        &self.clock
    }

    /// One handle per tenant flow.
    pub fn flows(&self) -> &[Arc<FlowHandle>] {
        &self.flows
    }

    /// The admin API bearer token (none: the admin API refuses every authenticated route).
    pub fn admin_token(&self) -> Option<&SecretString> {
        self.admin_token.as_ref()
    }

    /// Builds the service: opens the store, the vault and the token manager, loads the
    /// plugins (bundled, or the files the config names), binds every tenant, requeues work a
    /// previous run left in flight, and prepares one runner per tenant flow.
    pub async fn build(
        config: Config,
        options: ServiceOptions,
    ) -> Result<Arc<Service>, ServiceError> {
        // `Config::load` already resolved the paths; a configuration built in code (tests, the
        // demo) may still carry relative ones.
        let mut config = config;
        config.resolve_paths(std::path::Path::new("(configuration)"))?;
        let data_dir = config.service.data_dir.clone();
        tracing::info!(data_dir = %data_dir.display(), "opening the data directory");
        // Before anything is read or written: a second service on this directory would requeue
        // and work the first one's in-flight items.
        let lock = DataDirLock::acquire(&data_dir).map_err(|source| ServiceError::Store {
            path: data_dir.clone(),
            source,
        })?;
        let store = open_data_dir(&data_dir).map_err(|source| ServiceError::Store {
            path: data_dir.clone(),
            source,
        })?;
        let dyn_store: Arc<dyn Store> = store.clone();
        let key = match options.master_key.clone() {
            Some(key) => Some(key),
            None => match MasterKey::from_env() {
                Ok(key) => Some(key),
                Err(VaultError::NoKey) => {
                    tracing::warn!("no master key configured: stored secrets are unavailable");
                    None
                }
                Err(e) => return Err(e.into()),
            },
        };
        let vault = key
            .map(|key| Vault::open(dyn_store.clone(), key))
            .transpose()?;
        let tokens = Arc::new(
            TokenManager::from_config(&config, store.clone(), vault.clone(), options.clock.clone())
                .map_err(|e| ServiceError::Credentials(e.to_string()))?,
        );
        let mut services = Services::new(dyn_store.clone());
        services.vault = vault.clone();
        services.clock = options.clock.clone();
        services.credentials = tokens.clone() as Arc<dyn Credentials>;
        let runtime = Runtime::new(services, Some(&data_dir.join("cache")))?;
        runtime
            .keep_versions(store.clone(), data_dir.join("plugins"))
            .map_err(|source| ServiceError::Store {
                path: data_dir.clone(),
                source,
            })?;

        load_plugins(&runtime, &config)?;
        runtime.restore_active_versions();
        for binding in config.bindings() {
            runtime.bind(binding);
        }
        let requeued = store
            .requeue_interrupted(options.clock.now_ms())
            .map_err(|source| ServiceError::Store {
                path: data_dir.clone(),
                source,
            })?;
        if requeued > 0 {
            tracing::info!(
                requeued,
                "work items interrupted by the last shutdown were requeued"
            );
        }

        let mut flows = Vec::new();
        for tenant in &config.tenants {
            for (flow, f) in &tenant.flows {
                let runner = FlowRunner::new(
                    runtime.clone(),
                    FlowSettings {
                        tenant: tenant.id.clone(),
                        flow: flow.clone(),
                        carrier: f.carrier.clone(),
                        concurrency: f.concurrency,
                        retry: RetryPolicy {
                            base: f.retry_base,
                            max: f.retry_max,
                            max_attempts: f.max_attempts,
                        },
                    },
                );
                flows.push(Arc::new(FlowHandle::new(
                    runner,
                    f.schedule.clone(),
                    f.maintain_every,
                )));
            }
        }
        crate::scheduler::schedules::restore(store.as_ref(), &flows);
        let admin_token = options.admin_token.clone().or_else(|| {
            std::env::var(&config.service.admin_token_env)
                .ok()
                .filter(|t| !t.is_empty())
                .map(SecretString::new)
        });
        if admin_token.is_none() {
            tracing::warn!(env = %config.service.admin_token_env, "no admin token: the admin API will refuse authenticated requests");
        }
        Ok(Arc::new(Service {
            config,
            runtime,
            store,
            vault,
            tokens,
            clock: options.clock,
            flows,
            admin_token,
            ready: AtomicBool::new(false),
            shutdown: CancellationToken::new(),
            _lock: lock,
        }))
    }

    /// The flow handle of a tenant.
    pub fn flow(&self, tenant: &str, flow: &str) -> Option<&Arc<FlowHandle>> {
        self.flows
            .iter()
            .find(|f| f.runner.settings().tenant == tenant && f.runner.settings().flow == flow)
    }

    /// Whether start-up finished and the service is taking work.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Relaxed) && !self.shutdown.is_cancelled()
    }

    /// Asks the service to stop taking work and shut down.
    pub fn shutdown(&self) {
        self.shutdown.cancel();
    }

    /// The token that is cancelled at shutdown.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// The webhook ingress state: tenants with a `webhook` section, their credentials resolved.
    pub fn webhook_state(&self) -> Result<Arc<WebhookState>, ServiceError> {
        let mut tenants = HashMap::new();
        for tenant in &self.config.tenants {
            let Some(hook) = &tenant.webhook else {
                continue;
            };
            let secret = match &hook.credential {
                SecretRef::Env(var) => std::env::var(var).map(SecretString::new).map_err(|_| {
                    ServiceError::Webhook {
                        tenant: tenant.id.clone(),
                        message: format!("environment variable `{var}` is not set"),
                    }
                })?,
                SecretRef::Secret(name) => {
                    let vault = self.vault.as_ref().ok_or_else(|| ServiceError::Webhook {
                        tenant: tenant.id.clone(),
                        message: "no master key configured, so stored secrets are unavailable"
                            .into(),
                    })?;
                    vault.get(&tenant.id, WEBHOOK_SCOPE, name)?.ok_or_else(|| {
                        ServiceError::Webhook {
                            tenant: tenant.id.clone(),
                            message: format!(
                                "secret `{name}` (scope `{WEBHOOK_SCOPE}`) is not set"
                            ),
                        }
                    })?
                }
            };
            let notify = self
                .flows
                .iter()
                .find(|f| {
                    f.runner.settings().tenant == tenant.id && f.runner.settings().flow == hook.flow
                })
                .map(|f| f.wake.clone())
                .unwrap_or_else(|| Arc::new(Notify::new()));
            tenants.insert(
                tenant.id.clone(),
                TenantWebhook {
                    carrier: hook.carrier.clone(),
                    auth: Box::new(SharedHeader {
                        header: hook.header.to_ascii_lowercase(),
                        secret,
                    }),
                    max_body_bytes: hook.max_body_bytes,
                    notify,
                },
            );
        }
        Ok(Arc::new(WebhookState {
            store: self.store.clone(),
            clock: self.clock.clone(),
            tenants,
        }))
    }

    /// Runs until [`Service::shutdown`] on the configured listen addresses: the scheduler
    /// loops, the plugins-directory watch, the webhook ingress and `admin` (the admin API the
    /// composition root built over this service). On shutdown it stops taking work, lets
    /// in-flight items finish (anything still running is requeued at the next start) and
    /// returns.
    pub async fn run(self: Arc<Self>, admin: axum::Router) -> Result<(), ServiceError> {
        let webhook_listener = bind(self.config.service.webhook_listen).await?;
        let admin_listener = bind(self.config.service.admin_listen).await?;
        self.serve(webhook_listener, admin_listener, admin).await
    }

    /// Like [`Service::run`], on listeners the caller bound (port 0 in tests and the demo).
    pub async fn serve(
        self: Arc<Self>,
        webhook_listener: tokio::net::TcpListener,
        admin_listener: tokio::net::TcpListener,
        admin: axum::Router,
    ) -> Result<(), ServiceError> {
        let webhooks = crate::webhooks::router(self.webhook_state()?);
        let mut tasks = tokio::task::JoinSet::new();
        for flow in &self.flows {
            let flow = flow.clone();
            let shutdown = self.shutdown.clone();
            let clock = self.clock.clone();
            tasks.spawn(async move { flow.run_loop(clock, shutdown).await });
        }
        tasks.spawn(watch_plugins_dir(self.clone()));
        let token = self.shutdown.clone();
        tasks.spawn(async move {
            let shutdown = token.clone();
            if let Err(e) = axum::serve(webhook_listener, webhooks)
                .with_graceful_shutdown(async move { shutdown.cancelled().await })
                .await
            {
                tracing::error!("webhook ingress failed: {e}");
                token.cancel();
            }
        });
        let token = self.shutdown.clone();
        tasks.spawn(async move {
            let shutdown = token.clone();
            if let Err(e) = axum::serve(admin_listener, admin)
                .with_graceful_shutdown(async move { shutdown.cancelled().await })
                .await
            {
                tracing::error!("admin API failed: {e}");
                token.cancel();
            }
        });
        self.ready.store(true, Ordering::Relaxed);
        tracing::info!(flows = self.flows.len(), "ml-connector is running");
        while let Some(done) = tasks.join_next().await {
            if let Err(e) = done {
                tracing::error!("a service task failed: {e}");
            }
        }
        tracing::info!("ml-connector stopped");
        Ok(())
    }
}

/// The vault scope of webhook credentials.
pub const WEBHOOK_SCOPE: &str = "webhook";

async fn bind(addr: std::net::SocketAddr) -> Result<tokio::net::TcpListener, ServiceError> {
    tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| ServiceError::Listen { addr, source })
}

/// Loads every plugin the configuration uses: bundled first-party components unless the config
/// names a file, and third-party ones from their files.
fn load_plugins(runtime: &Runtime, config: &Config) -> Result<(), ServiceError> {
    let mut wanted: Vec<String> = Vec::new();
    for tenant in &config.tenants {
        wanted.extend(tenant.plugins.keys().cloned());
        wanted.extend(tenant.flows.keys().cloned());
    }
    wanted.extend(config.plugins.keys().cloned());
    wanted.sort();
    wanted.dedup();
    for id in wanted {
        let overrides = config.plugins.get(&id);
        let bundled = BUNDLED.iter().find(|(b, _, _)| *b == id);
        let (world, bytes, version) = match (overrides.and_then(|o| o.path.as_ref()), bundled) {
            (Some(path), _) => {
                let world = overrides.and_then(|o| o.world).or(bundled.map(|b| b.1)).ok_or_else(|| ServiceError::Plugin {
                    plugin: id.clone(),
                    message: "a third-party plugin needs `world` (erp, carrier or flow) in [plugins.<id>]".into(),
                })?;
                let bytes = std::fs::read(path).map_err(|e| ServiceError::Plugin {
                    plugin: id.clone(),
                    message: format!("cannot read {}: {e}", path.display()),
                })?;
                (world, bytes, "file".to_owned())
            }
            (None, Some((_, world, bytes))) => {
                (*world, bytes.to_vec(), env!("CARGO_PKG_VERSION").to_owned())
            }
            (None, None) => {
                return Err(ServiceError::Plugin {
                    plugin: id.clone(),
                    message: "is not bundled; give its component file as `path` in [plugins.<id>]"
                        .into(),
                });
            }
        };
        let limits = overrides.and_then(|o| o.limits).unwrap_or_default();
        let info = runtime
            .load(
                Manifest {
                    id: id.clone(),
                    version,
                    world,
                    limits,
                },
                &bytes,
            )
            .map_err(ServiceError::Load)?;
        tracing::info!(plugin = %info.id, hash = %info.hash, world = %info.world, "plugin loaded");
    }
    Ok(())
}
