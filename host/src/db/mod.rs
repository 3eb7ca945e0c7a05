//! Durable state: plugin key-value storage, encrypted secrets, and the record of exchanges.
//!
//! [`Store`] is the seam between the host and its database. The embedded default is SQLite
//! ([`SqliteStore`]); nothing outside this module names SQLite, so a PostgreSQL backend can
//! implement the same trait for several hosts sharing tenants.

pub mod journal;
pub mod plugins;
mod sqlite;
pub mod tokens;

use std::sync::Arc;

use serde::{Deserialize, Serialize};

pub use journal::{
    InboxEntry, InboxPut, ItemQuery, ItemState, ItemUpdate, Journal, NewItem, NewStep, StepRecord,
    StepStatus, WorkItemRecord,
};
pub use plugins::{PluginStore, PluginVersionRecord};
pub use sqlite::SqliteStore;
pub use tokens::{Reservation, TokenStore};

/// The SQLite file inside a data directory.
pub const DB_FILE: &str = "ml-connector.db";

/// Opens the store of a data directory (`<dir>/ml-connector.db`), creating the directory and
/// the database as needed.
pub fn open_data_dir(dir: &std::path::Path) -> Result<Arc<dyn Store>, StoreError> {
    std::fs::create_dir_all(dir).map_err(|e| StoreError::Open {
        path: dir.display().to_string(),
        source: Box::new(e),
    })?;
    Ok(Arc::new(SqliteStore::open(&dir.join(DB_FILE))?))
}

/// The lock file a serving process holds in its data directory.
pub const LOCK_FILE: &str = "ml-connector.lock";

/// An exclusive hold on a data directory for one serving process, released when dropped (or
/// when the process dies: the operating system drops the lock with the file descriptor).
///
/// SQLite would let two services share the file, and the second would requeue the first
/// one's in-flight work items as interrupted and work them too; the lock refuses it before it
/// touches any state. Read-only tools (`items`, `audit`, `store check`) and `secrets` do not
/// take it.
#[derive(Debug)]
pub struct DataDirLock {
    _file: std::fs::File,
}

impl DataDirLock {
    /// Takes the lock of `dir` (created if missing), or says who holds it.
    pub fn acquire(dir: &std::path::Path) -> Result<Self, StoreError> {
        let path = dir.join(LOCK_FILE);
        let open_err = |e: std::io::Error| StoreError::Open {
            path: path.display().to_string(),
            source: Box::new(e),
        };
        std::fs::create_dir_all(dir).map_err(open_err)?;
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(open_err)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let holder = std::fs::read_to_string(&path).unwrap_or_default();
                return Err(StoreError::Locked {
                    dir: dir.display().to_string(),
                    holder: holder.trim().to_owned(),
                });
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(open_err(e)),
        }
        // Who holds it, for the next one's error message (the lock, not the text, is the
        // guard).
        use std::io::Write as _;
        file.set_len(0).map_err(open_err)?;
        write!(file, "pid {}", std::process::id()).map_err(open_err)?;
        Ok(DataDirLock { _file: file })
    }
}

/// How a database file fared in an integrity check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Integrity {
    /// No problem found.
    Ok,
    /// The check ran out of its time budget before it was done: nothing found so far.
    Unfinished,
    /// SQLite's findings.
    Damaged(Vec<String>),
}

/// Checks the store of a data directory without opening it for writing: `full` runs
/// `PRAGMA integrity_check` (every index checked against its table, no time limit), else
/// `PRAGMA quick_check` within `budget`.
pub fn check_data_dir(
    dir: &std::path::Path,
    full: bool,
    budget: Option<std::time::Duration>,
) -> Result<Integrity, StoreError> {
    sqlite::check_file(&dir.join(DB_FILE), full, budget)
}

/// A fresh store in memory (the embedded backend), for tests, benchmarks and `ping` without a
/// data directory.
pub fn in_memory() -> Result<Arc<dyn Store>, StoreError> {
    Ok(Arc::new(SqliteStore::in_memory()?))
}

/// Errors from the store, naming what was being read or written.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be opened or migrated.
    #[error("cannot open the store at {path}: {source}")]
    Open {
        /// Where.
        path: String,
        /// Why.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// Another process serves from this data directory.
    #[error(
        "another ml-connector is serving from {dir} ({holder}): one data directory belongs to one service; stop the other one or give this one its own `data_dir`"
    )]
    Locked {
        /// The data directory.
        dir: String,
        /// What the lock file says of its holder.
        holder: String,
    },
    /// The database file is damaged: SQLite's integrity check found problems.
    #[error(
        "the store at {path} is damaged: {}{more}. Stop every ml-connector using this data directory and restore it from your last backup (README: \"The data directory and backups\"); `ml-connector store check --data-dir DIR` prints the full report",
        problems.first().map(String::as_str).unwrap_or("unknown damage"),
        more = if problems.len() > 1 { format!(" (and {} more)", problems.len() - 1) } else { String::new() }
    )]
    Corrupt {
        /// The database file.
        path: String,
        /// SQLite's findings, one per line of its report.
        problems: Vec<String>,
    },
    /// A write would take the plugin's storage past its quota.
    #[error("storage quota of {quota} bytes exceeded for plugin `{plugin}` in tenant `{tenant}`")]
    QuotaExceeded {
        /// The tenant.
        tenant: String,
        /// The plugin.
        plugin: String,
        /// The quota in bytes.
        quota: u64,
    },
    /// Any other database failure.
    #[error("store operation `{op}` failed: {source}")]
    Backend {
        /// The operation.
        op: &'static str,
        /// Why.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl StoreError {
    pub(crate) fn backend(
        op: &'static str,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        StoreError::Backend {
            op,
            source: Box::new(source),
        }
    }
}

