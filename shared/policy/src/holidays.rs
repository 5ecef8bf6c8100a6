//! State holidays on which Alabama and Louisiana forbid telephone solicitation, as data.
//!
//! Sources (see docs/compliance.md): Alabama's legal public holidays, Ala. Code § 1-3-8
//! (a holiday on a Saturday is observed the Friday before, on a Sunday the Monday
//! after, § 1-3-8(a)); Louisiana's legal holidays, La. R.S. 1:55. Both the date itself
//! and its observed date are treated as holidays, so the rule errs on the side of not
//! calling. Governor-declared extra holidays (Louisiana 2023-07-03) are not predictable
//! and must be added by the account (`calling_rules.states.LA.dates_off`).

use chrono::{Datelike, Duration, NaiveDate, Weekday};

/// How a holiday's date is found in a given year.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HolidayDate {
    /// The same month and day every year.
    Fixed { month: u32, day: u32 },
    /// The `n`th (1-based) weekday of a month; `n = -1` is the last one.
    Nth { month: u32, n: i8, weekday: Weekday },
    /// Days after Western Easter Sunday (negative: before).
    Easter(i64),
}

/// A named holiday.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Holiday {
    pub name: &'static str,
    pub date: HolidayDate,
}

const fn fixed(name: &'static str, month: u32, day: u32) -> Holiday {
    Holiday {
        name,
        date: HolidayDate::Fixed { month, day },
    }
}

const fn nth(name: &'static str, month: u32, n: i8, weekday: Weekday) -> Holiday {
    Holiday {
        name,
        date: HolidayDate::Nth { month, n, weekday },
    }
}

/// Ala. Code § 1-3-8.
pub const ALABAMA: &[Holiday] = &[
    fixed("New Year's Day", 1, 1),
    nth(
        "Robert E. Lee / Martin Luther King Jr. Birthday",
        1,
        3,
        Weekday::Mon,
    ),
    nth(
        "George Washington / Thomas Jefferson Birthday",
        2,
        3,
        Weekday::Mon,
    ),
    Holiday {
        name: "Mardi Gras (Baldwin and Mobile counties)",
        date: HolidayDate::Easter(-47),
    },
    nth("Confederate Memorial Day", 4, 4, Weekday::Mon),
    nth("National Memorial Day", 5, -1, Weekday::Mon),
    nth("Jefferson Davis' Birthday", 6, 1, Weekday::Mon),
    fixed("Independence Day", 7, 4),
    nth("Labor Day", 9, 1, Weekday::Mon),
    nth(
        "Columbus Day / American Indian Heritage Day",
        10,
        2,
        Weekday::Mon,
    ),
    fixed("Veterans' Day", 11, 11),
    nth("Thanksgiving Day", 11, 4, Weekday::Thu),
    fixed("Christmas Day", 12, 25),
];

/// La. R.S. 1:55 (the holidays observed statewide).
pub const LOUISIANA: &[Holiday] = &[
    fixed("New Year's Day", 1, 1),
    nth("Dr. Martin Luther King Jr.'s Birthday", 1, 3, Weekday::Mon),
    Holiday {
        name: "Mardi Gras",
        date: HolidayDate::Easter(-47),
    },
    Holiday {
        name: "Good Friday",
        date: HolidayDate::Easter(-2),
    },
    nth("National Memorial Day", 5, -1, Weekday::Mon),
    fixed("Juneteenth", 6, 19),
    fixed("Independence Day", 7, 4),
    nth("Labor Day", 9, 1, Weekday::Mon),
    fixed("Veterans Day", 11, 11),
    nth("Thanksgiving Day", 11, 4, Weekday::Thu),
    fixed("Christmas Day", 12, 25),
];

/// Western Easter Sunday (the anonymous Gregorian algorithm).
pub fn easter(year: i32) -> Option<NaiveDate> {
    let a = year % 19;
    let b = year / 100;
    let c = year % 100;
    let d = b / 4;
    let e = b % 4;
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15) % 30;
    let i = c / 4;
    let k = c % 4;
    let l = (32 + 2 * e + 2 * i - h - k) % 7;
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    NaiveDate::from_ymd_opt(year, month as u32, day as u32)
}

impl HolidayDate {
    /// The dates this holiday keeps free in `year`: the date, and for a fixed date on
    /// a weekend also the weekday it is observed on.
    pub fn dates_in(self, year: i32) -> Vec<NaiveDate> {
        match self {
            Self::Fixed { month, day } => {
                let Some(date) = NaiveDate::from_ymd_opt(year, month, day) else {
                    return Vec::new();
                };
                let observed = match date.weekday() {
                    Weekday::Sat => Some(date - Duration::days(1)),
                    Weekday::Sun => Some(date + Duration::days(1)),
                    _ => None,
                };
                std::iter::once(date).chain(observed).collect()
            }
            Self::Nth { month, n, weekday } => {
                let found = if n > 0 {
                    NaiveDate::from_weekday_of_month_opt(year, month, weekday, n as u8)
                } else {
                    (1..=5)
                        .rev()
                        .find_map(|k| NaiveDate::from_weekday_of_month_opt(year, month, weekday, k))
                };
                found.into_iter().collect()
            }
            Self::Easter(offset) => easter(year)
                .map(|e| e + Duration::days(offset))
                .into_iter()
                .collect(),
        }
    }
}

/// Whether `date` is one of `holidays` (or the observed day of one).
pub fn is_holiday(holidays: &[Holiday], date: NaiveDate) -> bool {
    // A Jan 1 on a Saturday is observed on Dec 31 of the year before.
    [date.year(), date.year() + 1].into_iter().any(|year| {
        holidays
            .iter()
            .any(|h| h.date.dates_in(year).contains(&date))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn easter_matches_known_dates() {
        assert_eq!(easter(2024), Some(d("2024-03-31")));
        assert_eq!(easter(2025), Some(d("2025-04-20")));
        assert_eq!(easter(2026), Some(d("2026-04-05")));
    }

    #[test]
    fn holidays_fall_on_their_dates_and_weekend_ones_are_observed() {
        assert!(is_holiday(ALABAMA, d("2024-01-15"))); // MLK / Lee, 3rd Monday
        assert!(is_holiday(ALABAMA, d("2024-04-22"))); // Confederate Memorial Day
        assert!(is_holiday(ALABAMA, d("2024-05-27"))); // last Monday of May
        assert!(is_holiday(LOUISIANA, d("2024-02-13"))); // Mardi Gras
        assert!(is_holiday(LOUISIANA, d("2024-03-29"))); // Good Friday
        // July 4 2026 is a Saturday: observed Friday July 3.
        assert!(is_holiday(ALABAMA, d("2026-07-03")));
        // Jan 1 2022 was a Saturday: observed Friday Dec 31 2021.
        assert!(is_holiday(LOUISIANA, d("2021-12-31")));
        assert!(!is_holiday(ALABAMA, d("2024-05-14")));
    }
}
