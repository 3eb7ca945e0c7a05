//! The scheduler loop of one tenant flow: discovery on its schedule (interval or cron, with
//! jitter), due work items, the webhook inbox, and upkeep — one loop per tenant flow, so runs
//! of the same flow for the same tenant never overlap, and a slow tenant never delays another.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::Rng;
use serde::Serialize;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::clock::SharedClock;
use crate::config::Schedule;
use crate::scheduler::FlowRunner;

/// How many run records each flow keeps for the admin API.
const RUN_HISTORY: usize = 100;
/// The loop never sleeps longer than this, so schedule changes and new due items are seen.
const MAX_IDLE: Duration = Duration::from_secs(5);
/// Nor shorter than this, so a busy error loop cannot spin.
const MIN_IDLE: Duration = Duration::from_millis(50);

/// One run of a flow step, for operators.
#[derive(Debug, Clone, Serialize)]
pub struct RunRecord {
    /// `discover`, `process`, `inbox` or `maintain`.
    pub kind: &'static str,
    /// Started (host clock).
    pub started: DateTime<Utc>,
    /// Duration in milliseconds.
    pub duration_ms: u64,
    /// `ok` or the error.
    pub outcome: String,
    /// What it did (counts), as JSON.
    pub detail: serde_json::Value,
}

/// What the loop knows about its flow.
#[derive(Debug, Clone, Default, Serialize)]
pub struct FlowStatus {
    /// When discovery runs next.
    pub next_discover: Option<DateTime<Utc>>,
    /// When upkeep runs next.
    pub next_maintain: Option<DateTime<Utc>>,
    /// Recent runs, newest last.
    pub runs: VecDeque<RunRecord>,
}

/// A tenant flow's runner, schedule and controls.
pub struct FlowHandle {
    /// The runner.
    pub runner: Arc<FlowRunner>,
    /// The schedule (changeable at run time).
    pub schedule: Mutex<Schedule>,
    /// How often upkeep runs.
    pub maintain_every: Mutex<Duration>,
    /// Wakes the loop (a webhook arrived, "run now", a schedule changed).
    pub wake: Arc<Notify>,
    run_now: std::sync::atomic::AtomicBool,
    maintain_now: std::sync::atomic::AtomicBool,
    status: Mutex<FlowStatus>,
    /// Counts recorded runs, so a caller can wait for one instead of polling.
    recorded: tokio::sync::watch::Sender<u64>,
}

impl FlowHandle {
    /// A handle for a runner.
    pub fn new(runner: Arc<FlowRunner>, schedule: Schedule, maintain_every: Duration) -> Self {
        FlowHandle {
            runner,
            schedule: Mutex::new(schedule),
            maintain_every: Mutex::new(maintain_every),
            wake: Arc::new(Notify::new()),
            run_now: Default::default(),
            maintain_now: Default::default(),
            status: Mutex::new(FlowStatus::default()),
            recorded: tokio::sync::watch::Sender::new(0),
        }
    }

    /// A receiver that changes after every recorded run (discovery, processing, inbox,
    /// upkeep): wait on it, then look at the store or the status.
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<u64> {
        self.recorded.subscribe()
    }

    /// Runs discovery (and upkeep) at the next loop turn, whatever the schedule says.
    pub fn run_now(&self) {
        self.run_now
            .store(true, std::sync::atomic::Ordering::SeqCst);
        self.maintain_now
            .store(true, std::sync::atomic::Ordering::SeqCst);
        self.wake.notify_one();
    }

    /// Replaces the schedule; the next discovery is computed from it at once.
    pub fn set_schedule(&self, schedule: Schedule) {
        *self.schedule.lock().unwrap_or_else(|p| p.into_inner()) = schedule;
        let mut status = self.status.lock().unwrap_or_else(|p| p.into_inner());
        status.next_discover = None;
        drop(status);
        self.wake.notify_one();
    }

