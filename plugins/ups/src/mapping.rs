//! UPS ⇄ contract types, as pure functions: request bodies from WIT records, WIT records from
//! UPS response bodies, the tracking status table and the error mapping.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use mlc_plugin_sdk::http::{Response, snippet};
use mlc_plugin_sdk::{
    Address, AddressClassification, AddressValidation, AddressVerdict, Error, Label, LabelFormat,
    LengthUnit, Money, Parcel, Rate, Result, RetryInfo, TrackingEvent, TrackingStatus, WeightUnit,
};
use serde_json::{Map, Value, json};

use crate::api::{self, Charge, Text};
use crate::config::{Settings, Units};
use crate::time;

/// Longest name, attention and street line UPS accepts.
const NAME_MAX: usize = 35;

/// Human-readable names of UPS service codes (responses often leave `Description` empty).
pub(crate) fn service_name(code: &str) -> Option<&'static str> {
    Some(match code {
        "01" => "UPS Next Day Air",
        "02" => "UPS 2nd Day Air",
        "03" => "UPS Ground",
        "07" => "UPS Worldwide Express",
        "08" => "UPS Worldwide Expedited",
        "11" => "UPS Standard",
        "12" => "UPS 3 Day Select",
        "13" => "UPS Next Day Air Saver",
        "14" => "UPS Next Day Air Early",
        "17" => "UPS Worldwide Economy DDU",
        "54" => "UPS Worldwide Express Plus",
        "59" => "UPS 2nd Day Air A.M.",
        "65" => "UPS Worldwide Saver",
        "71" => "UPS Worldwide Express Freight Midday",
        "72" => "UPS Worldwide Economy DDP",
        "75" => "UPS Heavy Goods",
        "96" => "UPS Worldwide Express Freight",
        _ => return None,
    })
}

/// The UPS code of a label format.
pub(crate) fn label_code(format: LabelFormat) -> &'static str {
    match format {
        LabelFormat::Gif => "GIF",
        LabelFormat::Png => "PNG",
        LabelFormat::Zpl => "ZPL",
    }
}

/// The contract name of a label format, as stored.
pub(crate) fn label_name(format: LabelFormat) -> &'static str {
    match format {
        LabelFormat::Gif => "gif",
        LabelFormat::Png => "png",
        LabelFormat::Zpl => "zpl",
    }
}

fn clip(s: &str, max: usize) -> String {
    s.trim().chars().take(max).collect()
}

fn opt(s: &Option<String>) -> Option<&str> {
    s.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

// ---------------------------------------------------------------------------------------------
// Addresses and parties

/// The UPS `Address` object of Rate and Ship.
pub(crate) fn ups_address(a: &Address) -> Value {
    let lines: Vec<String> = a
        .lines
        .iter()
        .map(|l| clip(l, NAME_MAX))
        .filter(|l| !l.is_empty())
        .take(3)
        .collect();
    let mut m = Map::new();
    m.insert("AddressLine".into(), json!(lines));
    m.insert("City".into(), json!(clip(&a.city, 30)));
    if let Some(state) = opt(&a.state) {
        m.insert("StateProvinceCode".into(), json!(state));
    }
    if !a.postal_code.trim().is_empty() {
        m.insert("PostalCode".into(), json!(a.postal_code.trim()));
    }
    m.insert(
        "CountryCode".into(),
        json!(a.country.trim().to_ascii_uppercase()),
    );
    Value::Object(m)
}

/// A party (`Shipper`, `ShipTo`, `ShipFrom`): name, attention, phone, e-mail and address.
fn party(a: &Address) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("Name".into(), json!(clip(&a.name, NAME_MAX)));
    if let Some(att) = opt(&a.attention) {
        m.insert("AttentionName".into(), json!(clip(att, NAME_MAX)));
    }
    if let Some(phone) = opt(&a.phone) {
        m.insert("Phone".into(), json!({ "Number": clip(phone, 15) }));
    }
    if let Some(email) = opt(&a.email) {
        m.insert("EMailAddress".into(), json!(email));
    }
    m.insert("Address".into(), ups_address(a));
    m
}

