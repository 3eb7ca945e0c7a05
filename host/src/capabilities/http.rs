//! `wasi:http/outgoing-handler` behind the egress gate: the one place where a plugin's HTTP
//! leaves the host.
//!
//! [`EgressCtx`]'s `send_request` (the `WasiHttpHooks` hook) checks every request against the
//! plugin's grant for its tenant — scheme, host and port must all match — and refuses anything
//! else with `HttpRequestDenied`, which the guest sees as an error value, never a trap, and
//! which sends nothing. Allowed requests get the connection's `Authorization` when the host is
//! bound to one (replacing whatever the guest set), are sent with timeouts and a response size
//! cap, are retried once with a fresh token on a 401, and are recorded as exchanges with
//! secrets redacted.

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use futures::future::BoxFuture;
use http_body_util::{BodyExt, Full};
use wasmtime_wasi_http::{Error as HttpError, RequestOptions, WasiBody, WasiHttpHooks};

use crate::clock::SharedClock;
use crate::db::{Exchange, Store};
use crate::manifest::{Binding, split_authority};

/// Why the host could not supply credentials for a connection. The guest receives a synthetic
/// HTTP response with `status` (e.g. 429 with `Retry-After` when the daily token budget is
/// spent, 401 when the token endpoint refused the client), so connectors map it like any
/// upstream answer.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct CredentialError {
    /// Status of the synthetic response.
    pub status: u16,
    /// `Retry-After` seconds, when retrying later can help.
    pub retry_after_s: Option<u64>,
    /// What happened (no secrets).
    pub message: String,
}

/// Supplies `Authorization` headers for connection-bound hosts. Implemented by the token
/// manager; plugins never see its values.
pub trait Credentials: Send + Sync + 'static {
    /// The connection among `connections` that is bound to `scheme://host:port`, if any.
    fn connection_for(
        &self,
        tenant: &str,
        connections: &[String],
        scheme: &str,
        host: &str,
        port: u16,
    ) -> Option<String>;
    /// The `Authorization` header value to send to the connection's hosts.
    fn authorization<'a>(
        &'a self,
        tenant: &'a str,
        connection: &'a str,
    ) -> BoxFuture<'a, Result<String, CredentialError>>;
    /// The upstream answered 401 to `header`: forget it, so the next call fetches a new token.
    fn rejected<'a>(
        &'a self,
        tenant: &'a str,
        connection: &'a str,
        header: &'a str,
    ) -> BoxFuture<'a, ()>;
}

/// No connections: requests go out as the plugin built them.
#[derive(Debug, Default)]
pub struct NoCredentials;

impl Credentials for NoCredentials {
    fn connection_for(&self, _: &str, _: &[String], _: &str, _: &str, _: u16) -> Option<String> {
        None
    }
    fn authorization<'a>(
        &'a self,
        _: &'a str,
        connection: &'a str,
    ) -> BoxFuture<'a, Result<String, CredentialError>> {
        Box::pin(async move {
            Err(CredentialError {
                status: 500,
                retry_after_s: None,
                message: format!("connection `{connection}` is not configured"),
            })
        })
    }
    fn rejected<'a>(&'a self, _: &'a str, _: &'a str, _: &'a str) -> BoxFuture<'a, ()> {
        Box::pin(async {})
    }
}

/// Limits applied to every outgoing request.
#[derive(Debug, Clone, Copy)]
pub struct EgressLimits {
    /// Largest response body a plugin may receive, in bytes.
    pub max_response_bytes: usize,
    /// Largest request body a plugin may send, in bytes.
    pub max_request_bytes: usize,
    /// Connect timeout.
    pub connect_timeout: std::time::Duration,
    /// Timeout for the whole exchange when the plugin sets none.
    pub default_timeout: std::time::Duration,
}

impl Default for EgressLimits {
    fn default() -> Self {
        EgressLimits {
            max_response_bytes: 16 * 1024 * 1024,
            max_request_bytes: 8 * 1024 * 1024,
            connect_timeout: std::time::Duration::from_secs(10),
            default_timeout: std::time::Duration::from_secs(60),
        }
    }
}

