//! The local runtime attacked as a flaky machine and a hostile client would: killed
//! (`kill -9`) at random instants mid-burst, asked to move its clock absurdly far, started
//! on a corrupt clock file, and read by another account.
//!
//! Sizes are small in the test command; the full run is documented in
//! docs/reliability.md (`LOCAL_KILL_ROUNDS`, `LOCAL_KILL_CALLS`, `LOCAL_KILL_SEED`). No
//! assertion is about how long anything took: every wait polls, with a bound.

mod support;

use std::collections::HashMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use service::signature::WebhookSecret;

use support::*;

/// How long the follow-ups of a round may take to settle once the clock has moved past
/// the executors' retries.
const SETTLE_BOUND: Duration = Duration::from_secs(60);

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A seeded xorshift: the kill instants are reproducible from the printed seed.
struct Dice(u64);

impl Dice {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// One contact of a burst: agreed to an SMS and an email, both due at once.
struct Contact {
    id: String,
    phone: String,
    email: String,
}

impl Contact {
    fn new(round: u64, i: u64) -> Contact {
        Contact {
            id: format!("contact-kill-{round}-{i}"),
            phone: format!("+1415555{:04}", 2000 + round * 100 + i),
            email: format!("kill-{round}-{i}@example.com"),
        }
    }

