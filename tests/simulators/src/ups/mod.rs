//! The UPS simulator: OAuth, address validation, rating, shipping/void, tracking, Track Alert
//! subscriptions with webhook pushes, and Quantum View.

pub(crate) mod model;
pub(crate) mod routes;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::sync::{Notify, oneshot};
use tokio_util::sync::CancellationToken;

use crate::SimClock;
use crate::SimError;
use crate::server::{RequestLog, RequestRecord};
use crate::util::lock;
use model::{Place, TrackEvent};

pub(crate) struct UpsConfig {
    pub(crate) client_id: String,
    pub(crate) client_secret: String,
    pub(crate) account_number: String,
    pub(crate) expires_in: u64,
    pub(crate) daily_quota: u32,
    pub(crate) negotiated: bool,
    pub(crate) seed: u64,
}

/// A party (shipper or ship-to) as given on a shipment request.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct UpsParty {
    /// Name.
    pub name: String,
    /// Address lines.
    pub lines: Vec<String>,
    /// City.
    pub city: String,
    /// State / province code (may be empty).
    pub state: String,
    /// Postal code (may be empty).
    pub postal: String,
    /// ISO country code.
    pub country: String,
}

impl UpsParty {
    pub(crate) fn place(&self) -> Place {
        Place {
            city: self.city.clone(),
            state: self.state.clone(),
            postal: self.postal.clone(),
            country: self.country.clone(),
        }
    }
}

/// One package of a created shipment.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct UpsPackage {
    /// 1Z tracking number.
    pub tracking_number: String,
    /// Weight as sent (string) and its unit code.
    pub weight: String,
    /// `LBS`, `KGS` or `OZS`.
    pub weight_unit: String,
    /// `[length, width, height, unit]` when dimensions were sent.
    pub dimensions: Option<[String; 4]>,
    /// Package-level reference values.
    pub references: Vec<String>,
    /// Base64 label image.
    pub label: String,
}

pub(crate) struct Shipment {
    pub(crate) id: String,
    pub(crate) created_at: DateTime<Utc>,
    pub(crate) voided_at: Option<DateTime<Utc>>,
    pub(crate) service: String,
    pub(crate) shipper: UpsParty,
    pub(crate) ship_to: UpsParty,
    pub(crate) references: Vec<String>,
    pub(crate) customer_context: Option<String>,
    pub(crate) packages: Vec<UpsPackage>,
    pub(crate) currency: String,
    pub(crate) total: f64,
    pub(crate) negotiated: Option<f64>,
    pub(crate) billing_weight: String,
    pub(crate) billing_unit: String,
    pub(crate) label_format: String,
    pub(crate) pending: VecDeque<TrackEvent>,
    pub(crate) events: Vec<TrackEvent>,
    pub(crate) scheduled: NaiveDate,
}

/// A Track Alert subscription for one tracking number.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Subscription {
    /// The tracking number.
    pub tracking_number: String,
    /// `v1` (destination in the request) or `v2` (destination configured out of band).
    pub version: String,
    /// `standard` or `enhanced`.
    pub kind: String,
    /// Webhook URL (v1: from the request; v2: the configured webhook at subscribe time).
    pub url: Option<String>,
    /// The `credential` sent back as a header on every push.
    pub credential: Option<String>,
    /// The `credentialType` given.
    pub credential_type: Option<String>,
    /// Simulated time of subscription.
    pub subscribed_at: DateTime<Utc>,
    /// Simulated expiry (subscribed_at + 14 days).
    pub expires_at: DateTime<Utc>,
    /// `eventPreferences` (enhanced), empty = all.
    pub event_preferences: Vec<String>,
}

/// Out-of-band webhook configuration for Track Alert v2 (UPS's "Manage Webhook Credentials").
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct WebhookConfig {
    /// Where v2 subscriptions' events are pushed.
    pub url: String,
    /// Sent as the `credential` header on each push.
    #[serde(default)]
    pub credential: Option<String>,
}

