//! HTTP routes of the UPS simulator. Bodies follow UPS's OpenAPI specs: PascalCase for the
//! classic APIs, lowerCamelCase for Tracking and Track Alert, numbers as strings.

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

async fn token(State(st): State<Arc<UpsState>>, headers: HeaderMap, body: Bytes) -> Response {
    let Some((id, secret)) = basic_credentials(&headers) else {
        return err(
            StatusCode::UNAUTHORIZED,
            "10400",
            "Invalid/Missing Authorization Header",
        );
    };
    if id != st.cfg.client_id || secret != st.cfg.client_secret {
        return err(StatusCode::UNAUTHORIZED, "10401", "ClientId is Invalid");
    }
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !ct.starts_with("application/x-www-form-urlencoded") {
        return bad(
            "10400",
            "Invalid Content-Type; expected application/x-www-form-urlencoded",
        );
    }
    let grant = form_urlencoded::parse(&body)
        .find(|(k, _)| k == "grant_type")
        .map(|(_, v)| v.into_owned());
    match grant.as_deref() {
        Some("client_credentials") => {}
        None => return bad("10400", "Missing grant_type"),
        Some(_) => return bad("10400", "Unsupported grant_type"),
    }
    let now = st.clock.now();
    let day = now.format("%Y-%m-%d").to_string();
    let mut d = lock(&st.data);
    let used = d.tokens_by_day.get(&day).copied().unwrap_or(0);
    if used >= st.cfg.daily_quota {
        d.quota_rejections += 1;
        return err(
            StatusCode::TOO_MANY_REQUESTS,
            "10429",
            "Quota Limit Exceeded",
        );
    }
    let raw: [u8; 24] = rand::rng().random();
    let access = format!(
        "eyJraWQiOiJzaW0ifQ.{}",
        B64.encode(raw).replace(['+', '/', '='], "")
    );
    d.tokens.insert(
        access.clone(),
        now + Duration::seconds(st.cfg.expires_in as i64),
    );
    *d.tokens_by_day.entry(day).or_default() += 1;
    d.tokens_total += 1;
    if d.tokens.len() > 10_000 {
        d.tokens.retain(|_, exp| *exp > now);
    }
    drop(d);
    (
        StatusCode::OK,
        axum::Json(json!({
            "token_type": "Bearer",
            "issued_at": now.timestamp_millis().to_string(),
            "client_id": st.cfg.client_id,
            "access_token": access,
            "scope": "",
            "expires_in": st.cfg.expires_in.to_string(),
            "refresh_count": "0",
            "status": "approved",
        })),
    )
        .into_response()
}

fn response_header(customer_context: Option<&str>) -> Value {
    let mut r = json!({"ResponseStatus": {"Code": "1", "Description": "Success"}});
    if let Some(c) = customer_context
        && let Some(m) = r.as_object_mut()
    {
        m.insert("TransactionReference".into(), json!({"CustomerContext": c}));
    }
    r
}

async fn xav(
    State(st): State<Arc<UpsState>>,
    Path((version, option)): Path<(String, String)>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Res {
    check_bearer(&st, &headers)?;
    if !matches!(version.as_str(), "v2" | "v1") {
        return Err(err(
            StatusCode::NOT_FOUND,
            "404",
            "Unsupported API version.",
        ));
    }
    let option: u8 = match option.parse() {
        Ok(n @ 1..=3) => n,
        _ => {
            return Err(bad(
                "264001",
                "Invalid request option. Valid values are 1, 2 and 3.",
            ));
        }
    };
    let mut max = 15usize;
    for (k, v) in form_urlencoded::parse(q.unwrap_or_default().as_bytes()) {
        if k == "maximumcandidatelistsize" {
            max = match v.parse::<usize>() {
                Ok(n) if n <= 50 => n,
                _ => {
                    return Err(bad(
                        "264003",
                        "The maximum number of candidates is invalid.",
                    ));
                }
            };
        }
    }
    let body = parse_body(&body)?;
    let akf = req_obj(&body, &["XAVRequest", "AddressKeyFormat"])?;
    let country = req_str(akf, &["CountryCode"])
        .map_err(|_| missing("XAVRequest.AddressKeyFormat.CountryCode"))?;
    if country != "US" && country != "PR" {
        return Err(bad(
            "264002",
            "Country Code is invalid or missing. Street level validation covers US and PR only.",
        ));
    }
    let lines = address_lines(akf.get("AddressLine")).unwrap_or_default();
    let (mut city, mut state, mut zip) = (
        opt_str(akf, &["PoliticalDivision2"]).unwrap_or_default(),
        opt_str(akf, &["PoliticalDivision1"]).unwrap_or_default(),
        opt_str(akf, &["PostcodePrimaryLow"]).unwrap_or_default(),
    );
    if let Some(region) = opt_str(akf, &["Region"]) {
        // "City,ST,ZIP" single-line form overrides the separate fields.
        let parts: Vec<&str> = region.split(',').map(str::trim).collect();
        city = parts.first().map(|s| s.to_string()).unwrap_or_default();
        let rest: Vec<&str> = parts
            .get(1)
            .map(|s| s.split_whitespace().collect())
            .unwrap_or_default();
        state = rest.first().map(|s| s.to_string()).unwrap_or_default();
        zip = rest
            .get(1)
            .or(parts.get(2))
            .map(|s| s.to_string())
            .unwrap_or_default();
    }
    let result = model::validate_us(&lines, &city, &state, &zip, max);
    let classification = |res: bool| {
        if res {
            json!({"Code": "2", "Description": "Residential"})
        } else {
            json!({"Code": "1", "Description": "Commercial"})
        }
    };
    let cand = |c: &model::Candidate| {
        let mut m = Map::new();
        if option != 1 {
            m.insert(
                "AddressClassification".into(),
                classification(c.residential),
            );
        }
        m.insert(
            "AddressKeyFormat".into(),
            json!({
                "AddressLine": c.lines,
                "PoliticalDivision2": c.city,
                "PoliticalDivision1": c.state,
                "PostcodePrimaryLow": c.zip,
                "PostcodeExtendedLow": c.zip4,
                "Region": format!("{} {} {}-{}", c.city, c.state, c.zip, c.zip4),
                "CountryCode": country,
            }),
        );
        Value::Object(m)
    };
    let mut out = Map::new();
    out.insert("Response".into(), response_header(None));
    let (indicator, cands, top_class) = match &result {
        Xav::Valid(c) => (
            "ValidAddressIndicator",
            vec![cand(c)],
            classification(c.residential),
        ),
        Xav::Ambiguous(cs) => (
            "AmbiguousAddressIndicator",
            cs.iter().map(cand).collect(),
            cs.first()
                .map(|c| classification(c.residential))
                .unwrap_or(json!({"Code": "0", "Description": "UnClassified"})),
        ),
        Xav::NoCandidates => (
            "NoCandidatesIndicator",
            vec![],
            json!({"Code": "0", "Description": "UnClassified"}),
        ),
    };
    out.insert(indicator.into(), json!(""));
    if option != 1 {
        out.insert("AddressClassification".into(), top_class);
    }
    if !cands.is_empty() && max > 0 {
        out.insert("Candidate".into(), Value::Array(cands));
    }
    Ok(ok_json(&st, json!({"XAVResponse": Value::Object(out)})))
}

/// A validated package from a Rate or Ship request.
struct Pkg {
    weight: String,
    unit: String,
    lbs: f64,
    dims: Option<[String; 4]>,
    dim_lbs: f64,
    references: Vec<String>,
    packaging: String,
}

fn parse_party(
    v: &Value,
    path: &[&str],
    need_name: bool,
    need_city: bool,
) -> Result<UpsParty, Response> {
    let p = req_obj(v, path)?;
    let name = if need_name {
        req_str(p, &["Name"]).map_err(|_| missing(&format!("{}.Name", path.join("."))))?
    } else {
        opt_str(p, &["Name"]).unwrap_or_default()
    };
    let addr_path = format!("{}.Address", path.join("."));
    let a = match p.get("Address") {
        Some(a @ Value::Object(_)) => a,
        _ => return Err(missing(&addr_path)),
    };
    let lines = address_lines(a.get("AddressLine"))
        .map_err(|_| missing(&format!("{addr_path}.AddressLine")))?;
    let country =
        req_str(a, &["CountryCode"]).map_err(|_| missing(&format!("{addr_path}.CountryCode")))?;
    if country.len() != 2 {
        return Err(missing(&format!("{addr_path}.CountryCode")));
    }
    let city = opt_str(a, &["City"]).unwrap_or_default();
    if need_city && city.is_empty() {
        return Err(missing(&format!("{addr_path}.City")));
    }
    let state = opt_str(a, &["StateProvinceCode"]).unwrap_or_default();
    if need_city && (country == "US" || country == "CA") && state.is_empty() {
        return Err(bad(
            "120206",
            &format!("Missing or invalid {addr_path}.StateProvinceCode"),
        ));
    }
    let postal = opt_str(a, &["PostalCode"]).unwrap_or_default();
    if need_city
        && postal.is_empty()
        && matches!(
            country.as_str(),
            "US" | "CA" | "DE" | "GB" | "FR" | "NL" | "BE" | "IT" | "ES"
        )
    {
        return Err(bad(
            "120208",
            &format!("Missing or invalid {addr_path}.PostalCode"),
        ));
    }
    Ok(UpsParty {
        name,
        lines,
        city,
        state,
        postal,
        country,
    })
}

fn num_str(v: &Value, path: &[&str], label: &str) -> Result<f64, Response> {
    match at(v, path) {
        Some(Value::String(s)) => s
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|f| f.is_finite() && *f >= 0.0)
            .ok_or_else(|| missing(label)),
        _ => Err(missing(label)),
    }
}

