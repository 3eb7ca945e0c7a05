//! The simulator clock: real time plus an offset, optionally running faster than real time.
//!
//! Token expiry, Track Alert subscription expiry, tracking progress and the UPS daily token
//! quota all read this clock, so a test can jump a day or two weeks ahead instead of sleeping.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use tokio::sync::watch;

use crate::SimError;
use crate::util::lock;

/// A shared, controllable clock. Cloning gives another handle on the same clock.
#[derive(Clone)]
pub struct SimClock {
    inner: Arc<ClockInner>,
}

struct ClockInner {
    state: Mutex<ClockState>,
    changed: watch::Sender<u64>,
}

#[derive(Clone, Copy)]
struct ClockState {
    anchor_real: Instant,
    anchor_sim: DateTime<Utc>,
    speed: f64,
}

impl ClockState {
    fn now(&self) -> DateTime<Utc> {
        let real = self.anchor_real.elapsed().mul_f64(self.speed);
        let delta = chrono::Duration::from_std(real).unwrap_or(chrono::Duration::zero());
        self.anchor_sim + delta
    }
}

impl std::fmt::Debug for SimClock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimClock")
            .field("now", &self.now())
            .field("speed", &self.speed())
            .finish()
    }
}

impl SimClock {
    /// A clock that starts at `start` and runs `speed` simulated seconds per real second.
    pub fn new(start: DateTime<Utc>, speed: f64) -> Self {
        let speed = if speed.is_finite() && speed > 0.0 {
            speed
        } else {
            1.0
        };
        let (changed, _) = watch::channel(0);
        SimClock {
            inner: Arc::new(ClockInner {
                state: Mutex::new(ClockState {
                    anchor_real: Instant::now(),
                    anchor_sim: start,
                    speed,
                }),
                changed,
            }),
        }
    }

    /// The current simulated time.
    pub fn now(&self) -> DateTime<Utc> {
        lock(&self.inner.state).now()
    }

    /// Simulated seconds per real second.
    pub fn speed(&self) -> f64 {
        lock(&self.inner.state).speed
    }

    /// Moves simulated time forward by `by`. Due tracking events are generated and pushed
    /// promptly afterwards.
    pub fn advance(&self, by: Duration) {
        {
            let mut st = lock(&self.inner.state);
            let now = st.now();
            let delta = chrono::Duration::from_std(by).unwrap_or(chrono::Duration::zero());
            st.anchor_sim = now + delta;
            st.anchor_real = Instant::now();
        }
        self.inner.changed.send_modify(|v| *v = v.wrapping_add(1));
    }

    /// Changes the speed factor (simulated seconds per real second, > 0).
    pub fn set_speed(&self, speed: f64) -> Result<(), SimError> {
        if !(speed.is_finite() && speed > 0.0 && speed <= 1_000_000.0) {
            return Err(SimError::Invalid(format!(
                "speed must be in (0, 1e6], got {speed}"
            )));
        }
        {
            let mut st = lock(&self.inner.state);
            let now = st.now();
            st.anchor_sim = now;
            st.anchor_real = Instant::now();
            st.speed = speed;
        }
        self.inner.changed.send_modify(|v| *v = v.wrapping_add(1));
        Ok(())
    }

    /// A receiver that changes whenever the clock is advanced or its speed changes.
    pub(crate) fn subscribe(&self) -> watch::Receiver<u64> {
        self.inner.changed.subscribe()
    }

    /// Real time to wait until simulated time reaches `at` (zero if already past).
    pub(crate) fn real_until(&self, at: DateTime<Utc>) -> Duration {
        let st = *lock(&self.inner.state);
        let now = st.now();
        if at <= now {
            return Duration::ZERO;
        }
        let sim = (at - now).to_std().unwrap_or(Duration::from_secs(3600));
        sim.div_f64(st.speed)
    }
}
