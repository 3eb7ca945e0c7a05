//! The journal: work items, the steps each one took as they crossed the WIT boundary, and the
//! durable inbox of webhook deliveries. It is the audit trail and the basis of retry, replay and
//! exactly-once shipment creation.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use rusqlite::{OptionalExtension, Row, params};
use serde::{Deserialize, Serialize};

use super::{Scope, SqliteStore, StoreError};

pub(crate) const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS work_items (
    id TEXT PRIMARY KEY,
    tenant TEXT NOT NULL, flow TEXT NOT NULL, key TEXT NOT NULL,
    state TEXT NOT NULL, attempt INTEGER NOT NULL DEFAULT 0, next_at_ms INTEGER NOT NULL,
    payload TEXT, modified_at_ms INTEGER NOT NULL,
    last_error TEXT, hold TEXT, summary TEXT,
    created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL,
    UNIQUE (tenant, flow, key)
);
CREATE INDEX IF NOT EXISTS work_items_due ON work_items (tenant, flow, state, next_at_ms);
CREATE TABLE IF NOT EXISTS steps (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    item_id TEXT NOT NULL, attempt INTEGER NOT NULL, seq INTEGER NOT NULL,
    operation TEXT NOT NULL, step_key TEXT NOT NULL, status TEXT NOT NULL,
    input TEXT NOT NULL, output TEXT, error TEXT,
    started_ms INTEGER NOT NULL, ended_ms INTEGER, callee TEXT
);
CREATE INDEX IF NOT EXISTS steps_item ON steps (item_id, operation, step_key);
CREATE TABLE IF NOT EXISTS inbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant TEXT NOT NULL, source TEXT NOT NULL, digest TEXT NOT NULL,
    received_ms INTEGER NOT NULL, body BLOB NOT NULL,
    state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, next_at_ms INTEGER NOT NULL,
    last_error TEXT,
    UNIQUE (tenant, source, digest)
);
CREATE INDEX IF NOT EXISTS inbox_due ON inbox (tenant, state, next_at_ms);
"#;

/// Brings a journal created by an earlier version up to [`SCHEMA`]: columns added since are
/// added in place (SQLite's `CREATE TABLE IF NOT EXISTS` leaves an existing table as it was).
pub(crate) fn migrate(conn: &rusqlite::Connection) -> rusqlite::Result<()> {
    let has_callee: bool = conn.query_row(
        "SELECT COUNT(*) FROM pragma_table_info('steps') WHERE name = 'callee'",
        [],
        |r| r.get::<_, i64>(0).map(|n| n > 0),
    )?;
    if !has_callee {
        conn.execute_batch("ALTER TABLE steps ADD COLUMN callee TEXT")?;
    }
    Ok(())
}

/// Where a work item is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ItemState {
    /// Waiting to run.
    Pending,
    /// Being processed now (or the host died while it was).
    Running,
    /// Waiting for a retry after a retryable failure.
    Retry,
    /// Needs a person; replay once fixed.
    Held,
    /// Failed permanently; replay once fixed.
    Failed,
    /// Done.
    Completed,
}

impl ItemState {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            ItemState::Pending => "pending",
            ItemState::Running => "running",
            ItemState::Retry => "retry",
            ItemState::Held => "held",
            ItemState::Failed => "failed",
            ItemState::Completed => "completed",
        }
    }
}

impl fmt::Display for ItemState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ItemState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "pending" => ItemState::Pending,
            "running" => ItemState::Running,
            "retry" => ItemState::Retry,
            "held" => ItemState::Held,
            "failed" => ItemState::Failed,
            "completed" => ItemState::Completed,
            other => return Err(format!("unknown work item state `{other}`")),
        })
    }
}