/// The owner of a key-value namespace: one plugin in one tenant.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Scope {
    /// The tenant id.
    pub tenant: String,
    /// The plugin id.
    pub plugin: String,
}

/// A stored value with its revision (see `mlc:connect/storage`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KvEntry {
    /// The bytes.
    pub value: Vec<u8>,
    /// Incremented on every write; starts at 1.
    pub revision: u64,
}

/// One recorded exchange: an HTTP request a plugin made, or a call the host routed between
/// components. Secrets are redacted before an exchange reaches the store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Exchange {
    /// When it started, milliseconds since the epoch.
    pub at_ms: i64,
    /// The tenant.
    pub tenant: String,
    /// The plugin that made the request or received the call.
    pub plugin: String,
    /// `http` for egress, `call` for a routed component call.
    pub kind: String,
    /// The work item it belongs to, if any.
    pub work_item: Option<String>,
    /// HTTP method, or the WIT function (`erp.get-shipment`).
    pub operation: String,
    /// URL (query kept, userinfo dropped), or the callee plugin id.
    pub target: String,
    /// HTTP status, when there was a response.
    pub status: Option<u16>,
    /// `ok`, `denied`, `error: …`.
    pub outcome: String,
    /// Duration in milliseconds.
    pub duration_ms: u64,
    /// Request headers and body excerpt, redacted.
    pub request: String,
    /// Response excerpt, redacted.
    pub response: String,
}

/// Filters for reading exchanges back.
#[derive(Debug, Clone, Default)]
pub struct ExchangeQuery {
    /// Only this tenant.
    pub tenant: Option<String>,
    /// Only this plugin.
    pub plugin: Option<String>,
    /// Only this work item.
    pub work_item: Option<String>,
    /// At most this many, newest last.
    pub limit: Option<u32>,
}

/// Re-seals one secret blob during key rotation; `Err` aborts the rotation.
pub type Reseal<'a> = dyn FnMut(&[u8]) -> Result<Vec<u8>, String> + 'a;

/// The host's durable state: the journal, token ledger and plugin versions, plus the key-value,
/// secret, metadata and exchange tables below. Implementations must be safe to share between
/// threads; `Arc<dyn Store>` upcasts to each part's trait.
pub trait Store: Journal + TokenStore + PluginStore + Send + Sync + 'static {
    /// Reads a key of a plugin's namespace.
    fn kv_get(&self, scope: &Scope, key: &str) -> Result<Option<KvEntry>, StoreError>;
    /// Writes a key if its revision is `expected` (`None`: only if absent), or unconditionally
    /// when `unconditional`. Returns the new revision, or `None` when the revision did not
    /// match. Fails with [`StoreError::QuotaExceeded`] past `quota` bytes (keys + values).
    fn kv_put(
        &self,
        scope: &Scope,
        key: &str,
        value: &[u8],
        expected: Option<u64>,
        unconditional: bool,
        quota: u64,
    ) -> Result<Option<u64>, StoreError>;
    /// Deletes a key.
    fn kv_delete(&self, scope: &Scope, key: &str) -> Result<(), StoreError>;
    /// Keys with a prefix, in byte order, after `start_after`, at most `limit`.
    fn kv_list(
        &self,
        scope: &Scope,
        prefix: &str,
        start_after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<String>, StoreError>;

    /// Reads an encrypted secret blob.
    fn secret_get(
        &self,
        tenant: &str,
        scope: &str,
        name: &str,
    ) -> Result<Option<Vec<u8>>, StoreError>;
    /// Writes an encrypted secret blob.
    fn secret_put(
        &self,
        tenant: &str,
        scope: &str,
        name: &str,
        sealed: &[u8],
    ) -> Result<(), StoreError>;
    /// Deletes a secret; true when it existed.
    fn secret_delete(&self, tenant: &str, scope: &str, name: &str) -> Result<bool, StoreError>;
    /// Lists `(tenant, scope, name)` of every secret, optionally of one tenant.
    fn secret_list(
        &self,
        tenant: Option<&str>,
    ) -> Result<Vec<(String, String, String)>, StoreError>;
    /// Replaces every secret blob in one transaction (key rotation): `reseal` gets each blob and
    /// returns its replacement; any error aborts the whole rotation with nothing written.
    fn secret_reseal_all(
        &self,
        reseal: &mut Reseal<'_>,
        meta_key: &str,
        meta_value: &str,
    ) -> Result<usize, StoreError>;

    /// Reads a metadata value (key check values, schema facts).
    fn meta_get(&self, key: &str) -> Result<Option<String>, StoreError>;
    /// Writes a metadata value.
    fn meta_put(&self, key: &str, value: &str) -> Result<(), StoreError>;

    /// Appends an exchange to the record.
    fn record_exchange(&self, exchange: &Exchange) -> Result<(), StoreError>;
    /// Reads exchanges back, oldest first.
    fn exchanges(&self, query: &ExchangeQuery) -> Result<Vec<Exchange>, StoreError>;
}
