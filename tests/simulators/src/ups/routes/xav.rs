//! Address Validation (XAV): valid, ambiguous and no-candidate answers, classification.

use super::*;

pub(super) async fn xav(
    State(st): State<Arc<UpsState>>,
    Path((version, option)): Path<(String, String)>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Res {
    check_bearer(&st, &headers)?;
    if !matches!(version.as_str(), "v2" | "v1") {
        return Err(err(
            StatusCode::NOT_FOUND,
            "404",
            "Unsupported API version.",
        ));
    }
    let option: u8 = match option.parse() {
        Ok(n @ 1..=3) => n,
        _ => {
            return Err(bad(
                "264001",
                "Invalid request option. Valid values are 1, 2 and 3.",
            ));
        }
    };
    let mut max = 15usize;
    for (k, v) in form_urlencoded::parse(q.unwrap_or_default().as_bytes()) {
        if k == "maximumcandidatelistsize" {
            max = match v.parse::<usize>() {
                Ok(n) if n <= 50 => n,
                _ => {
                    return Err(bad(
                        "264003",
                        "The maximum number of candidates is invalid.",
                    ));
                }
            };
        }
    }
    let body = parse_body(&body)?;
    let akf = req_obj(&body, &["XAVRequest", "AddressKeyFormat"])?;
    let country = req_str(akf, &["CountryCode"])
        .map_err(|_| missing("XAVRequest.AddressKeyFormat.CountryCode"))?;
    if country != "US" && country != "PR" {
        return Err(bad(
            "264002",
            "Country Code is invalid or missing. Street level validation covers US and PR only.",
        ));
    }
    let lines = address_lines(akf.get("AddressLine")).unwrap_or_default();
    let (mut city, mut state, mut zip) = (
        opt_str(akf, &["PoliticalDivision2"]).unwrap_or_default(),
        opt_str(akf, &["PoliticalDivision1"]).unwrap_or_default(),
        opt_str(akf, &["PostcodePrimaryLow"]).unwrap_or_default(),
    );
    if let Some(region) = opt_str(akf, &["Region"]) {
        // "City,ST,ZIP" single-line form overrides the separate fields.
        let parts: Vec<&str> = region.split(',').map(str::trim).collect();
        city = parts.first().map(|s| s.to_string()).unwrap_or_default();
        let rest: Vec<&str> = parts
            .get(1)
            .map(|s| s.split_whitespace().collect())
            .unwrap_or_default();
        state = rest.first().map(|s| s.to_string()).unwrap_or_default();
        zip = rest
            .get(1)
            .or(parts.get(2))
            .map(|s| s.to_string())
            .unwrap_or_default();
    }
    let result = model::validate_us(&lines, &city, &state, &zip, max);
    let classification = |res: bool| {
        if res {
            json!({"Code": "2", "Description": "Residential"})
        } else {
            json!({"Code": "1", "Description": "Commercial"})
        }
    };
    let cand = |c: &model::Candidate| {
        let mut m = Map::new();
        if option != 1 {
            m.insert(
                "AddressClassification".into(),
                classification(c.residential),
            );
        }
        m.insert(
            "AddressKeyFormat".into(),
            json!({
                "AddressLine": c.lines,
                "PoliticalDivision2": c.city,
                "PoliticalDivision1": c.state,
                "PostcodePrimaryLow": c.zip,
                "PostcodeExtendedLow": c.zip4,
                "Region": format!("{} {} {}-{}", c.city, c.state, c.zip, c.zip4),
                "CountryCode": country,
            }),
        );
        Value::Object(m)
    };
    let mut out = Map::new();
    out.insert("Response".into(), response_header(None));
    let (indicator, cands, top_class) = match &result {
        Xav::Valid(c) => (
            "ValidAddressIndicator",
            vec![cand(c)],
            classification(c.residential),
        ),
        Xav::Ambiguous(cs) => (
            "AmbiguousAddressIndicator",
            cs.iter().map(cand).collect(),
            cs.first()
                .map(|c| classification(c.residential))
                .unwrap_or(json!({"Code": "0", "Description": "UnClassified"})),
        ),
        Xav::NoCandidates => (
            "NoCandidatesIndicator",
            vec![],
            json!({"Code": "0", "Description": "UnClassified"}),
        ),
    };
    out.insert(indicator.into(), json!(""));
    if option != 1 {
        out.insert("AddressClassification".into(), top_class);
    }
    if !cands.is_empty() && max > 0 {
        out.insert("Candidate".into(), Value::Array(cands));
    }
    Ok(ok_json(&st, json!({"XAVResponse": Value::Object(out)})))
}