/// How a journaled step ended (or that it has not yet).
///
/// The stored names are part of the audit trail's format (`GET /api/v1/audit`), so they do not
/// change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StepStatus {
    /// Begun; no outcome journaled yet. Seen after a crash mid-call: the outcome is in doubt.
    Started,
    /// Succeeded; its output is journaled.
    Ok,
    /// Failed with an error that says the call had no effect.
    Error,
    /// Failed in a way that leaves the outcome in doubt (a timeout, a trap, `unavailable`).
    Unknown,
    /// Answered from an earlier run's journaled output instead of being repeated.
    Replayed,
    /// An in-doubt creation whose result was found at the carrier (`find-shipments`).
    Reconciled,
    /// A duplicate carrier shipment found during reconciliation, voided.
    VoidedDuplicate,
}

impl StepStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            StepStatus::Started => "started",
            StepStatus::Ok => "ok",
            StepStatus::Error => "error",
            StepStatus::Unknown => "unknown",
            StepStatus::Replayed => "replayed",
            StepStatus::Reconciled => "reconciled",
            StepStatus::VoidedDuplicate => "voided-duplicate",
        }
    }

    /// Whether the step's output is a result a retry may be answered with.
    pub fn has_result(self) -> bool {
        matches!(self, StepStatus::Ok | StepStatus::Reconciled)
    }

    /// Whether the step may have taken effect without the journal knowing its result.
    pub fn in_doubt(self) -> bool {
        matches!(self, StepStatus::Started | StepStatus::Unknown)
    }
}

impl fmt::Display for StepStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for StepStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "started" => StepStatus::Started,
            "ok" => StepStatus::Ok,
            "error" => StepStatus::Error,
            "unknown" => StepStatus::Unknown,
            "replayed" => StepStatus::Replayed,
            "reconciled" => StepStatus::Reconciled,
            "voided-duplicate" => StepStatus::VoidedDuplicate,
            other => return Err(format!("unknown step status `{other}`")),
        })
    }
}

/// A step about to be journaled (see [`Journal::step_begin`]).
#[derive(Debug, Clone)]
pub struct NewStep<'a> {
    /// The work item.
    pub item_id: &'a str,
    /// The item's run number.
    pub attempt: u32,
    /// Position within that run.
    pub seq: u32,
    /// The WIT function, e.g. `carrier.create-shipment`.
    pub operation: &'a str,
    /// What makes two calls "the same step" (memoization key); empty for live calls.
    pub step_key: &'a str,
    /// The plugin that served the call.
    pub callee: &'a str,
    /// Input (JSON, redacted).
    pub input: &'a serde_json::Value,
    /// When it started, ms since the epoch.
    pub started_ms: i64,
}

/// A work item as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkItemRecord {
    /// The host's id.
    pub id: String,
    /// Tenant.
    pub tenant: String,
    /// Flow plugin id.
    pub flow: String,
    /// Business key (the ERP shipment id).
    pub key: String,
    /// State.
    pub state: ItemState,
    /// Runs so far (retries and replays included).
    pub attempt: u32,
    /// When it may run next, ms since the epoch.
    pub next_at_ms: i64,
    /// The discovered record (JSON of the WIT shipment), if it could be mapped.
    pub payload: Option<serde_json::Value>,
    /// The ERP modification time when discovered.
    pub modified_at_ms: i64,
    /// The last failure, for operators.
    pub last_error: Option<String>,
    /// Why it is held (JSON of the WIT hold), if held.
    pub hold: Option<serde_json::Value>,
    /// The completion summary.
    pub summary: Option<String>,
    /// Created, ms since the epoch.
    pub created_ms: i64,
    /// Last changed, ms since the epoch.
    pub updated_ms: i64,
}

/// A newly discovered item.
#[derive(Debug, Clone)]
pub struct NewItem {
    /// Business key.
    pub key: String,
    /// ERP modification time.
    pub modified_at_ms: i64,
    /// The mapped record, or why it could not be mapped (the item starts failed).
    pub payload: Result<serde_json::Value, String>,
}

/// How an item run ended, to store.
#[derive(Debug, Clone)]
pub struct ItemUpdate {
    /// New state.
    pub state: ItemState,
    /// When it may run next (retries).
    pub next_at_ms: i64,
    /// Failure text.
    pub last_error: Option<String>,
    /// Hold details.
    pub hold: Option<serde_json::Value>,
    /// Completion summary.
    pub summary: Option<String>,
}

