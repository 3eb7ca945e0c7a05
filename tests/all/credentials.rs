//! Host-managed OAuth2 credentials against the IFS and UPS simulators: refresh ahead of expiry,
//! single flight, the sealed token cache across restarts, the daily budget, no plaintext
//! anywhere, nothing reachable from a plugin, and `ping`.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use host::capabilities::http::Credentials;
use host::cli::ping::ping;
use host::clock::{Clock, OffsetClock};
use host::config::{ClientAuth, Config, ConnectionConfig, SecretRef};
use host::credentials::{TokenManager, connection_scope};
use host::db::{ExchangeQuery, Store, TokenStore, open_data_dir};
use host::manifest::{Binding, Grants, HostGrant, WorldKind};
use host::runtime::bindings::types::Error as WitError;
use host::runtime::{Runtime, Services};
use host::vault::{MasterKey, SecretString, Vault};
use integration_tests::bundled;
use simulators::{SimOptions, Simulators};

const T: &str = "acme";
const IFS_SECRET_NAME: &str = "client-secret";

fn grant(url: &str) -> HostGrant {
    HostGrant::parse(url).unwrap()
}

fn origin(url: &str) -> String {
    grant(url).to_string()
}

fn ifs_connection(sims: &Simulators) -> ConnectionConfig {
    let info = sims.info();
    ConnectionConfig {
        token_url: info.ifs.token_url.clone(),
        client_id: info.ifs.client_id.clone(),
        client_secret: SecretRef::Secret(IFS_SECRET_NAME.into()),
        scope: None,
        client_auth: ClientAuth::Body,
        extra_headers: BTreeMap::new(),
        hosts: vec![grant(&info.ifs.base_url)],
        refresh_margin: Duration::from_secs(60),
        daily_token_budget: 250,
        ping_url: Some(format!(
            "{}/ShipmentHandling.svc/ShipmentSet?$top=1&$select=ShipmentId",
            info.ifs.base_url
        )),
    }
}

fn ups_connection(sims: &Simulators) -> ConnectionConfig {
    let info = sims.info();
    ConnectionConfig {
        token_url: info.ups.token_url.clone(),
        client_id: info.ups.client_id.clone(),
        client_secret: SecretRef::Secret(IFS_SECRET_NAME.into()),
        scope: None,
        client_auth: ClientAuth::Basic,
        extra_headers: BTreeMap::from([(
            "x-merchant-id".to_owned(),
            info.ups.account_number.clone(),
        )]),
        hosts: vec![grant(&info.ups.base_url)],
        refresh_margin: Duration::from_secs(60),
        daily_token_budget: 250,
        ping_url: Some(format!(
            "{}/track/v1/details/1Z9W1A470399999999",
            info.ups.base_url
        )),
    }
}

/// A host over an on-disk data directory: store, vault, clock, token manager, runtime.
struct Rig {
    store: Arc<dyn Store>,
    vault: Vault,
    manager: Arc<TokenManager>,
    runtime: Runtime,
}

impl Rig {
    /// Builds (or, over the same directory and key, rebuilds — a restart) the host.
    fn new(
        dir: &Path,
        key: &MasterKey,
        clock: Arc<OffsetClock>,
        connections: &[(&str, ConnectionConfig)],
    ) -> Rig {
        let store = open_data_dir(dir).unwrap();
        let vault = Vault::open(store.clone(), key.clone()).unwrap();
        let manager = Arc::new(
            TokenManager::new(
                store.clone() as Arc<dyn TokenStore>,
                Some(vault.clone()),
                clock.clone(),
            )
            .unwrap(),
        );
        for (id, conn) in connections {
            manager.set_connection(T, id, conn.clone());
        }
        let mut services = Services::new(store.clone());
        services.vault = Some(vault.clone());
        services.clock = clock;
        services.credentials = manager.clone();
        // Compiled components are cached (outside the data directory), so restarts and the
        // tests after the first do not compile the connectors again.
        let cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("credentials-wasm-cache");
        let runtime = Runtime::new(services, Some(&cache)).unwrap();
        Rig {
            store,
            vault,
            manager,
            runtime,
        }
    }

    fn set_client_secret(&self, connection: &str, value: &str) {
        self.vault
            .put(
                T,
                &connection_scope(connection),
                IFS_SECRET_NAME,
                &SecretString::new(value),
            )
            .unwrap();
    }

