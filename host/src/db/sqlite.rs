//! The SQLite implementation of [`Store`]: one file in WAL mode, one writer connection and a
//! few reader connections.
//!
//! SQLite admits one writer at a time, so every write goes through the writer connection
//! ([`SqliteStore::with`]); reads that need no transaction with a write ([`SqliteStore::read`])
//! go to the readers, which WAL lets run beside the writer, so the admin API, the console and
//! the journal's look-ups never queue behind the scheduler's writes. A statement on a reader
//! sees every write committed before it started, so a read after a write (on any connection)
//! sees the write.
//!
//! Calls are short (single-row reads and writes, tens of microseconds) and run inline on the
//! caller's thread. The one place that may block for longer is waiting for a busy connection:
//! that wait happens in [`blocking`], which on the service's multi-threaded runtime first
//! hands the async worker's other tasks to another thread.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, TryLockError};

use rusqlite::{Connection, OptionalExtension, params};

use super::{Exchange, ExchangeQuery, Integrity, KvEntry, Scope, Store, StoreError};

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS kv (
    tenant TEXT NOT NULL, plugin TEXT NOT NULL, key TEXT NOT NULL,
    value BLOB NOT NULL, revision INTEGER NOT NULL,
    PRIMARY KEY (tenant, plugin, key)
);
CREATE TABLE IF NOT EXISTS secrets (
    tenant TEXT NOT NULL, scope TEXT NOT NULL, name TEXT NOT NULL, sealed BLOB NOT NULL,
    PRIMARY KEY (tenant, scope, name)
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS exchanges (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at_ms INTEGER NOT NULL, tenant TEXT NOT NULL, plugin TEXT NOT NULL, kind TEXT NOT NULL,
    work_item TEXT, operation TEXT NOT NULL, target TEXT NOT NULL, status INTEGER,
    outcome TEXT NOT NULL, duration_ms INTEGER NOT NULL, request TEXT NOT NULL, response TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS exchanges_item ON exchanges (work_item);
CREATE INDEX IF NOT EXISTS exchanges_tenant ON exchanges (tenant, at_ms);
"#;

/// How long the start-up integrity check (`PRAGMA quick_check`) may take.
const STARTUP_CHECK_BUDGET: std::time::Duration = std::time::Duration::from_secs(10);

/// Runs SQLite's integrity check on an open connection. With a budget, the check is
/// interrupted when the budget runs out ([`Integrity::Unfinished`]).
fn integrity(
    conn: &Connection,
    full: bool,
    budget: Option<std::time::Duration>,
) -> rusqlite::Result<Integrity> {
    if let Some(budget) = budget {
        let deadline = std::time::Instant::now() + budget;
        // Called every 1,000 virtual-machine steps; returning true interrupts the statement.
        conn.progress_handler(1_000, Some(move || std::time::Instant::now() > deadline));
    }
    let pragma = if full {
        "PRAGMA integrity_check"
    } else {
        "PRAGMA quick_check"
    };
    let result = (|| {
        let mut stmt = conn.prepare(pragma)?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
        rows.collect::<rusqlite::Result<Vec<String>>>()
    })();
    conn.progress_handler(0, None::<fn() -> bool>);
    match result {
        Ok(lines) if lines.len() == 1 && lines[0] == "ok" => Ok(Integrity::Ok),
        Ok(lines) => Ok(Integrity::Damaged(lines)),
        Err(rusqlite::Error::SqliteFailure(e, _))
            if e.code == rusqlite::ErrorCode::OperationInterrupted =>
        {
            Ok(Integrity::Unfinished)
        }
        // "database disk image is malformed" before the check could even start.
        Err(rusqlite::Error::SqliteFailure(e, message))
            if e.code == rusqlite::ErrorCode::DatabaseCorrupt
                || e.code == rusqlite::ErrorCode::NotADatabase =>
        {
            Ok(Integrity::Damaged(vec![
                message.unwrap_or_else(|| e.to_string()),
            ]))
        }
        Err(e) => Err(e),
    }
}

/// Checks a database file read-only (it must exist).
pub(super) fn check_file(
    path: &Path,
    full: bool,
    budget: Option<std::time::Duration>,
) -> Result<Integrity, StoreError> {
    let open_err = |e: rusqlite::Error| StoreError::Open {
        path: path.display().to_string(),
        source: Box::new(e),
    };
    let conn = Connection::open_with_flags(
        path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(open_err)?;
    integrity(&conn, full, budget).map_err(open_err)
}

/// Reader connections of a file database (an in-memory database has none: it cannot be shared
/// between connections, and reads go to the writer).
const READERS: usize = 4;

/// A [`Store`] in one SQLite file.
pub struct SqliteStore {
    // Readers are declared (so dropped) before the writer: the last connection to close
    // checkpoints the WAL into the database file, and only the writer can.
    readers: Vec<Mutex<Connection>>,
    writer: Mutex<Connection>,
    next_reader: AtomicUsize,
}

impl SqliteStore {
    /// Opens (creating and migrating as needed) the database at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let open_err = |e: rusqlite::Error| StoreError::Open {
            path: path.display().to_string(),
            source: Box::new(e),
        };
        let conn = Connection::open(path).map_err(open_err)?;
        // A file damaged in the middle opens and serves until a query touches the bad pages;
        // find out before the service takes work (bounded: a huge healthy file only warns).
        match integrity(&conn, false, Some(STARTUP_CHECK_BUDGET)).map_err(open_err)? {
            Integrity::Ok => {}
            Integrity::Unfinished => tracing::warn!(
                path = %path.display(),
                budget = ?STARTUP_CHECK_BUDGET,
                "the start-up integrity check did not finish in its time budget; run `ml-connector store check` while the service is stopped"
            ),
            Integrity::Damaged(problems) => {
                return Err(StoreError::Corrupt {
                    path: path.display().to_string(),
                    problems,
                });
            }
        }
        let mut store = Self::init(conn).map_err(open_err)?;
        for _ in 0..READERS {
            let reader = Connection::open_with_flags(
                path,
                rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY
                    | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX
                    | rusqlite::OpenFlags::SQLITE_OPEN_URI,
            )
            .map_err(open_err)?;
            reader
                .busy_timeout(std::time::Duration::from_secs(5))
                .map_err(open_err)?;
            store.readers.push(Mutex::new(reader));
        }
        Ok(store)
    }

    /// An in-memory database, for tests and benchmarks.
    pub fn in_memory() -> Result<Self, StoreError> {
        let conn = Connection::open_in_memory().map_err(|e| StoreError::Open {
            path: ":memory:".into(),
            source: Box::new(e),
        })?;
        Self::init(conn).map_err(|e| StoreError::Open {
            path: ":memory:".into(),
            source: Box::new(e),
        })
    }

    fn init(conn: Connection) -> Result<Self, rusqlite::Error> {
        conn.pragma_update(None, "journal_mode", "WAL")?;
        // NORMAL is durable across process crashes in WAL mode (only a power loss can drop the
        // last transactions), which is the failure the journal must survive.
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.execute_batch(SCHEMA)?;
        conn.execute_batch(super::journal::SCHEMA)?;
        super::journal::migrate(&conn)?;
        conn.execute_batch(super::tokens::SCHEMA)?;
        conn.execute_batch(super::plugins::SCHEMA)?;
        Ok(SqliteStore {
            writer: Mutex::new(conn),
            readers: Vec::new(),
            next_reader: AtomicUsize::new(0),
        })
    }

    /// Runs `f` on the writer connection: every write, and reads that belong to a write.
    pub(crate) fn with<T>(
        &self,
        op: &'static str,
        f: impl FnOnce(&mut Connection) -> rusqlite::Result<T>,
    ) -> Result<T, StoreError> {
        let mut conn = lock(&self.writer);
        f(&mut conn).map_err(|e| StoreError::backend(op, e))
    }

    /// Runs a read-only `f` on a free reader connection (the writer when there are none).
    pub(crate) fn read<T>(
        &self,
        op: &'static str,
        f: impl FnOnce(&mut Connection) -> rusqlite::Result<T>,
    ) -> Result<T, StoreError> {
        if self.readers.is_empty() {
            return self.with(op, f);
        }
        let start = self.next_reader.fetch_add(1, Ordering::Relaxed);
        let n = self.readers.len();
        let free = (0..n).find_map(|i| match self.readers[(start + i) % n].try_lock() {
            Ok(conn) => Some(conn),
            Err(TryLockError::Poisoned(p)) => Some(p.into_inner()),
            Err(TryLockError::WouldBlock) => None,
        });
        let mut conn = match free {
            Some(conn) => conn,
            None => lock(&self.readers[start % n]),
        };
        f(&mut conn).map_err(|e| StoreError::backend(op, e))
    }
}

/// Locks a connection, waiting off the async worker when it is busy.
fn lock(conn: &Mutex<Connection>) -> MutexGuard<'_, Connection> {
    // A poisoned mutex only means another thread panicked mid-call; SQLite itself rolled back
    // whatever that call had open, so the connection is still sound.
    match conn.try_lock() {
        Ok(guard) => guard,
        Err(TryLockError::Poisoned(p)) => p.into_inner(),
        Err(TryLockError::WouldBlock) => {
            blocking(|| conn.lock().unwrap_or_else(|p| p.into_inner()))
        }
    }
}

