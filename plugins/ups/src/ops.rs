//! The carrier operations, written against [`Platform`] so they run natively in tests.

use std::collections::HashSet;

use mlc_plugin_sdk::http::encode_component;
use mlc_plugin_sdk::{
    Address, AddressClassification, AddressValidation, AddressVerdict, CarrierShipment, Error,
    Label, Money, Rate, RateRequest, RefusedNumber, Result, RetryInfo, ShipmentRequest,
    SubscriptionResult, TrackingEvent, TrackingPoll, VendorError, host::Level,
};
use serde_json::{Map, Value, json};

use crate::api::{self, Text};
use crate::client::{Ups, parse, paths};
use crate::config::{Settings, TrackAlertVersion};
use crate::mapping::{self, ShipInput};
use crate::platform::{Method, Platform};
use crate::store::{self, ShipmentRecord};
use crate::time::DAY_MS;

/// Track Alert's limit per subscription request.
pub(crate) const SUBSCRIBE_BATCH: usize = 100;

pub(crate) fn validate_address(p: &impl Platform, address: Address) -> Result<AddressValidation> {
    let s = Settings::load(p)?;
    let country = address.country.trim().to_ascii_uppercase();
    if !s.xav_countries.contains(&country) {
        // Street-level validation covers the US and Puerto Rico only; elsewhere UPS would refuse
        // the request, so the address is passed through unchanged and unclassified.
        p.log(Level::Debug, &format!("address validation skipped for country {country} (not in address-validation-countries)"));
        return Ok(AddressValidation {
            verdict: AddressVerdict::Valid(address),
            classification: AddressClassification::Unknown,
        });
    }
    let ups = Ups::new(p, &s);
    let path = format!(
        "{}?maximumcandidatelistsize={}",
        paths::XAV,
        s.xav_max_candidates
    );
    let resp = ups.call(Method::Post, &path, Some(mapping::xav_request(&address)))?;
    let env: api::XavEnvelope = parse("address validation", &resp)?;
    Ok(mapping::xav_result(&env.xav_response, &address))
}

pub(crate) fn rate_shipment(p: &impl Platform, request: RateRequest) -> Result<Vec<Rate>> {
    let s = Settings::load(p)?.for_site(request.site.as_deref());
    let service = request
        .service
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty());
    let body = mapping::rate_request(&s, &request.ship_to, &request.parcels, service)?;
    let path = if service.is_some() {
        paths::RATE
    } else {
        paths::SHOP
    };
    let resp = Ups::new(p, &s).call(Method::Post, path, Some(body))?;
    let env: api::RateEnvelope = parse("rating", &resp)?;
    Ok(mapping::rates(&env.rate_response, &s.fallback_currency()))
}

/// An answer that UPS may have acted on but that cannot be read: the caller must reconcile.
fn outcome_unknown(what: &str, detail: &str) -> Error {
    Error::Unavailable(RetryInfo {
        message: format!(
            "{what}: UPS answered 2xx but the answer could not be read ({detail}); reconcile with find-shipments before retrying"
        ),
        retry_after_ms: None,
    })
}

