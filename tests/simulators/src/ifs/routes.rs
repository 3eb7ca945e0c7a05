//! HTTP routes of the IFS simulator.

#![allow(
    clippy::result_large_err,
    reason = "handlers short-circuit with ready-made HTTP responses, built at most once per request"
)]

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD as B64, URL_SAFE_NO_PAD as B64URL};
use rand::Rng;
use serde_json::{Map, Value, json};

use super::odata::{self, Ft, ODataError, SetMeta};
use super::{
    CHARGE_META, CHARGE_WRITABLE, Ent, HU_META, IfsData, IfsState, LINE_META, ORDER_META,
    SHIPMENT_META, WriteRecord,
};
use crate::server::ConcurrentEditFault;
use crate::util::{iso, lock};

/// Path prefix of the OData service.
pub(crate) const ODATA_PREFIX: &str = "/main/ifsapplications/projection/v1";

pub(crate) fn router(state: Arc<IfsState>) -> Router {
    Router::new()
        .route(
            "/auth/realms/{realm}/protocol/openid-connect/token",
            post(token),
        )
        .route(
            "/auth/realms/{realm}/.well-known/openid-configuration",
            get(discovery),
        )
        .route(&format!("{ODATA_PREFIX}/{{*rest}}"), any(odata_entry))
        .fallback(|| async {
            odata_error(
                404,
                "ODP_RESOURCE_NOTFOUND",
                "The requested resource does not exist.",
            )
        })
        .with_state(state)
}

/// Route keys for fault injection and the request log.
pub(crate) fn classify(method: &Method, path: &str) -> String {
    let m = method.as_str();
    let key = if path.ends_with("/openid-connect/token") {
        "ifs.token"
    } else if path.contains("/CustomerOrderChargeArray") {
        match (m, path.ends_with(')')) {
            ("POST", _) => "ifs.charge.post",
            (_, true) => "ifs.charge.get",
            _ => "ifs.charge.list",
        }
    } else if path.contains("/CustomerOrderSet") {
        if path.ends_with(')') {
            "ifs.order.get"
        } else {
            "ifs.order.list"
        }
    } else if path.contains("/ShipmentLineSet") {
        if path.ends_with(')') {
            "ifs.shipment_line.get"
        } else {
            "ifs.shipment_line.list"
        }
    } else if path.contains("/HandlingUnitSet") {
        if path.ends_with(')') {
            "ifs.handling_unit.get"
        } else {
            "ifs.handling_unit.list"
        }
    } else if path.contains("/ShipmentSet") {
        match (m, path.ends_with(')')) {
            ("PATCH", _) => "ifs.shipment.patch",
            (_, true) => "ifs.shipment.get",
            _ => "ifs.shipment.list",
        }
    } else if path.contains("/.well-known/") {
        "ifs.discovery"
    } else {
        "ifs.other"
    };
    key.to_string()
}

pub(crate) fn odata_error(status: u16, code: &str, message: &str) -> Response {
    let st = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    (
        st,
        axum::Json(json!({"error": {"code": code, "message": message}})),
    )
        .into_response()
}

fn from_odata(e: ODataError) -> Response {
    odata_error(e.status, e.code, &e.message)
}

fn kc_error(status: StatusCode, error: &str, desc: &str) -> Response {
    (
        status,
        axum::Json(json!({"error": error, "error_description": desc})),
    )
        .into_response()
}

async fn discovery(State(st): State<Arc<IfsState>>, Path(realm): Path<String>) -> Response {
    if realm != st.cfg.realm {
        return kc_error(StatusCode::NOT_FOUND, "Realm does not exist", "");
    }
    let base = st.cfg.base_url.trim_end_matches(ODATA_PREFIX).to_string();
    axum::Json(json!({
        "issuer": format!("{base}/auth/realms/{realm}"),
        "token_endpoint": format!("{base}/auth/realms/{realm}/protocol/openid-connect/token"),
        "grant_types_supported": ["client_credentials"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
    }))
    .into_response()
}

fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let rest = v
        .strip_prefix("Basic ")
        .or_else(|| v.strip_prefix("basic "))?;
    let raw = B64.decode(rest.trim()).ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (id, secret) = text.split_once(':')?;
    Some((id.to_string(), secret.to_string()))
}

