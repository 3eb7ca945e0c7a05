//! The service configuration: one TOML file with tenants, their connections, plugin bindings
//! and grants, flows with schedules, and settings — validated at start-up with errors that name
//! the file, the key and what is wrong.
//!
//! Secrets never sit in the file: a connection's client secret is a reference to the vault
//! (`client_secret = { secret = "ifs-client-secret" }`) or, for bootstrapping, an environment
//! variable (`{ env = "IFS_CLIENT_SECRET" }`).
//!
//! Environment overrides (applied after the file): `MLC_DATA_DIR`, `MLC_ADMIN_LISTEN`,
//! `MLC_WEBHOOK_LISTEN`, `MLC_PLUGINS_DIR`, `MLC_LOG_FORMAT`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::manifest::{Binding, Grants, HostGrant, Limits, MAX_PLUGIN_MEMORY};

/// Why a configuration was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The TOML does not parse or does not fit the schema.
    #[error("config file {path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's message, with line and column.
        message: String,
    },
    /// A value is wrong.
    #[error("config file {path}: `{key}`: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The key, as a dotted path.
        key: String,
        /// What is wrong.
        message: String,
    },
}

/// The whole configuration file.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Service-wide settings.
    #[serde(default)]
    pub service: ServiceConfig,
    /// Per-plugin overrides (a component file replacing the bundled one, limits).
    #[serde(default)]
    pub plugins: BTreeMap<String, PluginConfig>,
    /// The tenants.
    #[serde(default)]
    pub tenants: Vec<TenantConfig>,
}

/// Service-wide settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServiceConfig {
    /// Where the SQLite store and the compilation cache live.
    pub data_dir: PathBuf,
    /// Admin API address (authenticated, except `/healthz`, `/readyz`, `/metrics`).
    pub admin_listen: SocketAddr,
    /// Webhook ingress address (authenticated per tenant).
    pub webhook_listen: SocketAddr,
    /// Environment variable that holds the admin bearer token.
    pub admin_token_env: String,
    /// A directory watched for `<plugin-id>.wasm` files that replace plugins at run time.
    pub plugins_dir: Option<PathBuf>,
    /// `text` or `json` logs.
    pub log_format: LogFormat,
}

impl Default for ServiceConfig {
    fn default() -> Self {
        ServiceConfig {
            data_dir: PathBuf::from("ml-connector-data"),
            admin_listen: SocketAddr::from(([127, 0, 0, 1], 8700)),
            webhook_listen: SocketAddr::from(([127, 0, 0, 1], 8701)),
            admin_token_env: "MLC_ADMIN_TOKEN".into(),
            plugins_dir: None,
            log_format: LogFormat::Text,
        }
    }
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Overrides for one plugin id.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PluginConfig {
    /// A component file to load instead of the bundled one (or for a third-party plugin).
    pub path: Option<PathBuf>,
    /// The world, required for third-party plugins (`erp`, `carrier`, `flow`).
    pub world: Option<crate::manifest::WorldKind>,
    /// Limits per invocation.
    #[serde(default)]
    pub limits: Option<Limits>,
}

/// One tenant: a customer with its own IFS tenant, company, UPS account and credentials.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantConfig {
    /// Unique id (kebab-case).
    pub id: String,
    /// Display name.
    #[serde(default)]
    pub name: Option<String>,
    /// OAuth2 connections by id.
    #[serde(default)]
    pub connections: BTreeMap<String, ConnectionConfig>,
    /// Connector bindings by plugin id.
    #[serde(default)]
    pub plugins: BTreeMap<String, PluginBinding>,
    /// Flows by plugin id.
    #[serde(default)]
    pub flows: BTreeMap<String, FlowConfig>,
    /// Track Alert webhook ingress.
    #[serde(default)]
    pub webhook: Option<WebhookConfig>,
}

/// Where a secret value comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "lowercase")]
pub enum SecretRef {
    /// A secret stored with `ml-connector secrets set` (scope `connection:<id>` for
    /// connections, `webhook` for webhooks).
    Secret(String),
    /// An environment variable read at start-up.
    Env(String),
}

/// How the client authenticates at the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClientAuth {
    /// HTTP Basic with client id and secret (UPS).
    Basic,
    /// `client_id` and `client_secret` in the form body (IFS).
    Body,
}