/// What every egress gate of the host shares: the HTTP client, the credentials, the limits and
/// the record of exchanges.
pub struct EgressEnv {
    client: reqwest::Client,
    credentials: Arc<dyn Credentials>,
    limits: EgressLimits,
    store: Arc<dyn Store>,
    clock: SharedClock,
}

impl EgressEnv {
    /// Builds the shared HTTP client (no redirects: a plugin's grant names hosts, and a
    /// redirect would leave them).
    pub fn new(
        credentials: Arc<dyn Credentials>,
        limits: EgressLimits,
        store: Arc<dyn Store>,
        clock: SharedClock,
    ) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .connect_timeout(limits.connect_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .pool_max_idle_per_host(64)
            .build()?;
        Ok(EgressEnv {
            client,
            credentials,
            limits,
            store,
            clock,
        })
    }
}

/// The egress gate of one store: one plugin binding's grants and connections, and the work item
/// its exchanges belong to.
pub struct EgressCtx {
    shared: Arc<EgressShared>,
}

struct EgressShared {
    env: Arc<EgressEnv>,
    binding: Arc<Binding>,
    work_item: Option<String>,
}

impl EgressCtx {
    /// The gate for `binding`, recording its exchanges under `work_item`.
    pub fn new(env: Arc<EgressEnv>, binding: Arc<Binding>, work_item: Option<String>) -> Self {
        EgressCtx {
            shared: Arc::new(EgressShared {
                env,
                binding,
                work_item,
            }),
        }
    }
}

type IoFuture = Box<dyn Future<Output = Result<(), HttpError>> + Send>;

impl WasiHttpHooks for EgressCtx {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _request_body_errors: IoFuture,
    ) -> Box<dyn Future<Output = Result<(http::Response<WasiBody>, IoFuture), HttpError>> + Send>
    {
        let shared = self.shared.clone();
        Box::new(async move {
            let response = shared.send(request, options).await?;
            Ok((response, Box::new(async { Ok(()) }) as IoFuture))
        })
    }
}

/// Header names whose values never reach the record of exchanges.
const SECRET_HEADERS: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
    "x-api-key",
    "credential",
];
/// Keys (JSON or form) whose values are redacted in recorded bodies.
const SECRET_KEYS: &[&str] = &[
    "client_secret",
    "password",
    "access_token",
    "refresh_token",
    "id_token",
    "token",
    "credential",
    "secret",
    "apikey",
    "api_key",
];
/// How much of a body the record keeps.
const RECORDED_BODY: usize = 4 * 1024;

/// Where a request goes, as the grant sees it.
struct Target {
    scheme: String,
    host: String,
    port: u16,
    /// The URL as recorded: userinfo dropped, secret query values redacted.
    shown: String,
}

/// What is known of an exchange before it is sent, for its record.
struct Pending<'a> {
    at_ms: i64,
    started: Instant,
    method: &'a http::Method,
    target: &'a str,
}

impl EgressShared {
    fn tenant(&self) -> &str {
        &self.binding.tenant
    }

    fn plugin(&self) -> &str {
        &self.binding.plugin
    }

