//! The follow-up views (campaign, contact inbox, one follow-up) and operator actions.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use policy::FollowUp;
use service::{Engine, Listing};

use crate::auth::Tenant;
use crate::extract::{JsonBody, PageQuery, etag};
use crate::problem::Problem;

pub async fn by_campaign(
    State(engine): State<Arc<Engine>>,
    Tenant(account): Tenant,
    Path(campaign): Path<String>,
    page: PageQuery,
) -> Result<Json<Listing<FollowUp>>, Problem> {
    let limit = page.limit()?;
    let listing = engine
        .campaign_followups(
            &account,
            &campaign,
            page.status.as_deref(),
            page.channel.as_deref(),
            page.cursor,
            limit,
        )
        .await?;
    Ok(Json(listing))
}

pub async fn by_contact(
    State(engine): State<Arc<Engine>>,
    Tenant(account): Tenant,
    Path(contact): Path<String>,
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
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    let followup = engine.followup(&account, &id).await?;
    Ok((etag(followup.version), Json(followup.value)).into_response())
}

pub async fn cancel(
    State(engine): State<Arc<Engine>>,
    Tenant(account): Tenant,
    Path(id): Path<String>,
) -> Result<Json<FollowUp>, Problem> {
    Ok(Json(engine.cancel_followup(&account, &id).await?))
}

/// `{"destination": "+15551234567"}` for a `needs_review` SMS.
pub async fn send(
    State(engine): State<Arc<Engine>>,
    Tenant(account): Tenant,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> Result<Json<FollowUp>, Problem> {
    Ok(Json(engine.send_reviewed(&account, &id, &body).await?))
}
