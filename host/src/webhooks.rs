//! Webhook ingress: carrier deliveries (UPS Track Alert, or any carrier connector's pushes), one
//! URL per tenant and carrier: `POST /webhooks/{carrier}/{tenant}`, where `{carrier}` is the
//! plugin id the tenant's `[tenants.webhook] carrier` names (`/webhooks/ups/acme`).
//!
//! A delivery is authenticated before anything else (a shared credential in the configured
//! header, `credential` by default, which is what Track Alert v1 sends verbatim; compared in
//! constant time), size-limited, and written to
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

/// The inbox source of a carrier's deliveries (part of the duplicate check). UPS keeps the
/// name its deliveries were stored under before paths were per carrier.
pub fn inbox_source(carrier: &str) -> String {
    if carrier == "ups" {
        UPS_SOURCE.to_owned()
    } else {
        format!("{carrier}-webhook")
    }
}

/// One tenant's ingress settings.
pub struct TenantWebhook {
    /// The carrier plugin whose deliveries this tenant accepts (the path's first segment).
    pub carrier: String,
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
        .route("/webhooks/{carrier}/{tenant}", post(receive))
        .layer(DefaultBodyLimit::max(HARD_BODY_LIMIT))
        .with_state(state)
}

async fn receive(
    State(state): State<Arc<WebhookState>>,
    Path((carrier, tenant)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, &'static str) {
    // An unknown tenant and a carrier the tenant does not take pushes from look alike: the
    // caller learns nothing about which tenants exist.
    let Some(hook) = state.tenants.get(&tenant).filter(|h| h.carrier == carrier) else {
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
    match state.store.inbox_put(
        &tenant,
        &inbox_source(&carrier),
        &body,
        state.clock.now_ms(),
    ) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::SystemClock;

    /// Finding (issue 20, item 3): the path was fixed at `/webhooks/ups/{tenant}` and the
    /// header at `credential`, whatever the carrier.
    #[tokio::test]
    async fn a_carrier_other_than_ups_gets_its_own_path_and_header() {
        let store = crate::db::in_memory().unwrap();
        let state = Arc::new(WebhookState {
            store: store.clone(),
            clock: Arc::new(SystemClock),
            tenants: HashMap::from([(
                "acme".to_owned(),
                TenantWebhook {
                    carrier: "my-carrier".into(),
                    auth: Box::new(SharedHeader {
                        header: "x-my-signature".into(),
                        secret: SecretString::new("s3cret"),
                    }),
                    max_body_bytes: 1024,
                    notify: Arc::default(),
                },
            )]),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, router(state)).await });
        let client = reqwest::Client::new();
        let post = |path: &str, header: &str| {
            client
                .post(format!("{base}{path}"))
                .header(header, "s3cret")
                .body(r#"{"event":"delivered"}"#)
                .send()
        };

        let ok = post("/webhooks/my-carrier/acme", "X-My-Signature")
            .await
            .unwrap();
        assert_eq!(ok.status(), 200);
        assert_eq!(ok.text().await.unwrap(), "ok\n");
        let again = post("/webhooks/my-carrier/acme", "x-my-signature")
            .await
            .unwrap();
        assert_eq!(again.text().await.unwrap(), "duplicate\n");
        let other_carrier = post("/webhooks/ups/acme", "x-my-signature").await.unwrap();
        assert_eq!(
            other_carrier.status(),
            404,
            "the tenant takes pushes from my-carrier only"
        );
        let wrong_header = post("/webhooks/my-carrier/acme", "credential")
            .await
            .unwrap();
        assert_eq!(wrong_header.status(), 401);

        let stored = store.inbox_claim("acme", i64::MAX, 10).unwrap();
        assert_eq!(stored.len(), 1);
        assert_eq!(stored[0].source, "my-carrier-webhook");
        assert_eq!(
            inbox_source("ups"),
            UPS_SOURCE,
            "UPS deliveries keep their source name"
        );
    }
}