pub(crate) fn create_shipment(
    p: &impl Platform,
    request: ShipmentRequest,
) -> Result<CarrierShipment> {
    let s = Settings::load(p)?.for_site(request.site.as_deref());
    let format = request.label_format.unwrap_or(s.label_format);
    let body = mapping::ship_request(
        &s,
        &ShipInput {
            idempotency_key: &request.idempotency_key,
            reference: &request.reference,
            order_ref: &request.order_ref,
            service: &request.service,
            ship_to: &request.ship_to,
            parcels: &request.parcels,
            label_format: format,
        },
    )?;
    let resp = Ups::new(p, &s).call(Method::Post, paths::SHIP, Some(body))?;
    // From here on UPS has created the shipment: never answer with a permanent error.
    let env: api::ShipEnvelope = resp
        .json()
        .map_err(|e| outcome_unknown("create-shipment", &e.describe()))?;
    let currency = s.fallback_currency();
    let shipped = mapping::shipped(&env.shipment_response.shipment_results, format, &currency)
        .map_err(|e| outcome_unknown("create-shipment", &e.describe()))?;
    let (charges, negotiated) = shipped.charges.clone().unwrap_or_else(|| {
        p.log(
            Level::Warn,
            &format!(
                "shipment {} came back without charges; recorded as 0.00",
                shipped.shipment_id
            ),
        );
        (
            Money {
                amount: "0.00".to_owned(),
                currency: currency.clone(),
            },
            false,
        )
    });
    if shipped.tracking_numbers.len() != request.parcels.len() {
        p.log(
            Level::Warn,
            &format!(
                "shipment {}: {} parcels sent, {} tracking numbers returned",
                shipped.shipment_id,
                request.parcels.len(),
                shipped.tracking_numbers.len()
            ),
        );
    }
    let record = ShipmentRecord {
        shipment_id: shipped.shipment_id.clone(),
        tracking_numbers: shipped.tracking_numbers.clone(),
        service: request.service.trim().to_owned(),
        amount: charges.amount,
        currency: charges.currency,
        negotiated,
        reference: request.reference.trim().to_owned(),
        order_ref: request.order_ref.trim().to_owned(),
        idempotency_key: request.idempotency_key.clone(),
        voided: false,
        created_at: Some(p.now_ms()),
    };
    // Storage failures are logged, not returned: the shipment exists at UPS, and reporting a
    // failure would make the caller reconcile for nothing. `get-label` recovers missing labels
    // from UPS and `find-shipments` asks UPS.
    for (tn, problem) in &shipped.label_problems {
        p.log(
            Level::Error,
            &format!("label of {tn} could not be read: {problem}"),
        );
    }
    for (tn, label) in &shipped.labels {
        if let Err(e) = store::save_label(p, tn, label, Some(&record.shipment_id)) {
            p.log(
                Level::Error,
                &format!("label of {tn} not stored: {}", e.describe()),
            );
        }
    }
    if let Err(e) = store::save_shipment(p, &record) {
        p.log(
            Level::Error,
            &format!(
                "shipment {} not stored: {}",
                record.shipment_id,
                e.describe()
            ),
        );
    }
    p.log(
        Level::Info,
        &format!(
            "created UPS shipment {} for {} ({} packages)",
            record.shipment_id,
            record.reference,
            record.tracking_numbers.len()
        ),
    );
    Ok(record.to_contract())
}

/// A package UPS tracking knows under a reference.
struct RemotePackage {
    tracking_number: String,
    voided: bool,
    service: Option<String>,
    created_at: Option<i64>,
}

fn remote_package(pkg: &api::TrackPackage) -> Option<RemotePackage> {
    let tracking_number = pkg.tracking_number.known()?.to_owned();
    let is_void = |st: &Option<api::TrackStatus>| {
        st.as_ref()
            .is_some_and(|s| s.kind.trimmed().eq_ignore_ascii_case("MV"))
    };
    let voided = is_void(&pkg.current_status) || pkg.activity.iter().any(|a| is_void(&a.status));
    let service = pkg.service.as_ref().and_then(service_code);
    let instants = pkg.activity.iter().filter_map(|a| {
        let kind = a
            .status
            .as_ref()
            .map(|s| s.kind.trimmed().to_ascii_uppercase())
            .unwrap_or_default();
        let at = crate::time::utc_ms(a.gmt_date.known()?, a.gmt_time.trimmed()).or_else(|| {
            crate::time::local_to_utc_ms(
                a.date.known()?,
                a.time.trimmed(),
                a.gmt_offset
                    .known()
                    .and_then(crate::time::parse_offset)
                    .unwrap_or(0),
            )
        })?;
        Some((kind == "M", at))
    });
    let mut manifest = None;
    let mut earliest = None;
    for (is_manifest, at) in instants {
        earliest = Some(earliest.map_or(at, |e: i64| e.min(at)));
        if is_manifest {
            manifest = Some(manifest.map_or(at, |m: i64| m.min(at)));
        }
    }
    Some(RemotePackage {
        tracking_number,
        voided,
        service,
        created_at: manifest.or(earliest),
    })
}

/// The shipping service code of a Track API service (Tracking uses its own codes: matched by
/// name, or a zero-padded shipping code).
fn service_code(svc: &api::TrackService) -> Option<String> {
    let by_name = svc.description.known().and_then(|d| {
        let d = d.trim_start_matches("UPS ").to_ascii_lowercase();
        (0..100).map(|n| format!("{n:02}")).find(|c| {
            mapping::service_name(c)
                .is_some_and(|name| name.trim_start_matches("UPS ").eq_ignore_ascii_case(&d))
        })
    });
    by_name.or_else(|| {
        let code = svc.code.known()?;
        let short = if code.len() == 3 && code.starts_with('0') {
            &code[1..]
        } else {
            code
        };
        Some(if mapping::service_name(short).is_some() {
            short.to_owned()
        } else {
            code.to_owned()
        })
    })
}

