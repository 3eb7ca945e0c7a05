//! Shipments per second through the whole outbound flow (host + shipment-sync + the IFS and UPS
//! connectors) against the simulators, beside a plain native Rust client making the same HTTP
//! calls to a fresh pair of simulators (same seed, same shipments) in the same run.
//!
//! Run with `cargo bench -p integration-tests --bench throughput`; `MLC_BENCH_SHIPMENTS` (200)
//! and `MLC_BENCH_CONCURRENCY` (16) change the size. Outbound only: discover, then per shipment
//! get → validate address (US/PR) → rate → ship → write back → freight charge. Tracking is not
//! part of either path.
//!
//! Both paths are checked against the simulators' state (one live UPS shipment, the tracking
//! number in IFS and one freight charge per shipment) and their requests are counted per route
//! from the simulators' logs, so a reader can see they did the same work. The flow path uses the
//! test harness's `SimCredentials`, which caches tokens but has no single flight: the first
//! concurrent calls may each fetch a UPS token (visible as `ups.token` in the table).
#![expect(clippy::expect_used, reason = "a benchmark aborts on failure")]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use host::clock::Clock;
use host::db::ItemState;
use host::manifest::WorldKind;
use host::scheduler::{FlowRunner, FlowSettings, RetryPolicy};
use integration_tests::bundled;
use integration_tests::sim::{IFS, SimHost, TENANT, UPS};
use serde_json::{Map, Value, json};
use simulators::{SimInfo, SimOptions, Simulators};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

const FLOW: &str = "shipment-sync";

fn env_usize(name: &str, default: usize) -> usize {
    match std::env::var(name) {
        Ok(v) => v
            .trim()
            .parse()
            .unwrap_or_else(|_| fail(format!("{name} = `{v}` is not a number"))),
        Err(_) => default,
    }
}

/// Aborts the benchmark with a message (a figure built on a failed run would be a lie).
fn fail(message: String) -> ! {
    eprintln!("throughput bench: {message}");
    std::process::exit(1)
}

fn options(n: usize) -> SimOptions {
    SimOptions {
        shipments: n,
        bad_addresses: false,
        ..SimOptions::default()
    }
}

/// What one path did.
struct Figures {
    elapsed: Duration,
    /// Of `elapsed`, the time until every ready shipment was known (tokens + poll).
    discover: Duration,
    by_route: BTreeMap<String, u64>,
    non_2xx: usize,
}

impl Figures {
    fn requests(&self) -> u64 {
        self.by_route.values().sum()
    }
}

/// Requests both simulators received, per route key (`ifs.*`, `ups.*`), and how many of them
/// were answered with something other than 2xx.
fn traffic(sims: &Simulators) -> (BTreeMap<String, u64>, usize) {
    let mut by_route = BTreeMap::new();
    let mut non_2xx = 0;
    for r in sims
        .ifs()
        .requests(None)
        .into_iter()
        .chain(sims.ups().requests(None))
    {
        *by_route.entry(r.route).or_insert(0) += 1;
        if !(200..300).contains(&r.status) {
            non_2xx += 1;
        }
    }
    (by_route, non_2xx)
}

