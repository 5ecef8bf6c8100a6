//! Retell's call webhooks: `{ "event", "call": { ... } }`. `call_analyzed` carries the
//! analysis and is the one decided on; `call_ended` is decided on only for a call that
//! never connected (Retell still sends `call_analyzed` after it, which then changes
//! nothing: both share the call id's idempotency key). Other events are ignored.

use serde_json::Value;

use super::{
    EndReason, Native, NativeCall, Platform, at, merge_missing, millis_at, object_at,
    required_text, text_at,
};
use crate::error::ValidationErrors;
use crate::values::CallOutcome;

pub(super) fn read(root: &Value) -> Result<Native, ValidationErrors> {
    let event_type = required_text(root, "event")?;
    let call = at(root, "call").filter(|c| c.is_object());
    let final_event = match event_type.as_str() {
        "call_analyzed" => true,
        "call_ended" => call.is_some_and(never_connected),
        _ => false,
    };
    if !final_event {
        return Ok(Native::Ignored { event_type });
    }
    let Some(call) = call else {
        return Err(ValidationErrors::single("call", "is required (an object)"));
    };
    let raw_reason = text_at(call, "disconnection_reason");
    let in_voicemail = at(call, "call_analysis.in_voicemail").and_then(Value::as_bool);
    let outcome = match in_voicemail {
        Some(true) => Some(CallOutcome::Voicemail),
        _ => raw_reason.as_deref().and_then(outcome),
    };
    let inbound = text_at(call, "direction").as_deref() == Some("inbound");
    let (phone, phone_field) = if inbound {
        (text_at(call, "from_number"), "call.from_number")
    } else {
        (text_at(call, "to_number"), "call.to_number")
    };
    let mut metadata = object_at(call, "metadata");
    merge_missing(
        &mut metadata,
        object_at(call, "retell_llm_dynamic_variables"),
    );
    Ok(Native::Final(NativeCall {
        platform: Platform::Retell,
        event_type,
        call_id: text_at(call, "call_id"),
        call_id_field: "call.call_id",
        agent_id: text_at(call, "agent_id"),
        agent_id_field: "call.agent_id",
        campaign_id: None,
        end: EndReason::new("disconnection_reason", raw_reason, outcome),
        phone,
        phone_field,
        started_at: millis_at(call, "start_timestamp"),
        ended_at: millis_at(call, "end_timestamp"),
        metadata,
        metadata_field: "call.metadata",
        contact_name: None,
        contact_email: None,
        summary: text_at(call, "call_analysis.call_summary"),
        analysis: object_at(call, "call_analysis.custom_analysis_data"),
        analysis_field: "call.call_analysis.custom_analysis_data",
    }))
}

/// A call that was dialled but never connected: no `call_analyzed` analysis will
/// add anything, so its `call_ended` is final.
fn never_connected(call: &Value) -> bool {
    if text_at(call, "call_status").as_deref() == Some("not_connected") {
        return true;
    }
    text_at(call, "disconnection_reason").is_some_and(|reason| {
        reason.starts_with("dial_")
            || matches!(
                reason.as_str(),
                "invalid_destination"
                    | "user_declined"
                    | "telephony_provider_permission_denied"
                    | "telephony_provider_unavailable"
                    | "sip_routing_error"
                    | "marked_as_spam"
            )
    })
}

/// Retell's `disconnection_reason` per the reference table; `None` for a value not in it.
pub fn outcome(reason: &str) -> Option<CallOutcome> {
    use CallOutcome::*;
    Some(match reason {
        "user_hangup"
        | "agent_hangup"
        | "call_transfer"
        | "transfer_bridged"
        | "max_duration_reached"
        | "inactivity"
        | "call_take_over" => Completed,
        "voicemail_reached" | "ivr_reached" => Voicemail,
        "dial_no_answer" => NoAnswer,
        "dial_busy" => Busy,
        "user_declined" => Declined,
        "invalid_destination" => InvalidNumber,
        "dial_failed"
        | "telephony_provider_permission_denied"
        | "telephony_provider_unavailable"
        | "sip_routing_error"
        | "marked_as_spam"
        | "concurrency_limit_reached"
        | "no_concurrency_fallback"
        | "no_valid_payment"
        | "scam_detected"
        | "registered_call_timeout"
        | "manual_stopped"
        | "transfer_cancelled" => Failed,
        other if other.starts_with("error_") => Failed,
        _ => return None,
    })
}