/// Filters for listing work items.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ItemQuery {
    /// Only this tenant.
    pub tenant: Option<String>,
    /// Only this flow.
    pub flow: Option<String>,
    /// Only this state.
    pub state: Option<ItemState>,
    /// Only this business key.
    pub key: Option<String>,
    /// Updated at or after (ms).
    pub since_ms: Option<i64>,
    /// Updated before (ms).
    pub until_ms: Option<i64>,
    /// At most this many (default 1000).
    pub limit: Option<u32>,
}

/// One journaled step of a work item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepRecord {
    /// Row id (orders steps).
    pub id: i64,
    /// The item.
    pub item_id: String,
    /// The item's run number when the step happened.
    pub attempt: u32,
    /// Position within that run.
    pub seq: u32,
    /// The WIT function, e.g. `carrier.create-shipment`.
    pub operation: String,
    /// What makes two calls "the same step" (memoization key).
    pub step_key: String,
    /// How it ended.
    pub status: StepStatus,
    /// Input (JSON, redacted).
    pub input: serde_json::Value,
    /// Output (JSON), when it succeeded.
    pub output: Option<serde_json::Value>,
    /// Error text, when it failed.
    pub error: Option<String>,
    /// Started, ms.
    pub started_ms: i64,
    /// Ended, ms.
    pub ended_ms: Option<i64>,
    /// The plugin that served the call (steps journaled before this was recorded have none).
    pub callee: Option<String>,
}

/// A webhook delivery waiting in (or done with) the inbox.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InboxEntry {
    /// Row id.
    pub id: i64,
    /// Tenant.
    pub tenant: String,
    /// Source, e.g. `ups-track-alert`.
    pub source: String,
    /// Received, ms.
    pub received_ms: i64,
    /// The raw body.
    #[serde(skip)]
    pub body: Vec<u8>,
    /// `pending`, `processing`, `done`, `failed`.
    pub state: String,
    /// Processing attempts.
    pub attempts: u32,
    /// Last failure.
    pub last_error: Option<String>,
}

/// Whether a delivery was new.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InboxPut {
    /// Stored with this id.
    Stored(i64),
    /// The same body from the same source was already received.
    Duplicate,
}

fn json_col(row: &Row<'_>, idx: usize) -> rusqlite::Result<Option<serde_json::Value>> {
    let text: Option<String> = row.get(idx)?;
    Ok(text.and_then(|t| serde_json::from_str(&t).ok()))
}

fn item_from_row(row: &Row<'_>) -> rusqlite::Result<WorkItemRecord> {
    let state: String = row.get(4)?;
    Ok(WorkItemRecord {
        id: row.get(0)?,
        tenant: row.get(1)?,
        flow: row.get(2)?,
        key: row.get(3)?,
        state: state.parse().unwrap_or(ItemState::Failed),
        attempt: row.get(5)?,
        next_at_ms: row.get(6)?,
        payload: json_col(row, 7)?,
        modified_at_ms: row.get(8)?,
        last_error: row.get(9)?,
        hold: json_col(row, 10)?,
        summary: row.get(11)?,
        created_ms: row.get(12)?,
        updated_ms: row.get(13)?,
    })
}

const ITEM_COLS: &str = "id, tenant, flow, key, state, attempt, next_at_ms, payload, modified_at_ms, last_error, hold, summary, created_ms, updated_ms";

fn step_from_row(row: &Row<'_>) -> rusqlite::Result<StepRecord> {
    Ok(StepRecord {
        id: row.get(0)?,
        item_id: row.get(1)?,
        attempt: row.get(2)?,
        seq: row.get(3)?,
        operation: row.get(4)?,
        step_key: row.get(5)?,
        status: {
            let status: String = row.get(6)?;
            // A name this build does not know (a newer host wrote it) is treated as in doubt,
            // so exactly-once creation reconciles instead of trusting or ignoring it.
            status.parse().unwrap_or(StepStatus::Unknown)
        },
        input: json_col(row, 7)?.unwrap_or(serde_json::Value::Null),
        output: json_col(row, 8)?,
        error: row.get(9)?,
        started_ms: row.get(10)?,
        ended_ms: row.get(11)?,
        callee: row.get(12)?,
    })
}

