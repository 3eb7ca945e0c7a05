//! Storage keys and typed JSON access on top of [`Platform`]'s raw key-value store.
//!
//! | key | value | written by |
//! |---|---|---|
//! | `cursor/erp` | the ERP connector's opaque cursor (UTF-8) | the host, from `discover`'s checkpoint |
//! | `trk/<tracking-number>` | [`TrackIndex`] | `process` |
//! | `ship/<erp-id>` | [`crate::tracking::ShipmentTrack`] | `process` (created), `handle-tracking`/`maintain` (CAS) |
//! | `pending-sub/<tracking-number>` | [`PendingSub`] | `process`; deleted by `maintain` once answered |
//! | `sub/<tracking-number>` | [`SubRecord`] | `maintain`; deleted when the parcel is delivered or voided |
//! | `poll/bookmark` | Quantum View bookmark (UTF-8) | `maintain` |
//! | `poll/backlog` | polled events not yet applied (JSON list) | `maintain` |

use serde::{Deserialize, Serialize, de::DeserializeOwned};

use crate::platform::{Platform, Result};
use mlc_plugin_sdk::Error;

/// Key of the ERP cursor (the host writes it from the checkpoint).
pub const CURSOR_KEY: &str = "cursor/erp";
/// Key of the Quantum View bookmark.
pub const BOOKMARK_KEY: &str = "poll/bookmark";
/// Key of polled events that could not be applied yet.
pub const BACKLOG_KEY: &str = "poll/backlog";
/// Prefix of pending subscriptions.
pub const PENDING_PREFIX: &str = "pending-sub/";
/// Prefix of subscription records.
pub const SUB_PREFIX: &str = "sub/";

/// `trk/<tracking-number>`.
pub fn trk_key(tracking_number: &str) -> String {
    format!("trk/{tracking_number}")
}
/// `ship/<erp-id>`.
pub fn ship_key(erp_id: &str) -> String {
    format!("ship/{erp_id}")
}
/// `pending-sub/<tracking-number>`.
pub fn pending_key(tracking_number: &str) -> String {
    format!("{PENDING_PREFIX}{tracking_number}")
}
/// `sub/<tracking-number>`.
pub fn sub_key(tracking_number: &str) -> String {
    format!("{SUB_PREFIX}{tracking_number}")
}

/// Which ERP shipment a tracking number belongs to.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub struct TrackIndex {
    /// The ERP shipment id.
    pub erp_id: String,
}

/// A tracking number waiting for its first subscription.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub struct PendingSub {
    /// The ERP shipment id.
    pub erp_id: String,
}

/// The subscription state of one tracking number.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub struct SubRecord {
    /// The ERP shipment id.
    pub erp_id: String,
    /// When the subscription lapses (ms); none when refused.
    pub expires_at: Option<i64>,
    /// Why the carrier refused it (the number is covered by polling).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
    /// When it was last (re)subscribed or refused, host clock.
    pub updated_at: i64,
}

/// A JSON value and its revision.
pub fn get_json<T: DeserializeOwned>(p: &dyn Platform, key: &str) -> Result<Option<(T, u64)>> {
    match p.get(key)? {
        None => Ok(None),
        Some((bytes, rev)) => serde_json::from_slice(&bytes)
            .map(|v| Some((v, rev)))
            .map_err(|e| Error::internal(format!("stored value `{key}` is not valid JSON: {e}"))),
    }
}

/// Encodes a value as JSON.
pub fn encode<T: Serialize>(key: &str, value: &T) -> Result<Vec<u8>> {
    serde_json::to_vec(value).map_err(|e| Error::internal(format!("cannot encode `{key}`: {e}")))
}

/// Writes a JSON value unconditionally.
pub fn set_json<T: Serialize>(p: &dyn Platform, key: &str, value: &T) -> Result<u64> {
    p.set(key, &encode(key, value)?)
}

/// Writes a JSON value if the revision matches; none when it did not.
pub fn cas_json<T: Serialize>(
    p: &dyn Platform,
    key: &str,
    expected: Option<u64>,
    value: &T,
) -> Result<Option<u64>> {
    p.compare_and_swap(key, expected, &encode(key, value)?)
}

/// A UTF-8 string value.
pub fn get_text(p: &dyn Platform, key: &str) -> Result<Option<String>> {
    match p.get(key)? {
        None => Ok(None),
        Some((bytes, _)) => String::from_utf8(bytes)
            .map(Some)
            .map_err(|_| Error::internal(format!("stored value `{key}` is not UTF-8"))),
    }
}

/// The tracking number in a key under `prefix`.
pub fn suffix<'a>(key: &'a str, prefix: &str) -> Option<&'a str> {
    key.strip_prefix(prefix).filter(|s| !s.is_empty())
}
