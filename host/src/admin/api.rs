//! The handlers under `/api/v1/`. They read the service's parts and answer JSON; none of them
//! ever returns a secret (connections are listed without their client secrets).

use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{AdminError, Shared};
use crate::db::{ItemQuery, ItemState, Scope, Store};
use crate::manifest::{Manifest, WorldKind};
use crate::runtime::{VersionError, VersionInfo};
use crate::scheduler::schedules::{self, ScheduleSpec};
use crate::service::Service;

type ApiResult<T> = Result<T, AdminError>;

/// Milliseconds since the epoch as RFC 3339.
pub(super) fn iso(ms: i64) -> Option<String> {
    DateTime::<Utc>::from_timestamp_millis(ms).map(|t| t.to_rfc3339())
}

/// A time parameter: RFC 3339 or milliseconds since the epoch.
fn parse_time(name: &str, value: &str) -> ApiResult<i64> {
    if let Ok(ms) = value.parse::<i64>() {
        return Ok(ms);
    }
    DateTime::parse_from_rfc3339(value)
        .map(|t| t.timestamp_millis())
        .map_err(|e| {
            AdminError::BadRequest(format!(
                "`{name}`: `{value}` is neither RFC 3339 nor milliseconds: {e}"
            ))
        })
}

fn tenant_exists(service: &Service, tenant: &str) -> ApiResult<()> {
    service
        .config()
        .tenant(tenant)
        .map(|_| ())
        .ok_or_else(|| AdminError::NotFound(format!("no tenant `{tenant}`")))
}

/// A query string parsed into `T`, refused in the API's error format (a JSON 400 naming the
/// parameter) instead of axum's plain-text rejection.
pub(super) struct Query<T>(pub(super) T);

impl<T: serde::de::DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = AdminError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, AdminError> {
        let query = parts.uri.query().unwrap_or_default();
        serde_urlencoded::from_str(query)
            .map(Query)
            .map_err(|e| AdminError::BadRequest(format!("invalid query string: {e}")))
    }
}

/// A filter given empty (`?tenant=`) is no filter.
fn given(value: &Option<String>) -> Option<String> {
    value.clone().filter(|v| !v.is_empty())
}

/// Parses a JSON body into `T`, answering in the API's error format: malformed JSON is a 400,
/// JSON of the wrong shape (a missing or unknown field, a wrong type, `null` where the API
/// takes a value) a 422.
fn parse_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> ApiResult<T> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| AdminError::BadRequest(format!("invalid JSON body: {e}")))?;
    // No field of this API takes `null`; serde would read it as "absent".
    if let Value::Object(map) = &value
        && let Some((key, _)) = map.iter().find(|(_, v)| v.is_null())
    {
        return Err(AdminError::Unprocessable(format!(
            "invalid body: `{key}` is null; leave it out instead"
        )));
    }
    serde_json::from_value(value)
        .map_err(|e| AdminError::Unprocessable(format!("invalid body: {e}")))
}

fn version_error(e: VersionError) -> AdminError {
    match e {
        VersionError::UnknownPlugin { .. } | VersionError::UnknownVersion { .. } => {
            AdminError::NotFound(e.to_string())
        }
        VersionError::InvalidId { .. } => AdminError::BadRequest(e.to_string()),
        VersionError::NoPrevious { .. } => AdminError::Conflict(e.to_string()),
        VersionError::Load(_) => AdminError::Unprocessable(e.to_string()),
        VersionError::Io { .. } | VersionError::Store { .. } => {
            AdminError::internal("plugin version", e)
        }
    }
}

fn version_json(v: &VersionInfo) -> Value {
    let r = &v.record;
    json!({
        "hash": r.hash,
        "version": r.version,
        "world": r.world,
        "source": r.source,
        "status": r.status,
        "reason": r.reason,
        "loaded_at": iso(r.loaded_at_ms),
        "activated_at": r.activated_at_ms.and_then(iso),
        "probation_calls_left": v.probation_calls_left,
    })
}