fn track_query(s: &Settings) -> String {
    format!("locale={}", encode_component(&s.locale))
}

/// Packages UPS tracking lists under `reference` (empty on 404).
fn packages_by_reference(
    ups: &Ups<'_, impl Platform>,
    reference: &str,
) -> Result<Vec<api::TrackPackage>> {
    let mut path = format!(
        "{}{}?{}&refNumType=SmallPackage",
        paths::TRACK_REFERENCE,
        encode_component(reference.trim()),
        track_query(ups.s)
    );
    if let Some(n) = &ups.s.shipper_number {
        path.push_str(&format!("&shipperNum={}", encode_component(n)));
    }
    let resp = ups.exchange(Method::Get, &path, None)?;
    if resp.status == 404 {
        return Ok(Vec::new());
    }
    if !resp.is_success() {
        return Err(mapping::error_from(&resp));
    }
    let env: api::TrackEnvelope = parse("track by reference", &resp)?;
    Ok(env
        .track_response
        .shipment
        .0
        .into_iter()
        .flat_map(|s| s.package.0)
        .collect())
}

/// Every package of the shipment that `tracking_number` belongs to, in shipment order.
fn shipment_packages(
    ups: &Ups<'_, impl Platform>,
    tracking_number: &str,
) -> Result<Vec<api::TrackPackage>> {
    let path = format!(
        "{}{}?{}",
        paths::TRACK_SHIPMENT,
        encode_component(tracking_number),
        track_query(ups.s)
    );
    let resp = ups.exchange(Method::Get, &path, None)?;
    if resp.status == 404 {
        return Ok(Vec::new());
    }
    if !resp.is_success() {
        return Err(mapping::error_from(&resp));
    }
    let env: api::TrackEnvelope = parse("track shipment", &resp)?;
    Ok(env
        .track_response
        .shipment
        .0
        .into_iter()
        .flat_map(|s| s.package.0)
        .collect())
}

pub(crate) fn find_shipments(p: &impl Platform, reference: String) -> Result<Vec<CarrierShipment>> {
    let s = Settings::load(p)?;
    if reference.trim().is_empty() {
        return Err(Error::invalid_input(
            "find-shipments",
            "reference",
            "is empty",
        ));
    }
    let ups = Ups::new(p, &s);
    let mut local = store::shipments_for_reference(p, &reference)?;
    // UPS is the source of truth: a shipment created just before a crash is known only there.
    let remote: Vec<RemotePackage> = packages_by_reference(&ups, &reference)?
        .iter()
        .filter_map(remote_package)
        .collect();
    let mut claimed: HashSet<String> = HashSet::new();
    for record in &mut local {
        for r in remote
            .iter()
            .filter(|r| record.tracking_numbers.contains(&r.tracking_number))
        {
            claimed.insert(r.tracking_number.clone());
            record.voided |= r.voided;
        }
    }
    let mut out: Vec<CarrierShipment> = local.iter().map(ShipmentRecord::to_contract).collect();
    let currency = s.fallback_currency();
    for r in &remote {
        if claimed.contains(&r.tracking_number) {
            continue;
        }
        // Not in local storage: group it with the other packages of its shipment.
        let siblings: Vec<RemotePackage> = shipment_packages(&ups, &r.tracking_number)?
            .iter()
            .filter_map(remote_package)
            .collect();
        let group: Vec<&RemotePackage> = if siblings
            .iter()
            .any(|x| x.tracking_number == r.tracking_number)
        {
            siblings.iter().collect()
        } else {
            vec![r]
        };
        let tracking_numbers: Vec<String> =
            group.iter().map(|x| x.tracking_number.clone()).collect();
        claimed.extend(tracking_numbers.iter().cloned());
        p.log(
            Level::Warn,
            &format!("shipment {} under reference {} is known to UPS but was not stored here; its charges are unknown", tracking_numbers[0], reference.trim()),
        );
        out.push(CarrierShipment {
            shipment_id: tracking_numbers[0].clone(),
            tracking_numbers,
            service: group
                .iter()
                .find_map(|x| x.service.clone())
                .unwrap_or_default(),
            charges: Money {
                amount: "0.00".to_owned(),
                currency: currency.clone(),
            },
            negotiated: false,
            reference: reference.trim().to_owned(),
            voided: group.iter().any(|x| x.voided) || r.voided,
            created_at: group.iter().filter_map(|x| x.created_at).min(),
        });
    }
    Ok(out)
}

