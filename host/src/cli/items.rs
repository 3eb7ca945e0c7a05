//! `ml-connector items …` and `ml-connector audit`: the journal from the command line — list
//! and inspect work items with their audit trail, replay failed or held ones, export the audit
//! trail as JSON lines. They open the data directory directly (SQLite in WAL mode is safe to
//! use beside a running service, which picks replayed items up on its next turn).

use std::io::Write;
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use clap::{Args, Subcommand};

use crate::config::Config;
use std::sync::Arc;

use crate::db::{ItemQuery, ItemState, Store, StoreError, open_data_dir};

/// Where the data directory is.
#[derive(Debug, Clone, Args)]
pub struct DataLocation {
    /// Data directory holding `ml-connector.db`.
    #[arg(long, required_unless_present = "config", conflicts_with = "config")]
    pub data_dir: Option<PathBuf>,
    /// Service config file; its `service.data_dir` is used.
    #[arg(long)]
    pub config: Option<PathBuf>,
}

/// Arguments of `items`.
#[derive(Debug, Args)]
pub struct ItemsArgs {
    /// Where the journal is.
    #[command(flatten)]
    pub location: DataLocation,
    /// What to do.
    #[command(subcommand)]
    pub command: ItemsCommand,
}

/// The `items` subcommands.
#[derive(Debug, Subcommand)]
pub enum ItemsCommand {
    /// List work items, most recently updated first.
    List {
        /// Only this tenant.
        #[arg(long)]
        tenant: Option<String>,
        /// Only this state (pending, running, retry, held, failed, completed).
        #[arg(long)]
        state: Option<String>,
        /// Only this business key (the ERP shipment id).
        #[arg(long)]
        key: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 50)]
        limit: u32,
        /// One JSON object per line instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show one work item and its audit trail (every step, in order).
    Show {
        /// The work item id.
        id: String,
    },
    /// Re-drive a failed or held item from where it stopped (completed steps are not repeated).
    Replay {
        /// The work item id.
        id: String,
    },
}

/// Arguments of `audit`.
#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Where the journal is.
    #[command(flatten)]
    pub location: DataLocation,
    /// Only this tenant.
    #[arg(long)]
    pub tenant: Option<String>,
    /// Only this business key (the ERP shipment id).
    #[arg(long)]
    pub key: Option<String>,
    /// Only items updated at or after this time (RFC 3339).
    #[arg(long)]
    pub since: Option<DateTime<Utc>>,
    /// Only items updated before this time (RFC 3339).
    #[arg(long)]
    pub until: Option<DateTime<Utc>>,
}

/// Why a journal command failed.
#[derive(Debug, thiserror::Error)]
pub enum ItemsError {
    /// The configuration could not be read.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Bad arguments.
    #[error("{0}")]
    Usage(String),
    /// Writing the output failed.
    #[error("writing output: {0}")]
    Io(#[from] std::io::Error),
}

fn open(location: &DataLocation) -> Result<Arc<dyn Store>, ItemsError> {
    let dir = match (&location.data_dir, &location.config) {
        (Some(dir), _) => dir.clone(),
        (None, Some(config)) => Config::load(config)?.service.data_dir,
        (None, None) => return Err(ItemsError::Usage("give --data-dir or --config".into())),
    };
    if !dir.join(crate::db::DB_FILE).exists() {
        return Err(ItemsError::Usage(format!(
            "no ml-connector data in {}",
            dir.display()
        )));
    }
    Ok(open_data_dir(&dir)?)
}

fn time(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339())
        .unwrap_or_else(|| ms.to_string())
}

/// Runs an `items` subcommand, writing to `out`.
pub fn items(args: ItemsArgs, out: &mut impl Write) -> Result<(), ItemsError> {
    let store = open(&args.location)?;
    match args.command {
        ItemsCommand::List {
            tenant,
            state,
            key,
            limit,
            json,
        } => {
            let state = state
                .map(|s| s.parse::<ItemState>())
                .transpose()
                .map_err(ItemsError::Usage)?;
            let items = store.items(&ItemQuery {
                tenant,
                state,
                key,
                limit: Some(limit),
                ..ItemQuery::default()
            })?;
            for item in items {
                if json {
                    writeln!(out, "{}", serde_json::to_string(&item).unwrap_or_default())?;
                } else {
                    writeln!(
                        out,
                        "{}  {:<10} {:<9} {:<12} attempt {:<3} {}  {}",
                        item.id,
                        item.tenant,
                        item.state,
                        item.key,
                        item.attempt,
                        time(item.updated_ms),
                        item.last_error.or(item.summary).unwrap_or_default()
                    )?;
                }
            }
        }
        ItemsCommand::Show { id } => {
            let item = store
                .item(&id)?
                .ok_or_else(|| ItemsError::Usage(format!("no work item `{id}`")))?;
            let steps = store.steps(&id)?;
            let doc = serde_json::json!({ "item": item, "steps": steps });
            writeln!(
                out,
                "{}",
                serde_json::to_string_pretty(&doc).unwrap_or_default()
            )?;
        }
        ItemsCommand::Replay { id } => {
            let item = store
                .item(&id)?
                .ok_or_else(|| ItemsError::Usage(format!("no work item `{id}`")))?;
            let now = chrono::Utc::now().timestamp_millis();
            if !store.replay_item(&id, now)? {
                return Err(ItemsError::Usage(format!(
                    "work item `{id}` is {}; only failed or held items can be replayed",
                    item.state
                )));
            }
            writeln!(
                out,
                "work item {id} ({} in {}) queued for replay",
                item.key, item.tenant
            )?;
        }
    }
    Ok(())
}

/// Writes the audit trail of matching items as JSON lines: one line per step, with its item's
/// tenant, flow and key.
pub fn audit(args: AuditArgs, out: &mut impl Write) -> Result<(), ItemsError> {
    let store = open(&args.location)?;
    let query = ItemQuery {
        tenant: args.tenant,
        key: args.key,
        since_ms: args.since.map(|t| t.timestamp_millis()),
        until_ms: args.until.map(|t| t.timestamp_millis()),
        limit: Some(u32::MAX),
        ..ItemQuery::default()
    };
    let mut items = store.items(&query)?;
    items.sort_by_key(|i| i.created_ms);
    for item in items {
        for step in store.steps(&item.id)? {
            let line = serde_json::json!({
                "tenant": item.tenant, "flow": item.flow, "key": item.key, "item": item.id,
                "state": item.state, "step": step,
            });
            writeln!(out, "{line}")?;
        }
    }
    Ok(())
}
