//! The four voice platforms as tests see them: the keys a test connects them with, the
//! signatures their webhooks carry (computed here with the `hmac` crate as each
//! platform documents them, never through the code under test), and a stub of their
//! create-call and get-call APIs on loopback.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

/// Vapi's server-URL credential (a Bearer secret).
pub const VAPI_SECRET: &str = "vapi-server-secret-0123456789";
/// Retell signs with the account's API key.
pub const RETELL_KEY: &str = "key_retell_0123456789abcdef";
pub const BLAND_SECRET: &str = "bland-signing-secret-0123456789";
pub const ELEVEN_SECRET: &str = "wsec_eleven_0123456789";

/// `hex(HMAC-SHA256(key, parts...))`.
pub fn hex_hmac(key: &[u8], parts: &[&[u8]]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    for part in parts {
        mac.update(part);
    }
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The body of `PUT /v1/platforms/{platform}` that connects `platform` with the keys
/// above.
pub fn connection(platform: &str) -> Value {
    match platform {
        "vapi" => json!({"api_key": "vapi-private-key", "webhook_secret": VAPI_SECRET}),
        "retell" => json!({"api_key": RETELL_KEY}),
        "bland" => json!({"api_key": "bland-api-key", "webhook_secret": BLAND_SECRET}),
        _ => json!({"api_key": "xi-api-key-0123", "webhook_secret": ELEVEN_SECRET}),
    }
}

/// The header with which `platform` authenticates `body` at `now`, as its docs describe
/// it (ElevenLabs for any other name).
pub fn signature(platform: &str, body: &str, now: DateTime<Utc>) -> (&'static str, String) {
    match platform {
        // A Bearer credential on the server URL.
        "vapi" => ("authorization", format!("Bearer {VAPI_SECRET}")),
        // v=<ms>,d=hex(HMAC-SHA256(api key, body + ms)).
        "retell" => {
            let ms = now.timestamp_millis().to_string();
            let d = hex_hmac(RETELL_KEY.as_bytes(), &[body.as_bytes(), ms.as_bytes()]);
            ("x-retell-signature", format!("v={ms},d={d}"))
        }
        // hex(HMAC-SHA256(signing secret, body)).
        "bland" => (
            "x-webhook-signature",
            hex_hmac(BLAND_SECRET.as_bytes(), &[body.as_bytes()]),
        ),
        // t=<s>,v0=hex(HMAC-SHA256(secret, "<s>.<body>")).
        _ => {
            let t = now.timestamp().to_string();
            let v0 = hex_hmac(
                ELEVEN_SECRET.as_bytes(),
                &[t.as_bytes(), b".", body.as_bytes()],
            );
            ("elevenlabs-signature", format!("t={t},v0={v0}"))
        }
    }
}

/// One request the platform stub received.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    pub path: String,
    /// Header names lower-case.
    pub headers: HashMap<String, String>,
    pub body: Value,
}

impl Received {
    /// A header's value, `""` when absent.
    pub fn header(&self, name: &str) -> &str {
        self.get(name).unwrap_or("")
    }

    /// A header's value, if it was sent.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }
}

/// A stub of the four platforms' create-call and get-call APIs on loopback. Each
/// create-call is answered with a new call id in the platform's shape; get-call answers
/// are given in the order of [`PlatformStub::answer_lookup`], and a GET with none left
/// is a 404.
#[derive(Clone, Default)]
pub struct PlatformStub {
    base: String,
    seen: Arc<Mutex<Vec<Received>>>,
    lookups: Arc<Mutex<VecDeque<Value>>>,
}

impl PlatformStub {
    /// Starts the stub on a free loopback port.
    pub async fn start() -> PlatformStub {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a free loopback port");
        let stub = PlatformStub {
            base: format!("http://{}", listener.local_addr().expect("a bound address")),
            ..PlatformStub::default()
        };
        let state = stub.clone();
        let app = Router::new().fallback(
            move |method: Method, uri: Uri, headers: HeaderMap, body: String| {
                let state = state.clone();
                async move { state.answer(method, uri, headers, body) }
            },
        );
        tokio::spawn(async move { axum::serve(listener, app).await });
        stub
    }

    /// `http://127.0.0.1:<port>`: every platform's API root.
    pub fn base(&self) -> &str {
        &self.base
    }

    fn answer(
        &self,
        method: Method,
        uri: Uri,
        headers: HeaderMap,
        body: String,
    ) -> (StatusCode, axum::Json<Value>) {
        let headers = headers
            .iter()
            .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
            .collect();
        let n = {
            let mut seen = self.seen.lock().unwrap();
            seen.push(Received {
                method: method.as_str().to_owned(),
                path: uri.path().to_owned(),
                headers,
                body: serde_json::from_str(&body).unwrap_or(Value::Null),
            });
            seen.len()
        };
        if method == Method::GET {
            return match self.lookups.lock().unwrap().pop_front() {
                Some(answer) => (StatusCode::OK, axum::Json(answer)),
                None => (
                    StatusCode::NOT_FOUND,
                    axum::Json(json!({"message": "no such call"})),
                ),
            };
        }
        let answer = match uri.path() {
            "/call" => json!({"id": format!("vapi-call-{n}"), "status": "queued"}),
            "/v2/create-phone-call" => {
                json!({"call_id": format!("retell-call-{n}"), "call_status": "registered"})
            }
            "/v1/calls" => json!({"status": "success", "call_id": format!("bland-call-{n}")}),
            "/v1/convai/twilio/outbound-call" => {
                json!({"success": true, "conversation_id": format!("conv_{n}"), "callSid": "CA1"})
            }
            _ => return (StatusCode::NOT_FOUND, axum::Json(json!({}))),
        };
        (StatusCode::CREATED, axum::Json(answer))
    }

    /// The get-call answer of the next GET.
    pub fn answer_lookup(&self, answer: Value) {
        self.lookups.lock().unwrap().push_back(answer);
    }

    /// Every request received, in order.
    pub fn received(&self) -> Vec<Received> {
        self.seen.lock().unwrap().clone()
    }

    /// The requests received with `method`, in order.
    pub fn requests(&self, method: &str) -> Vec<Received> {
        let seen = self.seen.lock().unwrap();
        seen.iter()
            .filter(|r| r.method == method)
            .cloned()
            .collect()
    }

    /// The create-call requests.
    pub fn placed(&self) -> Vec<Received> {
        self.requests("POST")
    }

    /// The get-call requests.
    pub fn looked_up(&self) -> Vec<Received> {
        self.requests("GET")
    }

    /// Waits up to `bound` for the `n`th request with `method`; panics after it.
    pub async fn wait_for(&self, method: &str, n: usize, bound: Duration) -> Received {
        let deadline = Instant::now() + bound;
        loop {
            if let Some(found) = self.requests(method).get(n - 1) {
                return found.clone();
            }
            assert!(
                Instant::now() < deadline,
                "no {method} #{n} reached the platform stub within {bound:?}: {:#?}",
                self.seen.lock().unwrap()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}
