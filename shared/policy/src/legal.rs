//! The legal floor: the federal calling hours, the state calling laws, the account's
//! stricter rules, and the one search that finds the earliest instant all of them allow.
//!
//! Every rule has an id shown in traces (`federal_hours`, `state_hours:FL`,
//! `state_days:AL`, `frequency_cap:MD`, `account_hours:CA`, …). Local-time rules are read
//! on the recipient's wall clock in each of their candidate zones. Statutes are cited in
//! docs/compliance.md.

use std::fmt;

use chrono::{DateTime, NaiveDate, TimeDelta, Utc, Weekday};
use serde::{Deserialize, Serialize};

use crate::holidays::{ALABAMA, Holiday, LOUISIANA, is_holiday};
use crate::recipient::{Touch, TouchKind};
use crate::values::{TimeZone, UsState};
use crate::vocabulary::Channel;
use crate::wallclock::{self, DailyHours};
use crate::window::{AllowedDays, AllowedHours, Window};

/// The span a frequency cap counts.
pub const CAP_SPAN: TimeDelta = TimeDelta::hours(24);
/// How far ahead the search for an allowed instant goes before giving up.
pub const SEARCH_LIMIT: TimeDelta = TimeDelta::days(60);

/// What a rule restricts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RuleKind {
    /// The account's quiet hours and the agent's hours and days.
    AllowedWindow,
    FederalHours,
    StateHours,
    StateDays,
    FrequencyCap,
    AccountHours,
    AccountDays,
    AccountCap,
}

impl RuleKind {
    fn as_str(self) -> &'static str {
        match self {
            Self::AllowedWindow => "allowed_window",
            Self::FederalHours => "federal_hours",
            Self::StateHours => "state_hours",
            Self::StateDays => "state_days",
            Self::FrequencyCap => "frequency_cap",
            Self::AccountHours => "account_hours",
            Self::AccountDays => "account_days",
            Self::AccountCap => "account_cap",
        }
    }
}

/// A rule id: a kind, and the state for state and account rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Rule {
    pub kind: RuleKind,
    pub state: Option<UsState>,
}

impl Rule {
    pub const ALLOWED_WINDOW: Rule = Rule {
        kind: RuleKind::AllowedWindow,
        state: None,
    };
    pub const FEDERAL_HOURS: Rule = Rule {
        kind: RuleKind::FederalHours,
        state: None,
    };

    fn state(kind: RuleKind, state: UsState) -> Rule {
        Rule {
            kind,
            state: Some(state),
        }
    }

    /// Every built-in rule (the ones an account may turn off).
    pub fn built_in() -> Vec<Rule> {
        let mut all = vec![Rule::FEDERAL_HOURS];
        for (code, law) in STATE_LAWS {
            let Ok(state) = UsState::parse("state", code) else {
                continue;
            };
            if law.hours.is_some() {
                all.push(Rule::state(RuleKind::StateHours, state));
            }
            if law.no_sundays || law.holidays.is_some() {
                all.push(Rule::state(RuleKind::StateDays, state));
            }
            if law.cap.is_some() {
                all.push(Rule::state(RuleKind::FrequencyCap, state));
            }
        }
        all
    }

    /// Parses a built-in rule id (`federal_hours`, `state_hours:FL`, …).
    pub fn parse_built_in(raw: &str) -> Option<Rule> {
        Rule::built_in().into_iter().find(|r| r.to_string() == raw)
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.state {
            Some(state) => write!(f, "{}:{}", self.kind.as_str(), state.as_str()),
            None => f.write_str(self.kind.as_str()),
        }
    }
}

impl Serialize for Rule {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Rule {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        let (kind, state) = match raw.split_once(':') {
            Some((kind, state)) => (kind, Some(state)),
            None => (raw.as_str(), None),
        };
        let kind = [
            RuleKind::AllowedWindow,
            RuleKind::FederalHours,
            RuleKind::StateHours,
            RuleKind::StateDays,
            RuleKind::FrequencyCap,
            RuleKind::AccountHours,
            RuleKind::AccountDays,
            RuleKind::AccountCap,
        ]
        .into_iter()
        .find(|k| k.as_str() == kind)
        .ok_or_else(|| serde::de::Error::custom(format!("unknown rule {raw:?}")))?;
        let state = state
            .map(|s| UsState::parse("rule", s))
            .transpose()
            .map_err(serde::de::Error::custom)?;
        Ok(Rule { kind, state })
    }
}

/// Hours that depend on the weekday (Texas) or not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LawHours {
    Daily(u16, u16),
    /// Monday to Saturday, then Sunday.
    WeekAndSunday((u16, u16), (u16, u16)),
}

/// A frequency cap: at most `limit` contacts in [`CAP_SPAN`], counting texts or not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cap {
    pub limit: usize,
    pub counts_texts: bool,
}

