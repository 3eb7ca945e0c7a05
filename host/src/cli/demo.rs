//! `ml-connector demo`: the whole flow against the bundled simulators on an embedded store —
//! shipments discovered in IFS, validated, rated and created at UPS, written back and charged,
//! then tracked to delivery through pushed Track Alert events — with live progress and a
//! summary computed from the simulators' own state. Then it keeps serving (admin API,
//! webhooks) until SIGINT/SIGTERM, unless `--exit-when-done`.
//!
//! The simulated tracking life takes days; the demo moves the simulators' clock and the host's
//! clock forward together, a few simulated hours at a time, so it plays out in seconds.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use simulators::{FaultKind, FaultSpec, SimInfo, SimOptions, Simulators};

use crate::clock::OffsetClock;
use crate::config::{
    ClientAuth, Config, ConnectionConfig, FlowConfig, PluginBinding, Schedule, SecretRef,
    ServiceConfig, TenantConfig, WebhookConfig,
};
use crate::credentials::connection_scope;
use crate::db::{ItemState, Store, open_data_dir};
use crate::manifest::HostGrant;
use crate::service::{Service, ServiceOptions, WEBHOOK_SCOPE};
use crate::vault::{MasterKey, SecretString, Vault};

/// The demo's tenant.
pub const TENANT: &str = "demo";
const FLOW: &str = "shipment-sync";
const IFS: &str = "ifs-cloud";
const UPS: &str = "ups";
const TRACKALERT_SECRET: &str = "trackalert-credential";

/// Arguments of `demo`.
#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Where the embedded store lives (default: a fresh temporary directory).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// How many ready-to-ship shipments to seed in the IFS simulator.
    #[arg(long, default_value_t = 100)]
    pub shipments: usize,
    /// Inject faults: ~20 % 429s, 5 % 500s, 10 % concurrent IFS edits, dropped connections.
    #[arg(long)]
    pub chaos: bool,
    /// Exit once every shipment is delivered or nothing can progress (exit 0 only when all
    /// completed with zero duplicates).
    #[arg(long)]
    pub exit_when_done: bool,
    /// Print JSON lines on stdout (a `ready` event, progress events, a `summary` event).
    #[arg(long)]
    pub json: bool,
    /// Admin API address.
    #[arg(long, default_value = "127.0.0.1:0")]
    pub admin_listen: std::net::SocketAddr,
    /// Webhook ingress address.
    #[arg(long, default_value = "127.0.0.1:0")]
    pub webhook_listen: std::net::SocketAddr,
}

/// The demo's result, computed from the simulators' state (plus held/failed from the journal).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Summary {
    /// Always `summary`.
    pub event: &'static str,
    /// Ready shipments seeded in IFS.
    pub shipments: usize,
    /// UPS shipments created for them (live or voided).
    pub ups_shipments_created: usize,
    /// Extra live UPS shipments beyond one per IFS shipment.
    pub duplicates: usize,
    /// IFS shipments carrying their UPS tracking number.
    pub tracking_written_back: usize,
    /// Freight charges posted on their customer orders.
    pub freight_charges_posted: usize,
    /// IFS shipments whose tracking status is Delivered.
    pub delivered_in_ifs: usize,
    /// Work items held for a person.
    pub held: u64,
    /// Work items failed permanently.
    pub failed: u64,
    /// Token requests each simulator received.
    pub token_requests: BTreeMap<&'static str, u64>,
    /// Wall-clock seconds.
    pub elapsed_s: f64,
}

/// Settings of the IFS Cloud connector against the simulator.
pub fn ifs_settings(info: &SimInfo) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("host".to_owned(), origin(&info.ifs.base_url)),
        ("freight.charge-type".to_owned(), "FREIGHT".to_owned()),
        (
            "writeback.carrier-shipment-id-field".to_owned(),
            "Cf$_CarrierShipmentId".to_owned(),
        ),
    ])
}