/// Runs `f`, which may block, without stalling the other tasks of the async worker it is called
/// on: on a multi-threaded tokio runtime they move to another thread first. Elsewhere (a
/// current-thread runtime, plain threads) `f` runs as it is.
fn blocking<T>(f: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(f)
        }
        _ => f(),
    }
}

impl Store for SqliteStore {
    fn kv_get(&self, scope: &Scope, key: &str) -> Result<Option<KvEntry>, StoreError> {
        self.read("kv.get", |c| {
            c.query_row(
                "SELECT value, revision FROM kv WHERE tenant = ?1 AND plugin = ?2 AND key = ?3",
                params![scope.tenant, scope.plugin, key],
                |r| {
                    Ok(KvEntry {
                        value: r.get(0)?,
                        revision: r.get::<_, i64>(1)?.max(0).cast_unsigned(),
                    })
                },
            )
            .optional()
        })
    }

    fn kv_put(
        &self,
        scope: &Scope,
        key: &str,
        value: &[u8],
        expected: Option<u64>,
        unconditional: bool,
        quota: u64,
    ) -> Result<Option<u64>, StoreError> {
        enum Outcome {
            Written(u64),
            Mismatch,
            OverQuota,
        }
        let outcome = self.with("kv.put", |c| {
            let tx = c.transaction()?;
            let current: Option<(i64, i64)> = tx
                .query_row(
                    "SELECT revision, length(key) + length(value) FROM kv WHERE tenant = ?1 AND plugin = ?2 AND key = ?3",
                    params![scope.tenant, scope.plugin, key],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            let current_rev = current.map(|(rev, _)| rev.max(0).cast_unsigned());
            if !unconditional && current_rev != expected {
                return Ok(Outcome::Mismatch);
            }
            let used: i64 = tx.query_row(
                "SELECT COALESCE(SUM(length(key) + length(value)), 0) FROM kv WHERE tenant = ?1 AND plugin = ?2",
                params![scope.tenant, scope.plugin],
                |r| r.get(0),
            )?;
            let old_size = current.map(|(_, size)| size).unwrap_or(0);
            let new_total = used - old_size + i64::try_from(key.len() + value.len()).unwrap_or(i64::MAX);
            if new_total.max(0).cast_unsigned() > quota {
                return Ok(Outcome::OverQuota);
            }
            let next = current_rev.unwrap_or(0) + 1;
            tx.execute(
                "INSERT INTO kv (tenant, plugin, key, value, revision) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (tenant, plugin, key) DO UPDATE SET value = excluded.value, revision = excluded.revision",
                params![scope.tenant, scope.plugin, key, value, i64::try_from(next).unwrap_or(i64::MAX)],
            )?;
            tx.commit()?;
            Ok(Outcome::Written(next))
        })?;
        match outcome {
            Outcome::Written(rev) => Ok(Some(rev)),
            Outcome::Mismatch => Ok(None),
            Outcome::OverQuota => Err(StoreError::QuotaExceeded {
                tenant: scope.tenant.clone(),
                plugin: scope.plugin.clone(),
                quota,
            }),
        }
    }

    fn kv_delete(&self, scope: &Scope, key: &str) -> Result<(), StoreError> {
        self.with("kv.delete", |c| {
            c.execute(
                "DELETE FROM kv WHERE tenant = ?1 AND plugin = ?2 AND key = ?3",
                params![scope.tenant, scope.plugin, key],
            )
            .map(|_| ())
        })
    }

    fn kv_list(
        &self,
        scope: &Scope,
        prefix: &str,
        start_after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<String>, StoreError> {
        self.read("kv.list", |c| {
            // Prefix match by range rather than LIKE, so `%` and `_` in keys are plain bytes.
            let mut stmt = c.prepare_cached(
                "SELECT key FROM kv WHERE tenant = ?1 AND plugin = ?2 AND substr(key, 1, length(?3)) = ?3
                 AND key > ?4 ORDER BY key LIMIT ?5",
            )?;
            let rows = stmt.query_map(
                params![scope.tenant, scope.plugin, prefix, start_after.unwrap_or(""), i64::from(limit)],
                |r| r.get::<_, String>(0),
            )?;
            rows.collect()
        })
    }

    fn secret_get(
        &self,
        tenant: &str,
        scope: &str,
        name: &str,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        self.read("secret.get", |c| {
            c.query_row(
                "SELECT sealed FROM secrets WHERE tenant = ?1 AND scope = ?2 AND name = ?3",
                params![tenant, scope, name],
                |r| r.get(0),
            )
            .optional()
        })
    }

    fn secret_put(
        &self,
        tenant: &str,
        scope: &str,
        name: &str,
        sealed: &[u8],
    ) -> Result<(), StoreError> {
        self.with("secret.put", |c| {
            c.execute(
                "INSERT INTO secrets (tenant, scope, name, sealed) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (tenant, scope, name) DO UPDATE SET sealed = excluded.sealed",
                params![tenant, scope, name, sealed],
            )
            .map(|_| ())
        })
    }

    fn secret_delete(&self, tenant: &str, scope: &str, name: &str) -> Result<bool, StoreError> {
        self.with("secret.delete", |c| {
            c.execute(
                "DELETE FROM secrets WHERE tenant = ?1 AND scope = ?2 AND name = ?3",
                params![tenant, scope, name],
            )
            .map(|n| n > 0)
        })
    }

    fn secret_list(
        &self,
        tenant: Option<&str>,
    ) -> Result<Vec<(String, String, String)>, StoreError> {
        self.read("secret.list", |c| {
            let mut stmt = c.prepare_cached(
                "SELECT tenant, scope, name FROM secrets WHERE ?1 IS NULL OR tenant = ?1 ORDER BY tenant, scope, name",
            )?;
            let rows = stmt.query_map(params![tenant], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
            rows.collect()
        })
    }

    fn secret_reseal_all(
        &self,
        reseal: &mut super::Reseal<'_>,
        meta_key: &str,
        meta_value: &str,
    ) -> Result<usize, StoreError> {
        #[derive(Debug)]
        struct ResealFailed(String);
        impl std::fmt::Display for ResealFailed {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "{}", self.0)
            }
        }
        impl std::error::Error for ResealFailed {}

        let mut conn = lock(&self.writer);
        let tx = conn
            .transaction()
            .map_err(|e| StoreError::backend("secret.reseal", e))?;
        let rows: Vec<(String, String, String, Vec<u8>)> = {
            let mut stmt = tx
                .prepare("SELECT tenant, scope, name, sealed FROM secrets")
                .map_err(|e| StoreError::backend("secret.reseal", e))?;
            let mapped = stmt
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
                .map_err(|e| StoreError::backend("secret.reseal", e))?;
            mapped
                .collect::<Result<_, _>>()
                .map_err(|e| StoreError::backend("secret.reseal", e))?
        };
        for (tenant, scope, name, sealed) in &rows {
            let resealed = reseal(sealed).map_err(|m| {
                StoreError::backend(
                    "secret.reseal",
                    ResealFailed(format!("{tenant}/{scope}/{name}: {m}")),
                )
            })?;
            tx.execute(
                "UPDATE secrets SET sealed = ?4 WHERE tenant = ?1 AND scope = ?2 AND name = ?3",
                params![tenant, scope, name, resealed],
            )
            .map_err(|e| StoreError::backend("secret.reseal", e))?;
        }
        tx.execute(
            "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            params![meta_key, meta_value],
        )
        .map_err(|e| StoreError::backend("secret.reseal", e))?;
        tx.commit()
            .map_err(|e| StoreError::backend("secret.reseal", e))?;
        Ok(rows.len())
    }

    fn meta_get(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.read("meta.get", |c| {
            c.query_row("SELECT value FROM meta WHERE key = ?1", params![key], |r| {
                r.get(0)
            })
            .optional()
        })
    }

    fn meta_put(&self, key: &str, value: &str) -> Result<(), StoreError> {
        self.with("meta.put", |c| {
            c.execute(
                "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                params![key, value],
            )
            .map(|_| ())
        })
    }

    fn record_exchange(&self, e: &Exchange) -> Result<(), StoreError> {
        self.with("exchange.record", |c| {
            c.prepare_cached(
                "INSERT INTO exchanges (at_ms, tenant, plugin, kind, work_item, operation, target, status, outcome, duration_ms, request, response)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            )?
            .execute(params![
                e.at_ms,
                e.tenant,
                e.plugin,
                e.kind,
                e.work_item,
                e.operation,
                e.target,
                e.status,
                e.outcome,
                i64::try_from(e.duration_ms).unwrap_or(i64::MAX),
                e.request,
                e.response
            ])
            .map(|_| ())
        })
    }

    fn exchanges(&self, q: &ExchangeQuery) -> Result<Vec<Exchange>, StoreError> {
        self.read("exchange.query", |c| {
            let mut stmt = c.prepare_cached(
                "SELECT at_ms, tenant, plugin, kind, work_item, operation, target, status, outcome, duration_ms, request, response
                 FROM (SELECT * FROM exchanges
                       WHERE (?1 IS NULL OR tenant = ?1) AND (?2 IS NULL OR plugin = ?2) AND (?3 IS NULL OR work_item = ?3)
                       ORDER BY id DESC LIMIT ?4)
                 ORDER BY id",
            )?;
            let rows = stmt.query_map(
                params![q.tenant, q.plugin, q.work_item, i64::from(q.limit.unwrap_or(10_000))],
                |r| {
                    Ok(Exchange {
                        at_ms: r.get(0)?,
                        tenant: r.get(1)?,
                        plugin: r.get(2)?,
                        kind: r.get(3)?,
                        work_item: r.get(4)?,
                        operation: r.get(5)?,
                        target: r.get(6)?,
                        status: r.get(7)?,
                        outcome: r.get(8)?,
                        duration_ms: r.get::<_, i64>(9)?.max(0).cast_unsigned(),
                        request: r.get(10)?,
                        response: r.get(11)?,
                    })
                },
            )?;
            rows.collect()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope(t: &str, p: &str) -> Scope {
        Scope {
            tenant: t.into(),
            plugin: p.into(),
        }
    }

    #[test]
    fn kv_compare_and_swap_and_quota() {
        let s = SqliteStore::in_memory().unwrap();
        let a = scope("t1", "p1");
        assert_eq!(s.kv_put(&a, "k", b"v1", None, false, 100).unwrap(), Some(1));
        // A CAS expecting absence fails now that the key exists.
        assert_eq!(s.kv_put(&a, "k", b"v2", None, false, 100).unwrap(), None);
        assert_eq!(
            s.kv_put(&a, "k", b"v2", Some(1), false, 100).unwrap(),
            Some(2)
        );
        assert_eq!(
            s.kv_get(&a, "k").unwrap(),
            Some(KvEntry {
                value: b"v2".to_vec(),
                revision: 2
            })
        );
        // Another tenant's namespace is separate.
        assert_eq!(s.kv_get(&scope("t2", "p1"), "k").unwrap(), None);
        let err = s
            .kv_put(&a, "big", &[0u8; 200], None, true, 100)
            .unwrap_err();
        assert!(
            matches!(err, StoreError::QuotaExceeded { quota: 100, .. }),
            "{err}"
        );
        // Overwriting a key counts only the difference against the quota.
        assert_eq!(
            s.kv_put(&a, "k", &[1u8; 90], None, true, 100).unwrap(),
            Some(3)
        );
    }

    #[test]
    fn kv_list_is_prefix_exact_and_paged() {
        let s = SqliteStore::in_memory().unwrap();
        let a = scope("t", "p");
        for k in ["a/1", "a/2", "a/3", "a%/x", "b/1"] {
            s.kv_put(&a, k, b"", None, true, 1000).unwrap();
        }
        assert_eq!(
            s.kv_list(&a, "a/", None, 10).unwrap(),
            vec!["a/1", "a/2", "a/3"]
        );
        assert_eq!(s.kv_list(&a, "a/", Some("a/1"), 1).unwrap(), vec!["a/2"]);
        assert_eq!(s.kv_list(&a, "a%", None, 10).unwrap(), vec!["a%/x"]);
    }

    #[test]
    fn reads_see_committed_writes_and_never_wait_for_the_writer() {
        let dir = tempfile::tempdir().unwrap();
        let s = std::sync::Arc::new(SqliteStore::open(&dir.path().join("db")).unwrap());
        assert_eq!(s.readers.len(), READERS);
        let a = scope("t", "p");
        s.kv_put(&a, "k", b"v1", None, true, 1000).unwrap();
        assert_eq!(s.kv_get(&a, "k").unwrap().unwrap().value, b"v1");

        // With the writer held (a long write in progress), reads still complete.
        let writer = lock(&s.writer);
        let (done, seen) = std::sync::mpsc::channel();
        let reader = s.clone();
        let scope_a = a.clone();
        std::thread::spawn(move || {
            let _ = done.send(reader.kv_get(&scope_a, "k").map(|e| e.map(|e| e.value)));
        });
        let got = seen
            .recv_timeout(std::time::Duration::from_secs(30))
            .expect("a read waited for the writer");
        assert_eq!(got.unwrap(), Some(b"v1".to_vec()));
        drop(writer);

        s.kv_put(&a, "k", b"v2", None, true, 1000).unwrap();
        for _ in 0..READERS * 2 {
            assert_eq!(s.kv_get(&a, "k").unwrap().unwrap().value, b"v2");
        }
    }

    /// Finding (issue 13): a file with corrupt pages in the middle was opened and served.
    #[test]
    fn a_file_damaged_in_the_middle_is_refused_at_open_and_reported_by_the_check() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(super::super::DB_FILE);
        {
            let s = SqliteStore::open(&path).unwrap();
            let a = scope("t", "p");
            for i in 0..3000 {
                s.kv_put(&a, &format!("key-{i:05}"), &[7u8; 64], None, true, u64::MAX)
                    .unwrap();
            }
        }
        assert_eq!(
            super::super::check_data_dir(dir.path(), true, None).unwrap(),
            Integrity::Ok
        );
        let size = std::fs::metadata(&path).unwrap().len();
        assert!(size > 20 * 4096, "{size}");
        // Overwrite a page in the middle (not the header): the file still opens.
        let mut bytes = std::fs::read(&path).unwrap();
        let middle = (bytes.len() / 4096 / 2) * 4096;
        bytes[middle..middle + 4096].fill(0xAB);
        std::fs::write(&path, bytes).unwrap();

        let err = SqliteStore::open(&path)
            .err()
            .expect("a damaged file is refused");
        let shown = err.to_string();
        assert!(matches!(err, StoreError::Corrupt { .. }), "{shown}");
        assert!(
            shown.contains("restore it from your last backup") && shown.contains("store check"),
            "{shown}"
        );
        match super::super::check_data_dir(dir.path(), true, None).unwrap() {
            Integrity::Damaged(problems) => assert!(!problems.is_empty()),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_check_out_of_time_is_unfinished_not_damaged() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        {
            let s = SqliteStore::open(&path).unwrap();
            for i in 0..500 {
                s.kv_put(
                    &scope("t", "p"),
                    &format!("k{i}"),
                    &[1u8; 64],
                    None,
                    true,
                    u64::MAX,
                )
                .unwrap();
            }
        }
        let conn = Connection::open(&path).unwrap();
        assert_eq!(
            integrity(&conn, true, Some(std::time::Duration::ZERO)).unwrap(),
            Integrity::Unfinished
        );
        // The handler is removed afterwards: the connection works as before.
        assert_eq!(integrity(&conn, true, None).unwrap(), Integrity::Ok);
    }
}