/// Whether a UPS refusal to void says the shipment is voided already.
fn already_voided(v: &VendorError) -> bool {
    // "cannot be voided: already picked up" must not match, so look for the phrase itself.
    let m = v.message.to_ascii_lowercase();
    ["already voided", "already been voided", "previously voided"]
        .iter()
        .any(|phrase| m.contains(phrase))
}

pub(crate) fn void_shipment(p: &impl Platform, shipment_id: String) -> Result<()> {
    let s = Settings::load(p)?;
    let id = shipment_id.trim().to_ascii_uppercase();
    if id.is_empty() {
        return Err(Error::invalid_input(
            "void-shipment",
            "shipment-id",
            "is empty",
        ));
    }
    if store::load_shipment(p, &id)?.is_some_and(|r| r.voided) {
        return Ok(());
    }
    let path = format!("{}{}", paths::VOID, encode_component(&id));
    match Ups::new(p, &s).call(Method::Delete, &path, None) {
        Ok(resp) => {
            let env: api::VoidEnvelope = resp.json().map_err(|e| {
                Error::Unavailable(RetryInfo {
                    message: format!(
                        "void of {id}: the answer could not be read ({}); voiding again is safe",
                        e.describe()
                    ),
                    retry_after_ms: None,
                })
            })?;
            let r = env.void_shipment_response;
            let summary = r
                .summary_result
                .as_ref()
                .map(|x| x.status.code.trimmed().to_owned());
            let packages_ok = !r.package_level_results.is_empty()
                && r.package_level_results
                    .iter()
                    .all(|x| x.status.code.trimmed() == "1");
            if summary.as_deref() == Some("1") || (summary.is_none() && packages_ok) {
                if let Err(e) = store::mark_voided(p, &id) {
                    p.log(
                        Level::Warn,
                        &format!(
                            "shipment {id} voided but not marked in storage: {}",
                            e.describe()
                        ),
                    );
                }
                return Ok(());
            }
            let status = r.summary_result.map(|x| x.status).unwrap_or_default();
            Err(Error::Rejected(VendorError {
                status: 200,
                code: status.code.trimmed().to_owned(),
                message: format!(
                    "UPS did not void {id}: {}",
                    status.description.known().unwrap_or("not voided")
                ),
            }))
        }
        Err(Error::Rejected(v)) if already_voided(&v) => {
            let _ = store::mark_voided(p, &id);
            Ok(())
        }
        Err(e) => Err(e),
    }
}

pub(crate) fn get_label(p: &impl Platform, tracking_number: String) -> Result<Label> {
    let tn = tracking_number.trim();
    if let Some(label) = store::load_label(p, tn)? {
        return Ok(label);
    }
    let s = Settings::load(p)?;
    if !s.label_recovery {
        return Err(Error::NotFound(format!("no label stored for {tn}")));
    }
    // Not stored (e.g. the plugin stopped between UPS's answer and the write): ask UPS.
    let body = json!({
        "LabelRecoveryRequest": {
            "LabelSpecification": mapping::label_specification(&s, s.label_format),
            "TrackingNumber": tn,
        }
    });
    let resp = match Ups::new(p, &s).call(Method::Post, paths::LABEL_RECOVERY, Some(body)) {
        Ok(r) => r,
        Err(e @ (Error::Rejected(_) | Error::NotFound(_))) => {
            return Err(Error::NotFound(format!(
                "no label stored for {tn}, and UPS label recovery refused: {}",
                e.describe()
            )));
        }
        Err(e) => return Err(e),
    };
    let env: api::LabelRecoveryEnvelope = parse("label recovery", &resp)?;
    let results = &env.label_recovery_response.label_results;
    let result = results
        .iter()
        .find(|r| r.tracking_number.trimmed().eq_ignore_ascii_case(tn))
        .or(results.first())
        .and_then(|r| r.label_image.as_ref())
        .ok_or_else(|| Error::NotFound(format!("UPS label recovery returned no label for {tn}")))?;
    let label = mapping::decode_label(result, s.label_format)?;
    if let Err(e) = store::save_label(p, tn, &label, None) {
        p.log(
            Level::Warn,
            &format!("recovered label of {tn} not stored: {}", e.describe()),
        );
    }
    Ok(label)
}

