//! The connectors against the simulators: the IFS Cloud and UPS simulators in-process, a
//! [`TestHost`] whose credentials come from the simulators' token endpoints
//! ([`SimCredentials`]), and the real `ifs-cloud` and `ups` components loaded and bound with
//! settings derived from [`SimInfo`].
//!
//! [`SimCredentials`] stands in for the host's token manager until that exists: it fetches a
//! token on first use, caches it without looking at its lifetime (so an expired token takes the
//! host's 401 → refresh → retry path), and forgets it when the host reports a 401.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use host::capabilities::http::{CredentialError, Credentials};
use host::manifest::{Binding, Grants, HostGrant, WorldKind};
use host::runtime::{CarrierClient, ErpClient};
pub use simulators::{FaultKind, FaultSpec, RequestRecord, SimInfo, SimOptions, Simulators};

use crate::{CountingServer, TestHost, bundled};

/// The tenant every simulator test runs in.
pub const TENANT: &str = "acme";
/// Plugin id of the IFS Cloud connector.
pub const IFS: &str = "ifs-cloud";
/// Plugin id of the UPS connector.
pub const UPS: &str = "ups";
/// Connection name of the IFS simulator.
pub const IFS_CONNECTION: &str = "ifs";
/// Connection name of the UPS simulator.
pub const UPS_CONNECTION: &str = "ups";
/// The Track Alert v1 credential the UPS connector sends (a plugin secret).
pub const TRACKALERT_CREDENTIAL: &str = "sim-trackalert-credential";

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// How a connection authenticates at its token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// `Authorization: Basic` (UPS).
    Basic,
    /// `client_id` / `client_secret` in the form body (IFS/Keycloak).
    Body,
}

/// One OAuth2 client-credentials connection.
#[derive(Debug, Clone)]
pub struct SimConnection {
    /// Token endpoint.
    pub token_url: String,
    /// Client id.
    pub client_id: String,
    /// Client secret.
    pub client_secret: String,
    /// Client authentication style.
    pub auth: ClientAuth,
    /// Hosts whose requests get this connection's token.
    pub hosts: Vec<HostGrant>,
}

#[derive(Default)]
struct ConnState {
    token: Option<String>,
    fetched: usize,
    rejected: usize,
    /// Hand out this header instead of a real token (a revoked or forged token).
    forged: Option<String>,
}

/// A test-only [`Credentials`]: client-credentials tokens from the simulators, cached per
/// connection (tenant-agnostic: a test host has one tenant per connection).
pub struct SimCredentials {
    http: reqwest::Client,
    connections: Mutex<HashMap<String, SimConnection>>,
    state: Mutex<HashMap<String, ConnState>>,
}

impl Default for SimCredentials {
    fn default() -> Self {
        SimCredentials {
            http: reqwest::Client::new(),
            connections: Mutex::new(HashMap::new()),
            state: Mutex::new(HashMap::new()),
        }
    }
}

impl SimCredentials {
    /// The IFS and UPS connections of one simulator pair.
    pub fn for_simulators(info: &SimInfo) -> SimCredentials {
        let creds = SimCredentials::default();
        creds.add(
            IFS_CONNECTION,
            SimConnection {
                token_url: info.ifs.token_url.clone(),
                client_id: info.ifs.client_id.clone(),
                client_secret: info.ifs.client_secret.clone(),
                auth: ClientAuth::Body,
                hosts: vec![grant(&info.ifs.base_url)],
            },
        );
        creds.add(
            UPS_CONNECTION,
            SimConnection {
                token_url: info.ups.token_url.clone(),
                client_id: info.ups.client_id.clone(),
                client_secret: info.ups.client_secret.clone(),
                auth: ClientAuth::Basic,
                hosts: vec![grant(&info.ups.base_url)],
            },
        );
        creds
    }

    /// Adds or replaces a connection (its cached token is dropped).
    pub fn add(&self, name: &str, connection: SimConnection) {
        lock(&self.connections).insert(name.to_owned(), connection);
        lock(&self.state).entry(name.to_owned()).or_default().token = None;
    }

    /// Replaces the client secret of a connection and drops its cached token.
    pub fn set_client_secret(&self, name: &str, secret: &str) {
        if let Some(c) = lock(&self.connections).get_mut(name) {
            c.client_secret = secret.to_owned();
        }
        lock(&self.state).entry(name.to_owned()).or_default().token = None;
    }