/// One webhook push attempt series.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct WebhookDelivery {
    /// Simulated time the event became due.
    pub at: DateTime<Utc>,
    /// Target URL.
    pub url: String,
    /// Tracking number of the event.
    pub tracking_number: String,
    /// `activityStatus.type` (M, I, X, D, MV).
    pub activity_type: String,
    /// `activityStatus.code` (MP, OR, DP, AR, OT, X1, FS, MV).
    pub activity_code: String,
    /// Attempts made (at most 3).
    pub attempts: u32,
    /// Last HTTP status received, if any.
    pub status: Option<u16>,
    /// True once the receiver answered 2xx.
    pub delivered: bool,
    /// Last transport error, if any.
    pub error: Option<String>,
    /// The JSON body pushed (`webhooks.TrackingEvent`).
    pub body: Value,
}

/// How a shipment created at UPS looks in inspection.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct UpsShipmentView {
    /// ShipmentIdentificationNumber (= first package's tracking number).
    pub shipment_id: String,
    /// Simulated creation time.
    pub created_at: DateTime<Utc>,
    /// Voided?
    pub voided: bool,
    /// When it was voided.
    pub voided_at: Option<DateTime<Utc>>,
    /// UPS service code (`03`, `11`, …).
    pub service_code: String,
    /// All reference values (shipment and package level), deduplicated, in order.
    pub references: Vec<String>,
    /// `TransactionReference.CustomerContext` of the ship request.
    pub customer_context: Option<String>,
    /// Tracking numbers, one per package.
    pub tracking_numbers: Vec<String>,
    /// Packages with weights, dimensions and labels.
    pub packages: Vec<UpsPackage>,
    /// Shipper as sent.
    pub shipper: UpsParty,
    /// Ship-to as sent.
    pub ship_to: UpsParty,
    /// Charges currency.
    pub currency: String,
    /// Published total (`ShipmentCharges.TotalCharges`).
    pub total_charges: String,
    /// Negotiated total, when negotiated rates were asked for and apply.
    pub negotiated_charges: Option<String>,
    /// Billing weight and unit.
    pub billing_weight: String,
    /// Label image format.
    pub label_format: String,
    /// Current status code (MP, OR, …, FS, MV).
    pub status_code: String,
    /// Current status type (M, I, X, D, MV).
    pub status_type: String,
    /// Events generated so far.
    pub events: usize,
    /// Scheduled delivery date `YYYYMMDD`.
    pub scheduled_delivery: String,
    /// Delivery time, once delivered.
    pub delivered_at: Option<DateTime<Utc>>,
}

/// Shipments per reference value.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct ReferenceCount {
    /// Shipments created carrying this reference.
    pub created: u32,
    /// Of those, voided.
    pub voided: u32,
    /// Of those, not voided.
    pub active: u32,
    /// Their shipment ids.
    pub shipment_ids: Vec<String>,
}

/// The whole UPS state, as the inspection API reports it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct UpsSnapshot {
    /// Simulated time of the snapshot.
    pub now: DateTime<Utc>,
    /// The shipper account number.
    pub account_number: String,
    /// Shipments created, in order.
    pub shipments: Vec<UpsShipmentView>,
    /// Shipments per reference value (duplicates show as `created > 1`).
    pub shipments_by_reference: BTreeMap<String, ReferenceCount>,
    /// Track Alert subscriptions (latest per tracking number).
    pub subscriptions: Vec<Subscription>,
    /// Configured v2 webhook.
    pub webhook: Option<WebhookConfig>,
    /// Tokens issued in total.
    pub tokens_issued_total: u64,
    /// Tokens issued per UTC day (`YYYY-MM-DD`, simulated clock).
    pub tokens_by_day: BTreeMap<String, u32>,
    /// Daily token quota.
    pub token_quota: u32,
    /// Token requests refused with 429 because of the quota.
    pub token_quota_rejections: u64,
    /// Webhook pushes.
    pub webhook_deliveries: Vec<WebhookDelivery>,
    /// Quantum View events not yet read in "unread" mode.
    pub quantum_view_unread: usize,
    /// Requests received per route key.
    pub requests_by_route: BTreeMap<String, u64>,
    /// Whether the single-object quirk is on.
    pub single_object: bool,
}

