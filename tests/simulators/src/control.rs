//! The control and inspection API (JSON), served on its own listener at `control_url`.

#![allow(
    clippy::result_large_err,
    reason = "handlers short-circuit with ready-made HTTP responses, built at most once per request"
)]

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::faults::{FaultSpec, Faults};
use crate::ifs::{IfsHandle, IfsState};
use crate::ups::{UpsHandle, UpsState, WebhookConfig};
use crate::util::iso;
use crate::{SimClock, SimError, SimInfo};

pub(crate) struct Shared {
    pub(crate) ifs: Arc<IfsState>,
    pub(crate) ups: Arc<UpsState>,
    pub(crate) faults: Arc<Faults>,
    pub(crate) clock: SimClock,
    pub(crate) info: SimInfo,
}

type S = State<Arc<Shared>>;

fn fail(status: StatusCode, msg: impl Into<String>) -> Response {
    (status, Json(json!({"error": msg.into()}))).into_response()
}

fn from_err(e: SimError) -> Response {
    match e {
        SimError::NotFound(m) => fail(StatusCode::NOT_FOUND, m),
        other => fail(StatusCode::BAD_REQUEST, other.to_string()),
    }
}

/// Parses a JSON body ourselves so that bad input gets a JSON 400, not axum's text rejection.
fn body<T: for<'de> Deserialize<'de>>(raw: &[u8]) -> Result<T, Response> {
    serde_json::from_slice(raw)
        .map_err(|e| fail(StatusCode::BAD_REQUEST, format!("invalid JSON body: {e}")))
}

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/health", get(|| async { Json(json!({"ok": true})) }))
        .route("/info", get(info))
        .route("/clock", get(clock))
        .route("/clock/advance", post(advance))
        .route("/clock/speed", put(speed))
        .route(
            "/faults",
            get(list_faults).post(add_fault).delete(clear_faults),
        )
        .route("/faults/{id}", delete(remove_fault))
        .route("/requests", delete(clear_requests))
        .route("/ifs/state", get(ifs_state))
        .route("/ifs/shipments", get(ifs_shipments))
        .route("/ifs/shipments/{id}", get(ifs_shipment).patch(ifs_edit))
        .route("/ifs/orders/{no}/charges", get(ifs_charges))
        .route("/ifs/requests", get(ifs_requests))
        .route("/ifs/sites", get(ifs_sites))
        .route("/ups/state", get(ups_state))
        .route("/ups/shipments", get(ups_shipments))
        .route("/ups/references", get(ups_refs))
        .route("/ups/subscriptions", get(ups_subs))
        .route("/ups/tokens", get(ups_tokens))
        .route("/ups/webhook-deliveries", get(ups_deliveries))
        .route("/ups/requests", get(ups_requests))
        .route("/ups/quirks", put(ups_quirks))
        .route(
            "/ups/webhook",
            put(ups_webhook_set).delete(ups_webhook_clear),
        )
        .route("/ups/webhooks/flush", post(ups_flush))
        .fallback(|| async { fail(StatusCode::NOT_FOUND, "no such control route") })
        .with_state(shared)
}

fn ifs(s: &Shared) -> IfsHandle {
    IfsHandle {
        state: s.ifs.clone(),
    }
}

fn ups(s: &Shared) -> UpsHandle {
    UpsHandle {
        state: s.ups.clone(),
    }
}

async fn info(State(s): S) -> Json<SimInfo> {
    Json(s.info.clone())
}

fn clock_json(c: &SimClock) -> Value {
    json!({"now": iso(c.now()), "speed": c.speed()})
}

async fn clock(State(s): S) -> Json<Value> {
    Json(clock_json(&s.clock))
}

#[derive(Deserialize)]
struct Advance {
    #[serde(default)]
    seconds: f64,
    #[serde(default)]
    minutes: f64,
    #[serde(default)]
    hours: f64,
    #[serde(default)]
    days: f64,
    /// Wait until due webhook events are pushed.
    #[serde(default)]
    wait: bool,
}

async fn advance(State(s): S, raw: axum::body::Bytes) -> Response {
    let a: Advance = match body(&raw) {
        Ok(a) => a,
        Err(r) => return r,
    };
    let secs = a.seconds + a.minutes * 60.0 + a.hours * 3600.0 + a.days * 86_400.0;
    if !(secs.is_finite() && (0.0..=10.0 * 365.0 * 86_400.0).contains(&secs)) {
        return fail(
            StatusCode::BAD_REQUEST,
            "advance must be between 0 and 10 years",
        );
    }
    s.clock.advance(Duration::from_secs_f64(secs));
    if a.wait
        && let Err(e) = s.ups.flush().await
    {
        return fail(StatusCode::INTERNAL_SERVER_ERROR, e.to_string());
    }
    Json(clock_json(&s.clock)).into_response()
}

#[derive(Deserialize)]
struct Speed {
    speed: f64,
}

async fn speed(State(s): S, raw: axum::body::Bytes) -> Response {
    let sp: Speed = match body(&raw) {
        Ok(v) => v,
        Err(r) => return r,
    };
    match s.clock.set_speed(sp.speed) {
        Ok(()) => Json(clock_json(&s.clock)).into_response(),
        Err(e) => from_err(e),
    }
}

async fn list_faults(State(s): S) -> Response {
    Json(s.faults.list()).into_response()
}

#[derive(Deserialize)]
#[serde(untagged)]
enum FaultInput {
    Cli { spec: String },
    Spec(FaultSpec),
    Many(Vec<FaultSpec>),
}

