//! Voice platforms: connections (`/v1/platforms/{platform}`, JWT) and their native
//! webhooks (`/v1/webhooks/{account_id}/{vapi|retell|bland|elevenlabs}`, signed the
//! platform's way instead).

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use policy::platform::Platform;
use serde_json::Value;
use service::Engine;
use service::platforms::PlatformWebhookError;
use service::platforms::verify::{AuthError, RequestHeaders};

use crate::auth::Tenant;
use crate::extract::RawBody;
use crate::problem::{InvalidField, Problem};

fn platform(raw: &str) -> Result<Platform, Problem> {
    Platform::parse("platform", raw).map_err(|e| {
        let mut problem = Problem::new(StatusCode::NOT_FOUND, "no such platform");
        problem.errors.push(InvalidField {
            field: e.field,
            message: e.message,
        });
        problem
    })
}

pub async fn get(
    State(engine): State<Arc<Engine>>,
    Tenant(account): Tenant,
    Path(raw): Path<String>,
) -> Result<Json<Value>, Problem> {
    Ok(Json(engine.get_platform(&account, platform(&raw)?).await?))
}

pub async fn put(
    State(engine): State<Arc<Engine>>,
    Tenant(account): Tenant,
    Path(raw): Path<String>,
    RawBody(body): RawBody,
) -> Result<Json<Value>, Problem> {
    Ok(Json(
        engine
            .put_platform(&account, platform(&raw)?, &body)
            .await?,
    ))
}

pub async fn delete(
    State(engine): State<Arc<Engine>>,
    Tenant(account): Tenant,
    Path(raw): Path<String>,
) -> Result<StatusCode, Problem> {
    engine.delete_platform(&account, platform(&raw)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The request's headers, for the platform's verifier.
fn request_headers(headers: &HeaderMap) -> RequestHeaders {
    RequestHeaders::new(
        headers
            .iter()
            .filter_map(|(name, value)| Some((name.as_str(), value.to_str().ok()?.to_owned()))),
    )
}

async fn accept(
    engine: &Engine,
    account: &str,
    platform: Platform,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Json<Value>, Problem> {
    match engine
        .accept_platform_webhook(account, platform, &request_headers(headers), body)
        .await
    {
        Ok(answer) => Ok(Json(answer)),
        Err(PlatformWebhookError::Auth(e)) => {
            tracing::info!(account = %account, platform = %platform, error = %e, "platform webhook refused");
            let mut problem = Problem::new(StatusCode::UNAUTHORIZED, e.to_string());
            if let AuthError::MissingHeader(name) | AuthError::Malformed(name) = e {
                problem.errors.push(InvalidField {
                    field: name,
                    message: format!("is required in {platform}'s format"),
                });
            }
            Err(problem)
        }
        Err(PlatformWebhookError::Service(e)) => Err(e.into()),
    }
}

macro_rules! webhook_handler {
    ($name:ident, $platform:expr) => {
        pub async fn $name(
            State(engine): State<Arc<Engine>>,
            Path(account): Path<String>,
            headers: HeaderMap,
            RawBody(body): RawBody,
        ) -> Result<Json<Value>, Problem> {
            accept(&engine, &account, $platform, &headers, &body).await
        }
    };
}

webhook_handler!(vapi, Platform::Vapi);
webhook_handler!(retell, Platform::Retell);
webhook_handler!(bland, Platform::Bland);
webhook_handler!(elevenlabs, Platform::ElevenLabs);
