//! IFS records ⇄ WIT types. Pure Rust, tested natively with real values.
//!
//! A record missing required data maps to `invalid-input` naming the shipment and the IFS field
//! (e.g. `shipment 10042` / `ReceiverZipCode`): never a panic and never an invented default.

use mlc_plugin_sdk::{
    Address, CodePart, Dimensions, Error, LengthUnit, Parcel, Result, Shipment, Weight, WeightUnit,
};
use serde_json::Value;

use crate::api::{Entity, etag_of};
use crate::config::{ParcelFields, Settings};
use crate::odata::parse_timestamp;

/// `shipment 10042`: the subject of field errors.
pub fn subject(erp_id: &str) -> String {
    format!("shipment {erp_id}")
}

/// A field as trimmed text: strings, and numbers as IFS would print them. Empty is absent.
pub fn text(rec: &Entity, field: &str) -> Option<String> {
    if field.is_empty() {
        return None;
    }
    match rec.get(field)? {
        Value::String(s) => Some(s.trim().to_owned()).filter(|s| !s.is_empty()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn required(rec: &Entity, field: &str, subject: &str) -> Result<String> {
    text(rec, field).ok_or_else(|| Error::invalid_input(subject, field, "is missing or empty"))
}

/// A decimal field: a JSON number, or a numeric string (`IEEE754Compatible=true`).
pub fn number(rec: &Entity, field: &str, subject: &str) -> Result<Option<f64>> {
    let v = match rec.get(field) {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Number(n)) => n.as_f64(),
        Some(Value::String(s)) if s.trim().is_empty() => return Ok(None),
        Some(Value::String(s)) => s.trim().parse::<f64>().ok(),
        Some(_) => None,
    };
    match v {
        Some(x) if x.is_finite() && x >= 0.0 => Ok(Some(x)),
        Some(x) if x.is_finite() => Err(Error::invalid_input(
            subject,
            field,
            format!("is negative ({x})"),
        )),
        _ => Err(Error::invalid_input(subject, field, "is not a number")),
    }
}

/// The record key as a string (`10042`), whatever its JSON type.
pub fn key_of(rec: &Entity, key: &str) -> Option<String> {
    text(rec, key)
}

/// The modification time of a record, in ms.
pub fn modified_at(rec: &Entity, field: &str, subject: &str) -> Result<i64> {
    let raw = required(rec, field, subject)?;
    parse_timestamp(&raw)
        .ok_or_else(|| Error::invalid_input(subject, field, format!("`{raw}` is not a timestamp")))
}

/// An IFS weight unit of measure into the WIT unit, converting where WIT has no such unit.
/// Unknown codes are an error: a parcel must never be rated with a guessed unit.
pub fn weight(value: f64, uom: &str, subject: &str, field: &str) -> Result<Weight> {
    let (value, unit) = match uom.trim().to_ascii_lowercase().as_str() {
        "kg" | "kgs" | "kgm" | "kilo" | "kilogram" | "kilograms" => (value, WeightUnit::Kilograms),
        "g" | "gr" | "grm" | "gram" | "grams" => (value / 1000.0, WeightUnit::Kilograms),
        "t" | "tne" | "tonne" => (value * 1000.0, WeightUnit::Kilograms),
        "lb" | "lbs" | "lbr" | "pound" | "pounds" => (value, WeightUnit::Pounds),
        "oz" | "onz" | "ounce" | "ounces" => (value / 16.0, WeightUnit::Pounds),
        _ => {
            return Err(Error::invalid_input(
                subject,
                field,
                format!("unknown weight unit `{uom}`"),
            ));
        }
    };
    Ok(Weight { value, unit })
}

/// An IFS length unit of measure into centimetres or inches.
pub fn length_factor(uom: &str, subject: &str, field: &str) -> Result<(f64, LengthUnit)> {
    Ok(match uom.trim().to_ascii_lowercase().as_str() {
        "cm" | "cmt" | "centimeter" | "centimeters" => (1.0, LengthUnit::Centimeters),
        "mm" | "mmt" | "millimeter" | "millimeters" => (0.1, LengthUnit::Centimeters),
        "m" | "mtr" | "meter" | "meters" => (100.0, LengthUnit::Centimeters),
        "in" | "inh" | "inch" | "inches" => (1.0, LengthUnit::Inches),
        "ft" | "fot" | "foot" | "feet" => (12.0, LengthUnit::Inches),
        _ => {
            return Err(Error::invalid_input(
                subject,
                field,
                format!("unknown length unit `{uom}`"),
            ));
        }
    })
}

/// One handling unit as a parcel.
pub fn parcel(hu: &Entity, f: &ParcelFields, subject: &str) -> Result<Parcel> {
    let id = required(hu, &f.key, subject)?;
    let w = number(hu, &f.weight, subject)?.ok_or_else(|| {
        Error::invalid_input(
            subject,
            &f.weight,
            format!("handling unit {id} has no gross weight"),
        )
    })?;
    if w <= 0.0 {
        return Err(Error::invalid_input(
            subject,
            &f.weight,
            format!("handling unit {id} weighs {w}"),
        ));
    }
    let uom = text(hu, &f.weight_uom)
        .or_else(|| f.default_weight_uom.clone())
        .ok_or_else(|| {
            Error::invalid_input(
                subject,
                &f.weight_uom,
                format!("handling unit {id} has no weight unit"),
            )
        })?;
    let weight = weight(w, &uom, subject, &f.weight_uom)?;

    // IFS stores 0 (or nothing) for unknown dimensions: all three unknown means no dimensions;
    // some known and some not is an error, as a carrier would bill a made-up size.
    let sides = [
        (&f.length, number(hu, &f.length, subject)?),
        (&f.width, number(hu, &f.width, subject)?),
        (&f.height, number(hu, &f.height, subject)?),
    ];
    let known = sides
        .iter()
        .filter(|(_, v)| v.is_some_and(|x| x > 0.0))
        .count();
    let dimensions = if known == 0 {
        None
    } else if let Some((missing, _)) = sides.iter().find(|(_, v)| !v.is_some_and(|x| x > 0.0)) {
        return Err(Error::invalid_input(
            subject,
            missing.as_str(),
            format!("handling unit {id} has only some dimensions"),
        ));
    } else {
        let uom = text(hu, &f.length_uom)
            .or_else(|| f.default_length_uom.clone())
            .ok_or_else(|| {
                Error::invalid_input(
                    subject,
                    &f.length_uom,
                    format!("handling unit {id} has no length unit"),
                )
            })?;
        let (factor, unit) = length_factor(&uom, subject, &f.length_uom)?;
        let v = |i: usize| sides[i].1.unwrap_or(0.0) * factor;
        Some(Dimensions {
            length: v(0),
            width: v(1),
            height: v(2),
            unit,
        })
    };
    Ok(Parcel {
        id,
        weight,
        dimensions,
        description: text(hu, &f.description),
    })
}

/// An IFS shipment header plus its handling units as a WIT shipment.
pub fn shipment(
    rec: &Entity,
    hus: &[&Entity],
    s: &Settings,
    etag: Option<String>,
) -> Result<Shipment> {
    let f = &s.fields;
    let erp_id = key_of(rec, &s.shipment_key)
        .ok_or_else(|| Error::invalid_input("shipment", &s.shipment_key, "record has no key"))?;
    let subject = subject(&erp_id);
    let subject = subject.as_str();
    let modified = modified_at(rec, &s.poll.modified_field, subject)?;

    let lines: Vec<String> = f
        .address_lines
        .iter()
        .filter_map(|l| text(rec, l))
        .collect();
    if lines.is_empty() {
        return Err(Error::invalid_input(
            subject,
            &f.address_lines[0],
            "has no street address",
        ));
    }
    let country = required(rec, &f.country, subject)?;
    if country.len() != 2 || !country.chars().all(|c| c.is_ascii_alphabetic()) {
        return Err(Error::invalid_input(
            subject,
            &f.country,
            format!("`{country}` is not an ISO 3166-1 alpha-2 code"),
        ));
    }
    let phone = text(rec, &f.phone)
        .map(|p| {
            p.chars()
                .filter(|c| c.is_ascii_digit() || *c == '+')
                .collect::<String>()
        })
        .filter(|p| !p.is_empty());
    let ship_to = Address {
        name: required(rec, &f.name, subject)?,
        attention: text(rec, &f.attention),
        lines,
        city: required(rec, &f.city, subject)?,
        state: text(rec, &f.state),
        postal_code: required(rec, &f.postal_code, subject)?,
        country: country.to_ascii_uppercase(),
        phone,
        email: text(rec, &f.email),
    };
    let company = match text(rec, &f.company).or_else(|| s.company.clone()) {
        Some(c) => c,
        None => {
            return Err(Error::invalid_input(
                subject,
                if f.company.is_empty() {
                    "company"
                } else {
                    &f.company
                },
                "is missing and no `company` is configured",
            ));
        }
    };

    let mut parcels = Vec::with_capacity(hus.len());
    for hu in hus {
        parcels.push(parcel(hu, &s.parcels, subject)?);
    }
    if parcels.is_empty() {
        return Err(Error::invalid_input(
            subject,
            &s.parcels.entity_set,
            "has no handling units to ship",
        ));
    }
    let code_parts = f
        .code_parts
        .iter()
        .filter_map(|name| {
            text(rec, name).map(|value| CodePart {
                name: name.clone(),
                value,
            })
        })
        .collect();

    Ok(Shipment {
        order_ref: required(rec, &f.order_ref, subject)?,
        company,
        site: required(rec, &f.site, subject)?,
        ship_via: required(rec, &f.ship_via, subject)?,
        ship_to,
        parcels,
        cost_center: text(rec, &f.cost_center),
        code_parts,
        modified_at: modified,
        version: etag
            .or_else(|| etag_of(rec, None))
            .unwrap_or_else(|| format!("modified:{modified}")),
        erp_id,
    })
}

/// Whether a record's current value already equals the value to write (text compared trimmed,
/// timestamps compared as instants, null equal to empty), so an unchanged write is skipped.
pub fn same_value(current: Option<&Value>, desired: &Value) -> bool {
    let norm = |v: Option<&Value>| -> Option<Value> {
        match v {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if s.trim().is_empty() => None,
            Some(Value::String(s)) => Some(Value::String(s.trim().to_owned())),
            Some(other) => Some(other.clone()),
        }
    };
    let (a, b) = (norm(current), norm(Some(desired)));
    if a == b {
        return true;
    }
    match (&a, &b) {
        (Some(Value::String(x)), Some(Value::String(y))) => {
            match (parse_timestamp(x), parse_timestamp(y)) {
                (Some(p), Some(q)) => p == q && x.contains('T') == y.contains('T'),
                _ => false,
            }
        }
        (Some(Value::Number(x)), Some(Value::Number(y))) => x.as_f64() == y.as_f64(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::collections::BTreeMap;

    pub(crate) fn settings() -> Settings {
        let map: BTreeMap<&str, &str> = [("host", "https://acme.ifs.cloud")].into_iter().collect();
        Settings::from_lookup(&|k| map.get(k).map(|v| (*v).to_owned())).unwrap()
    }

    fn ent(v: Value) -> Entity {
        v.as_object().cloned().unwrap()
    }

    /// A `ShipmentSet` record as the IFS simulator and a real tenant return it.
    fn header() -> Entity {
        ent(json!({
            "@odata.etag": "W/\"VyJBQUFYMDAwMDAwMDAwMDAwMDE6MjAyNjAzMDExMDAwMDAuMSI=\"",
            "luname": "Shipment", "keyref": "SHIPMENT_ID=10042^",
            "ShipmentId": 10042, "Objstate": "Completed", "Contract": "AC1", "Company": "ACME-US",
            "OrderNo": "C1000012001", "ReceiverAddressName": "Harbor Outfitters Inc.",
            "ReceiverAddress1": "500 Market St", "ReceiverAddress2": null, "ReceiverAddress3": "  ",
            "ReceiverZipCode": "94105", "ReceiverCity": "San Francisco", "ReceiverState": "CA",
            "ReceiverCountry": "us", "ReceiverContact": "Dock 4", "ReceiverPhone": "+1 (415) 555-0100",
            "ShipViaCode": "UPSGND", "CodeB": "CC-400", "LastActivityDate": "2026-03-01T10:00:00Z",
            "Cf$_Unknown": {"nested": true}
        }))
    }

    fn hu(id: i64, w: Value, wu: &str, dims: [Value; 3], lu: &str) -> Entity {
        ent(
            json!({"HandlingUnitId": id, "ShipmentId": 10042, "Description": "Carton", "ManualGrossWeight": w,
            "UomForWeight": wu, "Depth": dims[0], "Width": dims[1], "Height": dims[2], "UomForLength": lu}),
        )
    }

    fn field_error(r: Result<Shipment>) -> (String, String) {
        match r {
            Err(Error::InvalidInput(f)) => (f.subject, f.field),
            other => panic!("expected invalid-input, got {other:?}"),
        }
    }

    #[test]
    fn maps_a_complete_shipment() {
        let s = settings();
        let h = hu(
            500_001,
            json!(12.5),
            "LBS",
            [json!(16), json!(12), json!("8")],
            "IN",
        );
        let sh = shipment(&header(), &[&h], &s, None).unwrap();
        assert_eq!(sh.erp_id, "10042");
        assert_eq!(sh.order_ref, "C1000012001");
        assert_eq!(
            (sh.company.as_str(), sh.site.as_str(), sh.ship_via.as_str()),
            ("ACME-US", "AC1", "UPSGND")
        );
        assert_eq!(sh.ship_to.name, "Harbor Outfitters Inc.");
        assert_eq!(sh.ship_to.lines, vec!["500 Market St"]);
        assert_eq!(sh.ship_to.attention.as_deref(), Some("Dock 4"));
        assert_eq!(sh.ship_to.state.as_deref(), Some("CA"));
        assert_eq!(sh.ship_to.country, "US");
        assert_eq!(sh.ship_to.phone.as_deref(), Some("+14155550100"));
        assert_eq!(sh.cost_center.as_deref(), Some("CC-400"));
        assert_eq!(sh.modified_at, 1_772_359_200_000);
        assert!(sh.version.starts_with("W/\""));
        let p = &sh.parcels[0];
        assert_eq!(p.id, "500001");
        assert_eq!((p.weight.value, p.weight.unit), (12.5, WeightUnit::Pounds));
        let d = p.dimensions.unwrap();
        assert_eq!(
            (d.length, d.width, d.height, d.unit),
            (16.0, 12.0, 8.0, LengthUnit::Inches)
        );
    }

    #[test]
    fn missing_postal_code_names_shipment_and_field() {
        let s = settings();
        let h = hu(1, json!(1), "KGS", [json!(0), json!(0), json!(0)], "CM");
        for zip in [Value::Null, json!(""), json!("   ")] {
            let mut rec = header();
            rec.insert("ReceiverZipCode".into(), zip);
            assert_eq!(
                field_error(shipment(&rec, &[&h], &s, None)),
                ("shipment 10042".into(), "ReceiverZipCode".into())
            );
        }
        let mut rec = header();
        rec.remove("ReceiverZipCode");
        assert_eq!(
            field_error(shipment(&rec, &[&h], &s, None)).1,
            "ReceiverZipCode"
        );
    }

    #[test]
    fn other_missing_data_is_named_too() {
        let s = settings();
        let h = hu(1, json!(1), "KGS", [json!(0), json!(0), json!(0)], "CM");
        for (field, value) in [
            ("ReceiverCity", Value::Null),
            ("ShipViaCode", json!("")),
            ("ReceiverCountry", json!("USA")),
            ("OrderNo", Value::Null),
            ("LastActivityDate", json!("soon")),
        ] {
            let mut rec = header();
            rec.insert(field.into(), value);
            assert_eq!(
                field_error(shipment(&rec, &[&h], &s, None)).1,
                field,
                "{field}"
            );
        }
        let mut rec = header();
        rec.insert("ReceiverAddress1".into(), Value::Null);
        assert_eq!(
            field_error(shipment(&rec, &[&h], &s, None)).1,
            "ReceiverAddress1"
        );
        assert_eq!(
            field_error(shipment(&header(), &[], &s, None)).1,
            "HandlingUnitSet"
        );
        let mut rec = header();
        rec.remove("Company");
        assert_eq!(field_error(shipment(&rec, &[&h], &s, None)).1, "Company");
    }

    #[test]
    fn company_falls_back_to_configured_code() {
        let map: BTreeMap<&str, &str> =
            [("host", "h"), ("company", "ACME"), ("fields.company", "")]
                .into_iter()
                .collect();
        let s = Settings::from_lookup(&|k| map.get(k).map(|v| (*v).to_owned())).unwrap();
        let h = hu(1, json!(1), "KGS", [json!(0), json!(0), json!(0)], "CM");
        assert_eq!(
            shipment(&header(), &[&h], &s, None).unwrap().company,
            "ACME"
        );
    }

    #[test]
    fn converts_units_with_values() {
        let close = |a: f64, b: f64| (a - b).abs() < 1e-9;
        let w = |v: f64, u: &str| weight(v, u, "s", "UomForWeight").unwrap();
        assert_eq!(
            (w(12.0, "KGS").value, w(12.0, "KGS").unit),
            (12.0, WeightUnit::Kilograms)
        );
        assert_eq!(w(12.0, "kg").unit, WeightUnit::Kilograms);
        assert!(close(w(2500.0, "g").value, 2.5) && w(2500.0, "g").unit == WeightUnit::Kilograms);
        assert_eq!(
            (w(7.25, "LBS").value, w(7.25, "lb").unit),
            (7.25, WeightUnit::Pounds)
        );
        assert!(close(w(40.0, "oz").value, 2.5) && w(40.0, "oz").unit == WeightUnit::Pounds);
        // KGS ↔ LBS through the SDK's exact factors: 10 kg = 22.0462262 lb.
        assert!((w(10.0, "KGS").pounds() - 22.046_226_218).abs() < 1e-6);
        assert!(close(w(22.046_226_218_487_757, "LBS").kilograms(), 10.0));
        assert!(
            matches!(weight(1.0, "stone", "shipment 1", "UomForWeight"), Err(Error::InvalidInput(f)) if f.field == "UomForWeight" && f.message.contains("stone"))
        );

        let dims = |d: [Value; 3], u: &str| {
            parcel(&hu(9, json!(1), "KGS", d, u), &settings().parcels, "s").map(|p| p.dimensions)
        };
        let cm = dims([json!(40), json!(30), json!(20)], "CM")
            .unwrap()
            .unwrap();
        assert_eq!(
            (cm.length, cm.width, cm.height, cm.unit),
            (40.0, 30.0, 20.0, LengthUnit::Centimeters)
        );
        let mm = dims([json!(400), json!(300), json!(205)], "mm")
            .unwrap()
            .unwrap();
        assert!(
            close(mm.length, 40.0)
                && close(mm.width, 30.0)
                && close(mm.height, 20.5)
                && mm.unit == LengthUnit::Centimeters
        );
        let m = dims([json!(0.4), json!("0.3"), json!(0.2)], "m")
            .unwrap()
            .unwrap();
        assert!(close(m.length, 40.0) && close(m.width, 30.0) && close(m.height, 20.0));
        let inch = dims([json!(16), json!(12), json!(8)], "IN")
            .unwrap()
            .unwrap();
        assert_eq!((inch.length, inch.unit), (16.0, LengthUnit::Inches));
        let as_cm = inch.to_unit(LengthUnit::Centimeters);
        assert!(
            close(as_cm.length, 40.64) && close(as_cm.width, 30.48) && close(as_cm.height, 20.32)
        );
        let ft = dims([json!(2), json!(1), json!(1)], "ft").unwrap().unwrap();
        assert_eq!((ft.length, ft.unit), (24.0, LengthUnit::Inches));
        assert!(
            dims([json!(0), Value::Null, json!(0)], "")
                .unwrap()
                .is_none()
        );
        assert!(
            matches!(dims([json!(10), json!(0), json!(5)], "CM"), Err(Error::InvalidInput(f)) if f.field == "Width")
        );
        assert!(
            matches!(dims([json!(10), json!(10), json!(5)], "yd"), Err(Error::InvalidInput(f)) if f.field == "UomForLength")
        );
    }

    #[test]
    fn parcel_weight_problems_are_named() {
        let f = settings().parcels;
        let bad = |w: Value, u: &str| match parcel(
            &hu(3, w, u, [json!(0), json!(0), json!(0)], "CM"),
            &f,
            "shipment 7",
        ) {
            Err(Error::InvalidInput(e)) => e.field,
            other => panic!("{other:?}"),
        };
        assert_eq!(bad(Value::Null, "KGS"), "ManualGrossWeight");
        assert_eq!(bad(json!(0), "KGS"), "ManualGrossWeight");
        assert_eq!(bad(json!("heavy"), "KGS"), "ManualGrossWeight");
        assert_eq!(bad(json!(-2), "KGS"), "ManualGrossWeight");
        assert_eq!(bad(json!(2), ""), "UomForWeight");
    }

    #[test]
    fn compares_values_for_no_op_writes() {
        assert!(same_value(Some(&json!("1Z999")), &json!("1Z999")));
        assert!(same_value(Some(&json!(" 1Z999 ")), &json!("1Z999")));
        assert!(same_value(None, &Value::Null));
        assert!(same_value(Some(&json!("")), &Value::Null));
        assert!(same_value(
            Some(&json!("2026-03-01T11:00:00+01:00")),
            &json!("2026-03-01T10:00:00Z")
        ));
        assert!(!same_value(
            Some(&json!("2026-03-01T10:00:00Z")),
            &json!("2026-03-01T10:00:01Z")
        ));
        assert!(!same_value(Some(&json!("1Z998")), &json!("1Z999")));
        assert!(!same_value(None, &json!("x")));
    }
}
