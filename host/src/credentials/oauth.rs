//! The OAuth2 client-credentials request: one POST to a connection's token endpoint, with the
//! client authenticated by HTTP Basic (UPS) or in the form body (IFS/Keycloak), the
//! connection's extra headers (e.g. `x-merchant-id`), and an answer read leniently: `expires_in`
//! may be a number or a string (UPS sends every field as a string).
//!
//! Failures are classified by cause (DNS, TLS, refused, timeout, 401/403/429/5xx, unexpected
//! body) so `ping` can tell an operator what is wrong, and error bodies are reduced to their
//! error code and description: nothing else from them (and never the secret) reaches a log.

use std::time::Duration;

use base64::Engine as _;

use crate::config::{ClientAuth, ConnectionConfig};
use crate::vault::SecretString;

/// A token as the endpoint issued it.
pub(crate) struct IssuedToken {
    /// The access token.
    pub(crate) access_token: SecretString,
    /// `Bearer` (normalised capitalisation) or whatever else the endpoint said.
    pub(crate) token_type: String,
    /// Lifetime from `expires_in`.
    pub(crate) expires_in: Duration,
}

/// Why a token request failed. Messages never contain the client secret or a token.
#[derive(Debug, Clone, thiserror::Error)]
pub enum TokenError {
    /// The token endpoint's host name did not resolve.
    #[error("DNS: cannot resolve the host of {url}: {detail}")]
    Dns {
        /// Token URL.
        url: String,
        /// The resolver's message.
        detail: String,
    },
    /// The TLS handshake failed (certificate, protocol).
    #[error("TLS: handshake with {url} failed: {detail}")]
    Tls {
        /// Token URL.
        url: String,
        /// Why.
        detail: String,
    },
    /// The connection was refused or reset.
    #[error("connection refused by {url}: {detail}")]
    Refused {
        /// Token URL.
        url: String,
        /// Why.
        detail: String,
    },
    /// No answer in time.
    #[error("timeout waiting for {url}")]
    Timeout {
        /// Token URL.
        url: String,
    },
    /// Another transport failure.
    #[error("transport error talking to {url}: {detail}")]
    Transport {
        /// Token URL.
        url: String,
        /// Why.
        detail: String,
    },
    /// The endpoint answered with an error status.
    #[error(
        "token endpoint {url} answered {status}{}",
        describe(code, description)
    )]
    Status {
        /// Token URL.
        url: String,
        /// HTTP status.
        status: u16,
        /// `error` (OAuth) or the provider's error code.
        code: Option<String>,
        /// `error_description` or the provider's message.
        description: Option<String>,
        /// `Retry-After` seconds, when given.
        retry_after_s: Option<u64>,
    },
    /// A 2xx answer that is not a usable token.
    #[error("unexpected body from token endpoint {url}: {detail}")]
    UnexpectedBody {
        /// Token URL.
        url: String,
        /// What is wrong.
        detail: String,
    },
    /// The client secret could not be obtained.
    #[error("client secret unavailable: {0}")]
    Secret(String),
}

fn describe(code: &Option<String>, description: &Option<String>) -> String {
    match (code, description) {
        (Some(c), Some(d)) => format!(" ({c}: {d})"),
        (Some(c), None) => format!(" ({c})"),
        (None, Some(d)) => format!(" ({d})"),
        (None, None) => String::new(),
    }
}

