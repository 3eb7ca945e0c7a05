//! Small helpers shared by both simulators.

use std::sync::{Mutex, MutexGuard};

use chrono::{DateTime, SecondsFormat, Utc};

/// Locks a mutex, carrying on with the data if another thread panicked while holding it:
/// the simulators' state stays usable, which is what a test harness wants.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// RFC 3339 with whole seconds and `Z`, the way IFS serialises DateTimeOffset values.
pub(crate) fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// A tiny deterministic hash (FNV-1a), stable across runs and platforms.
pub(crate) fn fnv(data: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in data {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Money with two decimals, as a string (UPS style).
pub(crate) fn money(v: f64) -> String {
    format!("{:.2}", (v * 100.0).round() / 100.0)
}