    fn load_ifs(&self, sims: &Simulators) {
        self.runtime
            .load(
                host::manifest::Manifest {
                    id: "ifs-cloud".into(),
                    version: "test".into(),
                    world: WorldKind::Erp,
                    limits: Default::default(),
                },
                &std::fs::read(bundled::IFS_CLOUD_PATH).unwrap(),
            )
            .unwrap();
        let info = sims.info();
        self.runtime.bind(Binding {
            tenant: T.into(),
            plugin: "ifs-cloud".into(),
            grants: Grants {
                hosts: vec![grant(&info.ifs.base_url)],
                ..Grants::default()
            },
            settings: BTreeMap::from([
                ("host".to_owned(), origin(&info.ifs.base_url)),
                ("freight.charge-type".to_owned(), "FREIGHT".to_owned()),
            ]),
            connections: vec!["ifs".into()],
            ..Binding::default()
        });
    }

    fn load_ups(&self, sims: &Simulators) {
        self.runtime
            .load(
                host::manifest::Manifest {
                    id: "ups".into(),
                    version: "test".into(),
                    world: WorldKind::Carrier,
                    limits: Default::default(),
                },
                &std::fs::read(bundled::UPS_PATH).unwrap(),
            )
            .unwrap();
        let info = sims.info();
        self.runtime.bind(Binding {
            tenant: T.into(),
            plugin: "ups".into(),
            grants: Grants {
                hosts: vec![grant(&info.ups.base_url)],
                ..Grants::default()
            },
            settings: BTreeMap::from([
                ("base-url".to_owned(), info.ups.base_url.clone()),
                ("shipper-number".to_owned(), info.ups.account_number.clone()),
                ("transaction-src".to_owned(), "mlc-it".to_owned()),
            ]),
            connections: vec!["ups".into()],
            ..Binding::default()
        });
    }
}

async fn sims(opts: SimOptions) -> Simulators {
    Simulators::start(opts).await.unwrap()
}

/// Moves the host clock and the simulators' clock forward together.
fn advance(clock: &OffsetClock, sims: &Simulators, by: Duration) {
    clock.advance(by);
    sims.clock().advance(by);
}

/// Moves both clocks to one minute past the next UTC midnight, so a test's "day" is one
/// budget day whatever the time of the run.
fn to_start_of_day(clock: &OffsetClock, sims: &Simulators) {
    let now = clock.now().timestamp();
    let secs = u64::try_from(86_400 - now.rem_euclid(86_400) + 60).unwrap();
    advance(clock, sims, Duration::from_secs(secs));
}