/// One state's calling law as the engine applies it.
#[derive(Debug, Clone, Copy)]
struct StateLaw {
    hours: Option<LawHours>,
    no_sundays: bool,
    holidays: Option<&'static [Holiday]>,
    cap: Option<Cap>,
}

const H8_20: Option<LawHours> = Some(LawHours::Daily(8 * 60, 20 * 60));
const CALLS_3: Option<Cap> = Some(Cap {
    limit: 3,
    counts_texts: false,
});

/// The state laws (docs/compliance.md cites each statute).
const STATE_LAWS: [(&str, StateLaw); 8] = [
    (
        "FL",
        StateLaw {
            hours: H8_20,
            no_sundays: false,
            holidays: None,
            cap: CALLS_3,
        },
    ),
    (
        "OK",
        StateLaw {
            hours: H8_20,
            no_sundays: false,
            holidays: None,
            cap: CALLS_3,
        },
    ),
    (
        "MD",
        StateLaw {
            hours: H8_20,
            no_sundays: false,
            holidays: None,
            cap: Some(Cap {
                limit: 3,
                counts_texts: true,
            }),
        },
    ),
    (
        "WA",
        StateLaw {
            hours: H8_20,
            no_sundays: false,
            holidays: None,
            cap: None,
        },
    ),
    (
        "TX",
        StateLaw {
            hours: Some(LawHours::WeekAndSunday(
                (9 * 60, 21 * 60),
                (12 * 60, 21 * 60),
            )),
            no_sundays: false,
            holidays: None,
            cap: None,
        },
    ),
    (
        "AL",
        StateLaw {
            hours: H8_20,
            no_sundays: true,
            holidays: Some(ALABAMA),
            cap: None,
        },
    ),
    (
        "LA",
        StateLaw {
            hours: H8_20,
            no_sundays: true,
            holidays: Some(LOUISIANA),
            cap: None,
        },
    ),
    (
        "MS",
        StateLaw {
            hours: None,
            no_sundays: true,
            holidays: None,
            cap: None,
        },
    ),
];

fn law_of(state: UsState) -> Option<&'static StateLaw> {
    STATE_LAWS
        .iter()
        .find(|(code, _)| *code == state.as_str())
        .map(|(_, law)| law)
}

fn hours(start: u16, end: u16) -> Option<AllowedHours> {
    AllowedHours::from_minutes("hours", start, end).ok()
}

/// The federal window, 08:00–21:00 every day (47 CFR § 64.1200(c)(1)).
pub fn federal_hours() -> AllowedHours {
    AllowedHours::from_minutes("quiet_hours", 8 * 60, 21 * 60)
        .unwrap_or_else(|_| unreachable!("08:00 is before 21:00"))
}

/// A local-time schedule: which hours each local date allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Schedule {
    /// The same hours on the allowed weekdays.
    Weekly {
        hours: AllowedHours,
        days: AllowedDays,
    },
    /// Texas: one window Monday to Saturday, another on Sunday.
    WeekAndSunday {
        week: AllowedHours,
        sunday: AllowedHours,
    },
    /// Whole days off: Sundays and/or listed holidays and/or given dates.
    DaysOff {
        sundays: bool,
        holidays: &'static [Holiday],
        dates: Vec<NaiveDate>,
    },
}

impl DailyHours for Schedule {
    type Hours = AllowedHours;

    fn hours_on(&self, date: NaiveDate, weekday: Weekday) -> Option<AllowedHours> {
        match self {
            Self::Weekly { hours, days } => days.contains(weekday).then_some(*hours),
            Self::WeekAndSunday { week, sunday } => Some(if weekday == Weekday::Sun {
                *sunday
            } else {
                *week
            }),
            Self::DaysOff {
                sundays,
                holidays,
                dates,
            } => {
                let off = (*sundays && weekday == Weekday::Sun)
                    || is_holiday(holidays, date)
                    || dates.contains(&date);
                (!off).then(|| hours(0, 24 * 60)).flatten()
            }
        }
    }
}

/// One restriction on when a follow-up may go out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Constraint {
    /// Allowed when the wall clock in `zone` is inside the schedule.
    Local {
        rule: Rule,
        zone: TimeZone,
        schedule: Schedule,
    },
    /// Allowed while fewer than `limit` of `touches` fall in the last [`CAP_SPAN`].
    Cap {
        rule: Rule,
        limit: usize,
        touches: Vec<DateTime<Utc>>,
    },
}

impl Constraint {
    pub fn rule(&self) -> Rule {
        match self {
            Self::Local { rule, .. } | Self::Cap { rule, .. } => *rule,
        }
    }

    /// Whether the rule allows sending at `at`.
    pub fn allows(&self, at: DateTime<Utc>) -> bool {
        match self {
            Self::Local { zone, schedule, .. } => wallclock::allows(schedule, *zone, at),
            Self::Cap { limit, touches, .. } => recent(touches, at) < *limit,
        }
    }

