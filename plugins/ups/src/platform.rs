//! What the connector needs from its surroundings, as one trait: HTTP, configuration, secrets,
//! storage, the wall clock, randomness and logging. [`Wasi`] is the real thing (the host's
//! imports through the SDK); tests drive the same operations with a scripted fake, so request
//! building, batching, error mapping and storage use are tested natively.

use mlc_plugin_sdk::host::Level;
use mlc_plugin_sdk::http::{self, Response};
use mlc_plugin_sdk::{Error, Result};
use serde_json::Value;

/// HTTP methods the connector uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Method {
    Get,
    Post,
    Delete,
}

/// One request to UPS, fully built (headers included).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Outgoing {
    pub(crate) method: Method,
    pub(crate) url: String,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Option<Value>,
}

impl Outgoing {
    /// The first value of a header (case-insensitive).
    #[cfg(test)]
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// The connector's view of the host.
pub(crate) trait Platform {
    /// Sends a request; any HTTP status is a response, transport failures are errors.
    fn send(&self, request: &Outgoing) -> Result<Response>;
    /// One configuration value.
    fn config(&self, key: &str) -> Option<String>;
    /// One secret.
    fn secret(&self, name: &str) -> Result<String>;
    /// A stored value and its revision.
    fn load(&self, key: &str) -> Result<Option<(Vec<u8>, u64)>>;
    /// Writes a value unconditionally.
    fn store(&self, key: &str, value: &[u8]) -> Result<u64>;
    /// Writes a value if the revision matches (none: only if absent); none when it did not.
    fn swap(&self, key: &str, expected: Option<u64>, value: &[u8]) -> Result<Option<u64>>;
    /// Milliseconds since the epoch on the host's wall clock (controlled in tests).
    fn now_ms(&self) -> i64;
    /// `n` random bytes.
    fn random(&self, n: usize) -> Result<Vec<u8>>;
    /// A log line.
    fn log(&self, level: Level, message: &str);
}

/// The host, through the SDK and WASI.
pub(crate) struct Wasi;

impl Platform for Wasi {
    fn send(&self, request: &Outgoing) -> Result<Response> {
        let mut builder = match request.method {
            Method::Get => http::get(&request.url),
            Method::Post => http::post(&request.url),
            Method::Delete => http::delete(&request.url),
        };
        for (name, value) in &request.headers {
            builder = builder.header(name, value);
        }
        if let Some(body) = &request.body {
            builder = builder.json(body)?;
        }
        Ok(builder.send()?)
    }

    fn config(&self, key: &str) -> Option<String> {
        mlc_plugin_sdk::host::config::get(key)
    }

    fn secret(&self, name: &str) -> Result<String> {
        mlc_plugin_sdk::host::secret(name)
    }

    fn load(&self, key: &str) -> Result<Option<(Vec<u8>, u64)>> {
        Ok(mlc_plugin_sdk::host::storage::get(key)?.map(|e| (e.value, e.revision)))
    }

    fn store(&self, key: &str, value: &[u8]) -> Result<u64> {
        mlc_plugin_sdk::host::storage::set(key, value)
    }

    fn swap(&self, key: &str, expected: Option<u64>, value: &[u8]) -> Result<Option<u64>> {
        mlc_plugin_sdk::host::storage::compare_and_swap(key, expected, value)
    }

    fn now_ms(&self) -> i64 {
        // wasi:clocks/wall-clock through std; the host may run it on a controlled clock.
        match std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
            Err(e) => -i64::try_from(e.duration().as_millis()).unwrap_or(i64::MAX),
        }
    }

    fn random(&self, n: usize) -> Result<Vec<u8>> {
        let mut buf = vec![0u8; n];
        getrandom::fill(&mut buf)
            .map_err(|e| Error::internal(format!("no randomness from the host: {e}")))?;
        Ok(buf)
    }

    fn log(&self, level: Level, message: &str) {
        mlc_plugin_sdk::host::log(level, message);
    }
}

/// A scripted platform for native tests: canned responses in order, every request recorded,
/// an in-memory store, a settable clock.
#[cfg(test)]
pub(crate) mod fake {
    use std::cell::{Cell, RefCell};
    use std::collections::{BTreeMap, VecDeque};

    use super::*;

    pub(crate) struct Fake {
        pub(crate) config: BTreeMap<String, String>,
        pub(crate) secrets: BTreeMap<String, String>,
        pub(crate) storage: RefCell<BTreeMap<String, (Vec<u8>, u64)>>,
        pub(crate) responses: RefCell<VecDeque<Result<Response>>>,
        pub(crate) requests: RefCell<Vec<Outgoing>>,
        pub(crate) now: Cell<i64>,
        pub(crate) counter: Cell<u8>,
        pub(crate) logs: RefCell<Vec<String>>,
        /// When set, storage writes fail with this error.
        pub(crate) storage_error: RefCell<Option<Error>>,
    }

