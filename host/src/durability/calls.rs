//! [`CallLog`]: one record per routed call, memoized on retries.

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

use super::{Failure, WorkRef, journal_unavailable};
use crate::clock::SharedClock;
use crate::db::{Exchange, NewStep, StepRecord, StepStatus, Store};
use crate::runtime::bindings::types::Error;

/// How a step is matched against the journal on a retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Memo {
    /// Always executed (reads: the world may have changed since the last run).
    Live,
    /// Answered from the journal when an earlier run succeeded with the same input (writes).
    ByInput,
}

/// Largest output kept in the journal; larger ones (labels) are summarized.
const MAX_JOURNAL_OUTPUT: usize = 64 * 1024;

/// The record of the calls one flow invocation routes to connectors.
///
/// With a work item, each call is a step of it (and [`Memo::ByInput`] calls are answered from
/// an earlier run's step); without one, each call is a `call` exchange. Never both.
pub struct CallLog {
    store: Arc<dyn Store>,
    clock: SharedClock,
    tenant: String,
    caller: String,
    work: Option<WorkRef>,
    /// Position of the next journaled step in this run.
    seq: u32,
}

/// A step begun in the journal and not yet ended.
#[derive(Debug, Clone, Copy)]
pub(super) struct OpenStep(i64);

impl CallLog {
    /// The log of flow `caller` in `tenant`, journaling into `work` when given.
    pub fn new(
        store: Arc<dyn Store>,
        clock: SharedClock,
        tenant: &str,
        caller: &str,
        work: Option<WorkRef>,
    ) -> Self {
        CallLog {
            store,
            clock,
            tenant: tenant.to_owned(),
            caller: caller.to_owned(),
            work,
            seq: 0,
        }
    }

    /// The work item whose steps this log journals, if any.
    pub fn work(&self) -> Option<&WorkRef> {
        self.work.as_ref()
    }

    /// The tenant the calls are made in.
    pub fn tenant(&self) -> &str {
        &self.tenant
    }

    /// The flow making the calls.
    pub fn caller(&self) -> &str {
        &self.caller
    }

    /// Runs `call` against connector `callee` and records it. With a work item and
    /// [`Memo::ByInput`], an earlier successful step with the same input answers instead.
    pub async fn call<R, Fut>(
        &mut self,
        callee: &str,
        op: &'static str,
        memo: Memo,
        input: serde_json::Value,
        call: impl FnOnce() -> Fut,
    ) -> Result<R, Error>
    where
        R: Serialize + DeserializeOwned,
        Fut: Future<Output = Result<R, Failure>>,
    {
        if self.work.is_none() {
            let started = Instant::now();
            let at_ms = self.clock.now_ms();
            let result = call().await.map_err(|f| f.error);
            self.record_call(callee, op, started, at_ms, result.as_ref().err());
            return result;
        }
        let key = match memo {
            Memo::Live => String::new(),
            Memo::ByInput => input_key(&input),
        };
        if memo == Memo::ByInput {
            let earlier = self.earlier(op, &key)?;
            if let Some(value) = self.replay_first(op, &key, &earlier) {
                return Ok(value);
            }
        }
        let step = self.begin(op, &key, callee, &input)?;
        let result = call().await.map_err(|f| f.error);
        match &result {
            Ok(value) => self.end(step, StepStatus::Ok, Some(&journal_output(value)), None),
            Err(e) => self.end(step, StepStatus::Error, None, Some(&e.to_string_lossy())),
        }
        result
    }

    /// Journals a step's start; a journal failure is a retryable error for the flow.
    pub(super) fn begin(
        &mut self,
        op: &str,
        key: &str,
        callee: &str,
        input: &serde_json::Value,
    ) -> Result<OpenStep, Error> {
        let Some(work) = &self.work else {
            return Err(Error::Internal(
                "a step was journaled outside a work item".into(),
            ));
        };
        self.seq += 1;
        self.store
            .step_begin(&NewStep {
                item_id: &work.item_id,
                attempt: work.attempt,
                seq: self.seq,
                operation: op,
                step_key: key,
                callee,
                input,
                started_ms: self.clock.now_ms(),
            })
            .map(OpenStep)
            .map_err(|e| journal_unavailable(&e))
    }

    /// Journals how a step ended. A failure here is logged, not returned: the call has
    /// happened, and a step left `started` is treated as in doubt by the next run.
    pub(super) fn end(
        &self,
        step: OpenStep,
        status: StepStatus,
        output: Option<&serde_json::Value>,
        error: Option<&str>,
    ) {
        if let Err(e) = self
            .store
            .step_end(step.0, status, output, error, self.clock.now_ms())
        {
            tracing::error!(step = step.0, %status, "journal write failed: {e}");
        }
    }

    /// Earlier steps of this item with this operation and key, newest first.
    pub(super) fn earlier(&self, op: &str, key: &str) -> Result<Vec<StepRecord>, Error> {
        let Some(work) = &self.work else {
            return Ok(Vec::new());
        };
        self.store
            .step_lookup(&work.item_id, op, key)
            .map_err(|e| journal_unavailable(&e))
    }

    /// Answers from the newest earlier step that has a result, journaling a `replayed` step.
    /// `None` when no earlier step has a usable result.
    pub(super) fn replay_first<R: DeserializeOwned>(
        &mut self,
        op: &str,
        key: &str,
        earlier: &[StepRecord],
    ) -> Option<R> {
        let done = earlier.iter().find(|s| s.status.has_result())?;
        let output = done.output.clone()?;
        // An output that no longer parses (summarized, or from another contract version) is
        // not an answer: the call runs again.
        let value = serde_json::from_value::<R>(output.clone()).ok()?;
        let callee = done.callee.clone().unwrap_or_default();
        if let Ok(step) = self.begin(op, key, &callee, &done.input) {
            self.end(step, StepStatus::Replayed, Some(&output), None);
        }
        Some(value)
    }

    fn record_call(
        &self,
        callee: &str,
        operation: &str,
        started: Instant,
        at_ms: i64,
        error: Option<&Error>,
    ) {
        let exchange = Exchange {
            at_ms,
            tenant: self.tenant.clone(),
            plugin: self.caller.clone(),
            kind: "call".into(),
            work_item: None,
            operation: operation.to_owned(),
            target: callee.to_owned(),
            status: None,
            outcome: match error {
                None => "ok".into(),
                Some(e) => format!("error: {}", e.to_string_lossy()),
            },
            duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            request: String::new(),
            response: String::new(),
        };
        if let Err(e) = self.store.record_exchange(&exchange) {
            tracing::error!("recording a routed call failed: {e}");
        }
    }
}

/// The memoization key of an input: a short digest of its JSON.
fn input_key(input: &serde_json::Value) -> String {
    hex::encode(&Sha256::digest(input.to_string().as_bytes())[..12])
}

/// A value as JSON for the journal (`null` if it cannot be encoded).
pub fn to_json<T: Serialize>(value: &T) -> serde_json::Value {
    serde_json::to_value(value).unwrap_or(serde_json::Value::Null)
}

/// A step's output as journaled: whole, or summarized past [`MAX_JOURNAL_OUTPUT`].
fn journal_output<T: Serialize>(value: &T) -> serde_json::Value {
    let value = to_json(value);
    let bytes = value.to_string().len();
    if bytes > MAX_JOURNAL_OUTPUT {
        serde_json::json!({ "truncated": true, "bytes": bytes })
    } else {
        value
    }
}
