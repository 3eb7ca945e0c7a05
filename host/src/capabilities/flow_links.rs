//! `mlc:connect/erp` and `mlc:connect/carrier` as a flow imports them, and the journal.
//!
//! A flow never reaches a connector directly: each call lands here, and the host calls the
//! connector bound to the flow's tenant (the binding's `links`) in a fresh store of its own,
//! with the connector's own grants. So every cross-plugin call passes the host, where it is
//! timed, limited and recorded, and a trapping connector fails only that call: the flow gets an
//! error value and carries on.
//!
//! When the flow runs a work item, every call is also journaled as a step of that item (input,
//! output or error, timing, attempt). Retries and replays re-run the flow from the top, so:
//! - reads (`get-shipment`, `validate-address`, `rate-shipment`, …) run live again — an
//!   operator's fix in the ERP is seen;
//! - writes (`record-*`, `subscribe-tracking`, `void-shipment`) that already succeeded with the
//!   same input are answered from the journal instead of being repeated;
//! - `create-shipment` is exactly-once: the intent is journaled (and committed) before the
//!   carrier is called; when a later run finds an intent without a result, it reconciles with
//!   `find-shipments` before creating anything, and voids extra live shipments if one slipped
//!   through.

use std::future::Future;
use std::time::Instant;

use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

use crate::db::{Exchange, StepRecord};
use crate::runtime::InvokeError;
use crate::runtime::bindings::flow_imports::{carrier, erp};
use crate::runtime::bindings::types::{
    Address, AddressValidation, CarrierShipment, Error, FreightCharge, FreightOutcome, Label, Rate,
    RateRequest, ReadyPage, RetryInfo, Shipment, ShipmentRequest, SubscriptionResult,
    TrackingEvent, TrackingPoll,
};
use crate::runtime::state::{HostState, WorkRef};

