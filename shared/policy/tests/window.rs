//! Properties of `next_allowed_instant` across time zones with DST changes.

use chrono::{DateTime, Datelike, TimeDelta, Utc, Weekday};
use policy::{AllowedDays, AllowedHours, TimeZone, Window, next_allowed_instant};
use proptest::prelude::*;

const ZONES: [&str; 6] = [
    "America/New_York",
    "America/Mexico_City",
    "America/Santiago",
    "Europe/London",
    "Australia/Lord_Howe",
    "UTC",
];

/// DST changes in the zones above (2022–2025), so instants near them are well covered.
const TRANSITIONS: [&str; 14] = [
    "2024-03-10T07:00:00Z", // New York springs forward
    "2024-11-03T06:00:00Z", // New York falls back
    "2022-04-03T07:00:00Z", // Mexico City's last change back
    "2022-10-30T07:00:00Z", // Mexico City, last DST end
    "2024-04-07T03:00:00Z", // Santiago falls back
    "2024-09-08T04:00:00Z", // Santiago springs forward at midnight
    "2024-03-31T01:00:00Z", // London springs forward
    "2024-10-27T01:00:00Z", // London falls back
    "2024-04-06T15:00:00Z", // Lord Howe falls back half an hour
    "2024-10-05T15:30:00Z", // Lord Howe springs forward half an hour
    "2025-03-09T07:00:00Z",
    "2025-11-02T06:00:00Z",
    "2025-04-06T03:00:00Z",
    "2025-09-07T04:00:00Z",
];

fn zone() -> impl Strategy<Value = TimeZone> {
    prop::sample::select(ZONES.to_vec()).prop_map(|name| TimeZone::parse("tz", name).unwrap())
}

fn window() -> impl Strategy<Value = Window> {
    (0u16..1440, 0u16..1440, 1u8..=127, zone()).prop_map(|(a, b, days, zone)| {
        // Two minutes of the day make a non-empty [start, end).
        let (start, end) = (a.min(b), a.max(b) + 1);
        let weekdays = (0..7)
            .filter(|bit| days & (1 << bit) != 0)
            .map(|bit| Weekday::try_from(bit as u8).unwrap());
        Window {
            hours: AllowedHours::from_minutes("hours", start, end).unwrap(),
            days: AllowedDays::from_weekdays("days", weekdays).unwrap(),
            zone,
        }
    })
}

/// Anywhere in 2022–2026, or within two days of a DST change.
fn instant() -> impl Strategy<Value = DateTime<Utc>> {
    let anywhere =
        (1_640_995_200i64..1_798_761_600).prop_map(|s| DateTime::from_timestamp(s, 0).unwrap());
    let near_change = (
        prop::sample::select(TRANSITIONS.to_vec()),
        -172_800i64..172_800,
    )
        .prop_map(|(t, offset)| {
            DateTime::parse_from_rfc3339(t).unwrap().with_timezone(&Utc)
                + TimeDelta::seconds(offset)
        });
    prop_oneof![anywhere, near_change]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn the_result_is_inside_the_window_and_never_before_now_or_wanted(
        window in window(),
        now in instant(),
        wanted_offset in -259_200i64..3_456_000,
    ) {
        let wanted = now + TimeDelta::seconds(wanted_offset);
        let due = next_allowed_instant(&window, wanted, now);
        prop_assert!(due >= now);
        prop_assert!(due >= wanted);
        prop_assert!(window.contains(due), "{due} not inside {window:?}");
        // Local weekday and hour, checked independently of `Window::contains`.
        let local = due.with_timezone(&window.zone.tz());
        prop_assert!(window.days.contains(local.weekday()));
        prop_assert!(window.hours.contains(local.time()));
        // Never further than a week and a day (a full week can be skipped at most).
        prop_assert!(due - wanted.max(now) <= TimeDelta::days(8));
    }

    #[test]
    fn an_instant_already_inside_is_kept(window in window(), now in instant(), offset in 0i64..864_000) {
        let due = next_allowed_instant(&window, now + TimeDelta::seconds(offset), now);
        prop_assert_eq!(next_allowed_instant(&window, due, due), due);
        prop_assert_eq!(next_allowed_instant(&window, due, now), due);
    }

    #[test]
    fn the_result_is_the_first_allowed_second(window in window(), now in instant()) {
        let due = next_allowed_instant(&window, now, now);
        if due > now {
            let before = due - TimeDelta::seconds(1);
            prop_assert!(!window.contains(before), "{before} was already allowed");
        }
    }
}