fn parse_packages(ship: &Value, base: &str, packaging_key: &str) -> Result<Vec<Pkg>, Response> {
    let pkgs = many(ship.get("Package"));
    if pkgs.is_empty() {
        return Err(missing(&format!("{base}.Package")));
    }
    if pkgs.len() > 200 {
        return Err(bad("120700", "A shipment may have at most 200 packages."));
    }
    let mut out = Vec::new();
    for (i, p) in pkgs.iter().enumerate() {
        let pb = format!("{base}.Package[{i}]");
        let packaging = match p.get(packaging_key) {
            Some(Value::Object(_)) => {
                opt_str(p, &[packaging_key, "Code"]).unwrap_or_else(|| "02".into())
            }
            _ if packaging_key == "Packaging" => return Err(missing(&format!("{pb}.Packaging"))),
            _ => "02".into(),
        };
        let unit = req_str(p, &["PackageWeight", "UnitOfMeasurement", "Code"])
            .map_err(|_| missing(&format!("{pb}.PackageWeight.UnitOfMeasurement.Code")))?;
        let w = num_str(
            p,
            &["PackageWeight", "Weight"],
            &format!("{pb}.PackageWeight.Weight"),
        )?;
        let lbs = match unit.as_str() {
            "LBS" => w,
            "KGS" => w * 2.204_62,
            "OZS" => w / 16.0,
            _ => {
                return Err(bad(
                    "120801",
                    &format!("Invalid {pb}.PackageWeight.UnitOfMeasurement.Code '{unit}'"),
                ));
            }
        };
        if w <= 0.0 || lbs > 150.0 {
            return Err(bad(
                "120802",
                &format!("{pb}: package weight must be above 0 and at most 150 LBS / 70 KGS"),
            ));
        }
        let mut dims = None;
        let mut dim_lbs = 0.0;
        if let Some(d) = p.get("Dimensions") {
            let du = req_str(d, &["UnitOfMeasurement", "Code"])
                .map_err(|_| missing(&format!("{pb}.Dimensions.UnitOfMeasurement.Code")))?;
            let l = num_str(d, &["Length"], &format!("{pb}.Dimensions.Length"))?;
            let wd = num_str(d, &["Width"], &format!("{pb}.Dimensions.Width"))?;
            let h = num_str(d, &["Height"], &format!("{pb}.Dimensions.Height"))?;
            let to_in = match du.as_str() {
                "IN" => 1.0,
                "CM" => 1.0 / 2.54,
                _ => {
                    return Err(bad(
                        "120603",
                        &format!("Invalid {pb}.Dimensions.UnitOfMeasurement.Code '{du}'"),
                    ));
                }
            };
            let (li, wi, hi) = (l * to_in, wd * to_in, h * to_in);
            let longest = li.max(wi).max(hi);
            if longest > 108.0 || li + 2.0 * (wi + hi) > 165.0 + 1e-9 {
                return Err(bad(
                    "120604",
                    &format!(
                        "{pb}: package exceeds the maximum size (length 108 IN, length + girth 165 IN)"
                    ),
                ));
            }
            dim_lbs = li * wi * hi / 139.0;
            let raw = |k: &str| d.get(k).and_then(Value::as_str).unwrap_or("").to_string();
            dims = Some([raw("Length"), raw("Width"), raw("Height"), du]);
        }
        let references = many(p.get("ReferenceNumber"))
            .iter()
            .filter_map(|r| opt_str(r, &["Value"]))
            .collect();
        out.push(Pkg {
            weight: at(p, &["PackageWeight", "Weight"])
                .and_then(Value::as_str)
                .unwrap_or("")
                .trim()
                .to_string(),
            unit,
            lbs,
            dims,
            dim_lbs,
            references,
            packaging,
        });
    }
    Ok(out)
}

struct Priced {
    currency: String,
    transport: f64,
    options: f64,
    total: f64,
    negotiated: Option<f64>,
    billing_weight: String,
    billing_unit: String,
    per_package: Vec<(f64, String)>,
}

fn price(
    service: &str,
    shipper: &UpsParty,
    ship_to: &UpsParty,
    pkgs: &[Pkg],
    residential: bool,
    want_negotiated: bool,
    negotiated_account: bool,
) -> Priced {
    let billable: Vec<f64> = pkgs
        .iter()
        .map(|p| p.lbs.max(p.dim_lbs).ceil().max(1.0))
        .collect();
    let total_lbs: f64 = billable.iter().sum();
    let metric = pkgs.first().is_some_and(|p| p.unit == "KGS");
    let fmt_w = |lbs: f64| {
        if metric {
            format!("{:.1}", (lbs / 2.204_62 * 2.0).ceil() / 2.0)
        } else {
            format!("{lbs:.1}")
        }
    };
    let per_package: Vec<(f64, String)> = billable
        .iter()
        .map(|b| {
            (
                model::transport_charge(service, &shipper.postal, &ship_to.postal, *b),
                fmt_w(*b),
            )
        })
        .collect();
    let transport: f64 = per_package.iter().map(|(c, _)| c).sum();
    let options = if residential { 5.55 } else { 0.0 };
    let total = ((transport + options) * 100.0).round() / 100.0;
    Priced {
        currency: model::currency_for(&shipper.country).to_string(),
        transport,
        options,
        total,
        negotiated: (want_negotiated && negotiated_account).then(|| model::negotiated(total)),
        billing_weight: fmt_w(total_lbs),
        billing_unit: if metric { "KGS".into() } else { "LBS".into() },
        per_package,
    }
}

fn charge(cur: &str, v: f64) -> Value {
    json!({"CurrencyCode": cur, "MonetaryValue": money(v)})
}