/// The reason UPS gives for one refused number: a string item gets the batch's message.
fn refusal(item: &Value, default_reason: &str) -> Option<RefusedNumber> {
    match item {
        Value::String(s) => Some(RefusedNumber {
            tracking_number: s.trim().to_owned(),
            reason: default_reason.to_owned(),
        }),
        Value::Object(m) => {
            let tn = ["trackingNumber", "number", "inquiryNumber"]
                .iter()
                .find_map(|k| m.get(*k).and_then(Value::as_str))?;
            let reason = ["message", "reason", "description", "code"]
                .iter()
                .find_map(|k| m.get(*k).and_then(Value::as_str))
                .unwrap_or(default_reason);
            Some(RefusedNumber {
                tracking_number: tn.trim().to_owned(),
                reason: reason.to_owned(),
            })
        }
        _ => None,
    }
}

pub(crate) fn subscribe_tracking(
    p: &impl Platform,
    tracking_numbers: Vec<String>,
) -> Result<SubscriptionResult> {
    let s = Settings::load(p)?;
    let mut refused = Vec::new();
    let mut seen = HashSet::new();
    let mut numbers = Vec::new();
    for raw in tracking_numbers {
        let tn = raw.trim().to_owned();
        if tn.is_empty() {
            refused.push(RefusedNumber {
                tracking_number: raw,
                reason: "empty tracking number".to_owned(),
            });
        } else if seen.insert(tn.clone()) {
            numbers.push(tn);
        }
    }
    if numbers.is_empty() {
        return Ok(SubscriptionResult {
            subscribed: Vec::new(),
            refused,
        });
    }

    let mut common = Map::new();
    common.insert("locale".into(), json!(s.locale));
    if let Some(from) = &s.ship_from {
        common.insert(
            "countryCode".into(),
            json!(from.country.trim().to_ascii_uppercase()),
        );
    }
    let version = match s.trackalert_version {
        TrackAlertVersion::V1 => {
            let url = s.trackalert_url.clone().ok_or_else(|| {
                Error::invalid_input(
                    "configuration",
                    "trackalert-webhook-url",
                    "is required for Track Alert v1",
                )
            })?;
            let credential = p
                .secret(&s.trackalert_credential_secret)
                .map_err(|e| match e {
                    Error::NotFound(_) => Error::invalid_input(
                        "configuration",
                        "trackalert-credential-secret",
                        format!("secret `{}` is not stored", s.trackalert_credential_secret),
                    ),
                    other => other,
                })?;
            common.insert(
                "destination".into(),
                json!({ "url": url, "credentialType": s.trackalert_credential_type, "credential": credential }),
            );
            "v1"
        }
        TrackAlertVersion::V2 => "v2",
    };
    if s.trackalert_type == "enhanced" && !s.trackalert_events.is_empty() {
        common.insert("eventPreferences".into(), json!(s.trackalert_events));
    }
    let path = format!(
        "/track/{version}/subscription/{}/package",
        s.trackalert_type
    );
    let ups = Ups::new(p, &s);
    let expires = p
        .now_ms()
        .saturating_add(s.subscription_days.saturating_mul(DAY_MS));
    let mut subscribed = Vec::new();

    for batch in numbers.chunks(SUBSCRIBE_BATCH) {
        let mut pending: Vec<String> = batch.to_vec();
        // A 400 naming invalid numbers is retried once without them, so that one bad number
        // never sinks the rest of its batch.
        for attempt in 0..2 {
            let mut body = common.clone();
            body.insert("trackingNumberList".into(), json!(pending));
            let resp = ups.exchange(Method::Post, &path, Some(Value::Object(body)))?;
            if resp.is_success() {
                let r: api::SubscriptionResponse = parse("track alert subscription", &resp)?;
                let invalid: Vec<RefusedNumber> = r
                    .invalid_tracking_numbers
                    .iter()
                    .filter_map(|v| refusal(v, "refused by UPS Track Alert"))
                    .collect();
                let invalid_set: HashSet<&str> =
                    invalid.iter().map(|r| r.tracking_number.as_str()).collect();
                let valid: Option<HashSet<String>> = r.valid_tracking_numbers.as_ref().map(|v| {
                    v.iter()
                        .filter_map(Text::known)
                        .map(str::to_owned)
                        .collect()
                });
                for tn in &pending {
                    if invalid_set.contains(tn.as_str()) {
                        continue;
                    }
                    match &valid {
                        Some(v) if !v.contains(tn) => refused.push(RefusedNumber {
                            tracking_number: tn.clone(),
                            reason: "not confirmed by UPS Track Alert".to_owned(),
                        }),
                        _ => subscribed.push((tn.clone(), expires)),
                    }
                }
                refused.extend(invalid);
                break;
            }
            let body: api::ErrorBody = serde_json::from_slice(&resp.body).unwrap_or_default();
            let named: Vec<String> = body
                .invalid_tracking_numbers
                .iter()
                .filter_map(|v| refusal(v, ""))
                .map(|r| r.tracking_number)
                .filter(|tn| pending.contains(tn))
                .collect();
            if resp.status != 400 || named.is_empty() {
                return Err(mapping::error_from(&resp));
            }
            let (code, message, _) = mapping::error_details(&resp.body);
            let reason = if code.is_empty() {
                message
            } else {
                format!("{code}: {message}")
            };
            refused.extend(named.iter().map(|tn| RefusedNumber {
                tracking_number: tn.clone(),
                reason: reason.clone(),
            }));
            pending.retain(|tn| !named.contains(tn));
            if pending.is_empty() {
                break;
            }
            if attempt == 1 {
                return Err(mapping::error_from(&resp));
            }
        }
    }
    p.log(
        Level::Info,
        &format!(
            "track alert: {} subscribed, {} refused",
            subscribed.len(),
            refused.len()
        ),
    );
    Ok(SubscriptionResult {
        subscribed,
        refused,
    })
}

