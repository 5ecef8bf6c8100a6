//! Where the recipient is: their US state, their time zone as last reported, what the
//! number's area code says, and the contacts they already had (for frequency caps).
//!
//! The zone of a contact is the most recent one any call reported ([`RecipientFacts`]);
//! without one, the NANP area code gives candidate zones and a state (data generated
//! from libphonenumber, see `data/gen_area_codes.py`); without that, the campaign's /
//! agent's / account's zone, as before.

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use crate::area_codes::AREA_CODES;
use crate::values::{PhoneNumber, TimeZone, UsState};

/// What a NANP area code says about where a number is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AreaCode {
    pub code: u16,
    /// The US state (or DC) the code is assigned to; `None` for Canada, the Caribbean
    /// and non-geographic codes.
    pub state: Option<UsState>,
    /// Every zone the code's numbers are in (several for a code split between zones).
    pub zones: Vec<TimeZone>,
}

/// The area code facts of a `+1` number, if the code is geographic and known.
pub fn area_code(phone: &PhoneNumber) -> Option<AreaCode> {
    let digits = phone.as_str().strip_prefix("+1")?;
    if digits.len() != 10 {
        return None;
    }
    let code: u16 = digits.get(..3)?.parse().ok()?;
    let index = AREA_CODES.binary_search_by_key(&code, |row| row.0).ok()?;
    let (_, state, zones) = AREA_CODES[index];
    Some(AreaCode {
        code,
        state: state.and_then(|s| UsState::parse("state", s).ok()),
        zones: zones
            .iter()
            .filter_map(|z| TimeZone::parse("zone", z).ok())
            .collect(),
    })
}

/// What calls reported about a contact, kept per (account, contact): the newest report
/// of each wins, ordered by when the reporting call ended.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecipientFacts {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone: Option<TimeZone>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone_reported_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<UsState>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_reported_at: Option<DateTime<Utc>>,
}

impl RecipientFacts {
    /// Takes in what a call that ended at `at` reported; a report older than the one
    /// known is ignored (deliveries arrive out of order). Returns whether anything changed.
    pub fn learn(
        &mut self,
        zone: Option<TimeZone>,
        state: Option<UsState>,
        at: DateTime<Utc>,
    ) -> bool {
        let mut changed = false;
        if let Some(zone) = zone
            && self.zone_reported_at.is_none_or(|known| at >= known)
        {
            changed |= self.zone != Some(zone) || self.zone_reported_at != Some(at);
            self.zone = Some(zone);
            self.zone_reported_at = Some(at);
        }
        if let Some(state) = state
            && self.state_reported_at.is_none_or(|known| at >= known)
        {
            changed |= self.state != Some(state) || self.state_reported_at != Some(at);
            self.state = Some(state);
            self.state_reported_at = Some(at);
        }
        changed
    }
}

/// Where a follow-up's zones came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ZoneSource {
    /// A call reported the contact's zone.
    Contact,
    /// Inferred from the number's area code.
    AreaCode,
    /// The campaign's, agent's or account's zone.
    Fallback,
}

/// The zones a follow-up's local-time rules are read in (every one must allow it) and
/// the states whose laws apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Whereabouts {
    /// Never empty; the first is the one shown and used to read local times.
    pub zones: Vec<TimeZone>,
    pub source: ZoneSource,
    /// The contact's stated state and the area code's state (both apply).
    pub states: Vec<UsState>,
}

impl Whereabouts {
    /// From the latest facts, the number called, and the fallback zone.
    pub fn of(facts: &RecipientFacts, phone: Option<&PhoneNumber>, fallback: TimeZone) -> Self {
        let area = phone.and_then(area_code);
        let mut states: Vec<UsState> = facts.state.into_iter().collect();
        if let Some(state) = area.as_ref().and_then(|a| a.state)
            && !states.contains(&state)
        {
            states.push(state);
        }
        let (zones, source) = match (facts.zone, area) {
            (Some(zone), _) => (vec![zone], ZoneSource::Contact),
            (None, Some(area)) if !area.zones.is_empty() => (area.zones, ZoneSource::AreaCode),
            _ => (vec![fallback], ZoneSource::Fallback),
        };
        Self {
            zones,
            source,
            states,
        }
    }

