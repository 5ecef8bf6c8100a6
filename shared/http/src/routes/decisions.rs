//! The dry run: what a `call.completed` body would get, changing nothing.

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use service::Engine;

use crate::auth::Tenant;
use crate::extract::RawBody;
use crate::problem::Problem;

/// `?platform=vapi|retell|bland|elevenlabs` reads the body as that platform's own.
/// Other or repeated parameters are a 400 naming them.
fn platform_param(pairs: Vec<(String, String)>) -> Result<Option<String>, Problem> {
    let mut platform = None;
    for (name, value) in pairs {
        if name != "platform" {
            return Err(Problem::field(name, "is not a parameter of the preview"));
        }
        if platform.replace(value).is_some() {
            return Err(Problem::field("platform", "is given more than once"));
        }
    }
    Ok(platform)
}

pub async fn preview(
    State(engine): State<Arc<Engine>>,
    Tenant(account): Tenant,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
    RawBody(body): RawBody,
) -> Result<Response, Problem> {
    let Query(pairs) = query.map_err(|e| Problem::field("query", e.body_text()))?;
    match platform_param(pairs)?.as_deref() {
        // The webhook's own answer schema (`CallAnswer`).
        None => Ok(Json(engine.preview(&account, &body).await?).into_response()),
        Some(raw) => {
            let platform = policy::platform::Platform::parse("platform", raw)
                .map_err(|e| Problem::field(e.field, e.message))?;
            // `CallAnswer` plus the platform, the mapped body and the idempotency key.
            Ok(Json(engine.preview_native(&account, platform, &body).await?).into_response())
        }
    }
}
