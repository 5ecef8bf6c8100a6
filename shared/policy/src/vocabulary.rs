//! The small vocabularies every crate shares: channel, guard kind, status and reason.
//! Below the follow-up, the history and the errors, which all speak them.

use serde::{Deserialize, Serialize};

use crate::fields::FieldError;

/// How a follow-up reaches the contact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Sms,
    Email,
    MissedCallEmail,
    Whatsapp,
    Call,
}

impl Channel {
    pub const ALL: [Channel; 5] = [
        Self::Sms,
        Self::Email,
        Self::MissedCallEmail,
        Self::Whatsapp,
        Self::Call,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sms => "sms",
            Self::Email => "email",
            Self::MissedCallEmail => "missed_call_email",
            Self::Whatsapp => "whatsapp",
            Self::Call => "call",
        }
    }

    /// A channel by its name; `field` names the input in the error.
    pub fn parse(field: &str, raw: &str) -> Result<Self, FieldError> {
        Self::ALL
            .into_iter()
            .find(|c| c.as_str() == raw)
            .ok_or_else(|| {
                let names: Vec<&str> = Self::ALL.iter().map(|c| c.as_str()).collect();
                FieldError::new(field, format!("must be one of {}", names.join(", ")))
            })
    }

    /// The once-per-contact guard for message channels sent right after a call.
    pub fn guard_kind(self) -> Option<GuardKind> {
        match self {
            Self::Sms => Some(GuardKind::Sms),
            Self::Email => Some(GuardKind::Email),
            Self::MissedCallEmail => Some(GuardKind::MissedCallEmail),
            Self::Whatsapp | Self::Call => None,
        }
    }

    /// Channels requested by the agent, with one pending follow-up per contact.
    pub fn is_requested(self) -> bool {
        matches!(self, Self::Whatsapp | Self::Call)
    }
}

impl std::fmt::Display for Channel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The kinds sent at most once per (campaign, contact).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GuardKind {
    Sms,
    Email,
    MissedCallEmail,
}

impl GuardKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sms => "sms",
            Self::Email => "email",
            Self::MissedCallEmail => "missed_call_email",
        }
    }

    pub fn channel(self) -> Channel {
        match self {
            Self::Sms => Channel::Sms,
            Self::Email => Channel::Email,
            Self::MissedCallEmail => Channel::MissedCallEmail,
        }
    }
}

/// Where a follow-up is in its life.
///
/// `scheduled` → `sending` → `sent`; calls go `placed` → `completed`, or back to
/// `scheduled` as a new attempt, or `exhausted`. `unknown` means the provider may or may
/// not have accepted it (a crash mid-send): it is shown, never sent again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Scheduled,
    Sending,
    Sent,
    Placed,
    Completed,
    NeedsReview,
    Cancelled,
    Suppressed,
    Failed,
    Exhausted,
    Unknown,
}

impl Status {
    /// Waiting to go out: an operator may still cancel these, an opt-out cancels them.
    pub const OPEN: [Status; 2] = [Self::Scheduled, Self::NeedsReview];

