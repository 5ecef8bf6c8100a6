//! What comes back from contacts and mailbox providers, through SNS: two-way SMS
//! replies (End User Messaging SMS) and SES configuration-set events. See
//! `service::inbound`. A malformed record or a failure fails the invocation: SNS
//! invokes asynchronously, so Lambda retries it twice and then leaves it in the
//! function's dead-letter queue (no crash loop, nothing lost silently).

use std::sync::Arc;

use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use serde_json::Value;
use service::inbound::{Inbound, SnsEvent};

// One event at a time per sandbox: one thread (no worker pool, no per-thread
// allocator arenas) is all a Lambda function needs, and costs the least memory.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    service::telemetry::init();
    let sdk = service::aws::from_environment();
    let repo = service::config::dynamodb_repository(&sdk)?;
    let engine = Arc::new(service::Engine::new(
        repo,
        Arc::new(service::clock::SystemClock),
    ));
    let sms = service::config::sender_for("sms", &sdk)?;
    let inbound = Inbound::new(engine, Some(sms));
    let inbound = &inbound;
    run(service_fn(move |event: LambdaEvent<Value>| async move {
        // Parsed here rather than by the runtime so a foreign shape is logged as such.
        let event: SnsEvent = serde_json::from_value(event.payload).map_err(|e| {
            tracing::error!(error = %e, "not an SNS event");
            Error::from(format!("not an SNS event: {e}"))
        })?;
        let handled = inbound.on_event(&event).await?;
        Ok::<Value, Error>(serde_json::json!({ "handled": handled.len() }))
    }))
    .await
}
