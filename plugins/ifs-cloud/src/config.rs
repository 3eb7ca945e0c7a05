//! Tenant settings, read from the host's per-tenant configuration with defaults that follow
//! `shared/reference/ifs.md` (and the IFS simulator where the docs leave a name open).
//!
//! IFS releases and customizations name projections, entity sets and fields differently, so
//! every name the connector puts into a URL or reads from a record is a setting. Names that go
//! into URLs are checked to be plain OData identifiers, so a setting can never inject query text.
//! README.md lists every key.

use std::collections::BTreeMap;

use mlc_plugin_sdk::{Error, Result, TrackingStatus};
use serde_json::{Map, Value};

/// How the poll pages through the result set (see `poll.rs` for why `keyset` is the default).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Paging {
    /// Each page is a fresh query continuing after the last (timestamp, key) read.
    Keyset,
    /// Follow `@odata.nextLink` as the server returns it.
    NextLink,
    /// Client-side `$top`/`$skip` (for tenants that return no `nextLink`).
    Skip,
}

/// Whether the ready-state condition goes into `$filter` or is checked on the records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StateFilter {
    /// `Objstate eq IfsApp.<Projection>.<Enum>'Completed'` in `$filter`.
    Server,
    /// Some tenants answer 400 to `Objstate` filters: filter the records here instead.
    Client,
}

/// Type of the shipment key in key predicates and filters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyType {
    /// `ShipmentSet(ShipmentId=19)`.
    Number,
    /// `ShipmentSet(ShipmentId='19')`.
    String,
}

/// How dates are written into IFS fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DateFormat {
    /// `Edm.DateTimeOffset`: `2026-03-01T14:05:00Z`.
    DateTime,
    /// `Edm.Date`: `2026-03-01`.
    Date,
}

/// Field names of the shipment header.
#[derive(Clone, Debug)]
pub struct ShipmentFields {
    pub company: String,
    pub site: String,
    pub order_ref: String,
    pub ship_via: String,
    pub name: String,
    pub attention: String,
    pub address_lines: Vec<String>,
    pub city: String,
    pub state: String,
    pub postal_code: String,
    pub country: String,
    pub phone: String,
    pub email: String,
    pub cost_center: String,
    pub code_parts: Vec<String>,
}

/// Where parcels come from and how their fields are named.
#[derive(Clone, Debug)]
pub struct ParcelFields {
    pub projection: String,
    pub entity_set: String,
    pub shipment_field: String,
    pub key: String,
    pub parent_field: String,
    pub weight: String,
    pub weight_uom: String,
    pub length: String,
    pub width: String,
    pub height: String,
    pub length_uom: String,
    pub description: String,
    pub default_weight_uom: Option<String>,
    pub default_length_uom: Option<String>,
    pub batch_size: usize,
}

/// Polling settings.
#[derive(Clone, Debug)]
pub struct PollSettings {
    pub modified_field: String,
    pub state_field: String,
    pub states: Vec<String>,
    pub state_enum: String,
    pub state_filter: StateFilter,
    pub extra_filter: Option<String>,
    pub page_size: usize,
    pub paging: Paging,
    pub overlap_ms: i64,
    pub start_from_ms: Option<i64>,
}

/// Write-back settings.
#[derive(Clone, Debug)]
pub struct WritebackSettings {
    pub tracking_number_field: String,
    pub carrier_shipment_id_field: String,
    pub all_tracking_numbers_field: String,
    pub status_field: String,
    pub event_code_field: String,
    pub last_event_field: String,
    pub event_date_field: String,
    pub delivered_date_field: String,
    pub date_format: DateFormat,
    pub last_event_max_len: usize,
    pub status_values: BTreeMap<String, String>,
    pub max_attempts: u32,
}

/// Freight-charge settings.
#[derive(Clone, Debug)]
pub struct FreightSettings {
    pub projection: String,
    pub order_set: String,
    pub order_key: String,
    pub charge_nav: String,
    pub charge_type: Option<String>,
    pub reference_field: String,
    pub shipment_field: String,
    pub cost_center_field: String,
    pub code_part_fields: BTreeMap<String, String>,
    pub order_currency_field: String,
    pub sales_unit: String,
    pub extra_fields: Map<String, Value>,
}

