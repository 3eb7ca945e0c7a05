//! Writes onto the IFS shipment with optimistic concurrency: GET the record for its ETag, PATCH
//! only the fields that differ with `If-Match: <etag>`, and on 412 (someone saved in between)
//! read again and re-apply, up to `writeback.max-attempts`. A PATCH is never sent without
//! `If-Match`, and only our fields are sent, so another user's concurrent change is kept.

use mlc_plugin_sdk::{CarrierShipment, Error, Result, TrackingEvent, TrackingStatus};
use serde_json::{Map, Value};

use crate::api::Entity;
use crate::client::Ifs;
use crate::config::{DateFormat, Settings, status_key};
use crate::mapping::{same_value, subject};
use crate::odata::{format_date, format_timestamp};
use crate::transport::{HttpRequest, Method};

/// Read-modify-write of `erp_id`: `desired` computes the target values from the current record.
pub fn update_shipment(
    ifs: &Ifs<'_>,
    erp_id: &str,
    desired: &dyn Fn(&Entity) -> Result<Map<String, Value>>,
) -> Result<()> {
    let s = ifs.s;
    let url = ifs.shipment_url(erp_id)?;
    let what = format!("{}({}={erp_id})", s.shipment_set, s.shipment_key);
    let attempts = s.writeback.max_attempts;
    for attempt in 1..=attempts {
        let (rec, etag) = ifs.entity(&url, &format!("GET {what}"))?;
        let changes: Map<String, Value> = desired(&rec)?
            .into_iter()
            .filter(|(k, v)| !same_value(rec.get(k), v))
            .collect();
        if changes.is_empty() {
            return Ok(());
        }
        let Some(etag) = etag else {
            return Err(Error::internal(format!(
                "GET {what} returned no ETag; refusing to PATCH without If-Match"
            )));
        };
        let req = HttpRequest::new(Method::Patch, url.clone())
            .header("if-match", &etag)
            .json(&Value::Object(changes));
        let resp = ifs.t.send(req)?;
        if resp.is_success() {
            return Ok(());
        }
        if resp.status != 412 {
            return Err(crate::api::status_error(&resp, &format!("PATCH {what}")));
        }
        crate::log_info(&format!(
            "PATCH {what}: record changed by someone else (412), re-reading (attempt {attempt} of {attempts})"
        ));
    }
    Err(Error::Conflict(format!(
        "{what} kept changing underneath: {attempts} writes refused with 412 Precondition Failed"
    )))
}

fn set(out: &mut Map<String, Value>, field: &str, value: Value) {
    if !field.is_empty() {
        out.insert(field.to_owned(), value);
    }
}

/// The fields `record-carrier-shipment` writes. A voided carrier shipment clears the fields
/// that still hold its numbers (and leaves alone fields that already hold another shipment's).
pub fn carrier_fields(
    s: &Settings,
    erp_id: &str,
    cs: &CarrierShipment,
    current: &Entity,
) -> Result<Map<String, Value>> {
    let w = &s.writeback;
    let master = cs
        .tracking_numbers
        .iter()
        .map(|t| t.trim())
        .find(|t| !t.is_empty())
        .unwrap_or(cs.shipment_id.trim());
    if master.is_empty() {
        return Err(Error::invalid_input(
            subject(erp_id),
            "tracking-numbers",
            "the carrier shipment has no tracking number or shipment id",
        ));
    }
    let all = cs
        .tracking_numbers
        .iter()
        .map(|t| t.trim())
        .filter(|t| !t.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    let mut out = Map::new();
    for (field, value) in [
        (&w.tracking_number_field, master),
        (&w.carrier_shipment_id_field, cs.shipment_id.trim()),
        (&w.all_tracking_numbers_field, all.as_str()),
    ] {
        if field.is_empty() || value.is_empty() {
            continue;
        }
        if cs.voided {
            if same_value(
                current.get(field.as_str()),
                &Value::String(value.to_owned()),
            ) {
                set(&mut out, field, Value::Null);
            }
        } else {
            set(&mut out, field, Value::String(value.to_owned()));
        }
    }
    Ok(out)
}

fn date_value(fmt: DateFormat, ms: i64) -> Value {
    Value::String(match fmt {
        DateFormat::DateTime => format_timestamp(ms),
        DateFormat::Date => format_date(ms),
    })
}

/// The fields `record-tracking` writes: status text, carrier code, last event, its date and,
/// once delivered, the delivery date.
pub fn tracking_fields(s: &Settings, ev: &TrackingEvent) -> Result<Map<String, Value>> {
    let w = &s.writeback;
    if [
        &w.status_field,
        &w.event_code_field,
        &w.last_event_field,
        &w.event_date_field,
        &w.delivered_date_field,
    ]
    .iter()
    .all(|f| f.is_empty())
    {
        return Err(Error::invalid_input(
            "configuration",
            "writeback.status-field",
            "no tracking fields are configured",
        ));
    }
    let key = status_key(ev.status);
    let status = w
        .status_values
        .get(key)
        .cloned()
        .unwrap_or_else(|| key.to_owned());
    let mut text = ev.description.trim().to_owned();
    if let Some(loc) = ev
        .location
        .as_deref()
        .map(str::trim)
        .filter(|l| !l.is_empty())
    {
        text = if text.is_empty() {
            loc.to_owned()
        } else {
            format!("{text}, {loc}")
        };
    }
    let text: String = text.chars().take(w.last_event_max_len).collect();
    let mut out = Map::new();
    set(&mut out, &w.status_field, Value::String(status));
    if !ev.carrier_code.trim().is_empty() {
        set(
            &mut out,
            &w.event_code_field,
            Value::String(ev.carrier_code.trim().to_owned()),
        );
    }
    if !text.is_empty() {
        set(&mut out, &w.last_event_field, Value::String(text));
    }
    set(
        &mut out,
        &w.event_date_field,
        date_value(w.date_format, ev.occurred_at),
    );
    if ev.status == TrackingStatus::Delivered {
        set(
            &mut out,
            &w.delivered_date_field,
            date_value(w.date_format, ev.delivered_at.unwrap_or(ev.occurred_at)),
        );
    }
    Ok(out)
}