async fn token(
    State(st): State<Arc<IfsState>>,
    Path(realm): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if realm != st.cfg.realm {
        return kc_error(StatusCode::NOT_FOUND, "Realm does not exist", "");
    }
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !ct.starts_with("application/x-www-form-urlencoded") {
        return kc_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Content-Type must be application/x-www-form-urlencoded",
        );
    }
    let form: Vec<(String, String)> = form_urlencoded::parse(&body).into_owned().collect();
    let get = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let grant = get("grant_type");
    match grant.as_deref() {
        Some("client_credentials") => {}
        None => {
            return kc_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "Missing form parameter: grant_type",
            );
        }
        Some(_) => {
            return kc_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "Unsupported grant_type",
            );
        }
    }
    let creds =
        basic_credentials(&headers).or_else(|| Some((get("client_id")?, get("client_secret")?)));
    match creds {
        Some((id, secret)) if id == st.cfg.client_id && secret == st.cfg.client_secret => {}
        _ => {
            return kc_error(
                StatusCode::UNAUTHORIZED,
                "unauthorized_client",
                "Invalid client or Invalid client credentials",
            );
        }
    }
    let now = st.clock.now();
    let lifetime = st.cfg.token_lifetime.as_secs();
    let mut d = lock(&st.data);
    let nonce: u64 = d.rng.random();
    let hdr = B64URL.encode(br#"{"alg":"RS256","typ":"JWT"}"#);
    let payload = B64URL.encode(
        json!({"iss": realm, "azp": st.cfg.client_id, "iat": now.timestamp(), "exp": now.timestamp() + lifetime as i64, "jti": format!("{nonce:016x}")})
            .to_string(),
    );
    let sig = B64URL.encode(nonce.to_be_bytes());
    let access = format!("{hdr}.{payload}.{sig}");
    d.tokens.insert(
        access.clone(),
        now + chrono::Duration::seconds(lifetime as i64),
    );
    d.tokens_issued += 1;
    *d.tokens_by_day
        .entry(now.format("%Y-%m-%d").to_string())
        .or_default() += 1;
    // Drop long-expired tokens so the map does not grow without bound.
    if d.tokens.len() > 10_000 {
        d.tokens.retain(|_, exp| *exp > now);
    }
    drop(d);
    let scope = get("scope").unwrap_or_else(|| "openid microprofile-jwt".into());
    axum::Json(json!({
        "access_token": access,
        "expires_in": lifetime,
        "refresh_expires_in": 0,
        "token_type": "Bearer",
        "not-before-policy": 0,
        "scope": scope,
    }))
    .into_response()
}

fn check_bearer(st: &IfsState, headers: &HeaderMap) -> Result<(), Response> {
    let unauthorized = |msg: &str| {
        let mut r = odata_error(401, "UNAUTHORIZED", msg);
        r.headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        r
    };
    let Some(v) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return Err(unauthorized("Missing access token."));
    };
    let Some(tok) = v.strip_prefix("Bearer ") else {
        return Err(unauthorized("Bearer access token required."));
    };
    let now = st.clock.now();
    match lock(&st.data).tokens.get(tok.trim()) {
        Some(exp) if *exp > now => Ok(()),
        Some(_) => Err(unauthorized("The access token has expired.")),
        None => Err(unauthorized("The access token is not valid.")),
    }
}

/// A parsed key predicate value.
#[derive(Clone, Debug, PartialEq)]
enum KeyVal {
    Int(i64),
    Str(String),
}

/// `Name(k=v,…)` → (Name, Some([(k, v)])).
/// Key predicate: `(name, value)` pairs; the name is absent in the `Set(42)` short form.
type Keys = Vec<(Option<String>, KeyVal)>;

/// Maps an entity to its IFS `keyref`.
type KeyrefFn = fn(&Ent) -> String;