    /// The earliest instant `>= from` the rule allows (`None`: not within the search).
    pub fn earliest(&self, from: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self {
            Self::Local { zone, schedule, .. } => wallclock::earliest(schedule, *zone, from),
            Self::Cap { limit, touches, .. } => {
                let mut inside: Vec<DateTime<Utc>> = touches
                    .iter()
                    .copied()
                    .filter(|t| *t <= from && *t > from - CAP_SPAN)
                    .collect();
                if inside.len() < *limit {
                    return Some(from);
                }
                inside.sort();
                // Once the oldest `len - limit + 1` leave the span, fewer than `limit` remain.
                Some(inside[inside.len() - limit] + CAP_SPAN)
            }
        }
    }
}

/// Touches in `(at - CAP_SPAN, at]`.
fn recent(touches: &[DateTime<Utc>], at: DateTime<Utc>) -> usize {
    touches
        .iter()
        .filter(|t| **t <= at && **t > at - CAP_SPAN)
        .count()
}

/// When a follow-up may go out, and which rules moved it there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allowed {
    pub at: DateTime<Utc>,
    /// The rules that held it back from `from`, in the order they did (empty when `from`
    /// was allowed).
    pub held_by: Vec<Rule>,
}

/// The earliest instant `>= from` every constraint allows. Each constraint's own
/// earliest instant never passes that common one, so moving to it repeatedly reaches
/// it exactly. `None` when none exists within [`SEARCH_LIMIT`].
pub fn earliest_allowed(constraints: &[Constraint], from: DateTime<Utc>) -> Option<Allowed> {
    let mut at = from;
    let mut held_by: Vec<Rule> = Vec::new();
    loop {
        let mut moved = false;
        for constraint in constraints {
            if constraint.allows(at) {
                continue;
            }
            let next = constraint.earliest(at)?;
            if next > at {
                at = next;
                moved = true;
                if !held_by.contains(&constraint.rule()) {
                    held_by.push(constraint.rule());
                }
            }
        }
        if at > from + SEARCH_LIMIT {
            return None;
        }
        if !moved {
            return constraints
                .iter()
                .all(|c| c.allows(at))
                .then_some(Allowed { at, held_by });
        }
    }
}

/// A state rule the account adds on top of the law (it can only narrow: every rule must
/// allow a send).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountStateRule {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hours: Option<AllowedHours>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub days: Option<AllowedDays>,
    /// Extra dates without calls or texts (a governor-declared holiday).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dates_off: Vec<NaiveDate>,
    /// At most this many calls and texts per 24 hours per contact and campaign.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_per_24h: Option<u32>,
}

/// The account's choices about the legal floor: the built-in rules it turns off
/// (explicit, recorded in every trace they would have applied to) and the stricter
/// rules it adds per state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallingRules {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub disabled: Vec<Rule>,
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub states: std::collections::BTreeMap<UsState, AccountStateRule>,
}

/// What the rules need to know about one follow-up.
#[derive(Debug, Clone)]
pub struct Subject<'a> {
    pub channel: Channel,
    /// Every zone the recipient may be in (each must allow the send).
    pub zones: &'a [TimeZone],
    pub states: &'a [UsState],
    /// The contacts already made in this campaign with this recipient.
    pub touches: &'a [Touch],
}

/// Which rules apply to a follow-up, given its own window (`None` for email).
pub struct Applicable {
    pub constraints: Vec<Constraint>,
    /// Built-in rules that would apply but the account turned off.
    pub turned_off: Vec<Rule>,
}

/// The constraints of a follow-up: its window in every zone, then the federal hours,
/// the states' laws and the account's stricter rules. Email has no constraint.
pub fn constraints(
    window: Option<&Window>,
    subject: &Subject<'_>,
    rules: &CallingRules,
) -> Applicable {
    let mut out = Applicable {
        constraints: Vec::new(),
        turned_off: Vec::new(),
    };
    let Some(window) = window else {
        return out;
    };
    let text = matches!(subject.channel, Channel::Sms | Channel::Whatsapp);
    let mut add = |constraint: Constraint, built_in: bool| {
        if built_in && rules.disabled.contains(&constraint.rule()) {
            if !out.turned_off.contains(&constraint.rule()) {
                out.turned_off.push(constraint.rule());
            }
        } else {
            out.constraints.push(constraint);
        }
    };
    for zone in subject.zones {
        let local = |rule, schedule| Constraint::Local {
            rule,
            zone: *zone,
            schedule,
        };
        let own = Schedule::Weekly {
            hours: window.hours,
            days: window.days,
        };
        add(local(Rule::ALLOWED_WINDOW, own), false);
        let federal = Schedule::Weekly {
            hours: federal_hours(),
            days: AllowedDays::EVERY_DAY,
        };
        add(local(Rule::FEDERAL_HOURS, federal), true);
        for state in subject.states {
            for (constraint, built_in) in state_local(*state, *zone, rules) {
                add(constraint, built_in);
            }
        }
    }
    for state in subject.states {
        for (constraint, built_in) in state_caps(*state, text, subject.touches, rules) {
            add(constraint, built_in);
        }
    }
    out
}