    /// The gate's steps, in order: grant check, body limit, credential injection, transport
    /// (with one fresh-token retry on a 401), recording.
    async fn send(
        &self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
    ) -> Result<http::Response<WasiBody>, HttpError> {
        let started = Instant::now();
        let at_ms = self.env.clock.now_ms();
        let (parts, body) = request.into_parts();
        let target = self.check_grant(&parts.uri)?;
        let pending = Pending {
            at_ms,
            started,
            method: &parts.method,
            target: &target.shown,
        };
        if !self.granted(&target) {
            tracing::warn!(plugin = %self.plugin(), tenant = %self.tenant(), target = %target.shown, "egress denied: host not granted");
            self.record(
                &pending,
                None,
                "denied: host not granted".into(),
                String::new(),
                String::new(),
            );
            return Err(HttpError::HttpRequestDenied);
        }
        let limits = self.env.limits;
        let body = collect_limited(body, limits.max_request_bytes).await?;
        let recorded_request = describe_request(&parts.headers, &body);
        let connection = self.env.credentials.connection_for(
            self.tenant(),
            &self.binding.connections,
            &target.scheme,
            &target.host,
            target.port,
        );
        let timeout = options
            .and_then(|o| o.first_byte_timeout.or(o.between_bytes_timeout))
            .unwrap_or(limits.default_timeout);
        let mut attempt = 0;
        let outcome = loop {
            attempt += 1;
            let auth = match self.authorize(connection.as_deref()).await {
                Ok(auth) => auth,
                Err(e) => {
                    self.record(
                        &pending,
                        Some(e.status),
                        format!("credentials: {}", e.message),
                        recorded_request,
                        String::new(),
                    );
                    return Ok(synthetic_response(&e));
                }
            };
            let result = self.transmit(&parts, &body, auth.as_deref(), timeout).await;
            if let (Ok((status, _, _)), Some(conn), Some(auth)) = (&result, &connection, &auth)
                && *status == http::StatusCode::UNAUTHORIZED
                && attempt == 1
            {
                // One refresh and one retry: the token may have been revoked or expired early.
                self.env
                    .credentials
                    .rejected(self.tenant(), conn, auth)
                    .await;
                continue;
            }
            break result;
        };
        match outcome {
            Ok((status, headers, bytes)) => {
                self.record(
                    &pending,
                    Some(status.as_u16()),
                    "ok".into(),
                    recorded_request,
                    redact_body(&bytes),
                );
                to_wasi_response(status, &headers, bytes)
            }
            Err(e) => {
                self.record(
                    &pending,
                    None,
                    format!("error: {e:?}"),
                    recorded_request,
                    String::new(),
                );
                Err(e)
            }
        }
    }

    /// Where the request goes; a URI without an authority is refused before anything else.
    fn check_grant(&self, uri: &http::Uri) -> Result<Target, HttpError> {
        let scheme = uri.scheme_str().unwrap_or("https").to_ascii_lowercase();
        let default_port = if scheme == "http" { 80 } else { 443 };
        let Some((host, port)) = uri
            .authority()
            .and_then(|a| split_authority(a.as_str(), default_port))
        else {
            return Err(HttpError::HttpRequestUriInvalid);
        };
        Ok(Target {
            scheme,
            host,
            port,
            shown: redact_url(uri),
        })
    }

    /// Whether the binding's grant lists the target's scheme, host and port.
    fn granted(&self, target: &Target) -> bool {
        self.binding
            .grants
            .hosts
            .iter()
            .any(|g| g.matches(&target.scheme, &target.host, target.port))
    }

    /// The `Authorization` value for a connection-bound host (`None`: the host is bound to no
    /// connection, and the request goes as the plugin built it).
    async fn authorize(&self, connection: Option<&str>) -> Result<Option<String>, CredentialError> {
        let Some(conn) = connection else {
            return Ok(None);
        };
        match self
            .env
            .credentials
            .authorization(self.tenant(), conn)
            .await
        {
            Ok(header) => Ok(Some(header)),
            Err(e) => {
                tracing::warn!(plugin = %self.plugin(), tenant = %self.tenant(), connection = %conn, "no credentials: {e}");
                Err(e)
            }
        }
    }

