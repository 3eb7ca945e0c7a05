//! The durability core: how the host makes a flow's work survive crashes, retries and replays
//! without doing anything twice.
//!
//! A flow runs a work item (one ERP shipment) by calling the `erp` and `carrier` interfaces;
//! each call crosses the host ([`crate::capabilities::flow_links`] routes it). This module
//! decides what the host does with each call:
//!
//! - [`CallLog`] records it once: as a *step* of the work item (input, output or error, callee,
//!   timing, attempt) when the flow runs one, or as a `call` exchange when it does not (a tick's
//!   discovery, a batch of tracking events).
//! - [`Memo`] says whether a retry may be answered from the journal. Retries and replays re-run
//!   the flow from the top, so reads run live again (an operator's fix in the ERP is seen) and
//!   writes that already succeeded with the same input are answered from the journal.
//! - [`create_exactly_once`] is `carrier.create-shipment` with an intent journaled before the
//!   carrier is called, reconciliation through `find-shipments` when an earlier run's outcome is
//!   in doubt, and voiding of duplicates that slipped through.
//!
//! It sits on the [`Store`](crate::db::Store) trait and on [`CarrierCalls`], and knows nothing
//! of wasmtime or of how connectors are invoked (a call's failure arrives as a [`Failure`]), so
//! every branch is unit-tested against an in-memory store and a fake carrier.

mod calls;
mod exactly_once;
#[cfg(test)]
mod tests;

pub use self::calls::{CallLog, Memo, to_json};
pub use self::exactly_once::{CarrierCalls, create_exactly_once};
pub use crate::db::{StepRecord, StepStatus};

use crate::runtime::bindings::types::{Error, RetryInfo};

/// A work item run: the item and its attempt number. Calls a flow makes while running it are
/// journaled as steps of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkRef {
    /// The work item id.
    pub item_id: String,
    /// Its run number.
    pub attempt: u32,
}

/// A routed call that did not return a value, as the durability core sees it: the error value
/// the flow receives, and whether the call may nevertheless have taken effect.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    /// What the flow is told.
    pub error: Error,
    /// True when the callee may have acted without the host learning of it (a timeout, a trap,
    /// `unavailable` or `internal` from the connector): a creation is then reconciled before it
    /// is tried again.
    pub in_doubt: bool,
}

impl Failure {
    /// A failure that says the call had no effect.
    pub fn definite(error: Error) -> Self {
        Failure {
            error,
            in_doubt: false,
        }
    }
}

/// The error a flow gets when the journal cannot be read or written: retryable, since nothing
/// may happen that the journal does not know about.
fn journal_unavailable(e: &crate::db::StoreError) -> Error {
    tracing::error!("journal access failed: {e}");
    Error::Unavailable(RetryInfo {
        message: "the host journal is unavailable".into(),
        retry_after_ms: None,
    })
}

impl Error {
    /// A one-line description for the journal and the record of exchanges.
    pub fn to_string_lossy(&self) -> String {
        match self {
            Error::InvalidInput(e) => {
                format!("invalid-input: {} {}: {}", e.subject, e.field, e.message)
            }
            Error::NotFound(m) => format!("not-found: {m}"),
            Error::Conflict(m) => format!("conflict: {m}"),
            Error::Unauthorized(m) => format!("unauthorized: {m}"),
            Error::Forbidden(m) => format!("forbidden: {m}"),
            Error::RateLimited(r) => match r.retry_after_ms {
                Some(ms) => format!("rate-limited (retry after {ms} ms): {}", r.message),
                None => format!("rate-limited: {}", r.message),
            },
            Error::Unavailable(r) => format!("unavailable: {}", r.message),
            Error::Rejected(v) => format!("rejected ({} {}): {}", v.status, v.code, v.message),
            Error::Denied(m) => format!("denied: {m}"),
            Error::Internal(m) => format!("internal: {m}"),
        }
    }
}