/// An OAuth2 client-credentials connection.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectionConfig {
    /// Token endpoint URL.
    pub token_url: String,
    /// Client id.
    pub client_id: String,
    /// Client secret reference.
    pub client_secret: SecretRef,
    /// Requested scope, if any.
    #[serde(default)]
    pub scope: Option<String>,
    /// Client authentication style.
    #[serde(default = "default_client_auth")]
    pub client_auth: ClientAuth,
    /// Extra headers on token requests (e.g. `x-merchant-id`).
    #[serde(default)]
    pub extra_headers: BTreeMap<String, String>,
    /// Hosts whose requests get this connection's token (`https://host[:port]`).
    pub hosts: Vec<HostGrant>,
    /// Refresh this long before expiry (e.g. `"60s"`).
    #[serde(default = "default_refresh_margin", with = "humantime_serde_compat")]
    pub refresh_margin: Duration,
    /// Most token requests per UTC day (UPS allows about 250).
    #[serde(default = "default_budget")]
    pub daily_token_budget: u32,
    /// A cheap authenticated GET used by `ping` (URL).
    #[serde(default)]
    pub ping_url: Option<String>,
}

fn default_client_auth() -> ClientAuth {
    ClientAuth::Basic
}
fn default_refresh_margin() -> Duration {
    Duration::from_secs(60)
}
fn default_budget() -> u32 {
    250
}

/// A connector bound to a tenant.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PluginBinding {
    /// Hosts it may call (`https://host[:port]`).
    #[serde(default)]
    pub hosts: Vec<HostGrant>,
    /// Secrets it may read.
    #[serde(default)]
    pub secrets: Vec<String>,
    /// Storage quota in bytes.
    #[serde(default)]
    pub storage_quota_bytes: Option<u64>,
    /// Connections whose tokens go on its requests.
    #[serde(default)]
    pub connections: Vec<String>,
    /// Settings read through `mlc:connect/config` (strings; structured values as JSON).
    #[serde(default)]
    pub settings: BTreeMap<String, String>,
}

/// A flow bound to a tenant.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlowConfig {
    /// The ERP connector serving the flow's `erp` import.
    pub erp: String,
    /// The carrier connector serving the flow's `carrier` import.
    pub carrier: String,
    /// When to look for new work.
    #[serde(default)]
    pub schedule: Schedule,
    /// How often to run upkeep (subscriptions, polling).
    #[serde(default = "default_maintain", with = "humantime_serde_compat")]
    pub maintain_every: Duration,
    /// Work items processed at once for this tenant.
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
    /// Attempts before a retryable failure becomes permanent.
    #[serde(default = "default_attempts")]
    pub max_attempts: u32,
    /// First retry delay (doubles per attempt, with jitter; a `Retry-After` wins).
    #[serde(default = "default_retry_base", with = "humantime_serde_compat")]
    pub retry_base: Duration,
    /// Longest retry delay.
    #[serde(default = "default_retry_max", with = "humantime_serde_compat")]
    pub retry_max: Duration,
    /// Settings read through `mlc:connect/config`.
    #[serde(default)]
    pub settings: BTreeMap<String, String>,
    /// Storage quota in bytes.
    #[serde(default)]
    pub storage_quota_bytes: Option<u64>,
}

fn default_maintain() -> Duration {
    Duration::from_secs(600)
}
fn default_concurrency() -> usize {
    8
}
fn default_attempts() -> u32 {
    10
}
fn default_retry_base() -> Duration {
    Duration::from_secs(2)
}
fn default_retry_max() -> Duration {
    Duration::from_secs(300)
}

/// A schedule: a fixed interval or a cron expression (with seconds), plus jitter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Schedule {
    /// Interval, e.g. `"60s"`.
    #[serde(default, with = "humantime_serde_compat::option")]
    pub every: Option<Duration>,
    /// Cron expression, e.g. `"0 */5 * * * *"` (seconds field first).
    #[serde(default)]
    pub cron: Option<String>,
    /// Random delay added to each run, up to this much.
    #[serde(default, with = "humantime_serde_compat::option")]
    pub jitter: Option<Duration>,
}

impl Default for Schedule {
    fn default() -> Self {
        Schedule {
            every: Some(Duration::from_secs(60)),
            cron: None,
            jitter: None,
        }
    }
}