    /// Sends the request once and reads the response within the size cap.
    async fn transmit(
        &self,
        parts: &http::request::Parts,
        body: &Bytes,
        auth: Option<&str>,
        timeout: std::time::Duration,
    ) -> Result<(http::StatusCode, http::HeaderMap, Bytes), HttpError> {
        let mut builder = self
            .env
            .client
            .request(parts.method.clone(), parts.uri.to_string())
            .timeout(timeout);
        for (name, value) in parts.headers.iter() {
            // The connection's credentials replace any the plugin set; hop-by-hop headers are
            // the client's business.
            let skip = matches!(
                name.as_str(),
                "host" | "content-length" | "transfer-encoding" | "connection"
            ) || (auth.is_some() && name == http::header::AUTHORIZATION);
            if !skip {
                builder = builder.header(name, value);
            }
        }
        if let Some(auth) = auth {
            builder = builder.header(http::header::AUTHORIZATION, auth);
        }
        read_response(
            builder.body(body.clone()).send().await,
            self.env.limits.max_response_bytes,
        )
        .await
    }

    /// Appends the exchange to the record (secrets already redacted by the caller).
    fn record(
        &self,
        pending: &Pending<'_>,
        status: Option<u16>,
        outcome: String,
        request: String,
        response: String,
    ) {
        let exchange = Exchange {
            at_ms: pending.at_ms,
            tenant: self.tenant().to_owned(),
            plugin: self.plugin().to_owned(),
            kind: "http".into(),
            work_item: self.work_item.clone(),
            operation: pending.method.to_string(),
            target: pending.target.to_owned(),
            status,
            outcome,
            duration_ms: u64::try_from(pending.started.elapsed().as_millis()).unwrap_or(u64::MAX),
            request,
            response,
        };
        if let Err(e) = self.env.store.record_exchange(&exchange) {
            tracing::error!("recording an exchange failed: {e}");
        }
    }
}

/// The upstream's answer as the guest receives it (hop-by-hop headers dropped).
fn to_wasi_response(
    status: http::StatusCode,
    headers: &http::HeaderMap,
    bytes: Bytes,
) -> Result<http::Response<WasiBody>, HttpError> {
    let mut response = http::Response::builder().status(status);
    for (name, value) in headers.iter() {
        if !matches!(name.as_str(), "transfer-encoding" | "connection") {
            response = response.header(name, value);
        }
    }
    response
        .body(
            Full::new(bytes)
                .map_err(|never| match never {})
                .boxed_unsync(),
        )
        .map_err(|e| HttpError::InternalError(Some(e.to_string())))
}

async fn collect_limited(body: WasiBody, limit: usize) -> Result<Bytes, HttpError> {
    let limited = http_body_util::Limited::new(body, limit);
    match limited.collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) => match e.downcast::<HttpError>() {
            Ok(inner) => Err(*inner),
            Err(_) => Err(HttpError::HttpRequestBodySize(Some(limit as u64))),
        },
    }
}

async fn read_response(
    sent: Result<reqwest::Response, reqwest::Error>,
    limit: usize,
) -> Result<(http::StatusCode, http::HeaderMap, Bytes), HttpError> {
    let mut response = sent.map_err(map_reqwest)?;
    let status = response.status();
    let headers = response.headers().clone();
    if response
        .content_length()
        .is_some_and(|len| len > limit as u64)
    {
        return Err(HttpError::HttpResponseBodySize(response.content_length()));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(map_reqwest)? {
        if body.len() + chunk.len() > limit {
            return Err(HttpError::HttpResponseBodySize(None));
        }
        body.extend_from_slice(&chunk);
    }
    Ok((status, headers, Bytes::from(body)))
}

fn map_reqwest(e: reqwest::Error) -> HttpError {
    if e.is_timeout() {
        if e.is_connect() {
            HttpError::ConnectionTimeout
        } else {
            HttpError::HttpResponseTimeout
        }
    } else if e.is_connect() {
        HttpError::ConnectionRefused
    } else if e.is_body() || e.is_decode() {
        HttpError::HttpResponseIncomplete
    } else {
        HttpError::HttpProtocolError
    }
}

fn synthetic_response(e: &CredentialError) -> http::Response<WasiBody> {
    let body = serde_json::json!({ "error": { "code": "MLC_CREDENTIALS", "message": e.message } })
        .to_string();
    let mut builder = http::Response::builder()
        .status(e.status)
        .header("content-type", "application/json")
        .header("x-mlc-host-error", "credentials");
    if let Some(secs) = e.retry_after_s {
        builder = builder.header("retry-after", secs.to_string());
    }
    builder
        .body(
            Full::new(Bytes::from(body))
                .map_err(|never| match never {})
                .boxed_unsync(),
        )
        .unwrap_or_else(|_| {
            http::Response::new(
                Full::new(Bytes::new())
                    .map_err(|never| match never {})
                    .boxed_unsync(),
            )
        })
}

/// The URL without userinfo, with secret-looking query values redacted.
fn redact_url(uri: &http::Uri) -> String {
    let scheme = uri.scheme_str().unwrap_or("https");
    let authority = uri
        .authority()
        .map(|a| a.as_str().rsplit('@').next().unwrap_or_default())
        .unwrap_or_default();
    let path = uri.path();
    let query = uri
        .query()
        .map(|q| {
            let parts: Vec<String> = q
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((k, _)) if is_secret_key(k) => format!("{k}=<redacted>"),
                    _ => pair.to_owned(),
                })
                .collect();
            format!("?{}", parts.join("&"))
        })
        .unwrap_or_default();
    format!("{scheme}://{authority}{path}{query}")
}