pub(crate) struct PushJob {
    url: String,
    credential: Option<String>,
    api_key: Option<String>,
    at: DateTime<Utc>,
    tn: String,
    kind: String,
    code: String,
    body: Value,
}

pub(crate) struct UpsData {
    pub(crate) tokens: HashMap<String, DateTime<Utc>>,
    pub(crate) tokens_by_day: BTreeMap<String, u32>,
    pub(crate) tokens_total: u64,
    pub(crate) quota_rejections: u64,
    pub(crate) shipments: Vec<Shipment>,
    pub(crate) by_id: HashMap<String, usize>,
    pub(crate) by_tn: HashMap<String, usize>,
    pub(crate) serial: u32,
    pub(crate) subs: BTreeMap<String, Subscription>,
    pub(crate) qv_log: Vec<(usize, TrackEvent)>,
    pub(crate) qv_cursor: usize,
    push_queue: VecDeque<PushJob>,
    pub(crate) deliveries: Vec<WebhookDelivery>,
    pub(crate) webhook_v2: Option<WebhookConfig>,
    pub(crate) single_object: bool,
    next_due: Option<DateTime<Utc>>,
}

pub(crate) struct UpsState {
    pub(crate) data: Mutex<UpsData>,
    pub(crate) cfg: UpsConfig,
    pub(crate) clock: SimClock,
    pub(crate) log: Arc<RequestLog>,
    wake: Notify,
    flush_waiters: Mutex<Vec<oneshot::Sender<()>>>,
}

/// The Track Alert webhook body (`webhooks.TrackingEvent`) for one event. Unknown values are
/// left out rather than sent as `""`, so the body validates against the schema.
pub(crate) fn webhook_body(tn: &str, e: &TrackEvent, scheduled: NaiveDate) -> Value {
    let local = e.local();
    let off = e.offset_hours();
    let mut loc = serde_json::Map::new();
    if !e.place.city.is_empty() {
        loc.insert("city".into(), json!(e.place.city));
    }
    if e.place.state.len() == 2 && e.place.state.chars().all(|c| c.is_ascii_uppercase()) {
        loc.insert("stateProvince".into(), json!(e.place.state));
    }
    let postal_ok = {
        let p = &e.place.postal;
        let digits = |s: &str| s.len() == 5 && s.chars().all(|c| c.is_ascii_digit());
        digits(p) || (p.len() == 10 && digits(&p[..5]))
    };
    if e.kind == "D" && postal_ok {
        loc.insert("postalCode".into(), json!(e.place.postal));
    }
    loc.insert("country".into(), json!(e.place.country));
    let mut b = serde_json::Map::new();
    b.insert("trackingNumber".into(), json!(tn));
    b.insert(
        "localActivityDate".into(),
        json!(local.format("%Y%m%d").to_string()),
    );
    b.insert(
        "localActivityTime".into(),
        json!(local.format("%H%M%S").to_string()),
    );
    b.insert("activityLocation".into(), Value::Object(loc));
    b.insert(
        "activityStatus".into(),
        json!({"type": e.kind, "code": e.code, "description": e.desc, "descriptionCode": e.status_code}),
    );
    if e.kind != "M" && e.kind != "MV" {
        b.insert(
            "scheduledDeliveryDate".into(),
            json!(scheduled.format("%Y%m%d").to_string()),
        );
    }
    if e.kind == "D" {
        b.insert(
            "actualDeliveryDate".into(),
            json!(local.format("%Y%m%d").to_string()),
        );
        b.insert(
            "actualDeliveryTime".into(),
            json!(local.format("%H%M%S").to_string()),
        );
    }
    b.insert(
        "gmtActivityDate".into(),
        json!(e.at.format("%Y%m%d").to_string()),
    );
    b.insert(
        "gmtActivityTime".into(),
        json!(e.at.format("%H%M%S").to_string()),
    );
    b.insert(
        "gmtOffset".into(),
        json!(format!(
            "{}{:02}.00",
            if off < 0 { '-' } else { '+' },
            off.abs()
        )),
    );
    if e.kind != "M" && e.kind != "MV" {
        b.insert("deliveryTimeDescription".into(), json!("end of day"));
    }
    Value::Object(b)
}

