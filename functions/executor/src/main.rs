//! Sends one due follow-up: `{account_id, followup_id, attempt}` from EventBridge
//! Scheduler or the dispatcher. One binary, deployed once per channel (`CHANNEL`).
//! A retryable failure, or a claim still held by another invocation, fails the
//! invocation so Lambda/Scheduler retry it; anything else is recorded on the follow-up
//! and the invocation succeeds.

use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use serde_json::Value;
use service::execute::{ExecutorInput, Next};
use tracing::Instrument;

#[tokio::main]
async fn main() -> Result<(), Error> {
    service::telemetry::init();
    let sdk = service::aws::load().await;
    let executor = service::config::executor_for_channel(&sdk).await?;
    let executor = &executor;
    run(service_fn(move |event: LambdaEvent<ExecutorInput>| async move {
        let input = event.payload;
        let span = tracing::info_span!("execute", account_id = %input.account_id, followup_id = %input.followup_id, attempt = input.attempt);
        let result = executor.execute(&input).instrument(span).await;
        match (Next::after(&result), result) {
            // Fail the invocation so Lambda retries it: the claim settles or goes stale,
            // or the error passes.
            (Next::Again { why }, _) => Err(why.into()),
            (Next::Done, Ok(outcome)) => {
                tracing::info!(?outcome, "follow-up executed");
                Ok::<Value, Error>(serde_json::to_value(outcome)?)
            }
            (Next::Done, Err(e)) => {
                tracing::error!(error = %e, "follow-up could not be executed");
                Ok(serde_json::json!({ "outcome": "error", "detail": e.to_string() }))
            }
        }
    }))
    .await
}
