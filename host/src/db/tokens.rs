//! Durable state of the token manager: the cached (sealed) access token of each connection, and
//! the per-day ledger of token requests that enforces a connection's daily budget.
//!
//! Both survive restarts: a restarted host reuses a live token instead of asking for a new one,
//! and cannot spend a budget twice by restarting. Tokens arrive here already sealed by the vault;
//! this module never sees one in plaintext.

use rusqlite::{OptionalExtension, params};

use super::{SqliteStore, StoreError};

/// The outcome of asking the ledger for one more token request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reservation {
    /// Reserved: this many requests (including this one) are now counted for the day.
    Granted {
        /// Requests counted for the day, this one included.
        used: u32,
    },
    /// The day's budget is spent; nothing was counted.
    Refused {
        /// Requests already counted for the day.
        used: u32,
    },
}

/// Cached tokens and the token-request ledger, per `(tenant, connection)`.
pub trait TokenStore: Send + Sync + 'static {
    /// The sealed cached token of a connection, if any.
    fn token_get(&self, tenant: &str, connection: &str) -> Result<Option<Vec<u8>>, StoreError>;
    /// Replaces the sealed cached token of a connection.
    fn token_put(&self, tenant: &str, connection: &str, sealed: &[u8]) -> Result<(), StoreError>;
    /// Forgets the cached token of a connection.
    fn token_delete(&self, tenant: &str, connection: &str) -> Result<(), StoreError>;
    /// Forgets every cached token (after a master-key rotation); returns how many there were.
    fn token_delete_all(&self) -> Result<usize, StoreError>;
    /// Atomically counts one token request for `day` (`YYYY-MM-DD`, UTC) if fewer than
    /// `budget` are counted already.
    fn token_reserve(
        &self,
        tenant: &str,
        connection: &str,
        day: &str,
        budget: u32,
    ) -> Result<Reservation, StoreError>;
    /// Token requests counted for `day`.
    fn token_requests(&self, tenant: &str, connection: &str, day: &str) -> Result<u32, StoreError>;
}

/// The tables (created from `SqliteStore::init`).
pub(super) const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS oauth_tokens (
    tenant TEXT NOT NULL, connection TEXT NOT NULL, sealed BLOB NOT NULL,
    PRIMARY KEY (tenant, connection)
);
CREATE TABLE IF NOT EXISTS oauth_token_requests (
    tenant TEXT NOT NULL, connection TEXT NOT NULL, day TEXT NOT NULL, used INTEGER NOT NULL,
    PRIMARY KEY (tenant, connection, day)
);
"#;

impl TokenStore for SqliteStore {
    fn token_get(&self, tenant: &str, connection: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.with("token.get", |c| {
            c.query_row(
                "SELECT sealed FROM oauth_tokens WHERE tenant = ?1 AND connection = ?2",
                params![tenant, connection],
                |r| r.get(0),
            )
            .optional()
        })
    }

    fn token_put(&self, tenant: &str, connection: &str, sealed: &[u8]) -> Result<(), StoreError> {
        self.with("token.put", |c| {
            c.execute(
                "INSERT INTO oauth_tokens (tenant, connection, sealed) VALUES (?1, ?2, ?3)
                 ON CONFLICT (tenant, connection) DO UPDATE SET sealed = excluded.sealed",
                params![tenant, connection, sealed],
            )
            .map(|_| ())
        })
    }

    fn token_delete(&self, tenant: &str, connection: &str) -> Result<(), StoreError> {
        self.with("token.delete", |c| {
            c.execute(
                "DELETE FROM oauth_tokens WHERE tenant = ?1 AND connection = ?2",
                params![tenant, connection],
            )
            .map(|_| ())
        })
    }

    fn token_delete_all(&self) -> Result<usize, StoreError> {
        self.with("token.delete_all", |c| {
            c.execute("DELETE FROM oauth_tokens", [])
        })
    }

    fn token_reserve(
        &self,
        tenant: &str,
        connection: &str,
        day: &str,
        budget: u32,
    ) -> Result<Reservation, StoreError> {
        self.with("token.reserve", |c| {
            // One statement, so two hosts on the same file (or two threads) cannot both take
            // the last slot: the conditional upsert either counts the request or changes nothing.
            let changed = c.execute(
                "INSERT INTO oauth_token_requests (tenant, connection, day, used) VALUES (?1, ?2, ?3, 1)
                 ON CONFLICT (tenant, connection, day) DO UPDATE SET used = used + 1
                 WHERE used < ?4",
                params![tenant, connection, day, i64::from(budget)],
            )?;
            let used: i64 = c.query_row(
                "SELECT used FROM oauth_token_requests WHERE tenant = ?1 AND connection = ?2 AND day = ?3",
                params![tenant, connection, day],
                |r| r.get(0),
            )?;
            let used = u32::try_from(used.max(0)).unwrap_or(u32::MAX);
            // A first insert beyond a zero budget cannot happen: budgets are at least 1.
            Ok(if changed > 0 && used <= budget {
                Reservation::Granted { used }
            } else {
                Reservation::Refused { used }
            })
        })
    }

    fn token_requests(&self, tenant: &str, connection: &str, day: &str) -> Result<u32, StoreError> {
        self.with("token.requests", |c| {
            c.query_row(
                "SELECT used FROM oauth_token_requests WHERE tenant = ?1 AND connection = ?2 AND day = ?3",
                params![tenant, connection, day],
                |r| r.get::<_, i64>(0),
            )
            .optional()
            .map(|v| u32::try_from(v.unwrap_or(0).max(0)).unwrap_or(u32::MAX))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ledger_reserves_up_to_the_budget_per_day() {
        let s = SqliteStore::in_memory().unwrap();
        for n in 1..=3 {
            assert_eq!(
                s.token_reserve("t", "ups", "2026-05-01", 3).unwrap(),
                Reservation::Granted { used: n }
            );
        }
        assert_eq!(
            s.token_reserve("t", "ups", "2026-05-01", 3).unwrap(),
            Reservation::Refused { used: 3 }
        );
        assert_eq!(s.token_requests("t", "ups", "2026-05-01").unwrap(), 3);
        // Another day, connection or tenant has its own count.
        assert_eq!(
            s.token_reserve("t", "ups", "2026-05-02", 3).unwrap(),
            Reservation::Granted { used: 1 }
        );
        assert_eq!(
            s.token_reserve("t", "ifs", "2026-05-01", 3).unwrap(),
            Reservation::Granted { used: 1 }
        );
        assert_eq!(s.token_requests("u", "ups", "2026-05-01").unwrap(), 0);
    }

    #[test]
    fn cached_tokens_round_trip() {
        let s = SqliteStore::in_memory().unwrap();
        assert_eq!(s.token_get("t", "c").unwrap(), None);
        s.token_put("t", "c", b"sealed-1").unwrap();
        s.token_put("t", "c", b"sealed-2").unwrap();
        assert_eq!(s.token_get("t", "c").unwrap(), Some(b"sealed-2".to_vec()));
        s.token_delete("t", "c").unwrap();
        assert_eq!(s.token_get("t", "c").unwrap(), None);
        s.token_put("t", "c", b"x").unwrap();
        assert_eq!(s.token_delete_all().unwrap(), 1);
    }
}