    /// A snapshot of the status.
    pub fn status(&self) -> FlowStatus {
        self.status
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn record(
        &self,
        kind: &'static str,
        started: DateTime<Utc>,
        clock: &SharedClock,
        outcome: Result<serde_json::Value, String>,
    ) {
        let duration_ms = u64::try_from((clock.now() - started).num_milliseconds()).unwrap_or(0);
        let (outcome, detail) = match outcome {
            Ok(detail) => ("ok".to_owned(), detail),
            Err(e) => (e, serde_json::Value::Null),
        };
        let mut status = self.status.lock().unwrap_or_else(|p| p.into_inner());
        status.runs.push_back(RunRecord {
            kind,
            started,
            duration_ms,
            outcome,
            detail,
        });
        while status.runs.len() > RUN_HISTORY {
            status.runs.pop_front();
        }
        drop(status);
        self.recorded.send_modify(|n| *n += 1);
    }

    /// The next discovery time after `now`: interval or cron, plus jitter.
    fn next_discover(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        let schedule = self
            .schedule
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let base = match (&schedule.cron, schedule.every) {
            (Some(cron), _) => cron
                .parse::<croner::Cron>()
                .ok()
                .and_then(|c| c.find_next_occurrence(&now, false).ok())
                .unwrap_or(now + chrono::Duration::seconds(60)),
            (None, Some(every)) => {
                now + chrono::Duration::from_std(every).unwrap_or(chrono::Duration::seconds(60))
            }
            (None, None) => now + chrono::Duration::seconds(60),
        };
        let jitter = schedule
            .jitter
            .filter(|j| !j.is_zero())
            .map(|j| rand::rng().random_range(Duration::ZERO..j))
            .unwrap_or_default();
        base + chrono::Duration::from_std(jitter).unwrap_or_default()
    }

    /// The loop: until `shutdown`, run what is due, then sleep until the next thing is due or
    /// something wakes it. After downtime the first turn runs discovery once (a catch-up), then
    /// the schedule continues from now: missed ticks are not replayed in a storm.
    pub async fn run_loop(self: Arc<Self>, clock: SharedClock, shutdown: CancellationToken) {
        use std::sync::atomic::Ordering::SeqCst;
        let settings = self.runner.settings().clone();
        let mut next_maintain = clock.now();
        loop {
            if shutdown.is_cancelled() {
                break;
            }
            let now = clock.now();
            let next_discover = {
                let mut status = self.status.lock().unwrap_or_else(|p| p.into_inner());
                *status.next_discover.get_or_insert(now)
            };
            if now >= next_discover || self.run_now.swap(false, SeqCst) {
                let started = clock.now();
                let result = self.runner.discover().await;
                self.record(
                    "discover",
                    started,
                    &clock,
                    result
                        .map(|n| serde_json::json!({ "new-items": n }))
                        .map_err(|e| e.to_string()),
                );
                let next = self.next_discover(clock.now());
                self.status
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .next_discover = Some(next);
            }
            if shutdown.is_cancelled() {
                break;
            }
            let started = clock.now();
            match self.runner.drain_inbox().await {
                Ok(r) if r.deliveries > 0 || r.retried > 0 => self.record(
                    "inbox",
                    started,
                    &clock,
                    Ok(serde_json::to_value(r).unwrap_or_default()),
                ),
                Ok(_) => {}
                Err(e) => self.record("inbox", started, &clock, Err(e.to_string())),
            }
            if shutdown.is_cancelled() {
                break;
            }
            let started = clock.now();
            match self.runner.process_due().await {
                Ok(r) if r != Default::default() => self.record(
                    "process",
                    started,
                    &clock,
                    Ok(serde_json::to_value(r).unwrap_or_default()),
                ),
                Ok(_) => {}
                Err(e) => self.record("process", started, &clock, Err(e.to_string())),
            }
            let now = clock.now();
            if now >= next_maintain || self.maintain_now.swap(false, SeqCst) {
                let started = clock.now();
                let result = self.runner.maintain().await;
                self.record(
                    "maintain",
                    started,
                    &clock,
                    result
                        .map(|u| serde_json::to_value(u).unwrap_or_default())
                        .map_err(|e| e.to_string()),
                );
                let every = *self
                    .maintain_every
                    .lock()
                    .unwrap_or_else(|p| p.into_inner());
                next_maintain = clock.now()
                    + chrono::Duration::from_std(every).unwrap_or(chrono::Duration::minutes(10));
                self.status
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .next_maintain = Some(next_maintain);
            }

            // Sleep until the earliest of: next discovery, next upkeep, next due item.
            let now = clock.now();
            // Read one field under the lock: `status()` would clone the run history every turn.
            let next_discover = self
                .status
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .next_discover;
            let mut wake_at = next_maintain.min(next_discover.unwrap_or(now));
            if let Ok(Some(due_ms)) = self.runner.next_due()
                && let Some(due) = DateTime::<Utc>::from_timestamp_millis(due_ms)
            {
                wake_at = wake_at.min(due);
            }
            let idle = (wake_at - now)
                .to_std()
                .unwrap_or(Duration::ZERO)
                .clamp(MIN_IDLE, MAX_IDLE);
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(idle) => {}
            }
        }
        tracing::info!(tenant = %settings.tenant, flow = %settings.flow, "flow loop stopped");
    }
}