/// Maps a failed routed call to the error value the flow receives.
pub(crate) fn routed_error(e: InvokeError) -> Error {
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

/// Whether a failed create may nevertheless have created the shipment at the carrier.
fn outcome_unknown(e: &InvokeError) -> bool {
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

/// How a step is matched against the journal on a retry.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Memo {
    /// Always executed (reads).
    Live,
    /// Answered from the journal when an earlier run succeeded with the same input.
    ByInput,
}

/// Largest output kept in the journal; larger ones (labels) are summarized.
const MAX_JOURNAL_OUTPUT: usize = 64 * 1024;

fn input_key(input: &serde_json::Value) -> String {
    hex::encode(&Sha256::digest(input.to_string().as_bytes())[..12])
}

fn to_json<T: Serialize>(value: &T) -> serde_json::Value {
    serde_json::to_value(value).unwrap_or(serde_json::Value::Null)
}

fn journal_output(value: &serde_json::Value) -> serde_json::Value {
    let text = value.to_string();
    if text.len() > MAX_JOURNAL_OUTPUT {
        serde_json::json!({ "truncated": true, "bytes": text.len() })
    } else {
        value.clone()
    }
}

impl HostState {
    fn linked(&self, interface: &str) -> Result<String, Error> {
        self.inv
            .binding
            .links
            .get(interface)
            .cloned()
            .ok_or_else(|| {
                Error::Denied(format!(
                    "no {interface} connector is linked to flow `{}` in tenant `{}`",
                    self.inv.plugin, self.inv.tenant
                ))
            })
    }

    fn now_ms(&self) -> i64 {
        self.rt.services.clock.now_ms()
    }

    fn record_call(
        &self,
        callee: &str,
        operation: &str,
        started: Instant,
        at_ms: i64,
        error: Option<String>,
    ) {
        let exchange = Exchange {
            at_ms,
            tenant: self.inv.tenant.clone(),
            plugin: self.inv.plugin.clone(),
            kind: "call".into(),
            work_item: self.inv.work.as_ref().map(|w| w.item_id.clone()),
            operation: operation.to_owned(),
            target: callee.to_owned(),
            status: None,
            outcome: match error {
                None => "ok".into(),
                Some(e) => format!("error: {e}"),
            },
            duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            request: String::new(),
            response: String::new(),
        };
        if let Err(e) = self.rt.services.store.record_exchange(&exchange) {
            tracing::error!("recording a routed call failed: {e}");
        }
    }

    fn next_seq(&mut self) -> u32 {
        self.step_seq += 1;
        self.step_seq
    }

    /// Journals a step's start; a journal failure is a retryable error for the flow (nothing
    /// may happen that the journal does not know about).
    fn begin_step(
        &mut self,
        work: &WorkRef,
        op: &str,
        key: &str,
        input: &serde_json::Value,
    ) -> Result<i64, Error> {
        let seq = self.next_seq();
        let now = self.now_ms();
        self.rt
            .services
            .store
            .step_begin(&work.item_id, work.attempt, seq, op, key, input, now)
            .map_err(|e| {
                tracing::error!("journal write failed: {e}");
                Error::Unavailable(RetryInfo {
                    message: "the host journal is unavailable".into(),
                    retry_after_ms: None,
                })
            })
    }

    fn end_step(
        &self,
        step: i64,
        status: &str,
        output: Option<&serde_json::Value>,
        error: Option<&str>,
    ) {
        if let Err(e) = self
            .rt
            .services
            .store
            .step_end(step, status, output, error, self.now_ms())
        {
            tracing::error!("journal write failed: {e}");
        }
    }

    fn earlier_steps(&self, work: &WorkRef, op: &str, key: &str) -> Result<Vec<StepRecord>, Error> {
        self.rt
            .services
            .store
            .step_lookup(&work.item_id, op, key)
            .map_err(|e| {
                tracing::error!("journal read failed: {e}");
                Error::Unavailable(RetryInfo {
                    message: "the host journal is unavailable".into(),
                    retry_after_ms: None,
                })
            })
    }

    /// Journals a step whose result comes from an earlier run.
    fn replayed<R: DeserializeOwned>(
        &mut self,
        work: &WorkRef,
        op: &str,
        key: &str,
        earlier: &StepRecord,
    ) -> Option<R> {
        let output = earlier.output.clone()?;
        let value = serde_json::from_value::<R>(output.clone()).ok()?;
        if let Ok(step) = self.begin_step(work, op, key, &earlier.input) {
            self.end_step(step, "replayed", Some(&output), None);
        }
        Some(value)
    }

    /// Calls a linked connector, journaling the call as a step when running a work item.
    async fn journaled<R, Fut>(
        &mut self,
        callee: &str,
        op: &'static str,
        memo: Memo,
        input: serde_json::Value,
        call: impl FnOnce() -> Fut,
    ) -> Result<R, Error>
    where
        R: Serialize + DeserializeOwned,
        Fut: Future<Output = Result<R, InvokeError>>,
    {
        let started = Instant::now();
        let at_ms = self.now_ms();
        let Some(work) = self.inv.work.clone() else {
            let result = call().await.map_err(routed_error);
            self.record_call(
                callee,
                op,
                started,
                at_ms,
                result.as_ref().err().map(Error::to_string_lossy),
            );
            return result;
        };
        let key = match memo {
            Memo::Live => String::new(),
            Memo::ByInput => input_key(&input),
        };
        if memo == Memo::ByInput {
            let earlier = self.earlier_steps(&work, op, &key)?;
            if let Some(done) = earlier.iter().find(|s| s.status == "ok")
                && let Some(value) = self.replayed(&work, op, &key, done)
            {
                return Ok(value);
            }
        }
        let step = self.begin_step(&work, op, &key, &input)?;
        let result = call().await.map_err(routed_error);
        match &result {
            Ok(value) => self.end_step(step, "ok", Some(&journal_output(&to_json(value))), None),
            Err(e) => self.end_step(step, "error", None, Some(&e.to_string_lossy())),
        }
        self.record_call(
            callee,
            op,
            started,
            at_ms,
            result.as_ref().err().map(Error::to_string_lossy),
        );
        result
    }

    /// `carrier.create-shipment`, exactly once per idempotency key within a work item.
    async fn create_exactly_once(
        &mut self,
        callee: String,
        request: ShipmentRequest,
    ) -> Result<CarrierShipment, Error> {
        const OP: &str = "carrier.create-shipment";
        let client = self
            .rt
            .carrier_client(&self.inv.tenant, &callee, self.inv.work.clone());
        let Some(work) = self.inv.work.clone() else {
            return self
                .journaled(&callee, OP, Memo::Live, to_json(&request), || async move {
                    client.create_shipment(&request).await
                })
                .await;
        };
        let key = format!("idempotency:{}", request.idempotency_key);
        let earlier = self.earlier_steps(&work, OP, &key)?;
        if let Some(done) = earlier
            .iter()
            .find(|s| s.status == "ok" || s.status == "reconciled")
            && let Some(value) = self.replayed(&work, OP, &key, done)
        {
            return Ok(value);
        }
        if earlier
            .iter()
            .any(|s| s.status == "started" || s.status == "unknown")
        {
            // An earlier run announced this creation but never learned its outcome (crash,
            // timeout): the carrier may have the shipment. Look before creating again.
            if let Some(kept) = self.reconcile(&callee, &work, &key, &request).await? {
                return Ok(kept);
            }
        }
        let input = to_json(&request);
        let step = self.begin_step(&work, OP, &key, &input)?;
        let started = Instant::now();
        let at_ms = self.now_ms();
        let result = client.create_shipment(&request).await;
        match &result {
            Ok(shipment) => self.end_step(step, "ok", Some(&to_json(shipment)), None),
            Err(e) => {
                let status = if outcome_unknown(e) {
                    "unknown"
                } else {
                    "error"
                };
                self.end_step(step, status, None, Some(&e.to_string()));
            }
        }
        let result = result.map_err(routed_error);
        self.record_call(
            &callee,
            OP,
            started,
            at_ms,
            result.as_ref().err().map(Error::to_string_lossy),
        );
        result
    }

    /// Finds what an interrupted creation left at the carrier. Keeps the oldest live shipment
    /// for the reference, voids any others, and journals the decision. `None`: nothing there.
    async fn reconcile(
        &mut self,
        callee: &str,
        work: &WorkRef,
        key: &str,
        request: &ShipmentRequest,
    ) -> Result<Option<CarrierShipment>, Error> {
        let client = self
            .rt
            .carrier_client(&self.inv.tenant, callee, self.inv.work.clone());
        let reference = request.reference.clone();
        let found = self
            .journaled(
                callee,
                "carrier.find-shipments",
                Memo::Live,
                serde_json::json!({ "reference": reference }),
                || {
                    let client = client.clone();
                    let reference = reference.clone();
                    async move { client.find_shipments(&reference).await }
                },
            )
            .await?;
        let mut live: Vec<CarrierShipment> = found.into_iter().filter(|s| !s.voided).collect();
        if live.is_empty() {
            return Ok(None);
        }
        live.sort_by_key(|s| s.created_at.unwrap_or(i64::MAX));
        let kept = live.remove(0);
        for duplicate in live {
            tracing::warn!(
                tenant = %self.inv.tenant, item = %work.item_id, kept = %kept.shipment_id, duplicate = %duplicate.shipment_id,
                "a duplicate carrier shipment exists for one ERP shipment; voiding it"
            );
            let id = duplicate.shipment_id.clone();
            let step = self.begin_step(
                work,
                "carrier.void-shipment",
                &format!("duplicate:{id}"),
                &to_json(&duplicate),
            )?;
            match client.void_shipment(&id).await {
                Ok(()) => self.end_step(
                    step,
                    "voided-duplicate",
                    Some(&serde_json::json!({ "voided": id, "kept": kept.shipment_id })),
                    None,
                ),
                Err(e) => {
                    self.end_step(step, "error", None, Some(&e.to_string()));
                    return Err(routed_error(e));
                }
            }
        }
        let step = self.begin_step(work, "carrier.create-shipment", key, &to_json(request))?;
        self.end_step(step, "reconciled", Some(&to_json(&kept)), None);
        Ok(Some(kept))
    }
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

/// Routes one call: resolve the linked connector, call it (journaled), map errors.
macro_rules! route {
    ($self:ident, $iface:literal, $op:literal, $memo:expr, $input:expr, $client:ident, |$c:ident| $call:expr) => {{
        let callee = match $self.linked($iface) {
            Ok(callee) => callee,
            Err(e) => return Ok(Err(e)),
        };
        let $c = $self
            .rt
            .$client(&$self.inv.tenant, &callee, $self.inv.work.clone());
        let input = $input;
        Ok($self
            .journaled(
                &callee,
                $op,
                $memo,
                input,
                move || async move { $call.await },
            )
            .await)
    }};
}

impl erp::Host for HostState {
    #[tracing::instrument(name = "mlc.connect.erp.list-ready-shipments", skip(self))]
    async fn list_ready_shipments(
        &mut self,
        cursor: Option<String>,
        page: Option<String>,
    ) -> wasmtime::Result<Result<ReadyPage, Error>> {
        let input = serde_json::json!({ "cursor": cursor, "page": page });
        route!(
            self,
            "erp",
            "erp.list-ready-shipments",
            Memo::Live,
            input,
            erp_client,
            |c| c.list_ready_shipments(cursor, page)
        )
    }

    #[tracing::instrument(name = "mlc.connect.erp.get-shipment", skip(self))]
    async fn get_shipment(&mut self, erp_id: String) -> wasmtime::Result<Result<Shipment, Error>> {
        let input = serde_json::json!({ "erp-id": erp_id });
        route!(
            self,
            "erp",
            "erp.get-shipment",
            Memo::Live,
            input,
            erp_client,
            |c| c.get_shipment(&erp_id)
        )
    }

    #[tracing::instrument(name = "mlc.connect.erp.record-carrier-shipment", skip(self, shipment))]
    async fn record_carrier_shipment(
        &mut self,
        erp_id: String,
        shipment: CarrierShipment,
    ) -> wasmtime::Result<Result<(), Error>> {
        let input = serde_json::json!({ "erp-id": erp_id, "shipment": to_json(&shipment) });
        route!(
            self,
            "erp",
            "erp.record-carrier-shipment",
            Memo::ByInput,
            input,
            erp_client,
            |c| c.record_carrier_shipment(&erp_id, &shipment)
        )
    }

    #[tracing::instrument(name = "mlc.connect.erp.record-freight-cost", skip(self, charge))]
    async fn record_freight_cost(
        &mut self,
        charge: FreightCharge,
    ) -> wasmtime::Result<Result<FreightOutcome, Error>> {
        let input = to_json(&charge);
        route!(
            self,
            "erp",
            "erp.record-freight-cost",
            Memo::ByInput,
            input,
            erp_client,
            |c| c.record_freight_cost(&charge)
        )
    }

    #[tracing::instrument(name = "mlc.connect.erp.record-tracking", skip(self, event))]
    async fn record_tracking(
        &mut self,
        erp_id: String,
        event: TrackingEvent,
    ) -> wasmtime::Result<Result<(), Error>> {
        let input = serde_json::json!({ "erp-id": erp_id, "event": to_json(&event) });
        route!(
            self,
            "erp",
            "erp.record-tracking",
            Memo::ByInput,
            input,
            erp_client,
            |c| c.record_tracking(&erp_id, &event)
        )
    }
}

impl carrier::Host for HostState {
    #[tracing::instrument(name = "mlc.connect.carrier.validate-address", skip(self, address))]
    async fn validate_address(
        &mut self,
        address: Address,
    ) -> wasmtime::Result<Result<AddressValidation, Error>> {
        let input = to_json(&address);
        route!(
            self,
            "carrier",
            "carrier.validate-address",
            Memo::Live,
            input,
            carrier_client,
            |c| c.validate_address(&address)
        )
    }

    #[tracing::instrument(name = "mlc.connect.carrier.rate-shipment", skip(self, request))]
    async fn rate_shipment(
        &mut self,
        request: RateRequest,
    ) -> wasmtime::Result<Result<Vec<Rate>, Error>> {
        let input = to_json(&request);
        route!(
            self,
            "carrier",
            "carrier.rate-shipment",
            Memo::Live,
            input,
            carrier_client,
            |c| c.rate_shipment(&request)
        )
    }

    #[tracing::instrument(name = "mlc.connect.carrier.create-shipment", skip(self, request))]
    async fn create_shipment(
        &mut self,
        request: ShipmentRequest,
    ) -> wasmtime::Result<Result<CarrierShipment, Error>> {
        let callee = match self.linked("carrier") {
            Ok(callee) => callee,
            Err(e) => return Ok(Err(e)),
        };
        Ok(self.create_exactly_once(callee, request).await)
    }

    #[tracing::instrument(name = "mlc.connect.carrier.find-shipments", skip(self))]
    async fn find_shipments(
        &mut self,
        reference: String,
    ) -> wasmtime::Result<Result<Vec<CarrierShipment>, Error>> {
        let input = serde_json::json!({ "reference": reference });
        route!(
            self,
            "carrier",
            "carrier.find-shipments",
            Memo::Live,
            input,
            carrier_client,
            |c| c.find_shipments(&reference)
        )
    }

    #[tracing::instrument(name = "mlc.connect.carrier.void-shipment", skip(self))]
    async fn void_shipment(&mut self, shipment_id: String) -> wasmtime::Result<Result<(), Error>> {
        let input = serde_json::json!({ "shipment-id": shipment_id });
        route!(
            self,
            "carrier",
            "carrier.void-shipment",
            Memo::ByInput,
            input,
            carrier_client,
            |c| c.void_shipment(&shipment_id)
        )
    }

    #[tracing::instrument(name = "mlc.connect.carrier.get-label", skip(self))]
    async fn get_label(
        &mut self,
        tracking_number: String,
    ) -> wasmtime::Result<Result<Label, Error>> {
        let input = serde_json::json!({ "tracking-number": tracking_number });
        route!(
            self,
            "carrier",
            "carrier.get-label",
            Memo::Live,
            input,
            carrier_client,
            |c| c.get_label(&tracking_number)
        )
    }

    #[tracing::instrument(name = "mlc.connect.carrier.subscribe-tracking", skip(self, tracking_numbers), fields(count = tracking_numbers.len()))]
    async fn subscribe_tracking(
        &mut self,
        tracking_numbers: Vec<String>,
    ) -> wasmtime::Result<Result<SubscriptionResult, Error>> {
        let input = to_json(&tracking_numbers);
        route!(
            self,
            "carrier",
            "carrier.subscribe-tracking",
            Memo::Live,
            input,
            carrier_client,
            |c| c.subscribe_tracking(&tracking_numbers)
        )
    }

    #[tracing::instrument(name = "mlc.connect.carrier.poll-tracking", skip(self))]
    async fn poll_tracking(
        &mut self,
        bookmark: Option<String>,
    ) -> wasmtime::Result<Result<TrackingPoll, Error>> {
        let input = serde_json::json!({ "bookmark": bookmark });
        route!(
            self,
            "carrier",
            "carrier.poll-tracking",
            Memo::Live,
            input,
            carrier_client,
            |c| c.poll_tracking(bookmark)
        )
    }

    #[tracing::instrument(name = "mlc.connect.carrier.track", skip(self))]
    async fn track(
        &mut self,
        tracking_number: String,
    ) -> wasmtime::Result<Result<Vec<TrackingEvent>, Error>> {
        let input = serde_json::json!({ "tracking-number": tracking_number });
        route!(
            self,
            "carrier",
            "carrier.track",
            Memo::Live,
            input,
            carrier_client,
            |c| c.track(&tracking_number)
        )
    }

    #[tracing::instrument(name = "mlc.connect.carrier.parse-tracking-webhook", skip(self, body), fields(bytes = body.len()))]
    async fn parse_tracking_webhook(
        &mut self,
        body: Vec<u8>,
    ) -> wasmtime::Result<Result<Vec<TrackingEvent>, Error>> {
        let input = serde_json::json!({ "bytes": body.len() });
        route!(
            self,
            "carrier",
            "carrier.parse-tracking-webhook",
            Memo::Live,
            input,
            carrier_client,
            |c| c.parse_tracking_webhook(&body)
        )
    }
}
