//! Host-managed OAuth2 client credentials: the token manager behind the egress gate's
//! [`Credentials`] seam.
//!
//! One live token per `(tenant, connection)`, shared by every invocation:
//! - **Single flight.** Callers on a cold or expiring cache queue on the connection's fetch
//!   guard; the first one asks the token endpoint, the rest find its token when they get in.
//! - **Refresh ahead of expiry**, from the `expires_in` of each answer (never a hard-coded
//!   lifetime: IFS tokens may live 3 minutes, UPS changed its lifetime in 2026). The margin is
//!   the connection's `refresh_margin`, capped at half the token's lifetime so a very short-lived
//!   token is still used for a while.
//! - **Cached encrypted** in the store (sealed by the vault to the slot
//!   `(tenant, connection:<id>, access-token)`), so a restarted host reuses a live token.
//! - **Daily budget.** Every token request is first counted in a persisted per-UTC-day ledger;
//!   when the count would pass the connection's `daily_token_budget`, nothing is sent and the
//!   call fails with a retryable 429 (`Retry-After`: the start of the next UTC day), a warning
//!   and the [`TokenManager::budget_refusals`] metric.
//! - **401 handling.** The gate reports a refused token through [`Credentials::rejected`]; it is
//!   discarded (once, however many calls saw it) and the gate retries once with a new one. A
//!   token refused within a minute of being issued is not replaced again, so an account the API
//!   rejects cannot burn the day's budget one call at a time.
//! - **Failure memory.** After a failed token request the connection answers with the same error
//!   for a short while (5 s for outages, 30 s for a refused client, `Retry-After` for 429, the
//!   rest of the day for a spent budget) instead of sending another request per call; a token
//!   that is still valid keeps being used meanwhile.
//!
//! Client secrets come from the vault (tenant `<tenant>`, scope `connection:<id>`) or the
//! environment; plugins can name neither. Tokens and secrets are never logged: only
//! [`SecretString`]s carry them, whose `Debug` is redacted.

mod ledger;
pub mod oauth;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};

pub use self::oauth::TokenError;
use crate::capabilities::http::{CredentialError, Credentials};
use crate::clock::SharedClock;
use crate::config::{Config, ConnectionConfig, SecretRef};
use crate::db::{Reservation, StoreError, TokenStore};
use crate::vault::{SecretString, Vault, VaultError};

/// Name of the sealed cached token within its connection's vault slot.
const TOKEN_NAME: &str = "access-token";
/// A token refused this soon after it was issued is not replaced again (see module docs).
const REJECT_COOLDOWN_MS: i64 = 60_000;
/// A token is still handed out while a refresh fails until this close to its expiry.
const EXPIRY_SAFETY_MS: i64 = 5_000;

/// The vault scope of a connection's client secret and cached token. Plugin ids are
/// kebab-case, so no plugin can name it.
pub fn connection_scope(connection: &str) -> String {
    format!("connection:{connection}")
}

/// Why a token could not be had. Messages name the tenant and connection, never a secret.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// No such connection is configured.
    #[error("connection `{connection}` is not configured for tenant `{tenant}`")]
    UnknownConnection {
        /// Tenant.
        tenant: String,
        /// Connection.
        connection: String,
    },
    /// The day's token-request budget is spent; no request was sent.
    #[error(
        "daily token budget of connection `{connection}` (tenant `{tenant}`) is spent: {used} of {budget} token requests used on {day} (UTC); no token request was sent; retry in {retry_after_s} s"
    )]
    Budget {
        /// Tenant.
        tenant: String,
        /// Connection.
        connection: String,
        /// The UTC day.
        day: String,
        /// Requests counted that day.
        used: u32,
        /// The budget.
        budget: u32,
        /// Seconds until the next UTC day.
        retry_after_s: u64,
    },
    /// The client secret is not available.
    #[error("connection `{connection}` (tenant `{tenant}`): client secret unavailable: {message}")]
    Secret {
        /// Tenant.
        tenant: String,
        /// Connection.
        connection: String,
        /// Why (names the secret or variable, never its value).
        message: String,
    },
    /// The token endpoint could not be reached or refused.
    #[error("connection `{connection}` (tenant `{tenant}`): {source}")]
    Token {
        /// Tenant.
        tenant: String,
        /// Connection.
        connection: String,
        /// The cause.
        #[source]
        source: Box<TokenError>,
    },
    /// The ledger or token cache failed.
    #[error("connection `{connection}` (tenant `{tenant}`): token store: {source}")]
    Store {
        /// Tenant.
        tenant: String,
        /// Connection.
        connection: String,
        /// The cause.
        #[source]
        source: StoreError,
    },
    /// A token request failed moments ago; this call did not send another.
    #[error("{0} (not retried yet)")]
    Recent(CredentialError),
}