/// Webhook ingress for a tenant: `POST /webhooks/<carrier>/<tenant>`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// The carrier connector that parses deliveries; also the first segment of the path.
    pub carrier: String,
    /// The flow that applies the events.
    pub flow: String,
    /// The header that must carry the shared credential (Track Alert v1: `credential`).
    #[serde(default = "default_webhook_header")]
    pub header: String,
    /// The expected credential value.
    pub credential: SecretRef,
    /// Largest body accepted, in bytes.
    #[serde(default = "default_webhook_body")]
    pub max_body_bytes: usize,
}

fn default_webhook_header() -> String {
    "credential".into()
}

fn default_webhook_body() -> usize {
    256 * 1024
}

/// `serde` adapters for humantime durations (`"60s"`, `"10m"`, `"1h 30m"`).
mod humantime_serde_compat {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&humantime::format_duration(*d).to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(d)?;
        humantime::parse_duration(&text)
            .map_err(|e| serde::de::Error::custom(format!("`{text}` is not a duration: {e}")))
    }

    pub mod option {
        use super::*;

        pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
            match d {
                Some(d) => super::serialize(d, s),
                None => s.serialize_none(),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
            super::deserialize(d).map(Some)
        }
    }
}

/// How a ranged number is shown in an error.
#[derive(Debug, Clone, Copy)]
enum Unit {
    Count,
    Bytes,
    Millis,
}

/// The accepted range of one kind of number (durations in milliseconds).
#[derive(Debug, Clone, Copy)]
struct Range {
    min: u128,
    max: u128,
    unit: Unit,
}

impl Range {
    const fn count(min: u128, max: u128) -> Self {
        Range {
            min,
            max,
            unit: Unit::Count,
        }
    }
    const fn bytes(min: u128, max: u128) -> Self {
        Range {
            min,
            max,
            unit: Unit::Bytes,
        }
    }
    const fn millis(min: u128, max: u128) -> Self {
        Range {
            min,
            max,
            unit: Unit::Millis,
        }
    }

    fn show(&self, v: u128) -> String {
        match self.unit {
            Unit::Count => v.to_string(),
            Unit::Bytes => format!("{v} bytes"),
            Unit::Millis => {
                let d = Duration::from_millis(u64::try_from(v).unwrap_or(u64::MAX));
                humantime::format_duration(d).to_string()
            }
        }
    }
}

const KIB: u128 = 1024;
const MIB: u128 = 1024 * KIB;
const SECOND: u128 = 1000;
const HOUR: u128 = 3600 * SECOND;

// The range of every number in the configuration. A value outside is refused at start-up: an
// upper bound keeps a typo (`max_body_bytes = 10 GB`) from turning into memory exhaustion or a
// loop that never runs, a lower bound from a busy loop. Documented in README's config section.
const MEMORY_BYTES: Range = Range::bytes(MIB, MAX_PLUGIN_MEMORY as u128);
const CPU_MS: Range = Range::count(1, 600_000);
const WALL_MS: Range = Range::count(10, 3_600_000);
const REFRESH_MARGIN: Range = Range::millis(0, HOUR);
const DAILY_TOKEN_BUDGET: Range = Range::count(1, 100_000);
const STORAGE_QUOTA_BYTES: Range = Range::bytes(KIB, 1024 * MIB);
const SCHEDULE_EVERY: Range = Range::millis(SECOND, 7 * 24 * HOUR);
const SCHEDULE_JITTER: Range = Range::millis(0, HOUR);
const MAINTAIN_EVERY: Range = Range::millis(SECOND, 24 * HOUR);
const CONCURRENCY: Range = Range::count(1, 256);
const MAX_ATTEMPTS: Range = Range::count(1, 1_000);
const RETRY_BASE: Range = Range::millis(10, HOUR);
const RETRY_MAX: Range = Range::millis(10, 7 * 24 * HOUR);
const MAX_BODY_BYTES: Range = Range::bytes(KIB, 16 * MIB);

