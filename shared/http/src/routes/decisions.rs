//! The dry run: what a `call.completed` body would get, changing nothing.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use service::{CallAnswer, Engine};

use crate::auth::Tenant;
use crate::extract::RawBody;
use crate::problem::Problem;

pub async fn preview(
    State(engine): State<Arc<Engine>>,
    Tenant(account): Tenant,
    RawBody(body): RawBody,
) -> Result<Json<CallAnswer>, Problem> {
    Ok(Json(engine.preview(&account, &body).await?))
}
