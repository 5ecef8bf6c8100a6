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
use service::clock::{Clock, MovableClock};

#[derive(Clone)]
pub struct Local {
    pub outbox: Arc<Outbox>,
    pub clock: Arc<MovableClock>,
    /// Where the clock's offset is kept across restarts.
    pub data_dir: PathBuf,
}

const OFFSET_FILE: &str = "clock-offset";

/// The clock offset saved by an earlier run (seconds in `DIR/clock-offset`).
pub fn saved_offset(dir: &Path) -> chrono::Duration {
    std::fs::read_to_string(dir.join(OFFSET_FILE))
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .map(chrono::Duration::seconds)
        .unwrap_or_else(chrono::Duration::zero)
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

/// What was "sent", newest last.
async fn outbox(State(local): State<Local>, _: Tenant) -> Json<Value> {
    Json(json!({ "items": local.outbox.list() }))
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
    let raw = body
        .get("advance")
        .and_then(Value::as_str)
        .ok_or_else(|| Problem::field("advance", "is required, like \"26h\", \"90m\" or \"2d\""))?;
    let by = crate::options::parse_duration(raw).map_err(|e| Problem::field("advance", e))?;
    if by < chrono::Duration::zero() {
        return Err(Problem::field("advance", "the clock only moves forward"));
    }
    local.clock.advance(by);
    save_offset(&local.data_dir, local.clock.offset());
    Ok(Json(now(&local)))
}

fn now(local: &Local) -> Value {
    json!({ "now": local.clock.now(), "offset_seconds": local.clock.offset().num_seconds() })
}