impl UpsData {
    pub(crate) fn new() -> Self {
        UpsData {
            tokens: HashMap::new(),
            tokens_by_day: BTreeMap::new(),
            tokens_total: 0,
            quota_rejections: 0,
            shipments: Vec::new(),
            by_id: HashMap::new(),
            by_tn: HashMap::new(),
            serial: 0,
            subs: BTreeMap::new(),
            qv_log: Vec::new(),
            qv_cursor: 0,
            push_queue: VecDeque::new(),
            deliveries: Vec::new(),
            webhook_v2: None,
            single_object: false,
            next_due: None,
        }
    }

    pub(crate) fn recompute_due(&mut self) {
        self.next_due = self
            .shipments
            .iter()
            .filter_map(|s| s.pending.front().map(|e| e.at))
            .min();
    }

    /// Records an event that just happened: shipment history, Quantum View log, pushes.
    fn occur(&mut self, idx: usize, e: TrackEvent, api_key: &str) {
        let Some(s) = self.shipments.get_mut(idx) else {
            return;
        };
        s.events.push(e.clone());
        let scheduled = s.scheduled;
        let tns: Vec<String> = s
            .packages
            .iter()
            .map(|p| p.tracking_number.clone())
            .collect();
        self.qv_log.push((idx, e.clone()));
        for tn in tns {
            let Some(sub) = self.subs.get(&tn) else {
                continue;
            };
            if e.at < sub.subscribed_at || e.at >= sub.expires_at {
                continue;
            }
            let wanted = sub.event_preferences.is_empty()
                || sub
                    .event_preferences
                    .iter()
                    .any(|p| p == e.kind || (p == "M" && e.kind == "MV"));
            let Some(url) = sub.url.clone() else {
                continue;
            };
            if !wanted {
                continue;
            }
            self.push_queue.push_back(PushJob {
                url,
                credential: sub.credential.clone(),
                api_key: (sub.version == "v2").then(|| api_key.to_string()),
                at: e.at,
                tn: tn.clone(),
                kind: e.kind.to_string(),
                code: e.code.to_string(),
                body: webhook_body(&tn, &e, scheduled),
            });
        }
    }

    /// Generates every tracking event that is due at `now`, in time order.
    pub(crate) fn materialize(&mut self, now: DateTime<Utc>, api_key: &str) {
        if self.next_due.is_none_or(|t| t > now) {
            return;
        }
        let mut due: Vec<(usize, TrackEvent)> = Vec::new();
        for (i, s) in self.shipments.iter_mut().enumerate() {
            while s.pending.front().is_some_and(|e| e.at <= now) {
                if let Some(e) = s.pending.pop_front() {
                    due.push((i, e));
                }
            }
        }
        due.sort_by(|a, b| a.1.at.cmp(&b.1.at).then(a.0.cmp(&b.0)));
        for (i, e) in due {
            self.occur(i, e, api_key);
        }
        self.recompute_due();
    }

    /// Voids a shipment now: pending events are dropped and a Manifest Void event happens.
    pub(crate) fn void(&mut self, idx: usize, now: DateTime<Utc>, api_key: &str) {
        let Some(s) = self.shipments.get_mut(idx) else {
            return;
        };
        if s.voided_at.is_some() {
            return;
        }
        s.voided_at = Some(now);
        s.pending.clear();
        let place = s.shipper.place();
        self.occur(idx, model::ev(now, "MV", &place), api_key);
        self.recompute_due();
    }

