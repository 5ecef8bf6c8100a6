//! A stand-in for the Lambda `Invoke` API on loopback. moto's Lambda needs Docker to
//! invoke anything, so the dispatcher's direct path is tested against this server,
//! which checks the request shape (async `Event` invocation, JSON payload) and keeps
//! what it received.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;

/// One accepted invocation: the function (name or ARN, as sent) and its payload.
#[derive(Debug, Clone, PartialEq)]
pub struct Invocation {
    pub function: String,
    pub payload: serde_json::Value,
}

#[derive(Clone)]
pub struct LambdaStub {
    pub endpoint: String,
    received: Arc<Mutex<Vec<Invocation>>>,
}

impl LambdaStub {
    pub async fn start() -> LambdaStub {
        let received = Arc::new(Mutex::new(Vec::new()));
        let app = Router::new()
            .route("/2015-03-31/functions/{function}/invocations", post(invoke))
            .with_state(received.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let endpoint = format!("http://{}", listener.local_addr().expect("address"));
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        LambdaStub { endpoint, received }
    }

    /// Takes the invocations received so far.
    pub fn take(&self) -> Vec<Invocation> {
        std::mem::take(&mut *self.received.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

async fn invoke(
    State(received): State<Arc<Mutex<Vec<Invocation>>>>,
    Path(function): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let event = headers
        .get("x-amz-invocation-type")
        .and_then(|v| v.to_str().ok());
    let Ok(payload) = serde_json::from_slice(&body) else {
        return StatusCode::BAD_REQUEST;
    };
    if event != Some("Event") {
        return StatusCode::BAD_REQUEST;
    }
    received
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(Invocation { function, payload });
    StatusCode::ACCEPTED
}
