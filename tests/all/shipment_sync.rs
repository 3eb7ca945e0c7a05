//! The whole outbound and tracking path: the host, the three components and both simulators.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use host::clock::Clock;
use host::db::{ItemQuery, ItemState};
use host::manifest::WorldKind;
use host::scheduler::{FlowRunner, FlowSettings, RetryPolicy};
use host::vault::SecretString;
use host::webhooks::{self, SharedHeader, TenantWebhook, WebhookState};
use integration_tests::bundled;
use integration_tests::sim::{IFS, SimHost, TENANT, TRACKALERT_CREDENTIAL, UPS};
use simulators::{FaultKind, FaultSpec, SimOptions};

const FLOW: &str = "shipment-sync";

struct Sync {
    h: SimHost,
    runner: Arc<FlowRunner>,
}

async fn start(opts: SimOptions) -> Sync {
    let h = SimHost::start(opts).await;
    let state = Arc::new(WebhookState {
        store: h.host.store.clone(),
        clock: h.host.clock.clone(),
        tenants: HashMap::from([(
            TENANT.to_owned(),
            TenantWebhook {
                carrier: "ups".into(),
                auth: Box::new(SharedHeader {
                    header: "credential".into(),
                    secret: SecretString::new(TRACKALERT_CREDENTIAL),
                }),
                max_body_bytes: 256 * 1024,
                notify: Arc::default(),
            },
        )]),
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let ingress = format!(
        "http://{}/webhooks/ups/{TENANT}",
        listener.local_addr().unwrap()
    );
    tokio::spawn(async move { axum::serve(listener, webhooks::router(state)).await });
    h.bind_ups(TENANT, &[("trackalert-webhook-url", &ingress)]);
    h.host
        .load(FLOW, WorldKind::Flow, bundled::SHIPMENT_SYNC_PATH);
    h.host.bind_flow(TENANT, FLOW, IFS, UPS);
    let runner = FlowRunner::new(
        h.host.runtime.clone(),
        FlowSettings {
            tenant: TENANT.into(),
            flow: FLOW.into(),
            carrier: UPS.into(),
            concurrency: 16,
            retry: RetryPolicy {
                base: Duration::from_secs(1),
                max: Duration::from_secs(20),
                max_attempts: 30,
            },
        },
    );
    Sync { h, runner }
}

impl Sync {
    /// Discovers and processes until nothing is due, jumping the host clock over backoff waits.
    async fn settle(&self) {
        self.runner.discover().await.unwrap();
        for _ in 0..200 {
            self.runner.process_due().await.unwrap();
            match self.runner.next_due().unwrap() {
                None => return,
                Some(due) => {
                    let now = self.h.host.clock.now_ms();
                    if due > now {
                        self.h
                            .host
                            .clock
                            .advance(Duration::from_millis((due - now) as u64));
                    }
                }
            }
        }
        panic!("work did not settle");
    }

    /// Subscribes, then lets simulated days pass until every shipment is delivered in IFS.
    async fn track_to_delivery(&self, ids: &[i64]) {
        self.runner.maintain().await.unwrap();
        for _ in 0..12 {
            self.h.advance(Duration::from_secs(24 * 3600)).await;
            self.runner.drain_inbox().await.unwrap();
            self.runner.maintain().await.unwrap();
            self.settle().await;
            if self.delivered_in_ifs(ids) >= ids.len() {
                return;
            }
        }
    }

    fn counts(&self) -> std::collections::BTreeMap<ItemState, u64> {
        self.h.host.store.item_counts(Some(TENANT)).unwrap()
    }

    /// Counts plus a sample of failures, for assertion messages.
    fn report(&self) -> String {
        let failed = self
            .h
            .host
            .store
            .items(&ItemQuery {
                state: Some(ItemState::Failed),
                limit: Some(5),
                ..Default::default()
            })
            .unwrap();
        let reasons: Vec<String> = failed
            .iter()
            .map(|i| format!("{}: {}", i.key, i.last_error.clone().unwrap_or_default()))
            .collect();
        format!("{:?}; failures: {reasons:#?}", self.counts())
    }

    fn delivered_in_ifs(&self, ids: &[i64]) -> usize {
        self.h
            .sims
            .ifs()
            .snapshot()
            .shipments
            .iter()
            .filter(|s| {
                s.get("ShipmentId")
                    .and_then(|v| v.as_i64())
                    .is_some_and(|id| ids.contains(&id))
            })
            .filter(|s| s.get("Cf$_TrackingStatus").and_then(|v| v.as_str()) == Some("Delivered"))
            .count()
    }

    /// Checks, from the simulators' own state, every shipment created exactly once, written
    /// back, charged once.
    fn assert_synced(&self, ids: &[i64]) {
        let refs = self.h.sims.ups().shipments_by_reference();
        let ifs = self.h.sims.ifs();
        for id in ids {
            let key = id.to_string();
            let r = refs
                .get(&key)
                .unwrap_or_else(|| panic!("no UPS shipment for IFS shipment {id}"));
            assert_eq!(r.active, 1, "IFS shipment {id}: {r:?}");
            let shipment = ifs.shipment(*id).unwrap();
            let pro = shipment
                .get("ProNo")
                .and_then(|v| v.as_str())
                .unwrap_or_default();
            assert!(
                pro.starts_with("1Z"),
                "IFS shipment {id} has no tracking number: {pro:?}"
            );
            let order = shipment
                .get("OrderNo")
                .and_then(|v| v.as_str())
                .unwrap()
                .to_owned();
            let charges: Vec<_> = ifs
                .charges(&order)
                .into_iter()
                .filter(|c| c.get("ShipmentId").and_then(|v| v.as_i64()) == Some(*id))
                .collect();
            assert_eq!(charges.len(), 1, "IFS shipment {id} charges: {charges:?}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_shipments_are_created_written_back_charged_and_tracked_to_delivery() {
    let opts = SimOptions {
        shipments: 200,
        bad_addresses: false,
        ..SimOptions::default()
    };
    let s = start(opts).await;
    let ids = s.h.sims.ifs().ready_shipment_ids();
    assert_eq!(ids.len(), 200);

    s.settle().await;
    assert_eq!(
        s.counts().get(&ItemState::Completed),
        Some(&200),
        "{}",
        s.report()
    );
    s.assert_synced(&ids);
    let dup: Vec<_> = s
        .h
        .sims
        .ups()
        .shipments_by_reference()
        .into_iter()
        .filter(|(reference, r)| ids.iter().any(|id| id.to_string() == *reference) && r.created > 1)
        .collect();
    assert!(dup.is_empty(), "duplicates: {dup:?}");

    s.track_to_delivery(&ids).await;
    assert!(
        !s.h.sims.ups().subscriptions().is_empty(),
        "no Track Alert subscriptions"
    );
    assert_eq!(s.delivered_in_ifs(&ids), 200, "shipments delivered in IFS");
    // The events came pushed, through the authenticated ingress and the durable inbox.
    let inbox = s.h.host.store.inbox_counts(Some(TENANT)).unwrap();
    assert!(inbox.get("done").copied().unwrap_or(0) >= 200, "{inbox:?}");
    assert!(
        s.h.sims
            .ups()
            .webhook_deliveries()
            .iter()
            .all(|d| d.status == Some(200)),
        "a push was refused"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_faults_every_shipment_completes_once() {
    // About 20 % 429s (half with Retry-After), 5 % 500s, 10 % concurrent IFS edits, and
    // shipments created at UPS whose answer never arrives (the connection drops after the
    // work is done: the outcome-unknown case that reconciliation exists for).
    let faults = [
        FaultSpec::rate("ups.xav", FaultKind::TooManyRequests, 0.10).with_retry_after(1),
        FaultSpec::rate("ups.rate", FaultKind::TooManyRequests, 0.20),
        FaultSpec::rate("ups.ship", FaultKind::TooManyRequests, 0.20).with_retry_after(2),
        FaultSpec::rate("ups.ship", FaultKind::InternalError, 0.05),
        FaultSpec::rate("ifs.shipment.get", FaultKind::InternalError, 0.05),
        FaultSpec::rate("ifs.charge.post", FaultKind::TooManyRequests, 0.20),
        FaultSpec::rate("ifs.shipment.patch", FaultKind::ConcurrentEdit, 0.10),
        FaultSpec::rate("ups.ship", FaultKind::DropAfter, 0.05),
    ];
    let mut opts = SimOptions {
        shipments: 200,
        bad_addresses: false,
        ..SimOptions::default()
    };
    for fault in faults {
        opts = opts.fault(fault);
    }
    let s = start(opts).await;
    let ids = s.h.sims.ifs().ready_shipment_ids();
    s.settle().await;
    assert_eq!(
        s.counts().get(&ItemState::Completed),
        Some(&200),
        "{}",
        s.report()
    );
    s.assert_synced(&ids);
    let refs = s.h.sims.ups().shipments_by_reference();
    let live_dups: Vec<_> = refs
        .iter()
        .filter(|(reference, r)| ids.iter().any(|id| id.to_string() == **reference) && r.active > 1)
        .collect();
    assert!(
        live_dups.is_empty(),
        "two live UPS shipments for one IFS shipment: {live_dups:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_address_is_held_fixed_in_ifs_replayed_and_completes_with_its_audit_trail() {
    let s = start(SimOptions {
        shipments: 20,
        ..SimOptions::default()
    })
    .await;
    s.settle().await;
    let held =
        s.h.host
            .store
            .items(&ItemQuery {
                state: Some(ItemState::Held),
                ..Default::default()
            })
            .unwrap();
    assert!(!held.is_empty(), "{}", s.report());
    let item = held
        .iter()
        .find(|i| i.key == "10008")
        .expect("shipment 10008 (ambiguous address) held");
    let hold = item.hold.as_ref().unwrap();
    assert_eq!(hold["step"], "validate-address");
    assert!(
        hold["candidates"].as_array().is_some_and(|c| !c.is_empty()),
        "{hold}"
    );

    // The operator fixes the ZIP in IFS and replays.
    let candidate_zip = hold["candidates"][0]["postal-code"]
        .as_str()
        .or(hold["candidates"][0]["postal_code"].as_str())
        .unwrap();
    let mut fix = serde_json::Map::new();
    fix.insert(
        "ReceiverZipCode".into(),
        serde_json::Value::String(candidate_zip.to_owned()),
    );
    s.h.sims.ifs().edit_shipment(10008, &fix).unwrap();
    assert!(
        s.h.host
            .store
            .replay_item(&item.id, s.h.host.clock.now_ms())
            .unwrap()
    );
    s.settle().await;

    let after = s.h.host.store.item(&item.id).unwrap().unwrap();
    assert_eq!(after.state, ItemState::Completed, "{after:?}");
    assert_eq!(s.h.sims.ups().shipments_by_reference()["10008"].active, 1);
    let steps = s.h.host.store.steps(&item.id).unwrap();
    let trail: Vec<(u32, &str, &str)> = steps
        .iter()
        .map(|s| (s.attempt, s.operation.as_str(), s.status.as_str()))
        .collect();
    assert_eq!(trail[0], (1, "erp.get-shipment", "ok"));
    assert_eq!(trail[1], (1, "carrier.validate-address", "ok"));
    let second: Vec<&str> = trail.iter().filter(|t| t.0 == 2).map(|t| t.1).collect();
    assert_eq!(
        second,
        vec![
            "erp.get-shipment",
            "carrier.validate-address",
            "carrier.rate-shipment",
            "carrier.create-shipment",
            "erp.record-carrier-shipment",
            "erp.record-freight-cost"
        ],
        "{trail:?}"
    );
    assert!(
        steps
            .windows(2)
            .all(|w| w[0].id < w[1].id && w[0].started_ms <= w[1].started_ms)
    );
}
