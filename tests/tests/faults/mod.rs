//! A fault-injecting HTTP proxy on loopback, between the AWS SDK clients and moto.
//!
//! Every request is forwarded to moto except that, at random (seeded):
//! - some are answered with the service's own throttling error, in the service's
//!   protocol: DynamoDB (JSON 1.0) `400` with `__type` `…#ProvisionedThroughputExceededException`
//!   or `…#ThrottlingException`; SNS (query protocol) `400 <ErrorResponse>` with code
//!   `Throttling` or `429` with `Throttled`; SESv2 and Scheduler (REST-JSON) `429` with
//!   `x-amzn-ErrorType: TooManyRequestsException` / `ThrottlingException`;
//! - some connections are dropped before the request reaches moto (nothing happened);
//! - some connections are dropped after moto answered (it happened, the client never
//!   hears: the hardest case for exactly-once);
//! - the others are delayed by a few milliseconds, so concurrent requests interleave.
//!
//! A dropped connection is hyper's: when the service returns an error, hyper closes the
//! connection without writing a response.
//!
//! With `serialize`, the proxy forwards one request at a time. moto applies a
//! conditional write or a transaction without a lock (its `transact_write_items`
//! deep-copies the table, checks and writes item by item, and puts the copy back on a
//! failed condition), so two concurrent requests can both pass a condition, and a
//! failed transaction can undo a concurrent one's writes. DynamoDB applies each request
//! atomically, and that is all the engine relies on; one request at a time gives moto
//! that property while the clients still race each other.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;

/// How often each fault happens, out of 1.0.
#[derive(Debug, Clone, Copy)]
pub struct FaultPlan {
    pub throttle: f64,
    pub drop_before: f64,
    pub drop_after: f64,
    pub max_delay_ms: u64,
    /// Forward one request at a time (see the module's doc).
    pub serialize: bool,
}

impl FaultPlan {
    /// 20% throttled, 3% dropped before moto, 2% dropped after, up to 15 ms delay.
    pub fn default_plan() -> FaultPlan {
        FaultPlan {
            throttle: 0.20,
            drop_before: 0.03,
            drop_after: 0.02,
            max_delay_ms: 15,
            serialize: true,
        }
    }

    /// No faults: every request forwarded, one at a time.
    pub fn serialized() -> FaultPlan {
        FaultPlan {
            throttle: 0.0,
            drop_before: 0.0,
            drop_after: 0.0,
            max_delay_ms: 0,
            serialize: true,
        }
    }
}

/// What the proxy did, per `Service.Action` (or path for REST services).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    pub forwarded: usize,
    pub throttled: usize,
    pub dropped_before: usize,
    pub dropped_after: usize,
}

struct State {
    upstream: String,
    client: reqwest::Client,
    plan: Mutex<FaultPlan>,
    rng: AtomicU64,
    gate: tokio::sync::Mutex<()>,
    tallies: Mutex<BTreeMap<String, Tally>>,
}

#[derive(Clone)]
pub struct FaultProxy {
    pub endpoint: String,
    pub seed: u64,
    state: Arc<State>,
}

