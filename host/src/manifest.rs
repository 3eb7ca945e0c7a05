//! What a plugin is and what it may do: its manifest (identity, world, limits) and the grants
//! a tenant gives it (egress hosts, secrets, storage quota) with its settings.
//!
//! Grants are per tenant binding, not per plugin: the same UPS connector may reach a different
//! UPS host (CIE or production) and hold a different account in each tenant.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// The world a plugin implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WorldKind {
    /// `mlc:connect/erp-connector`.
    Erp,
    /// `mlc:connect/carrier-connector`.
    Carrier,
    /// `mlc:connect/sync-flow`.
    Flow,
}

impl WorldKind {
    /// The WIT world name.
    pub fn world_name(self) -> &'static str {
        match self {
            WorldKind::Erp => "mlc:connect/erp-connector",
            WorldKind::Carrier => "mlc:connect/carrier-connector",
            WorldKind::Flow => "mlc:connect/sync-flow",
        }
    }
}

impl fmt::Display for WorldKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.world_name())
    }
}

/// The largest linear memory any plugin may be granted. The runtime's pooling slots are sized
/// for it, and configuration asking for more is refused.
pub const MAX_PLUGIN_MEMORY: u64 = 512 * 1024 * 1024;

/// Resource limits of one invocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Linear memory cap in bytes, per instance.
    pub memory_bytes: u64,
    /// CPU time the guest may spend executing, in milliseconds (host calls do not count).
    pub cpu_ms: u64,
    /// Wall-clock time for the whole invocation, in milliseconds, host calls included.
    pub wall_ms: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory_bytes: 64 * 1024 * 1024,
            cpu_ms: 2_000,
            wall_ms: 120_000,
        }
    }
}

/// A plugin's identity and requirements.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Unique id, kebab-case (`ups`, `ifs-cloud`).
    pub id: String,
    /// Version string of this build.
    pub version: String,
    /// The world it implements.
    pub world: WorldKind,
    /// Limits per invocation.
    #[serde(default)]
    pub limits: Limits,
}

/// One host a plugin may call: scheme, host and port must all match.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct HostGrant {
    /// `http` or `https`.
    pub scheme: String,
    /// Lower-case host name or IP literal.
    pub host: String,
    /// Port (the scheme's default when the URL omits it).
    pub port: u16,
}

impl HostGrant {
    /// Parses `https://host[:port]` (a path is ignored).
    pub fn parse(url: &str) -> Result<Self, String> {
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| format!("`{url}`: expected scheme://host[:port]"))?;
        let scheme = scheme.to_ascii_lowercase();
        let default_port = match scheme.as_str() {
            "http" => 80,
            "https" => 443,
            other => return Err(format!("`{url}`: scheme `{other}` is not http or https")),
        };
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        if authority.is_empty() || authority.contains('@') {
            return Err(format!("`{url}`: no host"));
        }
        let (host, port) =
            split_authority(authority, default_port).ok_or_else(|| format!("`{url}`: bad port"))?;
        Ok(HostGrant { scheme, host, port })
    }

    /// Whether a request to `scheme://authority` matches this grant.
    pub fn matches(&self, scheme: &str, host: &str, port: u16) -> bool {
        self.scheme.eq_ignore_ascii_case(scheme)
            && self.host.eq_ignore_ascii_case(host)
            && self.port == port
    }
}

/// Splits `host[:port]` (IPv6 in brackets) into a lower-case host and a port.
pub fn split_authority(authority: &str, default_port: u16) -> Option<(String, u16)> {
    if let Some(rest) = authority.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        let port = match after.strip_prefix(':') {
            Some(p) => p.parse().ok()?,
            None if after.is_empty() => default_port,
            None => return None,
        };
        return Some((host.to_ascii_lowercase(), port));
    }
    match authority.rsplit_once(':') {
        Some((host, port)) => Some((host.to_ascii_lowercase(), port.parse().ok()?)),
        None => Some((authority.to_ascii_lowercase(), default_port)),
    }
}

impl TryFrom<String> for HostGrant {
    type Error = String;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        HostGrant::parse(&value)
    }
}

impl From<HostGrant> for String {
    fn from(g: HostGrant) -> String {
        g.to_string()
    }
}

impl fmt::Display for HostGrant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "{}://[{}]:{}", self.scheme, self.host, self.port)
        } else {
            write!(f, "{}://{}:{}", self.scheme, self.host, self.port)
        }
    }
}

/// What a tenant lets a plugin do.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Grants {
    /// Hosts it may send HTTP requests to. Empty: no egress at all.
    pub hosts: Vec<HostGrant>,
    /// Names of secrets it may read through `mlc:connect/secrets`.
    pub secrets: Vec<String>,
    /// Bytes of storage (keys + values) it may use.
    pub storage_quota_bytes: Option<u64>,
}

/// Default storage quota when a grant sets none: 16 MiB.
pub const DEFAULT_STORAGE_QUOTA: u64 = 16 * 1024 * 1024;

/// A plugin bound to a tenant: grants, settings and the connections whose hosts it may use.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Binding {
    /// The tenant.
    pub tenant: String,
    /// The plugin.
    pub plugin: String,
    /// What it may do.
    pub grants: Grants,
    /// Its settings, read through `mlc:connect/config`.
    pub settings: BTreeMap<String, String>,
    /// Connections whose credentials the host adds to this plugin's requests.
    pub connections: Vec<String>,
    /// For flows: which plugin serves each imported interface (`erp` → `ifs-cloud`,
    /// `carrier` → `ups`) in this tenant.
    pub links: BTreeMap<String, String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_host_grants() {
        let g = HostGrant::parse("https://Acme.IFS.cloud/main").unwrap();
        assert_eq!(
            g,
            HostGrant {
                scheme: "https".into(),
                host: "acme.ifs.cloud".into(),
                port: 443
            }
        );
        assert!(g.matches("HTTPS", "acme.ifs.cloud", 443));
        assert!(!g.matches("http", "acme.ifs.cloud", 443));
        assert_eq!(
            HostGrant::parse("http://127.0.0.1:8080").unwrap().port,
            8080
        );
        assert_eq!(HostGrant::parse("http://[::1]:9").unwrap().host, "::1");
        assert!(HostGrant::parse("ftp://x").is_err());
        assert!(HostGrant::parse("http://u@x").is_err());
        assert!(HostGrant::parse("http://x:notaport").is_err());
        assert_eq!(
            HostGrant::parse("http://[::1]:9").unwrap().to_string(),
            "http://[::1]:9"
        );
    }
}
