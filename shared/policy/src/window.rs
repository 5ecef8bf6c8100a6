//! Allowed hours and days, and the one function that moves an instant into them.
//!
//! A window is read on the wall clock of its time zone: an instant is inside when its
//! local weekday is allowed and its local time of day is in `[start, end)`. DST is
//! handled where local times are turned into instants (see [`local_to_utc`]).

use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, Timelike, Utc, Weekday};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::fields::FieldError;
use crate::json::{Errors, FromJson, FromJsonLeaf, Obj, as_str};
use crate::values::TimeZone;
use crate::wallclock::{self, DailyHours, DayHours};

/// Kept here too: the instant a local date-time names is part of reading a window.
pub use crate::wallclock::local_to_utc;

const MINUTES_PER_DAY: u16 = 24 * 60;

/// A time of day on a minute boundary, `HH:MM`; `24:00` is allowed as an end.
fn parse_hhmm(field: &str, raw: &str, allow_24: bool) -> Result<u16, FieldError> {
    let invalid = || {
        FieldError::new(
            field,
            format!("must be a time of day as HH:MM, got {raw:?}"),
        )
    };
    let (h, m) = raw.split_once(':').ok_or_else(invalid)?;
    if h.len() != 2 || m.len() != 2 || !(h.bytes().chain(m.bytes()).all(|b| b.is_ascii_digit())) {
        return Err(invalid());
    }
    let (h, m): (u16, u16) = (
        h.parse().map_err(|_| invalid())?,
        m.parse().map_err(|_| invalid())?,
    );
    let minutes = h * 60 + m;
    let ok = m < 60 && (h < 24 || (allow_24 && minutes == MINUTES_PER_DAY));
    if !ok {
        return Err(invalid());
    }
    Ok(minutes)
}

fn format_hhmm(minutes: u16) -> String {
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

/// Hours of the day during which follow-ups may happen, `start` < `end`, both local.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AllowedHours {
    start: u16,
    end: u16,
}

impl AllowedHours {
    /// From minutes after midnight; `start < end <= 1440`.
    pub fn from_minutes(field: &str, start: u16, end: u16) -> Result<Self, FieldError> {
        if end > MINUTES_PER_DAY || start >= end {
            return Err(FieldError::new(
                format!("{field}.end"),
                "must be later than start (and at most 24:00)",
            ));
        }
        Ok(Self { start, end })
    }

    /// Parses `"08:00"` and `"20:00"`; errors name `{field}.start` / `{field}.end`.
    pub fn parse(field: &str, start: &str, end: &str) -> Result<Self, Vec<FieldError>> {
        let start = parse_hhmm(&format!("{field}.start"), start, false);
        let end = parse_hhmm(&format!("{field}.end"), end, true);
        match (start, end) {
            (Ok(s), Ok(e)) => Self::from_minutes(field, s, e).map_err(|e| vec![e]),
            (s, e) => Err(s.err().into_iter().chain(e.err()).collect()),
        }
    }

    /// The hours both windows allow, if any.
    pub fn intersect(&self, other: &AllowedHours) -> Option<AllowedHours> {
        let (start, end) = (self.start.max(other.start), self.end.min(other.end));
        (start < end).then_some(AllowedHours { start, end })
    }

    pub fn start(&self) -> NaiveTime {
        minutes_to_time(self.start)
    }

    /// The end as a time of day; `None` for `24:00` (the end of the day).
    pub fn end(&self) -> Option<NaiveTime> {
        (self.end < MINUTES_PER_DAY).then(|| minutes_to_time(self.end))
    }

    pub fn start_str(&self) -> String {
        format_hhmm(self.start)
    }

    pub fn end_str(&self) -> String {
        format_hhmm(self.end)
    }

    /// Whether a local time of day is inside `[start, end)`.
    pub fn contains(&self, time: NaiveTime) -> bool {
        let seconds = time.num_seconds_from_midnight();
        seconds >= u32::from(self.start) * 60 && seconds < u32::from(self.end) * 60
    }
}