impl Config {
    /// Reads, parses, applies environment overrides and validates a config file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let mut config = Self::parse(path, &text)?;
        config.apply_env(path)?;
        config.resolve_paths(path)?;
        config.validate(path)?;
        Ok(config)
    }

    /// Makes every path of the configuration absolute, against the working directory at start-up
    /// (once: nothing later depends on the working directory, and every path the host prints is
    /// absolute). wasmtime's compilation cache, under the data directory, needs an absolute path.
    pub fn resolve_paths(&mut self, path: &Path) -> Result<(), ConfigError> {
        let absolute = |key: &str, p: &Path| {
            std::path::absolute(p).map_err(|e| ConfigError::Invalid {
                path: path.to_owned(),
                key: key.into(),
                message: format!(
                    "cannot resolve `{}` against the working directory: {e}",
                    p.display()
                ),
            })
        };
        self.service.data_dir = absolute("service.data_dir", &self.service.data_dir)?;
        if let Some(dir) = &self.service.plugins_dir {
            self.service.plugins_dir = Some(absolute("service.plugins_dir", dir)?);
        }
        for (id, plugin) in &mut self.plugins {
            if let Some(file) = &plugin.path {
                plugin.path = Some(absolute(&format!("plugins.{id}.path"), file)?);
            }
        }
        Ok(())
    }

    /// Parses TOML text (no validation).
    pub fn parse(path: &Path, text: &str) -> Result<Config, ConfigError> {
        toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_owned(),
            message: e.to_string(),
        })
    }

    fn apply_env(&mut self, path: &Path) -> Result<(), ConfigError> {
        let invalid = |key: &str, message: String| ConfigError::Invalid {
            path: path.to_owned(),
            key: key.into(),
            message,
        };
        if let Ok(v) = std::env::var("MLC_DATA_DIR") {
            self.service.data_dir = PathBuf::from(v);
        }
        if let Ok(v) = std::env::var("MLC_ADMIN_LISTEN") {
            self.service.admin_listen = v
                .parse()
                .map_err(|e| invalid("MLC_ADMIN_LISTEN", format!("`{v}`: {e}")))?;
        }
        if let Ok(v) = std::env::var("MLC_WEBHOOK_LISTEN") {
            self.service.webhook_listen = v
                .parse()
                .map_err(|e| invalid("MLC_WEBHOOK_LISTEN", format!("`{v}`: {e}")))?;
        }
        if let Ok(v) = std::env::var("MLC_PLUGINS_DIR") {
            self.service.plugins_dir = Some(PathBuf::from(v));
        }
        if let Ok(v) = std::env::var("MLC_LOG_FORMAT") {
            self.service.log_format = match v.as_str() {
                "text" => LogFormat::Text,
                "json" => LogFormat::Json,
                other => {
                    return Err(invalid(
                        "MLC_LOG_FORMAT",
                        format!("`{other}` is not `text` or `json`"),
                    ));
                }
            };
        }
        Ok(())
    }

    /// Checks that every number of the configuration lies in its range; the
    /// first one outside is reported with its key, its value and the range.
    fn check_ranges(&self, path: &Path) -> Result<(), ConfigError> {
        let mut checks: Vec<(String, Range, u128)> = Vec::new();
        let ms = |d: &Duration| d.as_millis();
        for (id, p) in &self.plugins {
            if let Some(l) = &p.limits {
                let k = format!("plugins.{id}.limits");
                checks.push((
                    format!("{k}.memory_bytes"),
                    MEMORY_BYTES,
                    u128::from(l.memory_bytes),
                ));
                checks.push((format!("{k}.cpu_ms"), CPU_MS, u128::from(l.cpu_ms)));
                checks.push((format!("{k}.wall_ms"), WALL_MS, u128::from(l.wall_ms)));
            }
        }
        for t in &self.tenants {
            let tk = format!("tenants.{}", t.id);
            for (id, c) in &t.connections {
                let k = format!("{tk}.connections.{id}");
                checks.push((
                    format!("{k}.refresh_margin"),
                    REFRESH_MARGIN,
                    ms(&c.refresh_margin),
                ));
                checks.push((
                    format!("{k}.daily_token_budget"),
                    DAILY_TOKEN_BUDGET,
                    u128::from(c.daily_token_budget),
                ));
            }
            for (id, b) in &t.plugins {
                if let Some(q) = b.storage_quota_bytes {
                    checks.push((
                        format!("{tk}.plugins.{id}.storage_quota_bytes"),
                        STORAGE_QUOTA_BYTES,
                        u128::from(q),
                    ));
                }
            }
            for (id, f) in &t.flows {
                let k = format!("{tk}.flows.{id}");
                if let Some(every) = &f.schedule.every {
                    checks.push((format!("{k}.schedule.every"), SCHEDULE_EVERY, ms(every)));
                }
                if let Some(jitter) = &f.schedule.jitter {
                    checks.push((format!("{k}.schedule.jitter"), SCHEDULE_JITTER, ms(jitter)));
                }
                checks.push((
                    format!("{k}.maintain_every"),
                    MAINTAIN_EVERY,
                    ms(&f.maintain_every),
                ));
                checks.push((
                    format!("{k}.concurrency"),
                    CONCURRENCY,
                    f.concurrency as u128,
                ));
                checks.push((
                    format!("{k}.max_attempts"),
                    MAX_ATTEMPTS,
                    u128::from(f.max_attempts),
                ));
                checks.push((format!("{k}.retry_base"), RETRY_BASE, ms(&f.retry_base)));
                checks.push((format!("{k}.retry_max"), RETRY_MAX, ms(&f.retry_max)));
                if let Some(q) = f.storage_quota_bytes {
                    checks.push((
                        format!("{k}.storage_quota_bytes"),
                        STORAGE_QUOTA_BYTES,
                        u128::from(q),
                    ));
                }
                if f.retry_max < f.retry_base {
                    return Err(ConfigError::Invalid {
                        path: path.to_owned(),
                        key: format!("{k}.retry_max"),
                        message: "must not be shorter than `retry_base`".into(),
                    });
                }
            }
            if let Some(w) = &t.webhook {
                checks.push((
                    format!("{tk}.webhook.max_body_bytes"),
                    MAX_BODY_BYTES,
                    w.max_body_bytes as u128,
                ));
            }
        }
        for (key, r, value) in checks {
            if value < r.min || value > r.max {
                return Err(ConfigError::Invalid {
                    path: path.to_owned(),
                    key,
                    message: format!(
                        "{} is out of range: it must be between {} and {}",
                        r.show(value),
                        r.show(r.min),
                        r.show(r.max)
                    ),
                });
            }
        }
        Ok(())
    }

    /// Checks cross-references and values; the first problem is reported with its key.
    pub fn validate(&self, path: &Path) -> Result<(), ConfigError> {
        let invalid = |key: String, message: String| {
            Err(ConfigError::Invalid {
                path: path.to_owned(),
                key,
                message,
            })
        };
        let mut seen = std::collections::BTreeSet::new();
        for (i, t) in self.tenants.iter().enumerate() {
            let tk = format!("tenants[{i}]");
            if !is_id(&t.id) {
                return invalid(
                    format!("{tk}.id"),
                    format!("`{}` must be lower-case letters, digits and `-`", t.id),
                );
            }
            if !seen.insert(t.id.clone()) {
                return invalid(
                    format!("{tk}.id"),
                    format!("tenant `{}` is defined twice", t.id),
                );
            }
            let tk = format!("tenants.{}", t.id);
            for (id, c) in &t.connections {
                if !c.token_url.starts_with("http://") && !c.token_url.starts_with("https://") {
                    return invalid(
                        format!("{tk}.connections.{id}.token_url"),
                        format!("`{}` is not an http(s) URL", c.token_url),
                    );
                }
                if c.hosts.is_empty() {
                    return invalid(
                        format!("{tk}.connections.{id}.hosts"),
                        "lists no host, so its token would never be used".into(),
                    );
                }
                if c.daily_token_budget == 0 {
                    return invalid(
                        format!("{tk}.connections.{id}.daily_token_budget"),
                        "must be at least 1".into(),
                    );
                }
            }
            for (plugin, b) in &t.plugins {
                for (j, conn) in b.connections.iter().enumerate() {
                    if !t.connections.contains_key(conn) {
                        return invalid(
                            format!("{tk}.plugins.{plugin}.connections[{j}]"),
                            format!("no connection `{conn}` in this tenant"),
                        );
                    }
                }
            }
            for (flow, f) in &t.flows {
                for (iface, plugin) in [("erp", &f.erp), ("carrier", &f.carrier)] {
                    if !t.plugins.contains_key(plugin) {
                        return invalid(
                            format!("{tk}.flows.{flow}.{iface}"),
                            format!("plugin `{plugin}` is not bound in this tenant"),
                        );
                    }
                }
                if f.schedule.every.is_none() == f.schedule.cron.is_none() {
                    return invalid(
                        format!("{tk}.flows.{flow}.schedule"),
                        "set exactly one of `every` or `cron`".into(),
                    );
                }
                if let Some(cron) = &f.schedule.cron
                    && let Err(e) = cron.parse::<croner::Cron>()
                {
                    return invalid(
                        format!("{tk}.flows.{flow}.schedule.cron"),
                        format!("`{cron}`: {e}"),
                    );
                }
                if f.concurrency == 0 {
                    return invalid(
                        format!("{tk}.flows.{flow}.concurrency"),
                        "must be at least 1".into(),
                    );
                }
            }
            if let Some(w) = &t.webhook {
                if http::HeaderName::from_bytes(w.header.as_bytes()).is_err() {
                    return invalid(
                        format!("{tk}.webhook.header"),
                        format!("`{}` is not an HTTP header name", w.header),
                    );
                }
                if !t.plugins.contains_key(&w.carrier) {
                    return invalid(
                        format!("{tk}.webhook.carrier"),
                        format!("plugin `{}` is not bound in this tenant", w.carrier),
                    );
                }
                if !t.flows.contains_key(&w.flow) {
                    return invalid(
                        format!("{tk}.webhook.flow"),
                        format!("flow `{}` is not configured in this tenant", w.flow),
                    );
                }
            }
        }
        self.check_ranges(path)
    }

    /// The runtime bindings this configuration implies: one per connector and flow per tenant.
    pub fn bindings(&self) -> Vec<Binding> {
        let mut out = Vec::new();
        for t in &self.tenants {
            for (plugin, b) in &t.plugins {
                out.push(Binding {
                    tenant: t.id.clone(),
                    plugin: plugin.clone(),
                    grants: Grants {
                        hosts: b.hosts.clone(),
                        secrets: b.secrets.clone(),
                        storage_quota_bytes: b.storage_quota_bytes,
                    },
                    settings: b.settings.clone(),
                    connections: b.connections.clone(),
                    links: BTreeMap::new(),
                });
            }
            for (flow, f) in &t.flows {
                out.push(Binding {
                    tenant: t.id.clone(),
                    plugin: flow.clone(),
                    grants: Grants {
                        hosts: vec![],
                        secrets: vec![],
                        storage_quota_bytes: f.storage_quota_bytes,
                    },
                    settings: f.settings.clone(),
                    connections: vec![],
                    links: BTreeMap::from([
                        ("erp".to_owned(), f.erp.clone()),
                        ("carrier".to_owned(), f.carrier.clone()),
                    ]),
                });
            }
        }
        out
    }

    /// A tenant by id.
    pub fn tenant(&self, id: &str) -> Option<&TenantConfig> {
        self.tenants.iter().find(|t| t.id == id)
    }
}

