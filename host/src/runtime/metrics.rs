//! Counters the runtime keeps for `/metrics`: invocations and their durations per plugin and
//! export, failures by kind, invocations per plugin version, automatic rollbacks, and the
//! scheduler's retries. Rendered in the Prometheus text format by [`Metrics::render`]; gauges
//! that are read from the store at scrape time live in the admin module.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Duration;

use super::bindings::types::Error as WitError;
use super::invoke::{InvokeError, TrapKind};

/// Upper bounds of the invocation-duration histogram, in seconds.
const BUCKETS: [f64; 14] = [
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 120.0,
];

#[derive(Default, Clone)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

impl Histogram {
    fn observe(&mut self, seconds: f64) {
        for (i, bound) in BUCKETS.iter().enumerate() {
            if seconds <= *bound {
                self.counts[i] += 1;
            }
        }
        self.count += 1;
        self.sum += seconds;
    }
}

#[derive(Default)]
struct Inner {
    /// (plugin, export, outcome) → calls.
    invocations: BTreeMap<(String, String, &'static str), u64>,
    /// (plugin, export) → durations.
    durations: BTreeMap<(String, String), Histogram>,
    /// (plugin, export, kind) → failures.
    errors: BTreeMap<(String, String, &'static str), u64>,
    /// (plugin, hash) → calls.
    by_version: BTreeMap<(String, String), u64>,
    /// plugin → automatic rollbacks.
    rollbacks: BTreeMap<String, u64>,
    /// (tenant, flow, what) → retries scheduled.
    retries: BTreeMap<(String, String, &'static str), u64>,
}

/// The runtime's counters. Cheap to update (one short lock per call).
#[derive(Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
    /// Counts observed invocations, so a caller can wait for one instead of polling.
    observed: tokio::sync::watch::Sender<u64>,
}

/// The kind of a failed invocation, as a metric label.
pub fn error_kind(e: &InvokeError) -> &'static str {
    match e {
        InvokeError::NotLoaded { .. } => "not-loaded",
        InvokeError::NotBound { .. } => "not-bound",
        InvokeError::WrongWorld { .. } => "wrong-world",
        InvokeError::Plugin { error, .. } => match error {
            WitError::InvalidInput(_) => "invalid-input",
            WitError::NotFound(_) => "not-found",
            WitError::Conflict(_) => "conflict",
            WitError::Unauthorized(_) => "unauthorized",
            WitError::Forbidden(_) => "forbidden",
            WitError::RateLimited(_) => "rate-limited",
            WitError::Unavailable(_) => "unavailable",
            WitError::Rejected(_) => "rejected",
            WitError::Denied(_) => "denied",
            WitError::Internal(_) => "internal",
        },
        InvokeError::Trap { kind, .. } => match kind {
            TrapKind::CpuDeadline => "trap-cpu-deadline",
            TrapKind::MemoryLimit => "trap-memory-limit",
            TrapKind::Guest => "trap",
        },
        InvokeError::Timeout { .. } => "timeout",
        InvokeError::Instantiate { .. } => "instantiate",
    }
}

impl Metrics {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // Counters stay usable after a panic elsewhere; a torn update is one count at worst.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A receiver that changes after every observed invocation: wait on it, then read the
    /// counters.
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<u64> {
        self.observed.subscribe()
    }

    /// Counts one invocation of `export` on `plugin` (version `hash`, when it got that far).
    pub fn observe_invocation(
        &self,
        plugin: &str,
        hash: Option<&str>,
        export: &str,
        elapsed: Duration,
        error: Option<&InvokeError>,
    ) {
        let outcome = match error {
            None => "ok",
            // The plugin ran and answered with its own error value: it worked as designed.
            Some(InvokeError::Plugin { .. }) => "error",
            Some(_) => "failed",
        };
        let mut m = self.lock();
        *m.invocations
            .entry((plugin.to_owned(), export.to_owned(), outcome))
            .or_default() += 1;
        if let Some(e) = error {
            *m.errors
                .entry((plugin.to_owned(), export.to_owned(), error_kind(e)))
                .or_default() += 1;
        }
        if let Some(hash) = hash {
            m.durations
                .entry((plugin.to_owned(), export.to_owned()))
                .or_default()
                .observe(elapsed.as_secs_f64());
            *m.by_version
                .entry((plugin.to_owned(), hash.to_owned()))
                .or_default() += 1;
        }
        drop(m);
        self.observed.send_modify(|n| *n += 1);
    }

    /// Counts an automatic rollback of `plugin`.
    pub fn observe_rollback(&self, plugin: &str) {
        *self.lock().rollbacks.entry(plugin.to_owned()).or_default() += 1;
    }

    /// Counts retries the scheduler set up (`what`: `item` or `inbox`).
    pub fn observe_retries(&self, tenant: &str, flow: &str, what: &'static str, n: u64) {
        *self
            .lock()
            .retries
            .entry((tenant.to_owned(), flow.to_owned(), what))
            .or_default() += n;
    }

    /// Invocations of one plugin version so far.
    pub fn version_invocations(&self, plugin: &str, hash: &str) -> u64 {
        self.lock()
            .by_version
            .get(&(plugin.to_owned(), hash.to_owned()))
            .copied()
            .unwrap_or(0)
    }

