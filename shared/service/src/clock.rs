//! The clock port. Lambda functions read the system clock; the local runtime's clock
//! can be moved forward so a follow-up due tomorrow can be watched firing now.

use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, Duration, Utc};

pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

/// The machine's clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// The system clock plus an offset that only grows (time never runs backwards for
/// the follow-ups already decided).
#[derive(Debug, Default)]
pub struct MovableClock {
    offset_ms: AtomicI64,
}

impl MovableClock {
    pub fn new() -> Self {
        Self::default()
    }

    /// Moves the clock forward; negative durations are ignored.
    pub fn advance(&self, by: Duration) {
        let ms = by.num_milliseconds().max(0);
        self.offset_ms.fetch_add(ms, Ordering::SeqCst);
    }

    /// How far ahead of the machine's clock this clock runs.
    pub fn offset(&self) -> Duration {
        Duration::milliseconds(self.offset_ms.load(Ordering::SeqCst))
    }
}

impl Clock for MovableClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now() + self.offset()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_movable_clock_moves_forward_only() {
        let clock = MovableClock::new();
        let before = clock.now();
        clock.advance(Duration::hours(26));
        clock.advance(Duration::hours(-5));
        assert!(clock.now() - before >= Duration::hours(26));
        assert!(clock.now() - before < Duration::hours(27));
    }
}
