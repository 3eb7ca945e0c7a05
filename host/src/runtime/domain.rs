//! The host's own types for what crosses the contract, with `From` impls to and from the
//! generated ones — kept next to `bindings.rs`, so the scheduler and the journal never see a
//! generated type, and a second contract version only adds conversions here (Zed keeps its
//! extension API versions this way).
//!
//! Records the host stores but does not interpret (the discovered shipment, a hold's details,
//! a batch of tracking events) travel as JSON or as opaque values; the host reads only what it
//! acts on.

use std::time::Duration;

use serde::Serialize;

use super::bindings::flow;
use super::bindings::types::{Error as WitError, Shipment, TrackingEvent};
use super::invoke::{FlowClient, InvokeError};

/// The context of one flow invocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tick {
    /// The tenant it runs for.
    pub tenant: String,
    /// The host's time, ms since the epoch.
    pub now_ms: i64,
    /// The run's id, for logs.
    pub run_id: String,
}

impl From<&Tick> for flow::Tick {
    fn from(t: &Tick) -> Self {
        flow::Tick {
            tenant: t.tenant.clone(),
            now: t.now_ms,
            run_id: t.run_id.clone(),
        }
    }
}

/// One record a discovery found.
#[derive(Debug, Clone, PartialEq)]
pub struct Discovered {
    /// The business key (the ERP shipment id).
    pub key: String,
    /// The ERP's modification time, ms.
    pub modified_at_ms: i64,
    /// The record as the flow mapped it (stored as the work item's payload), or why it could
    /// not be mapped (the item starts failed).
    pub record: Result<serde_json::Value, String>,
}

/// A cursor update to commit with the discovered items.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The key in the flow's storage.
    pub key: String,
    /// The new value.
    pub value: Vec<u8>,
}

/// What one `discover` call returned.
#[derive(Debug, Clone, PartialEq)]
pub struct Discovery {
    /// Records found.
    pub items: Vec<Discovered>,
    /// The cursor update, if any.
    pub checkpoint: Option<Checkpoint>,
    /// More work is waiting: call again at once.
    pub more: bool,
}

impl From<flow::Discovery> for Discovery {
    fn from(d: flow::Discovery) -> Self {
        Discovery {
            items: d
                .items
                .into_iter()
                .map(|item| Discovered {
                    key: item.erp_id,
                    modified_at_ms: item.modified_at,
                    record: match item.shipment {
                        Ok(shipment) => serde_json::to_value(&shipment).map_err(|e| e.to_string()),
                        Err(e) => Err(e.to_string_lossy()),
                    },
                })
                .collect(),
            checkpoint: d.checkpoint.map(|c| Checkpoint {
                key: c.key,
                value: c.value,
            }),
            more: d.more,
        }
    }
}

/// A work item to run, with its stored record.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkItem {
    /// The host's id.
    pub id: String,
    /// The business key.
    pub key: String,
    /// The run number.
    pub attempt: u32,
    /// The record stored at discovery.
    pub record: serde_json::Value,
}

/// Why a work item cannot even be handed to its flow.
#[derive(Debug, thiserror::Error)]
#[error("stored shipment is unreadable: {0}")]
pub struct UnreadableRecord(#[from] serde_json::Error);

impl TryFrom<&WorkItem> for flow::WorkItem {
    type Error = UnreadableRecord;
    fn try_from(item: &WorkItem) -> Result<Self, UnreadableRecord> {
        let shipment: Shipment = serde_json::from_value(item.record.clone())?;
        Ok(flow::WorkItem {
            id: item.id.clone(),
            key: item.key.clone(),
            attempt: item.attempt,
            shipment,
        })
    }
}

/// How a work item run ended, as the flow reported it.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Done; the summary (e.g. the tracking numbers).
    Completed(String),
    /// Needs a person.
    Held(Hold),
}

/// Why an item is held.
#[derive(Debug, Clone, PartialEq)]
pub struct Hold {
    /// The step that could not proceed.
    pub step: String,
    /// What the operator must do.
    pub reason: String,
    /// The whole hold as the flow gave it (candidate addresses included), for operators.
    pub detail: serde_json::Value,
}

impl From<flow::Outcome> for Outcome {
    fn from(o: flow::Outcome) -> Self {
        match o {
            flow::Outcome::Completed(summary) => Outcome::Completed(summary),
            flow::Outcome::Held(hold) => Outcome::Held(Hold {
                detail: serde_json::to_value(&hold).unwrap_or(serde_json::Value::Null),
                step: hold.step,
                reason: hold.reason,
            }),
        }
    }
}

