//! Time as the host sees it, and as plugins see it through `wasi:clocks/wall-clock`.
//!
//! Production uses the system clock. Tests and the demo run the host on an [`OffsetClock`] that
//! can jump ahead (an hour, 14 days) in step with the simulators, so token expiry, subscription
//! renewal and daily budgets can be exercised without waiting.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};

/// A source of the current time.
pub trait Clock: Send + Sync + 'static {
    /// The current UTC time.
    fn now(&self) -> DateTime<Utc>;

    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> i64 {
        self.now().timestamp_millis()
    }
}

/// The system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// The system clock plus an adjustable offset; [`OffsetClock::advance`] moves it forward.
#[derive(Debug, Default)]
pub struct OffsetClock {
    offset_ms: AtomicI64,
}

impl OffsetClock {
    /// A clock that starts at the system time.
    pub fn new() -> Self {
        Self::default()
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        let ms = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        self.offset_ms.fetch_add(ms, Ordering::SeqCst);
    }

    /// Sets the offset from the system clock.
    pub fn set_offset(&self, offset: chrono::Duration) {
        self.offset_ms
            .store(offset.num_milliseconds(), Ordering::SeqCst);
    }
}

impl Clock for OffsetClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now() + chrono::Duration::milliseconds(self.offset_ms.load(Ordering::SeqCst))
    }
}

/// A shared clock.
pub type SharedClock = Arc<dyn Clock>;

/// Adapts a [`Clock`] to WASI's wall clock, so plugins see the host's (possibly shifted) time.
pub(crate) struct WasiWallClock(pub SharedClock);

impl wasmtime_wasi::HostWallClock for WasiWallClock {
    fn resolution(&self) -> Duration {
        Duration::from_millis(1)
    }

    fn now(&self) -> Duration {
        let now = self.0.now();
        let secs = u64::try_from(now.timestamp()).unwrap_or(0);
        Duration::new(secs, now.timestamp_subsec_nanos())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offset_clock_advances() {
        let c = OffsetClock::new();
        let before = c.now();
        c.advance(Duration::from_secs(14 * 24 * 3600));
        let after = c.now();
        assert!(after - before >= chrono::Duration::days(14));
        assert!(after - before < chrono::Duration::days(14) + chrono::Duration::seconds(5));
    }
}
