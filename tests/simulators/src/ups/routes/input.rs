//! What Rate and Ship requests share: parties and packages, validated as UPS does.

use super::*;

/// A validated package from a Rate or Ship request.
pub(super) struct Pkg {
    pub(super) weight: String,
    pub(super) unit: String,
    pub(super) lbs: f64,
    pub(super) dims: Option<[String; 4]>,
    pub(super) dim_lbs: f64,
    pub(super) references: Vec<String>,
    pub(super) packaging: String,
}

pub(super) fn parse_party(
    v: &Value,
    path: &[&str],
    need_name: bool,
    need_city: bool,
) -> Result<UpsParty, Response> {
    let p = req_obj(v, path)?;
    let name = if need_name {
        req_str(p, &["Name"]).map_err(|_| missing(&format!("{}.Name", path.join("."))))?
    } else {
        opt_str(p, &["Name"]).unwrap_or_default()
    };
    let addr_path = format!("{}.Address", path.join("."));
    let a = match p.get("Address") {
        Some(a @ Value::Object(_)) => a,
        _ => return Err(missing(&addr_path)),
    };
    let lines = address_lines(a.get("AddressLine"))
        .map_err(|_| missing(&format!("{addr_path}.AddressLine")))?;
    let country =
        req_str(a, &["CountryCode"]).map_err(|_| missing(&format!("{addr_path}.CountryCode")))?;
    if country.len() != 2 {
        return Err(missing(&format!("{addr_path}.CountryCode")));
    }
    let city = opt_str(a, &["City"]).unwrap_or_default();
    if need_city && city.is_empty() {
        return Err(missing(&format!("{addr_path}.City")));
    }
    let state = opt_str(a, &["StateProvinceCode"]).unwrap_or_default();
    if need_city && (country == "US" || country == "CA") && state.is_empty() {
        return Err(bad(
            "120206",
            &format!("Missing or invalid {addr_path}.StateProvinceCode"),
        ));
    }
    let postal = opt_str(a, &["PostalCode"]).unwrap_or_default();
    if need_city
        && postal.is_empty()
        && matches!(
            country.as_str(),
            "US" | "CA" | "DE" | "GB" | "FR" | "NL" | "BE" | "IT" | "ES"
        )
    {
        return Err(bad(
            "120208",
            &format!("Missing or invalid {addr_path}.PostalCode"),
        ));
    }
    Ok(UpsParty {
        name,
        lines,
        city,
        state,
        postal,
        country,
    })
}

pub(super) fn num_str(v: &Value, path: &[&str], label: &str) -> Result<f64, Response> {
    match at(v, path) {
        Some(Value::String(s)) => s
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|f| f.is_finite() && *f >= 0.0)
            .ok_or_else(|| missing(label)),
        _ => Err(missing(label)),
    }
}

pub(super) fn parse_packages(
    ship: &Value,
    base: &str,
    packaging_key: &str,
) -> Result<Vec<Pkg>, Response> {
    let pkgs = many(ship.get("Package"));
    if pkgs.is_empty() {
        return Err(missing(&format!("{base}.Package")));
    }
    if pkgs.len() > 200 {
        return Err(bad("120700", "A shipment may have at most 200 packages."));
    }
    let mut out = Vec::new();
    for (i, p) in pkgs.iter().enumerate() {
        let pb = format!("{base}.Package[{i}]");
        let packaging = match p.get(packaging_key) {
            Some(Value::Object(_)) => {
                opt_str(p, &[packaging_key, "Code"]).unwrap_or_else(|| "02".into())
            }
            _ if packaging_key == "Packaging" => return Err(missing(&format!("{pb}.Packaging"))),
            _ => "02".into(),
        };
        let unit = req_str(p, &["PackageWeight", "UnitOfMeasurement", "Code"])
            .map_err(|_| missing(&format!("{pb}.PackageWeight.UnitOfMeasurement.Code")))?;
        let w = num_str(
            p,
            &["PackageWeight", "Weight"],
            &format!("{pb}.PackageWeight.Weight"),
        )?;
        let lbs = match unit.as_str() {
            "LBS" => w,
            "KGS" => w * 2.204_62,
            "OZS" => w / 16.0,
            _ => {
                return Err(bad(
                    "120801",
                    &format!("Invalid {pb}.PackageWeight.UnitOfMeasurement.Code '{unit}'"),
                ));
            }
        };
        if w <= 0.0 || lbs > 150.0 {
            return Err(bad(
                "120802",
                &format!("{pb}: package weight must be above 0 and at most 150 LBS / 70 KGS"),
            ));
        }
        let mut dims = None;
        let mut dim_lbs = 0.0;
        if let Some(d) = p.get("Dimensions") {
            let du = req_str(d, &["UnitOfMeasurement", "Code"])
                .map_err(|_| missing(&format!("{pb}.Dimensions.UnitOfMeasurement.Code")))?;
            let l = num_str(d, &["Length"], &format!("{pb}.Dimensions.Length"))?;
            let wd = num_str(d, &["Width"], &format!("{pb}.Dimensions.Width"))?;
            let h = num_str(d, &["Height"], &format!("{pb}.Dimensions.Height"))?;
            let to_in = match du.as_str() {
                "IN" => 1.0,
                "CM" => 1.0 / 2.54,
                _ => {
                    return Err(bad(
                        "120603",
                        &format!("Invalid {pb}.Dimensions.UnitOfMeasurement.Code '{du}'"),
                    ));
                }
            };
            let (li, wi, hi) = (l * to_in, wd * to_in, h * to_in);
            let longest = li.max(wi).max(hi);
            if longest > 108.0 || li + 2.0 * (wi + hi) > 165.0 + 1e-9 {
                return Err(bad(
                    "120604",
                    &format!(
                        "{pb}: package exceeds the maximum size (length 108 IN, length + girth 165 IN)"
                    ),
                ));
            }
            dim_lbs = li * wi * hi / 139.0;
            let raw = |k: &str| d.get(k).and_then(Value::as_str).unwrap_or("").to_string();
            dims = Some([raw("Length"), raw("Width"), raw("Height"), du]);
        }
        let references = many(p.get("ReferenceNumber"))
            .iter()
            .filter_map(|r| opt_str(r, &["Value"]))
            .collect();
        out.push(Pkg {
            weight: at(p, &["PackageWeight", "Weight"])
                .and_then(Value::as_str)
                .unwrap_or("")
                .trim()
                .to_string(),
            unit,
            lbs,
            dims,
            dim_lbs,
            references,
            packaging,
        });
    }
    Ok(out)
}
