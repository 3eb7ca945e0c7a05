//! The seam between the connector's logic and `wasi:http`: the logic builds [`HttpRequest`]s and
//! reads SDK [`Response`]s, so native tests drive it with an in-memory IFS instead of a host.

use std::time::Duration;

use mlc_plugin_sdk::Result;
use mlc_plugin_sdk::http::{self, Response};

/// The HTTP methods the connector uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Patch,
}

/// One request, fully built.
#[derive(Clone, Debug)]
pub struct HttpRequest {
    pub method: Method,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
}

impl HttpRequest {
    /// A request with the `Accept` header every IFS call sends.
    pub fn new(method: Method, url: String) -> Self {
        HttpRequest {
            method,
            url,
            headers: vec![("accept".into(), "application/json".into())],
            body: None,
        }
    }

    /// Adds a header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Sets a JSON body (IFS answers `ODP_DESERIALIZATION_ERROR` without the content type).
    pub fn json(mut self, body: &serde_json::Value) -> Self {
        self.headers
            .push(("content-type".into(), "application/json".into()));
        self.body = Some(body.to_string().into_bytes());
        self
    }

    /// The first value of a header.
    #[cfg(test)]
    pub fn header_value(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Sends requests. Transport failures are contract errors (denied, unavailable, …); any HTTP
/// status is a response.
pub trait Transport {
    fn send(&self, req: HttpRequest) -> Result<Response>;
}

/// The real transport: `wasi:http` through the SDK; the host adds the bearer token.
pub struct Wasi {
    pub timeout: Duration,
}

impl Transport for Wasi {
    fn send(&self, req: HttpRequest) -> Result<Response> {
        let mut r = match req.method {
            Method::Get => http::get(&req.url),
            Method::Post => http::post(&req.url),
            Method::Patch => http::patch(&req.url),
        };
        for (name, value) in &req.headers {
            r = r.header(name, value);
        }
        if let Some(body) = req.body {
            r = r.body(body);
        }
        Ok(r.timeout(self.timeout).send()?)
    }
}
