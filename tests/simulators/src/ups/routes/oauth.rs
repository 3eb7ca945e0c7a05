//! The OAuth token endpoint: client credentials with Basic auth, `expires_in` as a string, a daily quota.

use super::*;

pub(super) async fn token(
    State(st): State<Arc<UpsState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some((id, secret)) = basic_credentials(&headers) else {
        return err(
            StatusCode::UNAUTHORIZED,
            "10400",
            "Invalid/Missing Authorization Header",
        );
    };
    if id != st.cfg.client_id || secret != st.cfg.client_secret {
        return err(StatusCode::UNAUTHORIZED, "10401", "ClientId is Invalid");
    }
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !ct.starts_with("application/x-www-form-urlencoded") {
        return bad(
            "10400",
            "Invalid Content-Type; expected application/x-www-form-urlencoded",
        );
    }
    let grant = form_urlencoded::parse(&body)
        .find(|(k, _)| k == "grant_type")
        .map(|(_, v)| v.into_owned());
    match grant.as_deref() {
        Some("client_credentials") => {}
        None => return bad("10400", "Missing grant_type"),
        Some(_) => return bad("10400", "Unsupported grant_type"),
    }
    let now = st.clock.now();
    let day = now.format("%Y-%m-%d").to_string();
    let mut d = lock(&st.data);
    let used = d.tokens_by_day.get(&day).copied().unwrap_or(0);
    if used >= st.cfg.daily_quota {
        d.quota_rejections += 1;
        return err(
            StatusCode::TOO_MANY_REQUESTS,
            "10429",
            "Quota Limit Exceeded",
        );
    }
    let raw: [u8; 24] = rand::rng().random();
    let access = format!(
        "eyJraWQiOiJzaW0ifQ.{}",
        B64.encode(raw).replace(['+', '/', '='], "")
    );
    d.tokens.insert(
        access.clone(),
        now + Duration::seconds(st.cfg.expires_in as i64),
    );
    *d.tokens_by_day.entry(day).or_default() += 1;
    d.tokens_total += 1;
    if d.tokens.len() > 10_000 {
        d.tokens.retain(|_, exp| *exp > now);
    }
    drop(d);
    (
        StatusCode::OK,
        axum::Json(json!({
            "token_type": "Bearer",
            "issued_at": now.timestamp_millis().to_string(),
            "client_id": st.cfg.client_id,
            "access_token": access,
            "scope": "",
            "expires_in": st.cfg.expires_in.to_string(),
            "refresh_count": "0",
            "status": "approved",
        })),
    )
        .into_response()
}

pub(super) fn response_header(customer_context: Option<&str>) -> Value {
    let mut r = json!({"ResponseStatus": {"Code": "1", "Description": "Success"}});
    if let Some(c) = customer_context
        && let Some(m) = r.as_object_mut()
    {
        m.insert("TransactionReference".into(), json!({"CustomerContext": c}));
    }
    r
}
