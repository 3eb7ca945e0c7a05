//! Durable record of plugin versions: every component version the host loaded or refused, with
//! its hash, when it was loaded, and what became of it (active, previous, rolled back, refused,
//! with the reason). The component bytes themselves live beside the database, under
//! `<data_dir>/plugins/<id>/<hash>.wasm`; this table is their index.

use rusqlite::{OptionalExtension, Row, params};
use serde::{Deserialize, Serialize};

use super::{SqliteStore, StoreError};

/// One version of a plugin, as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PluginVersionRecord {
    /// Plugin id.
    pub plugin: String,
    /// SHA-256 of the component bytes, hex.
    pub hash: String,
    /// Version label (from the manifest, the upload's `version=`, or the file it came from).
    pub version: String,
    /// The world (`erp`, `carrier`, `flow`).
    pub world: String,
    /// Where it came from: `bundled`, `config`, `upload`, `plugins-dir`.
    pub source: String,
    /// When it was first loaded (or refused), ms since the epoch.
    pub loaded_at_ms: i64,
    /// `active`, `previous`, `rolled-back` or `refused`.
    pub status: String,
    /// Why it was rolled back or refused.
    pub reason: Option<String>,
    /// When it last became active, ms since the epoch.
    pub activated_at_ms: Option<i64>,
}

/// The plugin-version index.
pub trait PluginStore: Send + Sync + 'static {
    /// Inserts a version, or updates the status, reason and activation time of a known one
    /// (its first `loaded_at_ms`, `version` and `source` are kept).
    fn plugin_version_put(&self, record: &PluginVersionRecord) -> Result<(), StoreError>;
    /// Every version of a plugin (or of all plugins), oldest first.
    fn plugin_versions(&self, plugin: Option<&str>)
    -> Result<Vec<PluginVersionRecord>, StoreError>;
    /// One version.
    fn plugin_version(
        &self,
        plugin: &str,
        hash: &str,
    ) -> Result<Option<PluginVersionRecord>, StoreError>;
}

/// The table (created from `SqliteStore::init`).
pub(super) const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS plugin_versions (
    plugin TEXT NOT NULL, hash TEXT NOT NULL, version TEXT NOT NULL, world TEXT NOT NULL,
    source TEXT NOT NULL, loaded_at_ms INTEGER NOT NULL, status TEXT NOT NULL, reason TEXT,
    activated_at_ms INTEGER,
    PRIMARY KEY (plugin, hash)
);
"#;

const COLS: &str =
    "plugin, hash, version, world, source, loaded_at_ms, status, reason, activated_at_ms";

fn from_row(r: &Row<'_>) -> rusqlite::Result<PluginVersionRecord> {
    Ok(PluginVersionRecord {
        plugin: r.get(0)?,
        hash: r.get(1)?,
        version: r.get(2)?,
        world: r.get(3)?,
        source: r.get(4)?,
        loaded_at_ms: r.get(5)?,
        status: r.get(6)?,
        reason: r.get(7)?,
        activated_at_ms: r.get(8)?,
    })
}

impl PluginStore for SqliteStore {
    fn plugin_version_put(&self, v: &PluginVersionRecord) -> Result<(), StoreError> {
        self.with("plugin_versions.put", |c| {
            c.execute(
                "INSERT INTO plugin_versions (plugin, hash, version, world, source, loaded_at_ms, status, reason, activated_at_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
                 ON CONFLICT (plugin, hash) DO UPDATE SET status = excluded.status,
                    reason = excluded.reason,
                    activated_at_ms = COALESCE(excluded.activated_at_ms, plugin_versions.activated_at_ms)",
                params![
                    v.plugin,
                    v.hash,
                    v.version,
                    v.world,
                    v.source,
                    v.loaded_at_ms,
                    v.status,
                    v.reason,
                    v.activated_at_ms
                ],
            )
            .map(|_| ())
        })
    }

    fn plugin_versions(
        &self,
        plugin: Option<&str>,
    ) -> Result<Vec<PluginVersionRecord>, StoreError> {
        self.read("plugin_versions.list", |c| {
            let mut stmt = c.prepare(&format!(
                "SELECT {COLS} FROM plugin_versions WHERE ?1 IS NULL OR plugin = ?1
                 ORDER BY plugin, loaded_at_ms, rowid"
            ))?;
            stmt.query_map(params![plugin], from_row)?.collect()
        })
    }

    fn plugin_version(
        &self,
        plugin: &str,
        hash: &str,
    ) -> Result<Option<PluginVersionRecord>, StoreError> {
        self.read("plugin_versions.get", |c| {
            c.query_row(
                &format!("SELECT {COLS} FROM plugin_versions WHERE plugin = ?1 AND hash = ?2"),
                params![plugin, hash],
                from_row,
            )
            .optional()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(hash: &str, status: &str, at: i64) -> PluginVersionRecord {
        PluginVersionRecord {
            plugin: "ups".into(),
            hash: hash.into(),
            version: "1".into(),
            world: "carrier".into(),
            source: "upload".into(),
            loaded_at_ms: at,
            status: status.into(),
            reason: None,
            activated_at_ms: Some(at),
        }
    }

    #[test]
    fn versions_are_kept_and_updated_in_place() {
        let s = SqliteStore::in_memory().unwrap();
        s.plugin_version_put(&record("a", "active", 1)).unwrap();
        s.plugin_version_put(&record("b", "active", 2)).unwrap();
        let mut a = record("a", "previous", 99);
        a.activated_at_ms = None;
        s.plugin_version_put(&a).unwrap();
        let all = s.plugin_versions(Some("ups")).unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].hash, "a");
        assert_eq!(all[0].status, "previous");
        assert_eq!(all[0].loaded_at_ms, 1, "first load time kept");
        assert_eq!(all[0].activated_at_ms, Some(1), "activation time kept");
        assert!(s.plugin_versions(Some("ifs")).unwrap().is_empty());
        assert_eq!(s.plugin_versions(None).unwrap().len(), 2);
        assert_eq!(
            s.plugin_version("ups", "b").unwrap().unwrap().status,
            "active"
        );
    }
}