/// Settings of the UPS connector against the simulator: the Atlanta site ships by default, the
/// Venlo site with its own (Dutch) shipper; Track Alert pushes go to `webhook_url`.
pub fn ups_settings(info: &SimInfo, webhook_url: &str) -> BTreeMap<String, String> {
    let ship_from = serde_json::json!({
        "name": "ML Apparel Inc.", "attention": "Shipping", "lines": ["1200 Fulton Industrial Blvd SW"],
        "city": "Atlanta", "state": "GA", "postal-code": "30336", "country": "US", "phone": "4045550100",
    });
    let sites = serde_json::json!({
        "VNL1": { "ship-from": {
            "name": "ML Apparel Europe B.V.", "attention": "Shipping", "lines": ["Celsiusweg 20"],
            "city": "Venlo", "postal-code": "5928 PR", "country": "NL", "phone": "+31775550100",
        }},
    });
    BTreeMap::from([
        ("base-url".to_owned(), info.ups.base_url.clone()),
        ("shipper-number".to_owned(), info.ups.account_number.clone()),
        ("ship-from".to_owned(), ship_from.to_string()),
        ("sites".to_owned(), sites.to_string()),
        ("transaction-src".to_owned(), "ml-connector-demo".to_owned()),
        ("trackalert-webhook-url".to_owned(), webhook_url.to_owned()),
    ])
}

fn origin(url: &str) -> String {
    HostGrant::parse(url)
        .map(|g| g.to_string())
        .unwrap_or_else(|_| url.to_owned())
}

fn grants(url: &str) -> Vec<HostGrant> {
    HostGrant::parse(url).into_iter().collect()
}

/// The configuration of one tenant wired to the simulators.
pub fn simulator_config(info: &SimInfo, data_dir: PathBuf, webhook_base: &str) -> Config {
    Config {
        service: ServiceConfig {
            data_dir,
            ..ServiceConfig::default()
        },
        plugins: BTreeMap::new(),
        tenants: vec![simulator_tenant(TENANT, info, webhook_base)],
    }
}

/// A tenant `id` wired to the simulators at `info`, its Track Alert pushes going to the webhook
/// ingress at `webhook_base`.
pub fn simulator_tenant(id: &str, info: &SimInfo, webhook_base: &str) -> TenantConfig {
    let webhook_url = format!("{webhook_base}/webhooks/ups/{id}");
    let connection =
        |token_url: &str, client_id: &str, auth: ClientAuth, base: &str, budget: u32| {
            ConnectionConfig {
                token_url: token_url.to_owned(),
                client_id: client_id.to_owned(),
                client_secret: SecretRef::Secret("client-secret".into()),
                scope: None,
                client_auth: auth,
                extra_headers: BTreeMap::new(),
                hosts: grants(base),
                refresh_margin: Duration::from_secs(60),
                daily_token_budget: budget,
                ping_url: None,
            }
        };
    TenantConfig {
        id: id.into(),
        name: Some("Demo Apparel".into()),
        connections: BTreeMap::from([
            (
                "ifs".to_owned(),
                connection(
                    &info.ifs.token_url,
                    &info.ifs.client_id,
                    ClientAuth::Body,
                    &info.ifs.base_url,
                    1000,
                ),
            ),
            (
                "ups".to_owned(),
                connection(
                    &info.ups.token_url,
                    &info.ups.client_id,
                    ClientAuth::Basic,
                    &info.ups.base_url,
                    250,
                ),
            ),
        ]),
        plugins: BTreeMap::from([
            (
                IFS.to_owned(),
                PluginBinding {
                    hosts: grants(&info.ifs.base_url),
                    connections: vec!["ifs".into()],
                    settings: ifs_settings(info),
                    ..PluginBinding::default()
                },
            ),
            (
                UPS.to_owned(),
                PluginBinding {
                    hosts: grants(&info.ups.base_url),
                    secrets: vec![TRACKALERT_SECRET.into()],
                    connections: vec!["ups".into()],
                    settings: ups_settings(info, &webhook_url),
                    ..PluginBinding::default()
                },
            ),
        ]),
        flows: BTreeMap::from([(
            FLOW.to_owned(),
            FlowConfig {
                erp: IFS.into(),
                carrier: UPS.into(),
                schedule: Schedule {
                    every: Some(Duration::from_secs(2)),
                    cron: None,
                    jitter: None,
                },
                maintain_every: Duration::from_secs(3),
                concurrency: 16,
                max_attempts: 40,
                retry_base: Duration::from_millis(200),
                retry_max: Duration::from_secs(3),
                settings: BTreeMap::new(),
                storage_quota_bytes: None,
            },
        )]),
        webhook: Some(WebhookConfig {
            carrier: UPS.into(),
            flow: FLOW.into(),
            header: "credential".into(),
            credential: SecretRef::Secret(TRACKALERT_SECRET.into()),
            max_body_bytes: 256 * 1024,
        }),
    }
}