/// The XAV request body for one address.
pub(crate) fn xav_request(a: &Address) -> Value {
    let lines: Vec<&str> = a
        .lines
        .iter()
        .map(|l| l.trim())
        .filter(|l| !l.is_empty())
        .take(3)
        .collect();
    let mut key = Map::new();
    if !a.name.trim().is_empty() {
        key.insert("ConsigneeName".into(), json!(clip(&a.name, NAME_MAX)));
    }
    if let Some(att) = opt(&a.attention) {
        key.insert("AttentionName".into(), json!(clip(att, NAME_MAX)));
    }
    key.insert("AddressLine".into(), json!(lines));
    key.insert("PoliticalDivision2".into(), json!(a.city.trim()));
    if let Some(state) = opt(&a.state) {
        key.insert("PoliticalDivision1".into(), json!(state));
    }
    // ZIP+4 goes in two fields.
    let postal = a.postal_code.trim();
    match postal.split_once('-') {
        Some((zip, ext)) if a.country.eq_ignore_ascii_case("US") => {
            key.insert("PostcodePrimaryLow".into(), json!(zip));
            key.insert("PostcodeExtendedLow".into(), json!(ext));
        }
        _ => {
            key.insert("PostcodePrimaryLow".into(), json!(postal));
        }
    }
    key.insert(
        "CountryCode".into(),
        json!(a.country.trim().to_ascii_uppercase()),
    );
    json!({ "XAVRequest": { "AddressKeyFormat": Value::Object(key) } })
}

fn classification(c: Option<&api::CodeDesc>) -> AddressClassification {
    match c.map(|c| c.code.trimmed()) {
        Some("1") => AddressClassification::Commercial,
        Some("2") => AddressClassification::Residential,
        _ => AddressClassification::Unknown,
    }
}

/// A candidate as a contract address, keeping the input's contact details (XAV does not
/// return phone or e-mail, and usually not the name).
fn candidate_address(c: &api::AddressKeyFormat, input: &Address) -> Address {
    let postal = match (
        c.postcode_primary_low.known(),
        c.postcode_extended_low.known(),
    ) {
        (Some(zip), Some(ext)) => format!("{zip}-{ext}"),
        (Some(zip), None) => zip.to_owned(),
        (None, _) => input.postal_code.clone(),
    };
    let lines: Vec<String> = c
        .address_line
        .iter()
        .filter_map(|l| l.known().map(str::to_owned))
        .collect();
    Address {
        name: c
            .consignee_name
            .known()
            .map_or_else(|| input.name.clone(), str::to_owned),
        attention: c
            .attention_name
            .known()
            .map(str::to_owned)
            .or_else(|| input.attention.clone()),
        lines: if lines.is_empty() {
            input.lines.clone()
        } else {
            lines
        },
        city: c
            .political_division2
            .known()
            .map_or_else(|| input.city.clone(), str::to_owned),
        state: c
            .political_division1
            .known()
            .map(str::to_owned)
            .or_else(|| input.state.clone()),
        postal_code: postal,
        country: c
            .country_code
            .known()
            .map_or_else(|| input.country.clone(), str::to_owned),
        phone: input.phone.clone(),
        email: input.email.clone(),
    }
}

/// The verdict of an XAV response. Indicators are tested for presence, not value.
pub(crate) fn xav_result(r: &api::XavResponse, input: &Address) -> AddressValidation {
    let first = r.candidate.first();
    let class = match &r.address_classification {
        Some(c) if c.code.known().is_some() => classification(Some(c)),
        _ => classification(first.and_then(|c| c.address_classification.as_ref())),
    };
    let candidates = || {
        r.candidate
            .iter()
            .map(|c| candidate_address(&c.address_key_format, input))
            .collect::<Vec<_>>()
    };
    let verdict = if r.no_candidates_indicator.is_some() {
        AddressVerdict::NoCandidates
    } else if r.valid_address_indicator.is_some() {
        match first {
            Some(c) => AddressVerdict::Valid(candidate_address(&c.address_key_format, input)),
            None => AddressVerdict::Valid(input.clone()),
        }
    } else if r.candidate.is_empty() {
        AddressVerdict::NoCandidates
    } else {
        AddressVerdict::Ambiguous(candidates())
    };
    AddressValidation {
        verdict,
        classification: class,
    }
}

// ---------------------------------------------------------------------------------------------
// Packages, units, rounding

/// A weight for UPS: one decimal, rounded up (declaring less than the scale shows invites a
/// billing adjustment), at least 0.1, trailing `.0` dropped.
pub(crate) fn format_weight(value: f64) -> String {
    let tenths = ((value * 10.0) - 1e-6).ceil().max(1.0);
    let s = format!("{:.1}", tenths / 10.0);
    s.strip_suffix(".0").map(str::to_owned).unwrap_or(s)
}

/// A dimension for UPS: whole units (the field allows three characters), rounded to the nearest
/// whole number as UPS does for dimensional weight, at least 1.
pub(crate) fn format_dimension(value: f64) -> String {
    format!("{}", (value + 1e-9).round().max(1.0))
}

