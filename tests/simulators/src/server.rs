//! HTTP plumbing shared by the IFS, UPS and control servers: the accept loop (which can drop a
//! connection without answering), the fault middleware and the request log.

use std::collections::{BTreeMap, VecDeque};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

use crate::SimClock;
use crate::faults::{FaultKind, FaultSpec, Faults};
use crate::util::lock;

/// Largest request body the simulators accept (bigger ones get 413).
pub(crate) const MAX_BODY: usize = 8 * 1024 * 1024;
/// How many request records each server keeps (oldest dropped first; counts are kept forever).
const LOG_CAP: usize = 20_000;

/// Marker put on a response to make the accept loop close the connection instead.
#[derive(Clone, Copy)]
pub(crate) struct DropConnection;

/// Marker put on a request when a `concurrent-edit` fault fired for it.
#[derive(Clone, Copy)]
pub(crate) struct ConcurrentEditFault;

/// One request as received by a simulator.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct RequestRecord {
    /// Sequence number per server, from 1.
    pub seq: u64,
    /// Simulated time of arrival.
    pub at: DateTime<Utc>,
    /// Route key (see README.md), `unknown` when nothing matched.
    pub route: String,
    /// HTTP method.
    pub method: String,
    /// Path without the query.
    pub path: String,
    /// Raw query string, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    /// Headers of interest (lower-case names). `authorization` is reduced to its scheme.
    pub headers: BTreeMap<String, String>,
    /// Body: JSON when it parses, otherwise the text (secrets in token forms are masked).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
    /// Status sent back (0 when the connection was dropped).
    pub status: u16,
    /// The fault that fired for this request, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault: Option<String>,
}

/// Request log of one server.
#[derive(Default)]
pub(crate) struct RequestLog {
    inner: Mutex<LogInner>,
}

#[derive(Default)]
struct LogInner {
    seq: u64,
    records: VecDeque<RequestRecord>,
    by_route: BTreeMap<String, u64>,
}

impl RequestLog {
    fn push(&self, mut rec: RequestRecord) {
        let mut l = lock(&self.inner);
        l.seq += 1;
        rec.seq = l.seq;
        *l.by_route.entry(rec.route.clone()).or_default() += 1;
        if l.records.len() >= LOG_CAP {
            l.records.pop_front();
        }
        l.records.push_back(rec);
    }

    pub(crate) fn records(&self, route: Option<&str>) -> Vec<RequestRecord> {
        let l = lock(&self.inner);
        l.records
            .iter()
            .filter(|r| route.is_none_or(|rt| r.route == rt))
            .cloned()
            .collect()
    }

    pub(crate) fn counts(&self) -> BTreeMap<String, u64> {
        lock(&self.inner).by_route.clone()
    }

    pub(crate) fn clear(&self) {
        let mut l = lock(&self.inner);
        l.records.clear();
        l.by_route.clear();
    }
}

/// Which service a middleware instance guards; decides the error body shape.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flavor {
    Ifs,
    Ups,
}

/// Everything the fault/log middleware needs.
pub(crate) struct MwCtx {
    pub(crate) flavor: Flavor,
    pub(crate) faults: Arc<Faults>,
    pub(crate) log: Arc<RequestLog>,
    pub(crate) clock: SimClock,
    pub(crate) classify: fn(&Method, &str) -> String,
}

const LOGGED_HEADERS: &[&str] = &[
    "accept",
    "content-type",
    "if-match",
    "prefer",
    "transid",
    "transactionsrc",
    "x-merchant-id",
    "user-agent",
    "shippernumber",
];

fn interesting_headers(h: &HeaderMap) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for name in LOGGED_HEADERS {
        if let Some(v) = h.get(*name) {
            out.insert(
                (*name).to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            );
        }
    }
    if let Some(v) = h.get(header::AUTHORIZATION) {
        let text = String::from_utf8_lossy(v.as_bytes());
        let scheme = text.split_whitespace().next().unwrap_or("").to_string();
        out.insert("authorization".into(), scheme);
    }
    out
}

fn body_for_log(bytes: &[u8]) -> Option<Value> {
    if bytes.is_empty() {
        return None;
    }
    if let Ok(v) = serde_json::from_slice::<Value>(bytes) {
        return Some(v);
    }
    let text = String::from_utf8_lossy(bytes);
    // Token requests carry secrets in form bodies: keep the shape, mask the values.
    if text.contains("client_secret=") {
        let masked: Vec<String> = form_urlencoded::parse(text.as_bytes())
            .map(|(k, v)| {
                if k == "client_secret" {
                    format!("{k}=***")
                } else {
                    format!("{k}={v}")
                }
            })
            .collect();
        return Some(Value::String(masked.join("&")));
    }
    Some(Value::String(text.chars().take(64 * 1024).collect()))
}

