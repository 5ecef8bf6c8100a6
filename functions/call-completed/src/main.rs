//! The signed `call.completed` webhook: verify, decide, and store the follow-ups in
//! one DynamoDB transaction. The dispatcher takes it from there (DynamoDB stream).

use std::sync::Arc;

use service::clock::SystemClock;
use service::{Engine, config};

// One event at a time per sandbox: one thread (no worker pool, no per-thread
// allocator arenas) is all a Lambda function needs, and costs the least memory.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    service::telemetry::init();
    let sdk = service::aws::from_environment();
    let engine = Arc::new(
        Engine::new(config::dynamodb_repository(&sdk)?, Arc::new(SystemClock))
            .with_platform_secrets(config::platform_secrets(&sdk)),
    );
    let app = http_api::with_fallback(http_api::webhook_router(
        engine,
        config::webhook_max_body_bytes()?,
    ));
    lambda_http::run(app).await
}
