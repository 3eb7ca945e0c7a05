//! The admin API (axum, JSON): `/healthz`, `/readyz` and `/metrics` without auth; everything
//! under `/api/v1/` behind the bearer token. Every route is listed once, in [`ROUTES`], which
//! builds the router and which `host/openapi.yaml` is checked against.

mod api;
mod prometheus;

use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post, put};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::service::Service;

/// The OpenAPI document of this API (`host/openapi.yaml`).
pub const OPENAPI_YAML: &str = include_str!("../../openapi.yaml");

/// Largest component accepted by an upload.
pub const MAX_UPLOAD_BYTES: usize = 64 * 1024 * 1024;

/// Every admin route: (method, path, needs the bearer token). The router is built from this
/// list and a test checks it against `host/openapi.yaml`.
pub const ROUTES: &[(&str, &str, bool)] = &[
    ("GET", "/healthz", false),
    ("GET", "/readyz", false),
    ("GET", "/metrics", false),
    ("GET", "/api/v1/plugins", true),
    ("GET", "/api/v1/plugins/{id}/versions", true),
    ("POST", "/api/v1/plugins/{id}/versions", true),
    ("POST", "/api/v1/plugins/{id}/activate", true),
    ("POST", "/api/v1/plugins/{id}/rollback", true),
    ("GET", "/api/v1/tenants", true),
    ("GET", "/api/v1/tenants/{tenant}/schedules", true),
    (
        "PUT",
        "/api/v1/tenants/{tenant}/flows/{flow}/schedule",
        true,
    ),
    ("POST", "/api/v1/tenants/{tenant}/flows/{flow}/run", true),
    ("GET", "/api/v1/tenants/{tenant}/runs", true),
    ("GET", "/api/v1/tenants/{tenant}/subscriptions", true),
    ("GET", "/api/v1/work-items", true),
    ("GET", "/api/v1/work-items/{id}", true),
    ("POST", "/api/v1/work-items/{id}/replay", true),
    ("GET", "/api/v1/audit", true),
    ("GET", "/api/v1/token-budgets", true),
];

type Shared = Arc<Service>;

/// The handler of one listed route.
fn handler(method: &str, path: &str) -> Option<MethodRouter<Shared>> {
    Some(match (method, path) {
        ("GET", "/healthz") => get(|| async { "ok\n" }),
        ("GET", "/readyz") => get(readyz),
        ("GET", "/metrics") => get(prometheus::metrics),
        ("GET", "/api/v1/plugins") => get(api::plugins),
        ("GET", "/api/v1/plugins/{id}/versions") => get(api::plugin_versions),
        ("POST", "/api/v1/plugins/{id}/versions") => {
            post(api::upload_version).layer(DefaultBodyLimit::max(MAX_UPLOAD_BYTES))
        }
        ("POST", "/api/v1/plugins/{id}/activate") => post(api::activate),
        ("POST", "/api/v1/plugins/{id}/rollback") => post(api::rollback),
        ("GET", "/api/v1/tenants") => get(api::tenants),
        ("GET", "/api/v1/tenants/{tenant}/schedules") => get(api::schedules),
        ("PUT", "/api/v1/tenants/{tenant}/flows/{flow}/schedule") => put(api::set_schedule),
        ("POST", "/api/v1/tenants/{tenant}/flows/{flow}/run") => post(api::run_now),
        ("GET", "/api/v1/tenants/{tenant}/runs") => get(api::runs),
        ("GET", "/api/v1/tenants/{tenant}/subscriptions") => get(api::subscriptions),
        ("GET", "/api/v1/work-items") => get(api::work_items),
        ("GET", "/api/v1/work-items/{id}") => get(api::work_item),
        ("POST", "/api/v1/work-items/{id}/replay") => post(api::replay),
        ("GET", "/api/v1/audit") => get(api::audit),
        ("GET", "/api/v1/token-budgets") => get(api::token_budgets),
        _ => return None,
    })
}

/// The admin routes over a running service.
pub fn router(service: Arc<Service>) -> Router {
    let mut public = Router::new();
    let mut private = Router::new();
    for (method, path, auth) in ROUTES {
        let Some(h) = handler(method, path) else {
            // Unreachable by the unit test below; logged rather than panicking in a server.
            tracing::error!(method, path, "admin route without a handler");
            continue;
        };
        if *auth {
            private = private.route(path, h);
        } else {
            public = public.route(path, h);
        }
    }
    // `route_layer`: only matched routes ask for the token, so an unknown path stays a 404.
    let private = private.route_layer(middleware::from_fn_with_state(
        service.clone(),
        require_token,
    ));
    public
        .merge(private)
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(service)
}

async fn readyz(State(service): State<Shared>) -> (StatusCode, &'static str) {
    if service.is_ready() {
        (StatusCode::OK, "ready\n")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "starting or stopping\n")
    }
}

/// Lets a request through only with `Authorization: Bearer <admin token>`. The comparison is
/// of SHA-256 digests in constant time, so neither the token's bytes nor its length leak
/// through timing.
async fn require_token(State(service): State<Shared>, request: Request, next: Next) -> Response {
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let allowed = match (&service.admin_token(), presented) {
        (Some(token), Some(presented)) => {
            let want = Sha256::digest(token.expose().as_bytes());
            let got = Sha256::digest(presented.as_bytes());
            bool::from(want.ct_eq(&got))
        }
        _ => false,
    };
    if allowed {
        next.run(request).await
    } else {
        let mut response = AdminError::Unauthorized.into_response();
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            header::HeaderValue::from_static("Bearer"),
        );
        response
    }
}

/// An admin API failure. Internal failures are logged once and answered without detail.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// No or a wrong bearer token.
    #[error("missing or invalid bearer token")]
    Unauthorized,
    /// The addressed thing does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The request is malformed.
    #[error("{0}")]
    BadRequest(String),
    /// The request conflicts with the current state.
    #[error("{0}")]
    Conflict(String),
    /// The request is well-formed but refused (an invalid schedule, a component that fails
    /// its contract check).
    #[error("{0}")]
    Unprocessable(String),
    /// Something failed inside the host.
    #[error("internal error")]
    Internal(String),
}

impl AdminError {
    /// An internal failure; `context` names what was being done.
    pub fn internal(context: &str, e: impl std::fmt::Display) -> Self {
        AdminError::Internal(format!("{context}: {e}"))
    }
}

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        let status = match &self {
            AdminError::Unauthorized => StatusCode::UNAUTHORIZED,
            AdminError::NotFound(_) => StatusCode::NOT_FOUND,
            AdminError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AdminError::Conflict(_) => StatusCode::CONFLICT,
            AdminError::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            AdminError::Internal(detail) => {
                tracing::error!("admin API: {detail}");
                StatusCode::INTERNAL_SERVER_ERROR
            }
        };
        (
            status,
            axum::Json(serde_json::json!({ "error": self.to_string() })),
        )
            .into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_route_has_a_handler() {
        for (method, path, _) in ROUTES {
            assert!(handler(method, path).is_some(), "{method} {path}");
        }
    }
}
