//! A platform's get-call answer about a follow-up call it placed, read with the same
//! readers (and so the same end-reason tables and analysis mapping) as its webhooks:
//!
//! | platform | request | in progress | ended |
//! |---|---|---|---|
//! | Vapi | `GET /call/{id}` | `status` scheduled, queued, ringing, in-progress, forwarding | `status` ended: read as an `end-of-call-report` |
//! | Retell | `GET /v2/get-call/{call_id}` | `call_status` registered, ongoing | ended, not_connected, error: read as `call_analyzed` |
//! | Bland | `GET /v1/calls/{call_id}` | not `completed` and no final `status` | `completed`, or a final `status` / error `queue_status`: read as the post-call webhook |
//! | ElevenLabs | `GET /v1/convai/conversations/{conversation_id}` | `status` initiated, in-progress, processing | `done`: read as `post_call_transcription`; `failed`: the same, ended `failed` |
//!
//! Any other status is an error naming the field: the caller cannot tell the call's
//! end, and says so.

use serde_json::{Value, json};

use super::{EndReason, Native, NativeCall, Platform, at, text_at};
use crate::error::ValidationErrors;
use crate::values::CallOutcome;

/// What the platform says about a placed call.
#[derive(Debug, Clone, PartialEq)]
// One value per lookup, matched right away.
#[allow(clippy::large_enum_variant)]
pub enum Lookup {
    /// The call is over: its facts, as its webhook would have carried them.
    Ended(NativeCall),
    /// Still queued, ringing or talking (`status` as the platform says it).
    InProgress { status: String },
}

/// Reads a get-call answer of `platform`.
pub fn read_lookup(platform: Platform, body: &[u8]) -> Result<Lookup, ValidationErrors> {
    let call: Value = serde_json::from_slice(body)
        .map_err(|e| ValidationErrors::single("body", format!("malformed JSON: {e}")))?;
    if !call.is_object() {
        return Err(ValidationErrors::single("body", "must be a JSON object"));
    }
    match platform {
        Platform::Vapi => vapi(&call),
        Platform::Retell => retell(&call),
        Platform::Bland => bland(&call),
        Platform::ElevenLabs => elevenlabs(&call),
    }
}

fn ended(platform: Platform, webhook: &Value) -> Result<Lookup, ValidationErrors> {
    match super::read(platform, webhook.to_string().as_bytes())? {
        Native::Final(call) => Ok(Lookup::Ended(call)),
        Native::Ignored { event_type } => Err(ValidationErrors::single(
            "status",
            format!("an ended call read as {event_type:?}, not its end"),
        )),
    }
}

fn unexpected(field: &str, status: Option<String>) -> ValidationErrors {
    let status = status.unwrap_or_else(|| "absent".into());
    ValidationErrors::single(
        field,
        format!("{status:?} does not say whether the call ended"),
    )
}

fn vapi(call: &Value) -> Result<Lookup, ValidationErrors> {
    let status = text_at(call, "status");
    match status.as_deref() {
        Some("scheduled" | "queued" | "ringing" | "in-progress" | "forwarding") => {
            Ok(Lookup::InProgress {
                status: status.unwrap_or_default(),
            })
        }
        Some("ended") => {
            let field = |name: &str| at(call, name).cloned().unwrap_or(Value::Null);
            let report = json!({"message": {
                "type": super::vapi::FINAL_EVENT,
                "endedReason": field("endedReason"),
                "startedAt": field("startedAt"),
                "endedAt": field("endedAt"),
                "customer": field("customer"),
                "analysis": field("analysis"),
                "artifact": field("artifact"),
                "call": call,
            }});
            ended(Platform::Vapi, &report)
        }
        _ => Err(unexpected("status", status)),
    }
}

fn retell(call: &Value) -> Result<Lookup, ValidationErrors> {
    let status = text_at(call, "call_status");
    match status.as_deref() {
        Some("registered" | "ongoing") => Ok(Lookup::InProgress {
            status: status.unwrap_or_default(),
        }),
        Some("ended" | "not_connected" | "error") => ended(
            Platform::Retell,
            &json!({"event": "call_analyzed", "call": call}),
        ),
        _ => Err(unexpected("call_status", status)),
    }
}

fn bland(call: &Value) -> Result<Lookup, ValidationErrors> {
    let status = text_at(call, "status");
    let queue = text_at(call, "queue_status");
    let completed = at(call, "completed").and_then(Value::as_bool) == Some(true);
    let final_status = matches!(
        status.as_deref(),
        Some("completed" | "complete" | "failed" | "busy" | "no-answer" | "canceled" | "cancelled")
    );
    let queue_error = queue.as_deref().is_some_and(|q| q.ends_with("error"));
    if completed || final_status || queue_error {
        return ended(Platform::Bland, call);
    }
    match queue.or(status) {
        Some(status) => Ok(Lookup::InProgress { status }),
        None => Err(unexpected("completed", None)),
    }
}

fn elevenlabs(conversation: &Value) -> Result<Lookup, ValidationErrors> {
    let status = text_at(conversation, "status");
    let webhook = json!({"type": "post_call_transcription", "data": conversation});
    match status.as_deref() {
        Some("initiated" | "in-progress" | "processing") => Ok(Lookup::InProgress {
            status: status.unwrap_or_default(),
        }),
        Some("done") => ended(Platform::ElevenLabs, &webhook),
        Some("failed") => match ended(Platform::ElevenLabs, &webhook)? {
            Lookup::Ended(mut call) => {
                call.end = EndReason::new("status", status, Some(CallOutcome::Failed));
                Ok(Lookup::Ended(call))
            }
            in_progress => Ok(in_progress),
        },
        _ => Err(unexpected("status", status)),
    }
}