impl FetchError {
    /// The synthetic answer the egress gate gives the plugin for this failure.
    pub fn to_credential_error(&self) -> CredentialError {
        let message = self.to_string();
        let (status, retry_after_s) = match self {
            FetchError::Recent(e) => return e.clone(),
            FetchError::UnknownConnection { .. } => (500, None),
            FetchError::Budget { retry_after_s, .. } => (429, Some(*retry_after_s)),
            FetchError::Secret { .. } => (401, None),
            FetchError::Store { .. } => (503, Some(5)),
            FetchError::Token { source, .. } => match source.as_ref() {
                TokenError::Status {
                    status: 429,
                    retry_after_s,
                    ..
                } => (429, Some(retry_after_s.unwrap_or(60))),
                TokenError::Status { status: 403, .. } => (403, None),
                TokenError::Status {
                    status,
                    retry_after_s,
                    ..
                } if *status >= 500 => (503, Some(retry_after_s.unwrap_or(30))),
                // A refused client, an unknown realm or scope: credentials or configuration
                // an operator must fix.
                TokenError::Status { .. } | TokenError::Secret(_) => (401, None),
                TokenError::UnexpectedBody { .. } => (502, Some(30)),
                TokenError::Dns { .. }
                | TokenError::Tls { .. }
                | TokenError::Refused { .. }
                | TokenError::Timeout { .. }
                | TokenError::Transport { .. } => (503, Some(30)),
            },
        };
        CredentialError {
            status,
            retry_after_s,
            message,
        }
    }
}

/// A connection's budget for the current UTC day (for `/metrics` and the admin API).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BudgetStatus {
    /// Tenant.
    pub tenant: String,
    /// Connection.
    pub connection: String,
    /// The UTC day.
    pub day: String,
    /// Token requests counted that day.
    pub used: u32,
    /// The daily budget.
    pub budget: u32,
}

impl BudgetStatus {
    /// Requests left today.
    pub fn remaining(&self) -> u32 {
        self.budget.saturating_sub(self.used)
    }
}

/// Errors setting the manager up.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// The HTTP client for token requests could not be built.
    #[error("cannot build the HTTP client for token requests: {0}")]
    Http(#[from] reqwest::Error),
}

struct Cached {
    /// `Bearer <token>`.
    header: SecretString,
    obtained_at_ms: i64,
    expires_at_ms: i64,
}

impl Cached {
    fn fresh(&self, now_ms: i64, margin: Duration) -> bool {
        let lifetime = (self.expires_at_ms - self.obtained_at_ms).max(0);
        let margin = i64::try_from(margin.as_millis())
            .unwrap_or(i64::MAX)
            .min(lifetime / 2);
        now_ms < self.expires_at_ms - margin
    }

    fn usable(&self, now_ms: i64) -> bool {
        now_ms < self.expires_at_ms - EXPIRY_SAFETY_MS
    }
}

/// What is sealed into the store (JSON, then AES-256-GCM).
#[derive(Serialize, Deserialize)]
struct Persisted {
    header: String,
    obtained_at_ms: i64,
    expires_at_ms: i64,
}

struct Failure {
    until_ms: i64,
    error: CredentialError,
    budget: bool,
}