fn parse_segment(seg: &str) -> Result<(String, Option<Keys>), ODataError> {
    let Some(open) = seg.find('(') else {
        return Ok((seg.to_string(), None));
    };
    let name = seg[..open].to_string();
    let inner = seg[open + 1..]
        .strip_suffix(')')
        .ok_or_else(|| ODataError::bad(format!("malformed key predicate in '{seg}'")))?;
    let mut keys = Vec::new();
    // Split on commas outside quotes.
    let mut parts = Vec::new();
    let mut cur = String::new();
    let mut in_q = false;
    for c in inner.chars() {
        match c {
            '\'' => {
                in_q = !in_q;
                cur.push(c);
            }
            ',' if !in_q => parts.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    parts.push(cur);
    for p in parts {
        let (k, v) = match p.split_once('=') {
            Some((k, v)) if !k.contains('\'') => (Some(k.trim().to_string()), v.trim()),
            _ => (None, p.trim()),
        };
        let val = if let Some(s) = v.strip_prefix('\'').and_then(|s| s.strip_suffix('\'')) {
            KeyVal::Str(s.replace("''", "'"))
        } else {
            KeyVal::Int(
                v.parse()
                    .map_err(|_| ODataError::bad(format!("invalid key value '{v}'")))?,
            )
        };
        keys.push((k, val));
    }
    Ok((name, Some(keys)))
}

fn key_for(keys: &[(Option<String>, KeyVal)], name: &str, pos: usize) -> Option<KeyVal> {
    keys.iter()
        .find(|(k, _)| k.as_deref() == Some(name))
        .or_else(|| keys.get(pos).filter(|(k, _)| k.is_none()))
        .map(|(_, v)| v.clone())
}

fn int_key(keys: &[(Option<String>, KeyVal)], name: &str, pos: usize) -> Result<i64, ODataError> {
    match key_for(keys, name, pos) {
        Some(KeyVal::Int(i)) => Ok(i),
        _ => Err(ODataError::bad(format!("key '{name}' must be an integer"))),
    }
}

fn str_key(
    keys: &[(Option<String>, KeyVal)],
    name: &str,
    pos: usize,
) -> Result<String, ODataError> {
    match key_for(keys, name, pos) {
        Some(KeyVal::Str(s)) => Ok(s),
        _ => Err(ODataError::bad(format!(
            "key '{name}' must be a quoted string"
        ))),
    }
}

/// What a URL addresses.
enum Target {
    Shipments(Option<i64>),
    Lines(Option<(i64, i64)>),
    Hus(Option<i64>),
    Orders(Option<String>),
    Charges(String, Option<i64>),
    ServiceDoc(&'static str),
}

fn resolve(rest: &str) -> Result<Target, ODataError> {
    let not_found = || ODataError {
        status: 404,
        code: "ODP_RESOURCE_NOTFOUND",
        message: format!("Resource not found for the segment '{rest}'."),
    };
    let (svc, path) = rest.split_once('/').unwrap_or((rest, ""));
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    match svc {
        "ShipmentHandling.svc" => {
            let Some(first) = segs.first() else {
                return Ok(Target::ServiceDoc("ShipmentHandling"));
            };
            if segs.len() > 1 {
                return Err(not_found());
            }
            let (name, keys) = parse_segment(first)?;
            match (name.as_str(), keys) {
                ("ShipmentSet", None) => Ok(Target::Shipments(None)),
                ("ShipmentSet", Some(k)) => {
                    Ok(Target::Shipments(Some(int_key(&k, "ShipmentId", 0)?)))
                }
                ("ShipmentLineSet", None) => Ok(Target::Lines(None)),
                ("ShipmentLineSet", Some(k)) => Ok(Target::Lines(Some((
                    int_key(&k, "ShipmentId", 0)?,
                    int_key(&k, "ShipmentLineNo", 1)?,
                )))),
                ("HandlingUnitSet", None) => Ok(Target::Hus(None)),
                ("HandlingUnitSet", Some(k)) => {
                    Ok(Target::Hus(Some(int_key(&k, "HandlingUnitId", 0)?)))
                }
                _ => Err(not_found()),
            }
        }
        "CustomerOrderHandling.svc" => {
            let Some(first) = segs.first() else {
                return Ok(Target::ServiceDoc("CustomerOrderHandling"));
            };
            let (name, keys) = parse_segment(first)?;
            if name != "CustomerOrderSet" {
                return Err(not_found());
            }
            match (keys, segs.get(1), segs.len()) {
                (None, None, 1) => Ok(Target::Orders(None)),
                (Some(k), None, 1) => Ok(Target::Orders(Some(str_key(&k, "OrderNo", 0)?))),
                (Some(k), Some(nav), 2) => {
                    let order = str_key(&k, "OrderNo", 0)?;
                    let (nname, nkeys) = parse_segment(nav)?;
                    if nname != "CustomerOrderChargeArray" {
                        return Err(not_found());
                    }
                    match nkeys {
                        None => Ok(Target::Charges(order, None)),
                        Some(nk) => {
                            if let Some(KeyVal::Str(o)) = key_for(&nk, "OrderNo", 0)
                                && o != order
                            {
                                return Err(not_found());
                            }
                            let pos = if nk.len() == 1 { 0 } else { 1 };
                            Ok(Target::Charges(
                                order,
                                Some(int_key(&nk, "SequenceNo", pos)?),
                            ))
                        }
                    }
                }
                _ => Err(not_found()),
            }
        }
        _ => Err(not_found()),
    }
}

struct Ctx<'a> {
    st: &'a IfsState,
    headers: &'a HeaderMap,
    query: Option<&'a str>,
    method: &'a Method,
    concurrent_edit: bool,
}

async fn odata_entry(
    State(st): State<Arc<IfsState>>,
    Path(rest): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    ce: Option<axum::Extension<ConcurrentEditFault>>,
    body: Bytes,
) -> Response {
    if let Err(r) = check_bearer(&st, &headers) {
        return r;
    }
    let target = match resolve(&rest) {
        Ok(t) => t,
        Err(e) => return from_odata(e),
    };
    let cx = Ctx {
        st: &st,
        headers: &headers,
        query: uri.query(),
        method: &method,
        concurrent_edit: ce.is_some(),
    };
    let res = match (&method, target) {
        (&Method::GET, Target::ServiceDoc(p)) => Ok(service_doc(&st, p)),
        (&Method::GET, Target::Shipments(None)) => list_shipments(&cx),
        (&Method::GET, Target::Shipments(Some(id))) => get_shipment(&cx, id),
        (&Method::PATCH, Target::Shipments(Some(id))) => patch_shipment(&cx, id, &body),
        (&Method::GET, Target::Lines(k)) => generic(
            &cx,
            &LINE_META,
            "ShipmentLineSet",
            k.map(|(a, b)| vec![a, b]),
            |d| d.lines.iter().collect(),
        ),
        (&Method::GET, Target::Hus(k)) => {
            generic(&cx, &HU_META, "HandlingUnitSet", k.map(|a| vec![a]), |d| {
                d.hus.values().collect()
            })
        }
        (&Method::GET, Target::Orders(None)) => {
            generic(&cx, &ORDER_META, "CustomerOrderSet", None, |d| {
                d.orders.values().collect()
            })
        }
        (&Method::GET, Target::Orders(Some(no))) => get_order(&cx, &no),
        (&Method::GET, Target::Charges(order, seq)) => list_charges(&cx, &order, seq),
        (&Method::POST, Target::Charges(order, None)) => post_charge(&cx, &order, &body),
        _ => Err(ODataError {
            status: 405,
            code: "ODP_METHOD_NOT_ALLOWED",
            message: format!("Method {} is not allowed on this resource.", cx.method),
        }),
    };
    res.unwrap_or_else(from_odata)
}

fn service_doc(st: &IfsState, projection: &str) -> Response {
    let sets: &[&str] = if projection == "ShipmentHandling" {
        &["ShipmentSet", "ShipmentLineSet", "HandlingUnitSet"]
    } else {
        &["CustomerOrderSet"]
    };
    axum::Json(json!({
        "@odata.context": format!("{}/{projection}.svc/$metadata", st.cfg.base_url),
        "value": sets.iter().map(|s| json!({"name": s, "kind": "EntitySet", "url": s})).collect::<Vec<_>>(),
    }))
    .into_response()
}

fn json_response(status: StatusCode, v: Value, etag: Option<String>) -> Response {
    let mut r = (status, axum::Json(v)).into_response();
    r.headers_mut()
        .insert("OData-Version", HeaderValue::from_static("4.0"));
    if let Some(e) = etag
        && let Ok(h) = HeaderValue::from_str(&e)
    {
        r.headers_mut().insert(header::ETAG, h);
    }
    r
}

/// Builds a collection response (filter, order, count, page) from `rows`.
fn collection(
    cx: &Ctx<'_>,
    meta: &SetMeta,
    rows: Vec<&Ent>,
    context: &str,
    path_for_next: &str,
    keys: &[(&str, Ft)],
    luname: Option<(&str, KeyrefFn)>,
) -> Result<(Value, Vec<Value>), ODataError> {
    let q = odata::parse_query(cx.query, meta, false)?;
    let mut filtered: Vec<&Ent> = rows
        .into_iter()
        .filter(|e| q.filter.as_ref().is_none_or(|f| f.matches(&e.f)))
        .collect();
    let total = filtered.len();
    odata::sort_rows(&mut filtered, |e| &e.f, &q, keys);
    let after_skip: Vec<&Ent> = filtered.into_iter().skip(q.skip).collect();
    let limited: Vec<&Ent> = match q.top {
        Some(t) => after_skip.into_iter().take(t).collect(),
        None => after_skip,
    };
    let mut cap = cx.st.cfg.page_cap.max(1);
    if let Some(p) = cx.headers.get("prefer").and_then(|v| v.to_str().ok()) {
        for part in p.split([',', ';']) {
            let part = part.trim();
            let v = part
                .strip_prefix("odata.maxpagesize=")
                .or_else(|| part.strip_prefix("maxpagesize="));
            if let Some(n) = v.and_then(|n| n.trim().parse::<usize>().ok())
                && n > 0
            {
                cap = cap.min(n);
            }
        }
    }
    let start = q.skiptoken.min(limited.len());
    let end = (start + cap).min(limited.len());
    let page = &limited[start..end];
    let select = q.select.as_deref();
    let values: Vec<Value> = page
        .iter()
        .map(|e| Value::Object(e.to_json(select, luname.map(|(lu, kf)| (lu, kf(e))))))
        .collect();
    let ctx_url = match select {
        Some(f) if !f.is_empty() => format!(
            "{}#{context}({})",
            cx.st.cfg.base_url.clone() + "/" + meta.projection + ".svc/$metadata",
            f.join(",")
        ),
        _ => format!(
            "{}/{}.svc/$metadata#{context}",
            cx.st.cfg.base_url, meta.projection
        ),
    };
    let mut out = Map::new();
    out.insert("@odata.context".into(), Value::String(ctx_url));
    if q.count {
        out.insert("@odata.count".into(), json!(total));
    }
    out.insert("value".into(), Value::Array(values.clone()));
    if end < limited.len() {
        let mut ser = form_urlencoded::Serializer::new(String::new());
        for (k, v) in &q.passthrough {
            ser.append_pair(k, v);
        }
        ser.append_pair("$skiptoken", &end.to_string());
        out.insert(
            "@odata.nextLink".into(),
            Value::String(format!(
                "{}/{path_for_next}?{}",
                cx.st.cfg.base_url,
                ser.finish()
            )),
        );
    }
    Ok((Value::Object(out), values))
}

fn shipment_keyref(e: &Ent) -> String {
    format!(
        "SHIPMENT_ID={}^",
        e.f.get("ShipmentId").cloned().unwrap_or(Value::Null)
    )
}

fn list_shipments(cx: &Ctx<'_>) -> Result<Response, ODataError> {
    let now = cx.st.clock.now();
    let mut d = lock(&cx.st.data);
    let (body, values) = collection(
        cx,
        &SHIPMENT_META,
        d.shipments.values().collect(),
        "ShipmentSet",
        "ShipmentHandling.svc/ShipmentSet",
        &[("ShipmentId", Ft::Int)],
        Some(("Shipment", shipment_keyref)),
    )?;
    if cx.concurrent_edit {
        // Another user touches every shipment just read, after the read.
        let ids: Vec<i64> = values
            .iter()
            .filter_map(|v| v.get("ShipmentId").and_then(Value::as_i64))
            .collect();
        let ids = if ids.is_empty() && !values.is_empty() {
            d.shipments.keys().copied().take(values.len()).collect()
        } else {
            ids
        };
        for id in ids {
            IfsState::other_user_edit(&mut d, now, id);
        }
    }
    Ok(json_response(StatusCode::OK, body, None))
}

fn single_json(
    cx: &Ctx<'_>,
    meta: &SetMeta,
    e: &Ent,
    context: &str,
    luname: Option<(&str, String)>,
) -> Result<(Value, String), ODataError> {
    let q = odata::parse_query(cx.query, meta, true)?;
    let mut m = Map::new();
    m.insert(
        "@odata.context".into(),
        Value::String(format!(
            "{}/{}.svc/$metadata#{context}/$entity",
            cx.st.cfg.base_url, meta.projection
        )),
    );
    for (k, v) in e.to_json(q.select.as_deref(), luname) {
        m.insert(k, v);
    }
    Ok((Value::Object(m), e.etag()))
}

fn get_shipment(cx: &Ctx<'_>, id: i64) -> Result<Response, ODataError> {
    let now = cx.st.clock.now();
    let mut d = lock(&cx.st.data);
    let e = d
        .shipments
        .get(&id)
        .ok_or_else(|| not_found(&format!("ShipmentSet(ShipmentId={id})")))?;
    let (body, etag) = single_json(
        cx,
        &SHIPMENT_META,
        e,
        "ShipmentSet",
        Some(("Shipment", shipment_keyref(e))),
    )?;
    if cx.concurrent_edit {
        IfsState::other_user_edit(&mut d, now, id);
    }
    Ok(json_response(StatusCode::OK, body, Some(etag)))
}

fn not_found(what: &str) -> ODataError {
    ODataError {
        status: 404,
        code: "ODP_RESOURCE_NOTFOUND",
        message: format!("The requested entity {what} was not found."),
    }
}

fn weak_eq(a: &str, b: &str) -> bool {
    let strip = |s: &str| s.trim().trim_start_matches("W/").to_string();
    strip(a) == strip(b)
}

fn require_json(cx: &Ctx<'_>, body: &[u8]) -> Result<Map<String, Value>, ODataError> {
    let ct = cx
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let deser = |m: &str| ODataError {
        status: 400,
        code: "ODP_DESERIALIZATION_ERROR",
        message: m.to_string(),
    };
    if !ct.starts_with("application/json") {
        return Err(deser(
            "Error while de-serializing contents: Content-Type must be application/json.",
        ));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(deser(
            "Error while de-serializing contents: a JSON object is expected.",
        )),
        Err(_) => Err(deser("Error while de-serializing contents.")),
    }
}

fn wants_representation(cx: &Ctx<'_>) -> bool {
    cx.headers
        .get("prefer")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|p| p.contains("return=representation"))
}

fn patch_shipment(cx: &Ctx<'_>, id: i64, body: &[u8]) -> Result<Response, ODataError> {
    let now = cx.st.clock.now();
    let mut d = lock(&cx.st.data);
    if !d.shipments.contains_key(&id) {
        return Err(not_found(&format!("ShipmentSet(ShipmentId={id})")));
    }
    let Some(if_match) = cx
        .headers
        .get(header::IF_MATCH)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
    else {
        return Err(ODataError {
            status: 428,
            code: "ODP_MISSING_PRECONDITION",
            message: "The request must contain an If-Match header.".into(),
        });
    };
    let changes = require_json(cx, body)?;
    if cx.concurrent_edit {
        // Another user saves the record between the caller's read and this write.
        IfsState::other_user_edit(&mut d, now, id);
    }
    let current = d.shipments.get(&id).map(Ent::etag).unwrap_or_default();
    if if_match.trim() != "*" && !if_match.split(',').any(|t| weak_eq(t, &current)) {
        return Err(ODataError {
            status: 412,
            code: "ODP_PRECONDITION_FAILED",
            message: "The record has been modified by another user. Refresh and try again.".into(),
        });
    }
    IfsState::apply_shipment_changes(&mut d, now, id, &changes, "api").map_err(|(status, m)| {
        ODataError {
            status,
            code: "ODP_VALIDATION_ERROR",
            message: m,
        }
    })?;
    let Some(e) = d.shipments.get(&id) else {
        return Err(not_found(&format!("ShipmentSet(ShipmentId={id})")));
    };
    if wants_representation(cx) {
        let cx2 = Ctx { query: None, ..*cx };
        let (body, etag) = single_json(
            &cx2,
            &SHIPMENT_META,
            e,
            "ShipmentSet",
            Some(("Shipment", shipment_keyref(e))),
        )?;
        return Ok(json_response(StatusCode::OK, body, Some(etag)));
    }
    let mut r = StatusCode::NO_CONTENT.into_response();
    if let Ok(h) = HeaderValue::from_str(&e.etag()) {
        r.headers_mut().insert(header::ETAG, h);
    }
    Ok(r)
}

/// GET on a read-only set: collection, or single when `key` is set.
fn generic(
    cx: &Ctx<'_>,
    meta: &SetMeta,
    set: &str,
    key: Option<Vec<i64>>,
    rows: fn(&IfsData) -> Vec<&Ent>,
) -> Result<Response, ODataError> {
    let d = lock(&cx.st.data);
    let all = rows(&d);
    let key_fields: Vec<(&str, Ft)> = match set {
        "ShipmentLineSet" => vec![("ShipmentId", Ft::Int), ("ShipmentLineNo", Ft::Int)],
        "HandlingUnitSet" => vec![("HandlingUnitId", Ft::Int)],
        _ => vec![("OrderNo", Ft::Str)],
    };
    match key {
        None => {
            let (body, _) = collection(
                cx,
                meta,
                all,
                set,
                &format!("{}.svc/{set}", meta.projection),
                &key_fields,
                None,
            )?;
            Ok(json_response(StatusCode::OK, body, None))
        }
        Some(k) => {
            let e = all
                .into_iter()
                .find(|e| {
                    key_fields.iter().zip(&k).all(|((name, _), want)| {
                        e.f.get(*name).and_then(Value::as_i64) == Some(*want)
                    })
                })
                .ok_or_else(|| not_found(set))?;
            let (body, etag) = single_json(cx, meta, e, set, None)?;
            Ok(json_response(StatusCode::OK, body, Some(etag)))
        }
    }
}

fn get_order(cx: &Ctx<'_>, no: &str) -> Result<Response, ODataError> {
    let d = lock(&cx.st.data);
    let e = d
        .orders
        .get(no)
        .ok_or_else(|| not_found(&format!("CustomerOrderSet(OrderNo='{no}')")))?;
    let keyref = format!("ORDER_NO={no}^");
    let (body, etag) = single_json(
        cx,
        &ORDER_META,
        e,
        "CustomerOrderSet",
        Some(("CustomerOrder", keyref)),
    )?;
    Ok(json_response(StatusCode::OK, body, Some(etag)))
}

fn list_charges(cx: &Ctx<'_>, order: &str, seq: Option<i64>) -> Result<Response, ODataError> {
    let d = lock(&cx.st.data);
    let charges = d
        .charges
        .get(order)
        .ok_or_else(|| not_found(&format!("CustomerOrderSet(OrderNo='{order}')")))?;
    let ctx_name = format!("CustomerOrderSet('{order}')/CustomerOrderChargeArray");
    match seq {
        None => {
            let (body, _) = collection(
                cx,
                &CHARGE_META,
                charges.iter().collect(),
                &ctx_name,
                &format!(
                    "CustomerOrderHandling.svc/CustomerOrderSet(OrderNo='{order}')/CustomerOrderChargeArray"
                ),
                &[("SequenceNo", Ft::Int)],
                None,
            )?;
            Ok(json_response(StatusCode::OK, body, None))
        }
        Some(s) => {
            let e = charges
                .iter()
                .find(|e| e.f.get("SequenceNo").and_then(Value::as_i64) == Some(s))
                .ok_or_else(|| not_found("CustomerOrderChargeArray"))?;
            let (body, etag) = single_json(cx, &CHARGE_META, e, &ctx_name, None)?;
            Ok(json_response(StatusCode::OK, body, Some(etag)))
        }
    }
}

fn post_charge(cx: &Ctx<'_>, order: &str, body: &[u8]) -> Result<Response, ODataError> {
    let input = require_json(cx, body)?;
    let bad = |m: String| ODataError {
        status: 400,
        code: "ODP_VALIDATION_ERROR",
        message: m,
    };
    for (k, v) in &input {
        if k.starts_with('@') {
            continue;
        }
        if k == "OrderNo" {
            if v.as_str() != Some(order) {
                return Err(bad("OrderNo does not match the parent order".into()));
            }
            continue;
        }
        let ft = CHARGE_META.field(k).ok_or_else(|| {
            bad(format!(
                "property '{k}' does not exist on CustomerOrderChargeArray"
            ))
        })?;
        if !CHARGE_WRITABLE.contains(&k.as_str()) {
            return Err(bad(format!("property '{k}' is read-only")));
        }
        super::check_type(k, ft, v).map_err(bad)?;
    }
    for req in ["ChargeType", "ChargeAmount", "ChargedQty"] {
        if input.get(req).is_none_or(Value::is_null) {
            return Err(bad(format!(
                "ORA-20110: CustomerOrderCharge.{req}: Field {req} is mandatory."
            )));
        }
    }
    let now = cx.st.clock.now();
    let mut d = lock(&cx.st.data);
    let Some(order_ent) = d.orders.get(order) else {
        return Err(not_found(&format!("CustomerOrderSet(OrderNo='{order}')")));
    };
    if let Some(sid) = input.get("ShipmentId").and_then(Value::as_i64) {
        let belongs = d
            .shipments
            .get(&sid)
            .is_some_and(|s| s.f.get("OrderNo").and_then(Value::as_str) == Some(order));
        if !belongs {
            return Err(bad(format!(
                "ORA-20124: Shipment {sid} does not contain lines of order {order}."
            )));
        }
    }
    let (contract, company, currency) = (
        order_ent.f.get("Contract").cloned().unwrap_or(Value::Null),
        order_ent.f.get("Company").cloned().unwrap_or(Value::Null),
        order_ent
            .f
            .get("CurrencyCode")
            .cloned()
            .unwrap_or(Value::Null),
    );
    let seq = d
        .charges
        .get(order)
        .map(|v| {
            v.iter()
                .filter_map(|e| e.f.get("SequenceNo").and_then(Value::as_i64))
                .max()
                .unwrap_or(0)
                + 1
        })
        .unwrap_or(1);
    let amount = input.get("ChargeAmount").cloned().unwrap_or(Value::Null);
    let mut f = Map::new();
    f.insert("OrderNo".into(), Value::String(order.to_string()));
    f.insert("SequenceNo".into(), json!(seq));
    f.insert("Contract".into(), contract);
    f.insert("Company".into(), company);
    for k in CHARGE_WRITABLE {
        f.insert(
            (*k).to_string(),
            input.get(*k).cloned().unwrap_or(Value::Null),
        );
    }
    if f.get("ChargeAmountInclTax").is_none_or(Value::is_null) {
        f.insert("ChargeAmountInclTax".into(), amount);
    }
    if f.get("SalesUnitMeas").is_none_or(Value::is_null) {
        f.insert("SalesUnitMeas".into(), Value::String("EA".into()));
    }
    if f.get("CollectDb").is_none_or(Value::is_null) {
        f.insert("CollectDb".into(), Value::String("PREPAID".into()));
    }
    f.insert("CurrencyCode".into(), currency);
    f.insert("DateEntered".into(), Value::String(iso(now)));
    let objid = d.new_objid();
    let ent = Ent::new(f, objid, now);
    let etag = ent.etag();
    let out = ent.to_json(None, None);
    d.charges.entry(order.to_string()).or_default().push(ent);
    if let Some(o) = d.orders.get_mut(order) {
        o.f.insert("ChargesExist".into(), Value::Bool(true));
        o.touch(now, None);
    }
    d.writes.push(WriteRecord {
        at: now,
        entity: format!(
            "CustomerOrderSet(OrderNo='{order}')/CustomerOrderChargeArray(SequenceNo={seq})"
        ),
        by: "api".into(),
        fields: input
            .keys()
            .filter(|k| !k.starts_with('@'))
            .cloned()
            .collect(),
    });
    drop(d);
    let mut m = Map::new();
    m.insert(
        "@odata.context".into(),
        Value::String(format!(
            "{}/CustomerOrderHandling.svc/$metadata#CustomerOrderSet('{order}')/CustomerOrderChargeArray/$entity",
            cx.st.cfg.base_url
        )),
    );
    m.extend(out);
    let mut r = json_response(StatusCode::CREATED, Value::Object(m), Some(etag));
    let loc = format!(
        "{}/CustomerOrderHandling.svc/CustomerOrderSet(OrderNo='{order}')/CustomerOrderChargeArray(OrderNo='{order}',SequenceNo={seq})",
        cx.st.cfg.base_url
    );
    if let Ok(h) = HeaderValue::from_str(&loc) {
        r.headers_mut().insert(header::LOCATION, h);
    }
    Ok(r)
}
