//! What contacts send back over HTTP: Meta's WhatsApp webhook (signed with the
//! account's app secret, not JWT-authenticated), and its write-only credentials.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use serde_json::Value;
use service::Engine;
use service::meta_webhook::MetaError;

use crate::auth::Tenant;
use crate::extract::{JsonBody, RawBody};
use crate::problem::Problem;

/// `GET /v1/inbound/{account_id}/whatsapp`: Meta's subscription check.
pub async fn whatsapp_verify(
    State(engine): State<Arc<Engine>>,
    Path(account): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<impl IntoResponse, Problem> {
    let query = query.unwrap_or_default();
    let param = |name: &str| {
        url::form_urlencoded::parse(query.as_bytes())
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.into_owned())
    };
    let (mode, token, challenge) = (
        param("hub.mode"),
        param("hub.verify_token"),
        param("hub.challenge"),
    );
    let challenge = engine
        .verify_meta_subscription(
            &account,
            mode.as_deref(),
            token.as_deref(),
            challenge.as_deref(),
        )
        .await
        .map_err(refused)?;
    Ok(([(header::CONTENT_TYPE, "text/plain")], challenge))
}

/// `POST /v1/inbound/{account_id}/whatsapp`: one signed delivery.
pub async fn whatsapp_event(
    State(engine): State<Arc<Engine>>,
    Path(account): Path<String>,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> Result<Json<Value>, Problem> {
    let signature = headers
        .get("x-hub-signature-256")
        .and_then(|v| v.to_str().ok());
    let answer = engine
        .accept_meta_webhook(&account, signature, &body)
        .await
        .map_err(|e| {
            if let MetaError::Unauthorized(_) = e {
                tracing::info!(account = %account, error = %e, "WhatsApp webhook refused");
            }
            refused(e)
        })?;
    Ok(Json(answer))
}

fn refused(e: MetaError) -> Problem {
    match e {
        MetaError::Unauthorized(detail) => Problem::new(StatusCode::UNAUTHORIZED, detail),
        MetaError::Service(e) => e.into(),
    }
}

/// `GET /v1/settings/whatsapp-webhook`: configured or not, never the credentials.
pub async fn get_credentials(
    State(engine): State<Arc<Engine>>,
    Tenant(account): Tenant,
) -> Result<Json<Value>, Problem> {
    Ok(Json(engine.meta_webhook_status(&account).await?))
}

/// `PUT /v1/settings/whatsapp-webhook`: sets the app secret and verify token.
pub async fn put_credentials(
    State(engine): State<Arc<Engine>>,
    Tenant(account): Tenant,
    JsonBody(body): JsonBody,
) -> Result<Json<Value>, Problem> {
    Ok(Json(engine.put_meta_webhook(&account, &body).await?))
}

/// `GET /v1/unsubscribe/{token}`: a page with one button; following the link changes
/// nothing (mail scanners follow links).
pub async fn unsubscribe_page(
    State(engine): State<Arc<Engine>>,
    Path(token): Path<String>,
) -> Result<impl IntoResponse, Problem> {
    let target = engine
        .unsubscribe_target(&token)
        .await
        .map_err(invalid_link)?;
    let sender = sender_of(&target);
    let body = page(
        "Unsubscribe",
        &format!(
            "<p>Stop all messages from {sender} to this address?</p>\
             <form method=\"post\"><button type=\"submit\">Unsubscribe</button></form>"
        ),
    );
    Ok(html(body))
}

/// `POST /v1/unsubscribe/{token}`: the RFC 8058 one-click unsubscribe (and the page's
/// button). The address goes on the do-not-call list; its pending emails are cancelled.
pub async fn unsubscribe(
    State(engine): State<Arc<Engine>>,
    Path(token): Path<String>,
) -> Result<impl IntoResponse, Problem> {
    let (target, _) = engine.unsubscribe(&token).await.map_err(invalid_link)?;
    let sender = sender_of(&target);
    Ok(html(page(
        "Unsubscribed",
        &format!("<p>Done: you will get no more messages from {sender} at this address.</p>"),
    )))
}

fn invalid_link(e: service::unsubscribe::UnsubscribeError) -> Problem {
    match e {
        service::unsubscribe::UnsubscribeError::InvalidToken => {
            Problem::new(StatusCode::NOT_FOUND, e.to_string())
        }
        service::unsubscribe::UnsubscribeError::Service(e) => e.into(),
    }
}

fn sender_of(target: &service::unsubscribe::Unsubscribe) -> String {
    target
        .sender_name
        .as_ref()
        .map(|s| escape(s.as_str()))
        .unwrap_or_else(|| "us".into())
}

fn html(body: String) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
}

fn page(title: &str, content: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width\"><meta name=\"robots\" content=\"noindex\">\
         <title>{title}</title></head><body><h1>{title}</h1>{content}</body></html>"
    )
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
