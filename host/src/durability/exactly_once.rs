//! Exactly-once `carrier.create-shipment`.
//!
//! Carriers such as UPS have no idempotency keys, so the host behaves as if they had:
//! 1. an earlier run of the item that has the result (`ok`, `reconciled`) answers;
//! 2. an earlier run whose outcome is in doubt (`started`: the host died mid-call; `unknown`:
//!    a timeout, a trap, `unavailable` or `internal`) is reconciled first: `find-shipments` by
//!    the ERP reference, keep the oldest live booking (by `created-at`, a missing value sorting
//!    last), void the others;
//! 3. otherwise the intent is journaled (and committed) before the carrier is called, so a crash
//!    during the call leaves a `started` step for step 2 to find.

use std::future::Future;

use super::calls::to_json;
use super::{CallLog, Failure, Memo, StepStatus};
use crate::runtime::bindings::types::{CarrierShipment, Error, ShipmentRequest};

/// The journal's operation name for creations (and their reconciliations).
const CREATE: &str = "carrier.create-shipment";

/// The carrier calls exactly-once creation needs: the routed connector in the host
/// ([`crate::capabilities::flow_links`]), a fake in tests.
pub trait CarrierCalls: Sync {
    /// `carrier.create-shipment`.
    fn create_shipment(
        &self,
        request: &ShipmentRequest,
    ) -> impl Future<Output = Result<CarrierShipment, Failure>> + Send;
    /// `carrier.find-shipments`.
    fn find_shipments(
        &self,
        reference: &str,
    ) -> impl Future<Output = Result<Vec<CarrierShipment>, Failure>> + Send;
    /// `carrier.void-shipment`.
    fn void_shipment(&self, shipment_id: &str) -> impl Future<Output = Result<(), Failure>> + Send;
}

/// `carrier.create-shipment` through `carrier` (the connector `callee`), exactly once per
/// idempotency key within the log's work item. Without a work item the call is made and
/// recorded, nothing more.
pub async fn create_exactly_once(
    log: &mut CallLog,
    carrier: &impl CarrierCalls,
    callee: &str,
    request: ShipmentRequest,
) -> Result<CarrierShipment, Error> {
    if log.work().is_none() {
        return log
            .call(callee, CREATE, Memo::Live, to_json(&request), || {
                carrier.create_shipment(&request)
            })
            .await;
    }
    let key = format!("idempotency:{}", request.idempotency_key);
    let earlier = log.earlier(CREATE, &key)?;
    if let Some(done) = log.replay_first(CREATE, &key, &earlier) {
        return Ok(done);
    }
    if earlier.iter().any(|s| s.status.in_doubt()) {
        // An earlier run announced this creation but never learned its outcome: the carrier
        // may have the shipment. Look before creating again.
        if let Some(kept) = reconcile(log, carrier, callee, &key, &request).await? {
            return Ok(kept);
        }
    }
    let step = log.begin(CREATE, &key, callee, &to_json(&request))?;
    match carrier.create_shipment(&request).await {
        Ok(shipment) => {
            log.end(step, StepStatus::Ok, Some(&to_json(&shipment)), None);
            Ok(shipment)
        }
        Err(failure) => {
            let status = if failure.in_doubt {
                StepStatus::Unknown
            } else {
                StepStatus::Error
            };
            log.end(step, status, None, Some(&failure.error.to_string_lossy()));
            Err(failure.error)
        }
    }
}

/// Finds what an interrupted creation left at the carrier. Keeps the oldest live shipment for
/// the reference, voids any others, and journals the decision. `None`: nothing is there.
async fn reconcile(
    log: &mut CallLog,
    carrier: &impl CarrierCalls,
    callee: &str,
    key: &str,
    request: &ShipmentRequest,
) -> Result<Option<CarrierShipment>, Error> {
    let reference = request.reference.as_str();
    let found = log
        .call(
            callee,
            "carrier.find-shipments",
            Memo::Live,
            serde_json::json!({ "reference": reference }),
            || carrier.find_shipments(reference),
        )
        .await?;
    let mut live: Vec<CarrierShipment> = found.into_iter().filter(|s| !s.voided).collect();
    if live.is_empty() {
        return Ok(None);
    }
    // Stable sort: bookings without a creation time keep the carrier's order, after the rest.
    live.sort_by_key(|s| s.created_at.unwrap_or(i64::MAX));
    let kept = live.remove(0);
    for duplicate in live {
        let id = duplicate.shipment_id.as_str();
        tracing::warn!(
            item = ?log.work().map(|w| &w.item_id), kept = %kept.shipment_id, duplicate = %id,
            "a duplicate carrier shipment exists for one ERP shipment; voiding it"
        );
        let step = log.begin(
            "carrier.void-shipment",
            &format!("duplicate:{id}"),
            callee,
            &to_json(&duplicate),
        )?;
        match carrier.void_shipment(id).await {
            Ok(()) => log.end(
                step,
                StepStatus::VoidedDuplicate,
                Some(&serde_json::json!({ "voided": id, "kept": kept.shipment_id })),
                None,
            ),
            Err(failure) => {
                log.end(
                    step,
                    StepStatus::Error,
                    None,
                    Some(&failure.error.to_string_lossy()),
                );
                return Err(failure.error);
            }
        }
    }
    let step = log.begin(CREATE, key, callee, &to_json(request))?;
    log.end(step, StepStatus::Reconciled, Some(&to_json(&kept)), None);
    Ok(Some(kept))
}
