//! What the connector keeps in host storage (per plugin and tenant):
//!
//! - `label/<tracking-number>`: `{"format":"gif","data":"<base64>","shipment-id":"1Z…"}`, the label
//!   UPS returned at creation (or later recovered), so `get-label` can return it.
//! - `shipment/<shipment-id>`: the created shipment as the contract returns it, plus the order
//!   reference and idempotency key.
//! - `ref/<reference>`: `{"shipment-ids":["1Z…"]}`, every shipment created under an ERP
//!   reference, in creation order.
//!
//! Storage is a cache of what UPS said, never the source of truth for reconciliation: a crash
//! between UPS's answer and these writes loses them, so `find-shipments` also asks UPS.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use mlc_plugin_sdk::{CarrierShipment, Error, Label, Money, Result};
use serde::{Deserialize, Serialize, de::DeserializeOwned};

use crate::platform::Platform;

/// A created shipment as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) struct ShipmentRecord {
    pub(crate) shipment_id: String,
    pub(crate) tracking_numbers: Vec<String>,
    pub(crate) service: String,
    pub(crate) amount: String,
    pub(crate) currency: String,
    pub(crate) negotiated: bool,
    pub(crate) reference: String,
    #[serde(default)]
    pub(crate) order_ref: String,
    #[serde(default)]
    pub(crate) idempotency_key: String,
    #[serde(default)]
    pub(crate) voided: bool,
    #[serde(default)]
    pub(crate) created_at: Option<i64>,
}

impl ShipmentRecord {
    pub(crate) fn to_contract(&self) -> CarrierShipment {
        CarrierShipment {
            shipment_id: self.shipment_id.clone(),
            tracking_numbers: self.tracking_numbers.clone(),
            service: self.service.clone(),
            charges: Money {
                amount: self.amount.clone(),
                currency: self.currency.clone(),
            },
            negotiated: self.negotiated,
            reference: self.reference.clone(),
            voided: self.voided,
            created_at: self.created_at,
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct RefIndex {
    shipment_ids: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct StoredLabel {
    format: String,
    data: String,
    #[serde(default)]
    shipment_id: Option<String>,
}

pub(crate) fn label_key(tracking_number: &str) -> String {
    format!("label/{}", tracking_number.trim())
}

pub(crate) fn shipment_key(shipment_id: &str) -> String {
    format!("shipment/{}", shipment_id.trim())
}

pub(crate) fn ref_key(reference: &str) -> String {
    format!("ref/{}", reference.trim())
}

fn load_json<T: DeserializeOwned>(p: &impl Platform, key: &str) -> Result<Option<(T, u64)>> {
    match p.load(key)? {
        None => Ok(None),
        Some((bytes, rev)) => serde_json::from_slice(&bytes)
            .map(|v| Some((v, rev)))
            .map_err(|e| {
                Error::internal(format!(
                    "stored `{key}` is not what this connector wrote: {e}"
                ))
            }),
    }
}

fn to_bytes<T: Serialize>(key: &str, value: &T) -> Result<Vec<u8>> {
    serde_json::to_vec(value).map_err(|e| Error::internal(format!("cannot encode `{key}`: {e}")))
}

/// Stores a shipment and adds it to its reference's index (compare-and-swap, so concurrent
/// creations under one reference both stay listed).
pub(crate) fn save_shipment(p: &impl Platform, record: &ShipmentRecord) -> Result<()> {
    let key = shipment_key(&record.shipment_id);
    p.store(&key, &to_bytes(&key, record)?)?;
    let rkey = ref_key(&record.reference);
    for _ in 0..5 {
        let current = load_json::<RefIndex>(p, &rkey)?;
        let (mut index, rev) = match current {
            Some((i, r)) => (i, Some(r)),
            None => (RefIndex::default(), None),
        };
        if index.shipment_ids.contains(&record.shipment_id) {
            return Ok(());
        }
        index.shipment_ids.push(record.shipment_id.clone());
        if p.swap(&rkey, rev, &to_bytes(&rkey, &index)?)?.is_some() {
            return Ok(());
        }
    }
    Err(Error::Conflict(format!(
        "`{rkey}` kept changing while adding {}",
        record.shipment_id
    )))
}

pub(crate) fn load_shipment(
    p: &impl Platform,
    shipment_id: &str,
) -> Result<Option<ShipmentRecord>> {
    Ok(load_json(p, &shipment_key(shipment_id))?.map(|(r, _)| r))
}

/// Every stored shipment of a reference, in creation order.
pub(crate) fn shipments_for_reference(
    p: &impl Platform,
    reference: &str,
) -> Result<Vec<ShipmentRecord>> {
    let Some((index, _)) = load_json::<RefIndex>(p, &ref_key(reference))? else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for id in index.shipment_ids {
        if let Some(r) = load_shipment(p, &id)? {
            out.push(r);
        }
    }
    Ok(out)
}

/// Marks a stored shipment voided (nothing when it is not stored).
pub(crate) fn mark_voided(p: &impl Platform, shipment_id: &str) -> Result<()> {
    if let Some(mut r) = load_shipment(p, shipment_id)?
        && !r.voided
    {
        r.voided = true;
        let key = shipment_key(shipment_id);
        p.store(&key, &to_bytes(&key, &r)?)?;
    }
    Ok(())
}

pub(crate) fn save_label(
    p: &impl Platform,
    tracking_number: &str,
    label: &Label,
    shipment_id: Option<&str>,
) -> Result<()> {
    let key = label_key(tracking_number);
    let stored = StoredLabel {
        format: crate::mapping::label_name(label.format).to_owned(),
        data: BASE64.encode(&label.data),
        shipment_id: shipment_id.map(str::to_owned),
    };
    p.store(&key, &to_bytes(&key, &stored)?)?;
    Ok(())
}

pub(crate) fn load_label(p: &impl Platform, tracking_number: &str) -> Result<Option<Label>> {
    let key = label_key(tracking_number);
    let Some((stored, _)) = load_json::<StoredLabel>(p, &key)? else {
        return Ok(None);
    };
    let format = crate::config::label_format(&stored.format).ok_or_else(|| {
        Error::internal(format!(
            "stored `{key}` has an unknown format `{}`",
            stored.format
        ))
    })?;
    let data = BASE64
        .decode(stored.data.as_bytes())
        .map_err(|e| Error::internal(format!("stored `{key}` is not base64: {e}")))?;
    Ok(Some(Label { format, data }))
}
