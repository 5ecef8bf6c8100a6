//! The one search every local-time rule shares: the earliest instant at or after `from`
//! whose wall clock in a zone falls inside that day's allowed hours.
//!
//! The allowed instants of such a rule are a union of intervals. Each interval begins
//! either where the wall clock reaches the day's start time (twice in a DST fold, once
//! at the end of a gap when the start falls in one) or where the wall clock jumps (a DST
//! transition lands it inside the hours). So the earliest allowed instant is the
//! smallest of those candidates, plus `from` itself, that is allowed: exact, and right
//! after a fall-back too (the hour that repeats is allowed again on its second pass).
//!
//! This module sits below `window` and `legal`: they describe their hours through
//! [`DayHours`] and [`DailyHours`], so the search knows nothing of how a rule is written.

use chrono::offset::LocalResult;
use chrono::{
    DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeZone as _, Utc,
    Weekday,
};

use crate::values::TimeZone;

/// How many local days ahead a search looks: enough for a week of disallowed days plus
/// a run of holidays; a rule that allows nothing in that span allows nothing at all.
pub const SEARCH_DAYS: i64 = 21;

/// The hours one day allows, read on the wall clock.
pub trait DayHours {
    /// Where the hours open.
    fn start(&self) -> NaiveTime;
    /// Whether a local time of day is inside the hours.
    fn contains(&self, time: NaiveTime) -> bool;
}

/// The hours a rule allows on each local date (`None`: not on that date).
pub trait DailyHours {
    type Hours: DayHours;
    fn hours_on(&self, date: NaiveDate, weekday: Weekday) -> Option<Self::Hours>;
}

/// Whether `instant` is allowed by `rule` read on the wall clock of `zone`.
pub fn allows(rule: &impl DailyHours, zone: TimeZone, instant: DateTime<Utc>) -> bool {
    let local = instant.with_timezone(&zone.tz()).naive_local();
    let date = local.date();
    rule.hours_on(date, date.weekday())
        .is_some_and(|hours| hours.contains(local.time()))
}

/// The earliest instant `>= from` that `rule` allows in `zone`, if any within
/// [`SEARCH_DAYS`] days.
pub fn earliest(
    rule: &impl DailyHours,
    zone: TimeZone,
    from: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    if allows(rule, zone, from) {
        return Some(from);
    }
    let first_day = from.with_timezone(&zone.tz()).date_naive();
    let mut best: Option<DateTime<Utc>> = None;
    let mut consider = |candidate: DateTime<Utc>| {
        if candidate >= from && best.is_none_or(|b| candidate < b) && allows(rule, zone, candidate)
        {
            best = Some(candidate);
        }
    };
    for offset in -1..=SEARCH_DAYS {
        let Some(day) = first_day.checked_add_signed(Duration::days(offset)) else {
            continue;
        };
        if let Some(hours) = rule.hours_on(day, day.weekday()) {
            for start in instants_of(zone, day.and_time(hours.start())) {
                consider(start);
            }
        }
    }
    for jump in transitions(zone, from, from + Duration::days(SEARCH_DAYS + 1)) {
        consider(jump);
    }
    best
}

/// Every instant whose wall clock reads `local`: one, two in a fold, and in a gap the
/// first instant after it (where the clock lands when it jumps over `local`).
pub fn instants_of(zone: TimeZone, local: NaiveDateTime) -> Vec<DateTime<Utc>> {
    match zone.tz().from_local_datetime(&local) {
        LocalResult::Single(t) => vec![t.with_timezone(&Utc)],
        LocalResult::Ambiguous(a, b) => vec![a.with_timezone(&Utc), b.with_timezone(&Utc)],
        LocalResult::None => vec![local_to_utc(zone, local)],
    }
}

fn offset_seconds(zone: TimeZone, at: DateTime<Utc>) -> i32 {
    at.with_timezone(&zone.tz())
        .offset()
        .fix()
        .local_minus_utc()
}

/// The instants in `[from, to)` where `zone`'s UTC offset changes (DST and other
/// transitions), found by bisection within each day whose two ends differ.
pub fn transitions(zone: TimeZone, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<DateTime<Utc>> {
    let mut found = Vec::new();
    let mut day_start = from;
    while day_start < to {
        let day_end = (day_start + Duration::hours(12)).min(to);
        if offset_seconds(zone, day_start) != offset_seconds(zone, day_end) {
            let (mut lo, mut hi) = (day_start.timestamp(), day_end.timestamp());
            let before = offset_seconds(zone, day_start);
            // Invariant: offset(lo) == before != offset(hi).
            while hi - lo > 1 {
                let mid = lo + (hi - lo) / 2;
                let at = DateTime::<Utc>::from_timestamp(mid, 0).unwrap_or(day_start);
                if offset_seconds(zone, at) == before {
                    lo = mid;
                } else {
                    hi = mid;
                }
            }
            if let Some(at) = DateTime::<Utc>::from_timestamp(hi, 0) {
                found.push(at);
            }
        }
        day_start = day_end;
    }
    found
}

/// The instant a local date-time names in `zone`: in a fold the earlier of the two, in a
/// gap the first instant after the gap (the moment the clock jumps).
pub fn local_to_utc(zone: TimeZone, local: NaiveDateTime) -> DateTime<Utc> {
    let tz = zone.tz();
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) => t.with_timezone(&Utc),
        LocalResult::Ambiguous(a, b) => a.with_timezone(&Utc).min(b.with_timezone(&Utc)),
        LocalResult::None => end_of_gap(zone, local),
    }
}

/// The first instant whose wall-clock time is later than `local`, which a gap skips.
/// Found by bisection on instants: offsets are within ±14 h, so the jump is within a
/// day of `local` read as UTC, and wall time only moves forward there.
fn end_of_gap(zone: TimeZone, local: NaiveDateTime) -> DateTime<Utc> {
    let tz = zone.tz();
    let wall = |t: i64| {
        DateTime::<Utc>::from_timestamp(t, 0)
            .map(|u| u.with_timezone(&tz).naive_local())
            .unwrap_or(NaiveDateTime::MIN)
    };
    let as_utc = local.and_utc().timestamp();
    let (mut lo, mut hi) = (as_utc - 15 * 3600, as_utc + 15 * 3600);
    // Invariant: wall(lo) < local <= wall(hi).
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if wall(mid) < local {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    DateTime::<Utc>::from_timestamp(hi, 0).unwrap_or_else(|| local.and_utc())
}
