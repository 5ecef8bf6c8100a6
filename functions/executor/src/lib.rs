//! Sends one due follow-up: `{account_id, followup_id, attempt}` from EventBridge
//! Scheduler, the dispatcher or the failure queue's redrive. One binary per channel
//! (`src/bin/executor-<channel>.rs`), each building only its channel's sender, so each
//! links only the clients it uses. A retryable failure, or a claim still held by
//! another invocation, fails the invocation so Lambda/Scheduler retry it
//! (`service::execute::Next`); anything else is recorded on the follow-up and the
//! invocation succeeds.

use std::future::Future;

use aws_types::SdkConfig;
use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use serde_json::Value;
use service::config::ConfigError;
use service::execute::{Executor, ExecutorInput, Next};
use tracing::Instrument;

/// Sets up logging and the SDK, builds the channel's executor with `build`, and serves
/// Lambda invocations with it.
pub async fn serve<F, Fut>(build: F) -> Result<(), Error>
where
    F: FnOnce(SdkConfig) -> Fut,
    Fut: Future<Output = Result<Executor, ConfigError>>,
{
    service::telemetry::init();
    let sdk = service::aws::from_environment();
    let executor = build(sdk).await?;
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