/// Stores the secrets a [`simulator_tenant`] refers to.
pub fn store_secrets(
    vault: &Vault,
    tenant: &str,
    info: &SimInfo,
    trackalert: &SecretString,
) -> Result<(), crate::vault::VaultError> {
    let ifs_secret = SecretString::new(&info.ifs.client_secret);
    let ups_secret = SecretString::new(&info.ups.client_secret);
    vault.put(
        tenant,
        &connection_scope("ifs"),
        "client-secret",
        &ifs_secret,
    )?;
    vault.put(
        tenant,
        &connection_scope("ups"),
        "client-secret",
        &ups_secret,
    )?;
    vault.put(tenant, UPS, TRACKALERT_SECRET, trackalert)?;
    vault.put(tenant, WEBHOOK_SCOPE, TRACKALERT_SECRET, trackalert)?;
    Ok(())
}

/// The faults `--chaos` injects, at the rates of the flow's acceptance test.
pub fn chaos_faults() -> Vec<FaultSpec> {
    vec![
        FaultSpec::rate("ups.xav", FaultKind::TooManyRequests, 0.10).with_retry_after(1),
        FaultSpec::rate("ups.rate", FaultKind::TooManyRequests, 0.20),
        FaultSpec::rate("ups.ship", FaultKind::TooManyRequests, 0.20).with_retry_after(1),
        FaultSpec::rate("ups.ship", FaultKind::InternalError, 0.05),
        FaultSpec::rate("ifs.shipment.get", FaultKind::InternalError, 0.05),
        FaultSpec::rate("ifs.charge.post", FaultKind::TooManyRequests, 0.20),
        FaultSpec::rate("ifs.shipment.patch", FaultKind::ConcurrentEdit, 0.10),
        FaultSpec::rate("ups.ship", FaultKind::DropAfter, 0.05),
    ]
}

/// Counts what the simulators hold for the seeded shipments.
pub fn summarize(sims: &Simulators, ids: &[i64], store: &dyn Store, started: Instant) -> Summary {
    let wanted: BTreeSet<String> = ids.iter().map(i64::to_string).collect();
    let refs = sims.ups().shipments_by_reference();
    let mut created = 0;
    let mut duplicates = 0;
    for (reference, count) in &refs {
        if wanted.contains(reference) {
            created += count.created as usize;
            duplicates += (count.active as usize).saturating_sub(1);
        }
    }
    let ifs = sims.ifs().snapshot();
    let mut written_back = 0;
    let mut delivered = 0;
    let mut orders = BTreeSet::new();
    for shipment in &ifs.shipments {
        let Some(id) = shipment.get("ShipmentId").and_then(|v| v.as_i64()) else {
            continue;
        };
        if !ids.contains(&id) {
            continue;
        }
        if shipment
            .get("ProNo")
            .and_then(|v| v.as_str())
            .is_some_and(|p| p.starts_with("1Z"))
        {
            written_back += 1;
        }
        if shipment.get("Cf$_TrackingStatus").and_then(|v| v.as_str()) == Some("Delivered") {
            delivered += 1;
        }
        if let Some(order) = shipment.get("OrderNo").and_then(|v| v.as_str()) {
            orders.insert(order.to_owned());
        }
    }
    let charges = orders
        .iter()
        .flat_map(|o| ifs.charges.get(o).cloned().unwrap_or_default())
        .filter(|c| {
            c.get("ShipmentId")
                .and_then(|v| v.as_i64())
                .is_some_and(|id| ids.contains(&id))
        })
        .count();
    let counts = store.item_counts(Some(TENANT)).unwrap_or_default();
    let ups_tokens: u64 = sims
        .ups()
        .tokens_by_day()
        .values()
        .map(|n| u64::from(*n))
        .sum();
    Summary {
        event: "summary",
        shipments: ids.len(),
        ups_shipments_created: created,
        duplicates,
        tracking_written_back: written_back,
        freight_charges_posted: charges,
        delivered_in_ifs: delivered,
        held: counts.get(&ItemState::Held).copied().unwrap_or(0),
        failed: counts.get(&ItemState::Failed).copied().unwrap_or(0),
        token_requests: BTreeMap::from([("ifs", ifs.tokens_issued), ("ups", ups_tokens)]),
        elapsed_s: (started.elapsed().as_secs_f64() * 10.0).round() / 10.0,
    }
}

/// What the driver prints as it goes.
struct Reporter {
    json: bool,
    tty: bool,
    last: Instant,
}