const STEP_COLS: &str = "id, item_id, attempt, seq, operation, step_key, status, input, output, error, started_ms, ended_ms, callee";

fn inbox_from_row(row: &Row<'_>) -> rusqlite::Result<InboxEntry> {
    Ok(InboxEntry {
        id: row.get(0)?,
        tenant: row.get(1)?,
        source: row.get(2)?,
        received_ms: row.get(3)?,
        body: row.get(4)?,
        state: row.get(5)?,
        attempts: row.get(6)?,
        last_error: row.get(7)?,
    })
}

/// Durable work items, steps and inbox.
pub trait Journal: Send + Sync + 'static {
    /// Stores newly discovered items (ignoring keys already known) and, in the same
    /// transaction, the flow's cursor checkpoint. Returns how many items were new.
    fn accept_discovered(
        &self,
        tenant: &str,
        flow: &str,
        items: &[NewItem],
        checkpoint: Option<(&Scope, &str, &[u8])>,
        now_ms: i64,
    ) -> Result<usize, StoreError>;
    /// Marks up to `limit` due items (pending, or retry whose time has come) as running and
    /// returns them, oldest due first; `attempt` is incremented.
    fn claim_due(
        &self,
        tenant: &str,
        flow: &str,
        now_ms: i64,
        limit: u32,
    ) -> Result<Vec<WorkItemRecord>, StoreError>;
    /// After a restart: items left running go back to pending; inbox entries left processing
    /// go back to pending. Returns how many items were requeued.
    fn requeue_interrupted(&self, now_ms: i64) -> Result<usize, StoreError>;
    /// Stores how a run ended.
    fn finish_item(&self, id: &str, update: &ItemUpdate, now_ms: i64) -> Result<(), StoreError>;
    /// Puts a failed or held item back to pending; false when it is in another state.
    fn replay_item(&self, id: &str, now_ms: i64) -> Result<bool, StoreError>;
    /// One item.
    fn item(&self, id: &str) -> Result<Option<WorkItemRecord>, StoreError>;
    /// Items matching a query, most recently updated first.
    fn items(&self, query: &ItemQuery) -> Result<Vec<WorkItemRecord>, StoreError>;
    /// Item counts by state.
    fn item_counts(&self, tenant: Option<&str>) -> Result<BTreeMap<ItemState, u64>, StoreError>;
    /// The earliest `next_at_ms` of a pending or retry item, if any.
    fn next_due(&self, tenant: &str, flow: &str) -> Result<Option<i64>, StoreError>;

    /// Journals the start of a step (status `started`); returns its id.
    fn step_begin(&self, step: &NewStep<'_>) -> Result<i64, StoreError>;
    /// Journals how a step ended.
    fn step_end(
        &self,
        step_id: i64,
        status: StepStatus,
        output: Option<&serde_json::Value>,
        error: Option<&str>,
        now_ms: i64,
    ) -> Result<(), StoreError>;
    /// Earlier steps of an item with this operation and key, newest first.
    fn step_lookup(
        &self,
        item_id: &str,
        operation: &str,
        step_key: &str,
    ) -> Result<Vec<StepRecord>, StoreError>;
    /// Every step of an item, in order.
    fn steps(&self, item_id: &str) -> Result<Vec<StepRecord>, StoreError>;

    /// Stores a webhook delivery unless the same body from the same source was seen.
    fn inbox_put(
        &self,
        tenant: &str,
        source: &str,
        body: &[u8],
        now_ms: i64,
    ) -> Result<InboxPut, StoreError>;
    /// Claims up to `limit` due deliveries of a tenant.
    fn inbox_claim(
        &self,
        tenant: &str,
        now_ms: i64,
        limit: u32,
    ) -> Result<Vec<InboxEntry>, StoreError>;
    /// Ends processing of a delivery: `done`, `failed` (will never parse) or back to
    /// `pending` for another try at `next_at_ms`.
    fn inbox_finish(
        &self,
        id: i64,
        state: &str,
        error: Option<&str>,
        next_at_ms: i64,
    ) -> Result<(), StoreError>;
    /// Inbox counts by state for a tenant.
    fn inbox_counts(&self, tenant: Option<&str>) -> Result<BTreeMap<String, u64>, StoreError>;
}

