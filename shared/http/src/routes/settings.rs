//! Account, agent and campaign follow-up settings, and webhook signing secrets.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use policy::render::PreviewRequest;
use policy::{AgentId, AgentSettings, CampaignId, CampaignSettings};
use serde::Serialize;
use serde_json::Value;
use service::operations::SettingsOf;
use service::records::Versioned;
use service::{Engine, Listing};

use crate::auth::Tenant;
use crate::extract::{IfMatch, JsonBody, PageQuery, PathId, RawBody, both, etag};
use crate::problem::Problem;

type Engine_ = State<Arc<Engine>>;

/// A settings document with its `ETag`.
fn versioned<T: Serialize>(record: Versioned<T>) -> Response {
    (etag(record.version), Json(record.value)).into_response()
}

pub async fn get_account(
    State(engine): Engine_,
    Tenant(account): Tenant,
) -> Result<Response, Problem> {
    Ok(versioned(engine.account_settings(&account).await?))
}

pub async fn put_account(
    State(engine): Engine_,
    Tenant(account): Tenant,
    IfMatch(if_match): IfMatch,
    JsonBody(body): JsonBody,
) -> Result<Response, Problem> {
    Ok(versioned(
        engine
            .put_account_settings(&account, &body, if_match)
            .await?,
    ))
}

pub async fn get_agent(
    State(engine): Engine_,
    Tenant(account): Tenant,
    PathId(agent): PathId<AgentId>,
) -> Result<Response, Problem> {
    Ok(versioned(engine.agent_settings(&account, &agent).await?))
}

pub async fn put_agent(
    State(engine): Engine_,
    Tenant(account): Tenant,
    agent: Result<PathId<AgentId>, Problem>,
    IfMatch(if_match): IfMatch,
    JsonBody(body): JsonBody,
) -> Result<Response, Problem> {
    let (PathId(agent), settings) = both(agent, AgentSettings::from_json(&body))?;
    Ok(versioned(
        engine
            .put_agent_settings(&account, &agent, settings, if_match)
            .await?,
    ))
}

pub async fn delete_agent(
    State(engine): Engine_,
    Tenant(account): Tenant,
    PathId(agent): PathId<AgentId>,
    IfMatch(if_match): IfMatch,
) -> Result<StatusCode, Problem> {
    engine
        .delete_agent_settings(&account, &agent, if_match)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn get_campaign(
    State(engine): Engine_,
    Tenant(account): Tenant,
    PathId(campaign): PathId<CampaignId>,
) -> Result<Response, Problem> {
    Ok(versioned(
        engine.campaign_settings(&account, &campaign).await?,
    ))
}

pub async fn put_campaign(
    State(engine): Engine_,
    Tenant(account): Tenant,
    campaign: Result<PathId<CampaignId>, Problem>,
    IfMatch(if_match): IfMatch,
    JsonBody(body): JsonBody,
) -> Result<Response, Problem> {
    let (PathId(campaign), settings) = both(campaign, CampaignSettings::from_json(&body))?;
    Ok(versioned(
        engine
            .put_campaign_settings(&account, &campaign, settings, if_match)
            .await?,
    ))
}

pub async fn delete_campaign(
    State(engine): Engine_,
    Tenant(account): Tenant,
    PathId(campaign): PathId<CampaignId>,
    IfMatch(if_match): IfMatch,
) -> Result<StatusCode, Problem> {
    engine
        .delete_campaign_settings(&account, &campaign, if_match)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn list_secrets(
    State(engine): Engine_,
    Tenant(account): Tenant,
) -> Result<Json<Value>, Problem> {
    Ok(Json(engine.webhook_secrets(&account).await?))
}

/// `POST /v1/webhook-secrets` with an optional body
/// `{"previous_secrets_expire_in_seconds": 86400}`.
pub async fn create_secret(
    State(engine): Engine_,
    Tenant(account): Tenant,
    RawBody(body): RawBody,
) -> Result<Response, Problem> {
    let overlap = if body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        let body: Value = serde_json::from_slice(&body)
            .map_err(|e| Problem::field("body", format!("malformed JSON: {e}")))?;
        let Value::Object(fields) = body else {
            return Err(Problem::field("body", "must be a JSON object"));
        };
        let mut overlap = None;
        for (name, value) in fields {
            match name.as_str() {
                "previous_secrets_expire_in_seconds" => {
                    overlap = Some(value.as_i64().ok_or_else(|| {
                        Problem::field(name.clone(), "must be a whole number of seconds")
                    })?)
                }
                _ => return Err(Problem::field(name, "is not a known field")),
            }
        }
        overlap
    };
    let created = engine.create_webhook_secret(&account, overlap).await?;
    Ok((StatusCode::CREATED, Json(created)).into_response())
}

pub async fn delete_secret(
    State(engine): Engine_,
    Tenant(account): Tenant,
    Path(id): Path<String>,
) -> Result<StatusCode, Problem> {
    engine.delete_webhook_secret(&account, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The campaign's messages rendered for a sample contact (settings from the body, or
/// the saved ones); changes nothing.
pub async fn preview_campaign(
    State(engine): Engine_,
    Tenant(account): Tenant,
    campaign: Result<PathId<CampaignId>, Problem>,
    JsonBody(body): JsonBody,
) -> Result<Json<policy::render::MessagesPreview>, Problem> {
    let (PathId(campaign), request) = both(campaign, PreviewRequest::from_json(&body))?;
    Ok(Json(
        engine
            .preview_messages(&account, &campaign, request)
            .await?,
    ))
}

/// The agents with follow-up settings.
pub async fn list_agents(
    State(engine): Engine_,
    Tenant(account): Tenant,
    page: PageQuery,
) -> Result<Json<Listing<SettingsOf<policy::AgentSettings>>>, Problem> {
    let limit = page.limit()?;
    Ok(Json(engine.agents(&account, page.cursor, limit).await?))
}

/// The campaigns with follow-up settings.
pub async fn list_campaigns(
    State(engine): Engine_,
    Tenant(account): Tenant,
    page: PageQuery,
) -> Result<Json<Listing<SettingsOf<policy::CampaignSettings>>>, Problem> {
    let limit = page.limit()?;
    Ok(Json(engine.campaigns(&account, page.cursor, limit).await?))
}