/// A state's hours and days rules (the law's, then the account's) in one zone.
fn state_local(state: UsState, zone: TimeZone, rules: &CallingRules) -> Vec<(Constraint, bool)> {
    let local = |kind, schedule| Constraint::Local {
        rule: Rule::state(kind, state),
        zone,
        schedule,
    };
    let mut out = Vec::new();
    if let Some(law) = law_of(state) {
        let schedule = match law.hours {
            Some(LawHours::Daily(s, e)) => hours(s, e).map(|hours| Schedule::Weekly {
                hours,
                days: AllowedDays::EVERY_DAY,
            }),
            Some(LawHours::WeekAndSunday((ws, we), (ss, se))) => hours(ws, we)
                .zip(hours(ss, se))
                .map(|(week, sunday)| Schedule::WeekAndSunday { week, sunday }),
            None => None,
        };
        if let Some(schedule) = schedule {
            out.push((local(RuleKind::StateHours, schedule), true));
        }
        if law.no_sundays || law.holidays.is_some() {
            let days = Schedule::DaysOff {
                sundays: law.no_sundays,
                holidays: law.holidays.unwrap_or(&[]),
                dates: Vec::new(),
            };
            out.push((local(RuleKind::StateDays, days), true));
        }
    }
    if let Some(extra) = rules.states.get(&state) {
        if let Some(hours) = extra.hours {
            let schedule = Schedule::Weekly {
                hours,
                days: AllowedDays::EVERY_DAY,
            };
            out.push((local(RuleKind::AccountHours, schedule), false));
        }
        if extra.days.is_some() || !extra.dates_off.is_empty() {
            let schedule = Schedule::Weekly {
                hours: hours(0, 24 * 60).unwrap_or_else(federal_hours),
                days: extra.days.unwrap_or(AllowedDays::EVERY_DAY),
            };
            out.push((local(RuleKind::AccountDays, schedule), false));
            let dates = Schedule::DaysOff {
                sundays: false,
                holidays: &[],
                dates: extra.dates_off.clone(),
            };
            out.push((local(RuleKind::AccountDays, dates), false));
        }
    }
    out
}

/// A state's frequency caps (the law's, then the account's) for a call (`text` false)
/// or a text.
fn state_caps(
    state: UsState,
    text: bool,
    touches: &[Touch],
    rules: &CallingRules,
) -> Vec<(Constraint, bool)> {
    let counted = |counts_texts: bool| -> Vec<DateTime<Utc>> {
        touches
            .iter()
            .filter(|t| t.kind == TouchKind::Call || counts_texts)
            .map(|t| t.at)
            .collect()
    };
    let mut out = Vec::new();
    if let Some(cap) = law_of(state).and_then(|law| law.cap)
        && (!text || cap.counts_texts)
    {
        out.push((
            Constraint::Cap {
                rule: Rule::state(RuleKind::FrequencyCap, state),
                limit: cap.limit,
                touches: counted(cap.counts_texts),
            },
            true,
        ));
    }
    if let Some(max) = rules.states.get(&state).and_then(|r| r.max_per_24h) {
        out.push((
            Constraint::Cap {
                rule: Rule::state(RuleKind::AccountCap, state),
                limit: max as usize,
                touches: counted(true),
            },
            false,
        ));
    }
    out
}

/// When a follow-up may go out at or after `from`, which rules held it back, and which
/// would have applied but are turned off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timing {
    pub at: DateTime<Utc>,
    pub held_by: Vec<Rule>,
    pub turned_off: Vec<Rule>,
}

/// The earliest instant `>= from` allowed by `window` (its hours and days, read in each
/// of the subject's zones) and by every legal rule. `None`: nothing is allowed within
/// [`SEARCH_LIMIT`] (rules that exclude each other).
pub fn timing(
    window: &Window,
    subject: &Subject<'_>,
    rules: &CallingRules,
    from: DateTime<Utc>,
) -> Option<Timing> {
    let applicable = constraints(Some(window), subject, rules);
    let allowed = earliest_allowed(&applicable.constraints, from)?;
    Some(Timing {
        at: allowed.at,
        held_by: allowed.held_by,
        turned_off: applicable.turned_off,
    })
}

/// `rule, rule` for messages.
pub fn rule_list(rules: &[Rule]) -> String {
    rules
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}