pub(crate) fn poll_tracking(p: &impl Platform, bookmark: Option<String>) -> Result<TrackingPoll> {
    let s = Settings::load(p)?;
    let mut request = Map::new();
    request.insert(
        "Request".into(),
        json!({ "TransactionReference": { "CustomerContext": "poll" }, "RequestAction": "QVEvents" }),
    );
    if let Some(name) = &s.qv_subscription {
        request.insert("SubscriptionRequest".into(), json!([{ "Name": name }]));
    }
    if let Some(b) = bookmark.as_deref().map(str::trim).filter(|b| !b.is_empty()) {
        request.insert("Bookmark".into(), json!(b));
    }
    let body = json!({ "QuantumViewRequest": Value::Object(request) });
    let resp = Ups::new(p, &s).call(Method::Post, paths::QUANTUM_VIEW, Some(body))?;
    let env: api::QvEnvelope = parse("quantum view", &resp)?;
    let r = env.quantum_view_response;
    if r.response.response_status_code.trimmed() == "0" {
        let e = r.response.error.first().cloned().unwrap_or_default();
        let message = format!(
            "{}: {}",
            e.error_code.trimmed(),
            e.error_description.trimmed()
        );
        if e.error_severity.trimmed().eq_ignore_ascii_case("transient") {
            let retry = e
                .minimum_retry_seconds
                .known()
                .and_then(|s| s.parse::<u64>().ok())
                .map(|s| s * 1000);
            return Err(Error::Unavailable(RetryInfo {
                message,
                retry_after_ms: retry,
            }));
        }
        return Err(Error::Rejected(VendorError {
            status: resp.status,
            code: e.error_code.trimmed().to_owned(),
            message: e.error_description.trimmed().to_owned(),
        }));
    }
    let events = r
        .quantum_view_events
        .as_ref()
        .map(|e| mapping::qv_events(e, s.qv_offset_secs))
        .unwrap_or_default();
    let next = r
        .bookmark
        .known()
        .or_else(|| {
            r.quantum_view_events
                .as_ref()
                .and_then(|e| e.bookmark.known())
        })
        .map(str::to_owned);
    Ok(TrackingPoll {
        events,
        bookmark: next,
    })
}

pub(crate) fn track(p: &impl Platform, tracking_number: String) -> Result<Vec<TrackingEvent>> {
    let s = Settings::load(p)?;
    let tn = tracking_number.trim();
    if tn.is_empty() {
        return Err(Error::invalid_input("track", "tracking-number", "is empty"));
    }
    let path = format!(
        "{}{}?{}&returnSignature=false&returnMilestones=false&returnPOD=false",
        paths::TRACK,
        encode_component(tn),
        track_query(&s)
    );
    let resp = Ups::new(p, &s).call(Method::Get, &path, None)?;
    let env: api::TrackEnvelope = parse("tracking", &resp)?;
    Ok(mapping::track_events(&env.track_response, tn))
}

pub(crate) fn parse_tracking_webhook(
    p: &impl Platform,
    body: Vec<u8>,
) -> Result<Vec<TrackingEvent>> {
    mapping::pushed_events(&body, p.now_ms())
}

#[cfg(test)]
mod tests;