impl FaultProxy {
    /// Starts the proxy in front of `upstream` (moto's endpoint).
    pub async fn start(upstream: &str, plan: FaultPlan, seed: u64) -> FaultProxy {
        let state = Arc::new(State {
            upstream: upstream.trim_end_matches('/').to_string(),
            client: reqwest::Client::builder()
                .no_proxy()
                .pool_max_idle_per_host(32)
                .build()
                .unwrap(),
            plan: Mutex::new(plan),
            rng: AtomicU64::new(seed.max(1)),
            gate: tokio::sync::Mutex::new(()),
            tallies: Mutex::new(BTreeMap::new()),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let serving = state.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                // Without it, Nagle's algorithm and delayed ACKs stall each answer ~40 ms.
                let _ = stream.set_nodelay(true);
                let state = serving.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |request| handle(state.clone(), request));
                    // A dropped connection ends here with the service's error: expected.
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        FaultProxy {
            endpoint,
            seed,
            state,
        }
    }

    /// Changes the plan from now on (e.g. to let the last stragglers through).
    pub fn set_plan(&self, plan: FaultPlan) {
        *self.state.plan.lock().unwrap() = plan;
    }

    pub fn tallies(&self) -> BTreeMap<String, Tally> {
        self.state.tallies.lock().unwrap().clone()
    }

    pub fn total(&self) -> Tally {
        self.tallies()
            .values()
            .fold(Tally::default(), |mut sum, t| {
                sum.forwarded += t.forwarded;
                sum.throttled += t.throttled;
                sum.dropped_before += t.dropped_before;
                sum.dropped_after += t.dropped_after;
                sum
            })
    }
}

/// xorshift64*: a fault sequence that a seed reproduces (up to the interleaving of
/// concurrent requests).
fn random(state: &State) -> f64 {
    let mut x = state.rng.load(Ordering::Relaxed);
    loop {
        let mut next = x;
        next ^= next >> 12;
        next ^= next << 25;
        next ^= next >> 27;
        match state
            .rng
            .compare_exchange_weak(x, next, Ordering::Relaxed, Ordering::Relaxed)
        {
            Ok(_) => {
                let out = next.wrapping_mul(0x2545_F491_4F6C_DD1D);
                return (out >> 11) as f64 / (1u64 << 53) as f64;
            }
            Err(current) => x = current,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Protocol {
    /// DynamoDB: `x-amz-target`, JSON 1.0 errors with `__type`.
    AwsJson,
    /// SNS: form-encoded `Action=…`, XML `<ErrorResponse>`.
    AwsQuery,
    /// SESv2, Scheduler: REST paths, `x-amzn-ErrorType` header.
    RestJson,
}

fn operation(parts: &hyper::http::request::Parts, body: &[u8]) -> (Protocol, String) {
    if let Some(target) = parts
        .headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
    {
        let op = target.rsplit('.').next().unwrap_or(target);
        return (Protocol::AwsJson, format!("DynamoDB.{op}"));
    }
    let text = String::from_utf8_lossy(body);
    if let Some(action) = text
        .split('&')
        .find_map(|pair| pair.strip_prefix("Action="))
    {
        return (Protocol::AwsQuery, format!("SNS.{action}"));
    }
    let path = parts.uri.path();
    let service = if path.starts_with("/v2/email") {
        "SESv2"
    } else {
        "Scheduler"
    };
    let first = path
        .trim_start_matches("/v2/email")
        .trim_start_matches('/')
        .split('/')
        .next()
        .unwrap_or_default();
    (
        Protocol::RestJson,
        format!("{service}.{} {first}", parts.method),
    )
}

fn throttle_response(protocol: Protocol, op: &str, coin: f64) -> Response<Full<Bytes>> {
    let (status, content_type, header, body) = match protocol {
        Protocol::AwsJson => {
            let kind = if coin < 0.5 {
                "ProvisionedThroughputExceededException"
            } else {
                "ThrottlingException"
            };
            (
                400,
                "application/x-amz-json-1.0",
                None,
                format!(
                    r#"{{"__type":"com.amazonaws.dynamodb.v20120810#{kind}","message":"injected by the fault proxy"}}"#
                ),
            )
        }
        Protocol::AwsQuery => {
            let (status, code) = if coin < 0.5 {
                (400, "Throttling")
            } else {
                (429, "Throttled")
            };
            (
                status,
                "text/xml",
                None,
                format!(
                    "<ErrorResponse xmlns=\"http://sns.amazonaws.com/doc/2010-03-31/\"><Error><Type>Sender</Type><Code>{code}</Code><Message>Rate exceeded (fault proxy)</Message></Error><RequestId>00000000-fault</RequestId></ErrorResponse>"
                ),
            )
        }
        Protocol::RestJson => {
            let kind = if op.starts_with("SESv2") {
                "TooManyRequestsException"
            } else {
                "ThrottlingException"
            };
            (
                429,
                "application/json",
                Some(kind),
                r#"{"message":"Rate exceeded (fault proxy)"}"#.to_string(),
            )
        }
    };
    let mut response = Response::builder()
        .status(status)
        .header("content-type", content_type)
        .header("x-amzn-requestid", "00000000-fault");
    if let Some(kind) = header {
        response = response.header("x-amzn-errortype", kind);
    }
    response.body(Full::new(Bytes::from(body))).unwrap()
}

fn tally(state: &State, op: &str, update: impl FnOnce(&mut Tally)) {
    update(
        state
            .tallies
            .lock()
            .unwrap()
            .entry(op.to_string())
            .or_default(),
    );
}

#[derive(Debug)]
struct Dropped;

impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by the fault proxy")
    }
}

impl std::error::Error for Dropped {}

async fn handle(
    state: Arc<State>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Dropped> {
    let (parts, body) = request.into_parts();
    let body = body.collect().await.map_err(|_| Dropped)?.to_bytes();
    let (protocol, op) = operation(&parts, &body);
    let plan = *state.plan.lock().unwrap();
    let roll = random(&state);
    if roll < plan.throttle {
        tally(&state, &op, |t| t.throttled += 1);
        return Ok(throttle_response(protocol, &op, random(&state)));
    }
    if roll < plan.throttle + plan.drop_before {
        tally(&state, &op, |t| t.dropped_before += 1);
        return Err(Dropped);
    }
    let drop_after = roll < plan.throttle + plan.drop_before + plan.drop_after;
    if plan.max_delay_ms > 0 {
        let ms = (random(&state) * plan.max_delay_ms as f64) as u64;
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    let forwarded = if plan.serialize {
        let _one_at_a_time = state.gate.lock().await;
        forward(&state, &parts, body).await
    } else {
        forward(&state, &parts, body).await
    };
    if drop_after {
        tally(&state, &op, |t| t.dropped_after += 1);
        return Err(Dropped);
    }
    tally(&state, &op, |t| t.forwarded += 1);
    forwarded
}

async fn forward(
    state: &State,
    parts: &hyper::http::request::Parts,
    body: Bytes,
) -> Result<Response<Full<Bytes>>, Dropped> {
    let path = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    let mut upstream = state
        .client
        .request(parts.method.clone(), format!("{}{path}", state.upstream));
    for (name, value) in &parts.headers {
        if !matches!(
            name.as_str(),
            "host" | "connection" | "content-length" | "transfer-encoding"
        ) {
            upstream = upstream.header(name, value);
        }
    }
    let answer = upstream.body(body).send().await.map_err(|_| Dropped)?;
    let mut response = Response::builder().status(answer.status());
    for (name, value) in answer.headers() {
        if !matches!(
            name.as_str(),
            "connection" | "content-length" | "transfer-encoding"
        ) {
            response = response.header(name, value);
        }
    }
    let bytes = answer.bytes().await.map_err(|_| Dropped)?;
    Ok(response.body(Full::new(bytes)).unwrap())
}
