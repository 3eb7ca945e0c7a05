//! Drives one flow for one tenant: discovery, work items with retries and backoff, the
//! tracking inbox, and upkeep. Talks to plugins only through [`Runtime`]'s domain calls.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use rand::Rng;
use serde::Serialize;
use tokio::task::JoinSet;

use crate::clock::SharedClock;
use crate::db::{ItemState, ItemUpdate, NewItem, Scope, Store, StoreError, WorkItemRecord};
use crate::runtime::domain::{Outcome, Tick, TrackingEvents, Upkeep, WorkItem};
use crate::runtime::{InvokeError, Runtime, WorkRef};

/// Why a run of the runner failed as a whole (individual items fail on their own).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// A plugin call failed.
    #[error("{context}: {source}")]
    Invoke {
        /// What was being done.
        context: String,
        /// The failure.
        #[source]
        source: InvokeError,
    },
    /// The journal failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Retry behaviour for retryable failures.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// First backoff.
    pub base: Duration,
    /// Longest backoff.
    pub max: Duration,
    /// Runs before a retryable failure becomes permanent.
    pub max_attempts: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            base: Duration::from_secs(2),
            max: Duration::from_secs(300),
            max_attempts: 10,
        }
    }
}

impl RetryPolicy {
    /// The delay before run `attempt + 1`: exponential with ±20 % jitter, or the other side's
    /// `retry-after` when it gave one (never less).
    pub fn delay(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        let exp = self
            .base
            .saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1).min(20)));
        let capped = exp.min(self.max);
        let jitter = rand::rng().random_range(0.8..1.2);
        let backoff = capped.mul_f64(jitter);
        match retry_after {
            Some(after) => after.max(self.base.mul_f64(jitter * 0.5)),
            None => backoff,
        }
    }
}

/// What one pass over due work items did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ProcessReport {
    /// Items completed.
    pub completed: u32,
    /// Items held for a person.
    pub held: u32,
    /// Items failed permanently.
    pub failed: u32,
    /// Items scheduled for a retry.
    pub retried: u32,
}

/// What draining the inbox did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct InboxReport {
    /// Deliveries processed.
    pub deliveries: u32,
    /// Events applied to the ERP.
    pub applied: u32,
    /// Events ignored (duplicates, out of order, unknown).
    pub ignored: u32,
    /// Deliveries put back for a retry.
    pub retried: u32,
}

/// Settings of one tenant's flow.
#[derive(Debug, Clone)]
pub struct FlowSettings {
    /// Tenant id.
    pub tenant: String,
    /// Flow plugin id.
    pub flow: String,
    /// The carrier connector that parses webhook deliveries.
    pub carrier: String,
    /// Items processed at once.
    pub concurrency: usize,
    /// Retries.
    pub retry: RetryPolicy,
}

/// Drives one flow for one tenant.
pub struct FlowRunner {
    runtime: Runtime,
    store: Arc<dyn Store>,
    clock: SharedClock,
    settings: FlowSettings,
    /// No new items are claimed before this time (ms): set when the other side rate-limits,
    /// so one 429 slows the whole tenant's outbound work instead of every item hammering on.
    cooldown_until: AtomicI64,
}

impl FlowRunner {
    /// A runner over the runtime's store and clock.
    pub fn new(runtime: Runtime, settings: FlowSettings) -> Arc<Self> {
        let store = runtime.services().store.clone();
        let clock = runtime.services().clock.clone();
        Arc::new(FlowRunner {
            runtime,
            store,
            clock,
            settings,
            cooldown_until: AtomicI64::new(0),
        })
    }

    /// The settings.
    pub fn settings(&self) -> &FlowSettings {
        &self.settings
    }

    /// Counts retries for `/metrics`.
    fn count_retries(&self, what: &'static str, n: u64) {
        self.runtime
            .metrics()
            .observe_retries(&self.settings.tenant, &self.settings.flow, what, n);
    }

    fn tick(&self) -> Tick {
        Tick {
            tenant: self.settings.tenant.clone(),
            now_ms: self.clock.now_ms(),
            run_id: uuid::Uuid::new_v4().to_string(),
        }
    }

    fn invoke_err(context: &str, source: InvokeError) -> RunError {
        RunError::Invoke {
            context: context.to_owned(),
            source,
        }
    }