/// `GET /api/v1/plugins`.
pub(super) async fn plugins(State(service): State<Shared>) -> Json<Value> {
    let versions = service.runtime().versions(None);
    let plugins: Vec<Value> = service
        .runtime()
        .plugins()
        .into_iter()
        .map(|p| {
            let tenants: Vec<&str> = service
                .config()
                .tenants
                .iter()
                .filter(|t| t.plugins.contains_key(&p.id) || t.flows.contains_key(&p.id))
                .map(|t| t.id.as_str())
                .collect();
            let probation = versions
                .iter()
                .find(|v| v.record.plugin == p.id && v.record.hash == p.hash)
                .map(|v| v.probation_calls_left)
                .unwrap_or(0);
            json!({
                "id": p.id,
                "world": p.world,
                "version": p.version,
                "hash": p.hash,
                "probation_calls_left": probation,
                "versions": versions.iter().filter(|v| v.record.plugin == p.id).count(),
                "tenants": tenants,
            })
        })
        .collect();
    Json(json!({ "plugins": plugins }))
}

/// `GET /api/v1/plugins/{id}/versions`.
pub(super) async fn plugin_versions(
    State(service): State<Shared>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let versions = service.runtime().versions(Some(&id));
    if versions.is_empty() {
        return Err(AdminError::NotFound(format!("no plugin `{id}`")));
    }
    let active = service
        .runtime()
        .plugins()
        .into_iter()
        .find(|p| p.id == id)
        .map(|p| p.hash);
    Ok(Json(json!({
        "plugin": id,
        "active": active,
        "versions": versions.iter().map(version_json).collect::<Vec<_>>(),
    })))
}

/// Query of an upload.
#[derive(Debug, Deserialize)]
pub(super) struct UploadQuery {
    version: Option<String>,
    world: Option<WorldKind>,
}

/// `POST /api/v1/plugins/{id}/versions`: the body is the component.
pub(super) async fn upload_version(
    State(service): State<Shared>,
    Path(id): Path<String>,
    Query(query): Query<UploadQuery>,
    body: Bytes,
) -> ApiResult<Response> {
    if body.is_empty() {
        return Err(AdminError::BadRequest(
            "the body must be the component (application/wasm)".into(),
        ));
    }
    let current = service.runtime().manifest(&id);
    let world = match (query.world, &current) {
        (Some(w), Some(m)) if w != m.world => {
            return Err(AdminError::Unprocessable(format!(
                "plugin `{id}` implements {}, not {w}",
                m.world
            )));
        }
        (Some(w), _) => w,
        (None, Some(m)) => m.world,
        (None, None) => {
            return Err(AdminError::BadRequest(format!(
                "plugin `{id}` is not loaded: give its world (`?world=erp|carrier|flow`)"
            )));
        }
    };
    let manifest = Manifest {
        id: id.clone(),
        version: query.version.unwrap_or_else(|| "upload".into()),
        world,
        limits: current.map(|m| m.limits).unwrap_or_default(),
    };
    // Compiling a component takes a while: keep it off the async workers.
    let runtime = service.runtime().clone();
    let installed = tokio::task::spawn_blocking(move || runtime.install(manifest, &body, "upload"))
        .await
        .map_err(|e| AdminError::internal("plugin upload", e))?;
    let info = installed.map_err(version_error)?;
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "id": info.id,
            "version": info.version,
            "world": info.world,
            "hash": info.hash,
            "status": "active",
            "probation_calls": crate::runtime::PROBATION_CALLS,
        })),
    )
        .into_response())
}

/// Body of an activation: a hash or a version label.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ActivateBody {
    hash: Option<String>,
    version: Option<String>,
}