fn is_id(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[service]
data_dir = "/tmp/x"

[[tenants]]
id = "acme"

[tenants.connections.ups]
token_url = "https://onlinetools.ups.com/security/v1/oauth/token"
client_id = "abc"
client_secret = { secret = "ups-client-secret" }
hosts = ["https://onlinetools.ups.com"]
refresh_margin = "2m"

[tenants.plugins.ups]
hosts = ["https://onlinetools.ups.com"]
connections = ["ups"]
settings = { base-url = "https://onlinetools.ups.com/api" }

[tenants.plugins.ifs-cloud]
hosts = ["https://acme.ifs.cloud"]

[tenants.flows.shipment-sync]
erp = "ifs-cloud"
carrier = "ups"
schedule = { every = "30s", jitter = "5s" }
"#;

    fn path() -> &'static Path {
        Path::new("test.toml")
    }

    #[test]
    fn parses_and_derives_bindings() {
        let c = Config::parse(path(), GOOD).unwrap();
        c.validate(path()).unwrap();
        let conn = &c.tenants[0].connections["ups"];
        assert_eq!(conn.refresh_margin, Duration::from_secs(120));
        assert_eq!(conn.daily_token_budget, 250);
        assert_eq!(
            conn.client_secret,
            SecretRef::Secret("ups-client-secret".into())
        );
        let bindings = c.bindings();
        let flow = bindings
            .iter()
            .find(|b| b.plugin == "shipment-sync")
            .unwrap();
        assert_eq!(flow.links["erp"], "ifs-cloud");
        assert!(flow.grants.hosts.is_empty(), "flows get no egress");
        assert_eq!(
            c.tenants[0].flows["shipment-sync"].schedule.every,
            Some(Duration::from_secs(30))
        );
    }

    #[test]
    fn errors_name_the_file_and_key() {
        let bad = GOOD.replace("connections = [\"ups\"]", "connections = [\"nope\"]");
        let err = Config::parse(path(), &bad)
            .unwrap()
            .validate(path())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("test.toml")
                && err.contains("tenants.acme.plugins.ups.connections[0]")
                && err.contains("nope"),
            "{err}"
        );
        let typo = GOOD.replace("client_id = \"abc\"", "client_idd = \"abc\"");
        let err = Config::parse(path(), &typo).unwrap_err().to_string();
        assert!(
            err.contains("test.toml") && err.contains("client_idd"),
            "{err}"
        );
        let cron = GOOD.replace(
            "schedule = { every = \"30s\", jitter = \"5s\" }",
            "schedule = { cron = \"not a cron\" }",
        );
        let err = Config::parse(path(), &cron)
            .unwrap()
            .validate(path())
            .unwrap_err()
            .to_string();
        assert!(err.contains("schedule.cron"), "{err}");
        let host = GOOD.replace(
            "hosts = [\"https://acme.ifs.cloud\"]",
            "hosts = [\"ftp://acme\"]",
        );
        let err = Config::parse(path(), &host).unwrap_err().to_string();
        assert!(err.contains("ftp"), "{err}");
    }

    /// The example README.md points operators at must stay a valid configuration.
    /// Finding (issue 13): numeric settings had no upper bound (`max_body_bytes = 10 GB` was
    /// accepted). Each is refused outside its range, with the key, the value and the range.
    #[test]
    fn numbers_out_of_range_are_refused_naming_key_value_and_range() {
        let webhook = format!(
            "{GOOD}\n[tenants.webhook]\ncarrier = \"ups\"\nflow = \"shipment-sync\"\ncredential = {{ env = \"X\" }}\nmax_body_bytes = 10000000000\n"
        );
        let cases = [
            (
                webhook.as_str().to_owned(),
                "tenants.acme.webhook.max_body_bytes",
                "10000000000 bytes is out of range: it must be between 1024 bytes and 16777216 bytes",
            ),
            (
                GOOD.replace("refresh_margin = \"2m\"", "refresh_margin = \"3h\""),
                "tenants.acme.connections.ups.refresh_margin",
                "3h is out of range: it must be between 0s and 1h",
            ),
            (
                GOOD.replace("every = \"30s\"", "every = \"100ms\""),
                "tenants.acme.flows.shipment-sync.schedule.every",
                "100ms is out of range: it must be between 1s and 7days",
            ),
            (
                format!("{GOOD}concurrency = 100000\n"),
                "tenants.acme.flows.shipment-sync.concurrency",
                "100000 is out of range: it must be between 1 and 256",
            ),
            (
                format!("[plugins.ups]\nlimits = {{ memory_bytes = 10737418240 }}\n{GOOD}"),
                "plugins.ups.limits.memory_bytes",
                "10737418240 bytes is out of range",
            ),
            (
                format!("{GOOD}retry_base = \"10s\"\nretry_max = \"1s\"\n"),
                "tenants.acme.flows.shipment-sync.retry_max",
                "must not be shorter than `retry_base`",
            ),
        ];
        for (text, key, message) in cases {
            let config = Config::parse(path(), &text).unwrap();
            match config.validate(path()) {
                Err(ConfigError::Invalid {
                    key: k, message: m, ..
                }) => {
                    assert_eq!(k, key);
                    assert!(m.contains(message), "{key}: {m}");
                }
                other => panic!("{key}: expected a range error, got {other:?}"),
            }
        }
        // At the bounds, accepted.
        let edge = format!("{GOOD}concurrency = 256\nmax_attempts = 1\n");
        Config::parse(path(), &edge)
            .unwrap()
            .validate(path())
            .unwrap();
    }

    #[test]
    fn example_config_parses_and_validates() {
        let example = Path::new("host/ml-connector.example.toml");
        let c = Config::parse(example, include_str!("../ml-connector.example.toml"))
            .unwrap_or_else(|e| panic!("{e}"));
        c.validate(example).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.service.log_format, LogFormat::Json);
        assert_eq!(
            c.plugins["my-carrier"].world,
            Some(crate::manifest::WorldKind::Carrier)
        );
        let acme = c.tenant("acme").unwrap();
        assert_eq!(acme.connections["ifs"].client_auth, ClientAuth::Body);
        assert_eq!(
            acme.flows["shipment-sync"].retry_max,
            Duration::from_secs(300)
        );
        assert!(acme.webhook.is_some());
        let northwind = c.tenant("northwind").unwrap();
        assert!(northwind.flows["shipment-sync"].schedule.cron.is_some());
        assert_eq!(
            northwind.flows["shipment-sync"].concurrency, 8,
            "the default"
        );
    }
}
