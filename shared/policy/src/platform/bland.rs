//! Bland's post-call webhook: the whole call object (`call_id`, `status`,
//! `answered_by`, `completed`, `summary`, `analysis`, `metadata`, ...). Bland may send a
//! second, delayed webhook for the same call (corrected transcript); it shares the call
//! id's idempotency key and changes nothing. A body without `call_id` but with a
//! `category` (a live event from `webhook_events`) is acknowledged and ignored.

use serde_json::Value;

use super::{
    EndReason, Native, NativeCall, Platform, at, instant_at, merge_missing, object_at, text_at,
};
use crate::error::ValidationErrors;
use crate::values::CallOutcome;

pub(super) fn read(root: &Value) -> Result<Native, ValidationErrors> {
    if text_at(root, "call_id").is_none()
        && let Some(category) = text_at(root, "category")
    {
        return Ok(Native::Ignored {
            event_type: category,
        });
    }
    let status = text_at(root, "status");
    let answered_by = text_at(root, "answered_by");
    let completed = at(root, "completed").and_then(Value::as_bool);
    let mapped = outcome(status.as_deref(), answered_by.as_deref(), completed);
    let raw = format!(
        "status={} answered_by={}",
        status.as_deref().unwrap_or("null"),
        answered_by.as_deref().unwrap_or("null")
    );
    let inbound = at(root, "inbound").and_then(Value::as_bool) == Some(true);
    let (phone, phone_field) = if inbound {
        (text_at(root, "from"), "from")
    } else {
        (text_at(root, "to"), "to")
    };
    let mut metadata = object_at(root, "metadata");
    merge_missing(&mut metadata, object_at(root, "variables.metadata"));
    Ok(Native::Final(NativeCall {
        platform: Platform::Bland,
        event_type: "post_call".into(),
        call_id: text_at(root, "call_id"),
        call_id_field: "call_id",
        agent_id: text_at(root, "pathway_id").or_else(|| text_at(root, "agent_id")),
        agent_id_field: "pathway_id",
        campaign_id: text_at(root, "batch_id"),
        end: EndReason::new("status/answered_by", Some(raw), mapped),
        phone,
        phone_field,
        started_at: instant_at(root, "started_at").or(instant_at(root, "created_at")),
        ended_at: instant_at(root, "end_at"),
        metadata,
        metadata_field: "metadata",
        contact_name: None,
        contact_email: None,
        summary: text_at(root, "summary"),
        analysis: object_at(root, "analysis"),
        analysis_field: "analysis",
    }))
}

/// Bland's `status`, `answered_by` and `completed` per the reference; `None` when they
/// say nothing we know.
pub fn outcome(
    status: Option<&str>,
    answered_by: Option<&str>,
    completed: Option<bool>,
) -> Option<CallOutcome> {
    use CallOutcome::*;
    if answered_by == Some("voicemail") {
        return Some(Voicemail);
    }
    match (status, answered_by) {
        (Some("busy"), _) => Some(Busy),
        (Some("no-answer"), _) | (_, Some("no-answer")) => Some(NoAnswer),
        (Some("failed" | "canceled" | "cancelled"), _) => Some(Failed),
        (Some("completed" | "complete"), Some("human" | "unknown") | None) => Some(Completed),
        (None, Some("human" | "unknown") | None) if completed == Some(true) => Some(Completed),
        _ => None,
    }
}
