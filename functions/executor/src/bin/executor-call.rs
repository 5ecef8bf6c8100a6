//! The call executor (see the crate's documentation).

// One event at a time per sandbox: one thread (no worker pool, no per-thread
// allocator arenas) is all a Lambda function needs, and costs the least memory.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    executor::serve(|sdk| async move { service::config::call_executor(&sdk).await }).await
}
