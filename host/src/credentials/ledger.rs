//! The daily token-request budget: which day a request counts for, and when the next day
//! starts. Counting itself is one atomic store operation ([`TokenStore::token_reserve`]), so the
//! budget holds across restarts and across hosts sharing a database.
//!
//! [`TokenStore::token_reserve`]: crate::db::TokenStore::token_reserve

use chrono::{DateTime, NaiveTime, TimeZone, Utc};

/// The budget day of `now`: its UTC date, `YYYY-MM-DD` (UPS counts its quota per UTC day).
pub(crate) fn day(now: DateTime<Utc>) -> String {
    now.format("%Y-%m-%d").to_string()
}

/// Seconds until the next budget day starts (at least 1).
pub(crate) fn seconds_until_next_day(now: DateTime<Utc>) -> u64 {
    let next = now
        .date_naive()
        .succ_opt()
        .map(|d| d.and_time(NaiveTime::MIN))
        .map(|d| Utc.from_utc_datetime(&d));
    match next {
        Some(next) => u64::try_from((next - now).num_seconds())
            .unwrap_or(0)
            .max(1),
        // Only at the end of chrono's calendar; a day is a safe answer.
        None => 86_400,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_boundaries_are_utc() {
        let t = Utc.with_ymd_and_hms(2026, 5, 1, 23, 59, 30).unwrap();
        assert_eq!(day(t), "2026-05-01");
        assert_eq!(seconds_until_next_day(t), 30);
        let t = Utc.with_ymd_and_hms(2026, 5, 2, 0, 0, 0).unwrap();
        assert_eq!(day(t), "2026-05-02");
        assert_eq!(seconds_until_next_day(t), 86_400);
    }
}