impl Journal for SqliteStore {
    fn accept_discovered(
        &self,
        tenant: &str,
        flow: &str,
        items: &[NewItem],
        checkpoint: Option<(&Scope, &str, &[u8])>,
        now_ms: i64,
    ) -> Result<usize, StoreError> {
        self.with("journal.accept", |c| {
            let tx = c.transaction()?;
            let mut inserted = 0;
            for item in items {
                let (state, payload, error) = match &item.payload {
                    Ok(p) => ("pending", Some(p.to_string()), None),
                    Err(e) => ("failed", None, Some(e.clone())),
                };
                inserted += tx.execute(
                    "INSERT INTO work_items (id, tenant, flow, key, state, attempt, next_at_ms, payload, modified_at_ms, last_error, created_ms, updated_ms)
                     VALUES (?1, ?2, ?3, ?4, ?5, 0, ?6, ?7, ?8, ?9, ?6, ?6)
                     ON CONFLICT (tenant, flow, key) DO NOTHING",
                    params![uuid::Uuid::new_v4().to_string(), tenant, flow, item.key, state, now_ms, payload, item.modified_at_ms, error],
                )?;
            }
            if let Some((scope, key, value)) = checkpoint {
                tx.execute(
                    "INSERT INTO kv (tenant, plugin, key, value, revision) VALUES (?1, ?2, ?3, ?4, 1)
                     ON CONFLICT (tenant, plugin, key) DO UPDATE SET value = excluded.value, revision = kv.revision + 1",
                    params![scope.tenant, scope.plugin, key, value],
                )?;
            }
            tx.commit()?;
            Ok(inserted)
        })
    }

    fn claim_due(
        &self,
        tenant: &str,
        flow: &str,
        now_ms: i64,
        limit: u32,
    ) -> Result<Vec<WorkItemRecord>, StoreError> {
        self.with("journal.claim", |c| {
            let tx = c.transaction()?;
            let ids: Vec<String> = {
                let mut stmt = tx.prepare_cached(
                    "SELECT id FROM work_items WHERE tenant = ?1 AND flow = ?2 AND state IN ('pending', 'retry') AND next_at_ms <= ?3
                     ORDER BY next_at_ms, created_ms LIMIT ?4",
                )?;
                let rows = stmt.query_map(params![tenant, flow, now_ms, i64::from(limit)], |r| r.get(0))?;
                rows.collect::<Result<_, _>>()?
            };
            let mut out = Vec::with_capacity(ids.len());
            for id in ids {
                tx.execute(
                    "UPDATE work_items SET state = 'running', attempt = attempt + 1, updated_ms = ?2 WHERE id = ?1",
                    params![id, now_ms],
                )?;
                let item = tx.query_row(&format!("SELECT {ITEM_COLS} FROM work_items WHERE id = ?1"), params![id], item_from_row)?;
                out.push(item);
            }
            tx.commit()?;
            Ok(out)
        })
    }

    fn requeue_interrupted(&self, now_ms: i64) -> Result<usize, StoreError> {
        self.with("journal.requeue", |c| {
            let n = c.execute(
                "UPDATE work_items SET state = 'pending', next_at_ms = ?1, updated_ms = ?1 WHERE state = 'running'",
                params![now_ms],
            )?;
            c.execute("UPDATE inbox SET state = 'pending', next_at_ms = ?1 WHERE state = 'processing'", params![now_ms])?;
            Ok(n)
        })
    }