/// `POST /api/v1/plugins/{id}/activate`.
pub(super) async fn activate(
    State(service): State<Shared>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let body: ActivateBody = parse_body(&body)?;
    let selector = match (body.hash, body.version) {
        (Some(h), None) => h,
        (None, Some(v)) => v,
        _ => {
            return Err(AdminError::BadRequest(
                "give exactly one of `hash` or `version`".into(),
            ));
        }
    };
    let runtime = service.runtime().clone();
    let info = tokio::task::spawn_blocking(move || runtime.activate(&id, &selector))
        .await
        .map_err(|e| AdminError::internal("plugin activation", e))?
        .map_err(version_error)?;
    Ok(Json(json!({
        "id": info.id, "version": info.version, "world": info.world, "hash": info.hash,
        "status": "active",
    })))
}

/// Body of a rollback.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RollbackBody {
    reason: Option<String>,
}

/// `POST /api/v1/plugins/{id}/rollback` (the body is optional).
pub(super) async fn rollback(
    State(service): State<Shared>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let body: RollbackBody = if body.is_empty() {
        RollbackBody::default()
    } else {
        parse_body(&body)?
    };
    let reason = body
        .reason
        .unwrap_or_else(|| "rolled back by an operator".into());
    let runtime = service.runtime().clone();
    let info = tokio::task::spawn_blocking(move || runtime.rollback(&id, &reason))
        .await
        .map_err(|e| AdminError::internal("plugin rollback", e))?
        .map_err(version_error)?;
    Ok(Json(json!({
        "id": info.id, "version": info.version, "world": info.world, "hash": info.hash,
        "status": "active",
    })))
}

/// `GET /api/v1/tenants`: ids, names, flows, connections — never secrets.
pub(super) async fn tenants(State(service): State<Shared>) -> Json<Value> {
    let tenants: Vec<Value> = service
        .config()
        .tenants
        .iter()
        .map(|t| {
            let connections: Vec<Value> = t
                .connections
                .iter()
                .map(|(id, c)| {
                    json!({
                        "id": id,
                        "token_url": c.token_url,
                        "client_id": c.client_id,
                        "scope": c.scope,
                        "hosts": c.hosts,
                        "daily_token_budget": c.daily_token_budget,
                    })
                })
                .collect();
            let flows: Vec<Value> = t
                .flows
                .iter()
                .map(|(id, f)| {
                    let schedule = service
                        .flow(&t.id, id)
                        .map(|h| h.schedule.lock().unwrap_or_else(|p| p.into_inner()).clone())
                        .unwrap_or_else(|| f.schedule.clone());
                    json!({
                        "id": id,
                        "erp": f.erp,
                        "carrier": f.carrier,
                        "schedule": ScheduleSpec::of(&schedule),
                    })
                })
                .collect();
            json!({
                "id": t.id,
                "name": t.name,
                "plugins": t.plugins.keys().collect::<Vec<_>>(),
                "flows": flows,
                "connections": connections,
                "webhook": t.webhook.is_some(),
            })
        })
        .collect();
    Json(json!({ "tenants": tenants }))
}

/// `GET /api/v1/tenants/{tenant}/schedules`.
pub(super) async fn schedules(
    State(service): State<Shared>,
    Path(tenant): Path<String>,
) -> ApiResult<Json<Value>> {
    tenant_exists(&service, &tenant)?;
    let flows: Vec<Value> = service
        .flows()
        .iter()
        .filter(|f| f.runner.settings().tenant == tenant)
        .map(|f| {
            let schedule = f.schedule.lock().unwrap_or_else(|p| p.into_inner()).clone();
            let maintain = *f.maintain_every.lock().unwrap_or_else(|p| p.into_inner());
            let status = f.status();
            json!({
                "flow": f.runner.settings().flow,
                "schedule": ScheduleSpec::of(&schedule),
                "maintain_every": humantime::format_duration(maintain).to_string(),
                "next_discover": status.next_discover,
                "next_maintain": status.next_maintain,
            })
        })
        .collect();
    Ok(Json(json!({ "tenant": tenant, "flows": flows })))
}

