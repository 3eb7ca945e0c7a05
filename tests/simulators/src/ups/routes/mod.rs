//! HTTP routes of the UPS simulator, one module per UPS API; this one holds the router, the
//! route keys and what every API shares (errors, bearer and transaction headers, body access).
//! Bodies follow UPS's OpenAPI specs: PascalCase for the classic APIs, lowerCamelCase for
//! Tracking and Track Alert, numbers as strings.

#![allow(
    clippy::result_large_err,
    reason = "handlers short-circuit with ready-made HTTP responses, built at most once per request"
)]

use std::collections::VecDeque;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use rand::Rng;
use serde_json::{Map, Value, json};

use super::model::{self, Xav};
use super::{Shipment, Subscription, UpsData, UpsPackage, UpsParty, UpsState};
use crate::util::{lock, money};

mod input;
mod oauth;
mod quantum_view;
mod rating;
mod shipping;
mod track_alert;
mod tracking;
mod xav;

use input::*;
use oauth::*;
use quantum_view::*;
use rating::*;
use shipping::*;
use track_alert::*;
use tracking::*;
use xav::*;

type Res = Result<Response, Response>;

pub(crate) fn router(state: Arc<UpsState>) -> Router {
    Router::new()
        .route("/security/v1/oauth/token", post(token))
        .route("/api/addressvalidation/{version}/{option}", post(xav))
        .route("/api/rating/{version}/{option}", post(rate))
        .route("/api/shipments/{version}/ship", post(ship))
        .route("/api/shipments/{version}/void/cancel/{id}", delete(void))
        .route("/api/labels/{version}/recovery", post(label_recovery))
        .route("/api/track/v1/details/{n}", get(track))
        .route("/api/track/v1/reference/details/{r}", get(track_reference))
        .route("/api/track/v1/shipment/details/{n}", get(track_shipment))
        .route(
            "/api/track/{version}/subscription/{kind}/package",
            post(subscribe),
        )
        .route("/api/quantumview/{version}/events", post(quantum_view))
        .fallback(|| async {
            err(
                StatusCode::NOT_FOUND,
                "404",
                "The requested resource was not found.",
            )
        })
        .with_state(state)
}

/// Route keys for fault injection and the request log.
pub(crate) fn classify(_m: &Method, path: &str) -> String {
    let key = if path == "/security/v1/oauth/token" {
        "ups.token"
    } else if path.starts_with("/api/addressvalidation/") {
        "ups.xav"
    } else if path.starts_with("/api/rating/") {
        "ups.rate"
    } else if path.contains("/void/cancel/") {
        "ups.void"
    } else if path.starts_with("/api/shipments/") && path.ends_with("/ship") {
        "ups.ship"
    } else if path.starts_with("/api/labels/") && path.ends_with("/recovery") {
        "ups.label_recovery"
    } else if path.starts_with("/api/track/v1/reference/") {
        "ups.track_reference"
    } else if path.starts_with("/api/track/v1/shipment/") {
        "ups.track_shipment"
    } else if path.starts_with("/api/track/v1/details/") {
        "ups.track"
    } else if path.contains("/subscription/") {
        "ups.subscription"
    } else if path.starts_with("/api/quantumview/") {
        "ups.quantumview"
    } else {
        "ups.other"
    };
    key.to_string()
}

/// UPS's common error body.
pub(crate) fn err(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        axum::Json(json!({"response": {"errors": [{"code": code, "message": message}]}})),
    )
        .into_response()
}

fn bad(code: &str, message: &str) -> Response {
    err(StatusCode::BAD_REQUEST, code, message)
}

fn missing(path: &str) -> Response {
    bad(
        "10002",
        &format!("Missing or invalid required element: {path}"),
    )
}

