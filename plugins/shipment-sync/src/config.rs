//! Settings from the tenant's configuration of this flow, with defaults.

use std::collections::BTreeMap;

use mlc_plugin_sdk::{Error, LabelFormat, settings};

use crate::platform::Result;

/// The ship-via → UPS service map used when `service-map` is not configured.
pub const DEFAULT_SERVICE_MAP: &[(&str, &str)] = &[
    ("UPSGND", "03"),
    ("UPS2DA", "02"),
    ("UPSNDA", "01"),
    ("UPS3DS", "12"),
    ("UPSSTD", "11"),
    ("UPSEXP", "07"),
    ("UPSSVR", "65"),
];

/// The flow's settings.
#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    /// Ship-via code (upper-cased, trimmed) → carrier service code.
    pub service_map: BTreeMap<String, String>,
    /// Renew a subscription when it lapses within this many milliseconds.
    pub renew_before_ms: i64,
    /// Poll the carrier's feed on every `maintain`, not only when a subscription is missing.
    pub poll_always: bool,
    /// Pages of `list-ready-shipments` per `discover` call.
    pub discover_max_pages: u32,
    /// Items per `discover` call (checked after each whole page).
    pub discover_max_items: usize,
    /// Hard bound on pages while the connector's cursor does not advance.
    pub discover_hard_max_pages: u32,
    /// Pages of `poll-tracking` per `maintain` call.
    pub poll_max_pages: u32,
    /// Label format asked of the carrier; none = the connector's default.
    pub label_format: Option<LabelFormat>,
    /// Whether `process` books the freight cost on the order.
    pub post_freight: bool,
}

fn bad(key: &str, msg: impl Into<String>) -> Error {
    Error::invalid_input("configuration", key, msg)
}

fn number<T: std::str::FromStr + PartialOrd + Copy + std::fmt::Display>(
    get: &dyn Fn(&str) -> Option<String>,
    key: &str,
    default: T,
    min: T,
    max: T,
) -> Result<T> {
    settings::number_in(key, get(key), default, min, max)
}

fn boolean(get: &dyn Fn(&str) -> Option<String>, key: &str, default: bool) -> Result<bool> {
    settings::boolean(key, get(key), default)
}

/// Normalizes a ship-via code for lookup.
pub fn ship_via_key(code: &str) -> String {
    code.trim().to_ascii_uppercase()
}

fn service_map(raw: Option<String>) -> Result<BTreeMap<String, String>> {
    const KEY: &str = "service-map";
    let Some(raw) = raw.filter(|v| !v.trim().is_empty()) else {
        return Ok(DEFAULT_SERVICE_MAP
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect());
    };
    let parsed: BTreeMap<String, String> = serde_json::from_str(&raw).map_err(|e| {
        bad(
            KEY,
            format!("must be a JSON object of ship-via code to service code: {e}"),
        )
    })?;
    let mut map = BTreeMap::new();
    for (ship_via, service) in parsed {
        let (k, v) = (ship_via_key(&ship_via), service.trim().to_owned());
        if k.is_empty() || v.is_empty() {
            return Err(bad(
                KEY,
                format!("entry `{ship_via}` → `{service}` has an empty side"),
            ));
        }
        if map.insert(k.clone(), v).is_some() {
            return Err(bad(
                KEY,
                format!("ship-via `{k}` is mapped twice (codes are case-insensitive)"),
            ));
        }
    }
    Ok(map)
}

fn label_format(raw: Option<String>) -> Result<Option<LabelFormat>> {
    match raw
        .map(|v| v.trim().to_ascii_lowercase())
        .filter(|v| !v.is_empty())
        .as_deref()
    {
        None => Ok(None),
        Some("gif") => Ok(Some(LabelFormat::Gif)),
        Some("png") => Ok(Some(LabelFormat::Png)),
        Some("zpl") => Ok(Some(LabelFormat::Zpl)),
        Some(other) => Err(bad(
            "label-format",
            format!("`{other}` is not gif, png or zpl"),
        )),
    }
}

impl Settings {
    /// Reads every setting through `get` (the host's `config.get`).
    pub fn load(get: &dyn Fn(&str) -> Option<String>) -> Result<Settings> {
        let renew_hours: i64 = number(get, "renew-before-hours", 48, 0, 24 * 14)?;
        Ok(Settings {
            service_map: service_map(get("service-map"))?,
            renew_before_ms: renew_hours * 3_600_000,
            poll_always: boolean(get, "poll-always", false)?,
            discover_max_pages: number(get, "discover-max-pages", 5, 1, 1000)?,
            discover_max_items: number(get, "discover-max-items", 500, 1, 100_000)?,
            discover_hard_max_pages: number(get, "discover-hard-max-pages", 50, 1, 10_000)?,
            poll_max_pages: number(get, "poll-max-pages", 10, 1, 1000)?,
            label_format: label_format(get("label-format"))?,
            post_freight: boolean(get, "post-freight", true)?,
        })
    }

    /// The carrier service for a ship-via code, if mapped.
    pub fn service_for(&self, ship_via: &str) -> Option<&str> {
        self.service_map
            .get(&ship_via_key(ship_via))
            .map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(pairs: &[(&str, &str)]) -> Result<Settings> {
        let map: BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect();
        Settings::load(&|k| map.get(k).cloned())
    }

    #[test]
    fn defaults() {
        let s = load(&[]).unwrap();
        assert_eq!(s.renew_before_ms, 48 * 3_600_000);
        assert!(!s.poll_always);
        assert_eq!(s.discover_max_pages, 5);
        assert_eq!(s.discover_max_items, 500);
        assert_eq!(s.poll_max_pages, 10);
        assert_eq!(s.label_format, None);
        assert!(s.post_freight);
        assert_eq!(s.service_for("UPSGND"), Some("03"));
        assert_eq!(s.service_for(" upsnda "), Some("01"));
        assert_eq!(s.service_for("UPSSVR"), Some("65"));
        assert_eq!(s.service_for("FEDEX"), None);
    }

    #[test]
    fn configured_map_replaces_the_default() {
        let s = load(&[("service-map", r#"{"ground":"03","Air":" 01 "}"#)]).unwrap();
        assert_eq!(s.service_for("GROUND"), Some("03"));
        assert_eq!(s.service_for("air"), Some("01"));
        assert_eq!(s.service_for("UPSGND"), None);
    }

    #[test]
    fn bad_values_name_the_key() {
        for (key, value) in [
            ("service-map", "[1,2]"),
            ("service-map", r#"{"A":""}"#),
            ("service-map", r#"{"a":"01","A":"02"}"#),
            ("renew-before-hours", "-1"),
            ("renew-before-hours", "400"),
            ("poll-always", "maybe"),
            ("discover-max-pages", "0"),
            ("label-format", "pdf"),
        ] {
            match load(&[(key, value)]) {
                Err(Error::InvalidInput(f)) => {
                    assert_eq!(f.subject, "configuration");
                    assert_eq!(f.field, key, "{value}");
                }
                other => panic!("{key}={value}: {other:?}"),
            }
        }
    }

    #[test]
    fn parses_values() {
        let s = load(&[
            ("renew-before-hours", "72"),
            ("poll-always", "TRUE"),
            ("label-format", "ZPL"),
            ("discover-max-pages", " 2 "),
            ("post-freight", "false"),
        ])
        .unwrap();
        assert_eq!(s.renew_before_ms, 72 * 3_600_000);
        assert!(s.poll_always);
        assert_eq!(s.label_format, Some(LabelFormat::Zpl));
        assert_eq!(s.discover_max_pages, 2);
        assert!(!s.post_freight);
    }
}
