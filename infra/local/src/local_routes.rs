//! Routes that exist only in the local runtime: the outbox and the movable clock.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use channels::Outbox;
use http_api::Tenant;
use http_api::extract::JsonBody;
use http_api::problem::Problem;
use serde_json::{Value, json};
use service::clock::{Clock, MAX_OFFSET, MovableClock};

#[derive(Clone)]
pub struct Local {
    pub outbox: Arc<Outbox>,
    pub clock: Arc<MovableClock>,
    /// Where the clock's offset is kept across restarts.
    pub data_dir: PathBuf,
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
