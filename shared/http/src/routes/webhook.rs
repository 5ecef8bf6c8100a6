//! `POST /v1/webhooks/{account_id}/call-completed`: signed, not JWT-authenticated.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use serde_json::Value;
use service::Engine;
use service::signature::{SignatureError, SignedHeaders};
use service::webhook::WebhookError;

use crate::extract::RawBody;
use crate::problem::{InvalidField, Problem};

pub async fn call_completed(
    State(engine): State<Arc<Engine>>,
    Path(account): Path<String>,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> Result<Json<Value>, Problem> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let signed = SignedHeaders {
        id: header("webhook-id"),
        timestamp: header("webhook-timestamp"),
        signature: header("webhook-signature"),
    };
    match engine.accept_call_completed(&account, signed, &body).await {
        Ok(answer) => Ok(Json(answer)),
        Err(WebhookError::Signature(e)) => {
            // The account is the raw path segment: `?` quotes and escapes it, so a
            // `%0A` in the URL cannot start a forged log line.
            tracing::info!(account = ?account, error = %e, "webhook refused");
            let mut problem = Problem::new(StatusCode::UNAUTHORIZED, e.to_string());
            if let SignatureError::MissingHeader(name) = e {
                problem.errors.push(InvalidField {
                    field: name.into(),
                    message: "is required (Standard Webhooks)".into(),
                });
            }
            Err(problem)
        }
        Err(WebhookError::Service(e)) => Err(e.into()),
    }
}