impl Reporter {
    fn progress(
        &mut self,
        phase: &str,
        counts: &BTreeMap<ItemState, u64>,
        total: usize,
        delivered: usize,
        force: bool,
    ) {
        if !force && self.last.elapsed() < Duration::from_millis(if self.json { 1000 } else { 200 })
        {
            return;
        }
        self.last = Instant::now();
        let get = |s| counts.get(&s).copied().unwrap_or(0);
        if self.json {
            let line = serde_json::json!({
                "event": "progress", "phase": phase, "shipments": total,
                "completed": get(ItemState::Completed), "held": get(ItemState::Held), "failed": get(ItemState::Failed),
                "retrying": get(ItemState::Retry), "in_flight": get(ItemState::Running) + get(ItemState::Pending),
                "delivered_in_ifs": delivered,
            });
            println!("{line}");
        } else {
            let line = format!(
                "[{phase}] {}/{total} shipped, {} held, {} failed, {} retrying, {} in flight | delivered in IFS: {delivered}/{total}",
                get(ItemState::Completed),
                get(ItemState::Held),
                get(ItemState::Failed),
                get(ItemState::Retry),
                get(ItemState::Running) + get(ItemState::Pending),
            );
            if self.tty {
                eprint!("\r\x1b[2K{line}");
            } else {
                eprintln!("{line}");
            }
            let _ = std::io::stderr().flush();
        }
    }

    fn done(&self) {
        if !self.json && self.tty {
            eprintln!();
        }
    }
}