fn is_secret_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    SECRET_KEYS
        .iter()
        .any(|s| key == *s || key.ends_with(&format!("_{s}")) || key.ends_with(s))
}

fn describe_request(headers: &http::HeaderMap, body: &[u8]) -> String {
    let mut out = String::new();
    for (name, value) in headers {
        let shown = if SECRET_HEADERS.contains(&name.as_str()) || is_secret_key(name.as_str()) {
            "<redacted>".to_owned()
        } else {
            String::from_utf8_lossy(value.as_bytes()).into_owned()
        };
        out.push_str(&format!("{name}: {shown}\n"));
    }
    if !body.is_empty() {
        out.push('\n');
        out.push_str(&redact_body(body));
    }
    out
}

/// A body excerpt for the record: JSON with secret keys redacted, forms likewise, else text.
pub(crate) fn redact_body(body: &[u8]) -> String {
    if let Ok(mut json) = serde_json::from_slice::<serde_json::Value>(body) {
        redact_json(&mut json);
        return clip(&json.to_string());
    }
    let text = String::from_utf8_lossy(body);
    if text.contains('=') && !text.contains(' ') && !text.contains('\n') {
        let parts: Vec<String> = text
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((k, _)) if is_secret_key(k) => format!("{k}=<redacted>"),
                _ => pair.to_owned(),
            })
            .collect();
        return clip(&parts.join("&"));
    }
    clip(&text)
}

fn redact_json(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                if is_secret_key(k) && !v.is_object() && !v.is_array() {
                    *v = serde_json::Value::String("<redacted>".into());
                } else {
                    redact_json(v);
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(redact_json),
        _ => {}
    }
}

