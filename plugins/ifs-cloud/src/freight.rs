//! `record-freight-cost`: a charge on the customer order (`CustomerOrderChargeArray`).
//!
//! IFS has no idempotency keys: a retried POST creates a second charge. So the charge carries
//! the freight's reference (the carrier shipment id) in `freight.reference-field`, and before
//! posting we look for a charge with that reference on the order; finding one means a replay,
//! answered with `already-posted`. The host runs one work item at a time per shipment, so the
//! look-up and the POST do not race with each other.

use mlc_plugin_sdk::types::{FreightCharge, FreightOutcome};
use mlc_plugin_sdk::{Error, Result};
use serde_json::{Map, Number, Value};

use crate::client::Ifs;
use crate::config::KeyType;
use crate::mapping::text;
use crate::odata::{self, string_lit};
use crate::transport::{HttpRequest, Method};

/// `"23.45"` → 23.45, accepting only what the WIT calls a decimal string.
pub fn decimal(amount: &str) -> Option<f64> {
    let a = amount.trim();
    let body = a.strip_prefix('-').unwrap_or(a);
    let (int, frac) = body.split_once('.').unwrap_or((body, "0"));
    let ok = !int.is_empty()
        && !frac.is_empty()
        && int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit());
    if ok { a.parse().ok() } else { None }
}

/// The charge to POST, from the freight and the tenant's field names.
pub fn charge_body(ifs: &Ifs<'_>, c: &FreightCharge, subject: &str) -> Result<Map<String, Value>> {
    let f = &ifs.s.freight;
    let charge_type = f.charge_type.clone().ok_or_else(|| {
        Error::invalid_input(
            "configuration",
            "freight.charge-type",
            "is required to post freight charges",
        )
    })?;
    let amount = decimal(&c.amount.amount)
        .and_then(Number::from_f64)
        .ok_or_else(|| {
            Error::invalid_input(
                subject,
                "amount",
                format!("`{}` is not a decimal amount", c.amount.amount),
            )
        })?;
    let mut body = f.extra_fields.clone();
    body.insert("ChargeType".into(), Value::String(charge_type));
    body.insert("ChargeAmount".into(), Value::Number(amount));
    body.insert("ChargedQty".into(), Value::from(1));
    body.insert("SalesUnitMeas".into(), Value::String(f.sales_unit.clone()));
    body.insert(
        f.reference_field.clone(),
        Value::String(c.reference.trim().to_owned()),
    );
    if !f.shipment_field.is_empty() {
        let id = match ifs.s.key_type {
            KeyType::Number => c
                .erp_id
                .trim()
                .parse::<i64>()
                .map(Value::from)
                .map_err(|_| {
                    Error::invalid_input(
                        subject,
                        "erp-id",
                        format!("`{}` is not a numeric shipment id", c.erp_id),
                    )
                })?,
            KeyType::String => Value::String(c.erp_id.clone()),
        };
        body.insert(f.shipment_field.clone(), id);
    }
    if let (false, Some(cc)) = (
        f.cost_center_field.is_empty(),
        c.cost_center
            .as_deref()
            .map(str::trim)
            .filter(|v| !v.is_empty()),
    ) {
        body.insert(f.cost_center_field.clone(), Value::String(cc.to_owned()));
    }
    for cp in &c.code_parts {
        let field = f
            .code_part_fields
            .get(&cp.name)
            .cloned()
            .unwrap_or_else(|| cp.name.clone());
        let valid = field
            .chars()
            .next()
            .is_some_and(|ch| ch.is_ascii_alphabetic())
            && field
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || ch == '_' || ch == '$');
        if !valid {
            return Err(Error::invalid_input(
                subject,
                "code-parts",
                format!("code part `{}` has no IFS field", cp.name),
            ));
        }
        body.insert(field, Value::String(cp.value.clone()));
    }
    Ok(body)
}

/// Looks for the charge by reference, then posts it.
pub fn record(ifs: &Ifs<'_>, c: &FreightCharge) -> Result<FreightOutcome> {
    let f = &ifs.s.freight;
    let subject = format!("freight {} of shipment {}", c.reference, c.erp_id);
    let reference = c.reference.trim();
    if reference.is_empty() {
        return Err(Error::invalid_input(&subject, "reference", "is empty"));
    }
    let currency = c.amount.currency.trim();
    if currency.len() != 3 || !currency.chars().all(|ch| ch.is_ascii_uppercase()) {
        return Err(Error::invalid_input(
            &subject,
            "amount.currency",
            format!("`{currency}` is not an ISO 4217 code"),
        ));
    }
    let body = charge_body(ifs, c, &subject)?;

    let service = ifs.s.service_url(&f.projection);
    let order_url = odata::entity_url(
        &format!("{service}/{}", f.order_set),
        &f.order_key,
        &string_lit(c.order_ref.trim()),
    );
    let order_what = format!("{}({}='{}')", f.order_set, f.order_key, c.order_ref);
    let (order, _) = ifs.entity(&order_url, &format!("GET {order_what}"))?;
    if let Some(order_currency) = text(&order, &f.order_currency_field)
        && !order_currency.eq_ignore_ascii_case(currency)
    {
        return Err(Error::invalid_input(
            &subject,
            "amount.currency",
            format!(
                "freight is in {currency} but order {} is in {order_currency}",
                c.order_ref
            ),
        ));
    }

    let charges_url = format!("{order_url}/{}", f.charge_nav);
    let lookup = format!(
        "{charges_url}{}",
        odata::query(&[(
            "$filter",
            format!("{} eq {}", f.reference_field, string_lit(reference))
        )])
    );
    let existing = ifs.collection_all(
        &lookup,
        &service,
        &format!("GET {order_what}/{}", f.charge_nav),
    )?;
    // Checked here too: a tenant that ignores the filter must not make us post twice or never.
    if existing
        .iter()
        .any(|ch| text(ch, &f.reference_field).as_deref() == Some(reference))
    {
        return Ok(FreightOutcome::AlreadyPosted);
    }

    let req = HttpRequest::new(Method::Post, charges_url).json(&Value::Object(body));
    ifs.send(req, &format!("POST {order_what}/{}", f.charge_nav))?;
    Ok(FreightOutcome::Posted)
}
