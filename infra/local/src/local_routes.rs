//! Routes that exist only in the local runtime: the outbox, the movable clock, and
//! simulated replies (an SMS to our number, a WhatsApp message) that take the same
//! path as the real ones after their transport (SNS, Meta's signature).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use channels::Outbox;
use http_api::Tenant;
use http_api::extract::JsonBody;
use http_api::problem::Problem;
use policy::PhoneNumber;
use serde_json::{Value, json};
use service::clock::{Clock, MAX_OFFSET, MovableClock};
use service::inbound::{Handled, Inbound, InboundError, InboundMessage, TwoWaySms};

#[derive(Clone)]
pub struct Local {
    pub outbox: Arc<Outbox>,
    pub clock: Arc<MovableClock>,
    /// Where the clock's offset is kept across restarts.
    pub data_dir: PathBuf,
    pub inbound: Arc<Inbound>,
    pub engine: Arc<service::Engine>,
}

const OFFSET_FILE: &str = "clock-offset";

/// The clock offset saved by an earlier run (seconds in `DIR/clock-offset`); none is
/// zero. A file that is not a number of seconds within `0..=MAX_OFFSET` is refused with
/// what to do about it, rather than starting the clock elsewhere (or not at all).
pub fn saved_offset(dir: &Path) -> Result<chrono::Duration, String> {
    let path = dir.join(OFFSET_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(chrono::Duration::zero()),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    let max = MAX_OFFSET.num_seconds();
    text.trim()
        .parse::<i64>()
        .ok()
        .filter(|seconds| (0..=max).contains(seconds))
        .map(chrono::Duration::seconds)
        .ok_or_else(|| {
            format!(
                "{} holds {:?}, not a clock offset in seconds from 0 to {max} ({} days); \
                 delete the file to start the local clock at the machine's time",
                path.display(),
                text.trim().chars().take(40).collect::<String>(),
                MAX_OFFSET.num_days()
            )
        })
}

pub fn save_offset(dir: &Path, offset: chrono::Duration) {
    if let Err(e) = std::fs::write(dir.join(OFFSET_FILE), offset.num_seconds().to_string()) {
        tracing::warn!(error = %e, "cannot keep the clock offset");
    }
}

pub fn router(local: Local) -> Router {
    Router::new()
        .route("/v1/outbox", get(outbox))
        .route("/v1/local/clock", get(clock).post(advance))
        .route("/v1/local/inbound/sms", post(inbound_sms))
        .route("/v1/local/inbound/whatsapp", post(inbound_whatsapp))
        .with_state(local)
}

/// What was "sent" for the caller's account, newest last.
async fn outbox(State(local): State<Local>, Tenant(account): Tenant) -> Json<Value> {
    Json(json!({ "items": local.outbox.list_for(account.as_str()) }))
}

async fn clock(State(local): State<Local>, _: Tenant) -> Json<Value> {
    Json(now(&local))
}

/// `{"advance": "26h"}`: moves the clock forward; due follow-ups fire within a second.
async fn advance(
    State(local): State<Local>,
    _: Tenant,
    JsonBody(body): JsonBody,
) -> Result<Json<Value>, Problem> {
    let by = service::clock::requested_advance(&body).map_err(|e| Problem::field("advance", e))?;
    local
        .clock
        .try_advance(by)
        .map_err(|e| Problem::field("advance", e.to_string()))?;
    save_offset(&local.data_dir, local.clock.offset());
    Ok(Json(now(&local)))
}

fn now(local: &Local) -> Value {
    json!({ "now": local.clock.now(), "offset_seconds": local.clock.offset().num_seconds() })
}

/// `{"from": "+1415…", "body": "STOP", "to": "+1212…"}`: an SMS reply as End User
/// Messaging would deliver it. With `to`, the account is the one owning that number
/// (as in AWS: an unknown number is acknowledged and ignored); without, the caller's.
async fn inbound_sms(
    State(local): State<Local>,
    Tenant(account): Tenant,
    JsonBody(body): JsonBody,
) -> Result<Json<Value>, Problem> {
    let (from, text) = reply_fields(&body)?;
    let handled = match body.get("to") {
        Some(to) => {
            let to = to
                .as_str()
                .ok_or_else(|| Problem::field("to", "must be an E.164 number"))?;
            PhoneNumber::parse("to", to).map_err(|e| Problem::field("to", e.to_string()))?;
            let message = TwoWaySms {
                origination_number: from.as_str().into(),
                destination_number: to.into(),
                message_body: text,
                inbound_message_id: uuid::Uuid::new_v4().to_string(),
                message_keyword: None,
                previous_published_message_id: None,
            };
            local.inbound.handle(InboundMessage::Sms(message)).await
        }
        None => {
            let ours = local
                .engine
                .account_settings(&account)
                .await?
                .value
                .sms_origination_number;
            local
                .inbound
                .sms_reply_for(&account, from, ours, &text)
                .await
        }
    }
    .map_err(|e| match e {
        InboundError::Service(e) => e.into(),
        other => Problem::new(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            other.to_string(),
        ),
    })?;
    Ok(Json(describe(&handled)))
}

/// `{"from": "+1415…", "body": "STOP"}`: a WhatsApp message to the caller's account,
/// handled as a signed delivery of Meta's webhook would be.
async fn inbound_whatsapp(
    State(local): State<Local>,
    Tenant(account): Tenant,
    JsonBody(body): JsonBody,
) -> Result<Json<Value>, Problem> {
    let (from, text) = reply_fields(&body)?;
    let wa_id = from.as_str().trim_start_matches('+');
    let delivery = json!({"object": "whatsapp_business_account", "entry": [{"id": "local", "changes": [{
        "field": "messages",
        "value": {"messaging_product": "whatsapp",
                  "messages": [{"from": wa_id, "id": format!("wamid.local.{}", uuid::Uuid::new_v4().simple()),
                                "timestamp": local.clock.now().timestamp().to_string(),
                                "type": "text", "text": {"body": text}}]}
    }]}]});
    let answer = local
        .engine
        .handle_meta_delivery(&account, delivery.to_string().as_bytes())
        .await?;
    Ok(Json(answer))
}

fn reply_fields(body: &Value) -> Result<(PhoneNumber, String), Problem> {
    let from = body
        .get("from")
        .and_then(Value::as_str)
        .ok_or_else(|| Problem::field("from", "is required: the contact's E.164 number"))?;
    let from =
        PhoneNumber::parse("from", from).map_err(|e| Problem::field("from", e.to_string()))?;
    let text = body
        .get("body")
        .and_then(Value::as_str)
        .ok_or_else(|| Problem::field("body", "is required: the text of the reply"))?;
    if text.chars().count() > 1600 {
        return Err(Problem::field("body", "must be at most 1600 characters"));
    }
    Ok((from, text.to_string()))
}

fn describe(handled: &Handled) -> Value {
    match handled {
        Handled::Ignored(why) => json!({ "outcome": "ignored", "detail": why }),
        Handled::OptedOut {
            cancelled,
            confirmed,
        } => {
            json!({ "outcome": "opted_out", "cancelled": cancelled, "confirmation_sent": confirmed })
        }
        Handled::Undeliverable(n) => json!({ "outcome": "undeliverable", "addresses": n }),
    }
}
