//! Vapi's `end-of-call-report` server message: `{ "message": { "type", "endedReason",
//! "call", "customer", "analysis", "artifact", ... } }`. Every other message type is
//! acknowledged and ignored.

use serde_json::{Map, Value};

use super::{
    EndReason, Native, NativeCall, Platform, at, instant_at, merge_missing, object_at,
    required_text, text_at,
};
use crate::error::ValidationErrors;
use crate::values::CallOutcome;

pub const FINAL_EVENT: &str = "end-of-call-report";

pub(super) fn read(root: &Value) -> Result<Native, ValidationErrors> {
    if !at(root, "message").is_some_and(Value::is_object) {
        return Err(ValidationErrors::single(
            "message",
            "is required (an object)",
        ));
    }
    let event_type = required_text(root, "message.type")?;
    if event_type != FINAL_EVENT {
        return Ok(Native::Ignored { event_type });
    }
    let message = &root["message"];
    let first = |paths: &[&str]| paths.iter().find_map(|p| text_at(message, p));
    let raw_reason = first(&["endedReason", "call.endedReason"]);
    let outcome = raw_reason.as_deref().and_then(outcome);
    let mut metadata = object_at(message, "call.assistantOverrides.metadata");
    merge_missing(
        &mut metadata,
        object_at(message, "call.assistantOverrides.variableValues"),
    );
    merge_missing(&mut metadata, object_at(message, "assistant.metadata"));
    if let Some(external) = first(&["customer.externalId", "call.customer.externalId"]) {
        metadata
            .entry("contact_id")
            .or_insert(Value::String(external));
    }
    Ok(Native::Final(NativeCall {
        platform: Platform::Vapi,
        event_type,
        call_id: text_at(message, "call.id"),
        call_id_field: "message.call.id",
        agent_id: first(&["call.assistantId", "assistant.id"]),
        agent_id_field: "message.call.assistantId",
        campaign_id: first(&["call.campaignId"]),
        end: EndReason::new("endedReason", raw_reason, outcome),
        phone: first(&["customer.number", "call.customer.number"]),
        phone_field: "message.customer.number",
        started_at: instant_at(message, "startedAt").or(instant_at(message, "call.startedAt")),
        ended_at: instant_at(message, "endedAt").or(instant_at(message, "call.endedAt")),
        metadata,
        metadata_field: "message.call.assistantOverrides.metadata",
        contact_name: first(&["customer.name", "call.customer.name"]),
        contact_email: first(&["customer.email", "call.customer.email"]),
        summary: text_at(message, "analysis.summary"),
        analysis: analysis(message),
        analysis_field: "message.analysis.structuredData",
    }))
}

/// `analysis.structuredData`, then each structured output by name (an object result
/// also lends its keys).
fn analysis(message: &Value) -> Map<String, Value> {
    let mut analysis = object_at(message, "analysis.structuredData");
    let outputs = object_at(message, "artifact.structuredOutputs");
    for output in outputs.values() {
        let (Some(name), Some(result)) = (text_at(output, "name"), at(output, "result")) else {
            continue;
        };
        if let Value::Object(fields) = result {
            merge_missing(&mut analysis, fields.clone());
        }
        analysis.entry(name).or_insert_with(|| result.clone());
    }
    analysis
}

/// Vapi's `endedReason` per the reference table; `None` for a value not in it.
pub fn outcome(reason: &str) -> Option<CallOutcome> {
    use CallOutcome::*;
    Some(match reason {
        "customer-ended-call"
        | "assistant-ended-call"
        | "assistant-said-end-call-phrase"
        | "assistant-ended-call-with-hangup-task"
        | "assistant-ended-call-after-message-spoken"
        | "assistant-forwarded-call"
        | "customer-ended-call-before-warm-transfer"
        | "customer-ended-call-after-warm-transfer-attempt"
        | "customer-ended-call-during-transfer"
        | "exceeded-max-duration"
        | "call.in-progress.twilio-completed-call"
        | "call.in-progress.sip-completed-call"
        | "vonage-completed"
        | "silence-timed-out" => Completed,
        "customer-did-not-answer"
        | "call.in-progress.error-providerfault-outbound-sip-408-request-timeout"
        | "call.in-progress.error-providerfault-outbound-sip-480-temporarily-unavailable" => {
            NoAnswer
        }
        "customer-busy" => Busy,
        "voicemail" => Voicemail,
        "twilio-reported-customer-misdialed" => InvalidNumber,
        "vonage-rejected" => Declined,
        "twilio-failed-to-connect-call"
        | "vonage-failed-to-connect-call"
        | "vonage-disconnected"
        | "worker-shutdown"
        | "phone-call-provider-closed-websocket"
        | "manually-canceled"
        | "scheduled-call-deleted"
        | "call-deleted" => Failed,
        other
            if other.starts_with("call.start.error-")
                || other.starts_with("pipeline-error-")
                || other.starts_with("call.in-progress.error-")
                || other.starts_with("assistant-") =>
        {
            Failed
        }
        _ => return None,
    })
}
