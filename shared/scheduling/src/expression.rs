//! Pure helpers for EventBridge Scheduler: schedule names and `at(...)` expressions.

use chrono::{DateTime, LocalResult, TimeDelta, TimeZone, Timelike, Utc};
use policy::zone::Zone;
use sha2::{Digest, Sha256};

use crate::ScheduleError;

/// Scheduler names are at most 64 characters of `[0-9a-zA-Z-_.]`.
const MAX_NAME: usize = 64;

/// The schedule name of a follow-up: one schedule per follow-up, so scheduling it again
/// finds and replaces the same schedule.
///
/// Readable `fu.<account>.<follow-up>` when both ids are made of `[0-9a-zA-Z-_]` and fit;
/// otherwise `fuh-` and a SHA-256 of both ids. The `.` separator cannot occur in a
/// readable id and the prefixes differ, so two follow-ups never share a name.
pub fn schedule_name(account_id: &str, followup_id: &str) -> String {
    let plain = |id: &str| {
        !id.is_empty()
            && id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    };
    let readable = format!("fu.{account_id}.{followup_id}");
    if plain(account_id) && plain(followup_id) && readable.len() <= MAX_NAME {
        return readable;
    }
    let mut hash = Sha256::new();
    hash.update(account_id.as_bytes());
    hash.update([0]);
    hash.update(followup_id.as_bytes());
    let hex: String = hash
        .finalize()
        .iter()
        .take(20)
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("fuh-{hex}")
}

/// The one-time schedule expression for `due_at` and the zone it is written in:
/// `at(yyyy-mm-ddThh:mm:ss)` in the follow-up's own time zone, so an operator reading
/// the schedule sees the contact's local time.
///
/// The time is rounded up to the whole second (never early). In the hour a clock falls
/// back the local time names two instants; the expression is then written in UTC, which
/// is exact.
pub fn at_expression(
    due_at: DateTime<Utc>,
    time_zone: &str,
) -> Result<(String, String), ScheduleError> {
    let zone = Zone::get(time_zone)
        .ok_or_else(|| ScheduleError::permanent(format!("unknown time zone {time_zone:?}")))?;
    let due_at = if due_at.nanosecond() == 0 {
        due_at
    } else {
        due_at.with_nanosecond(0).unwrap_or(due_at) + TimeDelta::seconds(1)
    };
    let local = due_at.with_timezone(&zone);
    let format =
        |naive: chrono::NaiveDateTime| format!("at({})", naive.format("%Y-%m-%dT%H:%M:%S"));
    match zone.from_local_datetime(&local.naive_local()) {
        LocalResult::Single(_) => Ok((format(local.naive_local()), zone.name().to_owned())),
        _ => Ok((format(due_at.naive_utc()), "UTC".to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap()
    }

    #[test]
    fn expression_is_written_in_the_follow_ups_local_time() {
        assert_eq!(
            at_expression(utc(2030, 1, 15, 20, 0, 0), "America/New_York").unwrap(),
            ("at(2030-01-15T15:00:00)".into(), "America/New_York".into())
        );
        assert_eq!(
            at_expression(utc(2030, 7, 15, 20, 0, 0), "America/New_York").unwrap(),
            ("at(2030-07-15T16:00:00)".into(), "America/New_York".into())
        );
        assert_eq!(
            at_expression(utc(2030, 3, 1, 23, 30, 0), "Asia/Kolkata").unwrap(),
            ("at(2030-03-02T05:00:00)".into(), "Asia/Kolkata".into())
        );
    }

    #[test]
    fn a_time_in_the_repeated_autumn_hour_is_written_in_utc() {
        // 2030-11-03 01:30 happens twice in New York; 05:30 UTC is the first one.
        assert_eq!(
            at_expression(utc(2030, 11, 3, 5, 30, 0), "America/New_York").unwrap(),
            ("at(2030-11-03T05:30:00)".into(), "UTC".into())
        );
    }

    #[test]
    fn fractions_of_a_second_round_up() {
        let due = utc(2030, 1, 15, 20, 0, 0) + TimeDelta::milliseconds(1);
        assert_eq!(
            at_expression(due, "UTC").unwrap().0,
            "at(2030-01-15T20:00:01)"
        );
    }

    #[test]
    fn an_unknown_time_zone_is_permanent() {
        assert!(matches!(
            at_expression(utc(2030, 1, 15, 20, 0, 0), "Mars/Olympus_Mons"),
            Err(ScheduleError::Permanent { .. })
        ));
    }

    #[test]
    fn names_are_readable_when_they_can_be_and_always_valid() {
        assert_eq!(schedule_name("acme", "01J9ZQ4K7M"), "fu.acme.01J9ZQ4K7M");
        let long = schedule_name("acme-international-holdings", &"f".repeat(40));
        assert!(long.starts_with("fuh-") && long.len() <= 64, "{long}");
        let odd = schedule_name("acme corp", "fu/1");
        assert!(odd.starts_with("fuh-"), "{odd}");
        for name in [long, odd] {
            assert!(
                name.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)),
                "{name}"
            );
        }
    }

    #[test]
    fn names_are_deterministic_and_never_shared() {
        assert_eq!(schedule_name("a b", "c"), schedule_name("a b", "c"));
        assert_ne!(schedule_name("a-b", "c"), schedule_name("a", "b-c"));
        assert_ne!(schedule_name("a b", "c"), schedule_name("a", "b c"));
        assert_ne!(schedule_name("x", "y"), schedule_name("y", "x"));
    }
}
