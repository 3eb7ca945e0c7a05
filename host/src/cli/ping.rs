//! `ml-connector ping --config FILE [--tenant T]`: checks every configured connection against
//! the real systems before going live.
//!
//! Per connection: request a new token (proving the configured client secret works; it counts
//! against the daily budget and is then cached for the service), then one authenticated GET of
//! the connection's `ping_url`. One line per connection: `OK` with the latencies, or `FAIL` with
//! the cause — DNS, TLS, refused, timeout, 401, 403, 429, another status, or an unexpected body.
//! The exit status is non-zero when any connection fails.
//!
//! The read accepts a 2xx with a readable body, and a 404 with a JSON error body (the system
//! authenticated the call and answered that the resource does not exist — enough to prove the
//! credentials). Every read carries `transId` and `transactionSrc` headers, which UPS requires
//! on its tracking API and other systems ignore.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;
use rand::RngCore;

use crate::clock::SystemClock;
use crate::config::{Config, SecretRef};
use crate::credentials::{TokenManager, oauth};
use crate::db::{DB_FILE, Store, TokenStore, open_data_dir};
use crate::vault::{MasterKey, Vault, VaultError};

/// `ml-connector ping`
#[derive(Debug, Args)]
pub struct PingArgs {
    /// The service config file.
    #[arg(long)]
    pub config: PathBuf,
    /// Only this tenant's connections.
    #[arg(long)]
    pub tenant: Option<String>,
}

/// Runs `ping` from the command line: the data directory's store (so tokens count against the
/// same budget as the service's), the master key from the environment.
pub async fn run(args: PingArgs) -> ExitCode {
    let config = match Config::load(&args.config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let data_dir = &config.service.data_dir;
    let opened: Result<Arc<dyn Store>, String> = if data_dir.join(DB_FILE).exists() {
        open_data_dir(data_dir).map_err(|e| e.to_string())
    } else {
        // Nothing to share a budget with yet; do not create a data directory just to ping.
        crate::db::in_memory().map_err(|e| e.to_string())
    };
    let store = match opened {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let needs_vault = config.tenants.iter().any(|t| {
        t.connections
            .values()
            .any(|c| matches!(c.client_secret, SecretRef::Secret(_)))
    });
    let vault = match MasterKey::from_env() {
        Ok(key) => match Vault::open(store.clone() as Arc<dyn Store>, key) {
            Ok(v) => Some(v),
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        },
        Err(VaultError::NoKey) if !needs_vault => None,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let manager = match TokenManager::from_config(
        &config,
        store as Arc<dyn TokenStore>,
        vault,
        Arc::new(SystemClock),
    ) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut out = std::io::stdout();
    if ping(&config, args.tenant.as_deref(), &manager, &mut out).await {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Pings every connection of `config` (of `tenant` only, if given) through `manager`, printing
/// one line per connection and a summary to `out`. True when all are OK.
pub async fn ping(
    config: &Config,
    tenant: Option<&str>,
    manager: &TokenManager,
    out: &mut impl Write,
) -> bool {
    let http = match reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(30))
        .redirect(reqwest::redirect::Policy::none())
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            let _ = writeln!(out, "FAIL cannot build an HTTP client: {e}");
            return false;
        }
    };
    let mut total = 0;
    let mut failed = 0;
    for t in &config.tenants {
        if tenant.is_some_and(|want| want != t.id) {
            continue;
        }
        for (id, conn) in &t.connections {
            total += 1;
            let line = match ping_one(manager, &http, &t.id, id, conn.ping_url.as_deref()).await {
                Ok(ok) => format!("OK   {}/{id}  {ok}", t.id),
                Err(cause) => {
                    failed += 1;
                    format!("FAIL {}/{id}  {cause}", t.id)
                }
            };
            let _ = writeln!(out, "{line}");
        }
    }
    if total == 0 {
        let _ = writeln!(
            out,
            "FAIL no connections configured{}",
            tenant
                .map(|t| format!(" for tenant `{t}`"))
                .unwrap_or_default()
        );
        return false;
    }
    let _ = writeln!(
        out,
        "{total} connection(s): {} OK, {failed} failed",
        total - failed
    );
    failed == 0
}

async fn ping_one(
    manager: &TokenManager,
    http: &reqwest::Client,
    tenant: &str,
    id: &str,
    ping_url: Option<&str>,
) -> Result<String, String> {
    let started = Instant::now();
    let header = manager
        .fresh_authorization(tenant, id)
        .await
        .map_err(|e| format!("token: {e}"))?;
    let token_ms = started.elapsed().as_millis();
    let Some(url) = ping_url else {
        return Ok(format!(
            "token in {token_ms} ms (no ping_url configured: authenticated read skipped)"
        ));
    };
    let mut trans_id = [0u8; 16];
    rand::rng().fill_bytes(&mut trans_id);
    let started = Instant::now();
    let response = http
        .get(url)
        .header(http::header::AUTHORIZATION, header.expose())
        .header(http::header::ACCEPT, "application/json")
        .header("transId", hex::encode(trans_id))
        .header("transactionSrc", "ml-connector-ping")
        .send()
        .await
        .map_err(|e| format!("read GET {url}: {}", oauth::classify(url, &e)))?;
    let status = response.status();
    let json = response
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.contains("json"));
    let body = response
        .bytes()
        .await
        .map_err(|e| format!("read GET {url}: {}", oauth::classify(url, &e)))?;
    let read_ms = started.elapsed().as_millis();
    let readable = !json || serde_json::from_slice::<serde_json::Value>(&body).is_ok();
    let code = status.as_u16();
    match code {
        200..=299 if readable => Ok(format!(
            "token in {token_ms} ms, read GET {url} → {code} in {read_ms} ms"
        )),
        200..=299 => Err(format!(
            "read GET {url}: unexpected body ({code} with content that is not the JSON it claims)"
        )),
        404 if json && readable => Ok(format!(
            "token in {token_ms} ms, read GET {url} → 404 in {read_ms} ms (credentials accepted; no such resource)"
        )),
        401 => Err(format!(
            "read GET {url}: 401 unauthorized (the token was refused){}",
            detail(&body)
        )),
        403 => Err(format!(
            "read GET {url}: 403 forbidden (the client lacks access to this API){}",
            detail(&body)
        )),
        429 => Err(format!("read GET {url}: 429 rate limited{}", detail(&body))),
        _ => Err(format!(
            "read GET {url}: unexpected status {code}{}",
            detail(&body)
        )),
    }
}

/// A short excerpt of an error body (error bodies carry codes, not credentials).
fn detail(body: &[u8]) -> String {
    let text: String = String::from_utf8_lossy(body)
        .chars()
        .filter(|c| !c.is_control())
        .take(160)
        .collect();
    if text.trim().is_empty() {
        String::new()
    } else {
        format!(
            ": {}",
            crate::capabilities::http::redact_body(text.as_bytes())
        )
    }
}
