//! Fault injection: per route, by rate or for the next N requests.
//!
//! A fault is matched against the route key of each request (`ups.ship`, `ifs.shipment.patch`,
//! …; see README.md). `ups.*` matches every UPS route, `*` every route.

use std::sync::Mutex;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::SimError;
use crate::util::lock;

/// What a fault does to a matching request.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub enum FaultKind {
    /// 429 in the service's error shape; with `Retry-After` when `retry_after` is set.
    #[serde(rename = "429")]
    TooManyRequests,
    /// 500 in the service's error shape.
    #[serde(rename = "500")]
    InternalError,
    /// 503 in the service's error shape; with `Retry-After` when `retry_after` is set.
    #[serde(rename = "503")]
    Unavailable,
    /// The request is processed, then the response is held back for `delay_ms`.
    #[serde(rename = "delay")]
    Delay,
    /// The request is processed and the response body is cut in half (invalid JSON).
    #[serde(rename = "malformed")]
    Malformed,
    /// The connection is closed without a response; the request is NOT processed.
    #[serde(rename = "drop")]
    Drop,
    /// The request IS processed, then the connection is closed without a response.
    #[serde(rename = "drop-after")]
    DropAfter,
    /// IFS only: another user edits the record (on a GET: right after the read; on a PATCH:
    /// right before the write, so the caller's ETag is stale).
    #[serde(rename = "concurrent-edit")]
    ConcurrentEdit,
}

impl FaultKind {
    fn parse(s: &str) -> Option<FaultKind> {
        Some(match s {
            "429" => FaultKind::TooManyRequests,
            "500" => FaultKind::InternalError,
            "503" => FaultKind::Unavailable,
            "delay" => FaultKind::Delay,
            "malformed" => FaultKind::Malformed,
            "drop" => FaultKind::Drop,
            "drop-after" => FaultKind::DropAfter,
            "concurrent-edit" => FaultKind::ConcurrentEdit,
            _ => return None,
        })
    }

    /// The name used in JSON, on the command line and in request records.
    pub fn name(self) -> &'static str {
        match self {
            FaultKind::TooManyRequests => "429",
            FaultKind::InternalError => "500",
            FaultKind::Unavailable => "503",
            FaultKind::Delay => "delay",
            FaultKind::Malformed => "malformed",
            FaultKind::Drop => "drop",
            FaultKind::DropAfter => "drop-after",
            FaultKind::ConcurrentEdit => "concurrent-edit",
        }
    }
}

/// One fault to install. Exactly one of `rate` / `next` may be set; neither means "always".
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct FaultSpec {
    /// Route key (`ups.ship`), a prefix pattern (`ups.*`) or `*`.
    pub route: String,
    /// What happens.
    pub kind: FaultKind,
    /// For `429` and `503`: the `Retry-After` value in seconds (absent = no header).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
    /// For `delay`: milliseconds to hold the response.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_ms: Option<u64>,
    /// Probability 0..=1 per matching request (deterministic RNG seeded from the sim seed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<f64>,
    /// Fire for the next N matching requests, then remove itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<u32>,
}

impl FaultSpec {
    /// A fault on `route` of `kind` that fires for the next `n` matching requests.
    pub fn next(route: impl Into<String>, kind: FaultKind, n: u32) -> Self {
        FaultSpec {
            route: route.into(),
            kind,
            retry_after: None,
            delay_ms: None,
            rate: None,
            next: Some(n),
        }
    }

    /// A fault on `route` of `kind` that fires with probability `rate`.
    pub fn rate(route: impl Into<String>, kind: FaultKind, rate: f64) -> Self {
        FaultSpec {
            route: route.into(),
            kind,
            retry_after: None,
            delay_ms: None,
            rate: Some(rate),
            next: None,
        }
    }

    /// Sets `Retry-After` (for 429 and 503).
    pub fn with_retry_after(mut self, secs: u64) -> Self {
        self.retry_after = Some(secs);
        self
    }

    /// Sets the delay (for `delay`).
    pub fn with_delay_ms(mut self, ms: u64) -> Self {
        self.delay_ms = Some(ms);
        self
    }

    /// Parses the command-line form `ROUTE=KIND[:ARG][@rate=F|@next=N]`, e.g.
    /// `ups.ship=429:30@next=2`, `ifs.token=delay:5000@rate=0.1`, `ups.*=503`.
    pub fn parse_cli(text: &str) -> Result<FaultSpec, SimError> {
        let err = |reason: &str| SimError::FaultSpec {
            spec: text.to_string(),
            reason: reason.to_string(),
        };
        let (route, rest) = text
            .split_once('=')
            .ok_or_else(|| err("expected ROUTE=KIND[:ARG][@rate=F|@next=N]"))?;
        let (kind_part, trigger) = match rest.split_once('@') {
            Some((k, t)) => (k, Some(t)),
            None => (rest, None),
        };
        let (kind_s, arg) = match kind_part.split_once(':') {
            Some((k, a)) => (k, Some(a)),
            None => (kind_part, None),
        };
        let kind = FaultKind::parse(kind_s).ok_or_else(|| err("unknown fault kind"))?;
        let mut spec = FaultSpec {
            route: route.trim().to_string(),
            kind,
            retry_after: None,
            delay_ms: None,
            rate: None,
            next: None,
        };
        if let Some(a) = arg {
            let n: u64 = a.parse().map_err(|_| err("argument must be an integer"))?;
            match kind {
                FaultKind::TooManyRequests | FaultKind::Unavailable => spec.retry_after = Some(n),
                FaultKind::Delay => spec.delay_ms = Some(n),
                _ => return Err(err("this kind takes no argument")),
            }
        }
        if let Some(t) = trigger {
            if let Some(r) = t.strip_prefix("rate=") {
                spec.rate = Some(r.parse().map_err(|_| err("rate must be a number"))?);
            } else if let Some(n) = t.strip_prefix("next=") {
                spec.next = Some(n.parse().map_err(|_| err("next must be an integer"))?);
            } else {
                return Err(err("trigger must be @rate=F or @next=N"));
            }
        }
        spec.validate().map_err(|e| err(&e))?;
        Ok(spec)
    }