/// Checks from the simulators' own state that every ready shipment got exactly one live UPS
/// shipment, its tracking number in IFS and exactly one freight charge.
fn verify(sims: &Simulators, ids: &[i64], path: &str) {
    let refs = sims.ups().shipments_by_reference();
    let ifs = sims.ifs();
    for id in ids {
        let r = refs
            .get(&id.to_string())
            .unwrap_or_else(|| fail(format!("{path}: no UPS shipment for IFS shipment {id}")));
        if r.created != 1 || r.active != 1 {
            fail(format!("{path}: IFS shipment {id} has UPS shipments {r:?}"));
        }
        let shipment = ifs
            .shipment(*id)
            .unwrap_or_else(|| fail(format!("{path}: IFS shipment {id} is gone")));
        let pro = shipment.get("ProNo").and_then(Value::as_str).unwrap_or("");
        if !pro.starts_with("1Z") {
            fail(format!(
                "{path}: IFS shipment {id} has no tracking number ({pro:?})"
            ));
        }
        let order = shipment
            .get("OrderNo")
            .and_then(Value::as_str)
            .unwrap_or("");
        let charges = ifs
            .charges(order)
            .into_iter()
            .filter(|c| c.get("ShipmentId").and_then(Value::as_i64) == Some(*id))
            .count();
        if charges != 1 {
            fail(format!(
                "{path}: IFS shipment {id} has {charges} freight charges"
            ));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The flow path

/// The flow path; also returns the UPS connector's `ship-from` and `sites` settings, so the
/// native path ships from the very same addresses.
async fn flow_path(n: usize, concurrency: usize) -> (Figures, Value, Value) {
    let h = SimHost::start(options(n)).await;
    h.host
        .load(FLOW, WorldKind::Flow, bundled::SHIPMENT_SYNC_PATH);
    h.host.bind_flow(TENANT, FLOW, IFS, UPS);
    let runner = FlowRunner::new(
        h.host.runtime.clone(),
        FlowSettings {
            tenant: TENANT.into(),
            flow: FLOW.into(),
            carrier: UPS.into(),
            concurrency,
            retry: RetryPolicy {
                base: Duration::from_secs(1),
                max: Duration::from_secs(20),
                max_attempts: 30,
            },
        },
    );
    let ids = h.sims.ifs().ready_shipment_ids();
    assert_eq!(ids.len(), n, "ready shipments in the simulator");

    let start = Instant::now();
    let discovered = runner.discover().await.expect("discover");
    assert_eq!(discovered, n, "shipments discovered");
    let discover = start.elapsed();
    // Without faults one pass completes everything; the loop only guards against a retry,
    // jumping the host clock over its backoff as the integration tests do.
    for _ in 0..100 {
        runner.process_due().await.expect("process_due");
        match runner.next_due().expect("next_due") {
            None => break,
            Some(due) => {
                let now = h.host.clock.now_ms();
                if due > now {
                    h.host
                        .clock
                        .advance(Duration::from_millis(u64::try_from(due - now).unwrap_or(0)));
                }
            }
        }
    }
    let elapsed = start.elapsed();

    let counts = h.host.store.item_counts(Some(TENANT)).expect("item counts");
    let completed = counts.get(&ItemState::Completed).copied().unwrap_or(0);
    if completed != n as u64 {
        fail(format!(
            "flow: {completed} of {n} items completed: {counts:?}"
        ));
    }
    verify(&h.sims, &ids, "flow");
    let (by_route, non_2xx) = traffic(&h.sims);
    let settings = h.ups_settings();
    let parse = |key: &str| -> Value {
        serde_json::from_str(settings.get(key).map_or("null", String::as_str))
            .expect("UPS connector settings are JSON")
    };
    let (ship_from, sites) = (parse("ship-from"), parse("sites"));
    (
        Figures {
            elapsed,
            discover,
            by_route,
            non_2xx,
        },
        ship_from,
        sites,
    )
}

// ---------------------------------------------------------------------------------------------
// The native path: what the connectors do, written as a plain reqwest client

type Res<T> = Result<T, String>;

/// Page size of the connector's poll (`poll.page-size`) and its `Prefer: odata.maxpagesize`.
const PAGE_SIZE: usize = 100;
/// Shipments per handling-unit request (`parcels.batch-size`).
const HU_BATCH: usize = 20;
/// The shipment-sync flow's default ship-via → UPS service map.
const SERVICE_MAP: &[(&str, &str)] = &[
    ("UPSGND", "03"),
    ("UPS2DA", "02"),
    ("UPSNDA", "01"),
    ("UPS3DS", "12"),
    ("UPSSTD", "11"),
    ("UPSEXP", "07"),
    ("UPSSVR", "65"),
];
const KG_PER_LB: f64 = 0.453_592_37;
const CM_PER_IN: f64 = 2.54;

fn service_name(code: &str) -> &'static str {
    match code {
        "01" => "UPS Next Day Air",
        "02" => "UPS 2nd Day Air",
        "03" => "UPS Ground",
        "07" => "UPS Worldwide Express",
        "11" => "UPS Standard",
        "12" => "UPS 3 Day Select",
        "65" => "UPS Worldwide Saver",
        _ => "",
    }
}

/// Percent-encodes a query value (everything but RFC 3986 unreserved characters).
fn encode(v: &str) -> String {
    let mut out = String::with_capacity(v.len() * 2);
    for b in v.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn query(options: &[(&str, String)]) -> String {
    let parts: Vec<String> = options
        .iter()
        .map(|(k, v)| format!("{k}={}", encode(v)))
        .collect();
    format!("?{}", parts.join("&"))
}

fn text(v: &Value, field: &str) -> Option<String> {
    match v.get(field)? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn number(v: &Value, field: &str) -> f64 {
    v.get(field).and_then(Value::as_f64).unwrap_or(0.0)
}

fn clip(s: &str, max: usize) -> String {
    s.trim().chars().take(max).collect()
}

/// A one-or-many UPS container as a list.
fn many(v: Option<&Value>) -> Vec<&Value> {
    match v {
        Some(Value::Array(a)) => a.iter().collect(),
        Some(Value::Null) | None => Vec::new(),
        Some(one) => vec![one],
    }
}

/// A ship-to or ship-from address.
#[derive(Clone, Debug)]
struct Address {
    name: String,
    attention: Option<String>,
    lines: Vec<String>,
    city: String,
    state: Option<String>,
    postal_code: String,
    country: String,
    phone: Option<String>,
}

impl Address {
    /// From the connectors' kebab-case JSON (`ship-from`).
    fn from_setting(v: &Value) -> Address {
        let s = |k: &str| text(v, k);
        Address {
            name: s("name").unwrap_or_default(),
            attention: s("attention"),
            lines: v
                .get("lines")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default(),
            city: s("city").unwrap_or_default(),
            state: s("state"),
            postal_code: s("postal-code").unwrap_or_default(),
            country: s("country").unwrap_or_default().to_ascii_uppercase(),
            phone: s("phone"),
        }
    }

    /// The receiver of an IFS `ShipmentSet` record.
    fn receiver(rec: &Value) -> Address {
        Address {
            name: text(rec, "ReceiverAddressName").unwrap_or_default(),
            attention: text(rec, "ReceiverContact"),
            lines: ["ReceiverAddress1", "ReceiverAddress2", "ReceiverAddress3"]
                .iter()
                .filter_map(|f| text(rec, f))
                .collect(),
            city: text(rec, "ReceiverCity").unwrap_or_default(),
            state: text(rec, "ReceiverState"),
            postal_code: text(rec, "ReceiverZipCode").unwrap_or_default(),
            country: text(rec, "ReceiverCountry")
                .unwrap_or_default()
                .to_ascii_uppercase(),
            phone: text(rec, "ReceiverPhone")
                .map(|p| {
                    p.chars()
                        .filter(|c| c.is_ascii_digit() || *c == '+')
                        .collect::<String>()
                })
                .filter(|p| !p.is_empty()),
        }
    }

    /// UPS `Address` of Rate and Ship.
    fn ups(&self) -> Value {
        let lines: Vec<String> = self
            .lines
            .iter()
            .map(|l| clip(l, 35))
            .filter(|l| !l.is_empty())
            .take(3)
            .collect();
        let mut m = Map::new();
        m.insert("AddressLine".into(), json!(lines));
        m.insert("City".into(), json!(clip(&self.city, 30)));
        if let Some(s) = &self.state {
            m.insert("StateProvinceCode".into(), json!(s));
        }
        if !self.postal_code.is_empty() {
            m.insert("PostalCode".into(), json!(self.postal_code));
        }
        m.insert("CountryCode".into(), json!(self.country));
        Value::Object(m)
    }

    /// A UPS party (`Shipper`, `ShipTo`, `ShipFrom`).
    fn party(&self) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("Name".into(), json!(clip(&self.name, 35)));
        if let Some(a) = &self.attention {
            m.insert("AttentionName".into(), json!(clip(a, 35)));
        }
        if let Some(p) = &self.phone {
            m.insert("Phone".into(), json!({ "Number": clip(p, 15) }));
        }
        m.insert("Address".into(), self.ups());
        m
    }

    /// The XAV request body.
    fn xav(&self) -> Value {
        let mut key = Map::new();
        if !self.name.is_empty() {
            key.insert("ConsigneeName".into(), json!(clip(&self.name, 35)));
        }
        if let Some(a) = &self.attention {
            key.insert("AttentionName".into(), json!(clip(a, 35)));
        }
        key.insert(
            "AddressLine".into(),
            json!(self.lines.iter().take(3).collect::<Vec<_>>()),
        );
        key.insert("PoliticalDivision2".into(), json!(self.city));
        if let Some(s) = &self.state {
            key.insert("PoliticalDivision1".into(), json!(s));
        }
        match self.postal_code.split_once('-') {
            Some((zip, ext)) if self.country == "US" => {
                key.insert("PostcodePrimaryLow".into(), json!(zip));
                key.insert("PostcodeExtendedLow".into(), json!(ext));
            }
            _ => {
                key.insert("PostcodePrimaryLow".into(), json!(self.postal_code));
            }
        }
        key.insert("CountryCode".into(), json!(self.country));
        json!({ "XAVRequest": { "AddressKeyFormat": Value::Object(key) } })
    }

    /// The first XAV candidate, keeping this address's contact details (as the connector does).
    fn with_candidate(&self, c: &Value) -> Address {
        let zip = text(c, "PostcodePrimaryLow");
        let ext = text(c, "PostcodeExtendedLow");
        let lines: Vec<String> = many(c.get("AddressLine"))
            .into_iter()
            .filter_map(|l| l.as_str().map(str::to_owned))
            .collect();
        Address {
            name: text(c, "ConsigneeName").unwrap_or_else(|| self.name.clone()),
            attention: text(c, "AttentionName").or_else(|| self.attention.clone()),
            lines: if lines.is_empty() {
                self.lines.clone()
            } else {
                lines
            },
            city: text(c, "PoliticalDivision2").unwrap_or_else(|| self.city.clone()),
            state: text(c, "PoliticalDivision1").or_else(|| self.state.clone()),
            postal_code: match (zip, ext) {
                (Some(z), Some(e)) => format!("{z}-{e}"),
                (Some(z), None) => z,
                (None, _) => self.postal_code.clone(),
            },
            country: text(c, "CountryCode").unwrap_or_else(|| self.country.clone()),
            phone: self.phone.clone(),
        }
    }
}

/// A UPS weight: one decimal rounded up, at least 0.1, no trailing `.0`.
fn format_weight(value: f64) -> String {
    let tenths = ((value * 10.0) - 1e-6).ceil().max(1.0);
    let s = format!("{:.1}", tenths / 10.0);
    s.strip_suffix(".0").map(str::to_owned).unwrap_or(s)
}

fn format_dimension(value: f64) -> String {
    format!("{}", (value + 1e-9).round().max(1.0))
}

/// One UPS `Package` from an IFS handling unit, in the shipper's units.
fn package(hu: &Value, imperial: bool, packaging_key: &str) -> Value {
    let w = number(hu, "ManualGrossWeight");
    let kg = match text(hu, "UomForWeight").as_deref() {
        Some("LBS") => w * KG_PER_LB,
        _ => w,
    };
    let mut m = Map::new();
    if let Some(d) = text(hu, "Description") {
        m.insert("Description".into(), json!(clip(&d, 35)));
    }
    m.insert(packaging_key.into(), json!({ "Code": "02" }));
    let sides = [
        number(hu, "Depth"),
        number(hu, "Width"),
        number(hu, "Height"),
    ];
    if sides.iter().all(|s| *s > 0.0) {
        let cm_factor = match text(hu, "UomForLength").as_deref() {
            Some("IN") => CM_PER_IN,
            _ => 1.0,
        };
        let out = |s: f64| {
            let cm = s * cm_factor;
            format_dimension(if imperial { cm / CM_PER_IN } else { cm })
        };
        m.insert(
            "Dimensions".into(),
            json!({
                "UnitOfMeasurement": { "Code": if imperial { "IN" } else { "CM" } },
                "Length": out(sides[0]),
                "Width": out(sides[1]),
                "Height": out(sides[2]),
            }),
        );
    }
    let (weight, code) = if imperial {
        (kg / KG_PER_LB, "LBS")
    } else {
        (kg, "KGS")
    };
    m.insert(
        "PackageWeight".into(),
        json!({ "UnitOfMeasurement": { "Code": code }, "Weight": format_weight(weight) }),
    );
    Value::Object(m)
}

/// A plain client of both simulators.
struct Native {
    http: reqwest::Client,
    info: SimInfo,
    ifs_auth: String,
    ups_auth: String,
    ship_from: Address,
    /// Site → ship-from (the Venlo site ships from the Netherlands).
    sites: BTreeMap<String, Address>,
    trans: AtomicU64,
}

async fn token(request: reqwest::RequestBuilder, what: &str) -> Res<String> {
    let resp = request
        .header("content-type", "application/x-www-form-urlencoded")
        .send()
        .await
        .map_err(|e| format!("{what} token: {e}"))?;
    let status = resp.status();
    let body: Value = resp
        .json()
        .await
        .map_err(|e| format!("{what} token: {e}"))?;
    match body.get("access_token").and_then(Value::as_str) {
        Some(t) if status.is_success() => Ok(format!("Bearer {t}")),
        _ => Err(format!("{what} token: {status} {body}")),
    }
}

async fn json_of(resp: reqwest::Response, what: &str) -> Res<(Value, Option<String>)> {
    let status = resp.status();
    let etag = resp
        .headers()
        .get("etag")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let bytes = resp.bytes().await.map_err(|e| format!("{what}: {e}"))?;
    if !status.is_success() {
        return Err(format!(
            "{what}: {status} {}",
            String::from_utf8_lossy(&bytes)
        ));
    }
    if bytes.is_empty() {
        return Ok((Value::Null, etag));
    }
    let v: Value = serde_json::from_slice(&bytes).map_err(|e| format!("{what}: {e}"))?;
    Ok((v, etag))
}

impl Native {
    async fn connect(info: SimInfo, ship_from: &Value, sites: &Value) -> Res<Native> {
        let http = reqwest::Client::new();
        // Fetched once each: the host caches both tokens for their lifetime.
        let ifs_auth = token(
            http.post(&info.ifs.token_url).body(format!(
                "grant_type=client_credentials&client_id={}&client_secret={}",
                encode(&info.ifs.client_id),
                encode(&info.ifs.client_secret)
            )),
            "IFS",
        )
        .await?;
        let ups_auth = token(
            http.post(&info.ups.token_url)
                .basic_auth(&info.ups.client_id, Some(&info.ups.client_secret))
                .body("grant_type=client_credentials"),
            "UPS",
        )
        .await?;
        let sites = sites
            .as_object()
            .map(|m| {
                m.iter()
                    .filter_map(|(site, v)| {
                        Some((site.clone(), Address::from_setting(v.get("ship-from")?)))
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok(Native {
            http,
            ship_from: Address::from_setting(ship_from),
            sites,
            info,
            ifs_auth,
            ups_auth,
            trans: AtomicU64::new(1),
        })
    }

    fn svc(&self, projection: &str) -> String {
        format!("{}/{projection}.svc", self.info.ifs.base_url)
    }

    fn shipment_url(&self, id: i64) -> String {
        format!(
            "{}/ShipmentSet(ShipmentId={id})",
            self.svc("ShipmentHandling")
        )
    }

    /// One IFS entity and its ETag.
    async fn ifs_entity(&self, url: &str) -> Res<(Value, String)> {
        let resp = self
            .http
            .get(url)
            .header("authorization", &self.ifs_auth)
            .header("accept", "application/json")
            .send()
            .await
            .map_err(|e| format!("GET {url}: {e}"))?;
        let (v, header) = json_of(resp, url).await?;
        let etag = text(&v, "@odata.etag")
            .or(header)
            .ok_or_else(|| format!("GET {url}: no ETag"))?;
        Ok((v, etag))
    }

    /// One IFS collection page.
    async fn ifs_page(&self, url: &str) -> Res<Value> {
        let resp = self
            .http
            .get(url)
            .header("authorization", &self.ifs_auth)
            .header("accept", "application/json")
            .header("prefer", format!("odata.maxpagesize={PAGE_SIZE}"))
            .send()
            .await
            .map_err(|e| format!("GET {url}: {e}"))?;
        Ok(json_of(resp, url).await?.0)
    }

    /// Every page of an IFS collection, following `@odata.nextLink`.
    async fn ifs_all(&self, url: &str) -> Res<Vec<Value>> {
        let mut out = Vec::new();
        let mut next = Some(url.to_owned());
        while let Some(u) = next.take() {
            let page = self.ifs_page(&u).await?;
            if let Some(rows) = page.get("value").and_then(Value::as_array) {
                out.extend(rows.iter().cloned());
            }
            next = page
                .get("@odata.nextLink")
                .and_then(Value::as_str)
                .map(|l| self.absolute(l));
        }
        Ok(out)
    }

    fn absolute(&self, link: &str) -> String {
        if link.starts_with("http://") || link.starts_with("https://") {
            link.to_owned()
        } else {
            format!("{}/{}", self.svc("ShipmentHandling"), link)
        }
    }

    /// Handling units of some shipments (batched like the connector).
    async fn handling_units(&self, ids: &[i64]) -> Res<Vec<Value>> {
        let mut out = Vec::new();
        for chunk in ids.chunks(HU_BATCH) {
            let filter = chunk
                .iter()
                .map(|id| format!("ShipmentId eq {id}"))
                .collect::<Vec<_>>()
                .join(" or ");
            let url = format!(
                "{}/HandlingUnitSet{}",
                self.svc("ShipmentHandling"),
                query(&[
                    ("$filter", filter),
                    ("$orderby", "ShipmentId,HandlingUnitId".into()),
                ])
            );
            out.extend(self.ifs_all(&url).await?);
        }
        Ok(out)
    }

    /// The connector's first poll: keyset pages of ready shipments, each followed by the
    /// handling units of its shipments. Returns the shipment ids found.
    async fn poll(&self) -> Res<Vec<i64>> {
        let state = "Objstate eq IfsApp.ShipmentHandling.ShipmentState'Completed'".to_owned();
        let mut after: Option<(String, i64)> = None;
        let mut ids = Vec::new();
        loop {
            let filter = match &after {
                None => state.clone(),
                Some((ts, key)) => format!(
                    "({state}) and (LastActivityDate gt {ts} or (LastActivityDate eq {ts} and ShipmentId gt {key}))"
                ),
            };
            let url = format!(
                "{}/ShipmentSet{}",
                self.svc("ShipmentHandling"),
                query(&[
                    ("$filter", filter),
                    ("$orderby", "LastActivityDate asc,ShipmentId asc".into()),
                    ("$top", PAGE_SIZE.to_string()),
                ])
            );
            let page = self.ifs_page(&url).await?;
            let rows = page
                .get("value")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let page_ids: Vec<i64> = rows
                .iter()
                .filter_map(|r| r.get("ShipmentId").and_then(Value::as_i64))
                .collect();
            if !page_ids.is_empty() {
                self.handling_units(&page_ids).await?;
            }
            ids.extend(&page_ids);
            let more = page.get("@odata.nextLink").is_some() || rows.len() >= PAGE_SIZE;
            match rows.last() {
                Some(last) if more => {
                    after = Some((
                        text(last, "LastActivityDate").ok_or("a row without LastActivityDate")?,
                        last.get("ShipmentId")
                            .and_then(Value::as_i64)
                            .ok_or("a row without ShipmentId")?,
                    ));
                }
                _ => return Ok(ids),
            }
        }
    }

    async fn ups_post(&self, path: &str, body: &Value) -> Res<Value> {
        let url = format!("{}{path}", self.info.ups.base_url);
        let trans = self.trans.fetch_add(1, Ordering::Relaxed);
        let resp = self
            .http
            .post(&url)
            .header("authorization", &self.ups_auth)
            .header("transId", format!("{trans:032x}"))
            .header("transactionSrc", "mlc-it")
            .header("accept", "application/json")
            .json(body)
            .send()
            .await
            .map_err(|e| format!("POST {path}: {e}"))?;
        Ok(json_of(resp, path).await?.0)
    }

    /// One shipment end to end, as the flow and the two connectors do it.
    async fn process(&self, id: i64) -> Res<()> {
        // get-shipment: the header, then its handling units.
        let (rec, _etag) = self.ifs_entity(&self.shipment_url(id)).await?;
        let hus = self.handling_units(&[id]).await?;
        let site = text(&rec, "Contract").unwrap_or_default();
        let order = text(&rec, "OrderNo").ok_or("no OrderNo")?;
        let input = Address::receiver(&rec);

        // validate-address: XAV for US/PR only; elsewhere the address passes unchanged.
        let ship_to = if matches!(input.country.as_str(), "US" | "PR") {
            let v = self
                .ups_post(
                    "/addressvalidation/v2/3?maximumcandidatelistsize=15",
                    &input.xav(),
                )
                .await?;
            let r = &v["XAVResponse"];
            if r.get("ValidAddressIndicator").is_none() {
                return Err(format!("shipment {id}: address not valid: {r}"));
            }
            match many(r.get("Candidate")).first() {
                Some(c) => input.with_candidate(&c["AddressKeyFormat"]),
                None => input.clone(),
            }
        } else {
            input.clone()
        };
        let ship_via = text(&rec, "ShipViaCode")
            .unwrap_or_default()
            .to_ascii_uppercase();
        let service = SERVICE_MAP
            .iter()
            .find(|(k, _)| *k == ship_via)
            .map(|(_, v)| *v)
            .ok_or_else(|| format!("shipment {id}: unmapped ship via {ship_via}"))?;

        let from = self.sites.get(&site).unwrap_or(&self.ship_from);
        let imperial = matches!(from.country.as_str(), "US" | "PR");
        let account = &self.info.ups.account_number;
        let mut shipper = from.party();
        shipper.insert("ShipperNumber".into(), json!(account));
        let payment = json!({ "ShipmentCharge": [{ "Type": "01", "BillShipper": { "AccountNumber": account } }] });
        let service_v = json!({ "Code": service, "Description": service_name(service) });

        // rate-shipment.
        let rate = json!({
            "RateRequest": {
                "Request": {
                    "RequestOption": "Rate",
                    "TransactionReference": { "CustomerContext": "rate" },
                },
                "Shipment": {
                    "Shipper": shipper,
                    "ShipTo": ship_to.party(),
                    "ShipFrom": from.party(),
                    "PaymentDetails": payment,
                    "Service": service_v,
                    "NumOfPieces": hus.len().to_string(),
                    "Package": hus.iter().map(|h| package(h, imperial, "PackagingType")).collect::<Vec<_>>(),
                    "ShipmentRatingOptions": { "NegotiatedRatesIndicator": "" },
                },
            }
        });
        self.ups_post("/rating/v2409/Rate", &rate).await?;

        // create-shipment: references on each package for US→US, else on the shipment.
        let refs =
            json!([{ "Code": "TN", "Value": id.to_string() }, { "Code": "PO", "Value": order }]);
        let package_refs = from.country == "US" && ship_to.country == "US";
        let packages: Vec<Value> = hus
            .iter()
            .map(|h| {
                let mut p = package(h, imperial, "Packaging");
                if package_refs && let Some(m) = p.as_object_mut() {
                    m.insert("ReferenceNumber".into(), refs.clone());
                }
                p
            })
            .collect();
        let mut shipment = Map::new();
        shipment.insert("Description".into(), json!("Goods"));
        shipment.insert("Shipper".into(), Value::Object(shipper));
        shipment.insert("ShipTo".into(), Value::Object(ship_to.party()));
        shipment.insert("ShipFrom".into(), Value::Object(from.party()));
        shipment.insert("PaymentInformation".into(), payment);
        shipment.insert("Service".into(), service_v);
        if !package_refs {
            shipment.insert("ReferenceNumber".into(), refs);
        }
        shipment.insert("Package".into(), json!(packages));
        shipment.insert(
            "ShipmentRatingOptions".into(),
            json!({ "NegotiatedRatesIndicator": "" }),
        );
        let ship = json!({
            "ShipmentRequest": {
                "Request": {
                    "RequestOption": "nonvalidate",
                    "TransactionReference": { "CustomerContext": format!("ship:{id}") },
                },
                "Shipment": Value::Object(shipment),
                "LabelSpecification": {
                    "LabelImageFormat": { "Code": "GIF" },
                    "HTTPUserAgent": "Mozilla/4.5",
                    "LabelStockSize": { "Height": "6", "Width": "4" },
                },
            }
        });
        let shipped = self.ups_post("/shipments/v2409/ship", &ship).await?;
        let results = &shipped["ShipmentResponse"]["ShipmentResults"];
        let tracking: Vec<String> = many(results.get("PackageResults"))
            .into_iter()
            .filter_map(|p| text(p, "TrackingNumber"))
            .collect();
        let carrier_id = text(results, "ShipmentIdentificationNumber")
            .or_else(|| tracking.first().cloned())
            .ok_or_else(|| format!("shipment {id}: no UPS shipment id"))?;
        let charge = results
            .get("NegotiatedRateCharges")
            .and_then(|n| n.get("TotalCharge"))
            .or_else(|| {
                results
                    .get("ShipmentCharges")
                    .and_then(|c| c.get("TotalCharges"))
            })
            .ok_or_else(|| format!("shipment {id}: no charges"))?;
        let amount = text(charge, "MonetaryValue").ok_or("no MonetaryValue")?;
        let currency = text(charge, "CurrencyCode").ok_or("no CurrencyCode")?;

        // record-carrier-shipment: read for the ETag, PATCH with If-Match.
        let url = self.shipment_url(id);
        let (_, etag) = self.ifs_entity(&url).await?;
        let patch = json!({
            "ProNo": tracking.first().unwrap_or(&carrier_id),
            "Cf$_CarrierShipmentId": carrier_id,
        });
        let resp = self
            .http
            .patch(&url)
            .header("authorization", &self.ifs_auth)
            .header("accept", "application/json")
            .header("if-match", etag)
            .json(&patch)
            .send()
            .await
            .map_err(|e| format!("PATCH {url}: {e}"))?;
        json_of(resp, &url).await?;

        // record-freight-cost: the order (currency check), a charge with this reference?, POST.
        let order_url = format!(
            "{}/CustomerOrderSet(OrderNo='{}')",
            self.svc("CustomerOrderHandling"),
            encode(&order)
        );
        let (order_rec, _) = self.ifs_entity(&order_url).await?;
        if let Some(c) = text(&order_rec, "CurrencyCode")
            && !c.eq_ignore_ascii_case(&currency)
        {
            return Err(format!(
                "shipment {id}: freight in {currency}, order in {c}"
            ));
        }
        let charges_url = format!("{order_url}/CustomerOrderChargeArray");
        let existing = self
            .ifs_all(&format!(
                "{charges_url}{}",
                query(&[("$filter", format!("Cf$_ExternalRef eq '{carrier_id}'"))])
            ))
            .await?;
        if existing.is_empty() {
            let mut body = Map::new();
            body.insert("ChargeType".into(), json!("FREIGHT"));
            body.insert(
                "ChargeAmount".into(),
                json!(
                    amount
                        .parse::<f64>()
                        .map_err(|e| format!("{amount}: {e}"))?
                ),
            );
            body.insert("ChargedQty".into(), json!(1));
            body.insert("SalesUnitMeas".into(), json!("EA"));
            body.insert("Cf$_ExternalRef".into(), json!(carrier_id));
            body.insert("ShipmentId".into(), json!(id));
            if let Some(cc) = text(&rec, "CodeB") {
                body.insert("CodeB".into(), json!(cc));
            }
            let resp = self
                .http
                .post(&charges_url)
                .header("authorization", &self.ifs_auth)
                .header("accept", "application/json")
                .json(&Value::Object(body))
                .send()
                .await
                .map_err(|e| format!("POST {charges_url}: {e}"))?;
            json_of(resp, &charges_url).await?;
        }
        Ok(())
    }
}

async fn native_path(n: usize, concurrency: usize, ship_from: &Value, sites: &Value) -> Figures {
    let sims = Simulators::start(options(n))
        .await
        .expect("starting the simulators");
    let ids = sims.ifs().ready_shipment_ids();
    assert_eq!(ids.len(), n, "ready shipments in the simulator");

    let start = Instant::now();
    let native = Arc::new(
        Native::connect(sims.info(), ship_from, sites)
            .await
            .unwrap_or_else(|e| fail(e)),
    );
    let found = native.poll().await.unwrap_or_else(|e| fail(e));
    if found.iter().collect::<BTreeSet<_>>() != ids.iter().collect::<BTreeSet<_>>() {
        fail(format!(
            "native poll found {} shipments, {} are ready",
            found.len(),
            ids.len()
        ));
    }
    let discover = start.elapsed();
    let permits = Arc::new(Semaphore::new(concurrency));
    let mut tasks = JoinSet::new();
    for id in found {
        let (native, permits) = (native.clone(), permits.clone());
        tasks.spawn(async move {
            let _permit = permits.acquire_owned().await.map_err(|e| e.to_string())?;
            native.process(id).await
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.expect("native task").unwrap_or_else(|e| fail(e));
    }
    let elapsed = start.elapsed();

    verify(&sims, &ids, "native");
    let (by_route, non_2xx) = traffic(&sims);
    Figures {
        elapsed,
        discover,
        by_route,
        non_2xx,
    }
}

#[tokio::main]
async fn main() {
    let n = env_usize("MLC_BENCH_SHIPMENTS", 200);
    let concurrency = env_usize("MLC_BENCH_CONCURRENCY", 16).max(1);
    println!(
        "{n} shipments, concurrency {concurrency}, simulators in-process (outbound only: \
         discover, get, validate address (US/PR), rate, ship, write back, freight; no tracking)"
    );

    let (flow, ship_from, sites) = flow_path(n, concurrency).await;
    let native = native_path(n, concurrency, &ship_from, &sites).await;

    let per_s = |f: &Figures| n as f64 / f.elapsed.as_secs_f64();
    let per_shipment = |f: &Figures| f.requests() as f64 / n as f64;
    println!();
    println!("requests by route           flow   native");
    let routes: BTreeSet<&String> = flow.by_route.keys().chain(native.by_route.keys()).collect();
    for route in routes {
        println!(
            "  {route:<24} {:>6} {:>8}",
            flow.by_route.get(route).copied().unwrap_or(0),
            native.by_route.get(route).copied().unwrap_or(0)
        );
    }
    println!(
        "  {:<24} {:>6} {:>8}",
        "total",
        flow.requests(),
        native.requests()
    );
    println!(
        "  {:<24} {:>6} {:>8}",
        "answered non-2xx", flow.non_2xx, native.non_2xx
    );
    println!();
    for (name, f) in [("flow  ", &flow), ("native", &native)] {
        println!(
            "{name}: {:>8.1} shipments/s  ({:.3} s, of which discover {:.3} s; {:.2} requests per shipment)",
            per_s(f),
            f.elapsed.as_secs_f64(),
            f.discover.as_secs_f64(),
            per_shipment(f)
        );
    }
    println!(
        "ratio flow / native throughput: {:.2}",
        per_s(&flow) / per_s(&native)
    );
}
