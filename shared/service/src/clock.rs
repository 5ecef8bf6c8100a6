//! The clock port. Lambda functions read the system clock; the local runtime's clock
//! can be moved forward so a follow-up due tomorrow can be watched firing now.

use std::sync::Mutex;
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

/// A clock showing what its owner set, moved only by hand: the test harnesses, which
/// walk a follow-up through days in milliseconds.
#[derive(Debug)]
pub struct ManualClock(Mutex<DateTime<Utc>>);

impl ManualClock {
    pub fn at(at: DateTime<Utc>) -> Self {
        Self(Mutex::new(at))
    }

    pub fn set(&self, at: DateTime<Utc>) {
        *self.time() = at;
    }

    pub fn advance(&self, by: Duration) {
        *self.time() += by;
    }

    /// The time held; a panic elsewhere while holding it leaves a valid time behind.
    fn time(&self) -> std::sync::MutexGuard<'_, DateTime<Utc>> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.time()
    }
}

/// The furthest a [`MovableClock`] may run ahead of the machine's clock: ten years is
/// far more than any follow-up waits, and keeps every date computed from it in range.
pub const MAX_OFFSET: Duration = Duration::days(3650);

/// A move of the clock that would take it beyond [`MAX_OFFSET`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "the clock is {} days ahead and may be at most {} days ahead",
    .offset.num_days(),
    MAX_OFFSET.num_days()
)]
pub struct OutOfRange {
    /// The offset the clock has now.
    pub offset: Duration,
}

/// The system clock plus an offset that only grows (time never runs backwards for
/// the follow-ups already decided), never beyond [`MAX_OFFSET`].
#[derive(Debug, Default)]
pub struct MovableClock {
    offset_ms: AtomicI64,
}

impl MovableClock {
    pub fn new() -> Self {
        Self::default()
    }

    /// Moves the clock forward by `by`, or refuses (changing nothing) when the offset
    /// would leave `0..=MAX_OFFSET`. Returns the new offset.
    pub fn try_advance(&self, by: Duration) -> Result<Duration, OutOfRange> {
        let by = by.num_milliseconds();
        let max = MAX_OFFSET.num_milliseconds();
        self.offset_ms
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |current| {
                current
                    .checked_add(by)
                    .filter(|next| (0..=max).contains(next) && by >= 0)
            })
            .map(|previous| Duration::milliseconds(previous + by))
            .map_err(|current| OutOfRange {
                offset: Duration::milliseconds(current),
            })
    }

    /// Moves the clock forward (tests): negative durations are ignored, and the offset
    /// stops at [`MAX_OFFSET`].
    pub fn advance(&self, by: Duration) {
        let by = by.clamp(Duration::zero(), MAX_OFFSET);
        if self.try_advance(by).is_err() {
            let max = MAX_OFFSET.num_milliseconds();
            self.offset_ms.store(max, Ordering::SeqCst);
        }
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

/// Reads a forward move of the clock as people write it: `90s`, `45m`, `26h` (or `26`),
/// `2d`. Anything else, or a move beyond [`MAX_OFFSET`], is an error saying why; no
/// input can overflow.
pub fn parse_advance(raw: &str) -> Result<Duration, String> {
    let raw = raw.trim();
    let split = raw.find(|c: char| !c.is_ascii_digit()).unwrap_or(raw.len());
    let (number, unit) = raw.split_at(split);
    let too_far = || {
        format!(
            "{raw:?} is more than the clock may move ({} days at most)",
            MAX_OFFSET.num_days()
        )
    };
    if number.is_empty() {
        return Err(format!("not a duration: {raw:?} (try 26h, 90m or 2d)"));
    }
    // Digits only, so the one way to fail is being too large.
    let n: i64 = number.parse().map_err(|_| too_far())?;
    let seconds_per_unit = match unit {
        "s" => 1,
        "m" => 60,
        "h" | "" => 3600,
        "d" => 86_400,
        _ => return Err(format!("not a duration unit: {unit:?} (s, m, h or d)")),
    };
    n.checked_mul(seconds_per_unit)
        .filter(|&seconds| seconds <= MAX_OFFSET.num_seconds())
        .map(Duration::seconds)
        .ok_or_else(too_far)
}

/// The move asked for by the body of `POST /v1/local/clock`, `{"advance": "26h"}`; the
/// error is about the `advance` field.
pub fn requested_advance(body: &serde_json::Value) -> Result<Duration, String> {
    let raw = body
        .get("advance")
        .and_then(serde_json::Value::as_str)
        .ok_or_else(|| "is required, like \"26h\", \"90m\" or \"2d\"".to_string())?;
    parse_advance(raw)
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

    #[test]
    fn a_movable_clock_never_goes_beyond_its_bound() {
        let clock = MovableClock::new();
        assert_eq!(clock.try_advance(MAX_OFFSET), Ok(MAX_OFFSET));
        assert_eq!(
            clock.try_advance(Duration::seconds(1)),
            Err(OutOfRange { offset: MAX_OFFSET })
        );
        assert_eq!(clock.offset(), MAX_OFFSET);
        let fresh = MovableClock::new();
        assert!(fresh.try_advance(Duration::MAX).is_err());
        assert!(fresh.try_advance(Duration::seconds(-1)).is_err());
        fresh.advance(Duration::MAX);
        assert_eq!(fresh.offset(), MAX_OFFSET);
        assert!(fresh.now() > Utc::now());
    }

    #[test]
    fn advances_read_as_people_write_them() {
        assert_eq!(parse_advance("26h"), Ok(Duration::hours(26)));
        assert_eq!(parse_advance("26"), Ok(Duration::hours(26)));
        assert_eq!(parse_advance("90m"), Ok(Duration::minutes(90)));
        assert_eq!(parse_advance("45s"), Ok(Duration::seconds(45)));
        assert_eq!(parse_advance(" 2d "), Ok(Duration::days(2)));
        assert_eq!(parse_advance("3650d"), Ok(MAX_OFFSET));
    }

    #[test]
    fn an_advance_out_of_range_or_malformed_is_an_error_not_a_panic() {
        for raw in [
            "100000000d",
            "99999999999999h",
            "3651d",
            "9223372036854775807s",
            "9223372036854775808d",
            "99999999999999999999999999999m",
        ] {
            let error = parse_advance(raw).unwrap_err();
            assert!(error.contains("at most"), "{raw}: {error}");
        }
        for raw in ["", "soon", "-5h", "5y", "h", "1.5h", "\u{0}", "٣h"] {
            assert!(parse_advance(raw).is_err(), "{raw:?}");
        }
    }

    #[test]
    fn the_clock_body_names_what_is_wrong_with_advance() {
        use serde_json::json;
        assert_eq!(
            requested_advance(&json!({"advance": "2d"})),
            Ok(Duration::days(2))
        );
        for body in [json!({}), json!({"advance": 5}), json!([1]), json!(null)] {
            assert!(requested_advance(&body).unwrap_err().contains("required"));
        }
    }
}
