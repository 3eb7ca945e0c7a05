//! Track Alert: subscriptions of up to 100 numbers, 14 days, pushes to the webhook.

use super::*;

pub(super) fn ta_err(
    status: StatusCode,
    code: &str,
    message: &str,
    invalid: Option<&[String]>,
) -> Response {
    // The v2 schema requires the list even when no number was at fault.
    let mut m = Map::new();
    m.insert(
        "invalidTrackingNumbers".into(),
        json!(invalid.unwrap_or(&[])),
    );
    m.insert(
        "response".into(),
        json!({"errors": [{"code": code, "message": message}]}),
    );
    (status, axum::Json(Value::Object(m))).into_response()
}

pub(super) async fn subscribe(
    State(st): State<Arc<UpsState>>,
    Path((version, kind)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Res {
    if !matches!(version.as_str(), "v1" | "v2") {
        return Err(err(
            StatusCode::NOT_FOUND,
            "404",
            "The requested resource was not found.",
        ));
    }
    if !matches!(kind.as_str(), "standard" | "enhanced") {
        return Err(ta_err(
            StatusCode::BAD_REQUEST,
            "VSS930",
            "Invalid subscription type. The Subscription request has been rejected.",
            None,
        ));
    }
    check_bearer(&st, &headers)?;
    require_trans_headers(&headers)?;
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return Err(ta_err(
            StatusCode::BAD_REQUEST,
            "VSS000",
            "Invalid request body. The Subscription request has been rejected.",
            None,
        ));
    };
    let reject = |code: &str, msg: &str| {
        ta_err(
            StatusCode::BAD_REQUEST,
            code,
            &format!("{msg} The Subscription request has been rejected."),
            None,
        )
    };
    let locale = match body.get("locale") {
        None | Some(Value::Null) => return Err(reject("VSS300", "Locale is required.")),
        Some(Value::String(s)) => s.clone(),
        Some(_) => return Err(reject("VSS310", "Locale is invalid.")),
    };
    let lb = locale.as_bytes();
    let locale_ok = lb.len() == 5
        && lb[0].is_ascii_lowercase()
        && lb[1].is_ascii_lowercase()
        && lb[2] == b'_'
        && lb[3].is_ascii_uppercase()
        && lb[4].is_ascii_uppercase();
    if !locale_ok {
        return Err(reject("VSS310", "Locale is invalid."));
    }
    if let Some(cc) = body.get("countryCode")
        && !cc
            .as_str()
            .is_some_and(|c| c.len() == 2 && c.chars().all(|x| x.is_ascii_uppercase()))
    {
        return Err(reject("VSS400", "Country code is invalid."));
    }
    let Some(list) = body.get("trackingNumberList").and_then(Value::as_array) else {
        return Err(reject("VSS200", "trackingNumberList is required."));
    };
    if list.len() > 100 {
        return Err(ta_err(
            StatusCode::BAD_REQUEST,
            "VSS220",
            "You have submitted over 100 tracking numbers which is not allowed. The entire submission of tracking numbers has been rejected. Please resubmit your request in groups of no more than 100 tracking numbers.",
            None,
        ));
    }
    let mut prefs = Vec::new();
    if let Some(p) = body.get("eventPreferences") {
        let arr = p
            .as_array()
            .ok_or_else(|| reject("VSS110", "eventPreferences is invalid."))?;
        if kind != "enhanced" || arr.is_empty() || arr.len() > 4 {
            return Err(reject(
                "VSS110",
                "eventPreferences is only valid for enhanced subscriptions, with 1 to 4 values.",
            ));
        }
        for x in arr {
            match x.as_str() {
                Some(v @ ("D" | "I" | "M" | "X")) => prefs.push(v.to_string()),
                _ => {
                    return Err(reject(
                        "VSS110",
                        "eventPreferences values must be D, I, M or X.",
                    ));
                }
            }
        }
    }
    let (url, credential, credential_type) = if version == "v1" {
        let Some(dest) = body.get("destination").filter(|d| d.is_object()) else {
            return Err(reject("VSS500", "Destination is required."));
        };
        let url = match dest.get("url").and_then(Value::as_str) {
            Some(u) if !u.trim().is_empty() => u.trim().to_string(),
            _ => return Err(reject("VSS600", "Destination URL is required.")),
        };
        if url.len() > 2048 || !(url.starts_with("https://") || url.starts_with("http://")) {
            return Err(reject("VSS610", "Destination URL is invalid or too long."));
        }
        let cred = match dest.get("credential").and_then(Value::as_str) {
            Some(c) if !c.is_empty() => c.to_string(),
            _ => return Err(reject("VSS700", "Credential is required.")),
        };
        let ctype = match dest.get("credentialType").and_then(Value::as_str) {
            Some(c) if !c.is_empty() => c.to_string(),
            _ => return Err(reject("VSS800", "CredentialType is required.")),
        };
        (Some(url), Some(cred), Some(ctype))
    } else {
        let cfg = lock(&st.data).webhook_v2.clone();
        (
            cfg.as_ref().map(|c| c.url.clone()),
            cfg.and_then(|c| c.credential),
            None,
        )
    };
    let now = st.clock.now();
    let mut d = st.data_now();
    let mut valid = Vec::new();
    let mut invalid = Vec::new();
    for item in list {
        let raw = item
            .as_str()
            .map(|s| s.trim().to_string())
            .unwrap_or_else(|| item.to_string());
        let known = d
            .by_tn
            .get(&raw)
            .is_some_and(|&i| d.shipments[i].voided_at.is_none());
        if model::valid_1z(&raw) && known {
            valid.push(raw);
        } else {
            invalid.push(raw);
        }
    }
    if valid.is_empty() {
        return Err(ta_err(
            StatusCode::BAD_REQUEST,
            "VSS210",
            "No valid tracking numbers were submitted. The Subscription request has been rejected.",
            Some(&invalid),
        ));
    }
    for tn in &valid {
        d.subs.insert(
            tn.clone(),
            Subscription {
                tracking_number: tn.clone(),
                version: version.clone(),
                kind: kind.clone(),
                url: url.clone(),
                credential: credential.clone(),
                credential_type: credential_type.clone(),
                subscribed_at: now,
                expires_at: now + Duration::days(14),
                event_preferences: prefs.clone(),
            },
        );
    }
    drop(d);
    let mut m = Map::new();
    m.insert("validTrackingNumbers".into(), json!(valid));
    if !invalid.is_empty() {
        m.insert("invalidTrackingNumbers".into(), json!(invalid));
    }
    Ok((StatusCode::OK, axum::Json(Value::Object(m))).into_response())
}