    /// Appends the counters in the Prometheus text format (version 0.0.4).
    pub fn render(&self, out: &mut String) {
        let m = self.lock();
        header(
            out,
            "mlc_plugin_invocations_total",
            "counter",
            "Plugin export calls by outcome: ok, error (the plugin returned its own error value), failed (trap, timeout, instantiation or routing failure).",
        );
        for ((plugin, export, outcome), n) in &m.invocations {
            sample(
                out,
                "mlc_plugin_invocations_total",
                &[("plugin", plugin), ("export", export), ("outcome", outcome)],
                *n as f64,
            );
        }
        header(
            out,
            "mlc_plugin_invocation_errors_total",
            "counter",
            "Failed or erroring plugin calls by kind (WIT error case, trap kind, timeout, ...).",
        );
        for ((plugin, export, kind), n) in &m.errors {
            sample(
                out,
                "mlc_plugin_invocation_errors_total",
                &[("plugin", plugin), ("export", export), ("kind", kind)],
                *n as f64,
            );
        }
        header(
            out,
            "mlc_plugin_invocation_duration_seconds",
            "histogram",
            "Wall-clock duration of plugin calls, host calls included.",
        );
        for ((plugin, export), h) in &m.durations {
            let labels = [("plugin", plugin.as_str()), ("export", export.as_str())];
            for (bound, count) in BUCKETS.iter().zip(h.counts.iter()) {
                let le = bound.to_string();
                let mut with_le = labels.to_vec();
                with_le.push(("le", &le));
                sample(
                    out,
                    "mlc_plugin_invocation_duration_seconds_bucket",
                    &with_le,
                    *count as f64,
                );
            }
            let mut inf = labels.to_vec();
            inf.push(("le", "+Inf"));
            sample(
                out,
                "mlc_plugin_invocation_duration_seconds_bucket",
                &inf,
                h.count as f64,
            );
            sample(
                out,
                "mlc_plugin_invocation_duration_seconds_sum",
                &labels,
                h.sum,
            );
            sample(
                out,
                "mlc_plugin_invocation_duration_seconds_count",
                &labels,
                h.count as f64,
            );
        }
        header(
            out,
            "mlc_plugin_version_invocations_total",
            "counter",
            "Plugin calls per component version (SHA-256 of the component).",
        );
        for ((plugin, hash), n) in &m.by_version {
            sample(
                out,
                "mlc_plugin_version_invocations_total",
                &[("plugin", plugin), ("hash", hash)],
                *n as f64,
            );
        }
        header(
            out,
            "mlc_plugin_rollbacks_total",
            "counter",
            "Automatic rollbacks of plugin versions that failed their first calls.",
        );
        for (plugin, n) in &m.rollbacks {
            sample(
                out,
                "mlc_plugin_rollbacks_total",
                &[("plugin", plugin)],
                *n as f64,
            );
        }
        header(
            out,
            "mlc_retries_total",
            "counter",
            "Retries scheduled by the flow runner (what: item or inbox).",
        );
        for ((tenant, flow, what), n) in &m.retries {
            sample(
                out,
                "mlc_retries_total",
                &[("tenant", tenant), ("flow", flow), ("what", what)],
                *n as f64,
            );
        }
    }
}

/// Writes the `# HELP` and `# TYPE` lines of a metric family.
pub fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// Writes one sample line, escaping label values.
pub fn sample(out: &mut String, name: &str, labels: &[(&str, &str)], value: f64) {
    out.push_str(name);
    if !labels.is_empty() {
        out.push('{');
        for (i, (k, v)) in labels.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(k);
            out.push_str("=\"");
            for c in v.chars() {
                match c {
                    '\\' => out.push_str("\\\\"),
                    '"' => out.push_str("\\\""),
                    '\n' => out.push_str("\\n"),
                    c => out.push(c),
                }
            }
            out.push('"');
        }
        out.push('}');
    }
    let _ = writeln!(out, " {value}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_histograms() {
        let m = Metrics::default();
        m.observe_invocation(
            "ups",
            Some("abc"),
            "carrier.track",
            Duration::from_millis(3),
            None,
        );
        m.observe_invocation(
            "ups",
            Some("abc"),
            "carrier.track",
            Duration::from_millis(30),
            Some(&InvokeError::Timeout {
                plugin: "ups".into(),
                ms: 1,
            }),
        );
        m.observe_retries("t", "f", "item", 1);
        let mut out = String::new();
        m.render(&mut out);
        assert!(out.contains(
            "mlc_plugin_invocations_total{plugin=\"ups\",export=\"carrier.track\",outcome=\"ok\"} 1"
        ));
        assert!(out.contains("mlc_plugin_invocation_errors_total{plugin=\"ups\",export=\"carrier.track\",kind=\"timeout\"} 1"));
        assert!(out.contains("mlc_plugin_invocation_duration_seconds_bucket{plugin=\"ups\",export=\"carrier.track\",le=\"0.005\"} 1"));
        assert!(out.contains("mlc_plugin_invocation_duration_seconds_count{plugin=\"ups\",export=\"carrier.track\"} 2"));
        assert!(out.contains("mlc_retries_total{tenant=\"t\",flow=\"f\",what=\"item\"} 1"));
        assert_eq!(m.version_invocations("ups", "abc"), 2);
        let mut esc = String::new();
        sample(&mut esc, "x", &[("a", "q\"\\\n")], 1.0);
        assert_eq!(esc, "x{a=\"q\\\"\\\\\\n\"} 1\n");
    }
}