    pub(crate) fn view(&self, s: &Shipment) -> UpsShipmentView {
        let last = s.events.last();
        UpsShipmentView {
            shipment_id: s.id.clone(),
            created_at: s.created_at,
            voided: s.voided_at.is_some(),
            voided_at: s.voided_at,
            service_code: s.service.clone(),
            references: s.references.clone(),
            customer_context: s.customer_context.clone(),
            tracking_numbers: s
                .packages
                .iter()
                .map(|p| p.tracking_number.clone())
                .collect(),
            packages: s.packages.clone(),
            shipper: s.shipper.clone(),
            ship_to: s.ship_to.clone(),
            currency: s.currency.clone(),
            total_charges: crate::util::money(s.total),
            negotiated_charges: s.negotiated.map(crate::util::money),
            billing_weight: format!("{} {}", s.billing_weight, s.billing_unit),
            label_format: s.label_format.clone(),
            status_code: last.map(|e| e.code.to_string()).unwrap_or_default(),
            status_type: last.map(|e| e.kind.to_string()).unwrap_or_default(),
            events: s.events.len(),
            scheduled_delivery: s.scheduled.format("%Y%m%d").to_string(),
            delivered_at: s.events.iter().find(|e| e.kind == "D").map(|e| e.at),
        }
    }
}

impl UpsState {
    pub(crate) fn new(cfg: UpsConfig, clock: SimClock, log: Arc<RequestLog>) -> Self {
        UpsState {
            data: Mutex::new(UpsData::new()),
            cfg,
            clock,
            log,
            wake: Notify::new(),
            flush_waiters: Mutex::new(Vec::new()),
        }
    }

    /// Locks the data after generating all due events.
    pub(crate) fn data_now(&self) -> std::sync::MutexGuard<'_, UpsData> {
        let now = self.clock.now();
        let mut d = lock(&self.data);
        d.materialize(now, &self.cfg.client_id);
        d
    }

    /// Wakes the webhook pump (new events or subscriptions).
    pub(crate) fn kick(&self) {
        self.wake.notify_one();
    }

    pub(crate) fn snapshot(&self) -> UpsSnapshot {
        let now = self.clock.now();
        let d = self.data_now();
        let shipments: Vec<UpsShipmentView> = d.shipments.iter().map(|s| d.view(s)).collect();
        let mut by_ref: BTreeMap<String, ReferenceCount> = BTreeMap::new();
        for s in &shipments {
            for r in &s.references {
                let c = by_ref.entry(r.clone()).or_default();
                c.created += 1;
                if s.voided {
                    c.voided += 1;
                } else {
                    c.active += 1;
                }
                c.shipment_ids.push(s.shipment_id.clone());
            }
        }
        UpsSnapshot {
            now,
            account_number: self.cfg.account_number.clone(),
            shipments,
            shipments_by_reference: by_ref,
            subscriptions: d.subs.values().cloned().collect(),
            webhook: d.webhook_v2.clone(),
            tokens_issued_total: d.tokens_total,
            tokens_by_day: d.tokens_by_day.clone(),
            token_quota: self.cfg.daily_quota,
            token_quota_rejections: d.quota_rejections,
            webhook_deliveries: d.deliveries.clone(),
            quantum_view_unread: d.qv_log.len().saturating_sub(d.qv_cursor),
            requests_by_route: self.log.counts(),
            single_object: d.single_object,
        }
    }

    /// Resolves once every event due now has been generated and pushed.
    pub(crate) async fn flush(&self) -> Result<(), SimError> {
        let (tx, rx) = oneshot::channel();
        lock(&self.flush_waiters).push(tx);
        self.kick();
        match tokio::time::timeout(Duration::from_secs(60), rx).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(SimError::Pump("the webhook pump has stopped".into())),
            Err(_) => Err(SimError::Pump(
                "timed out waiting for webhook deliveries".into(),
            )),
        }
    }
}

async fn deliver(client: &reqwest::Client, job: &PushJob) -> WebhookDelivery {
    let mut d = WebhookDelivery {
        at: job.at,
        url: job.url.clone(),
        tracking_number: job.tn.clone(),
        activity_type: job.kind.clone(),
        activity_code: job.code.clone(),
        attempts: 0,
        status: None,
        delivered: false,
        error: None,
        body: job.body.clone(),
    };
    for attempt in 0..3u32 {
        if attempt > 0 {
            tokio::time::sleep(Duration::from_millis(100 * u64::from(attempt * attempt))).await;
        }
        d.attempts = attempt + 1;
        let mut req = client
            .post(&job.url)
            .header("User-Agent", "UPSPubSubTrackingService")
            .json(&job.body);
        if let Some(c) = &job.credential {
            req = req.header("credential", c);
        }
        if let Some(k) = &job.api_key {
            req = req.header("x-api-key", k);
        }
        match req.send().await {
            Ok(r) => {
                d.status = Some(r.status().as_u16());
                d.error = None;
                if r.status().is_success() {
                    d.delivered = true;
                    return d;
                }
            }
            Err(e) => d.error = Some(e.to_string()),
        }
    }
    d
}