fn rated_shipment(service: &str, p: &Priced) -> Value {
    let mut m = Map::new();
    m.insert(
        "Service".into(),
        json!({"Code": service, "Description": model::service_name(service).unwrap_or("")}),
    );
    m.insert(
        "RatedShipmentAlert".into(),
        json!([{"Code": "110971", "Description": "Your invoice may vary from the displayed reference rates"}]),
    );
    let uom_desc = if p.billing_unit == "KGS" {
        "Kilograms"
    } else {
        "Pounds"
    };
    m.insert(
        "BillingWeight".into(),
        json!({"UnitOfMeasurement": {"Code": p.billing_unit, "Description": uom_desc}, "Weight": p.billing_weight}),
    );
    m.insert(
        "TransportationCharges".into(),
        charge(&p.currency, p.transport),
    );
    m.insert(
        "ServiceOptionsCharges".into(),
        charge(&p.currency, p.options),
    );
    m.insert("TotalCharges".into(), charge(&p.currency, p.total));
    if let Some(n) = p.negotiated {
        m.insert(
            "NegotiatedRateCharges".into(),
            json!({"TotalCharge": charge(&p.currency, n)}),
        );
    }
    let pk: Vec<Value> = p
        .per_package
        .iter()
        .map(|(c, w)| {
            json!({
                "TransportationCharges": charge(&p.currency, *c),
                "ServiceOptionsCharges": charge(&p.currency, 0.0),
                "TotalCharges": charge(&p.currency, *c),
                "Weight": w,
                "BillingWeight": {"UnitOfMeasurement": {"Code": p.billing_unit, "Description": uom_desc}, "Weight": w},
            })
        })
        .collect();
    m.insert("RatedPackage".into(), Value::Array(pk));
    Value::Object(m)
}