    pub const ALL: [Status; 11] = [
        Self::Scheduled,
        Self::Sending,
        Self::Sent,
        Self::Placed,
        Self::Completed,
        Self::NeedsReview,
        Self::Cancelled,
        Self::Suppressed,
        Self::Failed,
        Self::Exhausted,
        Self::Unknown,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Scheduled => "scheduled",
            Self::Sending => "sending",
            Self::Sent => "sent",
            Self::Placed => "placed",
            Self::Completed => "completed",
            Self::NeedsReview => "needs_review",
            Self::Cancelled => "cancelled",
            Self::Suppressed => "suppressed",
            Self::Failed => "failed",
            Self::Exhausted => "exhausted",
            Self::Unknown => "unknown",
        }
    }

    pub fn parse(field: &str, raw: &str) -> Result<Self, FieldError> {
        Self::ALL
            .into_iter()
            .find(|s| s.as_str() == raw)
            .ok_or_else(|| FieldError::new(field, format!("unknown status {raw:?}")))
    }

    /// Whether a follow-up of a once-per-contact kind (SMS, emails) in this status still
    /// holds its kind's guard. "Once per contact" means *sent*: a follow-up that was
    /// cancelled, suppressed or failed before reaching the provider releases it, so a
    /// later call may send that kind. `needs_review` holds it without spending it (a
    /// later call's confirmed number completes that follow-up instead of a second one);
    /// `unknown` holds it because the provider may have it.
    pub fn holds_guard(self) -> bool {
        !matches!(self, Self::Cancelled | Self::Suppressed | Self::Failed)
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

macro_rules! reasons {
    ($($(#[$doc:meta])* $variant:ident => $name:literal,)*) => {
        /// Why a decision was taken, machine-readable (shown through the API).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum Reason {
            $($(#[$doc])* $variant,)*
        }

        impl Reason {
            pub const ALL: &'static [Reason] = &[$(Self::$variant,)*];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $name,)*
                }
            }
        }
    };
}

reasons! {
    /// The contact agreed on the call (SMS, email).
    Consented => "consented",
    /// The call was missed: the missed-call email goes out.
    MissedCall => "missed_call",
    /// The agent asked for this follow-up (call, WhatsApp).
    Requested => "requested",
    /// A newer request of the agent moved the pending follow-up.
    Rescheduled => "rescheduled",
    /// An operator set the destination of a `needs_review` follow-up and sent it.
    Reviewed => "reviewed",
    /// The follow-up call was answered.
    Answered => "answered",
    /// The call was not answered (no answer, busy, voicemail or a transient failure).
    NotAnswered => "not_answered",
    /// Every retry of the follow-up call went unanswered.
    RetriesExhausted => "retries_exhausted",
    /// The contact declined the follow-up call.
    CallDeclined => "call_declined",
    /// The number does not exist.
    InvalidNumber => "invalid_number",
    NoConsent => "no_consent",
    /// The destination is on the account's do-not-call list.
    Dnc => "dnc",
    /// The address bounced permanently: no more email goes to it.
    Undeliverable => "undeliverable",
    /// This kind was already sent to the contact in this campaign.
    AlreadySent => "already_sent",
    ChannelDisabled => "channel_disabled",
    /// Email is enabled but the agent does not ask for it, so no consent can exist.
    AskForEmailOff => "ask_for_email_off",
    /// The requested time is further away than the horizon.
    OutsideHorizon => "outside_horizon",
    /// The instant was outside the allowed hours and days and was moved.
    OutsideWindow => "outside_window",
    /// The agent's hours and the account's quiet hours do not overlap.
    NoAllowedWindow => "no_allowed_window",
    NoDestination => "no_destination",
    /// No number or address was confirmed on the call.
    DestinationUnconfirmed => "destination_unconfirmed",
    /// WhatsApp is enabled without a template.
    NoTemplate => "no_template",
    NoSenderName => "no_sender_name",
    NoMeetingLink => "no_meeting_link",
    /// The appointment confirmation template needs an appointment from the call.
    NoAppointment => "no_appointment",
    /// The conversation summary template needs a summary from the call.
    NoSummary => "no_summary",
    /// The offer template needs an offer summary and a promo code.
    NoOffer => "no_offer",
    /// Another request for the same channel in the same call replaced this one.
    Superseded => "superseded",
    Cancelled => "cancelled",
    /// The rendered message does not fit the length bound even after truncation.
    MessageTooLong => "message_too_long",
    /// The follow-up is not of the channel asked for.
    WrongChannel => "wrong_channel",
    /// The follow-up is no longer waiting to be sent.
    NotPending => "not_pending",
    ProviderAccepted => "provider_accepted",
    ProviderError => "provider_error",
    /// The process died while the provider call was in flight, or a placed call's
    /// end could not be learned.
    OutcomeUnknown => "outcome_unknown",
    /// The voice platform reports a placed follow-up call still in progress: it is
    /// looked up again later.
    CallInProgress => "call_in_progress",
    /// A call reported a new zone for the contact: the pending follow-up was moved into
    /// its window there.
    ZoneUpdated => "zone_updated",
    /// A legal rule (state hours or days, a frequency cap, the federal hours) held the
    /// follow-up back; the trace names the rule.
    HeldByRule => "held_by_rule",
    /// The recipient opted out: with the provider itself (SNS's opt-out list), or by a
    /// STOP reply, a WhatsApp opt-out or an unsubscribe link (the pending follow-ups
    /// of the number or address are cancelled with this reason).
    OptedOut => "opted_out",
    /// The follow-up came due and the executor claimed it to send it (any channel).
    Due => "due",
    /// An SMS to this contact already waits for an operator to set its number.
    AwaitingReview => "awaiting_review",
    /// `contact.timezone` was not a time zone: the call was decided in the fallback
    /// zone (campaign's, agent's, account's) instead of being refused.
    InvalidContactTimezone => "invalid_contact_timezone",
    /// The connected mailbox the email was to leave from lost its consent (revoked, or
    /// its refresh token refused): it must be connected again.
    MailboxDisconnected => "mailbox_disconnected",
}

impl Reason {
    /// Whether the reason can describe a step of a follow-up of `channel`. Decisions,
    /// send-time checks and operator actions only ever record reasons that fit, so a
    /// follow-up's `reason` always says something true about its own channel.
    pub fn fits(self, channel: Channel) -> bool {
        use Channel::*;
        match self {
            Self::Consented | Self::DestinationUnconfirmed => matches!(channel, Sms | Email),
            Self::MissedCall => channel == MissedCallEmail,
            Self::Reviewed
            | Self::AwaitingReview
            | Self::NoAppointment
            | Self::NoSummary
            | Self::NoOffer
            | Self::MessageTooLong => channel == Sms,
            Self::AskForEmailOff => channel == Email,
            Self::Undeliverable | Self::MailboxDisconnected => {
                matches!(channel, Email | MissedCallEmail)
            }
            Self::NoSenderName => matches!(channel, Sms | Email | MissedCallEmail),
            Self::AlreadySent => channel.guard_kind().is_some(),
            Self::Requested | Self::Rescheduled | Self::Superseded | Self::OutsideHorizon => {
                channel.is_requested()
            }
            Self::NoAllowedWindow | Self::ZoneUpdated | Self::HeldByRule => {
                channel.is_requested() || channel == Sms
            }
            Self::NoTemplate => channel != Call,
            Self::Answered
            | Self::RetriesExhausted
            | Self::CallDeclined
            | Self::InvalidNumber
            | Self::CallInProgress => channel == Call,
            Self::NotAnswered
            | Self::ChannelDisabled
            | Self::NoConsent
            | Self::Dnc
            | Self::OutsideWindow
            | Self::NoDestination
            | Self::NoMeetingLink
            | Self::Cancelled
            | Self::WrongChannel
            | Self::NotPending
            | Self::ProviderAccepted
            | Self::ProviderError
            | Self::OutcomeUnknown
            | Self::OptedOut
            | Self::Due
            | Self::InvalidContactTimezone => true,
        }
    }
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