/// Requests a token for `conn` with `secret`.
pub(crate) async fn request_token(
    http: &reqwest::Client,
    conn: &ConnectionConfig,
    secret: &SecretString,
) -> Result<IssuedToken, TokenError> {
    let url = conn.token_url.clone();
    let mut form: Vec<(&str, &str)> = vec![("grant_type", "client_credentials")];
    if let Some(scope) = conn.scope.as_deref().filter(|s| !s.is_empty()) {
        form.push(("scope", scope));
    }
    let mut builder = http
        .post(&url)
        .header(http::header::ACCEPT, "application/json");
    match conn.client_auth {
        ClientAuth::Basic => {
            // RFC 6749 §2.3.1: id and secret are form-urlencoded before Basic encoding.
            let pair = format!(
                "{}:{}",
                form_encode(&conn.client_id),
                form_encode(secret.expose())
            );
            let encoded = base64::engine::general_purpose::STANDARD.encode(pair);
            builder = builder.header(http::header::AUTHORIZATION, format!("Basic {encoded}"));
        }
        ClientAuth::Body => {
            form.push(("client_id", &conn.client_id));
            form.push(("client_secret", secret.expose()));
        }
    }
    for (name, value) in &conn.extra_headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    let body = form
        .iter()
        .map(|(k, v)| format!("{}={}", form_encode(k), form_encode(v)))
        .collect::<Vec<_>>()
        .join("&");
    let response = builder
        .header(
            http::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .body(body)
        .send()
        .await
        .map_err(|e| classify(&url, &e))?;
    let status = response.status();
    let retry_after_s = response
        .headers()
        .get(http::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let bytes = response.bytes().await.map_err(|e| classify(&url, &e))?;
    if !status.is_success() {
        let (code, description) = error_fields(&bytes);
        return Err(TokenError::Status {
            url,
            status: status.as_u16(),
            code,
            description,
            retry_after_s,
        });
    }
    parse_token(&url, &bytes)
}

/// Reads a successful token answer.
fn parse_token(url: &str, bytes: &[u8]) -> Result<IssuedToken, TokenError> {
    let unexpected = |detail: &str| TokenError::UnexpectedBody {
        url: url.to_owned(),
        detail: detail.to_owned(),
    };
    let json: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|_| unexpected("not JSON"))?;
    let access_token = json
        .get("access_token")
        .and_then(|v| v.as_str())
        .filter(|s| !s.is_empty())
        .ok_or_else(|| unexpected("no `access_token`"))?;
    let expires_in = match json.get("expires_in") {
        Some(serde_json::Value::Number(n)) => n.as_f64(),
        Some(serde_json::Value::String(s)) => s.trim().parse::<f64>().ok(),
        _ => None,
    }
    .filter(|s| s.is_finite() && *s > 0.0)
    .ok_or_else(|| unexpected("`expires_in` is missing or not a positive number"))?;
    let token_type = match json.get("token_type").and_then(|v| v.as_str()) {
        None => "Bearer".to_owned(),
        Some(t) if t.eq_ignore_ascii_case("bearer") => "Bearer".to_owned(),
        Some(t) => t.to_owned(),
    };
    Ok(IssuedToken {
        access_token: SecretString::new(access_token),
        token_type,
        expires_in: Duration::from_secs_f64(expires_in.min(10.0 * 365.0 * 86_400.0)),
    })
}

/// The error code and description of an error body: OAuth (`error`, `error_description`),
/// UPS (`response.errors[0].code/message`), or OData (`error.code/message`). Clipped.
fn error_fields(bytes: &[u8]) -> (Option<String>, Option<String>) {
    let Ok(json) = serde_json::from_slice::<serde_json::Value>(bytes) else {
        return (None, None);
    };
    let text = |v: Option<&serde_json::Value>| -> Option<String> {
        let v = v?;
        let s = match v {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Number(n) => n.to_string(),
            _ => return None,
        };
        Some(s.chars().take(200).collect())
    };
    if let Some(e) = json.get("error") {
        if e.is_object() {
            return (text(e.get("code")), text(e.get("message")));
        }
        return (text(Some(e)), text(json.get("error_description")));
    }
    if let Some(errors) = json.get("response").and_then(|r| r.get("errors")) {
        let first = if errors.is_array() {
            errors.get(0)
        } else {
            Some(errors)
        };
        if let Some(first) = first {
            return (text(first.get("code")), text(first.get("message")));
        }
    }
    (None, None)
}

fn form_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                out.push(char::from(b));
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Sorts a transport failure into DNS / TLS / refused / timeout / other by its error chain.
pub(crate) fn classify(url: &str, e: &reqwest::Error) -> TokenError {
    let url = url.to_owned();
    if e.is_timeout() {
        return TokenError::Timeout { url };
    }
    let mut chain = Vec::new();
    let mut source: Option<&dyn std::error::Error> = Some(e);
    while let Some(err) = source {
        chain.push(err.to_string());
        source = err.source();
    }
    // The innermost messages are the informative ones; the outer ones repeat the URL.
    let detail = chain
        .iter()
        .skip(1)
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(": ");
    let detail = if detail.is_empty() {
        chain.first().cloned().unwrap_or_default()
    } else {
        detail
    };
    let lower = detail.to_ascii_lowercase();
    if lower.contains("dns error")
        || lower.contains("failed to lookup address")
        || lower.contains("name or service not known")
        || lower.contains("no such host")
    {
        TokenError::Dns { url, detail }
    } else if lower.contains("certificate")
        || lower.contains("tls")
        || lower.contains("handshake")
        || lower.contains("invalidcontenttype")
    {
        TokenError::Tls { url, detail }
    } else if e.is_connect()
        || lower.contains("connection refused")
        || lower.contains("connection reset")
    {
        TokenError::Refused { url, detail }
    } else {
        TokenError::Transport { url, detail }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_expires_in_as_string_or_number() {
        let ups = br#"{"token_type":"Bearer","access_token":"abc","expires_in":"14399","status":"approved"}"#;
        let t = parse_token("u", ups).unwrap();
        assert_eq!(t.expires_in, Duration::from_secs(14399));
        assert_eq!(t.access_token.expose(), "abc");
        let ifs = br#"{"access_token":"x.y.z","expires_in":180,"token_type":"bearer"}"#;
        let t = parse_token("u", ifs).unwrap();
        assert_eq!(t.expires_in, Duration::from_secs(180));
        assert_eq!(t.token_type, "Bearer");
        for bad in [
            &br#"{"access_token":"x"}"#[..],
            br#"{"access_token":"x","expires_in":"soon"}"#,
            br#"{"expires_in":60}"#,
            b"<html>",
        ] {
            assert!(matches!(
                parse_token("u", bad),
                Err(TokenError::UnexpectedBody { .. })
            ));
        }
    }

    #[test]
    fn error_bodies_reduce_to_code_and_message() {
        assert_eq!(
            error_fields(
                br#"{"error":"unauthorized_client","error_description":"Invalid client"}"#
            ),
            (
                Some("unauthorized_client".into()),
                Some("Invalid client".into())
            )
        );
        assert_eq!(
            error_fields(
                br#"{"response":{"errors":[{"code":"10401","message":"ClientId is Invalid"}]}}"#
            ),
            (Some("10401".into()), Some("ClientId is Invalid".into()))
        );
        assert_eq!(
            error_fields(br#"{"error":{"code":"UNAUTHORIZED","message":"no"}}"#),
            (Some("UNAUTHORIZED".into()), Some("no".into()))
        );
        assert_eq!(error_fields(b"oops"), (None, None));
        assert_eq!(form_encode("a b&c=d/é"), "a+b%26c%3Dd%2F%C3%A9");
    }
}