fn check_parcel(p: &Parcel) -> Result<()> {
    let subject = format!("parcel {}", p.id);
    if !(p.weight.value.is_finite() && p.weight.value > 0.0) {
        return Err(Error::invalid_input(
            subject,
            "weight",
            format!("{} is not a positive weight", p.weight.value),
        ));
    }
    if let Some(d) = &p.dimensions {
        for (field, v) in [
            ("dimensions.length", d.length),
            ("dimensions.width", d.width),
            ("dimensions.height", d.height),
        ] {
            if !(v.is_finite() && v > 0.0) {
                return Err(Error::invalid_input(
                    subject.clone(),
                    field,
                    format!("{v} is not a positive length"),
                ));
            }
        }
    }
    Ok(())
}

/// One `Package`: `packaging_key` is `PackagingType` (Rate) or `Packaging` (Ship).
fn package(
    p: &Parcel,
    units: Units,
    packaging_key: &str,
    packaging_code: &str,
) -> Result<Map<String, Value>> {
    check_parcel(p)?;
    let (weight_unit, weight_code, length_unit, length_code) = match units {
        Units::Imperial => (WeightUnit::Pounds, "LBS", LengthUnit::Inches, "IN"),
        Units::Metric => (WeightUnit::Kilograms, "KGS", LengthUnit::Centimeters, "CM"),
    };
    let mut m = Map::new();
    if let Some(d) = opt(&p.description) {
        m.insert("Description".into(), json!(clip(d, NAME_MAX)));
    }
    m.insert(packaging_key.into(), json!({ "Code": packaging_code }));
    if let Some(d) = &p.dimensions {
        let d = d.to_unit(length_unit);
        m.insert(
            "Dimensions".into(),
            json!({
                "UnitOfMeasurement": { "Code": length_code },
                "Length": format_dimension(d.length),
                "Width": format_dimension(d.width),
                "Height": format_dimension(d.height),
            }),
        );
    }
    let w = p.weight.to_unit(weight_unit);
    m.insert(
        "PackageWeight".into(),
        json!({ "UnitOfMeasurement": { "Code": weight_code }, "Weight": format_weight(w.value) }),
    );
    Ok(m)
}

fn check_parcels(parcels: &[Parcel]) -> Result<()> {
    if parcels.is_empty() {
        return Err(Error::invalid_input(
            "shipment",
            "parcels",
            "at least one parcel is needed",
        ));
    }
    if parcels.len() > 200 {
        return Err(Error::invalid_input(
            "shipment",
            "parcels",
            "UPS takes at most 200 packages per shipment",
        ));
    }
    Ok(())
}