    /// 2024-04-23T13:50:04Z.
    pub(crate) const NOW: i64 = 1_713_880_204_000;

    impl Fake {
        pub(crate) fn new() -> Self {
            let config = [
                ("base-url", "https://ups.example/api"),
                ("shipper-number", "A1B2C3"),
                (
                    "ship-from",
                    r#"{"name":"ML Apparel Inc.","lines":["1200 Fulton Industrial Blvd SW"],"city":"Atlanta","state":"GA","postal-code":"30336","country":"US","phone":"4045550100"}"#,
                ),
                (
                    "trackalert-webhook-url",
                    "https://connector.example/webhooks/ups/t1",
                ),
            ];
            Fake {
                config: config
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect(),
                secrets: [("trackalert-credential".to_owned(), "s3cret".to_owned())]
                    .into_iter()
                    .collect(),
                storage: RefCell::new(BTreeMap::new()),
                responses: RefCell::new(VecDeque::new()),
                requests: RefCell::new(Vec::new()),
                now: Cell::new(NOW),
                counter: Cell::new(0),
                logs: RefCell::new(Vec::new()),
                storage_error: RefCell::new(None),
            }
        }

        pub(crate) fn with_config(mut self, key: &str, value: &str) -> Self {
            self.config.insert(key.to_owned(), value.to_owned());
            self
        }

        pub(crate) fn without_config(mut self, key: &str) -> Self {
            self.config.remove(key);
            self
        }

        /// Queues a JSON response.
        pub(crate) fn respond(&self, status: u16, body: Value) -> &Self {
            self.respond_with(status, &[], body)
        }

        pub(crate) fn respond_with(
            &self,
            status: u16,
            headers: &[(&str, &str)],
            body: Value,
        ) -> &Self {
            self.responses.borrow_mut().push_back(Ok(Response {
                status,
                headers: headers
                    .iter()
                    .map(|(n, v)| (n.to_ascii_lowercase(), (*v).to_owned()))
                    .collect(),
                body: serde_json::to_vec(&body).unwrap(),
            }));
            self
        }

        pub(crate) fn respond_raw(&self, status: u16, body: &str) -> &Self {
            self.responses.borrow_mut().push_back(Ok(Response {
                status,
                headers: vec![],
                body: body.as_bytes().to_vec(),
            }));
            self
        }

        pub(crate) fn fail(&self, error: Error) -> &Self {
            self.responses.borrow_mut().push_back(Err(error));
            self
        }

        pub(crate) fn sent(&self) -> Vec<Outgoing> {
            self.requests.borrow().clone()
        }

        pub(crate) fn stored(&self, key: &str) -> Option<Value> {
            self.storage
                .borrow()
                .get(key)
                .map(|(v, _)| serde_json::from_slice(v).unwrap())
        }
    }

    impl Platform for Fake {
        fn send(&self, request: &Outgoing) -> Result<Response> {
            self.requests.borrow_mut().push(request.clone());
            self.responses.borrow_mut().pop_front().unwrap_or_else(|| {
                panic!(
                    "no response scripted for {:?} {}",
                    request.method, request.url
                )
            })
        }
        fn config(&self, key: &str) -> Option<String> {
            self.config.get(key).cloned()
        }
        fn secret(&self, name: &str) -> Result<String> {
            self.secrets
                .get(name)
                .cloned()
                .ok_or_else(|| Error::NotFound(format!("secret {name}")))
        }
        fn load(&self, key: &str) -> Result<Option<(Vec<u8>, u64)>> {
            Ok(self.storage.borrow().get(key).cloned())
        }
        fn store(&self, key: &str, value: &[u8]) -> Result<u64> {
            if let Some(e) = self.storage_error.borrow().clone() {
                return Err(e);
            }
            let mut s = self.storage.borrow_mut();
            let rev = s.get(key).map_or(1, |(_, r)| r + 1);
            s.insert(key.to_owned(), (value.to_vec(), rev));
            Ok(rev)
        }
        fn swap(&self, key: &str, expected: Option<u64>, value: &[u8]) -> Result<Option<u64>> {
            if let Some(e) = self.storage_error.borrow().clone() {
                return Err(e);
            }
            let current = self.storage.borrow().get(key).map(|(_, r)| *r);
            if current != expected {
                return Ok(None);
            }
            self.store(key, value).map(Some)
        }
        fn now_ms(&self) -> i64 {
            self.now.get()
        }
        fn random(&self, n: usize) -> Result<Vec<u8>> {
            let c = self.counter.get().wrapping_add(1);
            self.counter.set(c);
            Ok((0..n)
                .map(|i| c.wrapping_mul(31).wrapping_add(i as u8))
                .collect())
        }
        fn log(&self, level: Level, message: &str) {
            self.logs.borrow_mut().push(format!("{level:?}: {message}"));
        }
    }
}
