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
//! It sits on the [`Store`](crate::db::Store) trait and on [`CarrierCalls`], so every branch is
//! unit-tested against an in-memory store and a fake carrier, without wasmtime.

mod calls;
mod exactly_once;
#[cfg(test)]
mod tests;

pub use self::calls::{CallLog, Memo};
pub use self::exactly_once::{CarrierCalls, create_exactly_once};
pub use crate::db::{StepRecord, StepStatus};

use crate::runtime::InvokeError;
use crate::runtime::bindings::types::{Error, RetryInfo};

/// Maps a failed routed call to the error value the flow receives.
pub fn routed_error(e: InvokeError) -> Error {
    match e {
        InvokeError::Plugin { error, .. } => error,
        InvokeError::Timeout { plugin, ms } => Error::Unavailable(RetryInfo {
            message: format!("connector `{plugin}` timed out after {ms} ms"),
            retry_after_ms: None,
        }),
        InvokeError::NotLoaded { .. }
        | InvokeError::NotBound { .. }
        | InvokeError::WrongWorld { .. } => Error::Denied(e.to_string()),
        InvokeError::Trap { .. } | InvokeError::Instantiate { .. } => {
            Error::Internal(e.to_string())
        }
    }
}

/// Whether a failed create may nevertheless have created the shipment at the carrier: the
/// connector said it does not know (`unavailable`, `internal`), or it never answered.
pub(crate) fn outcome_unknown(e: &InvokeError) -> bool {
    match e {
        InvokeError::Plugin { error, .. } => {
            matches!(error, Error::Unavailable(_) | Error::Internal(_))
        }
        InvokeError::Timeout { .. }
        | InvokeError::Trap { .. }
        | InvokeError::Instantiate { .. } => true,
        InvokeError::NotLoaded { .. }
        | InvokeError::NotBound { .. }
        | InvokeError::WrongWorld { .. } => false,
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