fn check_ship_to(a: &Address) -> Result<()> {
    if a.country.trim().len() != 2 {
        return Err(Error::invalid_input(
            "ship-to",
            "country",
            format!("`{}` is not an ISO 3166 alpha-2 code", a.country),
        ));
    }
    if a.lines.iter().all(|l| l.trim().is_empty()) {
        return Err(Error::invalid_input("ship-to", "lines", "no street line"));
    }
    if a.city.trim().is_empty() {
        return Err(Error::invalid_input("ship-to", "city", "is empty"));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Rating

/// The `RateRequest` body. `service` none means Shop (Service is then left out).
pub(crate) fn rate_request(
    s: &Settings,
    ship_to: &Address,
    parcels: &[Parcel],
    service: Option<&str>,
) -> Result<Value> {
    check_parcels(parcels)?;
    check_ship_to(ship_to)?;
    let account = s.require_shipper_number()?;
    let shipper_addr = s.require_shipper()?;
    let units = s.units_for(&shipper_addr.country);
    let mut shipper = party(shipper_addr);
    shipper.insert("ShipperNumber".into(), json!(account));
    let packages = parcels
        .iter()
        .map(|p| package(p, units, "PackagingType", &s.packaging_code).map(Value::Object))
        .collect::<Result<Vec<_>>>()?;
    let mut shipment = Map::new();
    shipment.insert("Shipper".into(), Value::Object(shipper));
    shipment.insert("ShipTo".into(), Value::Object(party(ship_to)));
    shipment.insert(
        "ShipFrom".into(),
        Value::Object(party(s.require_ship_from()?)),
    );
    shipment.insert(
        "PaymentDetails".into(),
        json!({ "ShipmentCharge": [{ "Type": "01", "BillShipper": { "AccountNumber": account } }] }),
    );
    if let Some(code) = service {
        shipment.insert(
            "Service".into(),
            json!({ "Code": code, "Description": service_name(code).unwrap_or("") }),
        );
    }
    shipment.insert("NumOfPieces".into(), json!(parcels.len().to_string()));
    shipment.insert("Package".into(), Value::Array(packages));
    if s.negotiated_rates {
        shipment.insert(
            "ShipmentRatingOptions".into(),
            json!({ "NegotiatedRatesIndicator": "" }),
        );
    }
    Ok(json!({
        "RateRequest": {
            // Required by the schema; it repeats the path's Rate or Shop.
            "Request": {
                "RequestOption": if service.is_some() { "Rate" } else { "Shop" },
                "TransactionReference": { "CustomerContext": "rate" },
            },
            "Shipment": Value::Object(shipment),
        }
    }))
}

/// A decimal string as UPS sent it (`"23.45"`, or a JSON number turned into text); `None` when
/// empty or not a plain decimal.
pub(crate) fn decimal(t: &Text) -> Option<String> {
    let s = t.known()?;
    let digits = s.strip_prefix('-').unwrap_or(s);
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    let ok = !int.is_empty()
        && int.bytes().all(|b| b.is_ascii_digit())
        && frac.bytes().all(|b| b.is_ascii_digit())
        && (!digits.contains('.') || !frac.is_empty());
    ok.then(|| s.to_owned())
}

/// A UPS charge as contract money.
pub(crate) fn money(c: &Charge, fallback_currency: &str) -> Option<Money> {
    let amount = decimal(&c.monetary_value)?;
    let currency = c
        .currency_code
        .known()
        .unwrap_or(fallback_currency)
        .to_ascii_uppercase();
    Some(Money { amount, currency })
}

/// Negotiated total when UPS returned one, else the published total; and the published total.
fn totals(
    published: Option<&Charge>,
    negotiated: Option<&api::NegotiatedCharges>,
    currency: &str,
) -> Option<(Money, Money, bool)> {
    let published = published.and_then(|c| money(c, currency));
    let negotiated = negotiated
        .and_then(|n| n.total())
        .and_then(|c| money(c, currency));
    match (negotiated, published) {
        (Some(n), Some(p)) => Some((n, p, true)),
        (Some(n), None) => Some((n.clone(), n, true)),
        (None, Some(p)) => Some((p.clone(), p, false)),
        (None, None) => None,
    }
}

/// Rates from a Rate or Shop response; rated shipments without a usable total are skipped.
pub(crate) fn rates(r: &api::RateResponse, currency: &str) -> Vec<Rate> {
    r.rated_shipment
        .iter()
        .filter_map(|rs| {
            let (total, published_total, negotiated) = totals(
                rs.total_charges.as_ref(),
                rs.negotiated_rate_charges.as_ref(),
                currency,
            )?;
            let code = rs.service.code.trimmed().to_owned();
            let name = rs
                .service
                .description
                .known()
                .map(str::to_owned)
                .or_else(|| service_name(&code).map(str::to_owned))
                .unwrap_or_else(|| format!("UPS service {code}"));
            let transit_days = rs
                .guaranteed_delivery
                .as_ref()
                .and_then(|g| g.business_days_in_transit.known())
                .or_else(|| {
                    rs.time_in_transit
                        .as_ref()
                        .and_then(|t| t.service_summary.first())
                        .and_then(|s| s.estimated_arrival.as_ref())
                        .and_then(|a| a.business_days_in_transit.known())
                })
                .and_then(|d| d.parse::<u32>().ok());
            Some(Rate {
                service: code,
                service_name: name,
                total,
                published_total,
                negotiated,
                transit_days,
            })
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Shipping

/// What `ship_request` needs beyond settings.
pub(crate) struct ShipInput<'a> {
    pub(crate) idempotency_key: &'a str,
    pub(crate) reference: &'a str,
    pub(crate) order_ref: &'a str,
    pub(crate) service: &'a str,
    pub(crate) ship_to: &'a Address,
    pub(crate) parcels: &'a [Parcel],
    pub(crate) label_format: LabelFormat,
}

fn reference_numbers(s: &Settings, reference: &str, order_ref: &str) -> Result<Vec<Value>> {
    let mut refs = Vec::new();
    for (field, code, value) in [
        ("reference", &s.reference_code, reference),
        ("order-ref", &s.order_reference_code, order_ref),
    ] {
        let value = value.trim();
        if value.is_empty() {
            continue;
        }
        if value.chars().count() > 35 {
            return Err(Error::invalid_input(
                "shipment",
                field,
                "UPS reference numbers hold at most 35 characters",
            ));
        }
        refs.push(json!({ "Code": code, "Value": value }));
    }
    Ok(refs)
}

/// The `ShipmentRequest` body. Reference numbers go on each package for US→US and PR→PR
/// shipments and on the shipment otherwise, as UPS requires.
pub(crate) fn ship_request(s: &Settings, i: &ShipInput<'_>) -> Result<Value> {
    check_parcels(i.parcels)?;
    check_ship_to(i.ship_to)?;
    if i.reference.trim().is_empty() {
        return Err(Error::invalid_input(
            "shipment",
            "reference",
            "is empty: the shipment could not be found again",
        ));
    }
    if i.service.trim().is_empty() {
        return Err(Error::invalid_input("shipment", "service", "is empty"));
    }
    let account = s.require_shipper_number()?;
    let shipper_addr = s.require_shipper()?;
    let units = s.units_for(&shipper_addr.country);
    let refs = reference_numbers(s, i.reference, i.order_ref)?;
    let from = shipper_addr.country.trim().to_ascii_uppercase();
    let to = i.ship_to.country.trim().to_ascii_uppercase();
    let package_level_refs = matches!((from.as_str(), to.as_str()), ("US", "US") | ("PR", "PR"));

    let mut shipper = party(shipper_addr);
    shipper.insert("ShipperNumber".into(), json!(account));
    let packages = i
        .parcels
        .iter()
        .map(|p| {
            let mut m = package(p, units, "Packaging", &s.packaging_code)?;
            if package_level_refs && !refs.is_empty() {
                m.insert("ReferenceNumber".into(), json!(refs));
            }
            Ok(Value::Object(m))
        })
        .collect::<Result<Vec<_>>>()?;
    let mut shipment = Map::new();
    shipment.insert("Description".into(), json!(clip(&s.description, 50)));
    shipment.insert("Shipper".into(), Value::Object(shipper));
    shipment.insert("ShipTo".into(), Value::Object(party(i.ship_to)));
    shipment.insert(
        "ShipFrom".into(),
        Value::Object(party(s.require_ship_from()?)),
    );
    shipment.insert(
        "PaymentInformation".into(),
        json!({ "ShipmentCharge": [{ "Type": "01", "BillShipper": { "AccountNumber": account } }] }),
    );
    shipment.insert(
        "Service".into(),
        json!({ "Code": i.service.trim(), "Description": service_name(i.service.trim()).unwrap_or("") }),
    );
    if !package_level_refs && !refs.is_empty() {
        shipment.insert("ReferenceNumber".into(), json!(refs));
    }
    shipment.insert("Package".into(), Value::Array(packages));
    if s.negotiated_rates {
        shipment.insert(
            "ShipmentRatingOptions".into(),
            json!({ "NegotiatedRatesIndicator": "" }),
        );
    }
    Ok(json!({
        "ShipmentRequest": {
            "Request": {
                "RequestOption": "nonvalidate",
                "TransactionReference": { "CustomerContext": clip(i.idempotency_key, 512) },
            },
            "Shipment": Value::Object(shipment),
            "LabelSpecification": label_specification(s, i.label_format),
        }
    }))
}

/// `LabelSpecification` for Ship and Label Recovery.
pub(crate) fn label_specification(s: &Settings, format: LabelFormat) -> Value {
    json!({
        "LabelImageFormat": { "Code": label_code(format) },
        "HTTPUserAgent": "Mozilla/4.5",
        "LabelStockSize": { "Height": s.label_stock.0, "Width": s.label_stock.1 },
    })
}

/// Decodes a base64 label image, whitespace tolerated.
pub(crate) fn decode_label(image: &api::LabelImage, requested: LabelFormat) -> Result<Label> {
    let text: String = image
        .graphic_image
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    if text.is_empty() {
        return Err(Error::internal("UPS returned an empty label image"));
    }
    let data = BASE64
        .decode(text.as_bytes())
        .map_err(|e| Error::internal(format!("label image is not base64: {e}")))?;
    let format = image
        .format_code()
        .and_then(crate::config::label_format)
        .unwrap_or(requested);
    Ok(Label { format, data })
}

/// What a Ship response says.
#[derive(Debug, Clone)]
pub(crate) struct Shipped {
    pub(crate) shipment_id: String,
    pub(crate) tracking_numbers: Vec<String>,
    /// Charges and whether negotiated; none when UPS returned no total.
    pub(crate) charges: Option<(Money, bool)>,
    /// One label per tracking number that came with an image.
    pub(crate) labels: Vec<(String, Label)>,
    /// Labels that could not be decoded (tracking number, reason).
    pub(crate) label_problems: Vec<(String, String)>,
}

/// Reads a Ship response.
pub(crate) fn shipped(
    r: &api::ShipmentResults,
    requested: LabelFormat,
    currency: &str,
) -> Result<Shipped> {
    let tracking_numbers: Vec<String> = r
        .package_results
        .iter()
        .filter_map(|p| p.tracking_number.known().map(str::to_owned))
        .collect();
    let shipment_id = match r.shipment_identification_number.known() {
        Some(id) => id.to_owned(),
        None => tracking_numbers.first().cloned().ok_or_else(|| {
            Error::internal("UPS answered the shipment without an id or tracking number")
        })?,
    };
    let charges = totals(
        r.shipment_charges
            .as_ref()
            .and_then(|c| c.total_charges.as_ref()),
        r.negotiated_rate_charges.as_ref(),
        currency,
    )
    .map(|(total, _, negotiated)| (total, negotiated));
    let mut labels = Vec::new();
    let mut label_problems = Vec::new();
    for p in r.package_results.iter() {
        let (Some(tn), Some(img)) = (p.tracking_number.known(), &p.shipping_label) else {
            continue;
        };
        match decode_label(img, requested) {
            Ok(label) => labels.push((tn.to_owned(), label)),
            Err(e) => label_problems.push((tn.to_owned(), e.describe())),
        }
    }
    Ok(Shipped {
        shipment_id,
        tracking_numbers,
        charges,
        labels,
        label_problems,
    })
}

// ---------------------------------------------------------------------------------------------
// Tracking

/// The contract status of a UPS status type letter and code. `delivered_known` says that UPS
/// reported an actual delivery date for the event.
pub(crate) fn tracking_status(kind: &str, code: &str, delivered_known: bool) -> TrackingStatus {
    let code = code.trim().to_ascii_uppercase();
    match kind.trim().to_ascii_uppercase().as_str() {
        "M" => TrackingStatus::Manifested,
        "MV" => TrackingStatus::Voided,
        "X" => TrackingStatus::Exception,
        // Type D also covers "loaded on delivery vehicle" and "out for delivery": only FS or an
        // actual delivery date make it delivered.
        "D" if code == "FS" || delivered_known => TrackingStatus::Delivered,
        "D" => TrackingStatus::OutForDelivery,
        "I" if code == "OT" => TrackingStatus::OutForDelivery,
        // I, P (pickup), U (updated delivery date) and anything new: still moving.
        _ => TrackingStatus::InTransit,
    }
}

/// `City, ST, CC` with unknown parts left out; none when all are unknown.
pub(crate) fn location(city: &Text, state: &Text, country: &Text) -> Option<String> {
    let parts: Vec<&str> = [city.known(), state.known(), country.known()]
        .into_iter()
        .flatten()
        .collect();
    (!parts.is_empty()).then(|| parts.join(", "))
}

/// The instant of an event: the GMT date and time when given, else the local ones shifted by
/// the offset, else the local ones taken as UTC.
fn instant(
    gmt_date: &Text,
    gmt_time: &Text,
    local_date: &Text,
    local_time: &Text,
    offset: &Text,
) -> Option<i64> {
    if let (Some(d), Some(t)) = (gmt_date.known(), gmt_time.known())
        && let Some(ms) = time::utc_ms(d, t)
    {
        return Some(ms);
    }
    let offset = offset.known().and_then(time::parse_offset).unwrap_or(0);
    time::local_to_utc_ms(local_date.known()?, local_time.trimmed(), offset)
}

/// Events of one Track Alert webhook body (one event object, or an array of them).
pub(crate) fn pushed_events(body: &[u8], now_ms: i64) -> Result<Vec<TrackingEvent>> {
    let bad = |msg: String| Error::invalid_input("tracking webhook", "body", msg);
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| bad(format!("not JSON: {e}; starts: {}", snippet(body))))?;
    let items = match value {
        Value::Array(items) => items,
        other => vec![other],
    };
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        if !item.is_object() {
            return Err(bad("not a tracking event object".into()));
        }
        let e: api::PushedEvent =
            serde_json::from_value(item).map_err(|e| bad(format!("not a tracking event: {e}")))?;
        let tn = e
            .tracking_number
            .as_ref()
            .and_then(|t| t.known())
            .ok_or_else(|| bad("no trackingNumber".into()))?;
        let status = e
            .activity_status
            .as_ref()
            .ok_or_else(|| bad("no activityStatus".into()))?;
        let delivered_known = e.actual_delivery_date.known().is_some();
        let mapped = tracking_status(&status.kind, &status.code, delivered_known);
        let occurred_at = instant(
            &e.gmt_activity_date,
            &e.gmt_activity_time,
            &e.local_activity_date,
            &e.local_activity_time,
            &e.gmt_offset,
        )
        .unwrap_or(now_ms);
        let delivered_at = (mapped == TrackingStatus::Delivered).then(|| {
            let offset = e
                .gmt_offset
                .known()
                .and_then(time::parse_offset)
                .unwrap_or(0);
            e.actual_delivery_date
                .known()
                .and_then(|d| time::local_to_utc_ms(d, e.actual_delivery_time.trimmed(), offset))
                .unwrap_or(occurred_at)
        });
        let loc = e
            .activity_location
            .as_ref()
            .and_then(|l| location(&l.city, &l.state_province, &l.country));
        out.push(TrackingEvent {
            tracking_number: tn.to_owned(),
            status: mapped,
            carrier_code: status
                .code
                .known()
                .or(status.kind.known())
                .unwrap_or_default()
                .to_owned(),
            description: status.description.known().unwrap_or_default().to_owned(),
            occurred_at,
            location: loc,
            delivered_at,
            received_by: e.received_by.known().map(str::to_owned),
        });
    }
    Ok(out)
}

/// Events of a Track API response for `tracking_number` (every package when none matches),
/// newest first.
pub(crate) fn track_events(r: &api::TrackResponse, tracking_number: &str) -> Vec<TrackingEvent> {
    let packages: Vec<&api::TrackPackage> =
        r.shipment.iter().flat_map(|s| s.package.iter()).collect();
    let wanted = tracking_number.trim();
    let matching: Vec<&api::TrackPackage> = packages
        .iter()
        .copied()
        .filter(|p| p.tracking_number.trimmed().eq_ignore_ascii_case(wanted))
        .collect();
    let chosen = if matching.is_empty() {
        packages
    } else {
        matching
    };
    let mut events: Vec<TrackingEvent> = chosen
        .iter()
        .flat_map(|p| package_events(p, wanted))
        .collect();
    events.sort_by_key(|e| std::cmp::Reverse(e.occurred_at));
    events
}

fn package_events(p: &api::TrackPackage, fallback_tn: &str) -> Vec<TrackingEvent> {
    let tn = p.tracking_number.known().unwrap_or(fallback_tn).to_owned();
    let delivered_date = p
        .delivery_date
        .iter()
        .find(|d| d.kind.trimmed().eq_ignore_ascii_case("DEL"))
        .and_then(|d| d.date.known());
    let delivered_time = p
        .delivery_time
        .as_ref()
        .filter(|t| t.kind.trimmed().eq_ignore_ascii_case("DEL"))
        .and_then(|t| t.end_time.known().or(t.start_time.known()));
    let received_by = p
        .delivery_information
        .as_ref()
        .and_then(|d| d.received_by.known())
        .map(str::to_owned);
    p.activity
        .iter()
        .filter_map(|a| {
            let status = a.status.as_ref()?;
            let occurred_at = instant(&a.gmt_date, &a.gmt_time, &a.date, &a.time, &a.gmt_offset)?;
            let mapped = tracking_status(&status.kind, &status.code, delivered_date.is_some());
            let delivered = mapped == TrackingStatus::Delivered;
            let offset = a
                .gmt_offset
                .known()
                .and_then(time::parse_offset)
                .unwrap_or(0);
            let delivered_at = delivered.then(|| {
                delivered_date
                    .and_then(|d| delivered_time.and_then(|t| time::local_to_utc_ms(d, t, offset)))
                    .unwrap_or(occurred_at)
            });
            let loc = a
                .location
                .as_ref()
                .and_then(|l| l.address.as_ref())
                .and_then(|ad| {
                    location(
                        &ad.city,
                        &ad.state_province,
                        if ad.country_code.known().is_some() {
                            &ad.country_code
                        } else {
                            &ad.country
                        },
                    )
                });
            Some(TrackingEvent {
                tracking_number: tn.clone(),
                status: mapped,
                carrier_code: status
                    .code
                    .known()
                    .or(status.kind.known())
                    .unwrap_or_default()
                    .to_owned(),
                description: status.description.known().unwrap_or_default().to_owned(),
                occurred_at,
                location: loc,
                delivered_at,
                received_by: if delivered { received_by.clone() } else { None },
            })
        })
        .collect()
}

/// Events of a Quantum View response; local times are read at `offset_secs`.
pub(crate) fn qv_events(events: &api::QvEvents, offset_secs: i64) -> Vec<TrackingEvent> {
    let at = |d: &Text, t: &Text| time::local_to_utc_ms(d.known()?, t.trimmed(), offset_secs);
    let loc = |l: &Option<api::QvActivityLocation>| {
        l.as_ref()
            .and_then(|l| l.address_artifact_format.as_ref())
            .and_then(|a| {
                location(
                    &a.political_division2,
                    &a.political_division1,
                    &a.country_code,
                )
            })
    };
    let mut out = Vec::new();
    let mut push = |tn: &Text,
                    status,
                    code: &str,
                    description: String,
                    occurred: Option<i64>,
                    location,
                    received_by: Option<String>| {
        let (Some(tn), Some(occurred_at)) = (tn.known(), occurred) else {
            return;
        };
        out.push(TrackingEvent {
            tracking_number: tn.to_owned(),
            status,
            carrier_code: code.to_owned(),
            description,
            occurred_at,
            location,
            delivered_at: (status == TrackingStatus::Delivered).then_some(occurred_at),
            received_by,
        });
    };
    for file in events
        .subscription_events
        .iter()
        .flat_map(|s| s.subscription_file.iter())
    {
        for m in file.manifest.iter() {
            let origin = m
                .shipper
                .as_ref()
                .and_then(|s| s.address.as_ref())
                .and_then(|a| location(&a.city, &a.state_province_code, &a.country_code));
            for p in m.package.iter() {
                let when = p
                    .activity
                    .first()
                    .and_then(|a| at(&a.date, &a.time))
                    .or_else(|| at(&m.pickup_date, &Text::default()));
                push(
                    &p.tracking_number,
                    TrackingStatus::Manifested,
                    "MP",
                    "Shipment Ready for UPS".into(),
                    when,
                    origin.clone(),
                    None,
                );
            }
        }
        for o in file.origin.iter() {
            push(
                &o.tracking_number,
                TrackingStatus::InTransit,
                "OR",
                "Origin Scan".into(),
                at(&o.date, &o.time),
                loc(&o.activity_location),
                None,
            );
        }
        for x in file.exception.iter() {
            let description = [x.status_description.known(), x.reason_description.known()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(": ");
            let code = x
                .status_code
                .known()
                .or(x.reason_code.known())
                .unwrap_or("X");
            push(
                &x.tracking_number,
                TrackingStatus::Exception,
                code,
                description,
                at(&x.date, &x.time),
                loc(&x.activity_location),
                None,
            );
        }
        for d in file.delivery.iter() {
            let signed = d
                .delivery_location
                .as_ref()
                .and_then(|l| l.signed_for_by_name.known())
                .map(str::to_owned);
            push(
                &d.tracking_number,
                TrackingStatus::Delivered,
                "FS",
                "Delivered".into(),
                at(&d.date, &d.time),
                loc(&d.activity_location),
                signed,
            );
        }
        for g in file.generic.iter() {
            let kind = g.activity_type.trimmed().to_ascii_uppercase();
            let (status, description) = match kind.as_str() {
                "VM" => (TrackingStatus::Voided, "Manifest Void"),
                "OT" | "OD" => (TrackingStatus::OutForDelivery, "Out for Delivery"),
                "UD" => (TrackingStatus::InTransit, "Updated Delivery Date"),
                "DS" => (TrackingStatus::InTransit, "Destination Scan"),
                _ => (TrackingStatus::InTransit, "In Transit"),
            };
            let when = g.activity.first().and_then(|a| at(&a.date, &a.time));
            push(
                &g.tracking_number,
                status,
                &kind,
                description.into(),
                when,
                None,
                None,
            );
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Errors

/// The UPS code and message of an error body (`{"response":{"errors":[…]}}`, or Quantum View's
/// `Response.Error[]`); the start of the body when it is neither.
pub(crate) fn error_details(body: &[u8]) -> (String, String, Option<u64>) {
    if let Ok(b) = serde_json::from_slice::<api::ErrorBody>(body)
        && let Some(first) = b.response.as_ref().and_then(|r| r.errors.first())
    {
        let all = b.response.as_ref().map(|r| {
            r.errors
                .iter()
                .map(|e| e.message.trimmed().to_owned())
                .collect::<Vec<_>>()
        });
        let message = all.map(|m| m.join("; ")).unwrap_or_default();
        return (first.code.trimmed().to_owned(), message, None);
    }
    if let Ok(q) = serde_json::from_slice::<api::QvEnvelope>(body)
        && let Some(first) = q.quantum_view_response.response.error.first()
    {
        let retry = first
            .minimum_retry_seconds
            .known()
            .and_then(|s| s.parse::<u64>().ok());
        return (
            first.error_code.trimmed().to_owned(),
            first.error_description.trimmed().to_owned(),
            retry,
        );
    }
    let text = snippet(body);
    let message = if text.trim().is_empty() {
        "no details".to_owned()
    } else {
        text
    };
    (String::new(), message, None)
}

/// The contract error of a non-2xx UPS response: UPS's code and message kept; 429 rate-limited
/// with `Retry-After` (or Quantum View's `MinimumRetrySeconds`); other 4xx rejected except
/// 401/403/404/409 (the SDK's table); 5xx unavailable.
pub(crate) fn error_from(resp: &Response) -> Error {
    let (code, message, minimum_retry) = error_details(&resp.body);
    let err = resp.status_error(code, message);
    match err {
        Error::RateLimited(r) | Error::Unavailable(r)
            if r.retry_after_ms.is_none() && minimum_retry.is_some() =>
        {
            let info = RetryInfo {
                message: r.message,
                retry_after_ms: minimum_retry.map(|s| s.saturating_mul(1000)),
            };
            if resp.status == 429 {
                Error::RateLimited(info)
            } else {
                Error::Unavailable(info)
            }
        }
        other => other,
    }
}

#[cfg(test)]
mod tests;
