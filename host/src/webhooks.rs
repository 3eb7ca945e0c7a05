//! Webhook ingress: UPS Track Alert deliveries, one URL per tenant
//! (`POST /webhooks/ups/{tenant}`).
//!
//! A delivery is authenticated before anything else (Track Alert v1 sends the subscription's
//! `credential` header verbatim; it is compared in constant time), size-limited, and written to
//! the durable inbox *before* the 200 goes back — so a crash between receipt and processing
//! loses nothing. A repeated delivery is recognised by its content and acknowledged without a
//! second inbox entry. Processing happens later, off the request path (UPS expects a fast ack).

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use subtle::ConstantTimeEq;
use tokio::sync::Notify;

use crate::clock::SharedClock;
use crate::db::{InboxPut, Store};
use crate::vault::SecretString;

/// The inbox source name of UPS Track Alert deliveries.
pub const UPS_SOURCE: &str = "ups-track-alert";

/// How a tenant's webhook caller proves who it is. Track Alert v1 uses a shared credential
/// header; other schemes (HMAC signatures, OAuth bearer for Track Alert v2) implement this too.
pub trait WebhookAuth: Send + Sync + 'static {
    /// Whether the request's headers authenticate the caller.
    fn authenticate(&self, headers: &HeaderMap) -> bool;
}

/// A fixed header that must carry a shared secret (Track Alert v1: `credential`).
pub struct SharedHeader {
    /// Header name.
    pub header: String,
    /// Expected value.
    pub secret: SecretString,
}

impl WebhookAuth for SharedHeader {
    fn authenticate(&self, headers: &HeaderMap) -> bool {
        let Some(given) = headers.get(self.header.as_str()) else {
            return false;
        };
        bool::from(given.as_bytes().ct_eq(self.secret.expose().as_bytes()))
    }
}

/// One tenant's ingress settings.
pub struct TenantWebhook {
    /// How callers authenticate.
    pub auth: Box<dyn WebhookAuth>,
    /// Largest body accepted.
    pub max_body_bytes: usize,
    /// Woken when a delivery is stored, so the tenant's runner drains the inbox promptly.
    pub notify: Arc<Notify>,
}

/// The ingress state.
pub struct WebhookState {
    /// The durable inbox.
    pub store: Arc<dyn Store>,
    /// The clock.
    pub clock: SharedClock,
    /// Tenants that accept deliveries.
    pub tenants: HashMap<String, TenantWebhook>,
}

/// The largest body any tenant may configure; a guard before the per-tenant check.
const HARD_BODY_LIMIT: usize = 4 * 1024 * 1024;

/// The ingress routes.
pub fn router(state: Arc<WebhookState>) -> Router {
    Router::new()
        .route("/webhooks/ups/{tenant}", post(receive))
        .layer(DefaultBodyLimit::max(HARD_BODY_LIMIT))
        .with_state(state)
}

async fn receive(
    State(state): State<Arc<WebhookState>>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, &'static str) {
    let Some(hook) = state.tenants.get(&tenant) else {
        return (StatusCode::NOT_FOUND, "unknown tenant\n");
    };
    if !hook.auth.authenticate(&headers) {
        tracing::warn!(%tenant, bytes = body.len(), "webhook refused: missing or wrong credentials");
        return (StatusCode::UNAUTHORIZED, "unauthorized\n");
    }
    if body.len() > hook.max_body_bytes {
        tracing::warn!(%tenant, bytes = body.len(), limit = hook.max_body_bytes, "webhook refused: body too large");
        return (StatusCode::PAYLOAD_TOO_LARGE, "body too large\n");
    }
    match state
        .store
        .inbox_put(&tenant, UPS_SOURCE, &body, state.clock.now_ms())
    {
        Ok(InboxPut::Stored(id)) => {
            tracing::debug!(%tenant, delivery = id, "webhook stored");
            hook.notify.notify_one();
            (StatusCode::OK, "ok\n")
        }
        Ok(InboxPut::Duplicate) => {
            tracing::debug!(%tenant, "duplicate webhook acknowledged");
            (StatusCode::OK, "duplicate\n")
        }
        Err(e) => {
            // Not acknowledged: the sender should deliver again rather than lose the event.
            tracing::error!(%tenant, "webhook could not be stored: {e}");
            (StatusCode::SERVICE_UNAVAILABLE, "try again\n")
        }
    }
}
