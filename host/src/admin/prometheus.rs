//! `GET /metrics`: the runtime's counters plus gauges read at scrape time — work items by state
//! (held and failed called out), inbox depth, token requests and budgets, tracking subscriptions
//! near expiry, the active version of each plugin.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use super::Shared;
use super::api::scan_subscriptions;
use crate::db::ItemState;
use crate::runtime::metrics::{header as family, sample};

/// The Prometheus text exposition content type.
const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// `GET /metrics`.
pub(super) async fn metrics(State(service): State<Shared>) -> Response {
    let mut out = String::new();
    family(&mut out, "mlc_up", "gauge", "1 while the service runs.");
    sample(&mut out, "mlc_up", &[], 1.0);
    family(
        &mut out,
        "mlc_ready",
        "gauge",
        "1 when start-up finished and the service takes work.",
    );
    sample(
        &mut out,
        "mlc_ready",
        &[],
        if service.is_ready() { 1.0 } else { 0.0 },
    );

    service.runtime().metrics().render(&mut out);

    family(
        &mut out,
        "mlc_plugin_active_version",
        "gauge",
        "1 for the active version of each plugin.",
    );
    let versions = service.runtime().versions(None);
    for p in service.runtime().plugins() {
        let world = crate::runtime::world_id(p.world);
        sample(
            &mut out,
            "mlc_plugin_active_version",
            &[
                ("plugin", &p.id),
                ("hash", &p.hash),
                ("version", &p.version),
                ("world", world),
            ],
            1.0,
        );
    }
    family(
        &mut out,
        "mlc_plugin_probation_calls_left",
        "gauge",
        "Calls left before the active version of a plugin passes probation.",
    );
    for v in versions.iter().filter(|v| v.record.status == "active") {
        sample(
            &mut out,
            "mlc_plugin_probation_calls_left",
            &[("plugin", &v.record.plugin)],
            f64::from(v.probation_calls_left),
        );
    }

    family(
        &mut out,
        "mlc_token_requests_sent_total",
        "counter",
        "OAuth2 token requests sent since start.",
    );
    sample(
        &mut out,
        "mlc_token_requests_sent_total",
        &[],
        service.tokens().token_requests_sent() as f64,
    );
    family(
        &mut out,
        "mlc_token_budget_refusals_total",
        "counter",
        "Calls refused because a connection's daily token budget was spent.",
    );
    sample(
        &mut out,
        "mlc_token_budget_refusals_total",
        &[],
        service.tokens().budget_refusals() as f64,
    );
    match service.tokens().budgets() {
        Ok(budgets) => {
            family(
                &mut out,
                "mlc_token_budget_used",
                "gauge",
                "Token requests counted today (UTC) per connection.",
            );
            for b in &budgets {
                sample(
                    &mut out,
                    "mlc_token_budget_used",
                    &[("tenant", &b.tenant), ("connection", &b.connection)],
                    f64::from(b.used),
                );
            }
            family(
                &mut out,
                "mlc_token_budget_remaining",
                "gauge",
                "Token requests left today (UTC) per connection.",
            );
            for b in &budgets {
                sample(
                    &mut out,
                    "mlc_token_budget_remaining",
                    &[("tenant", &b.tenant), ("connection", &b.connection)],
                    f64::from(b.remaining()),
                );
            }
        }
        Err(e) => tracing::warn!("metrics: cannot read token budgets: {e}"),
    }

    family(
        &mut out,
        "mlc_work_items",
        "gauge",
        "Work items by state (the queue depth is pending + retry + running).",
    );
    let mut held_failed = Vec::new();
    for tenant in &service.config().tenants {
        match service.store().item_counts(Some(&tenant.id)) {
            Ok(counts) => {
                for state in [
                    ItemState::Pending,
                    ItemState::Running,
                    ItemState::Retry,
                    ItemState::Held,
                    ItemState::Failed,
                    ItemState::Completed,
                ] {
                    let n = counts.get(&state).copied().unwrap_or(0);
                    sample(
                        &mut out,
                        "mlc_work_items",
                        &[("tenant", &tenant.id), ("state", state.as_str())],
                        n as f64,
                    );
                    if matches!(state, ItemState::Held | ItemState::Failed) {
                        held_failed.push((tenant.id.as_str(), state, n));
                    }
                }
            }
            Err(e) => tracing::warn!(tenant = %tenant.id, "metrics: cannot count work items: {e}"),
        }
    }
    family(
        &mut out,
        "mlc_work_items_held",
        "gauge",
        "Work items waiting for a person.",
    );
    for (tenant, _, n) in held_failed.iter().filter(|h| h.1 == ItemState::Held) {
        sample(
            &mut out,
            "mlc_work_items_held",
            &[("tenant", tenant)],
            *n as f64,
        );
    }
    family(
        &mut out,
        "mlc_work_items_failed",
        "gauge",
        "Work items failed permanently (replayable).",
    );
    for (tenant, _, n) in held_failed.iter().filter(|h| h.1 == ItemState::Failed) {
        sample(
            &mut out,
            "mlc_work_items_failed",
            &[("tenant", tenant)],
            *n as f64,
        );
    }

    family(
        &mut out,
        "mlc_inbox_deliveries",
        "gauge",
        "Webhook deliveries in the inbox by state (pending is the queue depth).",
    );
    for tenant in &service.config().tenants {
        match service.store().inbox_counts(Some(&tenant.id)) {
            Ok(counts) => {
                for state in ["pending", "processing", "done", "failed"] {
                    let n = counts.get(state).copied().unwrap_or(0);
                    sample(
                        &mut out,
                        "mlc_inbox_deliveries",
                        &[("tenant", &tenant.id), ("state", state)],
                        n as f64,
                    );
                }
            }
            Err(e) => tracing::warn!(tenant = %tenant.id, "metrics: cannot count the inbox: {e}"),
        }
    }

    let mut sub_lines = String::new();
    let mut near_lines = String::new();
    for tenant in &service.config().tenants {
        if tenant.flows.is_empty() {
            continue;
        }
        match scan_subscriptions(&service, &tenant.id) {
            Ok(scan) => {
                let count = |f: &dyn Fn(&super::api::Subscription) -> bool| {
                    scan.subscriptions.iter().filter(|s| f(s)).count() as f64
                };
                let near = count(&|s| s.near_expiry);
                let rows = [
                    (
                        "live",
                        count(&|s| s.refused.is_none() && !s.expired && !s.near_expiry),
                    ),
                    ("near-expiry", near),
                    ("expired", count(&|s| s.expired)),
                    ("refused", count(&|s| s.refused.is_some())),
                    ("pending", scan.pending as f64),
                ];
                for (state, n) in rows {
                    sample(
                        &mut sub_lines,
                        "mlc_tracking_subscriptions",
                        &[("tenant", &tenant.id), ("state", state)],
                        n,
                    );
                }
                sample(
                    &mut near_lines,
                    "mlc_tracking_subscriptions_near_expiry",
                    &[("tenant", &tenant.id)],
                    near,
                );
            }
            Err(e) => {
                tracing::warn!(tenant = %tenant.id, "metrics: cannot read subscriptions: {e:?}")
            }
        }
    }
    family(
        &mut out,
        "mlc_tracking_subscriptions",
        "gauge",
        "Tracking subscriptions by state: live, near-expiry (lapses within the flow's renew-before-hours), expired, refused, pending.",
    );
    out.push_str(&sub_lines);
    family(
        &mut out,
        "mlc_tracking_subscriptions_near_expiry",
        "gauge",
        "Live tracking subscriptions that lapse within the flow's renew-before-hours.",
    );
    out.push_str(&near_lines);
    ([(header::CONTENT_TYPE, CONTENT_TYPE)], out).into_response()
}
