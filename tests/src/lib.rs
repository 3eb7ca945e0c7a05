//! The test harness: a host runtime wired for tests (in-memory store, a vault with a fresh
//! key, a clock tests can advance), the fixture and first-party components, and a loopback
//! HTTP server that counts what it receives.
#![expect(
    clippy::expect_used,
    clippy::panic,
    reason = "test harness: failed set-up must fail the test loudly"
)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use host::clock::OffsetClock;
use host::db::Store;
use host::manifest::{Binding, Grants, HostGrant, Limits, Manifest, WorldKind};
use host::runtime::{LoadError, PluginInfo, Runtime, Services};
use host::vault::{MasterKey, SecretString, Vault};

pub use host::bundled;

pub mod sim;

/// A host runtime for one test.
pub struct TestHost {
    /// The runtime under test.
    pub runtime: Runtime,
    /// Its store, for reading exchanges and state back.
    pub store: Arc<dyn Store>,
    /// Its vault.
    pub vault: Vault,
    /// Its clock.
    pub clock: Arc<OffsetClock>,
}

impl TestHost {
    /// A runtime over an in-memory store.
    pub fn new() -> TestHost {
        Self::with_credentials(Arc::new(host::capabilities::http::NoCredentials))
    }

    /// A runtime over an in-memory store whose egress gets `Authorization` from `credentials`.
    pub fn with_credentials(
        credentials: Arc<dyn host::capabilities::http::Credentials>,
    ) -> TestHost {
        Self::build(credentials, None)
    }

    /// A runtime over an in-memory store with `credentials`, and wasmtime's compilation cache
    /// in `cache_dir` when given.
    pub fn build(
        credentials: Arc<dyn host::capabilities::http::Credentials>,
        cache_dir: Option<&std::path::Path>,
    ) -> TestHost {
        let store: Arc<dyn Store> = host::db::in_memory().expect("in-memory store");
        let vault = Vault::open(store.clone(), MasterKey::generate()).expect("vault");
        let clock = Arc::new(OffsetClock::new());
        let mut services = Services::new(store.clone());
        services.vault = Some(vault.clone());
        services.clock = clock.clone();
        services.credentials = credentials;
        let runtime = Runtime::new(services, cache_dir).expect("runtime");
        TestHost {
            runtime,
            store,
            vault,
            clock,
        }
    }

    /// Loads the component at `path` as plugin `id` implementing `world`, with `limits`.
    pub fn load_with(
        &self,
        id: &str,
        world: WorldKind,
        path: &str,
        limits: Limits,
    ) -> Result<PluginInfo, LoadError> {
        let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
        self.runtime.load(
            Manifest {
                id: id.into(),
                version: "test".into(),
                world,
                limits,
            },
            &bytes,
        )
    }

    /// Loads with default limits, panicking on failure.
    pub fn load(&self, id: &str, world: WorldKind, path: &str) -> PluginInfo {
        self.load_with(id, world, path, Limits::default())
            .unwrap_or_else(|e| panic!("loading {id}: {e}"))
    }

    /// Binds `plugin` to `tenant` with egress to `hosts` and the given secret names.
    pub fn bind(&self, tenant: &str, plugin: &str, hosts: &[&str], secrets: &[&str]) {
        self.runtime.bind(Binding {
            tenant: tenant.into(),
            plugin: plugin.into(),
            grants: Grants {
                hosts: hosts
                    .iter()
                    .map(|h| HostGrant::parse(h).expect("host grant"))
                    .collect(),
                secrets: secrets.iter().map(|s| s.to_string()).collect(),
                storage_quota_bytes: Some(64 * 1024),
            },
            ..Binding::default()
        });
    }

    /// Binds a flow to a tenant with its connector links.
    pub fn bind_flow(&self, tenant: &str, flow: &str, erp: &str, carrier: &str) {
        let mut binding = Binding {
            tenant: tenant.into(),
            plugin: flow.into(),
            ..Binding::default()
        };
        binding.links.insert("erp".into(), erp.into());
        binding.links.insert("carrier".into(), carrier.into());
        self.runtime.bind(binding);
    }

    /// Stores a plugin secret.
    pub fn set_secret(&self, tenant: &str, plugin: &str, name: &str, value: &str) {
        self.vault
            .put(tenant, plugin, name, &SecretString::new(value))
            .expect("storing a secret");
    }
}

impl Default for TestHost {
    fn default() -> Self {
        Self::new()
    }
}

/// A loopback HTTP server answering `200 hello` to everything and counting requests.
pub struct CountingServer {
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    hits: Arc<AtomicUsize>,
}

impl CountingServer {
    /// Starts the server on a free port.
    pub async fn start() -> CountingServer {
        let hits = Arc::new(AtomicUsize::new(0));
        let counter = hits.clone();
        let app = axum::Router::new().fallback(move || {
            let counter = counter.clone();
            async move {
                counter.fetch_add(1, Ordering::SeqCst);
                "hello"
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        CountingServer { url, hits }
    }

    /// Requests received so far.
    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

/// Waits until `done` holds, looking again each time `changes` moves (a run recorded, an
/// invocation observed) rather than on a timer. Panics with `state()` after `limit`.
pub async fn wait_for(
    changes: &mut tokio::sync::watch::Receiver<u64>,
    limit: std::time::Duration,
    mut done: impl FnMut() -> bool,
    state: impl Fn() -> String,
) {
    let deadline = tokio::time::Instant::now() + limit;
    while !done() {
        match tokio::time::timeout_at(deadline, changes.changed()).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => panic!("the source of changes is gone; waiting for: {}", state()),
            Err(_) => panic!("timed out after {limit:?}: {}", state()),
        }
    }
}
