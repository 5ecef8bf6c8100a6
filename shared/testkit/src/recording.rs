//! A provider stand-in on loopback that records every request (method, raw path, headers,
//! JSON body) and answers from a script, for tests that check the exact request shape a
//! client sends and how it reads each kind of answer.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::platforms::Received;

/// How the stub answers one request.
#[derive(Debug, Clone)]
pub enum Reply {
    /// A status with a JSON body.
    Json(u16, Value),
    /// Takes the request and answers only after 30 s, long after any client gave up.
    Hang,
}

/// The recording stub; clones share the record and the script.
#[derive(Clone)]
pub struct RecordingStub {
    seen: Arc<Mutex<Vec<Received>>>,
    replies: Arc<Mutex<VecDeque<Reply>>>,
    /// The answer once the script is used up.
    otherwise: Reply,
}

impl RecordingStub {
    /// Starts a server on a free loopback port answering with `replies` in order, then
    /// `418 unexpected request`. Returns the stub and its base URL.
    pub async fn start(replies: Vec<Reply>) -> (RecordingStub, String) {
        Self::start_or(
            replies,
            Reply::Json(418, Value::String("unexpected request".into())),
        )
        .await
    }

    /// As [`RecordingStub::start`], answering `otherwise` once the script is used up.
    pub async fn start_or(replies: Vec<Reply>, otherwise: Reply) -> (RecordingStub, String) {
        let stub = RecordingStub {
            seen: Arc::default(),
            replies: Arc::new(Mutex::new(replies.into())),
            otherwise,
        };
        let app = Router::new().fallback(answer).with_state(stub.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        (stub, url)
    }

    /// Every request received so far, in order.
    pub fn seen(&self) -> Vec<Received> {
        self.seen.lock().unwrap().clone()
    }
}

async fn answer(State(stub): State<RecordingStub>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let headers = parts
        .headers
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
        .collect();
    let bytes = axum::body::to_bytes(body, 1 << 20)
        .await
        .unwrap_or_default();
    stub.seen.lock().unwrap().push(Received {
        method: parts.method.to_string(),
        path: parts.uri.path().to_owned(),
        headers,
        body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    });
    let reply = stub.replies.lock().unwrap().pop_front();
    match reply.unwrap_or_else(|| stub.otherwise.clone()) {
        Reply::Json(status, body) => (
            StatusCode::from_u16(status).unwrap(),
            [("content-type", "application/json")],
            body.to_string(),
        )
            .into_response(),
        Reply::Hang => {
            tokio::time::sleep(Duration::from_secs(30)).await;
            (StatusCode::OK, Body::empty()).into_response()
        }
    }
}
