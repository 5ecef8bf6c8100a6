//! The operator API behind API Gateway's JWT authorizer. The account is the JWT claim
//! named by `ACCOUNT_CLAIM` (default `account_id`).

use std::sync::Arc;

use axum::middleware::from_fn;
use http_api::auth::tenant_from_jwt_claim;
use service::clock::SystemClock;
use service::{Engine, config};

// One event at a time per sandbox: one thread (no worker pool, no per-thread
// allocator arenas) is all a Lambda function needs, and costs the least memory.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    service::telemetry::init();
    let sdk = service::aws::from_environment();
    let mut engine = Engine::new(config::dynamodb_repository(&sdk)?, Arc::new(SystemClock))
        .with_platform_secrets(config::platform_secrets(&sdk));
    if let Some(mailboxes) = service::config_mailboxes::api_mailboxes(&sdk).await? {
        engine = engine.with_mailboxes(mailboxes);
    }
    let engine = Arc::new(engine);
    let claim: Arc<str> = config::env("ACCOUNT_CLAIM")
        .unwrap_or_else(|| "account_id".into())
        .into();
    let operator = http_api::api_router(engine.clone()).layer(from_fn(move |request, next| {
        tenant_from_jwt_claim(claim.clone(), request, next)
    }));
    // The OAuth callback is public (the provider redirects the browser there): the
    // signed state names the account.
    let app = http_api::with_fallback(operator.merge(http_api::mailbox_callback_router(engine)));
    lambda_http::run(app).await
}