/// Background task: generates due events as the clock moves and pushes them to webhooks.
pub(crate) async fn pump(state: Arc<UpsState>, shutdown: CancellationToken) {
    let client = match reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "cannot build the webhook HTTP client");
            return;
        }
    };
    let mut clock_rx = state.clock.subscribe();
    loop {
        let waiters: Vec<oneshot::Sender<()>> = std::mem::take(&mut *lock(&state.flush_waiters));
        let (jobs, next_due) = {
            let mut d = state.data_now();
            let jobs: Vec<PushJob> = d.push_queue.drain(..).collect();
            (jobs, d.next_due)
        };
        for job in &jobs {
            let rec = deliver(&client, job).await;
            let mut d = lock(&state.data);
            if d.deliveries.len() >= 100_000 {
                d.deliveries.remove(0);
            }
            d.deliveries.push(rec);
        }
        for w in waiters {
            let _ = w.send(());
        }
        if !jobs.is_empty() || !lock(&state.flush_waiters).is_empty() {
            continue;
        }
        let wait = next_due
            .map(|t| state.clock.real_until(t))
            .unwrap_or(Duration::from_secs(3600))
            .min(Duration::from_secs(3600))
            .max(Duration::from_millis(1));
        tokio::select! {
            _ = shutdown.cancelled() => break,
            Ok(()) = clock_rx.changed() => {}
            _ = state.wake.notified() => {}
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

/// In-process handle on the UPS simulator's state.
#[derive(Clone)]
pub struct UpsHandle {
    pub(crate) state: Arc<UpsState>,
}

impl UpsHandle {
    /// Everything: shipments, references, subscriptions, tokens, webhook deliveries.
    pub fn snapshot(&self) -> UpsSnapshot {
        self.state.snapshot()
    }

    /// Shipments created, in order.
    pub fn shipments(&self) -> Vec<UpsShipmentView> {
        self.state.snapshot().shipments
    }

    /// Shipments per reference value.
    pub fn shipments_by_reference(&self) -> BTreeMap<String, ReferenceCount> {
        self.state.snapshot().shipments_by_reference
    }

    /// Current subscriptions.
    pub fn subscriptions(&self) -> Vec<Subscription> {
        lock(&self.state.data).subs.values().cloned().collect()
    }

    /// Tokens issued per UTC day.
    pub fn tokens_by_day(&self) -> BTreeMap<String, u32> {
        lock(&self.state.data).tokens_by_day.clone()
    }

    /// Tokens issued on the current (simulated) UTC day.
    pub fn tokens_issued_today(&self) -> u32 {
        let day = self.state.clock.now().format("%Y-%m-%d").to_string();
        lock(&self.state.data)
            .tokens_by_day
            .get(&day)
            .copied()
            .unwrap_or(0)
    }

    /// Webhook pushes so far.
    pub fn webhook_deliveries(&self) -> Vec<WebhookDelivery> {
        lock(&self.state.data).deliveries.clone()
    }

    /// Turns the "single object where the spec says array" quirk on or off.
    pub fn set_single_object(&self, on: bool) {
        lock(&self.state.data).single_object = on;
    }

    /// Configures (or removes) the Track Alert v2 webhook.
    pub fn set_webhook(&self, cfg: Option<WebhookConfig>) {
        lock(&self.state.data).webhook_v2 = cfg;
    }

    /// Waits until every event due now has been generated and pushed to its webhook.
    pub async fn flush_webhooks(&self) -> Result<(), SimError> {
        self.state.flush().await
    }

    /// Requests received, optionally only for one route key.
    pub fn requests(&self, route: Option<&str>) -> Vec<RequestRecord> {
        self.state.log.records(route)
    }
}