struct Conn {
    tenant: String,
    id: String,
    scope: String,
    config: ConnectionConfig,
    cached: Mutex<Option<Arc<Cached>>>,
    failure: Mutex<Option<Failure>>,
    /// Held while a token is fetched: the single flight.
    fetch: tokio::sync::Mutex<()>,
}

impl Conn {
    fn cached(&self) -> Option<Arc<Cached>> {
        self.cached
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn set_cached(&self, value: Option<Arc<Cached>>) {
        *self.cached.lock().unwrap_or_else(|p| p.into_inner()) = value;
    }

    fn recent_failure(&self, now_ms: i64) -> Option<(CredentialError, bool)> {
        let failure = self.failure.lock().unwrap_or_else(|p| p.into_inner());
        failure
            .as_ref()
            .filter(|f| now_ms < f.until_ms)
            .map(|f| (f.error.clone(), f.budget))
    }

    fn set_failure(&self, value: Option<Failure>) {
        *self.failure.lock().unwrap_or_else(|p| p.into_inner()) = value;
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// A live token from the cache if there is one.
    Cached,
    /// Always ask the token endpoint (ping: proves the current secret works).
    Fresh,
}

/// Obtains, caches, refreshes and budgets OAuth2 client-credentials tokens, and supplies them
/// to the egress gate. Wire it into the runtime as
/// `services.credentials = manager.clone()` (an `Arc<TokenManager>`), keeping the `Arc` for
/// metrics.
pub struct TokenManager {
    conns: RwLock<HashMap<(String, String), Arc<Conn>>>,
    store: Arc<dyn TokenStore>,
    vault: Option<Vault>,
    clock: SharedClock,
    http: reqwest::Client,
    refusals: AtomicU64,
    requests: AtomicU64,
}

impl std::fmt::Debug for TokenManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenManager")
            .field("connections", &self.connections())
            .finish_non_exhaustive()
    }
}

