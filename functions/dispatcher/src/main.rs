//! The DynamoDB stream consumer: each follow-up change becomes a direct invoke of its
//! executor or a one-time EventBridge schedule (see `service::dispatch`).

use std::sync::Arc;

use aws_lambda_events::event::dynamodb::Event;
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use service::clock::SystemClock;
use service::dispatch::{Dispatcher, StreamChange};

#[tokio::main]
async fn main() -> Result<(), Error> {
    service::telemetry::init();
    let sdk = service::aws::load().await;
    let schedules = Arc::new(service::config::event_bridge_schedules(&sdk)?);
    let dispatcher = Dispatcher::new(schedules, Arc::new(SystemClock));
    let dispatcher = &dispatcher;
    run(service_fn(move |event: LambdaEvent<Event>| async move {
        let changes = event
            .payload
            .records
            .into_iter()
            .map(|record| StreamChange {
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
        Ok::<_, Error>(response)
    }))
    .await
}

/// A stream image as a table item; INSERT has no old image and REMOVE no new one.
fn image(image: serde_dynamo::Item) -> Option<Result<store::Item, store::StoreError>> {
    (!image.is_empty()).then(|| store::item_from_stream_image(image))
}