    /// Asks the flow for new work until it has none, storing items and the flow's cursor
    /// checkpoint in one transaction per batch. Returns how many items were new.
    #[tracing::instrument(name = "flow.discover", skip(self), fields(tenant = %self.settings.tenant, flow = %self.settings.flow))]
    pub async fn discover(&self) -> Result<usize, RunError> {
        let flow = self
            .runtime
            .flow(&self.settings.tenant, &self.settings.flow, None);
        let scope = Scope {
            tenant: self.settings.tenant.clone(),
            plugin: self.settings.flow.clone(),
        };
        let mut new = 0;
        // Bounded: a flow that always says `more` must not spin the scheduler forever.
        for _ in 0..1_000 {
            let discovery = flow
                .discover_work(&self.tick())
                .await
                .map_err(|e| Self::invoke_err("discover", e))?;
            let items: Vec<NewItem> = discovery
                .items
                .iter()
                .map(|item| NewItem {
                    key: item.key.clone(),
                    modified_at_ms: item.modified_at_ms,
                    payload: item.record.clone(),
                })
                .collect();
            let checkpoint = discovery
                .checkpoint
                .as_ref()
                .map(|c| (&scope, c.key.as_str(), c.value.as_slice()));
            new += self.store.accept_discovered(
                &self.settings.tenant,
                &self.settings.flow,
                &items,
                checkpoint,
                self.clock.now_ms(),
            )?;
            if !discovery.more {
                break;
            }
        }
        if new > 0 {
            tracing::info!(new, "discovered work items");
        }
        Ok(new)
    }

    /// Runs every due item, at most `concurrency` at once, until none is due.
    #[tracing::instrument(name = "flow.process-due", skip(self), fields(tenant = %self.settings.tenant, flow = %self.settings.flow))]
    pub async fn process_due(self: &Arc<Self>) -> Result<ProcessReport, RunError> {
        let mut report = ProcessReport::default();
        let mut running: JoinSet<Result<ItemState, RunError>> = JoinSet::new();
        loop {
            let now = self.clock.now_ms();
            let free = self.settings.concurrency.saturating_sub(running.len());
            if free > 0 && now >= self.cooldown_until.load(Ordering::Relaxed) {
                let claimed = self.store.claim_due(
                    &self.settings.tenant,
                    &self.settings.flow,
                    now,
                    u32::try_from(free).unwrap_or(u32::MAX),
                )?;
                for item in claimed {
                    let this = self.clone();
                    running.spawn(async move { this.run_item(item).await });
                }
            }
            let Some(done) = running.join_next().await else {
                break;
            };
            match done {
                Ok(Ok(ItemState::Completed)) => report.completed += 1,
                Ok(Ok(ItemState::Held)) => report.held += 1,
                Ok(Ok(ItemState::Failed)) => report.failed += 1,
                Ok(Ok(_)) => {
                    report.retried += 1;
                    self.count_retries("item", 1);
                }
                Ok(Err(e)) => tracing::error!("work item run failed: {e}"),
                Err(join) => tracing::error!("work item task failed: {join}"),
            }
        }
        Ok(report)
    }

    async fn run_item(&self, item: WorkItemRecord) -> Result<ItemState, RunError> {
        let now = || self.clock.now_ms();
        let Some(payload) = item.payload.clone() else {
            let update = failed(
                item.last_error
                    .clone()
                    .unwrap_or_else(|| "no shipment data".into()),
            );
            self.store.finish_item(&item.id, &update, now())?;
            return Ok(ItemState::Failed);
        };
        let work = WorkRef {
            item_id: item.id.clone(),
            attempt: item.attempt,
        };
        let work_item = WorkItem {
            id: item.id.clone(),
            key: item.key.clone(),
            attempt: item.attempt,
            record: payload,
        };
        let span = tracing::info_span!("work-item", item = %item.id, key = %item.key, attempt = item.attempt);
        let result = match tracing::Instrument::instrument(
            self.runtime
                .flow(&self.settings.tenant, &self.settings.flow, Some(work))
                .process_work(&work_item),
            span,
        )
        .await
        {
            Ok(result) => result,
            Err(unreadable) => {
                self.store
                    .finish_item(&item.id, &failed(unreadable.to_string()), now())?;
                return Ok(ItemState::Failed);
            }
        };
        let (state, update) = match result {
            Ok(Outcome::Completed(summary)) => (
                ItemState::Completed,
                ItemUpdate {
                    state: ItemState::Completed,
                    next_at_ms: 0,
                    last_error: None,
                    hold: None,
                    summary: Some(summary),
                },
            ),
            Ok(Outcome::Held(hold)) => (
                ItemState::Held,
                ItemUpdate {
                    state: ItemState::Held,
                    next_at_ms: 0,
                    last_error: Some(format!("held at {}: {}", hold.step, hold.reason)),
                    hold: Some(hold.detail),
                    summary: None,
                },
            ),
            Err(e) if e.is_retryable() && item.attempt < self.settings.retry.max_attempts => {
                let delay = self.settings.retry.delay(item.attempt, e.retry_after());
                let next = now() + i64::try_from(delay.as_millis()).unwrap_or(i64::MAX / 2);
                if e.is_rate_limited() {
                    self.cooldown_until.fetch_max(next, Ordering::Relaxed);
                }
                tracing::info!(item = %item.id, attempt = item.attempt, delay_ms = delay.as_millis(), "retryable failure: {e}");
                (
                    ItemState::Retry,
                    ItemUpdate {
                        state: ItemState::Retry,
                        next_at_ms: next,
                        last_error: Some(e.describe()),
                        hold: None,
                        summary: None,
                    },
                )
            }
            Err(e) => {
                tracing::warn!(item = %item.id, attempt = item.attempt, "work item failed: {e}");
                (ItemState::Failed, failed(e.describe()))
            }
        };
        self.store.finish_item(&item.id, &update, now())?;
        Ok(state)
    }

