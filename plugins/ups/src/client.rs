//! Requests to UPS: base URL from configuration, a fresh 32-character `transId` and the
//! configured `transactionSrc` on every request, and UPS error bodies turned into contract
//! errors. No retries or sleeps here: backoff belongs to the host and the flow.

use mlc_plugin_sdk::http::Response;
use mlc_plugin_sdk::{Error, Result};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::config::Settings;
use crate::mapping;
use crate::platform::{Method, Outgoing, Platform};

/// UPS API paths, with their pinned versions.
pub(crate) mod paths {
    pub(crate) const XAV: &str = "/addressvalidation/v2/3";
    pub(crate) const RATE: &str = "/rating/v2409/Rate";
    pub(crate) const SHOP: &str = "/rating/v2409/Shop";
    pub(crate) const SHIP: &str = "/shipments/v2409/ship";
    pub(crate) const VOID: &str = "/shipments/v2409/void/cancel/";
    pub(crate) const LABEL_RECOVERY: &str = "/labels/v1/recovery";
    pub(crate) const TRACK: &str = "/track/v1/details/";
    pub(crate) const TRACK_REFERENCE: &str = "/track/v1/reference/details/";
    pub(crate) const TRACK_SHIPMENT: &str = "/track/v1/shipment/details/";
    pub(crate) const QUANTUM_VIEW: &str = "/quantumview/v3/events";
}

/// A UPS client for one operation.
pub(crate) struct Ups<'a, P: Platform> {
    pub(crate) p: &'a P,
    pub(crate) s: &'a Settings,
}

impl<'a, P: Platform> Ups<'a, P> {
    pub(crate) fn new(p: &'a P, s: &'a Settings) -> Self {
        Ups { p, s }
    }

    /// 32 hexadecimal characters from the host's randomness.
    fn trans_id(&self) -> Result<String> {
        let bytes = self.p.random(16)?;
        Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
    }

    /// Builds a request to `path_and_query` under the base URL.
    pub(crate) fn build(
        &self,
        method: Method,
        path_and_query: &str,
        body: Option<Value>,
    ) -> Result<Outgoing> {
        Ok(Outgoing {
            method,
            url: format!("{}{path_and_query}", self.s.base_url),
            headers: vec![
                ("transId".to_owned(), self.trans_id()?),
                ("transactionSrc".to_owned(), self.s.transaction_src.clone()),
                ("Accept".to_owned(), "application/json".to_owned()),
            ],
            body,
        })
    }

    /// Sends and returns the response whatever its status.
    pub(crate) fn exchange(
        &self,
        method: Method,
        path_and_query: &str,
        body: Option<Value>,
    ) -> Result<Response> {
        let request = self.build(method, path_and_query, body)?;
        self.p.send(&request)
    }

    /// Sends; a non-2xx status becomes the contract error with UPS's code and message.
    pub(crate) fn call(
        &self,
        method: Method,
        path_and_query: &str,
        body: Option<Value>,
    ) -> Result<Response> {
        let resp = self.exchange(method, path_and_query, body)?;
        if resp.is_success() {
            Ok(resp)
        } else {
            Err(mapping::error_from(&resp))
        }
    }
}

/// Parses a response body, naming the operation when it does not parse.
pub(crate) fn parse<T: DeserializeOwned>(what: &str, resp: &Response) -> Result<T> {
    resp.json().map_err(|e| match e {
        Error::Internal(m) => Error::internal(format!("{what}: {m}")),
        other => other,
    })
}