/// What `maintain` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Upkeep {
    /// Tracking numbers newly subscribed or renewed.
    pub subscribed: u32,
    /// Tracking numbers the carrier refused.
    pub refused: u32,
    /// Tracking events found by polling and applied.
    pub polled_events: u32,
}

impl From<flow::Upkeep> for Upkeep {
    fn from(u: flow::Upkeep) -> Self {
        Upkeep {
            subscribed: u.subscribed,
            refused: u.refused,
            polled_events: u.polled_events,
        }
    }
}

/// Tracking events a carrier parsed, on their way to a flow. Opaque: the host passes them on.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TrackingEvents(pub(crate) Vec<TrackingEvent>);

impl TrackingEvents {
    /// Appends another batch.
    pub fn extend(&mut self, more: TrackingEvents) {
        self.0.extend(more.0);
    }

    /// How many events.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// What `handle-tracking` did with a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TrackingReport {
    /// Events written to the ERP.
    pub applied: u32,
    /// Events ignored (duplicates, out of order, unknown numbers).
    pub ignored: u32,
}

impl InvokeError {
    /// How long the plugin asked to wait, when it said `rate-limited` or `unavailable` with a
    /// retry-after.
    pub fn retry_after(&self) -> Option<Duration> {
        match self.plugin_error() {
            Some(WitError::RateLimited(r) | WitError::Unavailable(r)) => {
                r.retry_after_ms.map(Duration::from_millis)
            }
            _ => None,
        }
    }

    /// Whether the plugin said its partner is rate-limiting (the whole flow should back off).
    pub fn is_rate_limited(&self) -> bool {
        matches!(self.plugin_error(), Some(WitError::RateLimited(_)))
    }

    /// One line for operators: the plugin's error value, or the failure to run it.
    pub fn describe(&self) -> String {
        match self.plugin_error() {
            Some(w) => w.to_string_lossy(),
            None => self.to_string(),
        }
    }
}

impl FlowClient {
    /// `flow.discover`, in the host's types.
    pub async fn discover_work(&self, tick: &Tick) -> Result<Discovery, InvokeError> {
        self.discover(&tick.into()).await.map(Discovery::from)
    }

    /// `flow.process` of a stored work item. `Ok(Err(_))`: the stored record no longer reads
    /// as a shipment, and the flow was not called.
    pub async fn process_work(
        &self,
        item: &WorkItem,
    ) -> Result<Result<Outcome, InvokeError>, UnreadableRecord> {
        let item = flow::WorkItem::try_from(item)?;
        Ok(self.process(&item).await.map(Outcome::from))
    }

    /// `flow.maintain`, in the host's types.
    pub async fn upkeep(&self, tick: &Tick) -> Result<Upkeep, InvokeError> {
        self.maintain(&tick.into()).await.map(Upkeep::from)
    }

    /// `flow.handle-tracking` of events a carrier parsed.
    pub async fn apply_tracking(
        &self,
        tick: &Tick,
        events: &TrackingEvents,
    ) -> Result<TrackingReport, InvokeError> {
        self.handle_tracking(&tick.into(), &events.0)
            .await
            .map(|r| TrackingReport {
                applied: r.applied,
                ignored: r.ignored,
            })
    }
}

impl super::invoke::CarrierClient {
    /// `carrier.parse-tracking-webhook`, for the inbox.
    pub async fn parse_webhook(&self, body: &[u8]) -> Result<TrackingEvents, InvokeError> {
        self.parse_tracking_webhook(body).await.map(TrackingEvents)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::bindings::types::RetryInfo;

    #[test]
    fn retry_hints_come_from_the_plugins_error_value() {
        let limited = InvokeError::Plugin {
            plugin: "ups".into(),
            error: WitError::RateLimited(RetryInfo {
                message: "slow down".into(),
                retry_after_ms: Some(1500),
            }),
        };
        assert_eq!(limited.retry_after(), Some(Duration::from_millis(1500)));
        assert!(limited.is_rate_limited());
        assert_eq!(
            limited.describe(),
            "rate-limited (retry after 1500 ms): slow down"
        );
        let timeout = InvokeError::Timeout {
            plugin: "ups".into(),
            ms: 5,
        };
        assert_eq!(timeout.retry_after(), None);
        assert!(!timeout.is_rate_limited());
        assert_eq!(timeout.describe(), "plugin `ups` timed out after 5 ms");
    }

    #[test]
    fn an_unreadable_record_is_refused_before_the_flow() {
        let item = WorkItem {
            id: "i".into(),
            key: "k".into(),
            attempt: 1,
            record: serde_json::json!({ "not": "a shipment" }),
        };
        assert!(flow::WorkItem::try_from(&item).is_err());
    }
}
