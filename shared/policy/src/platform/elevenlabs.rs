//! ElevenLabs Agents post-call webhooks: `{ "type", "event_timestamp", "data" }`.
//! `post_call_transcription` (a conversation that happened) and
//! `call_initiation_failure` (a call that never connected) are final; `post_call_audio`
//! and anything else is acknowledged and ignored.

use serde_json::{Map, Value};

use super::{
    EndReason, Native, NativeCall, Platform, at, merge_missing, object_at, required_text,
    seconds_at, text_at,
};
use crate::error::ValidationErrors;
use crate::values::CallOutcome;

pub(super) fn read(root: &Value) -> Result<Native, ValidationErrors> {
    let event_type = required_text(root, "type")?;
    let failure = match event_type.as_str() {
        "post_call_transcription" => false,
        "call_initiation_failure" => true,
        _ => return Ok(Native::Ignored { event_type }),
    };
    let Some(data) = at(root, "data").filter(|d| d.is_object()) else {
        return Err(ValidationErrors::single("data", "is required (an object)"));
    };
    let (end, phone, phone_field) = if failure {
        let raw = text_at(data, "failure_reason");
        let outcome = raw.as_deref().and_then(failure_outcome);
        let phone = ["metadata.body.to_number", "metadata.body.To"]
            .iter()
            .find_map(|p| text_at(data, p))
            .or_else(|| dynamic(data, "system__called_number"));
        (
            EndReason::new("failure_reason", raw, outcome),
            phone,
            "data.metadata.body.to_number",
        )
    } else {
        let raw = text_at(data, "metadata.termination_reason");
        let outcome = Some(conversation_outcome(raw.as_deref()));
        let phone = text_at(data, "metadata.phone_call.external_number")
            .or_else(|| dynamic(data, "system__called_number"));
        (
            EndReason::new("termination_reason", raw, outcome),
            phone,
            "data.metadata.phone_call.external_number",
        )
    };
    let started = seconds_at(data, "metadata.start_time_unix_secs");
    let duration = seconds_at(data, "metadata.call_duration_secs").unwrap_or(0);
    let ended = started
        .and_then(|s| s.checked_add(duration))
        .or_else(|| seconds_at(root, "event_timestamp"))
        .and_then(|s| chrono::DateTime::from_timestamp(s, 0));
    let mut metadata = object_at(
        data,
        "conversation_initiation_client_data.dynamic_variables",
    );
    if let Some(user) = text_at(data, "conversation_initiation_client_data.user_id")
        .or_else(|| text_at(data, "user_id"))
    {
        merge_missing(
            &mut metadata,
            Map::from_iter([("contact_id".to_owned(), Value::String(user))]),
        );
    }
    Ok(Native::Final(NativeCall {
        platform: Platform::ElevenLabs,
        event_type,
        call_id: text_at(data, "conversation_id"),
        call_id_field: "data.conversation_id",
        agent_id: text_at(data, "agent_id"),
        agent_id_field: "data.agent_id",
        campaign_id: None,
        end,
        phone,
        phone_field,
        started_at: started.and_then(|s| chrono::DateTime::from_timestamp(s, 0)),
        ended_at: ended,
        metadata,
        metadata_field: "data.conversation_initiation_client_data.dynamic_variables",
        contact_name: None,
        contact_email: None,
        summary: text_at(data, "analysis.transcript_summary"),
        analysis: collected(data),
        analysis_field: "data.analysis.data_collection_results",
    }))
}

fn dynamic(data: &Value, key: &str) -> Option<String> {
    at(
        data,
        "conversation_initiation_client_data.dynamic_variables",
    )
    .and_then(|vars| text_at(vars, key))
}

/// `data_collection_results` as `{id: value}`.
fn collected(data: &Value) -> Map<String, Value> {
    object_at(data, "analysis.data_collection_results")
        .into_iter()
        .filter_map(|(id, result)| match result {
            Value::Object(mut fields) => fields.remove("value").map(|v| (id, v)),
            _ => None,
        })
        .collect()
}

/// A conversation took place: completed, unless it ended on a voicemail.
pub fn conversation_outcome(termination_reason: Option<&str>) -> CallOutcome {
    let voicemail =
        termination_reason.is_some_and(|r| r.to_ascii_lowercase().contains("voicemail"));
    if voicemail {
        CallOutcome::Voicemail
    } else {
        CallOutcome::Completed
    }
}

/// `call_initiation_failure.failure_reason`; `None` for a value not known.
pub fn failure_outcome(reason: &str) -> Option<CallOutcome> {
    Some(match reason {
        "busy" => CallOutcome::Busy,
        "no-answer" | "no_answer" => CallOutcome::NoAnswer,
        "unknown" | "failed" => CallOutcome::Failed,
        _ => return None,
    })
}
