//! A small blocking HTTP client over `wasi:http/outgoing-handler`.
//!
//! The host decides where a plugin may connect: a request to a host that is not in the
//! plugin's grant fails with [`HttpError::Denied`] (mapped to the contract's `denied`), never a
//! trap. The host also adds `Authorization` for hosts bound to a connection, so connectors send
//! no credentials of their own.
//!
//! ```ignore
//! let resp = http::post(&format!("{base}/rating/v2409/Rate"))
//!     .header("transId", &trans_id)
//!     .json(&body)?
//!     .send()?;
//! let rated: RateResponse = resp.error_for_status()?.json()?;
//! ```

use std::time::Duration;

use serde::{Serialize, de::DeserializeOwned};

use crate::bindings::wasi::http::{
    outgoing_handler,
    types::{ErrorCode, Fields, Method, OutgoingBody, OutgoingRequest, RequestOptions, Scheme},
};
use crate::bindings::wasi::io::streams::StreamError;
use crate::{Error, RetryInfo, VendorError};

/// The largest response body the SDK reads; larger bodies fail with [`HttpError::TooLarge`].
pub const MAX_BODY: usize = 16 * 1024 * 1024;
/// Default time allowed for connecting, for the first response byte and between bytes.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// `wasi:io` output streams accept at most this many bytes per blocking write.
const WRITE_CHUNK: usize = 4096;

/// Why an exchange failed before a response status was received.
#[derive(Debug, Clone, PartialEq)]
pub enum HttpError {
    /// The host refused the request (not granted to this plugin).
    Denied(String),
    /// The URL could not be parsed.
    InvalidUrl(String),
    /// Connecting or reading timed out.
    Timeout(String),
    /// DNS, refused connection, TLS or a broken connection.
    Connection(String),
    /// The response body exceeded [`MAX_BODY`] or the host's cap.
    TooLarge(String),
    /// Anything else the transport reported.
    Protocol(String),
}

impl std::fmt::Display for HttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HttpError::Denied(m) => write!(f, "request denied by the host: {m}"),
            HttpError::InvalidUrl(m) => write!(f, "invalid URL: {m}"),
            HttpError::Timeout(m) => write!(f, "timed out: {m}"),
            HttpError::Connection(m) => write!(f, "connection failed: {m}"),
            HttpError::TooLarge(m) => write!(f, "response too large: {m}"),
            HttpError::Protocol(m) => write!(f, "HTTP error: {m}"),
        }
    }
}

impl From<HttpError> for Error {
    fn from(e: HttpError) -> Self {
        match e {
            HttpError::Denied(m) => Error::Denied(m),
            HttpError::InvalidUrl(m) => Error::invalid_input("request", "url", m),
            // Transport failures are worth retrying: the other side may be back shortly.
            HttpError::Timeout(_) | HttpError::Connection(_) | HttpError::Protocol(_) => {
                Error::Unavailable(RetryInfo {
                    message: e.to_string(),
                    retry_after_ms: None,
                })
            }
            HttpError::TooLarge(m) => Error::internal(format!("response too large: {m}")),
        }
    }
}

/// A request being built.
#[derive(Debug, Clone)]
#[must_use = "a request does nothing until `send` is called"]
pub struct Request {
    method: Method,
    url: String,
    headers: Vec<(String, String)>,
    body: Option<Vec<u8>>,
    timeout: Duration,
}

/// A GET request.
pub fn get(url: &str) -> Request {
    Request::new(Method::Get, url)
}
/// A POST request.
pub fn post(url: &str) -> Request {
    Request::new(Method::Post, url)
}
/// A PATCH request.
pub fn patch(url: &str) -> Request {
    Request::new(Method::Patch, url)
}
/// A PUT request.
pub fn put(url: &str) -> Request {
    Request::new(Method::Put, url)
}
/// A DELETE request.
pub fn delete(url: &str) -> Request {
    Request::new(Method::Delete, url)
}

