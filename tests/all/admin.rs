//! The admin API over a real service: every endpoint (and 401 without the token), the OpenAPI
//! file against the routes, `/metrics`, hot swap under continuous load, broken versions refused
//! or rolled back with the reason, the plugins directory, and what survives a restart.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use host::bundled;
use host::cli::demo::{simulator_tenant, store_secrets};
use host::clock::OffsetClock;
use host::config::{Config, PluginBinding, PluginConfig, ServiceConfig, TenantConfig};
use host::db::{ItemState, Store, open_data_dir};
use host::manifest::WorldKind;
use host::service::{Service, ServiceOptions};
use host::vault::{MasterKey, SecretString, Vault};
use integration_tests::wait_for;
use serde_json::{Value, json};
use simulators::{SimOptions, Simulators};
use tower::ServiceExt;

const TOKEN: &str = "admin-test-token";
const TENANT: &str = "acme";
const FLOW: &str = "shipment-sync";
const PROBE: &str = "probe";

/// A service built from a config (not serving: tests drive the router and the runners).
struct Setup {
    service: Arc<Service>,
    clock: Arc<OffsetClock>,
    app: Router,
    config: Config,
    key: MasterKey,
    dir: tempfile::TempDir,
}

/// A tenant with only the probe ERP connector bound (`settings` for it), for hot-swap tests.
fn probe_tenant(settings: &[(&str, &str)]) -> TenantConfig {
    TenantConfig {
        id: TENANT.into(),
        name: Some("Probe Inc.".into()),
        connections: BTreeMap::new(),
        plugins: BTreeMap::from([(
            PROBE.to_owned(),
            PluginBinding {
                settings: settings
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect(),
                ..PluginBinding::default()
            },
        )]),
        flows: BTreeMap::new(),
        webhook: None,
    }
}

fn probe_plugin() -> BTreeMap<String, PluginConfig> {
    BTreeMap::from([(
        PROBE.to_owned(),
        PluginConfig {
            path: Some(bundled::PROBE_ERP_PATH.into()),
            world: Some(WorldKind::Erp),
            limits: None,
        },
    )])
}

async fn build(config: Config, key: MasterKey, dir: tempfile::TempDir) -> Setup {
    config.validate(std::path::Path::new("test")).unwrap();
    let clock = Arc::new(OffsetClock::new());
    let service = Service::build(
        config.clone(),
        ServiceOptions {
            clock: clock.clone(),
            master_key: Some(key.clone()),
            admin_token: Some(SecretString::new(TOKEN)),
        },
    )
    .await
    .unwrap();
    let app = host::admin::router(service.clone());
    Setup {
        service,
        clock,
        app,
        config,
        key,
        dir,
    }
}

async fn probe_setup(settings: &[(&str, &str)]) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        service: ServiceConfig {
            data_dir: dir.path().join("data"),
            plugins_dir: Some(dir.path().join("plugins")),
            ..ServiceConfig::default()
        },
        plugins: probe_plugin(),
        tenants: vec![probe_tenant(settings)],
    };
    std::fs::create_dir_all(dir.path().join("plugins")).unwrap();
    build(config, MasterKey::generate(), dir).await
}