    /// Periodic upkeep: subscriptions, renewals, polling.
    #[tracing::instrument(name = "flow.maintain", skip(self), fields(tenant = %self.settings.tenant, flow = %self.settings.flow))]
    pub async fn maintain(&self) -> Result<Upkeep, RunError> {
        self.runtime
            .flow(&self.settings.tenant, &self.settings.flow, None)
            .upkeep(&self.tick())
            .await
            .map_err(|e| Self::invoke_err("maintain", e))
    }

    /// Processes due webhook deliveries: the carrier connector parses each, the flow applies the
    /// events of the batch. A retryable failure puts the whole batch back.
    #[tracing::instrument(name = "flow.drain-inbox", skip(self), fields(tenant = %self.settings.tenant, flow = %self.settings.flow))]
    pub async fn drain_inbox(&self) -> Result<InboxReport, RunError> {
        let mut report = InboxReport::default();
        loop {
            let now = self.clock.now_ms();
            let entries = self.store.inbox_claim(&self.settings.tenant, now, 100)?;
            if entries.is_empty() {
                return Ok(report);
            }
            let carrier = self
                .runtime
                .carrier(&self.settings.tenant, &self.settings.carrier);
            let mut events = TrackingEvents::default();
            let mut parsed = Vec::new();
            for entry in &entries {
                match carrier.parse_webhook(&entry.body).await {
                    Ok(evs) => {
                        events.extend(evs);
                        parsed.push(entry.id);
                    }
                    Err(e) if e.is_retryable() => {
                        let next = now + self.retry_ms(entry.attempts);
                        self.store
                            .inbox_finish(entry.id, "pending", Some(&e.describe()), next)?;
                        report.retried += 1;
                        self.count_retries("inbox", 1);
                    }
                    Err(e) => {
                        tracing::warn!(
                            delivery = entry.id,
                            "webhook delivery cannot be parsed: {e}"
                        );
                        self.store
                            .inbox_finish(entry.id, "failed", Some(&e.describe()), 0)?;
                    }
                }
            }
            if parsed.is_empty() {
                continue;
            }
            let result = self
                .runtime
                .flow(&self.settings.tenant, &self.settings.flow, None)
                .apply_tracking(&self.tick(), &events)
                .await;
            match result {
                Ok(r) => {
                    for id in &parsed {
                        self.store.inbox_finish(*id, "done", None, 0)?;
                    }
                    report.deliveries += u32::try_from(parsed.len()).unwrap_or(u32::MAX);
                    report.applied += r.applied;
                    report.ignored += r.ignored;
                }
                Err(e) => {
                    // Redeliver: the flow updates its own state only after the ERP write, so
                    // applying the batch again is safe.
                    let attempts = entries.iter().map(|e| e.attempts).max().unwrap_or(1);
                    let next = now + self.retry_ms(attempts);
                    tracing::info!("tracking batch will be retried: {e}");
                    for id in &parsed {
                        self.store
                            .inbox_finish(*id, "pending", Some(&e.describe()), next)?;
                    }
                    report.retried += u32::try_from(parsed.len()).unwrap_or(u32::MAX);
                    self.count_retries("inbox", parsed.len() as u64);
                    return Ok(report);
                }
            }
        }
    }

    fn retry_ms(&self, attempts: u32) -> i64 {
        i64::try_from(self.settings.retry.delay(attempts, None).as_millis()).unwrap_or(i64::MAX / 2)
    }

    /// When the next item is due (ms), if any.
    pub fn next_due(&self) -> Result<Option<i64>, StoreError> {
        let due = self
            .store
            .next_due(&self.settings.tenant, &self.settings.flow)?;
        Ok(due.map(|d| d.max(self.cooldown_until.load(Ordering::Relaxed))))
    }
}

fn failed(reason: String) -> ItemUpdate {
    ItemUpdate {
        state: ItemState::Failed,
        next_at_ms: 0,
        last_error: Some(reason),
        hold: None,
        summary: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_caps_and_honours_retry_after() {
        let p = RetryPolicy {
            base: Duration::from_secs(1),
            max: Duration::from_secs(60),
            max_attempts: 5,
        };
        let d1 = p.delay(1, None);
        let d4 = p.delay(4, None);
        assert!(
            d1 >= Duration::from_millis(800) && d1 <= Duration::from_millis(1200),
            "{d1:?}"
        );
        assert!(
            d4 >= Duration::from_millis(6400) && d4 <= Duration::from_millis(9600),
            "{d4:?}"
        );
        assert!(p.delay(30, None) <= Duration::from_secs(72));
        assert_eq!(
            p.delay(1, Some(Duration::from_secs(30))),
            Duration::from_secs(30)
        );
    }
}
