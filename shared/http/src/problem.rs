//! RFC 9457 problem details: the one mapping from errors to HTTP answers.
//! Validation failures list every `{field, message}` so a client can fix them all.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

pub const CONTENT_TYPE: &str = "application/problem+json";

/// One invalid field of a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InvalidField {
    pub field: String,
    pub message: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Problem {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<InvalidField>,
}

impl Problem {
    pub fn new(status: StatusCode, detail: impl Into<String>) -> Self {
        let title = status.canonical_reason().unwrap_or("Error").to_string();
        Self {
            kind: format!("urn:followups:problem:{}", slug(&title)),
            title,
            status: status.as_u16(),
            detail: Some(detail.into()),
            errors: Vec::new(),
        }
    }

    /// 400 with the invalid fields.
    pub fn invalid(errors: Vec<InvalidField>) -> Self {
        let mut problem = Self::new(
            StatusCode::BAD_REQUEST,
            "the request has invalid fields; see `errors`",
        );
        problem.kind = "urn:followups:problem:validation".into();
        problem.errors = errors;
        problem
    }

    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::invalid(vec![InvalidField {
            field: field.into(),
            message: message.into(),
        }])
    }

    pub fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

fn slug(title: &str) -> String {
    title
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect()
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = self.status();
        let body = serde_json::to_vec(&self).unwrap_or_default();
        let mut response = (status, body).into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
        response
    }
}

impl From<policy::ValidationErrors> for Problem {
    fn from(errors: policy::ValidationErrors) -> Self {
        Problem::invalid(
            errors
                .0
                .into_iter()
                .map(|e| InvalidField {
                    field: e.field,
                    message: e.message,
                })
                .collect(),
        )
    }
}

impl From<service::ServiceError> for Problem {
    fn from(error: service::ServiceError) -> Self {
        use service::ServiceError as E;
        match error {
            E::Invalid(errors) => errors.into(),
            E::NotFound(what) => Problem::new(StatusCode::NOT_FOUND, format!("{what} not found")),
            E::Conflict(detail) => Problem::new(StatusCode::CONFLICT, detail),
            E::VersionMismatch { current } => Problem::new(
                StatusCode::PRECONDITION_FAILED,
                format!(
                    "If-Match does not name the current version (ETag \"v{current}\"); read it again"
                ),
            ),
            E::Unauthorized(detail) => Problem::new(StatusCode::UNAUTHORIZED, detail),
            e if e.is_retryable() => {
                tracing::warn!(error = ?e, "temporary failure");
                Problem::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "temporarily unavailable; try again",
                )
            }
            e => {
                tracing::error!(error = ?e, "request failed");
                Problem::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
            }
        }
    }
}