/// `PUT /api/v1/tenants/{tenant}/flows/{flow}/schedule`.
pub(super) async fn set_schedule(
    State(service): State<Shared>,
    Path((tenant, flow)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    tenant_exists(&service, &tenant)?;
    let spec: ScheduleSpec = parse_body(&body)?;
    let handle = service
        .flow(&tenant, &flow)
        .ok_or_else(|| AdminError::NotFound(format!("tenant `{tenant}` has no flow `{flow}`")))?;
    let schedule = spec.validate().map_err(AdminError::Unprocessable)?;
    let normalized = ScheduleSpec::of(&schedule);
    schedules::persist(service.store().as_ref(), &tenant, &flow, &normalized)
        .map_err(|e| AdminError::internal("storing a schedule", e))?;
    handle.set_schedule(schedule);
    tracing::info!(%tenant, %flow, schedule = ?normalized, "schedule changed");
    Ok(Json(
        json!({ "tenant": tenant, "flow": flow, "schedule": normalized }),
    ))
}

/// `POST /api/v1/tenants/{tenant}/flows/{flow}/run`.
pub(super) async fn run_now(
    State(service): State<Shared>,
    Path((tenant, flow)): Path<(String, String)>,
) -> ApiResult<Response> {
    tenant_exists(&service, &tenant)?;
    let handle = service
        .flow(&tenant, &flow)
        .ok_or_else(|| AdminError::NotFound(format!("tenant `{tenant}` has no flow `{flow}`")))?;
    handle.run_now();
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "tenant": tenant, "flow": flow, "queued": true })),
    )
        .into_response())
}

/// `GET /api/v1/tenants/{tenant}/runs`.
pub(super) async fn runs(
    State(service): State<Shared>,
    Path(tenant): Path<String>,
) -> ApiResult<Json<Value>> {
    tenant_exists(&service, &tenant)?;
    let flows: Vec<Value> = service
        .flows()
        .iter()
        .filter(|f| f.runner.settings().tenant == tenant)
        .map(|f| {
            let status = f.status();
            json!({
                "flow": f.runner.settings().flow,
                "next_discover": status.next_discover,
                "next_maintain": status.next_maintain,
                "runs": status.runs,
            })
        })
        .collect();
    Ok(Json(json!({ "tenant": tenant, "flows": flows })))
}

/// One tracking subscription of a flow, read from the flow's storage (`sub/<tn>`).
#[derive(Debug, Clone, Serialize)]
pub(super) struct Subscription {
    pub(super) flow: String,
    pub(super) tracking_number: String,
    pub(super) erp_id: Option<String>,
    pub(super) expires_at: Option<String>,
    pub(super) refused: Option<String>,
    pub(super) expired: bool,
    pub(super) near_expiry: bool,
}

/// What a flow's storage says about its tracking subscriptions.
pub(super) struct SubscriptionScan {
    pub(super) subscriptions: Vec<Subscription>,
    pub(super) pending: u64,
}

/// Keys of a flow's storage with a prefix, every page.
fn kv_keys(store: &dyn Store, scope: &Scope, prefix: &str) -> Result<Vec<String>, AdminError> {
    let mut keys = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = store
            .kv_list(scope, prefix, after.as_deref(), 1000)
            .map_err(|e| AdminError::internal("reading flow storage", e))?;
        let done = page.len() < 1000;
        after = page.last().cloned();
        keys.extend(page);
        if done || after.is_none() {
            return Ok(keys);
        }
    }
}