/// The error body a fault answers with, in the service's own shape.
pub(crate) fn fault_response(
    flavor: Flavor,
    status: StatusCode,
    retry_after: Option<u64>,
) -> Response {
    let (code, msg) = match (flavor, status.as_u16()) {
        (Flavor::Ups, 429) => ("10429", "Too Many Requests"),
        (Flavor::Ups, 503) => ("10503", "Service Unavailable"),
        (Flavor::Ups, _) => ("10500", "Internal Server Error"),
        (Flavor::Ifs, 429) => (
            "ODP_TOO_MANY_REQUESTS",
            "Too many requests, try again later.",
        ),
        (Flavor::Ifs, 503) => (
            "ODP_SERVICE_UNAVAILABLE",
            "The service is temporarily unavailable.",
        ),
        (Flavor::Ifs, _) => (
            "MI_MODIFIED_ERROR",
            "Internal error while processing the request.",
        ),
    };
    let body = match flavor {
        Flavor::Ups => {
            serde_json::json!({"response": {"errors": [{"code": code, "message": msg}]}})
        }
        Flavor::Ifs => serde_json::json!({"error": {"code": code, "message": msg}}),
    };
    let mut resp = (status, axum::Json(body)).into_response();
    if let Some(secs) = retry_after
        && let Ok(v) = HeaderValue::from_str(&secs.to_string())
    {
        resp.headers_mut().insert(header::RETRY_AFTER, v);
    }
    resp
}

/// Middleware: buffers the body, applies a fault if one fires, records the request.
pub(crate) async fn fault_and_log(
    State(ctx): State<Arc<MwCtx>>,
    req: Request,
    next: Next,
) -> Response {
    let (parts, body) = req.into_parts();
    let bytes = match to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(_) => {
            return (StatusCode::PAYLOAD_TOO_LARGE, "request body too large").into_response();
        }
    };
    let route = (ctx.classify)(&parts.method, parts.uri.path());
    let mut rec = RequestRecord {
        seq: 0,
        at: ctx.clock.now(),
        route: route.clone(),
        method: parts.method.to_string(),
        path: parts.uri.path().to_string(),
        query: parts.uri.query().map(str::to_string),
        headers: interesting_headers(&parts.headers),
        body: body_for_log(&bytes),
        status: 0,
        fault: None,
    };
    let fault: Option<FaultSpec> = ctx.faults.take(&route);
    let mut req = Request::from_parts(parts, Body::from(bytes));
    let resp = match &fault {
        None => next.run(req).await,
        Some(f) => {
            rec.fault = Some(f.kind.name().to_string());
            match f.kind {
                FaultKind::TooManyRequests => {
                    fault_response(ctx.flavor, StatusCode::TOO_MANY_REQUESTS, f.retry_after)
                }
                FaultKind::InternalError => {
                    fault_response(ctx.flavor, StatusCode::INTERNAL_SERVER_ERROR, None)
                }
                FaultKind::Unavailable => {
                    fault_response(ctx.flavor, StatusCode::SERVICE_UNAVAILABLE, f.retry_after)
                }
                FaultKind::Drop => {
                    let mut r = Response::new(Body::empty());
                    r.extensions_mut().insert(DropConnection);
                    r
                }
                FaultKind::DropAfter => {
                    let mut r = next.run(req).await;
                    r.extensions_mut().insert(DropConnection);
                    r
                }
                FaultKind::Delay => next.run(req).await,
                FaultKind::Malformed => {
                    let r = next.run(req).await;
                    let (mut p, b) = r.into_parts();
                    let full = to_bytes(b, usize::MAX).await.unwrap_or_default();
                    let cut = full.slice(..full.len() / 2);
                    p.headers.remove(header::CONTENT_LENGTH);
                    p.headers.insert(
                        header::CONTENT_TYPE,
                        HeaderValue::from_static("application/json"),
                    );
                    Response::from_parts(p, Body::from(cut))
                }
                FaultKind::ConcurrentEdit => {
                    req.extensions_mut().insert(ConcurrentEditFault);
                    next.run(req).await
                }
            }
        }
    };
    rec.status = if resp.extensions().get::<DropConnection>().is_some() {
        0
    } else {
        resp.status().as_u16()
    };
    ctx.log.push(rec);
    if let Some(f) = fault.as_ref().filter(|f| f.kind == FaultKind::Delay) {
        // Logged first: the client may give up (and hyper drop this future) while we wait.
        tokio::time::sleep(Duration::from_millis(f.delay_ms.unwrap_or(0))).await;
    }
    resp
}

/// Error a hyper service returns to make hyper close the connection without a response.
#[derive(Debug)]
struct Dropped;

impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by fault injection")
    }
}

impl std::error::Error for Dropped {}

/// Binds `addr`.
pub(crate) async fn bind(addr: SocketAddr) -> Result<TcpListener, crate::SimError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| crate::SimError::Bind { addr, source })
}

/// Serves `router` on `listener` until `shutdown` is cancelled.
pub(crate) async fn serve(listener: TcpListener, router: Router, shutdown: CancellationToken) {
    loop {
        let accepted = tokio::select! {
            _ = shutdown.cancelled() => break,
            r = listener.accept() => r,
        };
        let stream = match accepted {
            Ok((s, _)) => s,
            Err(e) => {
                // Typically EMFILE under heavy load: back off a little instead of spinning.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(move |req: http::Request<Incoming>| {
                let router = router.clone();
                async move {
                    let resp = match router.oneshot(req.map(Body::new)).await {
                        Ok(r) => r,
                        Err(e) => {
                            let never: Infallible = e;
                            match never {}
                        }
                    };
                    if resp.extensions().get::<DropConnection>().is_some() {
                        return Err(Dropped);
                    }
                    Ok::<_, Dropped>(resp)
                }
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), svc);
            tokio::select! {
                _ = conn => {}
                _ = shutdown.cancelled() => {}
            }
        });
    }
}