fn minutes_to_time(minutes: u16) -> NaiveTime {
    NaiveTime::from_num_seconds_from_midnight_opt(u32::from(minutes) * 60, 0)
        .unwrap_or(NaiveTime::MIN)
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct HoursJson {
    start: String,
    end: String,
}

impl Serialize for AllowedHours {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        HoursJson {
            start: self.start_str(),
            end: self.end_str(),
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for AllowedHours {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = HoursJson::deserialize(deserializer)?;
        AllowedHours::parse("allowed_hours", &raw.start, &raw.end).map_err(|errors| {
            serde::de::Error::custom(
                errors
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; "),
            )
        })
    }
}

impl FromJson for AllowedHours {
    fn from_json_at(path: &str, value: &Value, errors: &mut Errors) -> Option<Self> {
        let obj = Obj::new(path, value, &["start", "end"], true, errors)?;
        let start: Option<String> = obj.required("start", errors);
        let end: Option<String> = obj.required("end", errors);
        match AllowedHours::parse(path, &start?, &end?) {
            Ok(hours) => Some(hours),
            Err(list) => {
                list.into_iter().for_each(|e| errors.push(e));
                None
            }
        }
    }
}

/// Days of the week on which follow-ups may happen (at least one), written as
/// `["mon", "tue", ...]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AllowedDays(u8);

const DAY_NAMES: [(&str, Weekday); 7] = [
    ("mon", Weekday::Mon),
    ("tue", Weekday::Tue),
    ("wed", Weekday::Wed),
    ("thu", Weekday::Thu),
    ("fri", Weekday::Fri),
    ("sat", Weekday::Sat),
    ("sun", Weekday::Sun),
];

impl AllowedDays {
    pub const EVERY_DAY: AllowedDays = AllowedDays(0b111_1111);
    /// Monday to Saturday, the typical example of the product page.
    pub const MON_TO_SAT: AllowedDays = AllowedDays(0b011_1111);

    pub fn from_weekdays(
        field: &str,
        days: impl IntoIterator<Item = Weekday>,
    ) -> Result<Self, FieldError> {
        let bits = days
            .into_iter()
            .fold(0u8, |bits, day| bits | (1 << day.num_days_from_monday()));
        if bits == 0 {
            return Err(FieldError::new(field, "must allow at least one day"));
        }
        Ok(Self(bits))
    }

    /// Parses day names (`mon`…`sun`, or full names, any case); duplicates are harmless.
    pub fn parse<'a>(
        field: &str,
        names: impl IntoIterator<Item = &'a str>,
    ) -> Result<Self, FieldError> {
        let mut days = Vec::new();
        for name in names {
            let lower = name.to_ascii_lowercase();
            let day = DAY_NAMES
                .iter()
                .find(|(short, day)| lower == *short || lower == full_name(*day))
                .map(|(_, day)| *day)
                .ok_or_else(|| {
                    FieldError::new(
                        field,
                        format!(
                            "unknown day {name:?}; expected mon, tue, wed, thu, fri, sat or sun"
                        ),
                    )
                })?;
            days.push(day);
        }
        Self::from_weekdays(field, days)
    }

    pub fn contains(&self, day: Weekday) -> bool {
        self.0 & (1 << day.num_days_from_monday()) != 0
    }

    pub fn weekdays(&self) -> impl Iterator<Item = Weekday> + '_ {
        DAY_NAMES
            .iter()
            .map(|(_, d)| *d)
            .filter(|d| self.contains(*d))
    }
}

fn full_name(day: Weekday) -> &'static str {
    match day {
        Weekday::Mon => "monday",
        Weekday::Tue => "tuesday",
        Weekday::Wed => "wednesday",
        Weekday::Thu => "thursday",
        Weekday::Fri => "friday",
        Weekday::Sat => "saturday",
        Weekday::Sun => "sunday",
    }
}

impl Serialize for AllowedDays {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(
            DAY_NAMES
                .iter()
                .filter(|(_, d)| self.contains(*d))
                .map(|(name, _)| *name),
        )
    }
}

impl<'de> Deserialize<'de> for AllowedDays {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let names = Vec::<String>::deserialize(deserializer)?;
        AllowedDays::parse("allowed_days", names.iter().map(String::as_str))
            .map_err(serde::de::Error::custom)
    }
}

