//! Typed access to the host-provided interfaces: configuration, storage, secrets and logging.
//!
//! All of them are scoped by the host to this plugin in the current tenant: a plugin cannot
//! name another plugin's or another tenant's data.

use serde::{Serialize, de::DeserializeOwned};

use crate::bindings::mlc::connect::{
    config as wit_config, log as wit_log, secrets as wit_secrets, storage as wit_storage,
};
use crate::{Error, Result};

pub use wit_log::Level;
pub use wit_storage::Entry;

/// Emits a log line through the host (`tracing`, tagged with plugin and tenant).
pub fn log(level: Level, message: &str) {
    wit_log::log(level, message);
}

/// Tenant configuration of this plugin.
pub mod config {
    use super::*;

    /// One setting, if configured.
    pub fn get(key: &str) -> Option<String> {
        wit_config::get(key)
    }

    /// One setting that must be configured: `invalid-input` naming the key when absent or empty.
    pub fn require(key: &str) -> Result<String> {
        match wit_config::get(key) {
            Some(v) if !v.trim().is_empty() => Ok(v),
            _ => Err(Error::invalid_input(
                "configuration",
                key,
                "is required but not set",
            )),
        }
    }

    /// A setting with a default.
    pub fn get_or(key: &str, default: &str) -> String {
        wit_config::get(key).unwrap_or_else(|| default.to_owned())
    }

    /// A setting parsed from JSON (maps and lists); `invalid-input` naming the key when it does
    /// not parse.
    pub fn json<T: DeserializeOwned>(key: &str) -> Result<Option<T>> {
        match wit_config::get(key) {
            None => Ok(None),
            Some(raw) => serde_json::from_str(&raw).map(Some).map_err(|e| {
                Error::invalid_input(
                    "configuration",
                    key,
                    format!("is not valid JSON for this setting: {e}"),
                )
            }),
        }
    }

    /// A numeric setting with a default; `invalid-input` naming the key when not a number.
    pub fn number_or<T: std::str::FromStr>(key: &str, default: T) -> Result<T> {
        crate::settings::number(key, wit_config::get(key), default)
    }

    /// Every setting, sorted by key.
    pub fn all() -> Vec<(String, String)> {
        wit_config::get_all()
    }
}

/// A secret granted to this plugin (never an OAuth client secret or token).
pub fn secret(name: &str) -> Result<String> {
    wit_secrets::get(name)
}

/// Durable key-value storage of this plugin in this tenant.
pub mod storage {
    use super::*;

    /// Raw bytes of a key.
    pub fn get(key: &str) -> Result<Option<Entry>> {
        wit_storage::get(key)
    }

    /// Writes raw bytes; returns the new revision.
    pub fn set(key: &str, value: &[u8]) -> Result<u64> {
        wit_storage::set(key, value)
    }

    /// Compare-and-swap on the revision (none: only if absent). None when it did not match.
    pub fn compare_and_swap(key: &str, expected: Option<u64>, value: &[u8]) -> Result<Option<u64>> {
        wit_storage::compare_and_swap(key, expected, value)
    }

    /// Deletes a key.
    pub fn delete(key: &str) -> Result<()> {
        wit_storage::delete(key)
    }

    /// Keys under a prefix, in order, after `start_after`, at most `limit`.
    pub fn list_keys(prefix: &str, start_after: Option<&str>, limit: u32) -> Result<Vec<String>> {
        wit_storage::list_keys(prefix, start_after, limit)
    }

    /// Every key under a prefix (pages through `list_keys`).
    pub fn all_keys(prefix: &str) -> Result<Vec<String>> {
        let mut out = Vec::new();
        loop {
            let page = wit_storage::list_keys(prefix, out.last().map(String::as_str), 1000)?;
            let done = page.len() < 1000;
            out.extend(page);
            if done {
                return Ok(out);
            }
        }
    }

    /// A JSON value and its revision.
    pub fn get_json<T: DeserializeOwned>(key: &str) -> Result<Option<(T, u64)>> {
        match wit_storage::get(key)? {
            None => Ok(None),
            Some(entry) => serde_json::from_slice(&entry.value)
                .map(|v| Some((v, entry.revision)))
                .map_err(|e| {
                    Error::internal(format!("stored value `{key}` is not valid JSON: {e}"))
                }),
        }
    }

    /// Writes a JSON value; returns the new revision.
    pub fn set_json<T: Serialize>(key: &str, value: &T) -> Result<u64> {
        let bytes = serde_json::to_vec(value)
            .map_err(|e| Error::internal(format!("cannot encode `{key}`: {e}")))?;
        wit_storage::set(key, &bytes)
    }
}