    /// From now on hand out `header` (e.g. a revoked token) instead of fetching; `None` stops.
    pub fn forge(&self, name: &str, header: Option<&str>) {
        let mut state = lock(&self.state);
        let s = state.entry(name.to_owned()).or_default();
        s.forged = header.map(str::to_owned);
        s.token = None;
    }

    /// Replaces the cached token once (it is dropped on the next 401 like a real one).
    pub fn poison(&self, name: &str, header: &str) {
        lock(&self.state).entry(name.to_owned()).or_default().token = Some(header.to_owned());
    }

    /// Tokens fetched from the token endpoint for a connection.
    pub fn fetched(&self, name: &str) -> usize {
        lock(&self.state).get(name).map_or(0, |s| s.fetched)
    }

    /// 401s the host reported for a connection.
    pub fn rejected_count(&self, name: &str) -> usize {
        lock(&self.state).get(name).map_or(0, |s| s.rejected)
    }

    async fn fetch(&self, name: &str) -> Result<String, CredentialError> {
        let fail = |status: u16, message: String| CredentialError {
            status,
            retry_after_s: None,
            message,
        };
        let Some(conn) = lock(&self.connections).get(name).cloned() else {
            return Err(fail(500, format!("connection `{name}` is not configured")));
        };
        let request = self
            .http
            .post(&conn.token_url)
            .header("content-type", "application/x-www-form-urlencoded");
        let request = match conn.auth {
            ClientAuth::Basic => request
                .basic_auth(&conn.client_id, Some(&conn.client_secret))
                .body("grant_type=client_credentials"),
            ClientAuth::Body => request.body(format!(
                "grant_type=client_credentials&client_id={}&client_secret={}",
                conn.client_id, conn.client_secret
            )),
        };
        let response = request
            .send()
            .await
            .map_err(|e| fail(503, format!("token endpoint of `{name}` unreachable: {e}")))?;
        let status = response.status().as_u16();
        let retry_after_s = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok());
        let body: serde_json::Value = response.json().await.unwrap_or_default();
        if status != 200 {
            return Err(CredentialError {
                status,
                retry_after_s,
                message: format!("token endpoint of `{name}` answered {status}"),
            });
        }
        let token = body["access_token"]
            .as_str()
            .ok_or_else(|| fail(502, format!("token endpoint of `{name}`: no access_token")))?;
        Ok(format!("Bearer {token}"))
    }
}

impl Credentials for SimCredentials {
    fn connection_for(
        &self,
        _tenant: &str,
        connections: &[String],
        scheme: &str,
        host: &str,
        port: u16,
    ) -> Option<String> {
        let all = lock(&self.connections);
        connections
            .iter()
            .find(|name| {
                all.get(*name)
                    .is_some_and(|c| c.hosts.iter().any(|g| g.matches(scheme, host, port)))
            })
            .cloned()
    }

    fn authorization<'a>(
        &'a self,
        _tenant: &'a str,
        connection: &'a str,
    ) -> BoxFuture<'a, Result<String, CredentialError>> {
        Box::pin(async move {
            {
                let state = lock(&self.state);
                if let Some(s) = state.get(connection) {
                    if let Some(forged) = &s.forged {
                        return Ok(forged.clone());
                    }
                    if let Some(token) = &s.token {
                        return Ok(token.clone());
                    }
                }
            }
            let header = self.fetch(connection).await?;
            let mut state = lock(&self.state);
            let s = state.entry(connection.to_owned()).or_default();
            s.fetched += 1;
            s.token = Some(header.clone());
            Ok(header)
        })
    }

    fn rejected<'a>(
        &'a self,
        _tenant: &'a str,
        connection: &'a str,
        header: &'a str,
    ) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let mut state = lock(&self.state);
            let s = state.entry(connection.to_owned()).or_default();
            s.rejected += 1;
            if s.token.as_deref() == Some(header) {
                s.token = None;
            }
        })
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A [`TestHost`] like [`TestHost::with_credentials`], but with wasmtime's compilation cache in
/// the system temp directory: every simulator test loads the same two components, and
/// deserializing them instead of compiling them again keeps each test to about a second.
fn cached_host(credentials: Arc<dyn Credentials>) -> TestHost {
    let cache = std::env::temp_dir().join("mlc-integration-tests-wasm-cache");
    TestHost::build(credentials, Some(&cache))
}

/// `scheme://host:port` of a URL, as a grant.
pub fn grant(url: &str) -> HostGrant {
    HostGrant::parse(url).unwrap_or_else(|e| panic!("grant for {url}: {e}"))
}