impl Request {
    /// A request with `method` to an absolute `http` or `https` URL.
    pub fn new(method: Method, url: &str) -> Self {
        Request {
            method,
            url: url.to_owned(),
            headers: Vec::new(),
            body: None,
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// Adds a header (repeatable).
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Sets a JSON body and `Content-Type: application/json`.
    pub fn json<T: Serialize + ?Sized>(mut self, body: &T) -> Result<Self, Error> {
        let bytes = serde_json::to_vec(body)
            .map_err(|e| Error::internal(format!("cannot encode request body: {e}")))?;
        self.headers
            .push(("content-type".into(), "application/json".into()));
        self.body = Some(bytes);
        Ok(self)
    }

    /// Sets an `application/x-www-form-urlencoded` body.
    pub fn form(mut self, fields: &[(&str, &str)]) -> Self {
        let encoded: Vec<String> = fields
            .iter()
            .map(|(k, v)| format!("{}={}", encode_component(k), encode_component(v)))
            .collect();
        self.headers.push((
            "content-type".into(),
            "application/x-www-form-urlencoded".into(),
        ));
        self.body = Some(encoded.join("&").into_bytes());
        self
    }

    /// Sets a raw body.
    pub fn body(mut self, bytes: Vec<u8>) -> Self {
        self.body = Some(bytes);
        self
    }

    /// Overrides the connect, first-byte and between-bytes timeouts.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sends the request and reads the whole response. Any status is a response: use
    /// [`Response::error_for_status`] to turn non-2xx statuses into contract errors.
    pub fn send(self) -> Result<Response, HttpError> {
        let url = Url::parse(&self.url)?;
        let fields = Fields::new();
        for (name, value) in &self.headers {
            fields
                .append(name, value.as_bytes())
                .map_err(|e| HttpError::Protocol(format!("header `{name}` rejected: {e:?}")))?;
        }
        let request = OutgoingRequest::new(fields);
        let scheme = if url.https {
            Scheme::Https
        } else {
            Scheme::Http
        };
        request
            .set_method(&self.method)
            .map_err(|()| HttpError::Protocol("method rejected".into()))?;
        request
            .set_scheme(Some(&scheme))
            .map_err(|()| HttpError::Protocol("scheme rejected".into()))?;
        request.set_authority(Some(&url.authority)).map_err(|()| {
            HttpError::InvalidUrl(format!("authority `{}` rejected", url.authority))
        })?;
        request
            .set_path_with_query(Some(&url.path_and_query))
            .map_err(|()| {
                HttpError::InvalidUrl(format!("path `{}` rejected", url.path_and_query))
            })?;

        let options = RequestOptions::new();
        let nanos = u64::try_from(self.timeout.as_nanos()).unwrap_or(u64::MAX);
        // Hosts may refuse to set timeouts; the request still goes out with the host's defaults.
        let _ = options.set_connect_timeout(Some(nanos));
        let _ = options.set_first_byte_timeout(Some(nanos));
        let _ = options.set_between_bytes_timeout(Some(nanos));

        let outgoing_body = request
            .body()
            .map_err(|()| HttpError::Protocol("request body already taken".into()))?;
        // Start the exchange before writing the body: the body pipe is bounded, so writing a large
        // body first would wait for a reader that does not exist yet.
        let future = outgoing_handler::handle(request, Some(options)).map_err(map_error_code)?;
        {
            let stream = outgoing_body
                .write()
                .map_err(|()| HttpError::Protocol("request body stream unavailable".into()))?;
            if let Some(body) = &self.body {
                for chunk in body.chunks(WRITE_CHUNK) {
                    stream
                        .blocking_write_and_flush(chunk)
                        .map_err(map_stream_error)?;
                }
            }
        }
        OutgoingBody::finish(outgoing_body, None).map_err(map_error_code)?;

        let incoming = loop {
            match future.get() {
                Some(Ok(Ok(response))) => break response,
                Some(Ok(Err(code))) => return Err(map_error_code(code)),
                Some(Err(())) => return Err(HttpError::Protocol("response already taken".into())),
                None => future.subscribe().block(),
            }
        };
        let status = incoming.status();
        let headers = incoming
            .headers()
            .entries()
            .into_iter()
            .map(|(name, value)| {
                (
                    name.to_ascii_lowercase(),
                    String::from_utf8_lossy(&value).into_owned(),
                )
            })
            .collect();
        let body_resource = incoming
            .consume()
            .map_err(|()| HttpError::Protocol("response body already taken".into()))?;
        let mut body = Vec::new();
        {
            let stream = body_resource
                .stream()
                .map_err(|()| HttpError::Protocol("response body stream unavailable".into()))?;
            loop {
                match stream.blocking_read(64 * 1024) {
                    Ok(bytes) => {
                        body.extend_from_slice(&bytes);
                        if body.len() > MAX_BODY {
                            return Err(HttpError::TooLarge(format!(
                                "over {MAX_BODY} bytes from {}",
                                url.authority
                            )));
                        }
                    }
                    Err(StreamError::Closed) => break,
                    Err(e) => return Err(map_stream_error(e)),
                }
            }
        }
        drop(body_resource);
        Ok(Response {
            status,
            headers,
            body,
        })
    }
}

/// A complete response.
#[derive(Debug, Clone)]
pub struct Response {
    /// The HTTP status code.
    pub status: u16,
    /// Headers, names lower-cased, in order.
    pub headers: Vec<(String, String)>,
    /// The whole body.
    pub body: Vec<u8>,
}

impl Response {
    /// The first value of a header (case-insensitive name).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The body as text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// Parses the body as JSON; a body that does not parse is an `internal` error quoting the
    /// start of the body.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, Error> {
        serde_json::from_slice(&self.body).map_err(|e| {
            Error::internal(format!(
                "unexpected response body (HTTP {}): {e}; body starts: {}",
                self.status,
                snippet(&self.body)
            ))
        })
    }

    /// Milliseconds from a `Retry-After` header given in seconds (HTTP dates are not used by
    /// IFS or UPS and are ignored).
    pub fn retry_after_ms(&self) -> Option<u64> {
        self.header("retry-after")?
            .trim()
            .parse::<u64>()
            .ok()
            .map(|s| s.saturating_mul(1000))
    }

    /// `Ok(self)` for 2xx; otherwise the contract error for the status, with the body's start as
    /// the message. Connectors that understand their vendor's error bodies should map those
    /// first and use this as the fallback.
    pub fn error_for_status(self) -> Result<Self, Error> {
        if self.is_success() {
            return Ok(self);
        }
        Err(self.status_error(String::new(), snippet(&self.body)))
    }

    /// The contract error for this (non-2xx) status with a vendor code and message.
    pub fn status_error(&self, code: String, message: String) -> Error {
        let retry = |message: String| RetryInfo {
            message,
            retry_after_ms: self.retry_after_ms(),
        };
        let described = if code.is_empty() {
            message.clone()
        } else {
            format!("{code}: {message}")
        };
        match self.status {
            401 => Error::Unauthorized(described),
            403 => Error::Forbidden(described),
            404 => Error::NotFound(described),
            409 | 412 => Error::Conflict(described),
            408 | 502 | 503 | 504 | 500 => {
                Error::Unavailable(retry(format!("HTTP {}: {described}", self.status)))
            }
            429 => Error::RateLimited(retry(format!("HTTP 429: {described}"))),
            status => Error::Rejected(VendorError {
                status,
                code,
                message,
            }),
        }
    }
}

/// The first 300 characters of a body, for error messages.
pub fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let mut s: String = text.chars().take(300).collect();
    if text.chars().count() > 300 {
        s.push('…');
    }
    s
}