impl FromJsonLeaf for AllowedDays {
    fn from_leaf(path: &str, value: &Value) -> Result<Self, FieldError> {
        let items = value
            .as_array()
            .ok_or_else(|| FieldError::new(path, "expected an array of day names"))?;
        let names = items
            .iter()
            .map(|item| as_str(path, item))
            .collect::<Result<Vec<_>, _>>()?;
        Self::parse(path, names)
    }
}

/// Where and when a follow-up may happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub hours: AllowedHours,
    pub days: AllowedDays,
    pub zone: TimeZone,
}

impl Window {
    /// Whether `instant`'s local weekday and time of day are allowed.
    pub fn contains(&self, instant: DateTime<Utc>) -> bool {
        let local = instant.with_timezone(&self.zone.tz()).naive_local();
        self.days.contains(local.weekday()) && self.hours.contains(local.time())
    }
}

impl DayHours for AllowedHours {
    fn start(&self) -> NaiveTime {
        AllowedHours::start(self)
    }

    fn contains(&self, time: NaiveTime) -> bool {
        AllowedHours::contains(self, time)
    }
}

impl DailyHours for Window {
    type Hours = AllowedHours;

    fn hours_on(&self, _date: NaiveDate, weekday: Weekday) -> Option<AllowedHours> {
        self.days.contains(weekday).then_some(self.hours)
    }
}