/// `scheme://host:port` of a URL, without the path.
pub fn origin(url: &str) -> String {
    grant(url).to_string()
}

/// The simulators, a host wired to them, and both connectors loaded and bound in [`TENANT`].
pub struct SimHost {
    /// The host.
    pub host: TestHost,
    /// The simulators (dropping them stops them).
    pub sims: Simulators,
    /// Their URLs and credentials.
    pub info: SimInfo,
    /// The host's credentials.
    pub credentials: Arc<SimCredentials>,
    /// Where Track Alert v1 pushes go (the UPS connector's `trackalert-webhook-url`).
    pub webhook: CountingServer,
}

impl SimHost {
    /// Starts the simulators with `opts`, a host, and loads and binds both connectors.
    pub async fn start(opts: SimOptions) -> SimHost {
        let sims = Simulators::start(opts)
            .await
            .expect("starting the simulators");
        let info = sims.info();
        let credentials = Arc::new(SimCredentials::for_simulators(&info));
        let host = cached_host(credentials.clone());
        host.load(IFS, WorldKind::Erp, bundled::IFS_CLOUD_PATH);
        host.load(UPS, WorldKind::Carrier, bundled::UPS_PATH);
        let webhook = CountingServer::start().await;
        let h = SimHost {
            host,
            sims,
            info,
            credentials,
            webhook,
        };
        h.bind_ifs(TENANT, &[]);
        h.bind_ups(TENANT, &[]);
        h
    }

    /// The IFS connector's settings for the simulator.
    pub fn ifs_settings(&self) -> BTreeMap<String, String> {
        host::cli::demo::ifs_settings(&self.info)
    }

    /// The UPS connector's settings for the simulator (the demo's): ships from the ATL1 site
    /// (a US shipper, so `units = auto` declares pounds and inches), the VNL1 site with its
    /// own Dutch shipper; Track Alert pushes go to this harness's webhook server.
    pub fn ups_settings(&self) -> BTreeMap<String, String> {
        let webhook = format!("{}/webhooks/ups/{TENANT}", self.webhook.url);
        let mut settings = host::cli::demo::ups_settings(&self.info, &webhook);
        settings.insert("transaction-src".into(), "mlc-it".into());
        settings
    }

    /// Binds the IFS connector to `tenant` with the simulator settings, `overrides` on top.
    pub fn bind_ifs(&self, tenant: &str, overrides: &[(&str, &str)]) {
        let mut settings = self.ifs_settings();
        for (k, v) in overrides {
            settings.insert((*k).to_owned(), (*v).to_owned());
        }
        self.host.runtime.bind(Binding {
            tenant: tenant.into(),
            plugin: IFS.into(),
            grants: Grants {
                hosts: vec![grant(&self.info.ifs.base_url)],
                ..Grants::default()
            },
            settings,
            connections: vec![IFS_CONNECTION.into()],
            ..Binding::default()
        });
    }

    /// Binds the UPS connector to `tenant` with the simulator settings, `overrides` on top,
    /// and stores its Track Alert credential.
    pub fn bind_ups(&self, tenant: &str, overrides: &[(&str, &str)]) {
        let mut settings = self.ups_settings();
        for (k, v) in overrides {
            settings.insert((*k).to_owned(), (*v).to_owned());
        }
        self.host.runtime.bind(Binding {
            tenant: tenant.into(),
            plugin: UPS.into(),
            grants: Grants {
                hosts: vec![grant(&self.info.ups.base_url)],
                secrets: vec!["trackalert-credential".into()],
                storage_quota_bytes: None,
            },
            settings,
            connections: vec![UPS_CONNECTION.into()],
            ..Binding::default()
        });
        self.host
            .set_secret(tenant, UPS, "trackalert-credential", TRACKALERT_CREDENTIAL);
    }

    /// The IFS connector in [`TENANT`].
    pub fn erp(&self) -> ErpClient {
        self.host.runtime.erp(TENANT, IFS)
    }

    /// The UPS connector in [`TENANT`].
    pub fn carrier(&self) -> CarrierClient {
        self.host.runtime.carrier(TENANT, UPS)
    }

    /// Moves the simulators' clock and the host's clock forward together (and waits for the
    /// UPS webhook pushes that fall due).
    pub async fn advance(&self, by: Duration) {
        self.host.clock.advance(by);
        self.sims
            .advance(by)
            .await
            .expect("advancing the simulators");
    }

    /// Installs a simulator fault.
    pub fn fault(&self, spec: FaultSpec) {
        self.sims.install_fault(spec).expect("installing a fault");
    }
}
