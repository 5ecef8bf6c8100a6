//! The last look before sending: settings and the DNC list may have changed since the
//! decision, and a schedule may fire late or early.

use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;

use crate::followup::{Channel, FollowUp, Reason, Status, TraceEntry};
use crate::legal::{Rule, Subject, timing};
use crate::recipient::{RecipientFacts, Touch, Whereabouts, ZoneSource};
use crate::settings::Settings;
use crate::values::Destination;
use crate::window::Window;

/// How early a follow-up may be picked up: the scheduler fires within a minute of the
/// due time, and a direct invocation may run a little ahead of it.
pub const EARLY_TOLERANCE: TimeDelta = TimeDelta::minutes(2);

/// What the executor should do with a follow-up now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", content = "value", rename_all = "snake_case")]
pub enum SendCheck {
    /// Send it.
    Send,
    /// Not now: it is early; its schedule stands at this instant.
    Reschedule(DateTime<Utc>),
    /// Not now: a window or legal rule holds it back until `at` (the rules say which).
    Hold { at: DateTime<Utc>, rules: Vec<Rule> },
    /// Never: record it as `suppressed` for this reason.
    Suppress(Reason),
    /// Nothing to do and nothing to record: the follow-up is no longer waiting to be
    /// sent (already sent, cancelled, needs review, ...), for instance a duplicate
    /// invocation.
    Skip(Status),
}

/// What is known about the recipient at send time, read just before.
#[derive(Debug, Clone, Copy)]
pub struct AtSend<'a> {
    /// Whether the destination is on the account's DNC list now (every channel).
    pub on_dnc: bool,
    /// Whether the address bounced permanently (emails only: suppressed with reason
    /// `undeliverable` right after the do-not-call check).
    pub undeliverable: bool,
    /// The contact's latest reported zone and state.
    pub facts: &'a RecipientFacts,
    /// The calls and texts already made to the contact in the follow-up's campaign.
    pub touches: &'a [Touch],
}

/// Where the recipient is now: the latest reported zone, else (for a follow-up whose
/// zone was not the contact's) the area code's zones, else the follow-up's zone.
pub fn whereabouts_now(followup: &FollowUp, facts: &RecipientFacts) -> Whereabouts {
    let mut facts = facts.clone();
    if facts.zone.is_none() && followup.zone_source == Some(ZoneSource::Contact) {
        facts.zone = Some(followup.time_zone);
    }
    let phone = match &followup.destination {
        Some(Destination::Phone(phone)) => Some(phone),
        _ => None,
    };
    Whereabouts::of(&facts, phone, followup.time_zone)
}

/// Re-checks a follow-up right before it is sent.
///
/// Order: still waiting to be sent → due → not on DNC → destination known → channel
/// still enabled → inside its window and every legal rule, read in the recipient's
/// zones as known now (calls and WhatsApp: the agent's window clamped in the quiet
/// hours; SMS: the quiet hours; email: any time).
pub fn recheck(
    followup: &FollowUp,
    settings: &Settings,
    at_send: &AtSend<'_>,
    now: DateTime<Utc>,
) -> SendCheck {
    // `sending` is accepted so the check can run after the executor's claim too.
    if !matches!(followup.status, Status::Scheduled | Status::Sending) {
        return SendCheck::Skip(followup.status);
    }
    if followup.due_at > now + EARLY_TOLERANCE {
        return SendCheck::Reschedule(followup.due_at);
    }
    if at_send.on_dnc {
        return SendCheck::Suppress(Reason::Dnc);
    }
    let is_email = matches!(followup.channel, Channel::Email | Channel::MissedCallEmail);
    if at_send.undeliverable && is_email {
        return SendCheck::Suppress(Reason::Undeliverable);
    }
    if followup.destination.is_none() {
        return SendCheck::Suppress(Reason::NoDestination);
    }
    if let Err(reason) = settings.channel_enabled(followup.channel) {
        return SendCheck::Suppress(reason);
    }
    let place = whereabouts_now(followup, at_send.facts);
    let zone = place.primary_zone();
    let window: Window = match followup.channel {
        Channel::Call | Channel::Whatsapp => match settings.agent_window(zone) {
            Some(window) => window,
            None => return SendCheck::Suppress(Reason::NoAllowedWindow),
        },
        Channel::Sms => settings.quiet_window(zone),
        Channel::Email | Channel::MissedCallEmail => return SendCheck::Send,
    };
    let subject = Subject {
        channel: followup.channel,
        zones: &place.zones,
        states: &place.states,
        touches: at_send.touches,
    };
    match timing(&window, &subject, &settings.account.calling_rules, now) {
        None => SendCheck::Suppress(Reason::NoAllowedWindow),
        Some(t) if t.at == now => SendCheck::Send,
        Some(t) => SendCheck::Hold {
            at: t.at,
            rules: t.held_by,
        },
    }
}

/// A pending follow-up moved into its window in the recipient's zones as known now
/// (a later call reported a new zone): `None` when nothing changes. Never earlier than
/// it was due, never in the past.
pub fn rezone(
    followup: &FollowUp,
    settings: &Settings,
    at_send: &AtSend<'_>,
    now: DateTime<Utc>,
) -> Option<FollowUp> {
    if followup.status != Status::Scheduled {
        return None;
    }
    let place = whereabouts_now(followup, at_send.facts);
    let zone = place.primary_zone();
    let window = match followup.channel {
        Channel::Call | Channel::Whatsapp => settings.agent_window(zone)?,
        Channel::Sms => settings.quiet_window(zone),
        Channel::Email | Channel::MissedCallEmail => return None,
    };
    let subject = Subject {
        channel: followup.channel,
        zones: &place.zones,
        states: &place.states,
        touches: at_send.touches,
    };
    let rules = &settings.account.calling_rules;
    let moved_to = timing(&window, &subject, rules, followup.due_at.max(now))?;
    if moved_to.at == followup.due_at && zone == followup.time_zone {
        return None;
    }
    let mut moved = followup.clone();
    moved.due_at = moved_to.at;
    moved.time_zone = zone;
    moved.zone_source = Some(place.source);
    moved.reason = Some(Reason::ZoneUpdated);
    moved.updated_at = now;
    moved.trace.push(
        TraceEntry::new(
            now,
            Status::Scheduled,
            Reason::ZoneUpdated,
            format!(
                "the contact's zone is now {zone}; due at {} (was {})",
                moved_to.at, followup.due_at
            ),
        )
        .held_by(moved_to.held_by),
    );
    Some(moved)
}