async fn rate(
    State(st): State<Arc<UpsState>>,
    Path((version, option)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Res {
    check_bearer(&st, &headers)?;
    if !matches!(
        version.as_str(),
        "v2409" | "v2403" | "v2205" | "v2108" | "v1" | "v1601" | "v1607" | "v1701" | "v1707"
    ) {
        return Err(err(
            StatusCode::NOT_FOUND,
            "404",
            "Unsupported API version.",
        ));
    }
    let shop = match option.to_ascii_lowercase().as_str() {
        "rate" | "ratetimeintransit" => false,
        "shop" | "shoptimeintransit" => true,
        _ => {
            return Err(bad(
                "111500",
                "Invalid request option. Valid values are Rate, Shop, Ratetimeintransit, Shoptimeintransit.",
            ));
        }
    };
    let body = parse_body(&body)?;
    req_obj(&body, &["RateRequest", "Request"])?;
    req_str(&body, &["RateRequest", "Request", "RequestOption"])?;
    let ship = req_obj(&body, &["RateRequest", "Shipment"])?;
    let shipper = parse_party(ship, &["Shipper"], false, false)
        .map_err(|_| missing("RateRequest.Shipment.Shipper.Address"))?;
    let ship_to = parse_party(ship, &["ShipTo"], false, false)
        .map_err(|_| missing("RateRequest.Shipment.ShipTo.Address"))?;
    if ship.get("ShipFrom").is_some() {
        parse_party(ship, &["ShipFrom"], false, false)
            .map_err(|_| missing("RateRequest.Shipment.ShipFrom.Address"))?;
    }
    if let Some(pd) = ship.get("PaymentDetails") {
        let charges = many(pd.get("ShipmentCharge"));
        if charges.is_empty() || charges.iter().any(|c| opt_str(c, &["Type"]).is_none()) {
            return Err(missing(
                "RateRequest.Shipment.PaymentDetails.ShipmentCharge.Type",
            ));
        }
    }
    let pkgs = parse_packages(ship, "RateRequest.Shipment", "PackagingType")?;
    let residential = at(ship, &["ShipTo", "Address", "ResidentialAddressIndicator"]).is_some();
    let want_neg = at(ship, &["ShipmentRatingOptions", "NegotiatedRatesIndicator"]).is_some();
    let lane = model::lane_services(&shipper.country, &ship_to.country);
    let services: Vec<String> = if shop {
        lane.iter().map(|s| s.to_string()).collect()
    } else {
        let code = req_str(ship, &["Service", "Code"])
            .map_err(|_| missing("RateRequest.Shipment.Service.Code"))?;
        if !lane.contains(&code.as_str()) {
            return Err(bad(
                "111210",
                "The requested service is unavailable between the selected locations.",
            ));
        }
        vec![code]
    };
    let rated: Vec<Value> = services
        .iter()
        .map(|s| {
            rated_shipment(
                s,
                &price(
                    s,
                    &shipper,
                    &ship_to,
                    &pkgs,
                    residential,
                    want_neg,
                    st.cfg.negotiated,
                ),
            )
        })
        .collect();
    let ctx = opt_str(
        &body,
        &[
            "RateRequest",
            "Request",
            "TransactionReference",
            "CustomerContext",
        ],
    );
    Ok(ok_json(
        &st,
        json!({"RateResponse": {"Response": response_header(ctx.as_deref()), "RatedShipment": rated}}),
    ))
}

const GIF_1X1: &str = "R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7";
const PNG_1X1: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==";

fn label_for(format: &str, tn: &str) -> String {
    match format {
        "GIF" => GIF_1X1.to_string(),
        "PNG" => PNG_1X1.to_string(),
        "ZPL" => B64.encode(format!(
            "^XA^FO40,40^A0N,40,40^FDUPS {tn}^FS^FO40,100^BCN,120,Y,N,N^FD{tn}^FS^XZ"
        )),
        "EPL" => B64.encode(format!("N\nA40,40,0,4,1,1,N,\"UPS {tn}\"\nP1\n")),
        _ => B64.encode(format!("SPL label {tn}")),
    }
}

async fn ship(
    State(st): State<Arc<UpsState>>,
    Path(version): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Res {
    check_bearer(&st, &headers)?;
    if !matches!(
        version.as_str(),
        "v2409"
            | "v2403"
            | "v2205"
            | "v2108"
            | "v1"
            | "v1601"
            | "v1607"
            | "v1701"
            | "v1707"
            | "v1801"
            | "v1807"
    ) {
        return Err(err(
            StatusCode::NOT_FOUND,
            "404",
            "Unsupported API version.",
        ));
    }
    let body = parse_body(&body)?;
    let req_opt = req_str(&body, &["ShipmentRequest", "Request", "RequestOption"])?;
    if !matches!(
        req_opt.to_ascii_lowercase().as_str(),
        "validate" | "nonvalidate"
    ) {
        return Err(bad(
            "120002",
            "Invalid RequestOption. Valid values are validate and nonvalidate.",
        ));
    }
    let ship = req_obj(&body, &["ShipmentRequest", "Shipment"])?;
    let shipper = parse_party(ship, &["Shipper"], true, true)
        .map_err(|e| prefix_err(e, "ShipmentRequest.Shipment."))?;
    let shipper_no = req_str(ship, &["Shipper", "ShipperNumber"])
        .map_err(|_| missing("ShipmentRequest.Shipment.Shipper.ShipperNumber"))?;
    if shipper_no != st.cfg.account_number {
        return Err(bad("120100", "Missing or invalid shipper number"));
    }
    let ship_to = parse_party(ship, &["ShipTo"], true, true)
        .map_err(|e| prefix_err(e, "ShipmentRequest.Shipment."))?;
    if ship.get("ShipFrom").is_some() {
        parse_party(ship, &["ShipFrom"], true, true)
            .map_err(|e| prefix_err(e, "ShipmentRequest.Shipment."))?;
    }
    let charges = many(at(ship, &["PaymentInformation", "ShipmentCharge"]));
    if charges.is_empty() {
        return Err(missing(
            "ShipmentRequest.Shipment.PaymentInformation.ShipmentCharge",
        ));
    }
    for c in &charges {
        let t = opt_str(c, &["Type"]).ok_or_else(|| {
            missing("ShipmentRequest.Shipment.PaymentInformation.ShipmentCharge.Type")
        })?;
        if !matches!(t.as_str(), "01" | "02" | "03") {
            return Err(bad("120412", "Invalid ShipmentCharge.Type"));
        }
        if let Some(acct) = opt_str(c, &["BillShipper", "AccountNumber"])
            && acct != st.cfg.account_number
        {
            return Err(bad("120124", "The bill shipper account number is invalid."));
        }
    }
    let service = req_str(ship, &["Service", "Code"])
        .map_err(|_| missing("ShipmentRequest.Shipment.Service.Code"))?;
    if model::service_name(&service).is_none() {
        return Err(bad("120500", "Invalid or missing Service.Code"));
    }
    if !model::lane_services(&shipper.country, &ship_to.country).contains(&service.as_str()) {
        return Err(bad(
            "111210",
            "The requested service is unavailable between the selected locations.",
        ));
    }
    let pkgs = parse_packages(ship, "ShipmentRequest.Shipment", "Packaging")?;
    let lf = req_str(
        &body,
        &[
            "ShipmentRequest",
            "LabelSpecification",
            "LabelImageFormat",
            "Code",
        ],
    )?;
    let lf = lf.to_ascii_uppercase();
    if !matches!(lf.as_str(), "GIF" | "PNG" | "ZPL" | "EPL" | "SPL") {
        return Err(bad(
            "120300",
            "Invalid LabelImageFormat.Code. Valid values are GIF, PNG, ZPL, EPL, SPL.",
        ));
    }
    if matches!(lf.as_str(), "ZPL" | "EPL" | "SPL") {
        req_str(
            &body,
            &[
                "ShipmentRequest",
                "LabelSpecification",
                "LabelStockSize",
                "Height",
            ],
        )?;
        req_str(
            &body,
            &[
                "ShipmentRequest",
                "LabelSpecification",
                "LabelStockSize",
                "Width",
            ],
        )?;
    }
    let residential = at(ship, &["ShipTo", "Address", "ResidentialAddressIndicator"]).is_some();
    let want_neg = at(ship, &["ShipmentRatingOptions", "NegotiatedRatesIndicator"]).is_some();
    let priced = price(
        &service,
        &shipper,
        &ship_to,
        &pkgs,
        residential,
        want_neg,
        st.cfg.negotiated,
    );
    let mut refs: Vec<String> = many(ship.get("ReferenceNumber"))
        .iter()
        .filter_map(|r| opt_str(r, &["Value"]))
        .collect();
    for p in &pkgs {
        refs.extend(p.references.iter().cloned());
    }
    let mut seen = std::collections::HashSet::new();
    refs.retain(|r| seen.insert(r.clone()));
    let ctx = opt_str(
        &body,
        &[
            "ShipmentRequest",
            "Request",
            "TransactionReference",
            "CustomerContext",
        ],
    );

    let now = st.clock.now();
    let mut d = st.data_now();
    let mut packages = Vec::new();
    for p in &pkgs {
        d.serial += 1;
        let serial = d.serial + (st.cfg.seed % 1000) as u32 * 1000;
        let tn = model::tracking_number(&st.cfg.account_number, &service, serial);
        packages.push(UpsPackage {
            tracking_number: tn.clone(),
            weight: p.weight.clone(),
            weight_unit: p.unit.clone(),
            dimensions: p.dims.clone(),
            references: p.references.clone(),
            label: label_for(&lf, &tn),
        });
        let _ = &p.packaging;
    }
    let id = packages
        .first()
        .map(|p| p.tracking_number.clone())
        .unwrap_or_default();
    let (events, scheduled) = model::schedule(
        st.cfg.seed,
        &id,
        &service,
        now,
        &shipper.place(),
        &ship_to.place(),
    );
    let idx = d.shipments.len();
    for p in &packages {
        d.by_tn.insert(p.tracking_number.clone(), idx);
    }
    d.by_id.insert(id.clone(), idx);
    d.shipments.push(Shipment {
        id: id.clone(),
        created_at: now,
        voided_at: None,
        service: service.clone(),
        shipper,
        ship_to,
        references: refs,
        customer_context: ctx.clone(),
        packages: packages.clone(),
        currency: priced.currency.clone(),
        total: priced.total,
        negotiated: priced.negotiated,
        billing_weight: priced.billing_weight.clone(),
        billing_unit: priced.billing_unit.clone(),
        label_format: lf.clone(),
        pending: VecDeque::from(events),
        events: Vec::new(),
        scheduled,
    });
    d.recompute_due();
    d.materialize(now, &st.cfg.client_id);
    drop(d);
    st.kick();

    let cur = priced.currency.clone();
    let mut results = Map::new();
    let mut sc = Map::new();
    sc.insert(
        "TransportationCharges".into(),
        charge(&cur, priced.transport),
    );
    sc.insert("ServiceOptionsCharges".into(), charge(&cur, priced.options));
    sc.insert("TotalCharges".into(), charge(&cur, priced.total));
    results.insert("ShipmentCharges".into(), Value::Object(sc));
    if let Some(n) = priced.negotiated {
        results.insert(
            "NegotiatedRateCharges".into(),
            json!({"TotalCharge": charge(&cur, n)}),
        );
    }
    let uom_desc = if priced.billing_unit == "KGS" {
        "Kilograms"
    } else {
        "Pounds"
    };
    results.insert(
        "BillingWeight".into(),
        json!({"UnitOfMeasurement": {"Code": priced.billing_unit, "Description": uom_desc}, "Weight": priced.billing_weight}),
    );
    results.insert("ShipmentIdentificationNumber".into(), json!(id));
    let pr: Vec<Value> = packages
        .iter()
        .map(|p| {
            let mut label = json!({
                "ImageFormat": {"Code": lf, "Description": lf},
                "GraphicImage": p.label,
            });
            if (lf == "GIF" || lf == "PNG")
                && let Some(m) = label.as_object_mut()
            {
                m.insert(
                    "HTMLImage".into(),
                    json!(B64.encode(format!(
                        "<html><body><img src=\"label{}.{}\"></body></html>",
                        p.tracking_number,
                        lf.to_lowercase()
                    ))),
                );
            }
            json!({
                "TrackingNumber": p.tracking_number,
                "ServiceOptionsCharges": charge(&cur, 0.0),
                "ShippingLabel": label,
            })
        })
        .collect();
    results.insert("PackageResults".into(), Value::Array(pr));
    let mut resp = response_header(ctx.as_deref());
    if let Some(m) = resp.as_object_mut() {
        m.insert(
            "Alert".into(),
            json!([{"Code": "120900", "Description": "User Id and Shipper Number combination is not qualified to receive negotiated rates"}]),
        );
        if priced.negotiated.is_some() || !want_neg {
            m.remove("Alert");
        }
    }
    Ok(ok_json(
        &st,
        json!({"ShipmentResponse": {"Response": resp, "ShipmentResults": Value::Object(results)}}),
    ))
}

fn prefix_err(r: Response, _prefix: &str) -> Response {
    r
}

/// Label Recovery: the label of a package shipped earlier, by tracking number, in the format
/// asked for (`LabelSpecification.LabelImageFormat.Code`, default GIF).
async fn label_recovery(
    State(st): State<Arc<UpsState>>,
    Path(version): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Res {
    check_bearer(&st, &headers)?;
    if version != "v1" {
        return Err(err(
            StatusCode::NOT_FOUND,
            "404",
            "Unsupported API version.",
        ));
    }
    let body = parse_body(&body)?;
    let tn = req_str(&body, &["LabelRecoveryRequest", "TrackingNumber"])?.to_uppercase();
    let format = opt_str(
        &body,
        &[
            "LabelRecoveryRequest",
            "LabelSpecification",
            "LabelImageFormat",
            "Code",
        ],
    )
    .unwrap_or_else(|| "GIF".into())
    .to_uppercase();
    if !matches!(format.as_str(), "GIF" | "PNG" | "ZPL" | "EPL" | "SPL") {
        return Err(bad("190204", "Invalid LabelImageFormat code."));
    }
    let d = st.data_now();
    let Some(shipment) = d.by_tn.get(&tn).and_then(|&i| d.shipments.get(i)) else {
        return Err(bad(
            "190202",
            "No shipment found for the tracking number provided.",
        ));
    };
    let id = shipment.id.clone();
    drop(d);
    Ok(ok_json(
        &st,
        json!({"LabelRecoveryResponse": {
            "Response": response_header(None),
            "ShipmentIdentificationNumber": id,
            "LabelResults": {
                "TrackingNumber": tn,
                "LabelImage": {
                    "LabelImageFormat": {"Code": format},
                    "GraphicImage": label_for(&format, &tn),
                },
            },
        }}),
    ))
}

async fn void(
    State(st): State<Arc<UpsState>>,
    Path((version, id)): Path<(String, String)>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Res {
    check_bearer(&st, &headers)?;
    if !matches!(version.as_str(), "v2409" | "v1" | "v3") {
        return Err(err(
            StatusCode::NOT_FOUND,
            "404",
            "Unsupported API version.",
        ));
    }
    let id = id.trim().to_uppercase();
    let mut wanted: Vec<String> = Vec::new();
    for (k, v) in form_urlencoded::parse(q.unwrap_or_default().as_bytes()) {
        if k == "trackingnumber" {
            let cleaned = v.trim_matches(|c| c == '[' || c == ']');
            wanted.extend(
                cleaned
                    .split(',')
                    .map(|s| s.trim().trim_matches('"').to_string())
                    .filter(|s| !s.is_empty()),
            );
        }
    }
    if wanted.len() > 20 {
        return Err(bad(
            "190103",
            "At most 20 tracking numbers may be voided at once.",
        ));
    }
    let now = st.clock.now();
    let mut d = st.data_now();
    let Some(&idx) = d.by_id.get(&id) else {
        return Err(bad(
            "190117",
            "No shipment found within the allowed void period",
        ));
    };
    let (tns, picked_up, already) = {
        let s = &d.shipments[idx];
        let tns: Vec<String> = s
            .packages
            .iter()
            .map(|p| p.tracking_number.clone())
            .collect();
        (
            tns,
            s.events.iter().any(|e| e.kind != "M"),
            s.voided_at.is_some(),
        )
    };
    if let Some(bad_tn) = wanted.iter().find(|t| !tns.contains(t)) {
        return Err(bad(
            "190102",
            &format!("Tracking number {bad_tn} does not belong to shipment {id}"),
        ));
    }
    if picked_up && !already {
        return Err(bad(
            "190101",
            "The shipment cannot be voided: UPS has already picked it up.",
        ));
    }
    d.void(idx, now, &st.cfg.client_id);
    drop(d);
    st.kick();
    let list = if wanted.is_empty() { tns } else { wanted };
    let plr: Vec<Value> = list
        .iter()
        .map(|t| json!({"TrackingNumber": t, "Status": {"Code": "1", "Description": "Voided"}}))
        .collect();
    Ok(ok_json(
        &st,
        json!({"VoidShipmentResponse": {
            "Response": response_header(None),
            "SummaryResult": {"Status": {"Code": "1", "Description": "Voided"}},
            "PackageLevelResults": plr,
        }}),
    ))
}

fn status_json(e: &model::TrackEvent) -> Value {
    json!({
        "type": e.kind,
        "code": e.code,
        "description": e.detail,
        "simplifiedTextDescription": e.desc,
        "statusCode": e.status_code,
    })
}

fn package_json(s: &Shipment, p: &UpsPackage) -> Value {
    let activity: Vec<Value> = s
        .events
        .iter()
        .rev()
        .map(|e| {
            let local = e.local();
            let off = e.offset_hours();
            json!({
                "location": {"address": {
                    "city": e.place.city,
                    "stateProvince": e.place.state,
                    "countryCode": e.place.country,
                    "country": e.place.country,
                    "postalCode": if e.kind == "D" { e.place.postal.clone() } else { String::new() },
                }, "slic": "4321"},
                "status": status_json(e),
                "date": local.format("%Y%m%d").to_string(),
                "time": local.format("%H%M%S").to_string(),
                "gmtDate": e.at.format("%Y%m%d").to_string(),
                "gmtOffset": format!("{}{:02}:00", if off < 0 { '-' } else { '+' }, off.abs()),
                "gmtTime": e.at.format("%H%M%S").to_string(),
                "logicalScan": e.kind == "M" || e.kind == "MV",
            })
        })
        .collect();
    let delivered = s.events.iter().find(|e| e.kind == "D");
    let mut m = Map::new();
    m.insert("trackingNumber".into(), json!(p.tracking_number));
    let mut dd = vec![json!({"type": "SDD", "date": s.scheduled.format("%Y%m%d").to_string()})];
    if let Some(e) = delivered {
        dd.push(json!({"type": "DEL", "date": e.local().format("%Y%m%d").to_string()}));
        m.insert(
            "deliveryTime".into(),
            json!({"type": "DEL", "endTime": e.local().format("%H%M%S").to_string()}),
        );
        m.insert(
            "deliveryInformation".into(),
            json!({"receivedBy": "RECEIVING", "location": "Front Desk"}),
        );
    } else {
        m.insert(
            "deliveryTime".into(),
            json!({"type": "EOD", "endTime": "235900"}),
        );
    }
    m.insert("deliveryDate".into(), Value::Array(dd));
    m.insert("activity".into(), Value::Array(activity));
    if let Some(e) = s.events.last() {
        m.insert("currentStatus".into(), status_json(e));
    }
    m.insert(
        "packageAddress".into(),
        json!([
            {"type": "ORIGIN", "name": s.shipper.name, "address": {"city": s.shipper.city, "stateProvince": s.shipper.state, "countryCode": s.shipper.country, "country": s.shipper.country}},
            {"type": "DESTINATION", "name": s.ship_to.name, "address": {"city": s.ship_to.city, "stateProvince": s.ship_to.state, "countryCode": s.ship_to.country, "country": s.ship_to.country}},
        ]),
    );
    m.insert(
        "weight".into(),
        json!({"unitOfMeasurement": p.weight_unit, "weight": p.weight}),
    );
    if let Some([l, w, h, u]) = &p.dimensions {
        m.insert(
            "dimension".into(),
            json!({"length": l, "width": w, "height": h, "unitOfDimension": u}),
        );
    }
    m.insert(
        "service".into(),
        json!({"code": format!("0{}", s.service), "levelCode": format!("0{}", s.service), "description": model::service_name(&s.service).unwrap_or("")}),
    );
    let refs: Vec<Value> = s
        .references
        .iter()
        .map(|r| json!({"type": if p.references.contains(r) { "PACKAGE" } else { "SHIPMENT" }, "number": r}))
        .collect();
    m.insert("referenceNumber".into(), Value::Array(refs));
    m.insert("packageCount".into(), json!(s.packages.len()));
    Value::Object(m)
}

fn not_found_track() -> Response {
    err(
        StatusCode::NOT_FOUND,
        "TW0001",
        "Tracking Information Not Found",
    )
}

async fn track(State(st): State<Arc<UpsState>>, Path(n): Path<String>, headers: HeaderMap) -> Res {
    check_bearer(&st, &headers)?;
    require_trans_headers(&headers)?;
    let n = n.trim().to_uppercase();
    if !(7..=34).contains(&n.len()) {
        return Err(bad("TV1002", "Invalid inquiry number"));
    }
    let d = st.data_now();
    let Some(&idx) = d.by_tn.get(&n) else {
        return Err(not_found_track());
    };
    let s = &d.shipments[idx];
    let Some(p) = s.packages.iter().find(|p| p.tracking_number == n) else {
        return Err(not_found_track());
    };
    let body = json!({"trackResponse": {"shipment": [{"inquiryNumber": n, "package": [package_json(s, p)]}]}});
    Ok((StatusCode::OK, axum::Json(body)).into_response())
}

async fn track_shipment(
    State(st): State<Arc<UpsState>>,
    Path(n): Path<String>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Res {
    check_bearer(&st, &headers)?;
    require_trans_headers(&headers)?;
    let (mut offset, mut count) = (0usize, 50usize);
    for (k, v) in form_urlencoded::parse(q.unwrap_or_default().as_bytes()) {
        match k.as_ref() {
            "offset" => offset = v.parse().map_err(|_| bad("TV1003", "Invalid offset"))?,
            "count" => count = v.parse().map_err(|_| bad("TV1004", "Invalid count"))?,
            _ => {}
        }
    }
    let n = n.trim().to_uppercase();
    let d = st.data_now();
    let Some(&idx) = d.by_tn.get(&n) else {
        return Err(not_found_track());
    };
    let s = &d.shipments[idx];
    let pk: Vec<Value> = s
        .packages
        .iter()
        .skip(offset)
        .take(count)
        .map(|p| package_json(s, p))
        .collect();
    let body = json!({"trackResponse": {"shipment": [{"inquiryNumber": n, "package": pk}]}});
    Ok((StatusCode::OK, axum::Json(body)).into_response())
}

fn parse_ymd(s: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(s, "%Y%m%d").ok()
}

async fn track_reference(
    State(st): State<Arc<UpsState>>,
    Path(r): Path<String>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Res {
    check_bearer(&st, &headers)?;
    require_trans_headers(&headers)?;
    let now = st.clock.now();
    let mut from = (now - Duration::days(14)).date_naive();
    let mut to = now.date_naive();
    let (mut dest_country, mut dest_zip, mut shipper_num) = (None, None, None);
    for (k, v) in form_urlencoded::parse(q.unwrap_or_default().as_bytes()) {
        match k.as_ref() {
            "fromPickUpDate" => {
                from = parse_ymd(&v)
                    .ok_or_else(|| bad("TV1005", "Invalid fromPickUpDate (YYYYMMDD)"))?
            }
            "toPickUpDate" => {
                to =
                    parse_ymd(&v).ok_or_else(|| bad("TV1006", "Invalid toPickUpDate (YYYYMMDD)"))?
            }
            "destCountry" if !v.is_empty() => dest_country = Some(v.into_owned()),
            "destZip" if !v.is_empty() => dest_zip = Some(v.into_owned()),
            "shipperNum" if !v.is_empty() => shipper_num = Some(v.into_owned()),
            "refNumType" if !matches!(v.as_ref(), "SmallPackage" | "fgv" | "") => {
                return Err(bad(
                    "TV1007",
                    "Invalid refNumType. Valid values are SmallPackage and fgv.",
                ));
            }
            _ => {}
        }
    }
    if shipper_num
        .as_deref()
        .is_some_and(|s| s != st.cfg.account_number)
    {
        return Err(not_found_track());
    }
    let r = r.trim().to_string();
    let d = st.data_now();
    let mut pk = Vec::new();
    for s in &d.shipments {
        let day = s.created_at.date_naive();
        if day < from || day > to || !s.references.iter().any(|x| x.eq_ignore_ascii_case(&r)) {
            continue;
        }
        if dest_country
            .as_deref()
            .is_some_and(|c| c != s.ship_to.country)
            || dest_zip.as_deref().is_some_and(|z| z != s.ship_to.postal)
        {
            continue;
        }
        pk.extend(s.packages.iter().map(|p| package_json(s, p)));
    }
    if pk.is_empty() {
        return Err(not_found_track());
    }
    let body = json!({"trackResponse": {"shipment": [{"inquiryNumber": r, "package": pk}]}});
    Ok((StatusCode::OK, axum::Json(body)).into_response())
}

fn ta_err(status: StatusCode, code: &str, message: &str, invalid: Option<&[String]>) -> Response {
    // The v2 schema requires the list even when no number was at fault.
    let mut m = Map::new();
    m.insert(
        "invalidTrackingNumbers".into(),
        json!(invalid.unwrap_or(&[])),
    );
    m.insert(
        "response".into(),
        json!({"errors": [{"code": code, "message": message}]}),
    );
    (status, axum::Json(Value::Object(m))).into_response()
}

async fn subscribe(
    State(st): State<Arc<UpsState>>,
    Path((version, kind)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Res {
    if !matches!(version.as_str(), "v1" | "v2") {
        return Err(err(
            StatusCode::NOT_FOUND,
            "404",
            "The requested resource was not found.",
        ));
    }
    if !matches!(kind.as_str(), "standard" | "enhanced") {
        return Err(ta_err(
            StatusCode::BAD_REQUEST,
            "VSS930",
            "Invalid subscription type. The Subscription request has been rejected.",
            None,
        ));
    }
    check_bearer(&st, &headers)?;
    require_trans_headers(&headers)?;
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return Err(ta_err(
            StatusCode::BAD_REQUEST,
            "VSS000",
            "Invalid request body. The Subscription request has been rejected.",
            None,
        ));
    };
    let reject = |code: &str, msg: &str| {
        ta_err(
            StatusCode::BAD_REQUEST,
            code,
            &format!("{msg} The Subscription request has been rejected."),
            None,
        )
    };
    let locale = match body.get("locale") {
        None | Some(Value::Null) => return Err(reject("VSS300", "Locale is required.")),
        Some(Value::String(s)) => s.clone(),
        Some(_) => return Err(reject("VSS310", "Locale is invalid.")),
    };
    let lb = locale.as_bytes();
    let locale_ok = lb.len() == 5
        && lb[0].is_ascii_lowercase()
        && lb[1].is_ascii_lowercase()
        && lb[2] == b'_'
        && lb[3].is_ascii_uppercase()
        && lb[4].is_ascii_uppercase();
    if !locale_ok {
        return Err(reject("VSS310", "Locale is invalid."));
    }
    if let Some(cc) = body.get("countryCode")
        && !cc
            .as_str()
            .is_some_and(|c| c.len() == 2 && c.chars().all(|x| x.is_ascii_uppercase()))
    {
        return Err(reject("VSS400", "Country code is invalid."));
    }
    let Some(list) = body.get("trackingNumberList").and_then(Value::as_array) else {
        return Err(reject("VSS200", "trackingNumberList is required."));
    };
    if list.len() > 100 {
        return Err(ta_err(
            StatusCode::BAD_REQUEST,
            "VSS220",
            "You have submitted over 100 tracking numbers which is not allowed. The entire submission of tracking numbers has been rejected. Please resubmit your request in groups of no more than 100 tracking numbers.",
            None,
        ));
    }
    let mut prefs = Vec::new();
    if let Some(p) = body.get("eventPreferences") {
        let arr = p
            .as_array()
            .ok_or_else(|| reject("VSS110", "eventPreferences is invalid."))?;
        if kind != "enhanced" || arr.is_empty() || arr.len() > 4 {
            return Err(reject(
                "VSS110",
                "eventPreferences is only valid for enhanced subscriptions, with 1 to 4 values.",
            ));
        }
        for x in arr {
            match x.as_str() {
                Some(v @ ("D" | "I" | "M" | "X")) => prefs.push(v.to_string()),
                _ => {
                    return Err(reject(
                        "VSS110",
                        "eventPreferences values must be D, I, M or X.",
                    ));
                }
            }
        }
    }
    let (url, credential, credential_type) = if version == "v1" {
        let Some(dest) = body.get("destination").filter(|d| d.is_object()) else {
            return Err(reject("VSS500", "Destination is required."));
        };
        let url = match dest.get("url").and_then(Value::as_str) {
            Some(u) if !u.trim().is_empty() => u.trim().to_string(),
            _ => return Err(reject("VSS600", "Destination URL is required.")),
        };
        if url.len() > 2048 || !(url.starts_with("https://") || url.starts_with("http://")) {
            return Err(reject("VSS610", "Destination URL is invalid or too long."));
        }
        let cred = match dest.get("credential").and_then(Value::as_str) {
            Some(c) if !c.is_empty() => c.to_string(),
            _ => return Err(reject("VSS700", "Credential is required.")),
        };
        let ctype = match dest.get("credentialType").and_then(Value::as_str) {
            Some(c) if !c.is_empty() => c.to_string(),
            _ => return Err(reject("VSS800", "CredentialType is required.")),
        };
        (Some(url), Some(cred), Some(ctype))
    } else {
        let cfg = lock(&st.data).webhook_v2.clone();
        (
            cfg.as_ref().map(|c| c.url.clone()),
            cfg.and_then(|c| c.credential),
            None,
        )
    };
    let now = st.clock.now();
    let mut d = st.data_now();
    let mut valid = Vec::new();
    let mut invalid = Vec::new();
    for item in list {
        let raw = item
            .as_str()
            .map(|s| s.trim().to_string())
            .unwrap_or_else(|| item.to_string());
        let known = d
            .by_tn
            .get(&raw)
            .is_some_and(|&i| d.shipments[i].voided_at.is_none());
        if model::valid_1z(&raw) && known {
            valid.push(raw);
        } else {
            invalid.push(raw);
        }
    }
    if valid.is_empty() {
        return Err(ta_err(
            StatusCode::BAD_REQUEST,
            "VSS210",
            "No valid tracking numbers were submitted. The Subscription request has been rejected.",
            Some(&invalid),
        ));
    }
    for tn in &valid {
        d.subs.insert(
            tn.clone(),
            Subscription {
                tracking_number: tn.clone(),
                version: version.clone(),
                kind: kind.clone(),
                url: url.clone(),
                credential: credential.clone(),
                credential_type: credential_type.clone(),
                subscribed_at: now,
                expires_at: now + Duration::days(14),
                event_preferences: prefs.clone(),
            },
        );
    }
    drop(d);
    let mut m = Map::new();
    m.insert("validTrackingNumbers".into(), json!(valid));
    if !invalid.is_empty() {
        m.insert("invalidTrackingNumbers".into(), json!(invalid));
    }
    Ok((StatusCode::OK, axum::Json(Value::Object(m))).into_response())
}

const QV_PAGE: usize = 50;
const QV_SUBSCRIBER: &str = "MLCONNECTSIM";

fn qv_err(code: &str, msg: &str) -> Response {
    bad(code, msg)
}

fn parse_qv_time(s: &str) -> Option<DateTime<Utc>> {
    chrono::NaiveDateTime::parse_from_str(s, "%Y%m%d%H%M%S")
        .ok()
        .map(|n| n.and_utc())
}

fn qv_refs(s: &Shipment) -> Vec<Value> {
    s.references
        .iter()
        .take(5)
        .enumerate()
        .map(|(i, r)| json!({"Number": (i + 1).to_string(), "Value": r}))
        .collect()
}

fn qv_record(
    d: &UpsData,
    account: &str,
    idx: usize,
    e: &model::TrackEvent,
    out: &mut Map<String, Value>,
) {
    let Some(s) = d.shipments.get(idx) else {
        return;
    };
    let local = e.local();
    let date = local.format("%Y%m%d").to_string();
    let time = local.format("%H%M%S").to_string();
    let mut loc = Map::new();
    loc.insert("PoliticalDivision2".into(), json!(e.place.city));
    if (2..=5).contains(&e.place.state.len()) {
        loc.insert("PoliticalDivision1".into(), json!(e.place.state));
    }
    let push = |out: &mut Map<String, Value>, key: &str, v: Value| {
        if let Some(Value::Array(a)) = out.get_mut(key) {
            a.push(v);
        } else {
            out.insert(key.to_string(), Value::Array(vec![v]));
        }
    };
    match e.kind {
        "M" => {
            let packages: Vec<Value> = s
                .packages
                .iter()
                .map(|p| {
                    json!({
                        "TrackingNumber": p.tracking_number,
                        "PackageWeight": {"Weight": format!("{:06.1}", p.weight.parse::<f64>().unwrap_or(0.0))},
                        "ReferenceNumber": p.references.iter().map(|r| json!({"Value": r})).collect::<Vec<_>>(),
                        "Activity": [{"Date": date, "Time": time}],
                    })
                })
                .collect();
            push(
                out,
                "Manifest",
                json!({
                    "Shipper": {"Name": s.shipper.name, "ShipperNumber": account, "Address": {
                        "AddressLine1": s.shipper.lines.first().cloned().unwrap_or_default(),
                        "City": s.shipper.city, "PostalCode": s.shipper.postal.replace(' ', ""), "CountryCode": s.shipper.country}},
                    "ShipTo": {"CompanyName": s.ship_to.name.chars().take(35).collect::<String>(), "Address": {
                        "AddressLine1": s.ship_to.lines.first().cloned().unwrap_or_default(),
                        "City": s.ship_to.city, "PostalCode": s.ship_to.postal.replace(' ', ""), "CountryCode": s.ship_to.country}},
                    "ReferenceNumber": qv_refs(s),
                    "ConsigneeBillIndicator": "",
                    "CollectBillIndicator": "",
                    "Service": {"Code": format!("0{}", s.service)},
                    "PickupDate": date,
                    "ScheduledDeliveryDate": s.scheduled.format("%Y%m%d").to_string(),
                    "Package": packages,
                }),
            );
        }
        _ => {
            for p in &s.packages {
                let base = json!({
                    "PackageReferenceNumber": p.references.iter().map(|r| json!({"Value": r})).collect::<Vec<_>>(),
                    "ShipmentReferenceNumber": qv_refs(s),
                    "ShipperNumber": account,
                    "TrackingNumber": p.tracking_number,
                    "Date": date,
                    "Time": time,
                    "ActivityLocation": {"AddressArtifactFormat": Value::Object(loc.clone())},
                });
                let mut rec = match base {
                    Value::Object(m) => m,
                    _ => Map::new(),
                };
                match (e.kind, e.code) {
                    ("I", "OR") => push(out, "Origin", Value::Object(rec)),
                    ("X", _) => {
                        rec.insert("StatusCode".into(), json!("X1"));
                        rec.insert("StatusDescription".into(), json!(e.detail));
                        rec.insert("ReasonCode".into(), json!("NA"));
                        rec.insert("ReasonDescription".into(), json!("RECEIVER NOT AVAILABLE"));
                        let next = (e.at + Duration::days(1)).format("%Y%m%d").to_string();
                        rec.insert("RescheduledDeliveryDate".into(), json!(next));
                        push(out, "Exception", Value::Object(rec));
                    }
                    ("D", _) => {
                        let mut afa = Map::new();
                        afa.insert(
                            "ConsigneeName".into(),
                            json!(s.ship_to.name.chars().take(35).collect::<String>()),
                        );
                        afa.insert(
                            "StreetName".into(),
                            json!(
                                s.ship_to
                                    .lines
                                    .first()
                                    .cloned()
                                    .unwrap_or_default()
                                    .chars()
                                    .take(50)
                                    .collect::<String>()
                            ),
                        );
                        afa.insert("PoliticalDivision2".into(), json!(s.ship_to.city));
                        if (1..=5).contains(&s.ship_to.state.len()) {
                            afa.insert("PoliticalDivision1".into(), json!(s.ship_to.state));
                        }
                        afa.insert("CountryCode".into(), json!(s.ship_to.country));
                        if !s.ship_to.postal.is_empty() {
                            afa.insert(
                                "PostcodePrimaryLow".into(),
                                json!(s.ship_to.postal.chars().take(15).collect::<String>()),
                            );
                        }
                        rec.insert(
                            "DeliveryLocation".into(),
                            json!({"AddressArtifactFormat": Value::Object(afa), "Code": "M1", "Description": "Front Desk", "SignedForByName": "RECEIVING"}),
                        );
                        push(out, "Delivery", Value::Object(rec));
                    }
                    _ => {
                        let activity = match e.code {
                            "OT" => "OT",
                            "MV" => "VM",
                            _ => "DS",
                        };
                        push(
                            out,
                            "Generic",
                            json!({
                                "ActivityType": activity,
                                "TrackingNumber": p.tracking_number,
                                "ShipperNumber": account,
                                "ShipmentReferenceNumber": qv_refs(s),
                                "Activity": {"Date": date, "Time": time},
                            }),
                        );
                    }
                }
            }
        }
    }
}

async fn quantum_view(
    State(st): State<Arc<UpsState>>,
    Path(version): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Res {
    check_bearer(&st, &headers)?;
    if !matches!(version.as_str(), "v3" | "v2" | "v1") {
        return Err(err(
            StatusCode::NOT_FOUND,
            "404",
            "Unsupported API version.",
        ));
    }
    let body = parse_body(&body)?;
    let qv = req_obj(&body, &["QuantumViewRequest"])?;
    let action = req_str(qv, &["Request", "RequestAction"])
        .map_err(|_| missing("QuantumViewRequest.Request.RequestAction"))?;
    if action != "QVEvents" {
        return Err(qv_err(
            "330001",
            "Invalid RequestAction. The only valid value is QVEvents.",
        ));
    }
    let ctx = opt_str(qv, &["Request", "TransactionReference", "CustomerContext"]);
    let sub = many(qv.get("SubscriptionRequest")).into_iter().next();
    let name = sub
        .and_then(|s| opt_str(s, &["Name"]))
        .unwrap_or_else(|| "OutboundXML".into());
    let now = st.clock.now();
    let mut range: Option<(DateTime<Utc>, DateTime<Utc>)> = None;
    if let Some(r) = sub.and_then(|s| s.get("DateTimeRange")) {
        let begin = opt_str(r, &["BeginDateTime"])
            .and_then(|b| parse_qv_time(&b))
            .ok_or_else(|| qv_err("330025", "Invalid BeginDateTime (YYYYMMDDHHmmss)"))?;
        let end = match opt_str(r, &["EndDateTime"]) {
            Some(e) => parse_qv_time(&e)
                .ok_or_else(|| qv_err("330026", "Invalid EndDateTime (YYYYMMDDHHmmss)"))?,
            None => begin + Duration::days(7),
        };
        if begin < now - Duration::days(7) || end < begin || end - begin > Duration::days(7) {
            return Err(qv_err(
                "330027",
                "The date range is invalid: it may not exceed 7 days nor start more than 7 days in the past.",
            ));
        }
        range = Some((begin, end));
    }
    // Bookmark: base64 of "<subscriber>|<name>|<mode><offset>", mode u = unread, a = all.
    let mode = if range.is_some() { 'a' } else { 'u' };
    let mut d = st.data_now();
    let mut start = if mode == 'u' { d.qv_cursor } else { 0 };
    if let Some(bm) = opt_str(qv, &["Bookmark"]) {
        let decoded = B64
            .decode(bm.as_bytes())
            .ok()
            .and_then(|b| String::from_utf8(b).ok());
        let parsed = decoded.as_deref().and_then(|t| {
            let mut it = t.split('|');
            let (subr, _n, pos) = (it.next()?, it.next()?, it.next()?);
            if subr != QV_SUBSCRIBER || !pos.starts_with(mode) {
                return None;
            }
            pos[1..].parse::<usize>().ok()
        });
        start = parsed.ok_or_else(|| qv_err("330030", "Invalid Bookmark"))?;
    }
    let selected: Vec<usize> = (0..d.qv_log.len())
        .filter(|&i| match range {
            Some((b, e)) => d.qv_log[i].1.at >= b && d.qv_log[i].1.at <= e,
            None => true,
        })
        .collect();
    let page: Vec<usize> = if mode == 'u' {
        (start.min(d.qv_log.len())..d.qv_log.len())
            .take(QV_PAGE)
            .collect()
    } else {
        selected.iter().skip(start).take(QV_PAGE).copied().collect()
    };
    let consumed_to = start + page.len();
    let more = if mode == 'u' {
        consumed_to < d.qv_log.len()
    } else {
        consumed_to < selected.len()
    };
    if mode == 'u' {
        d.qv_cursor = d.qv_cursor.max(consumed_to);
    }
    let mut file = Map::new();
    for &i in &page {
        let (idx, e) = d.qv_log[i].clone();
        qv_record(&d, &st.cfg.account_number, idx, &e, &mut file);
    }
    drop(d);
    let fmt_range = |t: DateTime<Utc>| t.format("%m-%d-%Y-%H-%M").to_string();
    let (b, e) = range.unwrap_or((now - Duration::days(7), now));
    let mut ev = json!({
        "Name": name,
        "Number": "1",
        "SubscriptionStatus": {"Code": "A", "Description": "Active"},
        "DateRange": {"BeginDate": fmt_range(b), "EndDate": fmt_range(e)},
    });
    if !page.is_empty()
        && let Some(m) = ev.as_object_mut()
    {
        let mut f = Map::new();
        f.insert(
            "FileName".into(),
            json!(format!(
                "{}{:03}",
                now.format("%y%m%d_%H%M%S"),
                start % 1000
            )),
        );
        f.insert("StatusType".into(), json!({"Code": if mode == 'u' { "U" } else { "R" }, "Description": if mode == 'u' { "Unread" } else { "Read" }}));
        f.extend(file);
        m.insert("SubscriptionFile".into(), json!([Value::Object(f)]));
    }
    let mut resp = json!({
        "QuantumViewResponse": {
            "Response": {
                "TransactionReference": {"CustomerContext": ctx.unwrap_or_default(), "XpciVersion": "1.0007", "ToolVersion": "1.0"},
                "ResponseStatusCode": "1",
                "ResponseStatusDescription": "Success",
            },
            "QuantumViewEvents": {"SubscriberID": QV_SUBSCRIBER, "SubscriptionEvents": [ev]},
        }
    });
    if more
        && let Some(m) = resp
            .get_mut("QuantumViewResponse")
            .and_then(Value::as_object_mut)
    {
        m.insert(
            "Bookmark".into(),
            json!(B64.encode(format!("{QV_SUBSCRIBER}|{name}|{mode}{consumed_to}"))),
        );
    }
    Ok(ok_json(&st, resp))
}