/// Reads the tracking subscriptions of every flow of a tenant. A subscription is near expiry
/// when it lapses within the flow's `renew-before-hours` (default 48) of now.
pub(super) fn scan_subscriptions(
    service: &Service,
    tenant: &str,
) -> Result<SubscriptionScan, AdminError> {
    let Some(config) = service.config().tenant(tenant) else {
        return Err(AdminError::NotFound(format!("no tenant `{tenant}`")));
    };
    let now = service.clock().now_ms();
    let mut scan = SubscriptionScan {
        subscriptions: Vec::new(),
        pending: 0,
    };
    for (flow, f) in &config.flows {
        let renew_hours: i64 = f
            .settings
            .get("renew-before-hours")
            .and_then(|h| h.trim().parse().ok())
            .unwrap_or(48);
        let scope = Scope {
            tenant: tenant.to_owned(),
            plugin: flow.clone(),
        };
        let store: &dyn Store = service.store().as_ref();
        scan.pending += kv_keys(store, &scope, "pending-sub/")?.len() as u64;
        for key in kv_keys(store, &scope, "sub/")? {
            let Some(entry) = store
                .kv_get(&scope, &key)
                .map_err(|e| AdminError::internal("reading flow storage", e))?
            else {
                continue;
            };
            let value: Value = serde_json::from_slice(&entry.value).unwrap_or(Value::Null);
            let expires_ms = value.get("expires-at").and_then(Value::as_i64);
            let refused = value
                .get("refused")
                .and_then(|r| {
                    r.as_str()
                        .map(str::to_owned)
                        .or_else(|| Some(r.to_string()))
                })
                .filter(|r| r != "null");
            let live = refused.is_none();
            let expired = live && expires_ms.is_some_and(|e| e <= now);
            let near_expiry =
                live && !expired && expires_ms.is_some_and(|e| e - now <= renew_hours * 3_600_000);
            scan.subscriptions.push(Subscription {
                flow: flow.clone(),
                tracking_number: key.trim_start_matches("sub/").to_owned(),
                erp_id: value
                    .get("erp-id")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                expires_at: expires_ms.and_then(iso),
                refused,
                expired,
                near_expiry,
            });
        }
    }
    Ok(scan)
}

/// `GET /api/v1/tenants/{tenant}/subscriptions`.
pub(super) async fn subscriptions(
    State(service): State<Shared>,
    Path(tenant): Path<String>,
) -> ApiResult<Json<Value>> {
    let scan = scan_subscriptions(&service, &tenant)?;
    let near = scan.subscriptions.iter().filter(|s| s.near_expiry).count();
    Ok(Json(json!({
        "tenant": tenant,
        "subscriptions": scan.subscriptions,
        "pending": scan.pending,
        "near_expiry": near,
    })))
}

/// Filters of the work-item list and the audit export.
#[derive(Debug, Default, Deserialize)]
pub(super) struct ItemsQuery {
    tenant: Option<String>,
    flow: Option<String>,
    state: Option<String>,
    key: Option<String>,
    since: Option<String>,
    until: Option<String>,
    limit: Option<u32>,
    format: Option<String>,
}

impl ItemsQuery {
    fn to_query(&self, default_limit: u32) -> ApiResult<ItemQuery> {
        let state = given(&self.state)
            .map(|s| s.parse::<ItemState>().map_err(AdminError::BadRequest))
            .transpose()?;
        Ok(ItemQuery {
            tenant: given(&self.tenant),
            flow: given(&self.flow),
            state,
            key: given(&self.key),
            since_ms: given(&self.since)
                .map(|v| parse_time("since", &v))
                .transpose()?,
            until_ms: given(&self.until)
                .map(|v| parse_time("until", &v))
                .transpose()?,
            limit: Some(match self.limit {
                None => default_limit,
                Some(n @ 1..=10_000) => n,
                Some(n) => {
                    return Err(AdminError::BadRequest(format!(
                        "`limit`: {n} is not from 1 to 10000"
                    )));
                }
            }),
        })
    }
}

/// `GET /api/v1/work-items`.
pub(super) async fn work_items(
    State(service): State<Shared>,
    Query(query): Query<ItemsQuery>,
) -> ApiResult<Json<Value>> {
    let items = service
        .store()
        .items(&query.to_query(100)?)
        .map_err(|e| AdminError::internal("listing work items", e))?;
    Ok(Json(json!({ "items": items })))
}

/// `GET /api/v1/work-items/{id}`: the item and its steps (its audit trail).
pub(super) async fn work_item(
    State(service): State<Shared>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let item = service
        .store()
        .item(&id)
        .map_err(|e| AdminError::internal("reading a work item", e))?
        .ok_or_else(|| AdminError::NotFound(format!("no work item `{id}`")))?;
    let steps = service
        .store()
        .steps(&id)
        .map_err(|e| AdminError::internal("reading steps", e))?;
    Ok(Json(json!({ "item": item, "steps": steps })))
}