/// Percent-encodes a query or form component (RFC 3986 unreserved characters pass through).
pub fn encode_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// The parts of an absolute URL that `wasi:http` wants.
#[derive(Debug, PartialEq)]
struct Url {
    https: bool,
    authority: String,
    path_and_query: String,
}

impl Url {
    fn parse(url: &str) -> Result<Url, HttpError> {
        let (https, rest) = if let Some(rest) = url.strip_prefix("https://") {
            (true, rest)
        } else if let Some(rest) = url.strip_prefix("http://") {
            (false, rest)
        } else {
            return Err(HttpError::InvalidUrl(format!(
                "`{url}` is not an absolute http(s) URL"
            )));
        };
        let split = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, path) = rest.split_at(split);
        if authority.is_empty() || authority.contains('@') {
            return Err(HttpError::InvalidUrl(format!("`{url}` has no usable host")));
        }
        let path_and_query = if path.is_empty() {
            "/".to_owned()
        } else if path.starts_with('?') {
            format!("/{path}")
        } else {
            path.to_owned()
        };
        Ok(Url {
            https,
            authority: authority.to_owned(),
            path_and_query,
        })
    }
}

fn map_error_code(code: ErrorCode) -> HttpError {
    match code {
        ErrorCode::HttpRequestDenied => {
            HttpError::Denied("the host does not grant this plugin access to that host".into())
        }
        ErrorCode::ConnectionTimeout
        | ErrorCode::ConnectionReadTimeout
        | ErrorCode::ConnectionWriteTimeout => HttpError::Timeout(format!("{code:?}")),
        ErrorCode::HttpResponseTimeout => HttpError::Timeout("no response in time".into()),
        ErrorCode::HttpResponseBodySize(_) | ErrorCode::HttpResponseHeaderSize(_) => {
            HttpError::TooLarge(format!("{code:?}"))
        }
        ErrorCode::DnsTimeout
        | ErrorCode::DnsError(_)
        | ErrorCode::ConnectionRefused
        | ErrorCode::ConnectionTerminated
        | ErrorCode::ConnectionLimitReached
        | ErrorCode::DestinationNotFound
        | ErrorCode::DestinationUnavailable
        | ErrorCode::DestinationIpUnroutable
        | ErrorCode::TlsProtocolError
        | ErrorCode::TlsCertificateError
        | ErrorCode::TlsAlertReceived(_)
        | ErrorCode::HttpProtocolError => HttpError::Connection(format!("{code:?}")),
        other => HttpError::Protocol(format!("{other:?}")),
    }
}