impl TokenManager {
    /// A manager with no connections. Without a vault, tokens are cached in memory only and
    /// `{ secret = … }` client secrets are unavailable (`{ env = … }` ones work).
    pub fn new(
        store: Arc<dyn TokenStore>,
        vault: Option<Vault>,
        clock: SharedClock,
    ) -> Result<Self, SetupError> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(30))
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(TokenManager {
            conns: RwLock::new(HashMap::new()),
            store,
            vault,
            clock,
            http,
            refusals: AtomicU64::new(0),
            requests: AtomicU64::new(0),
        })
    }

    /// A manager with every connection of every tenant in `config`.
    pub fn from_config(
        config: &Config,
        store: Arc<dyn TokenStore>,
        vault: Option<Vault>,
        clock: SharedClock,
    ) -> Result<Self, SetupError> {
        let manager = Self::new(store, vault, clock)?;
        for tenant in &config.tenants {
            for (id, conn) in &tenant.connections {
                manager.set_connection(&tenant.id, id, conn.clone());
            }
        }
        Ok(manager)
    }

    /// Adds or replaces a connection (a config reload). Its cached token, if still valid and
    /// stored, is picked up again on the next call.
    pub fn set_connection(&self, tenant: &str, id: &str, config: ConnectionConfig) {
        let conn = Arc::new(Conn {
            tenant: tenant.to_owned(),
            id: id.to_owned(),
            scope: connection_scope(id),
            config,
            cached: Mutex::new(None),
            failure: Mutex::new(None),
            fetch: tokio::sync::Mutex::new(()),
        });
        self.conns
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert((tenant.to_owned(), id.to_owned()), conn);
    }

    /// Removes a connection; true when it existed.
    pub fn remove_connection(&self, tenant: &str, id: &str) -> bool {
        self.conns
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&(tenant.to_owned(), id.to_owned()))
            .is_some()
    }

    /// `(tenant, connection)` of every connection, sorted.
    pub fn connections(&self) -> Vec<(String, String)> {
        let mut out: Vec<_> = self
            .conns
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .keys()
            .cloned()
            .collect();
        out.sort();
        out
    }

    /// Calls refused because a connection's daily budget was spent (a counter, for `/metrics`).
    pub fn budget_refusals(&self) -> u64 {
        self.refusals.load(Ordering::Relaxed)
    }

    /// Token requests sent by this manager since it started.
    pub fn token_requests_sent(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// Each connection's budget for the current UTC day.
    pub fn budgets(&self) -> Result<Vec<BudgetStatus>, StoreError> {
        let day = ledger::day(self.clock.now());
        let conns: Vec<Arc<Conn>> = self
            .conns
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect();
        let mut out = Vec::with_capacity(conns.len());
        for c in conns {
            out.push(BudgetStatus {
                used: self.store.token_requests(&c.tenant, &c.id, &day)?,
                tenant: c.tenant.clone(),
                connection: c.id.clone(),
                day: day.clone(),
                budget: c.config.daily_token_budget,
            });
        }
        out.sort_by(|a, b| (&a.tenant, &a.connection).cmp(&(&b.tenant, &b.connection)));
        Ok(out)
    }

    /// Asks the token endpoint for a new token now, whatever is cached (counted against the
    /// budget), and caches it. `ping` uses this to prove the configured secret works.
    pub(crate) async fn fresh_authorization(
        &self,
        tenant: &str,
        connection: &str,
    ) -> Result<SecretString, FetchError> {
        self.header(tenant, connection, Mode::Fresh).await
    }

    fn conn(&self, tenant: &str, id: &str) -> Result<Arc<Conn>, FetchError> {
        self.conns
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&(tenant.to_owned(), id.to_owned()))
            .cloned()
            .ok_or_else(|| FetchError::UnknownConnection {
                tenant: tenant.to_owned(),
                connection: id.to_owned(),
            })
    }

    async fn header(&self, tenant: &str, id: &str, mode: Mode) -> Result<SecretString, FetchError> {
        let conn = self.conn(tenant, id)?;
        let margin = conn.config.refresh_margin;
        if mode == Mode::Cached
            && let Some(c) = conn.cached()
            && c.fresh(self.clock.now_ms(), margin)
        {
            return Ok(c.header.clone());
        }
        let _flight = conn.fetch.lock().await;
        let now = self.clock.now_ms();
        if mode == Mode::Cached {
            if let Some(c) = conn.cached()
                && c.fresh(now, margin)
            {
                return Ok(c.header.clone());
            }
            // After a restart (or another host's refresh) the store may hold a live token.
            if let Some(stored) = self.load(&conn) {
                let stored = Arc::new(stored);
                let fresh = stored.fresh(now, margin);
                let newer = conn
                    .cached()
                    .is_none_or(|c| c.expires_at_ms < stored.expires_at_ms);
                if newer {
                    conn.set_cached(Some(stored.clone()));
                }
                if fresh {
                    return Ok(stored.header.clone());
                }
            }
            if let Some((error, budget)) = conn.recent_failure(now) {
                if budget {
                    self.refusals.fetch_add(1, Ordering::Relaxed);
                }
                if let Some(c) = conn.cached().filter(|c| c.usable(now)) {
                    return Ok(c.header.clone());
                }
                return Err(FetchError::Recent(error));
            }
        }
        match self.fetch(&conn).await {
            Ok(token) => {
                conn.set_failure(None);
                let header = token.header.clone();
                conn.set_cached(Some(Arc::new(token)));
                Ok(header)
            }
            Err(e) => {
                let error = e.to_credential_error();
                let budget = matches!(e, FetchError::Budget { .. });
                let hold_ms = match error.status {
                    429 => i64::try_from(error.retry_after_s.unwrap_or(60))
                        .unwrap_or(i64::MAX / 2_000)
                        .saturating_mul(1000),
                    401 | 403 => 30_000,
                    _ => 5_000,
                };
                conn.set_failure(Some(Failure {
                    until_ms: now.saturating_add(hold_ms),
                    error,
                    budget,
                }));
                if mode == Mode::Cached
                    && let Some(c) = conn.cached().filter(|c| c.usable(now))
                {
                    tracing::warn!(tenant = %conn.tenant, connection = %conn.id, "token refresh failed, using the current token until it expires: {e}");
                    return Ok(c.header.clone());
                }
                Err(e)
            }
        }
    }

    /// Counts the request in the ledger, then asks the token endpoint. Called under the
    /// connection's fetch guard.
    #[tracing::instrument(name = "mlc.host.credentials.token", skip_all, fields(tenant = %conn.tenant, connection = %conn.id))]
    async fn fetch(&self, conn: &Conn) -> Result<Cached, FetchError> {
        // The secret first: a missing secret must not spend budget.
        let secret = self.client_secret(conn)?;
        let now = self.clock.now();
        let day = ledger::day(now);
        let budget = conn.config.daily_token_budget;
        let store_err = |source| FetchError::Store {
            tenant: conn.tenant.clone(),
            connection: conn.id.clone(),
            source,
        };
        match self
            .store
            .token_reserve(&conn.tenant, &conn.id, &day, budget)
            .map_err(store_err)?
        {
            Reservation::Granted { used } => {
                tracing::debug!(used, budget, %day, "token request counted");
            }
            Reservation::Refused { used } => {
                self.refusals.fetch_add(1, Ordering::Relaxed);
                let e = FetchError::Budget {
                    tenant: conn.tenant.clone(),
                    connection: conn.id.clone(),
                    day,
                    used,
                    budget,
                    retry_after_s: ledger::seconds_until_next_day(now),
                };
                tracing::warn!(budget, used, "token request refused: {e}");
                return Err(e);
            }
        }
        self.requests.fetch_add(1, Ordering::Relaxed);
        // The lifetime counts from before the request, so network time never makes the cache
        // believe a token lives longer than it does.
        let obtained_at_ms = self.clock.now_ms();
        let issued = oauth::request_token(&self.http, &conn.config, &secret)
            .await
            .map_err(|source| {
                tracing::warn!("token request failed: {source}");
                FetchError::Token {
                    tenant: conn.tenant.clone(),
                    connection: conn.id.clone(),
                    source: Box::new(source),
                }
            })?;
        let lifetime_ms = i64::try_from(issued.expires_in.as_millis()).unwrap_or(i64::MAX / 2);
        let token = Cached {
            header: SecretString::new(format!(
                "{} {}",
                issued.token_type,
                issued.access_token.expose()
            )),
            obtained_at_ms,
            expires_at_ms: obtained_at_ms.saturating_add(lifetime_ms),
        };
        tracing::info!(expires_in_s = issued.expires_in.as_secs(), "token issued");
        self.persist(conn, &token);
        Ok(token)
    }

    fn client_secret(&self, conn: &Conn) -> Result<SecretString, FetchError> {
        let fail = |message: String| FetchError::Secret {
            tenant: conn.tenant.clone(),
            connection: conn.id.clone(),
            message,
        };
        match &conn.config.client_secret {
            SecretRef::Secret(name) => {
                let Some(vault) = &self.vault else {
                    return Err(fail(format!(
                        "secret `{name}` is in the vault, but no master key is configured (set MLC_MASTER_KEY or MLC_MASTER_KEY_FILE)"
                    )));
                };
                match vault.get(&conn.tenant, &conn.scope, name) {
                    Ok(Some(secret)) => Ok(secret),
                    Ok(None) => Err(fail(format!(
                        "secret `{name}` is not set (ml-connector secrets set --tenant {} --scope {} {name})",
                        conn.tenant, conn.scope
                    ))),
                    Err(e) => Err(fail(e.to_string())),
                }
            }
            SecretRef::Env(var) => match std::env::var(var) {
                Ok(v) if !v.is_empty() => Ok(SecretString::new(v)),
                _ => Err(fail(format!("environment variable `{var}` is not set"))),
            },
        }
    }

    fn persist(&self, conn: &Conn, token: &Cached) {
        let Some(vault) = &self.vault else {
            return;
        };
        let persisted = Persisted {
            header: token.header.expose().to_owned(),
            obtained_at_ms: token.obtained_at_ms,
            expires_at_ms: token.expires_at_ms,
        };
        let Ok(plain) = serde_json::to_vec(&persisted) else {
            return;
        };
        let sealed = vault.seal(&conn.tenant, &conn.scope, TOKEN_NAME, &plain);
        if let Err(e) = self.store.token_put(&conn.tenant, &conn.id, &sealed) {
            // The token still works from memory; only a restart would cost a new one.
            tracing::warn!(tenant = %conn.tenant, connection = %conn.id, "caching the token failed: {e}");
        }
    }

    fn load(&self, conn: &Conn) -> Option<Cached> {
        let vault = self.vault.as_ref()?;
        let sealed = match self.store.token_get(&conn.tenant, &conn.id) {
            Ok(sealed) => sealed?,
            Err(e) => {
                tracing::warn!(tenant = %conn.tenant, connection = %conn.id, "reading the cached token failed: {e}");
                return None;
            }
        };
        let plain = match vault.unseal(&conn.tenant, &conn.scope, TOKEN_NAME, &sealed) {
            Ok(plain) => plain,
            Err(VaultError::Corrupt { reason, .. }) => {
                // Sealed under an earlier master key, or damaged: a new token replaces it.
                tracing::info!(tenant = %conn.tenant, connection = %conn.id, "cached token unusable ({reason}); fetching a new one");
                return None;
            }
            Err(e) => {
                tracing::warn!(tenant = %conn.tenant, connection = %conn.id, "cached token unreadable: {e}");
                return None;
            }
        };
        let p: Persisted = serde_json::from_slice(&plain).ok()?;
        Some(Cached {
            header: SecretString::new(p.header),
            obtained_at_ms: p.obtained_at_ms,
            expires_at_ms: p.expires_at_ms,
        })
    }

    async fn discard(&self, tenant: &str, id: &str, header: &str) {
        let Ok(conn) = self.conn(tenant, id) else {
            return;
        };
        let _flight = conn.fetch.lock().await;
        let Some(current) = conn.cached() else {
            return;
        };
        // Only the token that was refused: when many calls saw the same 401, the first one
        // replaces it and the rest find a new token already.
        if current.header.expose() != header {
            return;
        }
        let age_ms = self.clock.now_ms() - current.obtained_at_ms;
        if age_ms < REJECT_COOLDOWN_MS {
            tracing::warn!(
                tenant,
                connection = id,
                age_ms,
                "upstream refused a token issued moments ago; keeping it rather than spending the budget on another (calls fail as unauthorized)"
            );
            return;
        }
        tracing::info!(
            tenant,
            connection = id,
            "upstream refused the token (401); discarding it"
        );
        conn.set_cached(None);
        if let Err(e) = self.store.token_delete(tenant, id) {
            tracing::warn!(
                tenant,
                connection = id,
                "deleting the cached token failed: {e}"
            );
        }
    }
}

impl Credentials for TokenManager {
    fn connection_for(
        &self,
        tenant: &str,
        connections: &[String],
        scheme: &str,
        host: &str,
        port: u16,
    ) -> Option<String> {
        let conns = self.conns.read().unwrap_or_else(|p| p.into_inner());
        connections
            .iter()
            .find(|id| {
                conns
                    .get(&(tenant.to_owned(), (*id).clone()))
                    .is_some_and(|c| c.config.hosts.iter().any(|h| h.matches(scheme, host, port)))
            })
            .cloned()
    }

    fn authorization<'a>(
        &'a self,
        tenant: &'a str,
        connection: &'a str,
    ) -> BoxFuture<'a, Result<String, CredentialError>> {
        Box::pin(async move {
            self.header(tenant, connection, Mode::Cached)
                .await
                .map(|h| h.expose().to_owned())
                .map_err(|e| e.to_credential_error())
        })
    }

    fn rejected<'a>(
        &'a self,
        tenant: &'a str,
        connection: &'a str,
        header: &'a str,
    ) -> BoxFuture<'a, ()> {
        Box::pin(self.discard(tenant, connection, header))
    }
}