/// `POST /api/v1/work-items/{id}/replay`: failed or held items only.
pub(super) async fn replay(
    State(service): State<Shared>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let item = service
        .store()
        .item(&id)
        .map_err(|e| AdminError::internal("reading a work item", e))?
        .ok_or_else(|| AdminError::NotFound(format!("no work item `{id}`")))?;
    let replayed = service
        .store()
        .replay_item(&id, service.clock().now_ms())
        .map_err(|e| AdminError::internal("replaying a work item", e))?;
    if !replayed {
        return Err(AdminError::Conflict(format!(
            "work item `{id}` is {}: only failed or held items can be replayed",
            item.state
        )));
    }
    if let Some(flow) = service.flow(&item.tenant, &item.flow) {
        flow.wake.notify_one();
    }
    tracing::info!(item = %id, tenant = %item.tenant, key = %item.key, "work item replayed by an operator");
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "id": id, "state": ItemState::Pending, "replayed": true })),
    )
        .into_response())
}

/// `GET /api/v1/audit`: the steps of matching items in a time range, as JSON or JSON lines.
pub(super) async fn audit(
    State(service): State<Shared>,
    Query(query): Query<ItemsQuery>,
) -> ApiResult<Response> {
    let jsonl = match given(&query.format).as_deref() {
        None | Some("json") => false,
        Some("jsonl") => true,
        Some(other) => {
            return Err(AdminError::BadRequest(format!(
                "`format`: `{other}` is not `json` or `jsonl`"
            )));
        }
    };
    let mut item_query = query.to_query(1000)?;
    // An item last updated after `until` may still have steps inside the range: filter the
    // steps by time, the items only by their last update being at or after `since`.
    let (since, until) = (item_query.since_ms, item_query.until_ms);
    item_query.until_ms = None;
    let items = service
        .store()
        .items(&item_query)
        .map_err(|e| AdminError::internal("listing work items", e))?;
    let mut rows = Vec::new();
    for item in &items {
        let steps = service
            .store()
            .steps(&item.id)
            .map_err(|e| AdminError::internal("reading steps", e))?;
        for step in steps {
            if since.is_some_and(|s| step.started_ms < s)
                || until.is_some_and(|u| step.started_ms >= u)
            {
                continue;
            }
            let mut row = serde_json::to_value(&step).unwrap_or(Value::Null);
            if let Value::Object(map) = &mut row {
                map.insert("tenant".into(), json!(item.tenant));
                map.insert("flow".into(), json!(item.flow));
                map.insert("key".into(), json!(item.key));
                map.insert("started_at".into(), json!(iso(step.started_ms)));
            }
            rows.push((step.started_ms, step.id, row));
        }
    }
    rows.sort_by_key(|(at, id, _)| (*at, *id));
    if jsonl {
        let mut out = String::new();
        for (_, _, row) in rows {
            out.push_str(&row.to_string());
            out.push('\n');
        }
        return Ok(([(header::CONTENT_TYPE, "application/x-ndjson")], out).into_response());
    }
    let steps: Vec<Value> = rows.into_iter().map(|(_, _, r)| r).collect();
    Ok(Json(json!({ "steps": steps })).into_response())
}

/// `GET /api/v1/token-budgets`.
pub(super) async fn token_budgets(State(service): State<Shared>) -> ApiResult<Json<Value>> {
    let budgets = service
        .tokens()
        .budgets()
        .map_err(|e| AdminError::internal("reading token budgets", e))?;
    let connections: Vec<Value> = budgets
        .iter()
        .map(|b| {
            json!({
                "tenant": b.tenant,
                "connection": b.connection,
                "day": b.day,
                "used": b.used,
                "budget": b.budget,
                "remaining": b.remaining(),
            })
        })
        .collect();
    Ok(Json(json!({
        "connections": connections,
        "token_requests_sent": service.tokens().token_requests_sent(),
        "budget_refusals": service.tokens().budget_refusals(),
    })))
}