fn map_stream_error(e: StreamError) -> HttpError {
    match e {
        StreamError::Closed => HttpError::Connection("stream closed".into()),
        StreamError::LastOperationFailed(err) => HttpError::Connection(err.to_debug_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_urls_into_wasi_parts() {
        let u = Url::parse("https://x.ifs.cloud/main/a.svc/Set?$top=5").unwrap();
        assert_eq!(
            u,
            Url {
                https: true,
                authority: "x.ifs.cloud".into(),
                path_and_query: "/main/a.svc/Set?$top=5".into()
            }
        );
        let u = Url::parse("http://127.0.0.1:8080").unwrap();
        assert_eq!(u.path_and_query, "/");
        assert!(!u.https);
        assert!(Url::parse("ftp://x").is_err());
        assert!(Url::parse("http:///path").is_err());
        assert!(Url::parse("http://user@host/").is_err());
    }

    #[test]
    fn encodes_components() {
        assert_eq!(encode_component("a b&c=d/é"), "a%20b%26c%3Dd%2F%C3%A9");
        assert_eq!(
            encode_component("Objstate eq 'X'"),
            "Objstate%20eq%20%27X%27"
        );
    }

    #[test]
    fn maps_statuses_to_contract_errors() {
        let resp = |status: u16, retry: Option<&str>| Response {
            status,
            headers: retry
                .map(|r| vec![("retry-after".to_owned(), r.to_owned())])
                .unwrap_or_default(),
            body: b"{\"oops\":1}".to_vec(),
        };
        assert!(matches!(
            resp(401, None).error_for_status(),
            Err(Error::Unauthorized(_))
        ));
        assert!(matches!(
            resp(404, None).error_for_status(),
            Err(Error::NotFound(_))
        ));
        assert!(matches!(
            resp(412, None).error_for_status(),
            Err(Error::Conflict(_))
        ));
        match resp(429, Some("7")).error_for_status() {
            Err(Error::RateLimited(r)) => assert_eq!(r.retry_after_ms, Some(7000)),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            resp(503, None).error_for_status(),
            Err(Error::Unavailable(_))
        ));
        match resp(400, None).error_for_status() {
            Err(Error::Rejected(v)) => assert_eq!(v.status, 400),
            other => panic!("{other:?}"),
        }
        assert!(resp(204, None).error_for_status().is_ok());
    }
}