/// Everything the connector reads from tenant configuration.
#[derive(Clone, Debug)]
pub struct Settings {
    /// `https://acme.ifs.cloud` (scheme and authority, no trailing slash).
    pub origin: String,
    /// `/main/ifsapplications/projection/v1`.
    pub base_path: String,
    pub company: Option<String>,
    pub sites: Vec<String>,
    pub shipment_projection: String,
    pub shipment_set: String,
    pub shipment_key: String,
    pub key_type: KeyType,
    pub fields: ShipmentFields,
    pub parcels: ParcelFields,
    pub poll: PollSettings,
    pub writeback: WritebackSettings,
    pub freight: FreightSettings,
    pub timeout_ms: u64,
}

fn bad(key: &str, msg: impl Into<String>) -> Error {
    Error::invalid_input("configuration", key, msg)
}

/// Reads settings through a lookup function (the host's `config::get`, or a map in tests).
struct Reader<'a> {
    get: &'a dyn Fn(&str) -> Option<String>,
}

impl Reader<'_> {
    fn raw(&self, key: &str) -> Option<String> {
        (self.get)(key).map(|v| v.trim().to_owned())
    }

    fn opt(&self, key: &str) -> Option<String> {
        self.raw(key).filter(|v| !v.is_empty())
    }

    fn string(&self, key: &str, default: &str) -> String {
        self.raw(key).unwrap_or_else(|| default.to_owned())
    }

    /// A field or entity-set name; an empty value switches the feature off where allowed.
    fn ident(&self, key: &str, default: &str, allow_empty: bool) -> Result<String> {
        let v = self.string(key, default);
        if v.is_empty() {
            return if allow_empty {
                Ok(v)
            } else {
                Err(bad(key, "must not be empty"))
            };
        }
        check_ident(key, &v)?;
        Ok(v)
    }

    fn ident_list(&self, key: &str, default: &str) -> Result<Vec<String>> {
        let v = self.string(key, default);
        let mut out = Vec::new();
        for part in v.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            check_ident(key, part)?;
            out.push(part.to_owned());
        }
        Ok(out)
    }

    fn list(&self, key: &str, default: &str) -> Vec<String> {
        self.string(key, default)
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(str::to_owned)
            .collect()
    }

    fn number<T: std::str::FromStr>(&self, key: &str, default: T) -> Result<T> {
        mlc_plugin_sdk::settings::number(key, self.opt(key), default)
    }

    fn json_object(&self, key: &str) -> Result<Map<String, Value>> {
        match self.opt(key) {
            None => Ok(Map::new()),
            Some(v) => match serde_json::from_str::<Value>(&v) {
                Ok(Value::Object(m)) => Ok(m),
                _ => Err(bad(key, "must be a JSON object")),
            },
        }
    }
}

/// An OData property, entity set or navigation name: letters, digits, `_` and IFS's `Cf$_`.
fn check_ident(key: &str, v: &str) -> Result<()> {
    let ok = v
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$');
    if ok {
        Ok(())
    } else {
        Err(bad(key, format!("`{v}` is not an OData identifier")))
    }
}