/// A UPS read through a token from the manager: the status UPS gives a tracking query.
async fn ups_read(http: &reqwest::Client, base: &str, auth: &str) -> u16 {
    http.get(format!("{base}/track/v1/details/1Z9W1A470399999999"))
        .header("authorization", auth)
        .header("transId", "0123456789abcdef0123456789abcdef")
        .header("transactionSrc", "mlc-it")
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Everything the host logs while this test binary runs (one global subscriber, installed by
/// the first test that asks; tests read it as a whole, so concurrent tests only add text).
#[derive(Clone, Default)]
pub(crate) struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

static LOGS: std::sync::OnceLock<LogBuffer> = std::sync::OnceLock::new();

pub(crate) fn captured_logs() -> LogBuffer {
    LOGS.get_or_init(|| {
        let buffer = LogBuffer::default();
        let writer = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(
                "host=trace,integration_tests=trace,wasmtime_wasi_http=trace,info",
            ))
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::set_global_default(subscriber)
            .expect("no other test installs a global subscriber");
        buffer
    })
    .clone()
}

impl LogBuffer {
    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ifs_tokens_of_180_s_are_refreshed_ahead_of_expiry_for_an_hour() {
    let sims = sims(SimOptions {
        ifs_token_lifetime: Duration::from_secs(180),
        shipments: 5,
        ..SimOptions::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(OffsetClock::new());
    let rig = Rig::new(
        dir.path(),
        &MasterKey::generate(),
        clock.clone(),
        &[("ifs", ifs_connection(&sims))],
    );
    rig.set_client_secret("ifs", &sims.info().ifs.client_secret);
    rig.load_ifs(&sims);
    let erp = rig.runtime.erp(T, "ifs-cloud");

    // A call every 10 s of simulated time for an hour (each call: shipment + handling units).
    for _ in 0..360 {
        let s = erp.get_shipment("10001").await.unwrap();
        assert_eq!(s.erp_id, "10001");
        advance(&clock, &sims, Duration::from_secs(10));
    }
    let unauthorized: Vec<_> = sims
        .ifs()
        .requests(None)
        .into_iter()
        .filter(|r| r.status == 401)
        .collect();
    assert!(unauthorized.is_empty(), "calls saw 401: {unauthorized:#?}");
    let tokens = sims.ifs().tokens_issued();
    // Refreshed 60 s before each 180 s token expires: one token per 120 s of the hour.
    assert!((29..=32).contains(&tokens), "{tokens} tokens for an hour");
    assert_eq!(rig.manager.token_requests_sent(), tokens);
    let record = rig
        .store
        .exchanges(&ExchangeQuery {
            tenant: Some(T.into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(record.len(), 720);
    assert!(record.iter().all(|e| e.status == Some(200)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ups_four_hour_tokens_a_day_of_calls_and_a_restart() {
    let sims = sims(SimOptions {
        ups_expires_in: 14_400,
        shipments: 5,
        ..SimOptions::default()
    })
    .await;
    let info = sims.info();
    let dir = tempfile::tempdir().unwrap();
    let key = MasterKey::generate();
    let clock = Arc::new(OffsetClock::new());
    to_start_of_day(&clock, &sims);
    let conn = ups_connection(&sims);
    let http = reqwest::Client::new();

    let mut rig = Rig::new(dir.path(), &key, clock.clone(), &[("ups", conn.clone())]);
    rig.set_client_secret("ups", &info.ups.client_secret);
    let mut before_restart = 0;
    for call in 0..1000 {
        if call == 500 {
            // Restart: a new manager and runtime over the same data directory.
            before_restart = rig.manager.token_requests_sent();
            drop(rig);
            rig = Rig::new(dir.path(), &key, clock.clone(), &[("ups", conn.clone())]);
        }
        let auth = rig.manager.authorization(T, "ups").await.unwrap();
        assert_eq!(ups_read(&http, &info.ups.base_url, &auth).await, 404);
        if call == 500 {
            assert_eq!(
                rig.manager.token_requests_sent(),
                0,
                "the restart caused a token request"
            );
        }
        advance(&clock, &sims, Duration::from_secs(86));
    }
    let after_restart = rig.manager.token_requests_sent();
    let snapshot = sims.ups().snapshot();
    assert!(
        snapshot.tokens_issued_total <= 7,
        "{} tokens",
        snapshot.tokens_issued_total
    );
    assert_eq!(before_restart + after_restart, snapshot.tokens_issued_total);
    let unauthorized = sims
        .ups()
        .requests(None)
        .iter()
        .filter(|r| r.status == 401)
        .count();
    assert_eq!(unauthorized, 0);
    // The ledger agrees with UPS's own count.
    let budgets = rig.manager.budgets().unwrap();
    assert_eq!(
        u64::from(budgets[0].used),
        snapshot.tokens_issued_total,
        "{budgets:?} vs {:?}",
        snapshot.tokens_by_day
    );
    println!(
        "UPS 4 h tokens, 1000 calls over a simulated day with a restart: {} token requests ({} before the restart, {} after)",
        snapshot.tokens_issued_total, before_restart, after_restart
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spent_budget_refuses_the_fourth_token_without_sending_it() {
    let logs = captured_logs();
    let sims = sims(SimOptions {
        ups_expires_in: 14_400,
        shipments: 5,
        ..SimOptions::default()
    })
    .await;
    let info = sims.info();
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(OffsetClock::new());
    to_start_of_day(&clock, &sims);
    let mut conn = ups_connection(&sims);
    conn.daily_token_budget = 3;
    let key = MasterKey::generate();
    let rig = Rig::new(dir.path(), &key, clock.clone(), &[("ups", conn.clone())]);
    rig.set_client_secret("ups", &info.ups.client_secret);
    rig.load_ups(&sims);
    let carrier = rig.runtime.carrier(T, "ups");

    for _ in 0..3 {
        // Unknown tracking number: 404 → empty or not-found, but authenticated.
        let r = carrier.track("1Z9W1A470399999999").await;
        assert!(
            !matches!(
                r.as_ref().err().and_then(|e| e.plugin_error()),
                Some(WitError::Unauthorized(_) | WitError::RateLimited(_))
            ),
            "{r:?}"
        );
        advance(&clock, &sims, Duration::from_secs(4 * 3600));
    }
    assert_eq!(sims.ups().tokens_issued_today(), 3);

    // The fourth token of the day: refused by the host, retryable, and never sent.
    let err = carrier.track("1Z9W1A470399999999").await.unwrap_err();
    match err.plugin_error() {
        Some(WitError::RateLimited(info)) => {
            let retry_ms = info.retry_after_ms.unwrap_or(0);
            // The budget comes back at the next UTC midnight (~11 h 59 m from here).
            assert!(
                (11 * 3600 * 1000..=12 * 3600 * 1000).contains(&retry_ms),
                "{retry_ms}"
            );
        }
        other => panic!("expected rate-limited, got {other:?} ({err:?})"),
    }
    assert!(err.is_retryable());
    let direct = rig.manager.authorization(T, "ups").await.unwrap_err();
    assert_eq!((direct.status, direct.retry_after_s.is_some()), (429, true));
    assert!(
        direct.message.contains("daily token budget")
            && direct.message.contains("3 of 3")
            && direct.message.contains("no token request was sent"),
        "{}",
        direct.message
    );
    assert_eq!(sims.ups().tokens_issued_today(), 3);
    assert_eq!(sims.ups().requests(Some("ups.token")).len(), 3);
    assert_eq!(sims.ups().snapshot().token_quota_rejections, 0);
    assert!(rig.manager.budget_refusals() >= 2);
    let budgets = rig.manager.budgets().unwrap();
    assert_eq!((budgets[0].used, budgets[0].remaining()), (3, 0));
    let text = logs.text();
    assert!(
        text.contains("WARN") && text.contains("token request refused"),
        "no warning logged:\n{text}"
    );
    // The record of exchanges says why, too.
    let record = rig.store.exchanges(&ExchangeQuery::default()).unwrap();
    let last = record.last().unwrap();
    assert_eq!(last.status, Some(429));
    assert!(
        last.outcome.contains("daily token budget"),
        "{}",
        last.outcome
    );

    // A restart does not reset the ledger.
    drop(carrier);
    drop(rig);
    let rig = Rig::new(dir.path(), &key, clock.clone(), &[("ups", conn.clone())]);
    let again = rig.manager.authorization(T, "ups").await.unwrap_err();
    assert_eq!(again.status, 429);
    assert_eq!(sims.ups().requests(Some("ups.token")).len(), 3);

    // The next UTC day the budget is back.
    advance(&clock, &sims, Duration::from_secs(12 * 3600));
    let auth = rig.manager.authorization(T, "ups").await.unwrap();
    assert_eq!(
        ups_read(&reqwest::Client::new(), &info.ups.base_url, &auth).await,
        404
    );
    assert_eq!(sims.ups().tokens_issued_today(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_calls_on_a_cold_cache_cause_one_token_request() {
    let sims = sims(SimOptions {
        shipments: 5,
        ..SimOptions::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let rig = Rig::new(
        dir.path(),
        &MasterKey::generate(),
        Arc::new(OffsetClock::new()),
        &[("ifs", ifs_connection(&sims))],
    );
    rig.set_client_secret("ifs", &sims.info().ifs.client_secret);
    rig.load_ifs(&sims);
    let mut calls = tokio::task::JoinSet::new();
    for _ in 0..50 {
        let erp = rig.runtime.erp(T, "ifs-cloud");
        calls.spawn(async move { erp.get_shipment("10002").await });
    }
    while let Some(done) = calls.join_next().await {
        assert_eq!(done.unwrap().unwrap().erp_id, "10002");
    }
    assert_eq!(sims.ifs().tokens_issued(), 1);
    assert_eq!(rig.manager.token_requests_sent(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_token_is_replaced_once_then_the_call_is_unauthorized() {
    let sims = sims(SimOptions {
        ifs_token_lifetime: Duration::from_secs(180),
        shipments: 5,
        ..SimOptions::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(OffsetClock::new());
    let rig = Rig::new(
        dir.path(),
        &MasterKey::generate(),
        clock.clone(),
        &[("ifs", ifs_connection(&sims))],
    );
    rig.set_client_secret("ifs", &sims.info().ifs.client_secret);
    rig.load_ifs(&sims);
    let erp = rig.runtime.erp(T, "ifs-cloud");
    erp.get_shipment("10001").await.unwrap();
    assert_eq!(sims.ifs().tokens_issued(), 1);

    // IFS drops the token early (its clock runs ahead): the host still thinks it is fresh.
    clock.advance(Duration::from_secs(61));
    sims.clock().advance(Duration::from_secs(61 + 181));
    erp.get_shipment("10001").await.unwrap();
    let statuses: Vec<u16> = sims.ifs().requests(None).iter().map(|r| r.status).collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 401).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(sims.ifs().tokens_issued(), 2, "one refresh after the 401");

    // A token refused right after it was issued is not replaced again: unauthorized, and no
    // token request per call.
    sims.clock().advance(Duration::from_secs(181));
    let err = erp.get_shipment("10001").await.unwrap_err();
    assert!(
        matches!(err.plugin_error(), Some(WitError::Unauthorized(_))),
        "{err:?}"
    );
    assert_eq!(sims.ifs().tokens_issued(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_secrets_and_tokens_appear_nowhere_in_plaintext() {
    let logs = captured_logs();
    let sims = sims(SimOptions {
        ifs_token_lifetime: Duration::from_secs(180),
        ups_expires_in: 3600,
        shipments: 5,
        ..SimOptions::default()
    })
    .await;
    let info = sims.info();
    let dir = tempfile::tempdir().unwrap();
    let key = MasterKey::generate();
    let clock = Arc::new(OffsetClock::new());
    let conns = [
        ("ifs", ifs_connection(&sims)),
        ("ups", ups_connection(&sims)),
    ];
    let mut tokens = Vec::new();
    let mut rig = Rig::new(dir.path(), &key, clock.clone(), &conns);
    rig.set_client_secret("ifs", &info.ifs.client_secret);
    rig.set_client_secret("ups", &info.ups.client_secret);
    for round in 0..3 {
        if round == 2 {
            // A restart: the tokens come back from the sealed cache.
            drop(rig);
            rig = Rig::new(dir.path(), &key, clock.clone(), &conns);
        }
        if round != 1 {
            rig.load_ifs(&sims);
            rig.load_ups(&sims);
        }
        rig.runtime
            .erp(T, "ifs-cloud")
            .get_shipment("10001")
            .await
            .unwrap();
        let _ = rig
            .runtime
            .carrier(T, "ups")
            .track("1Z9W1A470399999999")
            .await;
        for conn in ["ifs", "ups"] {
            let header = rig.manager.authorization(T, conn).await.unwrap();
            tokens.push(header.trim_start_matches("Bearer ").to_owned());
        }
        advance(&clock, &sims, Duration::from_secs(3600));
    }
    assert!(sims.ifs().tokens_issued() >= 2 && sims.ups().snapshot().tokens_issued_total >= 2);
    tokens.sort();
    tokens.dedup();
    let mut needles = vec![
        info.ifs.client_secret.clone(),
        info.ups.client_secret.clone(),
    ];
    needles.extend(tokens);
    assert!(needles.iter().all(|n| n.len() >= 16), "{}", needles.len());

    let log_text = logs.text();
    assert!(log_text.contains("token issued"), "logs not captured");
    let exchanges =
        serde_json::to_string(&rig.store.exchanges(&ExchangeQuery::default()).unwrap()).unwrap();
    assert!(exchanges.len() > 1000);
    let mut files = Vec::new();
    collect_files(dir.path(), &mut files);
    assert!(files.iter().any(|(p, _)| p.ends_with("ml-connector.db")));
    for needle in &needles {
        let shown = format!("{}…", &needle[..6]);
        assert!(!log_text.contains(needle.as_str()), "{shown} in the logs");
        assert!(
            !exchanges.contains(needle.as_str()),
            "{shown} in the exchanges"
        );
        for (path, text) in &files {
            assert!(
                !text.contains(needle.as_str()),
                "{shown} in {}",
                path.display()
            );
        }
    }
}

/// Every file under `dir`, as text (needles are ASCII, which a lossy decoding keeps intact).
fn collect_files(dir: &Path, out: &mut Vec<(std::path::PathBuf, String)>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect_files(&path, out);
        } else {
            let bytes = std::fs::read(&path).unwrap();
            out.push((path, String::from_utf8_lossy(&bytes).into_owned()));
        }
    }
}

/// Answers 200 and records the `Authorization` header of every request.
async fn echo_server() -> (String, Arc<Mutex<Vec<Option<String>>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    let app = axum::Router::new().fallback(move |headers: axum::http::HeaderMap| {
        let record = record.clone();
        async move {
            record.lock().unwrap().push(
                headers
                    .get("authorization")
                    .map(|v| v.to_str().unwrap_or("?").to_owned()),
            );
            "ok"
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (url, seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plugins_cannot_obtain_tokens_or_client_secrets() {
    let sims = sims(SimOptions {
        shipments: 5,
        ..SimOptions::default()
    })
    .await;
    let info = sims.info();
    let dir = tempfile::tempdir().unwrap();
    let rig = Rig::new(
        dir.path(),
        &MasterKey::generate(),
        Arc::new(OffsetClock::new()),
        &[("ifs", ifs_connection(&sims))],
    );
    rig.set_client_secret("ifs", &info.ifs.client_secret);
    let (echo, seen) = echo_server().await;
    let probe_bytes = std::fs::read(bundled::PROBE_ERP_PATH).unwrap();
    let load = |id: &str| {
        rig.runtime
            .load(
                host::manifest::Manifest {
                    id: id.into(),
                    version: "test".into(),
                    world: WorldKind::Erp,
                    limits: Default::default(),
                },
                &probe_bytes,
            )
            .unwrap();
    };
    let bind = |tenant: &str, id: &str| {
        rig.runtime.bind(Binding {
            tenant: tenant.into(),
            plugin: id.into(),
            grants: Grants {
                hosts: vec![grant(&echo), grant(&info.ifs.base_url)],
                secrets: vec![
                    IFS_SECRET_NAME.into(),
                    "access-token".into(),
                    "connection:ifs".into(),
                ],
                storage_quota_bytes: None,
            },
            connections: vec!["ifs".into()],
            ..Binding::default()
        });
    };
    load("probe");
    bind(T, "probe");
    let probe = |tenant: &'static str, id: &'static str, cmd: String| {
        let erp = rig.runtime.erp(tenant, id);
        async move { erp.get_shipment(&cmd).await }
    };

    // secrets.get reads the plugin's own scope only: the connection's secret and token are
    // not there, whatever the name.
    for name in [IFS_SECRET_NAME, "access-token", "connection:ifs"] {
        let err = probe(T, "probe", format!("secret {name}"))
            .await
            .unwrap_err();
        assert!(
            matches!(err.plugin_error(), Some(WitError::NotFound(_))),
            "{name}: {err:?}"
        );
    }
    // config.get has no such values either.
    for name in [IFS_SECRET_NAME, "client_secret", "token"] {
        let got = probe(T, "probe", format!("config {name}")).await.unwrap();
        assert_eq!(got.order_ref, "<none>");
    }
    // A plugin that names itself like a connection scope still cannot read it.
    load("connection:ifs");
    bind(T, "connection:ifs");
    let err = probe(T, "connection:ifs", format!("secret {IFS_SECRET_NAME}"))
        .await
        .unwrap_err();
    assert!(
        matches!(err.plugin_error(), Some(WitError::Denied(_))),
        "{err:?}"
    );

    // Egress: the token goes to the connection's hosts only, never to another granted host.
    let got = probe(T, "probe", format!("http-get {echo}/collect"))
        .await
        .unwrap();
    assert_eq!(got.order_ref, "status=200");
    let ifs_read = format!(
        "http-get {}/ShipmentHandling.svc/ShipmentSet?$top=1",
        info.ifs.base_url
    );
    assert_eq!(
        probe(T, "probe", ifs_read.clone()).await.unwrap().order_ref,
        "status=200"
    );
    assert_eq!(*seen.lock().unwrap(), vec![None]);
    // Another tenant's binding naming the connection gets nothing: connections are per tenant.
    bind("other-tenant", "probe");
    assert_eq!(
        probe("other-tenant", "probe", ifs_read)
            .await
            .unwrap()
            .order_ref,
        "status=401"
    );
}

fn ping_config(sims: &Simulators, data_dir: &Path) -> Config {
    let info = sims.info();
    let text = format!(
        r#"
[service]
data_dir = "{data_dir}"

[[tenants]]
id = "{T}"

[tenants.connections.ifs]
token_url = "{ifs_token}"
client_id = "{ifs_id}"
client_secret = {{ secret = "{IFS_SECRET_NAME}" }}
client_auth = "body"
hosts = ["{ifs_host}"]
ping_url = "{ifs_base}/ShipmentHandling.svc/ShipmentSet?$top=1&$select=ShipmentId"

[tenants.connections.ups]
token_url = "{ups_token}"
client_id = "{ups_id}"
client_secret = {{ secret = "{IFS_SECRET_NAME}" }}
client_auth = "basic"
hosts = ["{ups_host}"]
ping_url = "{ups_base}/track/v1/details/1Z9W1A470399999999"
"#,
        data_dir = data_dir.display(),
        ifs_token = info.ifs.token_url,
        ifs_id = info.ifs.client_id,
        ifs_host = origin(&info.ifs.base_url),
        ifs_base = info.ifs.base_url,
        ups_token = info.ups.token_url,
        ups_id = info.ups.client_id,
        ups_host = origin(&info.ups.base_url),
        ups_base = info.ups.base_url,
    );
    let path = Path::new("ping-test.toml");
    let config = Config::parse(path, &text).unwrap();
    config.validate(path).unwrap();
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ping_reports_each_connection_and_names_the_failing_one() {
    let sims = sims(SimOptions {
        shipments: 5,
        ..SimOptions::default()
    })
    .await;
    let info = sims.info();
    let dir = tempfile::tempdir().unwrap();
    let config = ping_config(&sims, dir.path());
    let store = open_data_dir(&config.service.data_dir).unwrap();
    let vault = Vault::open(store.clone(), MasterKey::generate()).unwrap();
    let put = |conn: &str, value: &str| {
        vault
            .put(
                T,
                &connection_scope(conn),
                IFS_SECRET_NAME,
                &SecretString::new(value),
            )
            .unwrap();
    };
    put("ifs", &info.ifs.client_secret);
    put("ups", &info.ups.client_secret);
    let manager = TokenManager::from_config(
        &config,
        store.clone() as Arc<dyn TokenStore>,
        Some(vault.clone()),
        Arc::new(OffsetClock::new()),
    )
    .unwrap();

    let mut out = Vec::new();
    let ok = ping(&config, None, &manager, &mut out).await;
    let text = String::from_utf8(out).unwrap();
    println!("{text}");
    assert!(ok, "{text}");
    assert!(
        text.contains("OK   acme/ifs") && text.contains("→ 200"),
        "{text}"
    );
    assert!(
        text.contains("OK   acme/ups") && text.contains("→ 404"),
        "{text}"
    );
    assert!(text.contains("2 connection(s): 2 OK, 0 failed"), "{text}");

    // A wrong UPS secret: that connection fails with the 401, the other stays OK.
    put("ups", "not-the-secret");
    let mut out = Vec::new();
    let ok = ping(&config, Some(T), &manager, &mut out).await;
    let text = String::from_utf8(out).unwrap();
    println!("{text}");
    assert!(!ok, "{text}");
    let failing: Vec<&str> = text.lines().filter(|l| l.starts_with("FAIL")).collect();
    assert_eq!(failing.len(), 1, "{text}");
    assert!(
        failing[0].starts_with("FAIL acme/ups") && failing[0].contains("401"),
        "{text}"
    );
    assert!(!text.contains("not-the-secret") && !text.contains(&info.ups.client_secret));
    assert!(text.contains("OK   acme/ifs"), "{text}");

    // Unreachable token endpoint: the cause is named.
    let mut broken = config.clone();
    broken.tenants[0]
        .connections
        .get_mut("ifs")
        .unwrap()
        .token_url = "http://127.0.0.1:9/token".into();
    let manager = TokenManager::from_config(
        &broken,
        store as Arc<dyn TokenStore>,
        Some(vault),
        Arc::new(OffsetClock::new()),
    )
    .unwrap();
    let mut out = Vec::new();
    assert!(!ping(&broken, None, &manager, &mut out).await);
    let text = String::from_utf8(out).unwrap();
    println!("{text}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("FAIL acme/ifs") && l.contains("refused")),
        "{text}"
    );
}
