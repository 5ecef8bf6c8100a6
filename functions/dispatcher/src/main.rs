//! The dispatcher, with two event sources:
//! - the DynamoDB stream: each follow-up change becomes a direct invoke of its executor
//!   or a one-time EventBridge schedule (see `service::dispatch`);
//! - the executors' failure queue (SQS): invocations Lambda gave up on, whose claims
//!   left `sending` are settled `unknown` once stale (see `service::parked`).

use std::sync::Arc;

use aws_lambda_events::event::dynamodb::Event as StreamEvent;
use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use serde_json::Value;
use service::Repository;
use service::clock::{Clock, SystemClock};
use service::dispatch::{Dispatcher, StreamChange};
use service::parked::{self, Parked};
use tracing::Instrument;

// One event at a time per sandbox: one thread (no worker pool, no per-thread
// allocator arenas) is all a Lambda function needs, and costs the least memory.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    service::telemetry::init();
    let sdk = service::aws::from_environment();
    let schedules = Arc::new(service::config::event_bridge_schedules(&sdk)?);
    let dispatcher = Dispatcher::new(schedules, Arc::new(SystemClock));
    let repo = service::config::dynamodb_repository(&sdk)?;
    let (dispatcher, repo) = (&dispatcher, &repo);
    run(service_fn(move |event: LambdaEvent<Value>| async move {
        if is_from_sqs(&event.payload) {
            let event: SqsEvent = serde_json::from_value(event.payload)?;
            Ok::<Value, Error>(serde_json::to_value(on_parked(repo, event).await)?)
        } else {
            let event: StreamEvent = serde_json::from_value(event.payload)?;
            Ok(serde_json::to_value(on_stream(dispatcher, event).await)?)
        }
    }))
    .await
}

/// Both sources deliver `Records`; SQS records name `aws:sqs` as their source.
fn is_from_sqs(payload: &Value) -> bool {
    payload["Records"][0]["eventSource"] == "aws:sqs"
}

async fn on_stream(dispatcher: &Dispatcher, event: StreamEvent) -> DynamoDbEventResponse {
    let changes = event.records.into_iter().map(|record| StreamChange {
        id: record.change.sequence_number.unwrap_or_default(),
        old: image(record.change.old_image),
        new: image(record.change.new_image),
    });
    let failed = dispatcher.on_stream(changes).await;
    let mut response = DynamoDbEventResponse::default();
    if let Some(id) = failed {
        let mut failure = DynamoDbBatchItemFailure::default();
        failure.item_identifier = Some(id);
        response.batch_item_failures.push(failure);
    }
    response
}

/// Each parked invocation settled or kept: a message stays in the queue (reported as a
/// batch item failure) while its claim is fresh, its follow-up needs an operator, or
/// the table could not be reached.
async fn on_parked(repo: &Repository, event: SqsEvent) -> SqsBatchResponse {
    let mut response = SqsBatchResponse::default();
    for message in event.records {
        let id = message.message_id.clone().unwrap_or_default();
        let Some(input) = message.body.as_deref().and_then(parked::input_of) else {
            tracing::error!(message_id = %id, "not an executor invocation record; left for an operator");
            response.batch_item_failures.push(keep(id));
            continue;
        };
        let span = tracing::info_span!("parked", account_id = %input.account_id, followup_id = %input.followup_id, attempt = input.attempt);
        let settled = parked::settle_parked(repo, &input, SystemClock.now())
            .instrument(span.clone())
            .await;
        let _entered = span.enter();
        match settled {
            Ok(outcome) if outcome.is_finished() => {
                tracing::info!(?outcome, "parked invocation settled")
            }
            Ok(outcome @ Parked::ClaimFresh) => {
                tracing::info!(?outcome, "claim still fresh; looking again later");
                response.batch_item_failures.push(keep(id));
            }
            Ok(outcome) => {
                tracing::warn!(?outcome, "parked invocation left for an operator");
                response.batch_item_failures.push(keep(id));
            }
            Err(e) => {
                tracing::warn!(error = %e, "parked invocation not settled; trying again later");
                response.batch_item_failures.push(keep(id));
            }
        }
    }
    response
}

fn keep(message_id: String) -> BatchItemFailure {
    let mut failure = BatchItemFailure::default();
    failure.item_identifier = message_id;
    failure
}

/// A stream image as a table item; INSERT has no old image and REMOVE no new one.
fn image(image: serde_dynamo::Item) -> Option<Result<store::Item, store::StoreError>> {
    (!image.is_empty()).then(|| store::item_from_stream_image(image))
}
