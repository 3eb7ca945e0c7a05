//! Tenant settings, read from host configuration with defaults. Every key is documented in
//! README.md. Only `base-url` is needed by every operation; the shipper settings are checked
//! by the operations that send a shipper (rate, ship).

use mlc_plugin_sdk::{Address, Error, LabelFormat, Result, settings};
use serde::Deserialize;

use crate::platform::Platform;

/// Which unit system packages are declared in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Units {
    /// LBS / IN.
    Imperial,
    /// KGS / CM.
    Metric,
}

/// Track Alert API generation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TrackAlertVersion {
    /// `destination{url, credentialType, credential}` in each subscription.
    V1,
    /// Webhook configured on the UPS portal; no destination in the request.
    V2,
}

/// The settings of one tenant.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    /// REST base, including `/api` (`https://onlinetools.ups.com/api`).
    pub(crate) base_url: String,
    /// `transactionSrc` header.
    pub(crate) transaction_src: String,
    /// The 6-character UPS account; billed for shipments.
    pub(crate) shipper_number: Option<String>,
    /// Where parcels leave from.
    pub(crate) ship_from: Option<Address>,
    /// The shipper (account holder) address; defaults to `ship_from`.
    pub(crate) shipper: Option<Address>,
    pub(crate) units: Option<Units>,
    pub(crate) label_format: LabelFormat,
    pub(crate) label_stock: (String, String),
    pub(crate) packaging_code: String,
    pub(crate) negotiated_rates: bool,
    pub(crate) reference_code: String,
    pub(crate) order_reference_code: String,
    pub(crate) description: String,
    pub(crate) locale: String,
    pub(crate) xav_countries: Vec<String>,
    pub(crate) xav_max_candidates: u32,
    pub(crate) trackalert_version: TrackAlertVersion,
    pub(crate) trackalert_type: String,
    pub(crate) trackalert_url: Option<String>,
    pub(crate) trackalert_credential_secret: String,
    pub(crate) trackalert_credential_type: String,
    pub(crate) trackalert_events: Vec<String>,
    pub(crate) subscription_days: i64,
    pub(crate) qv_subscription: Option<String>,
    pub(crate) qv_offset_secs: i64,
    pub(crate) label_recovery: bool,
    pub(crate) currency: Option<String>,
    /// Per-site shippers (`sites`): the ERP site a shipment leaves from picks its ship-from
    /// address, shipper address, account and currency.
    pub(crate) sites: std::collections::BTreeMap<String, SiteShipper>,
}

/// An address as written in configuration (`ship-from`, `shipper-address`).
/// One site's shipper, from the `sites` setting.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub(crate) struct SiteShipper {
    ship_from: AddressSetting,
    #[serde(default)]
    shipper_address: Option<AddressSetting>,
    #[serde(default)]
    shipper_number: Option<String>,
    #[serde(default)]
    currency: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct AddressSetting {
    name: String,
    #[serde(default)]
    attention: Option<String>,
    lines: Vec<String>,
    city: String,
    #[serde(default)]
    state: Option<String>,
    postal_code: String,
    country: String,
    #[serde(default)]
    phone: Option<String>,
    #[serde(default)]
    email: Option<String>,
}

impl From<AddressSetting> for Address {
    fn from(a: AddressSetting) -> Self {
        Address {
            name: a.name,
            attention: a.attention,
            lines: a.lines,
            city: a.city,
            state: a.state,
            postal_code: a.postal_code,
            country: a.country.to_ascii_uppercase(),
            phone: a.phone,
            email: a.email,
        }
    }
}

fn invalid(key: &str, message: impl Into<String>) -> Error {
    Error::invalid_input("configuration", key, message)
}

fn non_empty(p: &impl Platform, key: &str) -> Option<String> {
    settings::present(p.config(key))
}

fn address(p: &impl Platform, key: &str) -> Result<Option<Address>> {
    match non_empty(p, key) {
        None => Ok(None),
        Some(raw) => serde_json::from_str::<AddressSetting>(&raw)
            .map(|a| Some(a.into()))
            .map_err(|e| invalid(key, format!("is not an address object: {e}"))),
    }
}

fn flag(p: &impl Platform, key: &str, default: bool) -> Result<bool> {
    settings::boolean(key, p.config(key), default)
}

fn number<T: std::str::FromStr>(p: &impl Platform, key: &str, default: T) -> Result<T> {
    settings::number(key, p.config(key), default)
}

fn list(p: &impl Platform, key: &str, default: &[&str]) -> Vec<String> {
    match p.config(key) {
        None => default.iter().map(|s| (*s).to_owned()).collect(),
        Some(v) => v
            .split(',')
            .map(|s| s.trim().to_ascii_uppercase())
            .filter(|s| !s.is_empty())
            .collect(),
    }
}

