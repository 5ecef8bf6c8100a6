//! The sms executor (see the crate's documentation).

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    executor::serve(|sdk| async move { service::config::sms_executor(&sdk).await }).await
}
