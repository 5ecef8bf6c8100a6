//! The follow-up: what is stored, shown to operators and executed. Also the small
//! vocabularies every crate shares: channel, status and reason.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::ids::{AccountId, AgentId, CallId, CampaignId, ContactId, FollowUpId};
use crate::keys::{GuardKey, PendingKey, SuppressionKey};
use crate::legal::Rule;
use crate::recipient::ZoneSource;
use crate::values::{Destination, PhoneNumber, TimeZone};
pub use crate::vocabulary::{Channel, GuardKind, Reason, Status};

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
        Status::OPEN.contains(&self.status)
    }

    /// The contact opted out (`source` says how): an open follow-up is cancelled with
    /// reason `opted_out` ([`crate::lifecycle`]). Returns whether it changed; one
    /// already on its way or done stays as it is (the send-time re-check still stops it
    /// if it has not left yet).
    pub fn cancel_for_opt_out(&mut self, source: crate::DncSource, now: DateTime<Utc>) -> bool {
        match crate::lifecycle::apply(self, crate::lifecycle::Event::OptOut { source }, now) {
            Ok(cancelled) => {
                *self = cancelled;
                true
            }
            Err(_) => false,
        }
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
    /// `scheduled`, due now ([`crate::lifecycle`]). The caller still runs
    /// [`crate::recheck`] (DNC, channel) before sending.
    pub fn review(&mut self, destination: PhoneNumber, now: DateTime<Utc>) -> Result<(), Error> {
        let event = crate::lifecycle::Event::Review { destination };
        *self = crate::lifecycle::apply(self, event, now).map_err(|refused| match refused {
            crate::lifecycle::Refused::WrongChannel { .. } => {
                Error::not_renderable(Reason::WrongChannel, "only an SMS can be reviewed")
            }
            _ => Error::not_renderable(
                Reason::NotPending,
                format!("the follow-up is {}, not needs_review", self.status),
            ),
        })?;
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

impl FollowUp {
    /// Records a provider status on the attempt it is about. Returns whether anything
    /// changed: a status for another attempt or message is refused, and one already
    /// recorded (a redelivered webhook) changes nothing.
    pub fn record_delivery(
        &mut self,
        attempt: u32,
        provider_id: &str,
        mut delivery: crate::delivery::Delivery,
    ) -> bool {
        let Some(target) = self
            .attempts
            .iter_mut()
            .rev()
            .find(|a| a.attempt == attempt && a.provider_id.as_deref() == Some(provider_id))
        else {
            return false;
        };
        delivery.error = delivery
            .error
            .map(|e| e.chars().take(crate::delivery::MAX_ERROR_CHARS).collect());
        if target.deliveries.contains(&delivery) {
            return false;
        }
        target.deliveries.push(delivery);
        true
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
