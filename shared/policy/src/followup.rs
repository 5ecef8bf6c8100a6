//! The follow-up: what is stored, shown to operators and executed. Also the small
//! vocabularies every crate shares: channel, status and reason.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{Error, FieldError};
use crate::history::{GuardKey, PendingKey, SuppressionKey};
use crate::ids::{AccountId, AgentId, CallId, CampaignId, ContactId, FollowUpId};
use crate::legal::Rule;
use crate::recipient::ZoneSource;
use crate::values::{Destination, PhoneNumber, TimeZone};

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

    /// Nothing more will happen to a follow-up in this status.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            Self::Sent
                | Self::Completed
                | Self::Cancelled
                | Self::Suppressed
                | Self::Failed
                | Self::Exhausted
                | Self::Unknown
        )
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

/// An appointment booked on the call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Appointment {
    pub at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
}

/// What the renderer needs at send time, captured from the call when deciding.
/// Templates and sender names are read from the settings at send time instead, so an
/// operator's correction applies to follow-ups not yet sent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Content {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub appointment: Option<Appointment>,
    /// Why the agent asked for a call or WhatsApp follow-up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
}

/// One step of a follow-up's history, as shown to operators.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TraceEntry {
    pub at: DateTime<Utc>,
    pub status: Status,
    pub reason: Reason,
    #[serde(default)]
    pub detail: String,
    /// The legal or window rules that held the follow-up back at this step
    /// (`state_hours:FL`, `frequency_cap:MD`, …).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<Rule>,
    /// Set on a note about a follow-up of another channel (e.g. an SMS suppression this
    /// follow-up call's completion decided again and that is already stored once):
    /// `status` and `reason` are that follow-up's, not this one's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<Channel>,
}

impl TraceEntry {
    pub fn new(
        at: DateTime<Utc>,
        status: Status,
        reason: Reason,
        detail: impl Into<String>,
    ) -> Self {
        Self {
            at,
            status,
            reason,
            detail: detail.into(),
            rules: Vec::new(),
            channel: None,
        }
    }

    /// The same step, naming the rules that held the follow-up back.
    pub fn held_by(mut self, rules: Vec<Rule>) -> Self {
        self.rules = rules;
        self
    }

    /// A note about a follow-up of `channel` kept in another follow-up's trace.
    pub fn about(mut self, channel: Channel) -> Self {
        self.channel = Some(channel);
        self
    }
}

/// One try at delivering the follow-up through its provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempt {
    pub attempt: u32,
    pub at: DateTime<Utc>,
    pub status: Status,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// What the provider reported afterwards (WhatsApp: sent, delivered, read, failed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deliveries: Vec<crate::delivery::Delivery>,
}

/// A stored follow-up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FollowUp {
    pub id: FollowUpId,
    pub account_id: AccountId,
    pub campaign_id: CampaignId,
    pub agent_id: AgentId,
    pub contact_id: ContactId,
    /// The call that led to this follow-up.
    pub call_id: CallId,
    pub channel: Channel,
    pub status: Status,
    pub due_at: DateTime<Utc>,
    /// The zone its window is read in (the contact's when known).
    pub time_zone: TimeZone,
    /// Where `time_zone` came from; absent on follow-ups stored before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone_source: Option<ZoneSource>,
    /// 1 for the first try; a retried follow-up call counts up.
    pub attempt: u32,
    /// Calls only: the agent's retry settings when the call was decided.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_retries: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_interval_minutes: Option<u32>,
    /// `None` while `needs_review`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination: Option<Destination>,
    #[serde(default)]
    pub content: Content,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<Reason>,
    #[serde(default)]
    pub trace: Vec<TraceEntry>,
    #[serde(default)]
    pub attempts: Vec<Attempt>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl FollowUp {
    /// The once-per-(campaign, contact, kind) guard this follow-up holds (SMS and emails).
    pub fn kind_guard(&self) -> Option<GuardKey> {
        self.channel.guard_kind().map(|kind| GuardKey {
            campaign_id: self.campaign_id.clone(),
            contact_id: self.contact_id.clone(),
            kind,
        })
    }

    /// The one-pending-per-(campaign, contact, channel) slot (calls and WhatsApp).
    pub fn pending_key(&self) -> Option<PendingKey> {
        self.channel.is_requested().then(|| PendingKey {
            campaign_id: self.campaign_id.clone(),
            contact_id: self.contact_id.clone(),
            channel: self.channel,
        })
    }

    /// Waiting to go out (`scheduled` or `needs_review`): what an opt-out cancels.
    pub fn is_open(&self) -> bool {
        matches!(self.status, Status::Scheduled | Status::NeedsReview)
    }

    /// The contact opted out (`source` says how): an open follow-up is cancelled with
    /// reason `opted_out`. Returns whether it changed; one already on its way or done
    /// stays as it is (the send-time re-check still stops it if it has not left yet).
    pub fn cancel_for_opt_out(&mut self, source: crate::DncSource, now: DateTime<Utc>) -> bool {
        if !self.is_open() {
            return false;
        }
        let detail = format!("the contact opted out ({})", source.as_str());
        self.record(now, Status::Cancelled, Reason::OptedOut, detail);
        true
    }

    /// Moves to `status` for `reason` and records the step in the trace.
    pub fn record(
        &mut self,
        at: DateTime<Utc>,
        status: Status,
        reason: Reason,
        detail: impl Into<String>,
    ) {
        self.status = status;
        self.reason = Some(reason);
        self.updated_at = at;
        self.trace.push(TraceEntry::new(at, status, reason, detail));
    }

    /// An operator sets the number of a `needs_review` SMS and sends it: it becomes
    /// `scheduled`, due now. The caller still runs [`crate::recheck`] (DNC, channel)
    /// before sending.
    pub fn review(&mut self, destination: PhoneNumber, now: DateTime<Utc>) -> Result<(), Error> {
        if self.channel != crate::Channel::Sms {
            return Err(Error::not_renderable(
                Reason::WrongChannel,
                "only an SMS can be reviewed",
            ));
        }
        if self.status != Status::NeedsReview {
            return Err(Error::not_renderable(
                Reason::NotPending,
                format!("the follow-up is {}, not needs_review", self.status),
            ));
        }
        let detail = format!("destination set to {destination} by an operator");
        self.destination = Some(Destination::Phone(destination));
        self.due_at = now;
        self.record(now, Status::Scheduled, Reason::Reviewed, detail);
        Ok(())
    }
}