    pub fn primary_zone(&self) -> TimeZone {
        self.zones[0]
    }
}

/// A contact already made with the recipient in a campaign, counted by frequency caps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Touch {
    pub at: DateTime<Utc>,
    pub kind: TouchKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TouchKind {
    Call,
    /// An SMS or a WhatsApp message.
    Text,
}

/// How far back touches matter: caps count the last 24 hours, and nothing is due
/// before now.
pub const TOUCH_MEMORY: TimeDelta = TimeDelta::hours(24);

/// Adds a touch and forgets those that can no longer count at `now` or later.
pub fn remember_touch(touches: &mut Vec<Touch>, touch: Touch, now: DateTime<Utc>) {
    touches.retain(|t| t.at > now - TOUCH_MEMORY);
    if !touches.contains(&touch) {
        touches.push(touch);
    }
    touches.sort();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn phone(raw: &str) -> PhoneNumber {
        PhoneNumber::parse("p", raw).unwrap()
    }

    #[test]
    fn area_codes_give_states_and_every_candidate_zone() {
        let miami = area_code(&phone("+13055550123")).unwrap();
        assert_eq!(miami.state.map(|s| s.as_str()), Some("FL"));
        assert_eq!(miami.zones[0].as_str(), "America/New_York");
        let panhandle = area_code(&phone("+18505550123")).unwrap();
        let names: Vec<_> = panhandle.zones.iter().map(|z| z.as_str()).collect();
        assert_eq!(names, ["America/Chicago", "America/New_York"]);
        let winnipeg = area_code(&phone("+12045550123")).unwrap();
        assert_eq!(winnipeg.state, None);
        assert!(area_code(&phone("+525512345678")).is_none());
    }

    #[test]
    fn every_generated_row_is_sorted_and_every_zone_parses() {
        assert!(AREA_CODES.windows(2).all(|w| w[0].0 < w[1].0));
        for (code, state, zones) in AREA_CODES {
            assert!(!zones.is_empty(), "{code}");
            for zone in *zones {
                assert!(TimeZone::parse("z", zone).is_ok(), "{code} {zone}");
            }
            if let Some(state) = state {
                assert!(UsState::parse("s", state).is_ok(), "{code} {state}");
            }
        }
    }

    #[test]
    fn the_newest_report_wins() {
        let t = |h: i64| DateTime::<Utc>::from_timestamp(1_700_000_000 + h * 3600, 0).unwrap();
        let ny = TimeZone::parse("z", "America/New_York").unwrap();
        let la = TimeZone::parse("z", "America/Los_Angeles").unwrap();
        let mut facts = RecipientFacts::default();
        assert!(facts.learn(Some(ny), None, t(1)));
        assert!(facts.learn(Some(la), None, t(3)));
        assert!(
            !facts.learn(Some(ny), None, t(2)),
            "an older report is ignored"
        );
        assert_eq!(facts.zone, Some(la));
    }

    #[test]
    fn without_a_reported_zone_the_area_code_zones_apply_else_the_fallback() {
        let utc = TimeZone::UTC;
        let known = Whereabouts::of(
            &RecipientFacts::default(),
            Some(&phone("+18505550123")),
            utc,
        );
        assert_eq!(known.source, ZoneSource::AreaCode);
        assert_eq!(known.zones.len(), 2);
        let unknown = Whereabouts::of(
            &RecipientFacts::default(),
            Some(&phone("+442071838750")),
            utc,
        );
        assert_eq!(
            (unknown.source, unknown.zones),
            (ZoneSource::Fallback, vec![utc])
        );
        let stated = RecipientFacts {
            state: Some(UsState::parse("s", "or").unwrap()),
            ..Default::default()
        };
        let both = Whereabouts::of(&stated, Some(&phone("+13055550123")), utc);
        let states: Vec<_> = both.states.iter().map(|s| s.as_str()).collect();
        assert_eq!(
            states,
            ["OR", "FL"],
            "the stated state and the area code's both apply"
        );
    }
}
