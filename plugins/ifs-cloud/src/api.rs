//! IFS OData wire shapes: collection envelopes, entities (as JSON maps, because field names are
//! configuration), the error body, and the mapping of HTTP failures to contract errors.

use mlc_plugin_sdk::Error;
use mlc_plugin_sdk::http::{Response, snippet};
use serde::Deserialize;
use serde_json::{Map, Value};

/// One IFS record with its envelope fields (`@odata.etag`, `luname`, `keyref`, …).
pub type Entity = Map<String, Value>;

/// A collection response.
#[derive(Debug, Deserialize)]
pub struct Collection {
    #[serde(default)]
    pub value: Vec<Entity>,
    #[serde(rename = "@odata.nextLink", default)]
    pub next_link: Option<String>,
    /// With `$count=true`; a string under `IEEE754Compatible=true`.
    #[serde(rename = "@odata.count", default)]
    pub count: Option<Value>,
}

impl Collection {
    /// `@odata.count` as a number.
    pub fn total(&self) -> Option<u64> {
        match &self.count {
            Some(Value::Number(n)) => n.as_u64(),
            Some(Value::String(s)) => s.trim().parse().ok(),
            _ => None,
        }
    }
}

/// `{"error":{"code":"ODP_…","message":"…","details":[{"code","message"}]}}` (OData JSON §21).
#[derive(Debug, Deserialize)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Debug, Deserialize)]
struct ErrorDetail {
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    details: Vec<InnerDetail>,
}

#[derive(Debug, Deserialize)]
struct InnerDetail {
    #[serde(default)]
    message: Option<String>,
}

/// The IFS error code and message of a failed response (`ODP_*`, `MI_MODIFIED_ERROR`, Oracle
/// `ORA-…` business errors in `details`), or the body's start when it is not an OData error.
pub fn vendor_error(resp: &Response) -> (String, String) {
    match serde_json::from_slice::<ErrorBody>(&resp.body) {
        Ok(b) => {
            let mut message = b.error.message.unwrap_or_default();
            for d in b.error.details.into_iter().filter_map(|d| d.message) {
                if !message.contains(&d) {
                    message = if message.is_empty() {
                        d
                    } else {
                        format!("{message} ({d})")
                    };
                }
            }
            (b.error.code.unwrap_or_default(), message)
        }
        Err(_) => (String::new(), snippet(&resp.body)),
    }
}

/// The contract error for a non-2xx IFS response to `what` (e.g. `GET ShipmentSet(…)`).
///
/// 401 unauthorized (the host already refreshed the token once), 403 forbidden, 404 not-found,
/// 409/412 conflict, 429 rate-limited and 5xx unavailable (both with `Retry-After`), 428 — IFS
/// demanding an `If-Match` we failed to send — a bug report (`internal`), any other 4xx
/// `rejected` carrying the IFS code and message.
pub fn status_error(resp: &Response, what: &str) -> Error {
    let (code, message) = vendor_error(resp);
    if resp.status == 428 {
        return Error::internal(format!(
            "bug: {what} was refused with 428 Precondition Required ({code}: {message}); the connector must always send If-Match"
        ));
    }
    let message = format!("{what}: {message}");
    if !(400..600).contains(&resp.status) {
        return Error::internal(format!("{message} (unexpected HTTP {})", resp.status));
    }
    resp.status_error(code, message)
}

/// The `@odata.etag` of a record, or the `ETag` header of a single-entity response.
pub fn etag_of(ent: &Entity, resp: Option<&Response>) -> Option<String> {
    ent.get("@odata.etag")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .or_else(|| resp.and_then(|r| r.header("etag")).map(str::to_owned))
        .filter(|e| !e.trim().is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resp(status: u16, body: &str, headers: &[(&str, &str)]) -> Response {
        Response {
            status,
            headers: headers
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn parses_collections_with_quirks() {
        let c: Collection = serde_json::from_str(
            r#"{"@odata.context":"x","@odata.count":"3","value":[{"@odata.etag":"W/\"x\"","ShipmentId":1,"luname":"Shipment"}],"@odata.nextLink":"n"}"#,
        )
        .unwrap();
        assert_eq!(c.total(), Some(3));
        assert_eq!(c.value.len(), 1);
        assert_eq!(c.next_link.as_deref(), Some("n"));
        assert_eq!(etag_of(&c.value[0], None).as_deref(), Some("W/\"x\""));
    }

    #[test]
    fn maps_ifs_errors() {
        let e = status_error(
            &resp(
                400,
                r#"{"error":{"code":"ODP_VALIDATION_ERROR","message":"Bad","details":[{"message":"ORA-20110: mandatory"}]}}"#,
                &[],
            ),
            "POST charge",
        );
        match e {
            Error::Rejected(v) => {
                assert_eq!(v.status, 400);
                assert_eq!(v.code, "ODP_VALIDATION_ERROR");
                assert_eq!(v.message, "POST charge: Bad (ORA-20110: mandatory)");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            status_error(
                &resp(
                    401,
                    r#"{"error":{"code":"UNAUTHORIZED","message":"expired"}}"#,
                    &[]
                ),
                "GET"
            ),
            Error::Unauthorized(_)
        ));
        match status_error(
            &resp(
                404,
                r#"{"error":{"code":"ODP_RESOURCE_NOTFOUND","message":"gone"}}"#,
                &[],
            ),
            "GET ShipmentSet(ShipmentId=1)",
        ) {
            Error::NotFound(m) => {
                assert!(m.contains("ODP_RESOURCE_NOTFOUND") && m.contains("ShipmentId=1"))
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            status_error(
                &resp(
                    412,
                    r#"{"error":{"code":"ODP_PRECONDITION_FAILED","message":"m"}}"#,
                    &[]
                ),
                "PATCH"
            ),
            Error::Conflict(_)
        ));
        match status_error(
            &resp(
                428,
                r#"{"error":{"code":"ODP_MISSING_PRECONDITION","message":"m"}}"#,
                &[],
            ),
            "PATCH",
        ) {
            Error::Internal(m) => {
                assert!(m.starts_with("bug:") && m.contains("ODP_MISSING_PRECONDITION"))
            }
            other => panic!("{other:?}"),
        }
        match status_error(
            &resp(
                429,
                r#"{"error":{"code":"ODP_TOO_MANY_REQUESTS","message":"m"}}"#,
                &[("retry-after", "12")],
            ),
            "GET",
        ) {
            Error::RateLimited(r) => assert_eq!(r.retry_after_ms, Some(12_000)),
            other => panic!("{other:?}"),
        }
        match status_error(
            &resp(503, "<html>down</html>", &[("retry-after", "3")]),
            "GET",
        ) {
            Error::Unavailable(r) => {
                assert_eq!(r.retry_after_ms, Some(3000));
                assert!(r.message.contains("<html>down"));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            status_error(
                &resp(
                    500,
                    r#"{"error":{"code":"MI_MODIFIED_ERROR","message":"m"}}"#,
                    &[]
                ),
                "GET"
            ),
            Error::Unavailable(_)
        ));
    }
}