/// A follow-up decided by [`crate::decide`], before the caller gives it an id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewFollowUp {
    pub account_id: AccountId,
    pub campaign_id: CampaignId,
    pub agent_id: AgentId,
    pub contact_id: ContactId,
    pub call_id: CallId,
    pub channel: Channel,
    /// `scheduled`, `needs_review` or `suppressed`.
    pub status: Status,
    pub due_at: DateTime<Utc>,
    pub time_zone: TimeZone,
    pub zone_source: ZoneSource,
    pub attempt: u32,
    pub max_retries: Option<u32>,
    pub retry_interval_minutes: Option<u32>,
    pub destination: Option<Destination>,
    pub content: Content,
    pub reason: Reason,
    pub trace: Vec<TraceEntry>,
}

impl NewFollowUp {
    pub fn into_followup(self, id: FollowUpId, now: DateTime<Utc>) -> FollowUp {
        FollowUp {
            id,
            account_id: self.account_id,
            campaign_id: self.campaign_id,
            agent_id: self.agent_id,
            contact_id: self.contact_id,
            call_id: self.call_id,
            channel: self.channel,
            status: self.status,
            due_at: self.due_at,
            time_zone: self.time_zone,
            zone_source: Some(self.zone_source),
            attempt: self.attempt,
            max_retries: self.max_retries,
            retry_interval_minutes: self.retry_interval_minutes,
            destination: self.destination,
            content: self.content,
            reason: Some(self.reason),
            trace: self.trace,
            attempts: Vec::new(),
            created_at: now,
            updated_at: now,
        }
    }

    pub fn kind_guard(&self) -> Option<GuardKey> {
        self.channel.guard_kind().map(|kind| GuardKey {
            campaign_id: self.campaign_id.clone(),
            contact_id: self.contact_id.clone(),
            kind,
        })
    }

    pub fn pending_key(&self) -> Option<PendingKey> {
        self.channel.is_requested().then(|| PendingKey {
            campaign_id: self.campaign_id.clone(),
            contact_id: self.contact_id.clone(),
            channel: self.channel,
        })
    }

    /// The once-per-(campaign, contact, channel, reason) key of a suppression.
    pub fn suppression_key(&self) -> Option<SuppressionKey> {
        (self.status == Status::Suppressed).then(|| SuppressionKey {
            campaign_id: self.campaign_id.clone(),
            contact_id: self.contact_id.clone(),
            channel: self.channel,
            reason: self.reason,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reason_names_match_their_json() {
        for reason in Reason::ALL {
            let json = serde_json::to_value(reason).unwrap();
            assert_eq!(json, reason.as_str(), "{reason:?}");
        }
    }

    #[test]
    fn status_and_channel_names_match_their_json() {
        for status in Status::ALL {
            assert_eq!(serde_json::to_value(status).unwrap(), status.as_str());
        }
        for channel in Channel::ALL {
            assert_eq!(serde_json::to_value(channel).unwrap(), channel.as_str());
        }
    }
}
