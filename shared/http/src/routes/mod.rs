//! Route handlers, one module per resource.

pub mod decisions;
pub mod dnc;
pub mod followups;
pub mod inbound;
pub mod mailboxes;
pub mod platforms;
pub mod settings;
pub mod webhook;

use axum::http::{StatusCode, header};
use axum::response::IntoResponse;

use crate::problem::Problem;

/// The OpenAPI 3 document of the whole API (kept in the repo, served as is).
pub const OPENAPI: &str = include_str!("../../openapi.json");

pub async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI)
}

pub async fn not_found() -> Problem {
    Problem::new(StatusCode::NOT_FOUND, "no such route")
}

pub async fn method_not_allowed() -> Problem {
    Problem::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "this route does not take that method",
    )
}