async fn add_fault(State(s): S, raw: axum::body::Bytes) -> Response {
    let input: FaultInput = match body(&raw) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let specs = match input {
        FaultInput::Cli { spec } => match FaultSpec::parse_cli(&spec) {
            Ok(f) => vec![f],
            Err(e) => return from_err(e),
        },
        FaultInput::Spec(f) => vec![f],
        FaultInput::Many(v) => v,
    };
    let mut ids = Vec::new();
    for f in specs {
        match s.faults.install(f) {
            Ok(id) => ids.push(id),
            Err(e) => return from_err(e),
        }
    }
    (StatusCode::CREATED, Json(json!({"ids": ids}))).into_response()
}

async fn clear_faults(State(s): S, Query(q): Query<HashMap<String, String>>) -> Response {
    let n = s.faults.clear(q.get("route").map(String::as_str));
    Json(json!({"removed": n})).into_response()
}

async fn remove_fault(State(s): S, Path(id): Path<String>) -> Response {
    match id.parse::<u64>() {
        Ok(id) if s.faults.remove(id) => Json(json!({"removed": 1})).into_response(),
        _ => fail(StatusCode::NOT_FOUND, format!("no fault with id {id}")),
    }
}

async fn clear_requests(State(s): S) -> Response {
    s.ifs.log.clear();
    s.ups.log.clear();
    Json(json!({"cleared": true})).into_response()
}

async fn ifs_state(State(s): S) -> Response {
    Json(ifs(&s).snapshot()).into_response()
}

async fn ifs_shipments(State(s): S) -> Response {
    Json(ifs(&s).snapshot().shipments).into_response()
}

fn parse_id(id: &str) -> Result<i64, Response> {
    id.parse()
        .map_err(|_| fail(StatusCode::BAD_REQUEST, "shipment id must be an integer"))
}

async fn ifs_shipment(State(s): S, Path(id): Path<String>) -> Response {
    let id = match parse_id(&id) {
        Ok(i) => i,
        Err(r) => return r,
    };
    match ifs(&s).shipment(id) {
        Some(e) => Json(e).into_response(),
        None => fail(StatusCode::NOT_FOUND, format!("no shipment {id}")),
    }
}

async fn ifs_edit(State(s): S, Path(id): Path<String>, raw: axum::body::Bytes) -> Response {
    let id = match parse_id(&id) {
        Ok(i) => i,
        Err(r) => return r,
    };
    let changes: serde_json::Map<String, Value> = match body(&raw) {
        Ok(v) => v,
        Err(r) => return r,
    };
    match ifs(&s).edit_shipment(id, &changes) {
        Ok(e) => Json(e).into_response(),
        Err(e) => from_err(e),
    }
}

async fn ifs_charges(State(s): S, Path(no): Path<String>) -> Response {
    Json(ifs(&s).charges(&no)).into_response()
}

async fn ifs_requests(State(s): S, Query(q): Query<HashMap<String, String>>) -> Response {
    Json(s.ifs.log.records(q.get("route").map(String::as_str))).into_response()
}

async fn ups_state(State(s): S) -> Response {
    Json(ups(&s).snapshot()).into_response()
}

async fn ups_shipments(State(s): S) -> Response {
    Json(ups(&s).shipments()).into_response()
}

async fn ups_refs(State(s): S) -> Response {
    Json(ups(&s).shipments_by_reference()).into_response()
}

async fn ups_subs(State(s): S) -> Response {
    Json(ups(&s).subscriptions()).into_response()
}

async fn ups_tokens(State(s): S) -> Response {
    let snap = ups(&s).snapshot();
    Json(json!({
        "total": snap.tokens_issued_total,
        "by_day": snap.tokens_by_day,
        "quota": snap.token_quota,
        "quota_rejections": snap.token_quota_rejections,
    }))
    .into_response()
}

async fn ups_deliveries(State(s): S) -> Response {
    Json(ups(&s).webhook_deliveries()).into_response()
}

async fn ups_requests(State(s): S, Query(q): Query<HashMap<String, String>>) -> Response {
    Json(s.ups.log.records(q.get("route").map(String::as_str))).into_response()
}

#[derive(Deserialize)]
struct Quirks {
    single_object: bool,
}

async fn ups_quirks(State(s): S, raw: axum::body::Bytes) -> Response {
    let q: Quirks = match body(&raw) {
        Ok(v) => v,
        Err(r) => return r,
    };
    ups(&s).set_single_object(q.single_object);
    Json(json!({"single_object": q.single_object})).into_response()
}

async fn ups_webhook_set(State(s): S, raw: axum::body::Bytes) -> Response {
    let cfg: WebhookConfig = match body(&raw) {
        Ok(v) => v,
        Err(r) => return r,
    };
    ups(&s).set_webhook(Some(cfg.clone()));
    Json(cfg).into_response()
}

async fn ups_webhook_clear(State(s): S) -> Response {
    ups(&s).set_webhook(None);
    Json(json!({"webhook": null})).into_response()
}

async fn ups_flush(State(s): S) -> Response {
    match s.ups.flush().await {
        Ok(()) => Json(json!({"flushed": true, "deliveries": ups(&s).webhook_deliveries().len()}))
            .into_response(),
        Err(e) => fail(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

/// The shipping sites (IFS `Contract`) with their addresses: a connector's shipper config.
async fn ifs_sites() -> Response {
    let sites: Vec<Value> = crate::seed::SITES
        .iter()
        .map(|s| {
            json!({
                "contract": s.contract, "company": s.company, "cost_center": s.cost_center,
                "name": s.name, "address_line": s.line1, "postal_code": s.zip, "city": s.city,
                "state": s.state, "country": s.country, "phone": s.phone,
                "weight_uom": s.weight_uom, "length_uom": s.length_uom, "currency": s.currency,
            })
        })
        .collect();
    Json(sites).into_response()
}
