//! The follow-up views (campaign, contact inbox, one follow-up) and operator actions.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use policy::{CampaignId, ContactId, FollowUp, FollowUpId, PhoneNumber, ValidationErrors};
use serde_json::Value;
use service::{Engine, Listing};

use crate::auth::Tenant;
use crate::extract::{JsonBody, PageQuery, PathId, both, etag};
use crate::problem::Problem;

pub async fn by_campaign(
    State(engine): State<Arc<Engine>>,
    Tenant(account): Tenant,
    campaign: Result<PathId<CampaignId>, Problem>,
    page: PageQuery,
) -> Result<Json<Listing<FollowUp>>, Problem> {
    let (PathId(campaign), (status, channel)) =
        both(campaign, both(page.status(), page.channel()))?;
    let limit = page.limit()?;
    let listing = engine
        .campaign_followups(&account, &campaign, status, channel, page.cursor, limit)
        .await?;
    Ok(Json(listing))
}

pub async fn by_contact(
    State(engine): State<Arc<Engine>>,
    Tenant(account): Tenant,
    PathId(contact): PathId<ContactId>,
    page: PageQuery,
) -> Result<Json<Listing<FollowUp>>, Problem> {
    let limit = page.limit()?;
    Ok(Json(
        engine
            .contact_followups(&account, &contact, page.cursor, limit)
            .await?,
    ))
}

pub async fn one(
    State(engine): State<Arc<Engine>>,
    Tenant(account): Tenant,
    PathId(id): PathId<FollowUpId>,
) -> Result<Response, Problem> {
    let followup = engine.followup(&account, &id).await?;
    Ok((etag(followup.version), Json(followup.value)).into_response())
}

pub async fn cancel(
    State(engine): State<Arc<Engine>>,
    Tenant(account): Tenant,
    PathId(id): PathId<FollowUpId>,
) -> Result<Json<FollowUp>, Problem> {
    Ok(Json(engine.cancel_followup(&account, &id).await?))
}

/// `{"destination": "+15551234567"}` for a `needs_review` SMS.
pub async fn send(
    State(engine): State<Arc<Engine>>,
    Tenant(account): Tenant,
    id: Result<PathId<FollowUpId>, Problem>,
    JsonBody(body): JsonBody,
) -> Result<Json<FollowUp>, Problem> {
    // The number is checked first: a bad one is a 400 whatever the id.
    let phone = body
        .get("destination")
        .and_then(Value::as_str)
        .ok_or_else(|| {
            ValidationErrors::single("destination", "is required: the E.164 number to send to")
        })
        .and_then(|raw| PhoneNumber::parse("destination", raw).map_err(ValidationErrors::from))?;
    let PathId(id) = id?;
    Ok(Json(engine.send_reviewed(&account, &id, phone).await?))
}