/// Replaces single-element arrays by the element, as UPS sometimes does.
fn collapse(v: &mut Value) {
    const KEYS: &[&str] = &[
        "RatedShipment",
        "RatedPackage",
        "PackageResults",
        "Candidate",
        "AddressLine",
        "Alert",
        "SubscriptionEvents",
        "SubscriptionFile",
        "PackageLevelResults",
        "RatedShipmentAlert",
    ];
    match v {
        Value::Object(m) => {
            for (k, val) in m.iter_mut() {
                if KEYS.contains(&k.as_str())
                    && let Value::Array(a) = val
                    && a.len() == 1
                {
                    let one = a.remove(0);
                    *val = one;
                }
                collapse(val);
            }
        }
        Value::Array(a) => a.iter_mut().for_each(collapse),
        _ => {}
    }
}

fn ok_json(st: &UpsState, mut v: Value) -> Response {
    if lock(&st.data).single_object {
        collapse(&mut v);
    }
    (StatusCode::OK, axum::Json(v)).into_response()
}

fn check_bearer(st: &UpsState, headers: &HeaderMap) -> Result<(), Response> {
    let unauthorized = |code: &str, msg: &str| err(StatusCode::UNAUTHORIZED, code, msg);
    let Some(v) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return Err(unauthorized(
            "UJ0001",
            "Invalid token or token is not present.",
        ));
    };
    let Some(tok) = v.strip_prefix("Bearer ") else {
        return Err(unauthorized(
            "250002",
            "Invalid Authentication Information.",
        ));
    };
    let now = st.clock.now();
    match lock(&st.data).tokens.get(tok.trim()) {
        Some(exp) if *exp > now => Ok(()),
        Some(_) => Err(unauthorized(
            "250003",
            "Invalid Access License or Bearer Token expired.",
        )),
        None => Err(unauthorized(
            "250002",
            "Invalid Authentication Information.",
        )),
    }
}

fn require_trans_headers(headers: &HeaderMap) -> Result<(), Response> {
    if headers.get("transId").is_none_or(|v| v.is_empty()) {
        return Err(bad(
            "VSS002",
            "Missing transId header. The request has been rejected.",
        ));
    }
    if headers.get("transactionSrc").is_none_or(|v| v.is_empty()) {
        return Err(bad(
            "VSS004",
            "Missing transactionSrc header. The request has been rejected.",
        ));
    }
    Ok(())
}

fn parse_body(body: &[u8]) -> Result<Value, Response> {
    match serde_json::from_slice::<Value>(body) {
        Ok(v @ Value::Object(_)) => Ok(v),
        _ => Err(bad("10001", "The request body is not valid JSON.")),
    }
}

fn at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(v, |cur, k| cur.get(*k))
}

fn req_obj<'a>(v: &'a Value, path: &[&str]) -> Result<&'a Value, Response> {
    match at(v, path) {
        Some(o @ Value::Object(_)) => Ok(o),
        _ => Err(missing(&path.join("."))),
    }
}

fn req_str(v: &Value, path: &[&str]) -> Result<String, Response> {
    match at(v, path) {
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.trim().to_string()),
        _ => Err(missing(&path.join("."))),
    }
}

fn opt_str(v: &Value, path: &[&str]) -> Option<String> {
    at(v, path)
        .and_then(Value::as_str)
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

/// One-or-many: UPS accepts a single object where an array is documented.
fn many(v: Option<&Value>) -> Vec<&Value> {
    match v {
        Some(Value::Array(a)) => a.iter().collect(),
        Some(Value::Null) | None => Vec::new(),
        Some(other) => vec![other],
    }
}

fn address_lines(v: Option<&Value>) -> Result<Vec<String>, ()> {
    let lines: Vec<String> = match v {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => {
            let mut out = Vec::new();
            for x in a {
                out.push(x.as_str().ok_or(())?.to_string());
            }
            out
        }
        _ => return Err(()),
    };
    if lines.is_empty() || lines.len() > 3 || lines.iter().all(|l| l.trim().is_empty()) {
        return Err(());
    }
    Ok(lines)
}

fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let rest = v.strip_prefix("Basic ")?;
    let text = String::from_utf8(B64.decode(rest.trim()).ok()?).ok()?;
    let (id, secret) = text.split_once(':')?;
    Some((id.to_string(), secret.to_string()))
}