/// The default tracking-status texts (as the IFS simulator's seed writes them).
pub fn default_status_values() -> BTreeMap<String, String> {
    [
        ("manifested", "Manifested"),
        ("in-transit", "InTransit"),
        ("out-for-delivery", "OutForDelivery"),
        ("delivered", "Delivered"),
        ("exception", "Exception"),
        ("voided", "Voided"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

/// The WIT name of a tracking status, the key of `writeback.status-values`.
pub fn status_key(s: TrackingStatus) -> &'static str {
    match s {
        TrackingStatus::Manifested => "manifested",
        TrackingStatus::InTransit => "in-transit",
        TrackingStatus::OutForDelivery => "out-for-delivery",
        TrackingStatus::Delivered => "delivered",
        TrackingStatus::Exception => "exception",
        TrackingStatus::Voided => "voided",
    }
}

impl Settings {
    /// Reads and validates every setting.
    pub fn from_lookup(get: &dyn Fn(&str) -> Option<String>) -> Result<Settings> {
        let r = Reader { get };
        let host = r
            .opt("host")
            .ok_or_else(|| bad("host", "is required (e.g. `https://acme.ifs.cloud`)"))?;
        let origin = parse_origin(&host)?;
        let api_root = r.string("api-root", "main");
        if !matches!(api_root.as_str(), "main" | "int") {
            return Err(bad(
                "api-root",
                format!("`{api_root}` must be `main` or `int`"),
            ));
        }
        let base_path = r.string(
            "base-path",
            &format!("/{api_root}/ifsapplications/projection/v1"),
        );
        let base_path = format!("/{}", base_path.trim_matches('/'));
        if base_path.contains(['?', '#', ' ']) {
            return Err(bad("base-path", "must be a plain path"));
        }

        let shipment_projection = r.ident("shipment.projection", "ShipmentHandling", false)?;
        let key_type = match r.string("shipment.key-type", "number").as_str() {
            "number" => KeyType::Number,
            "string" => KeyType::String,
            other => {
                return Err(bad(
                    "shipment.key-type",
                    format!("`{other}` must be `number` or `string`"),
                ));
            }
        };

        let fields = ShipmentFields {
            company: r.ident("fields.company", "Company", true)?,
            site: r.ident("fields.site", "Contract", false)?,
            order_ref: r.ident("fields.order-ref", "OrderNo", false)?,
            ship_via: r.ident("fields.ship-via", "ShipViaCode", false)?,
            name: r.ident("fields.name", "ReceiverAddressName", false)?,
            attention: r.ident("fields.attention", "ReceiverContact", true)?,
            address_lines: r.ident_list(
                "fields.address-lines",
                "ReceiverAddress1,ReceiverAddress2,ReceiverAddress3",
            )?,
            city: r.ident("fields.city", "ReceiverCity", false)?,
            state: r.ident("fields.state", "ReceiverState", true)?,
            postal_code: r.ident("fields.postal-code", "ReceiverZipCode", false)?,
            country: r.ident("fields.country", "ReceiverCountry", false)?,
            phone: r.ident("fields.phone", "ReceiverPhone", true)?,
            email: r.ident("fields.email", "", true)?,
            cost_center: r.ident("fields.cost-center", "CodeB", true)?,
            code_parts: r.ident_list("fields.code-parts", "")?,
        };
        if fields.address_lines.is_empty() {
            return Err(bad("fields.address-lines", "needs at least one field"));
        }

        let uom = |key: &str| r.opt(key);
        let parcels = ParcelFields {
            projection: r.ident("parcels.projection", &shipment_projection, false)?,
            entity_set: r.ident("parcels.entity-set", "HandlingUnitSet", false)?,
            shipment_field: r.ident("parcels.shipment-field", "ShipmentId", false)?,
            key: r.ident("parcels.key", "HandlingUnitId", false)?,
            parent_field: r.ident("parcels.parent-field", "", true)?,
            weight: r.ident("parcels.weight-field", "ManualGrossWeight", false)?,
            weight_uom: r.ident("parcels.weight-uom-field", "UomForWeight", true)?,
            length: r.ident("parcels.length-field", "Depth", false)?,
            width: r.ident("parcels.width-field", "Width", false)?,
            height: r.ident("parcels.height-field", "Height", false)?,
            length_uom: r.ident("parcels.length-uom-field", "UomForLength", true)?,
            description: r.ident("parcels.description-field", "Description", true)?,
            default_weight_uom: uom("parcels.default-weight-uom"),
            default_length_uom: uom("parcels.default-length-uom"),
            batch_size: r.number("parcels.batch-size", 20usize)?.clamp(1, 100),
        };

        let paging = match r.string("poll.paging", "keyset").as_str() {
            "keyset" => Paging::Keyset,
            "next-link" => Paging::NextLink,
            "skip" => Paging::Skip,
            other => {
                return Err(bad(
                    "poll.paging",
                    format!("`{other}` must be `keyset`, `next-link` or `skip`"),
                ));
            }
        };
        let state_filter = match r.string("poll.state-filter", "server").as_str() {
            "server" => StateFilter::Server,
            "client" => StateFilter::Client,
            other => {
                return Err(bad(
                    "poll.state-filter",
                    format!("`{other}` must be `server` or `client`"),
                ));
            }
        };
        let state_enum = r.string(
            "poll.state-enum",
            &format!("IfsApp.{shipment_projection}.ShipmentState"),
        );
        if state_enum.is_empty()
            || !state_enum
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
        {
            return Err(bad(
                "poll.state-enum",
                format!("`{state_enum}` is not a qualified enumeration type"),
            ));
        }
        let start_from_ms = match r.opt("poll.start-from") {
            None => None,
            Some(v) => Some(crate::odata::parse_timestamp(&v).ok_or_else(|| {
                bad(
                    "poll.start-from",
                    format!("`{v}` is not an ISO 8601 timestamp"),
                )
            })?),
        };
        let overlap_s: i64 = r.number("poll.overlap-seconds", 60)?;
        if !(0..=86_400).contains(&overlap_s) {
            return Err(bad("poll.overlap-seconds", "must be between 0 and 86400"));
        }
        let poll = PollSettings {
            modified_field: r.ident("poll.modified-field", "LastActivityDate", false)?,
            state_field: r.ident("poll.state-field", "Objstate", true)?,
            states: r.list("poll.states", "Completed"),
            state_enum,
            state_filter,
            extra_filter: r.opt("poll.extra-filter"),
            page_size: r.number("poll.page-size", 100usize)?.clamp(1, 1000),
            paging,
            overlap_ms: overlap_s * 1000,
            start_from_ms,
        };

        let mut status_values = default_status_values();
        for (k, v) in r.json_object("writeback.status-values")? {
            if !status_values.contains_key(&k) {
                return Err(bad(
                    "writeback.status-values",
                    format!("unknown tracking status `{k}`"),
                ));
            }
            let Value::String(text) = v else {
                return Err(bad(
                    "writeback.status-values",
                    format!("value of `{k}` must be a string"),
                ));
            };
            status_values.insert(k, text);
        }
        let date_format = match r.string("writeback.date-format", "datetime").as_str() {
            "datetime" => DateFormat::DateTime,
            "date" => DateFormat::Date,
            other => {
                return Err(bad(
                    "writeback.date-format",
                    format!("`{other}` must be `datetime` or `date`"),
                ));
            }
        };
        let writeback = WritebackSettings {
            tracking_number_field: r.ident("writeback.tracking-number-field", "ProNo", false)?,
            carrier_shipment_id_field: r.ident("writeback.carrier-shipment-id-field", "", true)?,
            all_tracking_numbers_field: r.ident(
                "writeback.all-tracking-numbers-field",
                "",
                true,
            )?,
            status_field: r.ident("writeback.status-field", "Cf$_TrackingStatus", true)?,
            event_code_field: r.ident(
                "writeback.event-code-field",
                "Cf$_TrackingEventCode",
                true,
            )?,
            last_event_field: r.ident(
                "writeback.last-event-field",
                "Cf$_TrackingLastEvent",
                true,
            )?,
            event_date_field: r.ident(
                "writeback.event-date-field",
                "Cf$_TrackingEventDate",
                true,
            )?,
            delivered_date_field: r.ident(
                "writeback.delivered-date-field",
                "Cf$_DeliveredDate",
                true,
            )?,
            date_format,
            last_event_max_len: r.number("writeback.last-event-max-len", 200usize)?.max(1),
            status_values,
            max_attempts: r.number("writeback.max-attempts", 3u32)?.clamp(1, 20),
        };

        let mut code_part_fields = BTreeMap::new();
        for (k, v) in r.json_object("freight.code-part-fields")? {
            let Value::String(field) = v else {
                return Err(bad(
                    "freight.code-part-fields",
                    format!("value of `{k}` must be a field name"),
                ));
            };
            check_ident("freight.code-part-fields", &field)?;
            code_part_fields.insert(k, field);
        }
        let freight = FreightSettings {
            projection: r.ident("freight.projection", "CustomerOrderHandling", false)?,
            order_set: r.ident("freight.order-set", "CustomerOrderSet", false)?,
            order_key: r.ident("freight.order-key", "OrderNo", false)?,
            charge_nav: r.ident("freight.charge-nav", "CustomerOrderChargeArray", false)?,
            charge_type: r.opt("freight.charge-type"),
            reference_field: r.ident("freight.reference-field", "Cf$_ExternalRef", false)?,
            shipment_field: r.ident("freight.shipment-field", "ShipmentId", true)?,
            cost_center_field: r.ident("freight.cost-center-field", "CodeB", true)?,
            code_part_fields,
            order_currency_field: r.ident("freight.order-currency-field", "CurrencyCode", true)?,
            sales_unit: r.string("freight.sales-unit", "EA"),
            extra_fields: r.json_object("freight.extra-fields")?,
        };

        Ok(Settings {
            origin,
            base_path,
            company: r.opt("company"),
            sites: r.list("sites", ""),
            shipment_projection,
            shipment_set: r.ident("shipment.entity-set", "ShipmentSet", false)?,
            shipment_key: r.ident("shipment.key", "ShipmentId", false)?,
            key_type,
            fields,
            parcels,
            poll,
            writeback,
            freight,
            timeout_ms: r.number("http.timeout-ms", 30_000u64)?.clamp(1000, 300_000),
        })
    }

    /// `https://host/main/ifsapplications/projection/v1/<Projection>.svc`.
    pub fn service_url(&self, projection: &str) -> String {
        format!("{}{}/{projection}.svc", self.origin, self.base_path)
    }
}

/// `acme.ifs.cloud` → `https://acme.ifs.cloud`; keeps an explicit `http://` (simulator).
fn parse_origin(host: &str) -> Result<String> {
    let host = host.trim_end_matches('/');
    let (scheme, rest) = match host.split_once("://") {
        Some((s @ ("http" | "https"), rest)) => (s, rest),
        Some((s, _)) => return Err(bad("host", format!("scheme `{s}` is not http or https"))),
        None => ("https", host),
    };
    let ok = !rest.is_empty()
        && rest
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
    if !ok {
        return Err(bad(
            "host",
            format!("`{host}` must be a host name with optional port and no path"),
        ));
    }
    Ok(format!("{scheme}://{}", rest.to_ascii_lowercase()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> Result<Settings> {
        let map: BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Settings::from_lookup(&move |k| map.get(k).cloned())
    }

    #[test]
    fn defaults_follow_the_reference() {
        let s = settings(&[("host", "acme.ifs.cloud")]).unwrap();
        assert_eq!(s.origin, "https://acme.ifs.cloud");
        assert_eq!(
            s.service_url("ShipmentHandling"),
            "https://acme.ifs.cloud/main/ifsapplications/projection/v1/ShipmentHandling.svc"
        );
        assert_eq!(s.poll.state_enum, "IfsApp.ShipmentHandling.ShipmentState");
        assert_eq!(s.poll.paging, Paging::Keyset);
        assert_eq!(s.poll.overlap_ms, 60_000);
        assert_eq!(s.fields.postal_code, "ReceiverZipCode");
        assert_eq!(s.writeback.tracking_number_field, "ProNo");
        assert_eq!(s.freight.reference_field, "Cf$_ExternalRef");
    }

    #[test]
    fn int_root_and_overrides() {
        let s = settings(&[
            ("host", "http://127.0.0.1:8080/"),
            ("api-root", "int"),
            ("writeback.tracking-number-field", "AirwayBillNo"),
            ("sites", "AC1, AC2"),
            ("writeback.status-values", r#"{"delivered":"DELIVERED"}"#),
        ])
        .unwrap();
        assert_eq!(
            s.service_url("X"),
            "http://127.0.0.1:8080/int/ifsapplications/projection/v1/X.svc"
        );
        assert_eq!(s.writeback.tracking_number_field, "AirwayBillNo");
        assert_eq!(s.sites, vec!["AC1", "AC2"]);
        assert_eq!(s.writeback.status_values["delivered"], "DELIVERED");
        assert_eq!(s.writeback.status_values["in-transit"], "InTransit");
    }

    #[test]
    fn rejects_bad_settings_by_key() {
        let key_of = |r: Result<Settings>| match r {
            Err(Error::InvalidInput(f)) => f.field,
            other => panic!("{other:?}"),
        };
        assert_eq!(key_of(settings(&[])), "host");
        assert_eq!(
            key_of(settings(&[("host", "x"), ("api-root", "dev")])),
            "api-root"
        );
        assert_eq!(
            key_of(settings(&[
                ("host", "x"),
                ("fields.postal-code", "Zip eq 1")
            ])),
            "fields.postal-code"
        );
        assert_eq!(
            key_of(settings(&[("host", "x"), ("poll.paging", "cursor")])),
            "poll.paging"
        );
        assert_eq!(key_of(settings(&[("host", "ftp://x")])), "host");
        assert_eq!(key_of(settings(&[("host", "x/path")])), "host");
        assert_eq!(
            key_of(settings(&[
                ("host", "x"),
                ("writeback.status-values", r#"{"lost":"L"}"#)
            ])),
            "writeback.status-values"
        );
    }
}
