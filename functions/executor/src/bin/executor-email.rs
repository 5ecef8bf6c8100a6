//! The email executor (see the crate's documentation).

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    executor::serve(|sdk| async move { service::config::email_executor(&sdk).await }).await
}