/// Runs the demo.
pub async fn run(args: DemoArgs) -> ExitCode {
    match drive(args).await {
        Ok(code) => code,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn drive(args: DemoArgs) -> Result<ExitCode, String> {
    let started = Instant::now();
    // Logs go to stderr; keep them to warnings unless asked, so progress stays readable.
    crate::telemetry::init_with_default(crate::config::LogFormat::Text, "warn");
    let (_tmp, data_dir) = match &args.data_dir {
        Some(dir) => (None, dir.clone()),
        None => {
            let tmp = tempfile::Builder::new()
                .prefix("ml-connector-demo-")
                .tempdir()
                .map_err(|e| format!("cannot create a temporary directory: {e}"))?;
            let path = tmp.path().to_owned();
            (Some(tmp), path)
        }
    };

    let mut opts = SimOptions {
        shipments: args.shipments,
        bad_addresses: false,
        ..SimOptions::default()
    };
    if args.chaos {
        for fault in chaos_faults() {
            opts = opts.fault(fault);
        }
    }
    let sims = Simulators::start(opts)
        .await
        .map_err(|e| format!("cannot start the simulators: {e}"))?;
    let info = sims.info();
    let ids = sims.ifs().ready_shipment_ids();

    let webhook_listener = tokio::net::TcpListener::bind(args.webhook_listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", args.webhook_listen))?;
    let admin_listener = tokio::net::TcpListener::bind(args.admin_listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", args.admin_listen))?;
    let webhook_base = format!(
        "http://{}",
        webhook_listener.local_addr().map_err(|e| e.to_string())?
    );
    let admin_url = format!(
        "http://{}",
        admin_listener.local_addr().map_err(|e| e.to_string())?
    );

    let key = MasterKey::generate();
    let trackalert = SecretString::new(format!("demo-{}", uuid::Uuid::new_v4().simple()));
    let admin_token = SecretString::new(uuid::Uuid::new_v4().simple().to_string());
    {
        let store: Arc<dyn Store> = open_data_dir(&data_dir).map_err(|e| e.to_string())?;
        let vault = Vault::open(store, key.clone()).map_err(|e| e.to_string())?;
        store_secrets(&vault, TENANT, &info, &trackalert).map_err(|e| e.to_string())?;
    }
    let clock = Arc::new(OffsetClock::new());
    let config = simulator_config(&info, data_dir.clone(), &webhook_base);
    let service = Service::build(
        config,
        ServiceOptions {
            clock: clock.clone(),
            master_key: Some(key),
            admin_token: Some(admin_token.clone()),
        },
    )
    .await
    .map_err(|e| e.to_string())?;
    let serving = tokio::spawn(super::serve::serve_on(
        service.clone(),
        webhook_listener,
        admin_listener,
    ));

    let ready = serde_json::json!({
        "event": "ready", "admin_url": admin_url, "admin_token": admin_token.expose(), "simulators": info,
        "data_dir": data_dir,
    });
    if args.json {
        println!("{ready}");
    } else {
        eprintln!(
            "ml-connector demo: {} shipments in the IFS simulator; data in {}",
            ids.len(),
            data_dir.display()
        );
        eprintln!(
            "admin API: {admin_url} (bearer token {})",
            admin_token.expose()
        );
        eprintln!("simulator control: {}", info.control_url);
    }

    let mut reporter = Reporter {
        json: args.json,
        tty: std::io::stderr().is_terminal(),
        last: Instant::now(),
    };
    let flow = service
        .flow(TENANT, FLOW)
        .cloned()
        .ok_or("the demo flow is missing")?;
    let store = service.store().clone();
    let counts = || store.item_counts(Some(TENANT)).unwrap_or_default();
    let delivered = |sims: &Simulators| summarize(sims, &ids, &*store, started).delivered_in_ifs;
    let settled = |c: &BTreeMap<ItemState, u64>| {
        let done = [ItemState::Completed, ItemState::Held, ItemState::Failed]
            .iter()
            .map(|s| c.get(s).copied().unwrap_or(0))
            .sum::<u64>();
        done as usize >= ids.len()
    };

    // Outbound: wait until every shipment is shipped, held or failed (or nothing moves for long).
    let mut last_change = Instant::now();
    let mut last_counts = BTreeMap::new();
    loop {
        let c = counts();
        reporter.progress("outbound", &c, ids.len(), 0, false);
        if settled(&c) {
            break;
        }
        if c != last_counts {
            last_counts = c;
            last_change = Instant::now();
        } else if last_change.elapsed() > Duration::from_secs(120) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    reporter.progress("outbound", &counts(), ids.len(), 0, true);

    // Tracking: subscribe, then let simulated time pass in six-hour steps; UPS pushes events to
    // the webhook ingress, the flow writes them to IFS.
    flow.run_now();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let completed = counts().get(&ItemState::Completed).copied().unwrap_or(0) as usize;
    for _ in 0..(4 * 16) {
        let now_delivered = delivered(&sims);
        reporter.progress("tracking", &counts(), ids.len(), now_delivered, false);
        if now_delivered >= completed {
            break;
        }
        clock.advance(Duration::from_secs(6 * 3600));
        sims.advance(Duration::from_secs(6 * 3600))
            .await
            .map_err(|e| format!("advancing the simulators: {e}"))?;
        flow.run_now();
        // Let the inbox drain before the next step.
        for _ in 0..50 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let pending = store.inbox_counts(Some(TENANT)).unwrap_or_default();
            if pending.get("pending").copied().unwrap_or(0)
                + pending.get("processing").copied().unwrap_or(0)
                == 0
            {
                break;
            }
        }
    }
    reporter.progress("tracking", &counts(), ids.len(), delivered(&sims), true);
    reporter.done();

    let summary = summarize(&sims, &ids, &*store, started);
    if args.json {
        println!("{}", serde_json::to_string(&summary).unwrap_or_default());
    } else {
        eprintln!();
        eprintln!("Summary (from the simulators' state)");
        eprintln!("  shipments in IFS ready to ship : {}", summary.shipments);
        eprintln!(
            "  UPS shipments created          : {}",
            summary.ups_shipments_created
        );
        eprintln!("  duplicates                     : {}", summary.duplicates);
        eprintln!(
            "  tracking numbers written back  : {}",
            summary.tracking_written_back
        );
        eprintln!(
            "  freight charges posted         : {}",
            summary.freight_charges_posted
        );
        eprintln!(
            "  delivered in IFS               : {}",
            summary.delivered_in_ifs
        );
        eprintln!(
            "  held / failed                  : {} / {}",
            summary.held, summary.failed
        );
        eprintln!(
            "  token requests IFS / UPS       : {} / {}",
            summary.token_requests["ifs"], summary.token_requests["ups"]
        );
        eprintln!(
            "  elapsed                        : {:.1} s",
            summary.elapsed_s
        );
    }
    let success = summary.ups_shipments_created == summary.shipments
        && summary.duplicates == 0
        && summary.tracking_written_back == summary.shipments
        && summary.freight_charges_posted == summary.shipments
        && summary.delivered_in_ifs == summary.shipments;

    if !args.exit_when_done {
        if !args.json {
            eprintln!(
                "\nStill serving: admin API {admin_url}, simulators {}. Ctrl-C to stop.",
                info.control_url
            );
        }
        super::serve::shutdown_signal().await;
    }
    service.shutdown();
    let _ = serving.await;
    Ok(if success || !args.exit_when_done {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