/// Parses a label format name (`GIF`, `PNG`, `ZPL`).
pub(crate) fn label_format(name: &str) -> Option<LabelFormat> {
    match name.trim().to_ascii_uppercase().as_str() {
        "GIF" => Some(LabelFormat::Gif),
        "PNG" => Some(LabelFormat::Png),
        "ZPL" => Some(LabelFormat::Zpl),
        _ => None,
    }
}

impl Settings {
    /// Reads and checks every setting.
    pub(crate) fn load(p: &impl Platform) -> Result<Settings> {
        let base_url = non_empty(p, "base-url")
            .ok_or_else(|| {
                invalid(
                    "base-url",
                    "is required (e.g. https://onlinetools.ups.com/api)",
                )
            })?
            .trim_end_matches('/')
            .to_owned();
        let units = match non_empty(p, "units").map(|v| v.to_ascii_lowercase()) {
            None => None,
            Some(v) if v == "auto" => None,
            Some(v) if v == "imperial" => Some(Units::Imperial),
            Some(v) if v == "metric" => Some(Units::Metric),
            Some(v) => {
                return Err(invalid(
                    "units",
                    format!("`{v}` is not auto, imperial or metric"),
                ));
            }
        };
        let label_format = match non_empty(p, "label-format") {
            None => LabelFormat::Gif,
            Some(v) => label_format(&v)
                .ok_or_else(|| invalid("label-format", format!("`{v}` is not GIF, PNG or ZPL")))?,
        };
        let label_stock = match non_empty(p, "label-stock-size") {
            None => ("6".to_owned(), "4".to_owned()),
            Some(v) => {
                let (w, h) = v
                    .to_ascii_lowercase()
                    .split_once('x')
                    .map(|(w, h)| (w.trim().to_owned(), h.trim().to_owned()))
                    .ok_or_else(|| {
                        invalid(
                            "label-stock-size",
                            format!("`{v}` is not WIDTHxHEIGHT, e.g. 4x6"),
                        )
                    })?;
                (h, w)
            }
        };
        let trackalert_version =
            match non_empty(p, "trackalert-version").map(|v| v.to_ascii_lowercase()) {
                None => TrackAlertVersion::V1,
                Some(v) if v == "v1" => TrackAlertVersion::V1,
                Some(v) if v == "v2" => TrackAlertVersion::V2,
                Some(v) => {
                    return Err(invalid(
                        "trackalert-version",
                        format!("`{v}` is not v1 or v2"),
                    ));
                }
            };
        let trackalert_type = non_empty(p, "trackalert-type")
            .unwrap_or_else(|| "standard".to_owned())
            .to_ascii_lowercase();
        if trackalert_type != "standard" && trackalert_type != "enhanced" {
            return Err(invalid(
                "trackalert-type",
                format!("`{trackalert_type}` is not standard or enhanced"),
            ));
        }
        let qv_offset_secs = match non_empty(p, "quantum-view-utc-offset") {
            None => 0,
            Some(v) => crate::time::parse_offset(&v).ok_or_else(|| {
                invalid(
                    "quantum-view-utc-offset",
                    format!("`{v}` is not an offset like -05:00"),
                )
            })?,
        };
        let shipper_number = match non_empty(p, "shipper-number") {
            Some(n) => Some(n),
            // Some operators keep the account number with the secrets.
            None => p
                .secret("shipper-number")
                .ok()
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty()),
        };
        Ok(Settings {
            base_url,
            transaction_src: non_empty(p, "transaction-src")
                .unwrap_or_else(|| "ml-connector".to_owned()),
            shipper_number,
            ship_from: address(p, "ship-from")?,
            shipper: address(p, "shipper-address")?,
            units,
            label_format,
            label_stock,
            packaging_code: non_empty(p, "packaging-code").unwrap_or_else(|| "02".to_owned()),
            negotiated_rates: flag(p, "negotiated-rates", true)?,
            reference_code: non_empty(p, "reference-code").unwrap_or_else(|| "TN".to_owned()),
            order_reference_code: non_empty(p, "order-reference-code")
                .unwrap_or_else(|| "PO".to_owned()),
            description: non_empty(p, "shipment-description").unwrap_or_else(|| "Goods".to_owned()),
            locale: non_empty(p, "locale").unwrap_or_else(|| "en_US".to_owned()),
            xav_countries: list(p, "address-validation-countries", &["US", "PR"]),
            xav_max_candidates: number(p, "address-max-candidates", 15)?.clamp(1, 50),
            trackalert_version,
            trackalert_type,
            trackalert_url: non_empty(p, "trackalert-webhook-url"),
            trackalert_credential_secret: non_empty(p, "trackalert-credential-secret")
                .unwrap_or_else(|| "trackalert-credential".to_owned()),
            trackalert_credential_type: non_empty(p, "trackalert-credential-type")
                .unwrap_or_else(|| "Bearer".to_owned()),
            trackalert_events: list(p, "trackalert-event-preferences", &[]),
            subscription_days: number(p, "trackalert-subscription-days", 14)?,
            qv_subscription: non_empty(p, "quantum-view-subscription"),
            qv_offset_secs,
            label_recovery: flag(p, "label-recovery", true)?,
            currency: non_empty(p, "currency").map(|c| c.to_ascii_uppercase()),
            sites: match non_empty(p, "sites") {
                None => Default::default(),
                Some(raw) => serde_json::from_str(&raw).map_err(|e| {
                    invalid(
                        "sites",
                        format!("is not a JSON map of site to shipper: {e}"),
                    )
                })?,
            },
        })
    }

    /// These settings with the shipper of `site` applied, when `sites` configures one; other
    /// sites (and none) use the default `ship-from`, `shipper-address` and `shipper-number`.
    pub(crate) fn for_site(mut self, site: Option<&str>) -> Self {
        if let Some(shipper) = site.and_then(|site| self.sites.get(site)).cloned() {
            self.ship_from = Some(shipper.ship_from.into());
            self.shipper = shipper.shipper_address.map(Into::into);
            if shipper.shipper_number.is_some() {
                self.shipper_number = shipper.shipper_number;
            }
            if let Some(currency) = shipper.currency {
                self.currency = Some(currency.to_ascii_uppercase());
            }
        }
        self
    }

    /// The shipper account number, required to rate and ship.
    pub(crate) fn require_shipper_number(&self) -> Result<&str> {
        self.shipper_number.as_deref().ok_or_else(|| {
            invalid(
                "shipper-number",
                "is required (the 6-character UPS account)",
            )
        })
    }

    /// The ship-from address, required to rate and ship.
    pub(crate) fn require_ship_from(&self) -> Result<&Address> {
        self.ship_from
            .as_ref()
            .ok_or_else(|| invalid("ship-from", "is required (an address object, see README)"))
    }

    /// The shipper's address: `shipper-address`, else `ship-from`.
    pub(crate) fn require_shipper(&self) -> Result<&Address> {
        match &self.shipper {
            Some(a) => Ok(a),
            None => self.require_ship_from(),
        }
    }

    /// The units packages are declared in: configured, else by the shipper's country (UPS wants
    /// units valid for it: LBS/IN in the US and Puerto Rico, KGS/CM elsewhere).
    pub(crate) fn units_for(&self, shipper_country: &str) -> Units {
        self.units
            .unwrap_or(match shipper_country.to_ascii_uppercase().as_str() {
                "US" | "PR" => Units::Imperial,
                _ => Units::Metric,
            })
    }

    /// The currency to report when UPS did not say (shipments found only through tracking).
    pub(crate) fn fallback_currency(&self) -> String {
        if let Some(c) = &self.currency {
            return c.clone();
        }
        let country = self
            .require_shipper()
            .map(|a| a.country.as_str())
            .unwrap_or("US");
        match country {
            "US" | "PR" => "USD",
            "CA" => "CAD",
            "GB" => "GBP",
            "CH" => "CHF",
            "PL" => "PLN",
            "SE" => "SEK",
            "DK" => "DKK",
            _ => "EUR",
        }
        .to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::fake::Fake;

    #[test]
    fn loads_defaults_and_addresses() {
        let s = Settings::load(&Fake::new()).unwrap();
        assert_eq!(s.base_url, "https://ups.example/api");
        assert_eq!(s.transaction_src, "ml-connector");
        assert_eq!(s.label_format, LabelFormat::Gif);
        assert_eq!(s.label_stock, ("6".to_owned(), "4".to_owned()));
        assert_eq!(s.trackalert_version, TrackAlertVersion::V1);
        assert_eq!(s.require_ship_from().unwrap().city, "Atlanta");
        assert_eq!(s.require_shipper().unwrap().postal_code, "30336");
        assert_eq!(s.units_for("US"), Units::Imperial);
        assert_eq!(s.units_for("NL"), Units::Metric);
        assert_eq!(s.xav_countries, vec!["US", "PR"]);
        assert_eq!(s.fallback_currency(), "USD");
    }

    #[test]
    fn refuses_bad_values_naming_the_key() {
        let err = Settings::load(&Fake::new().with_config("label-format", "PDF")).unwrap_err();
        assert!(
            matches!(err, Error::InvalidInput(ref f) if f.field == "label-format"),
            "{err:?}"
        );
        let err = Settings::load(&Fake::new().without_config("base-url")).unwrap_err();
        assert!(matches!(err, Error::InvalidInput(ref f) if f.field == "base-url"));
        let err =
            Settings::load(&Fake::new().with_config("ship-from", "{\"name\":1}")).unwrap_err();
        assert!(matches!(err, Error::InvalidInput(ref f) if f.field == "ship-from"));
        let s = Settings::load(
            &Fake::new()
                .with_config("units", "metric")
                .with_config("label-stock-size", "4x8"),
        )
        .unwrap();
        assert_eq!(s.units_for("US"), Units::Metric);
        assert_eq!(s.label_stock, ("8".to_owned(), "4".to_owned()));
    }
}