    pub(crate) fn validate(&self) -> Result<(), String> {
        if self.route.is_empty() {
            return Err("route is empty".into());
        }
        if self.rate.is_some() && self.next.is_some() {
            return Err("give either rate or next, not both".into());
        }
        if let Some(r) = self.rate
            && !(0.0..=1.0).contains(&r)
        {
            return Err("rate must be within 0..=1".into());
        }
        if self.kind == FaultKind::Delay && self.delay_ms.is_none() {
            return Err("delay needs delay_ms".into());
        }
        Ok(())
    }

    fn matches(&self, route: &str) -> bool {
        if self.route == "*" || self.route == route {
            return true;
        }
        match self.route.strip_suffix('*') {
            Some(prefix) => route.starts_with(prefix),
            None => false,
        }
    }
}

/// An installed fault as reported by the control API.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct InstalledFault {
    /// Id to delete it with.
    pub id: u64,
    /// The specification.
    #[serde(flatten)]
    pub spec: FaultSpec,
    /// How often it has fired.
    pub fired: u64,
}

/// The fault table shared by all servers.
pub(crate) struct Faults {
    state: Mutex<FaultState>,
}

struct FaultState {
    next_id: u64,
    entries: Vec<InstalledFault>,
    rng: StdRng,
}

impl Faults {
    pub(crate) fn new(seed: u64) -> Self {
        Faults {
            state: Mutex::new(FaultState {
                next_id: 1,
                entries: Vec::new(),
                rng: StdRng::seed_from_u64(seed ^ 0x5eed_fa17),
            }),
        }
    }

    pub(crate) fn install(&self, spec: FaultSpec) -> Result<u64, SimError> {
        spec.validate().map_err(|reason| SimError::FaultSpec {
            spec: format!("{spec:?}"),
            reason,
        })?;
        let mut st = lock(&self.state);
        let id = st.next_id;
        st.next_id += 1;
        st.entries.push(InstalledFault { id, spec, fired: 0 });
        Ok(id)
    }

    pub(crate) fn list(&self) -> Vec<InstalledFault> {
        lock(&self.state).entries.clone()
    }

    pub(crate) fn remove(&self, id: u64) -> bool {
        let mut st = lock(&self.state);
        let before = st.entries.len();
        st.entries.retain(|f| f.id != id);
        st.entries.len() != before
    }

    /// Clears all faults, or those installed for exactly `route`.
    pub(crate) fn clear(&self, route: Option<&str>) -> usize {
        let mut st = lock(&self.state);
        let before = st.entries.len();
        match route {
            Some(r) => st.entries.retain(|f| f.spec.route != r),
            None => st.entries.clear(),
        }
        before - st.entries.len()
    }

    /// Decides whether a fault fires for this request; consumes one `next` count if so.
    pub(crate) fn take(&self, route: &str) -> Option<FaultSpec> {
        let mut st = lock(&self.state);
        let FaultState { entries, rng, .. } = &mut *st;
        let mut fired = None;
        for (i, f) in entries.iter_mut().enumerate() {
            if !f.spec.matches(route) {
                continue;
            }
            let fire = match (f.spec.rate, f.spec.next) {
                (Some(r), _) => rng.random::<f64>() < r,
                (None, Some(n)) => n > 0,
                (None, None) => true,
            };
            if fire {
                f.fired += 1;
                if let Some(n) = f.spec.next.as_mut() {
                    *n = n.saturating_sub(1);
                }
                fired = Some((i, f.spec.clone()));
                break;
            }
        }
        let (i, spec) = fired?;
        if entries[i].spec.next == Some(0) {
            entries.remove(i);
        }
        Some(spec)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_cli_forms() {
        let f = FaultSpec::parse_cli("ups.ship=429:30@next=2").unwrap();
        assert_eq!(f.kind, FaultKind::TooManyRequests);
        assert_eq!(f.retry_after, Some(30));
        assert_eq!(f.next, Some(2));
        let f = FaultSpec::parse_cli("ifs.*=delay:500@rate=0.5").unwrap();
        assert_eq!(f.delay_ms, Some(500));
        assert!(FaultSpec::parse_cli("x=bogus").is_err());
        assert!(FaultSpec::parse_cli("x=delay").is_err());
        assert!(FaultSpec::parse_cli("x=500@rate=2").is_err());
    }

    #[test]
    fn next_n_expires() {
        let t = Faults::new(1);
        t.install(FaultSpec::next("ups.*", FaultKind::Unavailable, 2))
            .unwrap();
        assert!(t.take("ups.ship").is_some());
        assert!(t.take("ifs.token").is_none());
        assert!(t.take("ups.rate").is_some());
        assert!(t.take("ups.rate").is_none());
        assert!(t.list().is_empty());
    }
}
