//! Connected mailboxes (Gmail, Outlook): start a connect, the provider's callback,
//! list, remove. Tokens never appear in an answer.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use policy::MailboxId;
use serde_json::json;
use service::Engine;

use crate::auth::Tenant;
use crate::extract::PathId;
use crate::problem::Problem;

type Engine_ = State<Arc<Engine>>;

/// `POST /v1/mailboxes/{provider}/connect`: the authorization URL to send the user to.
pub async fn connect(
    State(engine): Engine_,
    Tenant(account): Tenant,
    Path(provider): Path<String>,
) -> Result<Response, Problem> {
    let start = engine.connect_mailbox(&account, &provider).await?;
    Ok((StatusCode::CREATED, Json(start)).into_response())
}

/// `GET /v1/mailboxes/{provider}/callback?code=…&state=…`: where the provider sends
/// the user back. Public: the signed state names the account.
pub async fn callback(
    State(engine): Engine_,
    Path(provider): Path<String>,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Response, Problem> {
    let Query(query) = query.map_err(|e| Problem::field("query", e.body_text()))?;
    let get = |name: &str| query.get(name).map(String::as_str);
    let mailbox = engine
        .finish_mailbox_connect(&provider, get("code"), get("state"), get("error"))
        .await?;
    Ok((StatusCode::OK, Json(mailbox)).into_response())
}

/// `GET /v1/mailboxes`.
pub async fn list(State(engine): Engine_, Tenant(account): Tenant) -> Result<Response, Problem> {
    let mailboxes = engine.list_mailboxes(&account).await?;
    Ok(Json(json!({ "items": mailboxes })).into_response())
}

/// `DELETE /v1/mailboxes/{mailbox_id}`.
pub async fn remove(
    State(engine): Engine_,
    Tenant(account): Tenant,
    PathId(id): PathId<MailboxId>,
) -> Result<StatusCode, Problem> {
    engine.delete_mailbox(&account, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
