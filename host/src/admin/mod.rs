//! The admin API (axum, JSON): `/healthz`, `/readyz` and `/metrics` without auth; everything
//! under `/api/v1/` behind the bearer token.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;

use crate::service::Service;

/// The admin routes over a running service.
pub fn router(service: Arc<Service>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .with_state(service)
}

async fn readyz(State(service): State<Arc<Service>>) -> (StatusCode, &'static str) {
    if service.is_ready() {
        (StatusCode::OK, "ready\n")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "starting or stopping\n")
    }
}