    fn call(&self, now: &str) -> Value {
        json!({
            "type": "call.completed",
            "call": {
                "id": format!("call-{}", self.id),
                "agent_id": AGENT,
                "campaign_id": CAMPAIGN,
                "outcome": "completed",
                "started_at": now,
                "ended_at": now,
            },
            "contact": {
                "id": self.id,
                "phone": self.phone,
                "email": self.email,
                "name": "Kim Test",
                "timezone": "America/New_York",
            },
            "analysis": {
                "summary": "Wants the details by text and email.",
                "consent": {"sms": true, "email": true, "whatsapp": false},
                "sms_destination": {"number": self.phone, "confirmed": true},
                "email_address": {"address": self.email, "confirmed": true},
                "followup_requests": [],
            },
        })
    }
}

/// Posts a signed `call.completed` for `contact`; `None` when the process did not answer.
async fn deliver(
    http: &reqwest::Client,
    base: &str,
    secret: &WebhookSecret,
    contact: &Contact,
    engine_now: chrono::DateTime<chrono::Utc>,
) -> Option<StatusCode> {
    let body = contact.call(&engine_now.to_rfc3339()).to_string();
    let id = format!("msg_{}", contact.id);
    let timestamp = engine_now.timestamp();
    let response = http
        .post(format!("{base}/v1/webhooks/acme/call-completed"))
        .header("content-type", "application/json")
        .header("webhook-id", &id)
        .header("webhook-timestamp", timestamp.to_string())
        .header(
            "webhook-signature",
            secret.sign(&id, timestamp, body.as_bytes()),
        )
        .body(body)
        .send()
        .await
        .ok()?;
    Some(response.status())
}

fn webhook_secret(data: &Path) -> WebhookSecret {
    let text = std::fs::read_to_string(data.join("webhook-secret")).expect("the secret file");
    WebhookSecret::parse(text.trim()).expect("a valid secret")
}

async fn engine_now(api: &Api) -> chrono::DateTime<chrono::Utc> {
    time(&api.get("/v1/local/clock").await["now"])
}

/// The SMS and email follow-ups of `contacts`, by contact.
async fn followups(api: &Api, contacts: &[Contact]) -> Vec<(String, Vec<Value>)> {
    let mut all = Vec::new();
    for contact in contacts {
        all.push((contact.id.clone(), api.followups_of(&contact.id).await));
    }
    all
}

fn count_status(all: &[(String, Vec<Value>)], status: &str) -> usize {
    all.iter()
        .flat_map(|(_, list)| list)
        .filter(|f| f["status"] == status)
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follow_ups_left_sending_by_a_kill_end_sent_or_unknown_after_a_restart_and_none_is_sent_twice()
 {
    let rounds = env_or("LOCAL_KILL_ROUNDS", 2);
    let calls = env_or("LOCAL_KILL_CALLS", 20);
    let seed = env_or(
        "LOCAL_KILL_SEED",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64,
    ) | 1;
    println!("LOCAL_KILL_SEED={seed} LOCAL_KILL_ROUNDS={rounds} LOCAL_KILL_CALLS={calls}");
    let mut dice = Dice(seed);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut local = Local::start(&data);
    // The demo's settings: SMS and email at any hour.
    run_demo(&local, &data, &[]);
    let secret = webhook_secret(&data);
    let http = reqwest::Client::new();
    let mut contacts = Vec::new();
    let mut left_sending = 0;

    for round in 0..rounds {
        let burst: Vec<Contact> = (0..calls).map(|i| Contact::new(round, i)).collect();
        let now = engine_now(&Api::new(&local, &data)).await;
        let mut deliveries = tokio::task::JoinSet::new();
        for i in 0..calls {
            let (http, base, secret) = (http.clone(), local.base.clone(), secret.clone());
            let contact = Contact::new(round, i);
            deliveries.spawn(async move { deliver(&http, &base, &secret, &contact, now).await });
        }
        // kill -9 at a random instant of the burst and of the sends it sets off: once
        // the first delivery is answered (sends are under way), after 0-250 ms.
        deliveries.join_next().await;
        let kill_after = dice.below(250);
        tokio::time::sleep(Duration::from_millis(kill_after)).await;
        local.child.kill().expect("SIGKILL");
        local.child.wait().expect("reaped");
        while deliveries.join_next().await.is_some() {}

        local = Local::start(&data);
        let api = Api::new(&local, &data);
        // The platform redelivers what it did not see answered (here: everything).
        let now = engine_now(&api).await;
        for contact in &burst {
            let status = deliver(&http, &local.base, &secret, contact, now).await;
            assert_eq!(
                status,
                Some(StatusCode::OK),
                "redelivery for {}",
                contact.id
            );
        }
        contacts.extend(burst);
        let after_restart = followups(&api, &contacts).await;
        let sending = count_status(&after_restart, "sending");
        left_sending += sending;
        println!("round {round}: killed after {kill_after} ms, {sending} follow-ups left sending");

        // The executors' retries run on the local clock: move it past the last one.
        api.post("/v1/local/clock", json!({"advance": "4m"})).await;
        let deadline = Instant::now() + SETTLE_BOUND;
        let settled = loop {
            let all = followups(&api, &contacts).await;
            if count_status(&all, "sending") + count_status(&all, "scheduled") == 0 {
                break all;
            }
            assert!(
                Instant::now() < deadline,
                "still sending or scheduled after {SETTLE_BOUND:?}: {all:#?}"
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        };
        check_sent_once(&settled, &contacts, &api.outbox().await);
    }
    println!("{left_sending} follow-ups were left sending by the kills; all settled");
}

/// Every follow-up ended `sent` (exactly one message out) or `unknown` (at most one):
/// none was sent twice.
fn check_sent_once(all: &[(String, Vec<Value>)], contacts: &[Contact], outbox: &[Value]) {
    let mut landed: HashMap<(&str, &str), usize> = HashMap::new();
    for entry in outbox {
        let key = (
            entry["channel"].as_str().unwrap(),
            entry["destination"].as_str().unwrap(),
        );
        *landed.entry(key).or_default() += 1;
    }
    for ((contact_id, list), contact) in all.iter().zip(contacts) {
        assert_eq!(list.len(), 2, "{contact_id}: {list:#?}");
        for followup in list {
            let channel = followup["channel"].as_str().unwrap();
            let destination = match channel {
                "sms" => &contact.phone,
                "email" => &contact.email,
                other => panic!("{contact_id}: unexpected {other} follow-up"),
            };
            let count = landed
                .get(&(channel, destination.as_str()))
                .copied()
                .unwrap_or(0);
            match followup["status"].as_str().unwrap() {
                "sent" => assert_eq!(count, 1, "{contact_id} {channel}: {followup:#}"),
                "unknown" => assert!(count <= 1, "{contact_id} {channel} sent twice"),
                other => panic!("{contact_id} {channel} ended {other}: {followup:#}"),
            }
        }
    }
}

/// `POST` with a token, returning the status and the body as JSON.
async fn post_raw(api: &Api, token: &str, path: &str, body: Value) -> (StatusCode, String, Value) {
    let response = api
        .http
        .post(format!("{}{path}", api.base))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    (status, content_type, response.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_advance_beyond_the_clocks_bound_is_a_400_naming_advance_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let local = Local::start(&data);
    let api = Api::new(&local, &data);
    let before = api.get("/v1/local/clock").await["offset_seconds"].clone();
    for advance in ["100000000d", "99999999999999h", "3651d", "-1h", "soon"] {
        let (status, content_type, problem) = post_raw(
            &api,
            &api.token,
            "/v1/local/clock",
            json!({ "advance": advance }),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{advance}: {problem}");
        assert_eq!(content_type, "application/problem+json");
        assert_eq!(problem["errors"][0]["field"], "advance", "{problem}");
    }
    // Within the bound, but beyond what is left of it.
    api.post("/v1/local/clock", json!({"advance": "3000d"}))
        .await;
    let (status, _, problem) = post_raw(
        &api,
        &api.token,
        "/v1/local/clock",
        json!({"advance": "3000d"}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{problem}");
    assert_eq!(problem["errors"][0]["field"], "advance");
    let offset = api.get("/v1/local/clock").await["offset_seconds"].clone();
    assert_eq!(offset, json!(before.as_i64().unwrap() + 3000 * 86_400));

    // Every other request still works, and so does a restart on the kept offset.
    api.get("/v1/outbox").await;
    drop(local);
    let local = Local::start(&data);
    let api = Api::new(&local, &data);
    assert_eq!(api.get("/v1/local/clock").await["offset_seconds"], offset);
}

#[test]
fn a_stored_clock_offset_out_of_range_stops_the_start_with_a_message_not_a_panic() {
    for stored in ["8640000000000", "-5", "99999999999999999999999", "soon"] {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("clock-offset"), stored).unwrap();
        let mut command = Command::new(env!("CARGO_BIN_EXE_followups-local"));
        command
            .args(["--port", "0", "--data-dir"])
            .arg(dir.path())
            .stdin(Stdio::null());
        for name in ENV {
            command.env_remove(name);
        }
        let out = command.output().expect("run followups-local");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stored}: {stderr}");
        assert!(stderr.contains("clock-offset"), "{stored}: {stderr}");
        assert!(stderr.contains("delete the file"), "{stored}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stored}: {stderr}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_accounts_token_sees_none_of_this_accounts_outbox() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let local = Local::start_with(&data, &["--tenant", "tok-globex=globex"]);
    run_demo(&local, &data, &[]);
    let acme = Api::new(&local, &data);
    acme.wait_for_outbox("SMS to Ana", to("+14155550101")).await;
    assert!(!acme.outbox().await.is_empty());

    let globex = Api {
        token: "tok-globex".into(),
        ..Api::new(&local, &data)
    };
    assert_eq!(globex.outbox().await, Vec::<Value>::new());
}