/// The earliest instant at or after `max(wanted, now)` that is inside `window`:
///
/// - an instant already inside is returned unchanged (so the function is idempotent);
/// - otherwise the answer is where the window next opens: the start of the hours on the
///   next allowed day, a start that falls in a DST gap becomes the first instant after
///   the gap, and a wall-clock hour repeated by a DST fold is allowed on both passes
///   (after a fall-back the rest of the day's window is still used);
/// - a day whose window lies wholly in a gap is skipped.
///
/// Never earlier than `now`. The result lies within eight days of `max(wanted, now)`
/// for any window (at least one day is allowed); the longer search is only a guard.
pub fn next_allowed_instant(
    window: &Window,
    wanted: DateTime<Utc>,
    now: DateTime<Utc>,
) -> DateTime<Utc> {
    let from = wanted.max(now);
    // Unreachable for any real zone; staying put is safer than panicking in a handler.
    wallclock::earliest(window, window.zone, from).unwrap_or(from)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn window(start: &str, end: &str, days: AllowedDays, zone: &str) -> Window {
        Window {
            hours: AllowedHours::parse("allowed_hours", start, end).unwrap(),
            days,
            zone: TimeZone::parse("tz", zone).unwrap(),
        }
    }

    #[test]
    fn allowed_hours_need_start_before_end() {
        assert!(AllowedHours::parse("allowed_hours", "08:00", "20:00").is_ok());
        assert!(AllowedHours::parse("allowed_hours", "00:00", "24:00").is_ok());
        let errs = AllowedHours::parse("allowed_hours", "20:00", "08:00").unwrap_err();
        assert_eq!(errs[0].field, "allowed_hours.end");
        let errs = AllowedHours::parse("allowed_hours", "8:00", "25:00").unwrap_err();
        let fields: Vec<_> = errs.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["allowed_hours.start", "allowed_hours.end"]);
        assert!(AllowedHours::parse("allowed_hours", "24:00", "24:00").is_err());
    }

    #[test]
    fn allowed_days_cannot_be_empty() {
        assert!(AllowedDays::parse("allowed_days", []).is_err());
        assert!(AllowedDays::parse("allowed_days", ["funday"]).is_err());
        let days = AllowedDays::parse("allowed_days", ["Mon", "tuesday", "mon"]).unwrap();
        assert_eq!(
            serde_json::to_value(days).unwrap(),
            serde_json::json!(["mon", "tue"])
        );
    }

    #[test]
    fn an_instant_inside_the_window_is_kept() {
        let w = window(
            "08:00",
            "20:00",
            AllowedDays::MON_TO_SAT,
            "America/New_York",
        );
        let t = utc("2024-05-14T14:00:00Z"); // Tue 10:00 EDT
        assert_eq!(next_allowed_instant(&w, t, t), t);
    }

    #[test]
    fn after_hours_moves_to_the_next_allowed_morning() {
        let w = window(
            "08:00",
            "20:00",
            AllowedDays::MON_TO_SAT,
            "America/New_York",
        );
        // Sat 21:00 EDT -> Sunday is not allowed -> Mon 08:00 EDT.
        let t = utc("2024-05-19T01:00:00Z");
        assert_eq!(next_allowed_instant(&w, t, t), utc("2024-05-20T12:00:00Z"));
    }

    #[test]
    fn a_start_in_a_dst_gap_moves_to_the_end_of_the_gap() {
        // New York springs forward on 2024-03-10 at 02:00 -> 03:00.
        let w = window("02:30", "05:00", AllowedDays::EVERY_DAY, "America/New_York");
        let t = utc("2024-03-10T05:00:00Z"); // 00:00 EST
        assert_eq!(next_allowed_instant(&w, t, t), utc("2024-03-10T07:00:00Z")); // 03:00 EDT
    }

    #[test]
    fn a_start_in_a_dst_fold_is_its_first_occurrence() {
        // London falls back on 2024-10-27 at 02:00 BST -> 01:00 GMT.
        let w = window("01:30", "05:00", AllowedDays::EVERY_DAY, "Europe/London");
        let t = utc("2024-10-26T23:00:00Z"); // 00:00 BST
        assert_eq!(next_allowed_instant(&w, t, t), utc("2024-10-27T00:30:00Z")); // 01:30 BST
    }

    #[test]
    fn after_a_fall_back_the_rest_of_the_days_window_is_used() {
        // New York falls back on 2024-11-03 at 02:00 EDT -> 01:00 EST: 01:00-02:00 is
        // lived twice. At 01:45 EDT the window 01:00-01:30 is over for its first pass,
        // and opens again at 01:00 EST, fifteen minutes later, not the next day.
        let w = window("01:00", "01:30", AllowedDays::EVERY_DAY, "America/New_York");
        let t = utc("2024-11-03T05:45:00Z"); // 01:45 EDT
        assert!(!w.contains(t));
        assert_eq!(next_allowed_instant(&w, t, t), utc("2024-11-03T06:00:00Z")); // 01:00 EST
        // And a start inside the repeated hour is reached on its second pass too.
        let w = window("01:30", "05:00", AllowedDays::EVERY_DAY, "America/New_York");
        let t = utc("2024-11-03T06:10:00Z"); // 01:10 EST, after the first 01:30
        assert_eq!(next_allowed_instant(&w, t, t), utc("2024-11-03T06:30:00Z")); // 01:30 EST
    }

    #[test]
    fn lord_howe_half_hour_gap_is_handled() {
        // Lord Howe springs forward on 2024-10-06 at 02:00 -> 02:30.
        let w = window(
            "02:10",
            "04:00",
            AllowedDays::EVERY_DAY,
            "Australia/Lord_Howe",
        );
        let t = utc("2024-10-05T13:00:00Z"); // 23:30 +10:30 on the 5th
        let got = next_allowed_instant(&w, t, t);
        let local = got.with_timezone(&w.zone.tz()).naive_local();
        assert_eq!(local.to_string(), "2024-10-06 02:30:00");
    }

    #[test]
    fn santiago_midnight_gap_is_handled() {
        // Santiago springs forward on 2024-09-08 at 00:00 -> 01:00.
        let w = window("00:00", "02:00", AllowedDays::EVERY_DAY, "America/Santiago");
        let t = utc("2024-09-08T03:30:00Z"); // 23:30 -04 on the 7th
        let got = next_allowed_instant(&w, t, t);
        assert!(w.contains(got));
        assert_eq!(
            got.with_timezone(&w.zone.tz()).naive_local().to_string(),
            "2024-09-08 01:00:00"
        );
    }

    #[test]
    fn never_earlier_than_now() {
        let w = window("08:00", "20:00", AllowedDays::EVERY_DAY, "UTC");
        let now = utc("2024-05-14T10:00:00Z");
        assert_eq!(
            next_allowed_instant(&w, utc("2024-05-01T10:00:00Z"), now),
            now
        );
    }
}
