//! The account's do-not-call list.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use policy::Destination;
use service::{DncEntry, Engine, Listing};

use crate::auth::Tenant;
use crate::extract::{PageQuery, PathId};
use crate::problem::Problem;

pub async fn list(
    State(engine): State<Arc<Engine>>,
    Tenant(account): Tenant,
    page: PageQuery,
) -> Result<Json<Listing<DncEntry>>, Problem> {
    let limit = page.limit()?;
    Ok(Json(engine.dnc_list(&account, page.cursor, limit).await?))
}

pub async fn add(
    State(engine): State<Arc<Engine>>,
    Tenant(account): Tenant,
    PathId(value): PathId<Destination>,
) -> Result<Json<DncEntry>, Problem> {
    Ok(Json(engine.add_dnc(&account, &value).await?))
}

pub async fn remove(
    State(engine): State<Arc<Engine>>,
    Tenant(account): Tenant,
    PathId(value): PathId<Destination>,
) -> Result<StatusCode, Problem> {
    engine.remove_dnc(&account, &value).await?;
    Ok(StatusCode::NO_CONTENT)
}
