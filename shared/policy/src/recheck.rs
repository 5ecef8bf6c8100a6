//! The last look before sending: settings and the DNC list may have changed since the
//! decision, and a schedule may fire late or early.

use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;

use crate::followup::{Channel, FollowUp, Reason, Status};
use crate::settings::Settings;
use crate::window::{Window, next_allowed_instant};

/// How early a follow-up may be picked up: the scheduler fires within a minute of the
/// due time, and a direct invocation may run a little ahead of it.
pub const EARLY_TOLERANCE: TimeDelta = TimeDelta::minutes(2);

/// What the executor should do with a follow-up now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "action", content = "value", rename_all = "snake_case")]
pub enum SendCheck {
    /// Send it.
    Send,
    /// Not now: schedule it again for this instant (outside the window, or early).
    Reschedule(DateTime<Utc>),
    /// Never: record it as `suppressed` for this reason.
    Suppress(Reason),
    /// Nothing to do and nothing to record: the follow-up is no longer waiting to be
    /// sent (already sent, cancelled, needs review, ...), for instance a duplicate
    /// invocation.
    Skip(Status),
}

/// Re-checks a follow-up right before it is sent. `on_dnc` is whether its destination is
/// on the account's DNC list now.
///
/// Order: still waiting to be sent → due → not on DNC → destination known → channel
/// still enabled → inside its window (calls and WhatsApp: the agent's window clamped in
/// the quiet hours; SMS: the quiet hours; email: any time).
pub fn recheck(
    followup: &FollowUp,
    settings: &Settings,
    on_dnc: bool,
    now: DateTime<Utc>,
) -> SendCheck {
    recheck_with(
        followup,
        settings,
        Blocks {
            on_dnc,
            undeliverable: false,
        },
        now,
    )
}

/// What stands against a destination at send time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Blocks {
    /// On the account's do-not-call list (every channel).
    pub on_dnc: bool,
    /// The address bounced permanently (emails only).
    pub undeliverable: bool,
}

/// [`recheck`] with every block: an undeliverable address gets no email, suppressed
/// with reason `undeliverable` right after the do-not-call check.
pub fn recheck_with(
    followup: &FollowUp,
    settings: &Settings,
    blocks: Blocks,
    now: DateTime<Utc>,
) -> SendCheck {
    let on_dnc = blocks.on_dnc;
    // `sending` is accepted so the check can run after the executor's claim too.
    if !matches!(followup.status, Status::Scheduled | Status::Sending) {
        return SendCheck::Skip(followup.status);
    }
    if followup.due_at > now + EARLY_TOLERANCE {
        return SendCheck::Reschedule(followup.due_at);
    }
    if on_dnc {
        return SendCheck::Suppress(Reason::Dnc);
    }
    let is_email = matches!(followup.channel, Channel::Email | Channel::MissedCallEmail);
    if blocks.undeliverable && is_email {
        return SendCheck::Suppress(Reason::Undeliverable);
    }
    if followup.destination.is_none() {
        return SendCheck::Suppress(Reason::NoDestination);
    }
    if let Err(reason) = settings.channel_enabled(followup.channel) {
        return SendCheck::Suppress(reason);
    }
    let window: Option<Window> = match followup.channel {
        Channel::Call | Channel::Whatsapp => match settings.agent_window(followup.time_zone) {
            Some(window) => Some(window),
            None => return SendCheck::Suppress(Reason::NoAllowedWindow),
        },
        Channel::Sms => Some(settings.quiet_window(followup.time_zone)),
        Channel::Email | Channel::MissedCallEmail => None,
    };
    match window {
        Some(window) if !window.contains(now) => {
            SendCheck::Reschedule(next_allowed_instant(&window, now, now))
        }
        _ => SendCheck::Send,
    }
}