struct Reply {
    status: StatusCode,
    content_type: String,
    body: Vec<u8>,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

async fn send(
    app: &Router,
    method: &str,
    path: &str,
    token: Option<&str>,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> Reply {
    let mut req = Request::builder().method(method).uri(path);
    if let Some(token) = token {
        req = req.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    if let Some(ct) = content_type {
        req = req.header(header::CONTENT_TYPE, ct);
    }
    let response = app
        .clone()
        .oneshot(req.body(Body::from(body)).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap()
        .to_vec();
    Reply {
        status,
        content_type,
        body,
    }
}

async fn get(app: &Router, path: &str) -> Reply {
    send(app, "GET", path, Some(TOKEN), None, vec![]).await
}

async fn post_json(app: &Router, path: &str, body: Value) -> Reply {
    send(
        app,
        "POST",
        path,
        Some(TOKEN),
        Some("application/json"),
        body.to_string().into_bytes(),
    )
    .await
}

async fn upload(app: &Router, plugin: &str, version: &str, bytes: Vec<u8>) -> Reply {
    send(
        app,
        "POST",
        &format!("/api/v1/plugins/{plugin}/versions?version={version}"),
        Some(TOKEN),
        Some("application/wasm"),
        bytes,
    )
    .await
}

fn versions_by_hash(reply: &Reply) -> BTreeMap<String, Value> {
    reply.json()["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| (v["hash"].as_str().unwrap().to_owned(), v.clone()))
        .collect()
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// (method, path) of every operation in `host/openapi.yaml`.
fn documented_routes() -> BTreeSet<(String, String)> {
    let doc: Value = serde_norway::from_str(host::admin::OPENAPI_YAML).unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            if ["get", "put", "post", "delete", "patch"].contains(&method.as_str()) {
                assert!(
                    op.get("responses").is_some(),
                    "{method} {path} documents no responses"
                );
                out.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_admin_endpoint_answers_with_the_token_and_401_without() {
    let sims = Simulators::start(SimOptions {
        shipments: 10,
        ..SimOptions::default()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let key = MasterKey::generate();
    {
        let store: Arc<dyn Store> = open_data_dir(&data_dir).unwrap();
        let vault = Vault::open(store, key.clone()).unwrap();
        store_secrets(
            &vault,
            TENANT,
            &sims.info(),
            &SecretString::new("trackalert-credential"),
        )
        .unwrap();
    }
    let config = Config {
        service: ServiceConfig {
            data_dir,
            ..ServiceConfig::default()
        },
        plugins: BTreeMap::new(),
        tenants: vec![simulator_tenant(TENANT, &sims.info(), "http://127.0.0.1:9")],
    };
    let setup = build(config, key, dir).await;
    let (service, app) = (&setup.service, &setup.app);

    // Real work in the journal: discover, process, subscribe.
    let flow = service.flow(TENANT, FLOW).unwrap().clone();
    assert_eq!(flow.runner.discover().await.unwrap(), 10);
    flow.runner.process_due().await.unwrap();
    flow.runner.maintain().await.unwrap();
    let counts = service.store().item_counts(Some(TENANT)).unwrap();
    assert!(
        counts.get(&ItemState::Completed).copied().unwrap_or(0) >= 8,
        "{counts:?}"
    );
    assert!(
        counts.get(&ItemState::Held).copied().unwrap_or(0) >= 1,
        "{counts:?}"
    );
    let completed = service
        .store()
        .items(&host::db::ItemQuery {
            state: Some(ItemState::Completed),
            ..Default::default()
        })
        .unwrap()[0]
        .clone();
    let held = service
        .store()
        .items(&host::db::ItemQuery {
            state: Some(ItemState::Held),
            ..Default::default()
        })
        .unwrap()[0]
        .clone();

    // The OpenAPI file documents exactly the routes the router serves.
    let routes: BTreeSet<(String, String)> = host::admin::ROUTES
        .iter()
        .map(|(m, p, _)| ((*m).to_owned(), (*p).to_owned()))
        .collect();
    assert_eq!(documented_routes(), routes);

    // Every route exists (never 404/405 for its own method), and every authenticated one
    // answers 401 without the token or with a wrong one.
    let concrete = |path: &str| {
        let id = if path.starts_with("/api/v1/work-items") {
            completed.id.as_str()
        } else {
            "ifs-cloud"
        };
        path.replace("{id}", id)
            .replace("{tenant}", TENANT)
            .replace("{flow}", FLOW)
    };
    for (method, path, auth) in host::admin::ROUTES {
        let uri = concrete(path);
        if *auth {
            for token in [None, Some("wrong-token")] {
                let r = send(app, method, &uri, token, None, vec![]).await;
                assert_eq!(
                    r.status,
                    StatusCode::UNAUTHORIZED,
                    "{method} {uri} {token:?}"
                );
                assert!(r.json()["error"].is_string());
            }
        }
        let r = send(app, method, &uri, Some(TOKEN), None, vec![]).await;
        assert!(
            r.status != StatusCode::NOT_FOUND && r.status != StatusCode::METHOD_NOT_ALLOWED,
            "{method} {uri}: {}",
            r.status
        );
    }
    // An undocumented path is not there, with or without the token.
    for token in [None, Some(TOKEN)] {
        let r = send(app, "GET", "/api/v1/nothing-here", token, None, vec![]).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
    }
    assert_eq!(
        send(app, "DELETE", "/api/v1/plugins", Some(TOKEN), None, vec![])
            .await
            .status,
        StatusCode::METHOD_NOT_ALLOWED
    );

    // Health.
    assert_eq!(
        send(app, "GET", "/healthz", None, None, vec![])
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        send(app, "GET", "/readyz", None, None, vec![]).await.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "not serving yet"
    );

    // Plugins and versions.
    let plugins = get(app, "/api/v1/plugins").await.json();
    let ids: Vec<&str> = plugins["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["ifs-cloud", "shipment-sync", "ups"]);
    let ifs = &plugins["plugins"][0];
    assert_eq!(ifs["world"], "erp");
    assert_eq!(ifs["hash"], sha256_hex(bundled::IFS_CLOUD));
    assert_eq!(ifs["tenants"], json!([TENANT]));
    let versions = get(app, "/api/v1/plugins/ups/versions").await;
    assert_eq!(versions.status, StatusCode::OK);
    let v = versions.json();
    assert_eq!(v["active"], sha256_hex(bundled::UPS));
    assert_eq!(v["versions"][0]["status"], "active");
    assert_eq!(v["versions"][0]["source"], "startup");
    assert_eq!(
        get(app, "/api/v1/plugins/nope/versions").await.status,
        StatusCode::NOT_FOUND
    );
    // Rolling back the only version is a conflict; activating an unknown one is not found.
    assert_eq!(
        post_json(app, "/api/v1/plugins/ups/rollback", json!({}))
            .await
            .status,
        StatusCode::CONFLICT
    );
    assert_eq!(
        post_json(app, "/api/v1/plugins/ups/activate", json!({"hash": "00"}))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        post_json(app, "/api/v1/plugins/ups/activate", json!({}))
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
    let broken = send(
        app,
        "POST",
        "/api/v1/plugins/ups/activate",
        Some(TOKEN),
        Some("application/json"),
        b"{not json".to_vec(),
    )
    .await;
    assert_eq!(broken.status, StatusCode::BAD_REQUEST);
    assert!(
        broken.json()["error"]
            .as_str()
            .unwrap()
            .contains("invalid JSON")
    );
    let same = post_json(
        app,
        "/api/v1/plugins/ups/activate",
        json!({"hash": sha256_hex(bundled::UPS)}),
    )
    .await;
    assert_eq!(same.status, StatusCode::OK, "{}", same.text());

    // Tenants: connections without secrets.
    let tenants = get(app, "/api/v1/tenants").await;
    let text = tenants.text();
    let t = tenants.json();
    assert_eq!(t["tenants"][0]["id"], TENANT);
    assert_eq!(t["tenants"][0]["flows"][0]["id"], FLOW);
    let conns: Vec<&str> = t["tenants"][0]["connections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(conns, ["ifs", "ups"]);
    for secret in [
        &sims.info().ifs.client_secret,
        &sims.info().ups.client_secret,
    ] {
        assert!(!text.contains(secret.as_str()), "a client secret leaked");
    }
    assert_eq!(
        get(app, "/api/v1/tenants/nobody/schedules").await.status,
        StatusCode::NOT_FOUND
    );

    // Schedules: read, change (validated), run now.
    let s = get(app, &format!("/api/v1/tenants/{TENANT}/schedules"))
        .await
        .json();
    assert_eq!(s["flows"][0]["schedule"], json!({"every": "2s"}));
    let put = |body: Value| {
        send(
            app,
            "PUT",
            "/api/v1/tenants/acme/flows/shipment-sync/schedule",
            Some(TOKEN),
            Some("application/json"),
            body.to_string().into_bytes(),
        )
    };
    for bad in [
        json!({}),
        json!({"every": "30s", "cron": "0 * * * * *"}),
        json!({"every": "fast"}),
        json!({"cron": "every minute"}),
    ] {
        let r = put(bad.clone()).await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{bad}: {}",
            r.text()
        );
    }
    assert_eq!(
        put(json!({"often": "1s"})).await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    let r = put(json!({"cron": "0 */5 * * * *", "jitter": "10s"})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(
        flow.schedule.lock().unwrap().cron.as_deref(),
        Some("0 */5 * * * *"),
        "applied at once"
    );
    let s = get(app, &format!("/api/v1/tenants/{TENANT}/schedules"))
        .await
        .json();
    assert_eq!(
        s["flows"][0]["schedule"],
        json!({"cron": "0 */5 * * * *", "jitter": "10s"})
    );
    assert_eq!(
        send(
            app,
            "PUT",
            "/api/v1/tenants/acme/flows/nope/schedule",
            Some(TOKEN),
            Some("application/json"),
            json!({"every": "1m"}).to_string().into_bytes()
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );
    let r = send(
        app,
        "POST",
        "/api/v1/tenants/acme/flows/shipment-sync/run",
        Some(TOKEN),
        None,
        vec![],
    )
    .await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    assert_eq!(r.json()["queued"], true);

    // Runs (none recorded: the loop is not running here, the test drove the runner).
    let runs = get(app, &format!("/api/v1/tenants/{TENANT}/runs"))
        .await
        .json();
    assert_eq!(runs["flows"][0]["flow"], FLOW);
    assert!(runs["flows"][0]["runs"].is_array());

    // Work items: filters, one item with its steps.
    let all = get(app, "/api/v1/work-items?tenant=acme").await.json();
    assert_eq!(all["items"].as_array().unwrap().len(), 10);
    let held_list = get(app, "/api/v1/work-items?tenant=acme&state=held")
        .await
        .json();
    assert!(
        held_list["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["state"] == "held")
    );
    let by_key = get(app, &format!("/api/v1/work-items?key={}", completed.key))
        .await
        .json();
    assert_eq!(by_key["items"].as_array().unwrap().len(), 1);
    assert_eq!(
        get(app, "/api/v1/work-items?limit=3").await.json()["items"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    assert_eq!(
        get(app, "/api/v1/work-items?state=sideways").await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        get(app, "/api/v1/work-items?since=yesterday").await.status,
        StatusCode::BAD_REQUEST
    );
    let future = get(app, "/api/v1/work-items?since=2999-01-01T00:00:00Z")
        .await
        .json();
    assert!(future["items"].as_array().unwrap().is_empty());
    let one = get(app, &format!("/api/v1/work-items/{}", completed.id))
        .await
        .json();
    assert_eq!(one["item"]["state"], "completed");
    let ops: Vec<&str> = one["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["operation"].as_str().unwrap())
        .collect();
    assert!(ops.contains(&"carrier.create-shipment"), "{ops:?}");
    assert_eq!(
        get(app, "/api/v1/work-items/nope").await.status,
        StatusCode::NOT_FOUND
    );

    // Audit export: JSON lines of the item's steps, tagged with tenant and key.
    let audit = get(
        app,
        &format!(
            "/api/v1/audit?tenant=acme&key={}&format=jsonl",
            completed.key
        ),
    )
    .await;
    assert_eq!(audit.status, StatusCode::OK);
    assert!(audit.content_type.starts_with("application/x-ndjson"));
    let lines: Vec<Value> = audit
        .text()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), ops.len());
    assert!(
        lines
            .iter()
            .all(|l| l["key"] == completed.key.as_str() && l["tenant"] == TENANT)
    );
    let audit_json = get(app, "/api/v1/audit?tenant=acme").await.json();
    assert!(audit_json["steps"].as_array().unwrap().len() > lines.len());
    let none = get(app, "/api/v1/audit?tenant=acme&until=1000")
        .await
        .json();
    assert!(none["steps"].as_array().unwrap().is_empty());
    assert_eq!(
        get(app, "/api/v1/audit?format=xml").await.status,
        StatusCode::BAD_REQUEST
    );

    // Replay: held → pending (202), then 409; a completed item is 409; unknown 404.
    let r = send(
        app,
        "POST",
        &format!("/api/v1/work-items/{}/replay", held.id),
        Some(TOKEN),
        None,
        vec![],
    )
    .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text());
    assert_eq!(
        service.store().item(&held.id).unwrap().unwrap().state,
        ItemState::Pending
    );
    let again = send(
        app,
        "POST",
        &format!("/api/v1/work-items/{}/replay", held.id),
        Some(TOKEN),
        None,
        vec![],
    )
    .await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    let done = send(
        app,
        "POST",
        &format!("/api/v1/work-items/{}/replay", completed.id),
        Some(TOKEN),
        None,
        vec![],
    )
    .await;
    assert_eq!(done.status, StatusCode::CONFLICT);
    assert!(done.json()["error"].as_str().unwrap().contains("completed"));
    assert_eq!(
        send(
            app,
            "POST",
            "/api/v1/work-items/nope/replay",
            Some(TOKEN),
            None,
            vec![]
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );

    // Token budgets: each connection used at least one token today.
    let budgets = get(app, "/api/v1/token-budgets").await.json();
    let conns = budgets["connections"].as_array().unwrap();
    assert_eq!(conns.len(), 2);
    for c in conns {
        assert!(c["used"].as_u64().unwrap() >= 1, "{c}");
        assert_eq!(
            c["remaining"].as_u64().unwrap(),
            c["budget"].as_u64().unwrap() - c["used"].as_u64().unwrap()
        );
    }
    assert!(budgets["token_requests_sent"].as_u64().unwrap() >= 2);

    // Subscriptions: one per created parcel, live (UPS subscriptions run 14 days).
    let subs = get(app, &format!("/api/v1/tenants/{TENANT}/subscriptions"))
        .await
        .json();
    let list = subs["subscriptions"].as_array().unwrap();
    assert!(!list.is_empty(), "{subs}");
    assert!(
        list.iter()
            .all(|s| s["flow"] == FLOW && s["expires_at"].is_string()),
        "{subs}"
    );
    assert!(
        list.iter()
            .all(|s| s["near_expiry"] == false && s["expired"] == false),
        "{subs}"
    );
    // Thirteen days on, every subscription lapses within the 48 h renewal window.
    setup.clock.advance(Duration::from_secs(13 * 24 * 3600));
    let subs = get(app, &format!("/api/v1/tenants/{TENANT}/subscriptions"))
        .await
        .json();
    assert_eq!(
        subs["near_expiry"].as_u64().unwrap() as usize,
        list.len(),
        "{subs}"
    );

    // Metrics: no token needed, real counters and gauges.
    let m = send(app, "GET", "/metrics", None, None, vec![]).await;
    assert_eq!(m.status, StatusCode::OK);
    assert!(m.content_type.starts_with("text/plain; version=0.0.4"));
    let text = m.text();
    for needle in [
        "mlc_plugin_invocations_total{plugin=\"ups\",export=\"carrier.create-shipment\",outcome=\"ok\"}",
        "mlc_plugin_invocation_duration_seconds_bucket{plugin=\"shipment-sync\",export=\"flow.process\",le=\"+Inf\"}",
        "# TYPE mlc_plugin_invocation_errors_total counter",
        "mlc_token_requests_sent_total ",
        "mlc_token_budget_remaining{tenant=\"acme\",connection=\"ups\"}",
        "mlc_work_items{tenant=\"acme\",state=\"completed\"}",
        "mlc_work_items{tenant=\"acme\",state=\"pending\"} 1",
        "mlc_work_items_held{tenant=\"acme\"}",
        "mlc_work_items_failed{tenant=\"acme\"} 0",
        "mlc_inbox_deliveries{tenant=\"acme\",state=\"pending\"} 0",
        &format!(
            "mlc_tracking_subscriptions_near_expiry{{tenant=\"acme\"}} {}",
            list.len()
        ),
        "mlc_plugin_active_version{plugin=\"ups\",hash=\"",
        "mlc_ready 0",
    ] {
        assert!(text.contains(needle), "missing {needle} in\n{text}");
    }
    assert_metrics_well_formed(&text);
    service.shutdown();
}

/// Every sample belongs to the family whose `# TYPE` line precedes it, and every family is
/// declared once.
fn assert_metrics_well_formed(text: &str) {
    let mut families = BTreeSet::new();
    let mut current = String::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            current = rest.split(' ').next().unwrap().to_owned();
            assert!(families.insert(current.clone()), "{current} declared twice");
        } else if !line.starts_with('#') && !line.is_empty() {
            let name = line.split(['{', ' ']).next().unwrap();
            assert!(
                name.starts_with(&current),
                "{name} outside its family ({current})"
            );
            let value = line.rsplit(' ').next().unwrap();
            assert!(value.parse::<f64>().is_ok(), "bad value in {line}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hot_swap_under_continuous_load_fails_no_call_and_the_new_version_serves() {
    let setup = probe_setup(&[]).await;
    let (service, app) = (&setup.service, &setup.app);
    let old_hash = sha256_hex(&std::fs::read(bundled::PROBE_ERP_PATH).unwrap());
    let alt = std::fs::read(bundled::ALT_ERP_PATH).unwrap();
    let new_hash = sha256_hex(&alt);

    // Four callers in a loop until told to stop; every answer is kept.
    let stop = Arc::new(AtomicBool::new(false));
    let mut callers = Vec::new();
    for n in 0..4 {
        let (runtime, stop) = (service.runtime().clone(), stop.clone());
        callers.push(tokio::spawn(async move {
            let erp = runtime.erp(TENANT, PROBE);
            let mut answers = Vec::new();
            let mut failures = Vec::new();
            let mut i = 0u64;
            while !stop.load(Ordering::SeqCst) {
                i += 1;
                match erp.get_shipment(&format!("c{n}-{i}")).await {
                    Ok(s) => answers.push(s.order_ref),
                    Err(e) => failures.push(e.to_string()),
                }
            }
            (answers, failures)
        }));
    }
    // Let the load run on the old version first.
    let metrics = service.runtime().metrics();
    let mut observed = metrics.subscribe();
    wait_for(
        &mut observed,
        Duration::from_secs(20),
        || metrics.version_invocations(PROBE, &old_hash) >= 20,
        || "the old version is not being used".into(),
    )
    .await;
    let r = upload(app, PROBE, "2.0.0", alt.clone()).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    assert_eq!(r.json()["hash"], new_hash);
    // Keep the load on until the new version has served well past its probation.
    wait_for(
        &mut observed,
        Duration::from_secs(20),
        || metrics.version_invocations(PROBE, &new_hash) >= 50,
        || "the new version is not being used".into(),
    )
    .await;
    stop.store(true, Ordering::SeqCst);
    let mut answers = Vec::new();
    for c in callers {
        let (a, f) = c.await.unwrap();
        assert!(f.is_empty(), "failed invocations during the swap: {f:?}");
        answers.extend(a);
    }
    assert!(
        answers.iter().any(|a| a.starts_with("echo ")),
        "the old version served"
    );
    assert!(
        answers.iter().any(|a| a.starts_with("alt ")),
        "the new version served"
    );
    // Once the new version answered, the old one never did again for the same caller... and
    // new calls use it.
    let s = service
        .runtime()
        .erp(TENANT, PROBE)
        .get_shipment("after")
        .await
        .unwrap();
    assert_eq!(s.order_ref, "alt after");

    // The versions list: the new one active (probation passed), the old one kept.
    let v = versions_by_hash(&get(app, "/api/v1/plugins/probe/versions").await);
    assert_eq!(v[&new_hash]["status"], "active");
    assert_eq!(v[&new_hash]["version"], "2.0.0");
    assert_eq!(v[&new_hash]["source"], "upload");
    assert_eq!(v[&new_hash]["probation_calls_left"], 0);
    assert_eq!(v[&old_hash]["status"], "previous");
    let plugins = get(app, "/api/v1/plugins").await.json();
    assert_eq!(plugins["plugins"][0]["hash"], new_hash);
    // The metrics show calls on both versions.
    let metrics = send(app, "GET", "/metrics", None, None, vec![])
        .await
        .text();
    for hash in [&old_hash, &new_hash] {
        assert!(
            metrics.contains(&format!(
                "mlc_plugin_version_invocations_total{{plugin=\"probe\",hash=\"{hash}\"}}"
            )),
            "{metrics}"
        );
    }
    assert!(metrics.contains(&format!(
        "mlc_plugin_active_version{{plugin=\"probe\",hash=\"{new_hash}\",version=\"2.0.0\",world=\"erp\"}} 1"
    )));
    // The component is kept on disk under its hash.
    assert!(
        setup
            .config
            .service
            .data_dir
            .join("plugins/probe")
            .join(format!("{new_hash}.wasm"))
            .exists()
    );

    // Uploading the active version again changes nothing.
    let r = upload(app, PROBE, "2.0.1", alt.clone()).await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(r.json()["version"], "2.0.0");

    // An operator rolls back, then activates the new version again by its label.
    let r = post_json(
        app,
        "/api/v1/plugins/probe/rollback",
        json!({"reason": "wrong day to ship it"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["hash"], old_hash);
    let s = service
        .runtime()
        .erp(TENANT, PROBE)
        .get_shipment("x")
        .await
        .unwrap();
    assert_eq!(s.order_ref, "echo x");
    let v = versions_by_hash(&get(app, "/api/v1/plugins/probe/versions").await);
    assert_eq!(v[&new_hash]["status"], "rolled-back");
    assert_eq!(v[&new_hash]["reason"], "wrong day to ship it");
    let r = post_json(
        app,
        "/api/v1/plugins/probe/activate",
        json!({"version": "2.0.0"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let s = service
        .runtime()
        .erp(TENANT, PROBE)
        .get_shipment("y")
        .await
        .unwrap();
    assert_eq!(s.order_ref, "alt y");
    let v = versions_by_hash(&get(app, "/api/v1/plugins/probe/versions").await);
    assert_eq!(v[&new_hash]["status"], "active");
    assert_eq!(v[&old_hash]["status"], "previous");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_versions_are_refused_or_rolled_back_with_the_reason() {
    // The tenant's settings make the alt-erp fixture trap on every call.
    let setup = probe_setup(&[("alt-mode", "trap")]).await;
    let (service, app) = (&setup.service, &setup.app);
    let old_hash = sha256_hex(&std::fs::read(bundled::PROBE_ERP_PATH).unwrap());
    let erp = service.runtime().erp(TENANT, PROBE);
    assert_eq!(erp.get_shipment("a").await.unwrap().order_ref, "echo a");

    // A component importing what the host does not provide fails its contract check.
    let bad = std::fs::read(bundled::BAD_IMPORT_PATH).unwrap();
    let r = upload(app, PROBE, "bad", bad.clone()).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
    let error = r.json()["error"].as_str().unwrap().to_owned();
    assert!(
        error.contains("imports something the host does not provide"),
        "{error}"
    );
    // Not a component at all.
    let r = upload(app, PROBE, "junk", b"\0asm not really".to_vec()).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.json()["error"]
            .as_str()
            .unwrap()
            .contains("not a valid component")
    );
    // A component of the wrong world fails too.
    let carrier = std::fs::read(bundled::ECHO_CARRIER_PATH).unwrap();
    let r = upload(app, PROBE, "carrier", carrier).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.json()["error"]
            .as_str()
            .unwrap()
            .contains("does not implement world mlc:connect/erp-connector"),
        "{}",
        r.text()
    );
    // Nothing changed; the refusals are recorded with their reasons.
    assert_eq!(erp.get_shipment("b").await.unwrap().order_ref, "echo b");
    let v = versions_by_hash(&get(app, "/api/v1/plugins/probe/versions").await);
    assert_eq!(v[&old_hash]["status"], "active");
    let refused = &v[&sha256_hex(&bad)];
    assert_eq!(refused["status"], "refused");
    assert_eq!(refused["reason"].as_str().unwrap(), error);
    assert_eq!(v.values().filter(|v| v["status"] == "refused").count(), 3);
    // A refused version cannot be activated.
    let r = post_json(
        app,
        "/api/v1/plugins/probe/activate",
        json!({"hash": sha256_hex(&bad)}),
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    // A version that passes its check but traps on its first call is rolled back at once.
    let alt = std::fs::read(bundled::ALT_ERP_PATH).unwrap();
    let alt_hash = sha256_hex(&alt);
    let r = upload(app, PROBE, "trappy", alt).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let failed = erp.get_shipment("c").await.unwrap_err();
    assert!(
        matches!(failed, host::runtime::InvokeError::Trap { .. }),
        "{failed}"
    );
    // The next call is served by the previous version again.
    assert_eq!(erp.get_shipment("d").await.unwrap().order_ref, "echo d");
    let v = versions_by_hash(&get(app, "/api/v1/plugins/probe/versions").await);
    assert_eq!(v[&old_hash]["status"], "active");
    assert_eq!(v[&alt_hash]["status"], "rolled-back");
    let reason = v[&alt_hash]["reason"].as_str().unwrap();
    assert!(
        reason.contains("erp.get-shipment failed during probation") && reason.contains("trapped"),
        "{reason}"
    );
    let metrics = send(app, "GET", "/metrics", None, None, vec![])
        .await
        .text();
    assert!(
        metrics.contains("mlc_plugin_rollbacks_total{plugin=\"probe\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains(
        "mlc_plugin_invocation_errors_total{plugin=\"probe\",export=\"erp.get-shipment\",kind=\"trap\"} 1"
    ));
    // The stored record carries the reason too.
    let stored = host::db::PluginStore::plugin_version(service.store().as_ref(), PROBE, &alt_hash)
        .unwrap()
        .unwrap();
    assert_eq!(stored.status, "rolled-back");
    assert_eq!(stored.reason.as_deref(), Some(reason));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_plugins_directory_loads_new_versions_and_choices_survive_a_restart() {
    let setup = probe_setup(&[]).await;
    let (service, app) = (&setup.service, &setup.app);
    let plugins_dir = setup.config.service.plugins_dir.clone().unwrap();
    let alt = std::fs::read(bundled::ALT_ERP_PATH).unwrap();
    let alt_hash = sha256_hex(&alt);

    // Nothing new: nothing happens.
    assert!(host::service::scan_plugins_dir(service).is_empty());
    // A new version dropped in (written aside, renamed in) is loaded and used.
    let tmp = plugins_dir.join("probe.wasm.part");
    std::fs::write(&tmp, &alt).unwrap();
    std::fs::rename(&tmp, plugins_dir.join("probe.wasm")).unwrap();
    let loaded = host::service::scan_plugins_dir(service);
    assert_eq!(loaded.len(), 1, "{loaded:?}");
    assert_eq!(loaded[0].hash, alt_hash);
    assert!(loaded[0].outcome.is_ok(), "{loaded:?}");
    let erp = service.runtime().erp(TENANT, PROBE);
    assert_eq!(erp.get_shipment("z").await.unwrap().order_ref, "alt z");
    // Seen once, never loaded again; a broken file is refused once, with the reason.
    assert!(host::service::scan_plugins_dir(service).is_empty());
    std::fs::write(
        plugins_dir.join("probe.wasm"),
        std::fs::read(bundled::BAD_IMPORT_PATH).unwrap(),
    )
    .unwrap();
    let refused = host::service::scan_plugins_dir(service);
    assert!(
        refused[0]
            .outcome
            .as_ref()
            .unwrap_err()
            .contains("does not provide")
    );
    assert!(host::service::scan_plugins_dir(service).is_empty());
    assert_eq!(erp.get_shipment("z2").await.unwrap().order_ref, "alt z2");
    let v = versions_by_hash(&get(app, "/api/v1/plugins/probe/versions").await);
    assert_eq!(v[&alt_hash]["source"], "plugins-dir");
    assert_eq!(v.len(), 3);

    // Restart on the same data directory: the version chosen at run time stays active, every
    // version is still listed.
    // A restart: the first service is gone, its admin router included (the router holds the
    // service, and with it the data directory's lock).
    let Setup {
        service,
        app,
        config,
        key,
        dir,
        ..
    } = setup;
    service.shutdown();
    drop((service, app));
    let again = build(config, key, dir).await;
    let erp = again.service.runtime().erp(TENANT, PROBE);
    assert_eq!(erp.get_shipment("r").await.unwrap().order_ref, "alt r");
    let v = versions_by_hash(&get(&again.app, "/api/v1/plugins/probe/versions").await);
    assert_eq!(v.len(), 3);
    assert_eq!(v[&alt_hash]["status"], "active");
    // And rollback still reaches the configured version, from its kept component.
    let r = post_json(&again.app, "/api/v1/plugins/probe/rollback", json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(erp.get_shipment("s").await.unwrap().order_ref, "echo s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schedule_changed_through_the_api_survives_a_restart() {
    let sims = Simulators::start(SimOptions {
        shipments: 1,
        ..SimOptions::default()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        service: ServiceConfig {
            data_dir: dir.path().join("data"),
            ..ServiceConfig::default()
        },
        plugins: BTreeMap::new(),
        tenants: vec![simulator_tenant(TENANT, &sims.info(), "http://127.0.0.1:9")],
    };
    let setup = build(config, MasterKey::generate(), dir).await;
    let r = send(
        &setup.app,
        "PUT",
        "/api/v1/tenants/acme/flows/shipment-sync/schedule",
        Some(TOKEN),
        Some("application/json"),
        json!({"every": "45s", "jitter": "5s"})
            .to_string()
            .into_bytes(),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let Setup {
        service,
        app,
        config,
        key,
        dir,
        ..
    } = setup;
    drop((service, app));
    let again = build(config, key, dir).await;
    let flow = again.service.flow(TENANT, FLOW).unwrap();
    let schedule = flow.schedule.lock().unwrap().clone();
    assert_eq!(schedule.every, Some(Duration::from_secs(45)));
    assert_eq!(schedule.jitter, Some(Duration::from_secs(5)));
}

/// Findings of an OpenAPI conformance fuzzer (issue 13, item 5), each reproduced: empty
/// filters the spec allows were refused; `"version": null` was accepted; query strings that
/// did not parse were answered in plain text; a rollback body of the wrong shape answered an
/// undocumented 422 (now documented); an empty schedule the spec called valid was refused (the
/// spec now requires one of `every` or `cron`); `limit` above its maximum was accepted.
#[tokio::test]
async fn the_admin_api_answers_as_its_openapi_document_says() {
    let sims = Simulators::start(SimOptions::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        service: ServiceConfig {
            data_dir: dir.path().join("data"),
            ..ServiceConfig::default()
        },
        plugins: BTreeMap::new(),
        tenants: vec![simulator_tenant(TENANT, &sims.info(), "http://127.0.0.1:9")],
    };
    let setup = build(config, MasterKey::generate(), dir).await;
    let app = &setup.app;

    // Empty filters are no filters.
    for path in [
        "/api/v1/work-items?tenant=&flow=&state=&key=&since=&until=&limit=1",
        "/api/v1/audit?tenant=&flow=&since=&until=&format=",
    ] {
        let r = get(app, path).await;
        assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.text());
    }
    // A query string that does not parse is a JSON 400, never plain text.
    for path in [
        "/api/v1/work-items?limit=null",
        "/api/v1/audit?limit=-3",
        "/api/v1/work-items?limit=10001",
    ] {
        let r = get(app, path).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{path}");
        assert!(
            r.content_type.starts_with("application/json"),
            "{path}: {}",
            r.content_type
        );
        assert!(r.json()["error"].is_string());
    }
    let r = send(
        app,
        "POST",
        "/api/v1/plugins/ups/versions?world=AAA",
        Some(TOKEN),
        Some("application/wasm"),
        b"\0asm".to_vec(),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
    assert!(
        r.content_type.starts_with("application/json"),
        "{}",
        r.content_type
    );

    // `null` is not a value of any field.
    let r = post_json(
        app,
        "/api/v1/plugins/ups/activate",
        json!({"hash": "b5a4d6fd37e7600b86f72f27d49b12c51566d20aec7be02657917f2176041a74", "version": null}),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
    assert!(
        r.json()["error"]
            .as_str()
            .unwrap()
            .contains("`version` is null")
    );
    // A rollback body of the wrong shape: the documented 422.
    let r = post_json(app, "/api/v1/plugins/ups/rollback", json!({"reason": {}})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
    let doc: Value = serde_norway::from_str(host::admin::OPENAPI_YAML).unwrap();
    let documented = |path: &str, method: &str, status: &str| {
        doc["paths"][path][method]["responses"]
            .get(status)
            .is_some()
    };
    assert!(documented("/api/v1/plugins/{id}/rollback", "post", "422"));
    // An empty schedule is refused, and the spec says so.
    let r = send(
        app,
        "PUT",
        "/api/v1/tenants/acme/flows/shipment-sync/schedule",
        Some(TOKEN),
        Some("application/json"),
        b"{}".to_vec(),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
    let change = &doc["components"]["schemas"]["ScheduleChange"]["oneOf"];
    assert_eq!(change[0]["required"], json!(["every"]));
    assert_eq!(change[1]["required"], json!(["cron"]));
    assert_eq!(
        doc["paths"]["/api/v1/tenants/{tenant}/flows/{flow}/schedule"]["put"]["requestBody"]["content"]
            ["application/json"]["schema"]["$ref"],
        "#/components/schemas/ScheduleChange"
    );
}
