//! What a decided call answers: the webhook's response and the decision preview are
//! the same [`CallAnswer`], so a dry run can be compared field by field with what the
//! webhook then did (the preview only lacks the ids of follow-ups it did not create).

use chrono::{DateTime, Utc};
use policy::{
    CallId, Channel, Decision, Destination, FollowUp, FollowUpId, Reason, Status, TimeZone,
    TraceEntry,
};
use serde::{Deserialize, Serialize};

/// The answer to one `call.completed` body (`components.schemas.CallAnswer`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallAnswer {
    /// The delivery's `webhook-id`; absent in a preview.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_id: Option<String>,
    /// Absent when the event was ignored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call_id: Option<CallId>,
    /// The event type, when it is not one the engine acts on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignored: Option<String>,
    pub followups: Vec<DecidedFollowUp>,
}

impl CallAnswer {
    pub fn ignored(webhook_id: Option<String>, event_type: String) -> Self {
        Self {
            webhook_id,
            call_id: None,
            ignored: Some(event_type),
            followups: Vec::new(),
        }
    }
}

/// Which kind of decision a [`DecidedFollowUp`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DecisionKind {
    /// A new follow-up (scheduled, needs_review or suppressed).
    Create,
    /// The pending call or WhatsApp follow-up moves to a new time.
    Reschedule,
    /// A `needs_review` SMS gets this call's confirmed number.
    Complete,
    /// The follow-up call this call was is tried again.
    Retry,
    /// The follow-up call this call was ends.
    Finish,
    /// A suppression already stored once: nothing new is stored.
    Noted,
}

/// One follow-up a call created, changed or left as it was, in the state the decision
/// puts it in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecidedFollowUp {
    pub decision: DecisionKind,
    /// The follow-up; absent in a preview for one that would be created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<FollowUpId>,
    pub channel: Channel,
    pub status: Status,
    pub reason: Reason,
    pub due_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<TimeZone>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination: Option<Destination>,
    /// The trace entries this decision adds, oldest first.
    pub trace: Vec<TraceEntry>,
}

impl DecidedFollowUp {
    /// A decision about `followup`, shown as the decision leaves it; `id` is absent
    /// for a previewed creation. A noted suppression changes no follow-up: see
    /// [`DecidedFollowUp::noted`].
    pub fn new(decision: &Decision, followup: &FollowUp, id: Option<FollowUpId>) -> Self {
        let decision_kind = match decision {
            Decision::Create(_) => DecisionKind::Create,
            Decision::Reschedule { .. } => DecisionKind::Reschedule,
            Decision::Complete { .. } => DecisionKind::Complete,
            Decision::Retry { .. } => DecisionKind::Retry,
            Decision::Finish { .. } => DecisionKind::Finish,
            Decision::Noted { .. } => DecisionKind::Noted,
        };
        let trace = decision.trace();
        Self {
            decision: decision_kind,
            id,
            channel: followup.channel,
            status: followup.status,
            reason: trace
                .last()
                .map(|t| t.reason)
                .or(followup.reason)
                .unwrap_or(Reason::Requested),
            due_at: followup.due_at,
            time_zone: Some(followup.time_zone),
            destination: followup.destination.clone(),
            trace,
        }
    }

    /// A suppression decided again and already stored as `recorded_as`.
    pub fn noted(channel: Channel, recorded_as: &FollowUpId, entry: &TraceEntry) -> Self {
        Self {
            decision: DecisionKind::Noted,
            id: Some(recorded_as.clone()),
            channel,
            status: entry.status,
            reason: entry.reason,
            due_at: entry.at,
            time_zone: None,
            destination: None,
            trace: vec![entry.clone()],
        }
    }
}