    fn finish_item(&self, id: &str, u: &ItemUpdate, now_ms: i64) -> Result<(), StoreError> {
        self.with("journal.finish", |c| {
            c.execute(
                "UPDATE work_items SET state = ?2, next_at_ms = ?3, last_error = ?4, hold = ?5, summary = COALESCE(?6, summary), updated_ms = ?7
                 WHERE id = ?1",
                params![
                    id,
                    u.state.as_str(),
                    u.next_at_ms,
                    u.last_error,
                    u.hold.as_ref().map(|h| h.to_string()),
                    u.summary,
                    now_ms
                ],
            )
            .map(|_| ())
        })
    }

    fn replay_item(&self, id: &str, now_ms: i64) -> Result<bool, StoreError> {
        self.with("journal.replay", |c| {
            c.execute(
                "UPDATE work_items SET state = 'pending', next_at_ms = ?2, updated_ms = ?2 WHERE id = ?1 AND state IN ('failed', 'held')",
                params![id, now_ms],
            )
            .map(|n| n > 0)
        })
    }

    fn item(&self, id: &str) -> Result<Option<WorkItemRecord>, StoreError> {
        self.read("journal.item", |c| {
            c.query_row(
                &format!("SELECT {ITEM_COLS} FROM work_items WHERE id = ?1"),
                params![id],
                item_from_row,
            )
            .optional()
        })
    }

