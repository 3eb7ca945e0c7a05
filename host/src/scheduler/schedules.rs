//! Schedules changed at run time: validated, applied to the flow's loop at once, and kept in the
//! store (`meta`, key `schedule.<tenant>.<flow>`) so they survive a restart.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::FlowHandle;
use crate::config::Schedule;
use crate::db::{Store, StoreError};

/// Shortest interval accepted: a flow that polls its ERP more often than this is a mistake.
pub const MIN_EVERY: Duration = Duration::from_secs(1);

/// A schedule as the API and the store spell it: `{"every": "30s"}` or `{"cron": "0 */5 * * *
/// *"}`, with optional `"jitter": "5s"`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleSpec {
    /// Interval (humantime: `30s`, `5m`, `1h 30m`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub every: Option<String>,
    /// Cron expression with a seconds field first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cron: Option<String>,
    /// Random delay added to each run, up to this much.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jitter: Option<String>,
}

impl ScheduleSpec {
    /// The spec of a schedule.
    pub fn of(schedule: &Schedule) -> Self {
        let fmt = |d: Duration| humantime::format_duration(d).to_string();
        ScheduleSpec {
            every: schedule.every.map(fmt),
            cron: schedule.cron.clone(),
            jitter: schedule.jitter.map(fmt),
        }
    }

    /// Checks the spec and turns it into a schedule; the error says what is wrong.
    pub fn validate(&self) -> Result<Schedule, String> {
        let duration = |field: &str, text: &str| {
            humantime::parse_duration(text)
                .map_err(|e| format!("`{field}`: `{text}` is not a duration: {e}"))
        };
        let every = self
            .every
            .as_deref()
            .map(|t| duration("every", t))
            .transpose()?;
        let jitter = self
            .jitter
            .as_deref()
            .map(|t| duration("jitter", t))
            .transpose()?;
        if every.is_some() == self.cron.is_some() {
            return Err("set exactly one of `every` or `cron`".into());
        }
        if let Some(every) = every
            && every < MIN_EVERY
        {
            return Err(format!(
                "`every` must be at least {}",
                humantime::format_duration(MIN_EVERY)
            ));
        }
        if let Some(cron) = &self.cron {
            cron.parse::<croner::Cron>()
                .map_err(|e| format!("`cron`: `{cron}`: {e}"))?;
        }
        if let (Some(every), Some(jitter)) = (every, jitter)
            && jitter > every
        {
            return Err("`jitter` must not exceed `every`".into());
        }
        Ok(Schedule {
            every,
            cron: self.cron.clone(),
            jitter,
        })
    }
}

fn key(tenant: &str, flow: &str) -> String {
    format!("schedule.{tenant}.{flow}")
}

/// Stores a tenant flow's schedule.
pub fn persist(
    store: &dyn Store,
    tenant: &str,
    flow: &str,
    spec: &ScheduleSpec,
) -> Result<(), StoreError> {
    let json = serde_json::to_string(spec).unwrap_or_default();
    store.meta_put(&key(tenant, flow), &json)
}

/// At start-up: applies every schedule changed at run time to its flow (over the
/// configuration's). A stored schedule that no longer validates is skipped with a warning.
pub fn restore(store: &dyn Store, flows: &[std::sync::Arc<FlowHandle>]) {
    for flow in flows {
        let settings = flow.runner.settings();
        let stored = match store.meta_get(&key(&settings.tenant, &settings.flow)) {
            Ok(Some(json)) if !json.is_empty() => json,
            Ok(_) => continue,
            Err(e) => {
                tracing::warn!(tenant = %settings.tenant, flow = %settings.flow, "cannot read the stored schedule: {e}");
                continue;
            }
        };
        let schedule = serde_json::from_str::<ScheduleSpec>(&stored)
            .map_err(|e| e.to_string())
            .and_then(|spec| spec.validate());
        match schedule {
            Ok(schedule) => {
                tracing::info!(tenant = %settings.tenant, flow = %settings.flow, "schedule restored from the store");
                flow.set_schedule(schedule);
            }
            Err(e) => {
                tracing::warn!(tenant = %settings.tenant, flow = %settings.flow, "ignoring the stored schedule: {e}")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(every: Option<&str>, cron: Option<&str>, jitter: Option<&str>) -> ScheduleSpec {
        ScheduleSpec {
            every: every.map(Into::into),
            cron: cron.map(Into::into),
            jitter: jitter.map(Into::into),
        }
    }

    #[test]
    fn validates_schedules() {
        let s = spec(Some("30s"), None, Some("5s")).validate().unwrap();
        assert_eq!(s.every, Some(Duration::from_secs(30)));
        assert_eq!(s.jitter, Some(Duration::from_secs(5)));
        assert!(spec(None, Some("0 */5 * * * *"), None).validate().is_ok());
        for bad in [
            spec(None, None, None),
            spec(Some("30s"), Some("0 * * * * *"), None),
            spec(Some("soon"), None, None),
            spec(Some("10ms"), None, None),
            spec(None, Some("not cron"), None),
            spec(Some("10s"), None, Some("1m")),
        ] {
            assert!(bad.validate().is_err(), "{bad:?}");
        }
        let round = ScheduleSpec::of(&s);
        assert_eq!(round.validate().unwrap(), s);
    }
}