fn clip(s: &str) -> String {
    if s.len() <= RECORDED_BODY {
        return s.to_owned();
    }
    let mut end = RECORDED_BODY;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes)", &s[..end], s.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::SystemClock;
    use crate::db::ExchangeQuery;
    use crate::manifest::HostGrant;

    /// Answers `{"token": <the Authorization it received>}`, so a test sees what the gate
    /// sent (and that a secret-looking key in a response is redacted in the record).
    async fn echo_server() -> std::net::SocketAddr {
        let app = axum::Router::new().route(
            "/",
            axum::routing::get(|headers: http::HeaderMap| async move {
                let seen = headers
                    .get("authorization")
                    .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
                    .unwrap_or_default();
                serde_json::json!({ "token": seen }).to_string()
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        addr
    }

    /// Binds every host to connection `c1` and answers with a fixed token.
    struct FixedToken;

    impl Credentials for FixedToken {
        fn connection_for(
            &self,
            _: &str,
            c: &[String],
            _: &str,
            _: &str,
            _: u16,
        ) -> Option<String> {
            c.first().cloned()
        }
        fn authorization<'a>(
            &'a self,
            _: &'a str,
            _: &'a str,
        ) -> BoxFuture<'a, Result<String, CredentialError>> {
            Box::pin(async { Ok("Bearer host-token".to_owned()) })
        }
        fn rejected<'a>(&'a self, _: &'a str, _: &'a str, _: &'a str) -> BoxFuture<'a, ()> {
            Box::pin(async {})
        }
    }

    fn request(url: &str) -> http::Request<WasiBody> {
        http::Request::get(url)
            .header("authorization", "Bearer guest-made-this-up")
            .body(
                Full::new(Bytes::new())
                    .map_err(|never| match never {})
                    .boxed_unsync(),
            )
            .unwrap()
    }

    #[tokio::test]
    async fn the_gate_refuses_ungranted_hosts_injects_credentials_and_records() {
        let addr = echo_server().await;
        let store = crate::db::in_memory().unwrap();
        let env = Arc::new(
            EgressEnv::new(
                Arc::new(FixedToken),
                EgressLimits::default(),
                store.clone(),
                Arc::new(SystemClock),
            )
            .unwrap(),
        );
        let mut binding = Binding {
            tenant: "acme".into(),
            plugin: "ups".into(),
            ..Binding::default()
        };
        binding.grants.hosts = vec![HostGrant {
            scheme: "http".into(),
            host: "127.0.0.1".into(),
            port: addr.port(),
        }];
        binding.connections = vec!["c1".into()];
        let gate = EgressCtx::new(env, Arc::new(binding), Some("item-9".into()));

        let other_port = format!("http://127.0.0.1:{}/", addr.port() + 1);
        let denied = gate.shared.send(request(&other_port), None).await;
        assert!(
            matches!(denied, Err(HttpError::HttpRequestDenied)),
            "{denied:?}"
        );

        let sent = gate
            .shared
            .send(request(&format!("http://{addr}/")), None)
            .await
            .unwrap();
        let body = sent.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(
            &body[..],
            br#"{"token":"Bearer host-token"}"#,
            "the connection's token replaces whatever the guest set"
        );

        let recorded = store.exchanges(&ExchangeQuery::default()).unwrap();
        let outcomes: Vec<(&str, Option<u16>)> = recorded
            .iter()
            .map(|e| (e.outcome.as_str(), e.status))
            .collect();
        assert_eq!(
            outcomes,
            vec![("denied: host not granted", None), ("ok", Some(200))]
        );
        assert!(
            recorded
                .iter()
                .all(|e| e.work_item.as_deref() == Some("item-9"))
        );
        assert!(
            recorded
                .iter()
                .all(|e| !e.request.contains("guest-made-this-up")
                    && !e.response.contains("host-token")),
            "secrets never reach the record"
        );
    }

    #[test]
    fn redacts_secrets_in_bodies_urls_and_headers() {
        let form = redact_body(b"grant_type=client_credentials&client_secret=s3cr3t&client_id=abc");
        assert_eq!(
            form,
            "grant_type=client_credentials&client_secret=<redacted>&client_id=abc"
        );
        let json = redact_body(
            br#"{"destination":{"url":"u","credential":"hunter2"},"access_token":"tok"}"#,
        );
        assert!(
            !json.contains("hunter2") && !json.contains("tok\""),
            "{json}"
        );
        let uri: http::Uri = "https://u:p@h.example/x?access_token=abc&q=1"
            .parse()
            .unwrap();
        assert_eq!(
            redact_url(&uri),
            "https://h.example/x?access_token=<redacted>&q=1"
        );
        let mut headers = http::HeaderMap::new();
        headers.insert("authorization", "Bearer tok".parse().unwrap());
        headers.insert("credential", "hunter2".parse().unwrap());
        headers.insert("transid", "abc".parse().unwrap());
        let described = describe_request(&headers, b"");
        assert!(
            !described.contains("tok")
                && !described.contains("hunter2")
                && described.contains("transid: abc"),
            "{described}"
        );
    }
}