    fn items(&self, q: &ItemQuery) -> Result<Vec<WorkItemRecord>, StoreError> {
        self.read("journal.items", |c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {ITEM_COLS} FROM work_items
                 WHERE (?1 IS NULL OR tenant = ?1) AND (?2 IS NULL OR flow = ?2) AND (?3 IS NULL OR state = ?3)
                   AND (?4 IS NULL OR key = ?4) AND (?5 IS NULL OR updated_ms >= ?5) AND (?6 IS NULL OR updated_ms < ?6)
                 ORDER BY updated_ms DESC, id LIMIT ?7"
            ))?;
            let rows = stmt.query_map(
                params![
                    q.tenant,
                    q.flow,
                    q.state.map(ItemState::as_str),
                    q.key,
                    q.since_ms,
                    q.until_ms,
                    i64::from(q.limit.unwrap_or(1000))
                ],
                item_from_row,
            )?;
            rows.collect()
        })
    }

    fn item_counts(&self, tenant: Option<&str>) -> Result<BTreeMap<ItemState, u64>, StoreError> {
        self.read("journal.counts", |c| {
            let mut stmt =
                c.prepare_cached("SELECT state, COUNT(*) FROM work_items WHERE ?1 IS NULL OR tenant = ?1 GROUP BY state")?;
            let rows = stmt.query_map(params![tenant], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
            let mut out = BTreeMap::new();
            for row in rows {
                let (state, n) = row?;
                if let Ok(state) = state.parse() {
                    out.insert(state, n.max(0).cast_unsigned());
                }
            }
            Ok(out)
        })
    }

    fn next_due(&self, tenant: &str, flow: &str) -> Result<Option<i64>, StoreError> {
        self.read("journal.next_due", |c| {
            c.query_row(
                "SELECT MIN(next_at_ms) FROM work_items WHERE tenant = ?1 AND flow = ?2 AND state IN ('pending', 'retry')",
                params![tenant, flow],
                |r| r.get(0),
            )
        })
    }

    fn step_begin(&self, step: &NewStep<'_>) -> Result<i64, StoreError> {
        self.with("journal.step_begin", |c| {
            c.prepare_cached(
                "INSERT INTO steps (item_id, attempt, seq, operation, step_key, status, input, started_ms, callee)
                 VALUES (?1, ?2, ?3, ?4, ?5, 'started', ?6, ?7, ?8)",
            )?
            .execute(params![
                step.item_id,
                step.attempt,
                step.seq,
                step.operation,
                step.step_key,
                step.input.to_string(),
                step.started_ms,
                step.callee
            ])?;
            Ok(c.last_insert_rowid())
        })
    }

    fn step_end(
        &self,
        step_id: i64,
        status: StepStatus,
        output: Option<&serde_json::Value>,
        error: Option<&str>,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        self.with("journal.step_end", |c| {
            c.execute(
                "UPDATE steps SET status = ?2, output = ?3, error = ?4, ended_ms = ?5 WHERE id = ?1",
                params![step_id, status.as_str(), output.map(|o| o.to_string()), error, now_ms],
            )
            .map(|_| ())
        })
    }

    fn step_lookup(
        &self,
        item_id: &str,
        operation: &str,
        step_key: &str,
    ) -> Result<Vec<StepRecord>, StoreError> {
        self.read("journal.step_lookup", |c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {STEP_COLS} FROM steps WHERE item_id = ?1 AND operation = ?2 AND step_key = ?3 ORDER BY id DESC"
            ))?;
            let rows = stmt.query_map(params![item_id, operation, step_key], step_from_row)?;
            rows.collect()
        })
    }

    fn steps(&self, item_id: &str) -> Result<Vec<StepRecord>, StoreError> {
        self.read("journal.steps", |c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {STEP_COLS} FROM steps WHERE item_id = ?1 ORDER BY id"
            ))?;
            let rows = stmt.query_map(params![item_id], step_from_row)?;
            rows.collect()
        })
    }

    fn inbox_put(
        &self,
        tenant: &str,
        source: &str,
        body: &[u8],
        now_ms: i64,
    ) -> Result<InboxPut, StoreError> {
        use sha2::Digest;
        let digest = hex::encode(sha2::Sha256::digest(body));
        self.with("inbox.put", |c| {
            let n = c.execute(
                "INSERT INTO inbox (tenant, source, digest, received_ms, body, state, next_at_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, 'pending', ?4) ON CONFLICT (tenant, source, digest) DO NOTHING",
                params![tenant, source, digest, now_ms, body],
            )?;
            Ok(if n == 0 { InboxPut::Duplicate } else { InboxPut::Stored(c.last_insert_rowid()) })
        })
    }

    fn inbox_claim(
        &self,
        tenant: &str,
        now_ms: i64,
        limit: u32,
    ) -> Result<Vec<InboxEntry>, StoreError> {
        self.with("inbox.claim", |c| {
            let tx = c.transaction()?;
            let entries: Vec<InboxEntry> = {
                let mut stmt = tx.prepare_cached(
                    "SELECT id, tenant, source, received_ms, body, state, attempts, last_error FROM inbox
                     WHERE tenant = ?1 AND state = 'pending' AND next_at_ms <= ?2 ORDER BY id LIMIT ?3",
                )?;
                let rows = stmt.query_map(params![tenant, now_ms, i64::from(limit)], inbox_from_row)?;
                rows.collect::<Result<_, _>>()?
            };
            for e in &entries {
                tx.execute("UPDATE inbox SET state = 'processing', attempts = attempts + 1 WHERE id = ?1", params![e.id])?;
            }
            tx.commit()?;
            Ok(entries)
        })
    }

    fn inbox_finish(
        &self,
        id: i64,
        state: &str,
        error: Option<&str>,
        next_at_ms: i64,
    ) -> Result<(), StoreError> {
        self.with("inbox.finish", |c| {
            c.execute(
                "UPDATE inbox SET state = ?2, last_error = ?3, next_at_ms = ?4 WHERE id = ?1",
                params![id, state, error, next_at_ms],
            )
            .map(|_| ())
        })
    }

    fn inbox_counts(&self, tenant: Option<&str>) -> Result<BTreeMap<String, u64>, StoreError> {
        self.read("inbox.counts", |c| {
            let mut stmt = c.prepare_cached(
                "SELECT state, COUNT(*) FROM inbox WHERE ?1 IS NULL OR tenant = ?1 GROUP BY state",
            )?;
            let rows = stmt.query_map(params![tenant], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
            })?;
            rows.map(|r| r.map(|(s, n)| (s, n.max(0).cast_unsigned())))
                .collect()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(key: &str) -> NewItem {
        NewItem {
            key: key.into(),
            modified_at_ms: 1,
            payload: Ok(serde_json::json!({"erp-id": key})),
        }
    }

    #[test]
    fn discovery_is_deduplicated_and_atomic_with_the_checkpoint() {
        let s = SqliteStore::in_memory().unwrap();
        let scope = Scope {
            tenant: "t".into(),
            plugin: "flow".into(),
        };
        let n = s
            .accept_discovered(
                "t",
                "flow",
                &[item("1"), item("2")],
                Some((&scope, "cursor", b"c1")),
                10,
            )
            .unwrap();
        assert_eq!(n, 2);
        let bad = NewItem {
            key: "3".into(),
            modified_at_ms: 1,
            payload: Err("invalid input: ReceiverZipCode".into()),
        };
        let n = s
            .accept_discovered(
                "t",
                "flow",
                &[item("2"), bad],
                Some((&scope, "cursor", b"c2")),
                11,
            )
            .unwrap();
        assert_eq!(n, 1, "key 2 was already known");
        use crate::db::Store;
        assert_eq!(s.kv_get(&scope, "cursor").unwrap().unwrap().value, b"c2");
        let failed = s
            .items(&ItemQuery {
                state: Some(ItemState::Failed),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(failed.len(), 1);
        assert!(
            failed[0]
                .last_error
                .as_deref()
                .unwrap()
                .contains("ReceiverZipCode")
        );
    }

    #[test]
    fn claim_retry_replay_and_requeue() {
        let s = SqliteStore::in_memory().unwrap();
        s.accept_discovered("t", "f", &[item("a"), item("b")], None, 0)
            .unwrap();
        let claimed = s.claim_due("t", "f", 5, 1).unwrap();
        assert_eq!(claimed.len(), 1);
        assert_eq!(
            (claimed[0].state, claimed[0].attempt),
            (ItemState::Running, 1)
        );
        let id = claimed[0].id.clone();
        s.finish_item(
            &id,
            &ItemUpdate {
                state: ItemState::Retry,
                next_at_ms: 100,
                last_error: Some("429".into()),
                hold: None,
                summary: None,
            },
            6,
        )
        .unwrap();
        // Not due yet: only b.
        let next = s.claim_due("t", "f", 50, 10).unwrap();
        assert_eq!(
            next.iter().map(|i| i.key.as_str()).collect::<Vec<_>>(),
            vec!["b"]
        );
        assert_eq!(s.requeue_interrupted(60).unwrap(), 1, "b was left running");
        let due = s.claim_due("t", "f", 100, 10).unwrap();
        assert_eq!(due.len(), 2);
        assert!(
            !s.replay_item(&id, 200).unwrap(),
            "running items are not replayable"
        );
        s.finish_item(
            &id,
            &ItemUpdate {
                state: ItemState::Failed,
                next_at_ms: 0,
                last_error: None,
                hold: None,
                summary: None,
            },
            7,
        )
        .unwrap();
        assert!(s.replay_item(&id, 200).unwrap());
    }

    #[test]
    fn inbox_deduplicates_and_requeues() {
        let s = SqliteStore::in_memory().unwrap();
        assert!(matches!(
            s.inbox_put("t", "ups", b"{1}", 1).unwrap(),
            InboxPut::Stored(_)
        ));
        assert_eq!(
            s.inbox_put("t", "ups", b"{1}", 2).unwrap(),
            InboxPut::Duplicate
        );
        let got = s.inbox_claim("t", 5, 10).unwrap();
        assert_eq!(got.len(), 1);
        assert!(s.inbox_claim("t", 5, 10).unwrap().is_empty());
        s.requeue_interrupted(6).unwrap();
        let again = s.inbox_claim("t", 6, 10).unwrap();
        assert_eq!(again.len(), 1);
        s.inbox_finish(again[0].id, "done", None, 0).unwrap();
        assert_eq!(s.inbox_counts(Some("t")).unwrap().get("done"), Some(&1));
    }
}
