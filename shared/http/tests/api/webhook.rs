//! The signed `call.completed` webhook over HTTP: Standard Webhooks signatures, one set
//! of follow-ups per `webhook-id`, and refusals that store nothing.

use std::sync::Arc;

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::support::*;

for_each_store!(
    a_signed_delivery_is_answered_with_its_followups,
    a_redelivery_of_a_webhook_id_gets_the_first_answer_and_changes_nothing,
    ten_concurrent_deliveries_of_one_webhook_id_store_one_set_of_followups,
    an_unsigned_badly_signed_or_stale_delivery_is_401_and_stores_nothing,
    a_timestamp_exactly_five_minutes_old_is_still_accepted,
    a_signed_body_with_bad_fields_is_400_naming_them_and_stores_nothing,
    a_delivery_over_the_body_limit_is_413_and_stores_nothing,
    other_event_types_are_acknowledged_and_ignored,
);

type Headers = Vec<(String, String)>;

/// The headers of a delivery signed with `secret` at `timestamp`.
fn signed(secret: &Secret, id: &str, timestamp: i64, body: &str) -> Headers {
    vec![
        ("webhook-id".into(), id.into()),
        ("webhook-timestamp".into(), timestamp.to_string()),
        (
            "webhook-signature".into(),
            secret.key.sign(id, timestamp, body.as_bytes()),
        ),
    ]
}

async fn post(world: &World, account: &str, headers: &[(String, String)], body: &str) -> Reply {
    let headers: Vec<(&str, &str)> = headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    world.deliver_raw(account, &headers, body.to_string()).await
}

async fn a_signed_delivery_is_answered_with_its_followups(world: World) {
    let secret = world.configure_acme().await;
    let now = world.clock.now();
    let reply = world
        .deliver(&secret, "msg_1", &answered_call("call-1", "contact-1", now))
        .await;
    let answer = reply.expect(StatusCode::OK).json();
    assert_eq!(answer["webhook_id"], "msg_1");
    assert_eq!(answer["call_id"], "call-1");
    let mut outline: Vec<(Value, Value, Value, Value)> = answer["followups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["channel"].clone(),
                f["status"].clone(),
                f["reason"].clone(),
                f["due_at"].clone(),
            )
        })
        .collect();
    outline.sort_by_key(|o| o.0.to_string());
    assert_eq!(
        outline,
        [
            (
                json!("email"),
                json!("scheduled"),
                json!("consented"),
                json!(now)
            ),
            (
                json!("sms"),
                json!("scheduled"),
                json!("consented"),
                json!(now)
            ),
        ]
    );
    let stored = world.followups_of(ACME, "contact-1").await;
    let mut ids: Vec<_> = stored.iter().map(|f| f["id"].clone()).collect();
    let mut answered: Vec<_> = answer["followups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].clone())
        .collect();
    ids.sort_by_key(Value::to_string);
    answered.sort_by_key(Value::to_string);
    assert_eq!(ids, answered, "the answer names the stored follow-ups");
}

async fn a_redelivery_of_a_webhook_id_gets_the_first_answer_and_changes_nothing(world: World) {
    let secret = world.configure_acme().await;
    let now = world.clock.now();
    let first = world
        .deliver(&secret, "msg_1", &answered_call("call-1", "contact-1", now))
        .await
        .expect(StatusCode::OK);
    let stored = world.followups_of(ACME, "contact-1").await;

    world.clock.advance(chrono::Duration::minutes(3));
    let again = world
        .deliver(&secret, "msg_1", &answered_call("call-1", "contact-1", now))
        .await
        .expect(StatusCode::OK);
    assert_eq!(again.body, first.body, "byte for byte");
    // Even a different body under the same id is the same delivery.
    let other = world
        .deliver(&secret, "msg_1", &answered_call("call-2", "contact-2", now))
        .await
        .expect(StatusCode::OK);
    assert_eq!(other.body, first.body);
    assert_eq!(world.followups_of(ACME, "contact-1").await, stored);
    assert!(world.followups_of(ACME, "contact-2").await.is_empty());
}

async fn ten_concurrent_deliveries_of_one_webhook_id_store_one_set_of_followups(world: World) {
    let secret = world.configure_acme().await;
    let world = Arc::new(world);
    let secret = Arc::new(secret);
    let body = answered_call("call-1", "contact-1", world.clock.now());
    let handles: Vec<_> = (0..10)
        .map(|_| {
            let (world, secret, body) = (world.clone(), secret.clone(), body.clone());
            tokio::spawn(async move { world.deliver(&secret, "msg_race", &body).await })
        })
        .collect();
    let mut answers = Vec::new();
    for handle in handles {
        let reply = handle.await.unwrap();
        answers.push(reply.expect(StatusCode::OK).text());
    }
    assert!(
        answers.windows(2).all(|w| w[0] == w[1]),
        "one answer for all: {answers:#?}"
    );
    let answer: Value = serde_json::from_str(&answers[0]).unwrap();
    let mut answered: Vec<_> = answer["followups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].clone())
        .collect();
    answered.sort_by_key(Value::to_string);
    let mut stored: Vec<_> = world
        .followups_of(ACME, "contact-1")
        .await
        .iter()
        .map(|f| f["id"].clone())
        .collect();
    stored.sort_by_key(Value::to_string);
    assert_eq!(stored.len(), 2, "{stored:?}");
    assert_eq!(stored, answered, "the one answer names the one set stored");
    let campaign = world
        .get("/v1/campaigns/camp-1/followups")
        .send()
        .await
        .json();
    assert_eq!(campaign["items"].as_array().unwrap().len(), 2);
}

async fn an_unsigned_badly_signed_or_stale_delivery_is_401_and_stores_nothing(world: World) {
    let secret = world.configure_acme().await;
    let other = world.create_secret(GLOBEX).await;
    let body = answered_call("call-1", "contact-1", world.clock.now()).to_string();
    let now = world.clock.now().timestamp();
    let good = signed(&secret, "msg_1", now, &body);
    let with = |name: &str, value: &str| -> Vec<(String, String)> {
        good.iter()
            .map(|(n, v)| {
                (
                    n.clone(),
                    if n == name {
                        value.to_string()
                    } else {
                        v.clone()
                    },
                )
            })
            .collect()
    };
    let without = |name: &str| -> Vec<(String, String)> {
        good.iter().filter(|(n, _)| n != name).cloned().collect()
    };
    let tampered = body.replace("+14155552671", "+14155550000");
    let cases: Vec<(&str, &str, Headers, &str)> = vec![
        ("no headers", "acme", vec![], &body),
        ("no signature", "acme", without("webhook-signature"), &body),
        ("no id", "acme", without("webhook-id"), &body),
        ("no timestamp", "acme", without("webhook-timestamp"), &body),
        (
            "empty signature",
            "acme",
            with("webhook-signature", ""),
            &body,
        ),
        ("bare v1,", "acme", with("webhook-signature", "v1,"), &body),
        (
            "short tag",
            "acme",
            with("webhook-signature", "v1,AAAA"),
            &body,
        ),
        (
            "another secret",
            "acme",
            signed(&other, "msg_1", now, &body),
            &body,
        ),
        ("tampered body", "acme", good.clone(), &tampered),
        ("another id", "acme", with("webhook-id", "msg_2"), &body),
        (
            "stale",
            "acme",
            signed(&secret, "msg_1", now - 301, &body),
            &body,
        ),
        (
            "from the future",
            "acme",
            signed(&secret, "msg_1", now + 301, &body),
            &body,
        ),
        (
            "timestamp in ms",
            "acme",
            signed(&secret, "msg_1", now * 1000, &body),
            &body,
        ),
        (
            "not a timestamp",
            "acme",
            with("webhook-timestamp", "yesterday"),
            &body,
        ),
        (
            "another scheme",
            "acme",
            with("webhook-signature", &good[2].1.replace("v1,", "v2,")),
            &body,
        ),
        ("another account", "globex", good.clone(), &body),
        (
            "an account that does not exist",
            "nobody",
            good.clone(),
            &body,
        ),
    ];
    for (case, account, headers, body) in &cases {
        let reply = post(&world, account, headers, body).await;
        let problem = reply.problem(StatusCode::UNAUTHORIZED);
        assert!(problem["detail"].is_string(), "{case}: {reply}");
        assert!(!reply.text().contains(&secret.text), "{case}");
    }
    assert!(
        world.followups_of(ACME, "contact-1").await.is_empty(),
        "nothing stored"
    );
    assert!(world.followups_of(GLOBEX, "contact-1").await.is_empty());
    // Nothing was remembered either: the genuine delivery under the same id goes through.
    let reply = post(&world, "acme", &good, &body)
        .await
        .expect(StatusCode::OK);
    assert_eq!(reply.json()["followups"].as_array().unwrap().len(), 2);
}

async fn a_timestamp_exactly_five_minutes_old_is_still_accepted(world: World) {
    let secret = world.configure_acme().await;
    let body = json!({"type": "call.started"}).to_string();
    let now = world.clock.now().timestamp();
    post(
        &world,
        "acme",
        &signed(&secret, "msg_1", now - 300, &body),
        &body,
    )
    .await
    .expect(StatusCode::OK);
    post(
        &world,
        "acme",
        &signed(&secret, "msg_2", now + 300, &body),
        &body,
    )
    .await
    .expect(StatusCode::OK);
    // Several signatures, one of them valid, as during a rotation.
    let mut rotating = signed(&secret, "msg_3", now, &body);
    rotating[2].1 = format!(
        "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= {}",
        rotating[2].1
    );
    post(&world, "acme", &rotating, &body)
        .await
        .expect(StatusCode::OK);
}

async fn a_signed_body_with_bad_fields_is_400_naming_them_and_stores_nothing(world: World) {
    let secret = world.configure_acme().await;
    let now = world.clock.now();
    let good = answered_call("call-1", "contact-1", now);
    let cases = [
        (
            set(good.clone(), "/contact/phone", json!("555-1234")),
            vec!["contact.phone"],
        ),
        (
            set(good.clone(), "/call/outcome", json!("exploded")),
            vec!["call.outcome"],
        ),
        (
            set(good.clone(), "/call/ended_at", json!("yesterday")),
            vec!["call.ended_at"],
        ),
        (set(good.clone(), "/call/id", json!(42)), vec!["call.id"]),
        (
            set(
                set(good.clone(), "/contact/phone", json!("555-1234")),
                "/contact/email",
                json!("ana@"),
            ),
            vec!["contact.email", "contact.phone"],
        ),
    ];
    for (i, (body, fields)) in cases.iter().enumerate() {
        let reply = world.deliver(&secret, &format!("msg_{i}"), body).await;
        let mut named = reply.invalid_fields();
        named.sort();
        assert_eq!(&named, fields, "{body}");
    }
    for raw in ["{\"type\": \"call.completed\", ", "", "[]"] {
        let headers = signed(&secret, "msg_raw", now.timestamp(), raw);
        let reply = post(&world, "acme", &headers, raw).await;
        assert_eq!(reply.invalid_fields(), ["body"], "{raw:?}");
    }
    assert!(
        world.followups_of(ACME, "contact-1").await.is_empty(),
        "nothing stored"
    );
    // Nothing was remembered: the corrected event under a refused id goes through.
    let reply = world
        .deliver(&secret, "msg_0", &good)
        .await
        .expect(StatusCode::OK);
    assert_eq!(reply.json()["followups"].as_array().unwrap().len(), 2);
}

async fn a_delivery_over_the_body_limit_is_413_and_stores_nothing(world: World) {
    let secret = world.configure_acme().await;
    let now = world.clock.now();
    let huge = set(
        answered_call("call-1", "contact-1", now),
        "/analysis/summary",
        json!("x".repeat(256 * 1024)),
    );
    let reply = world.deliver(&secret, "msg_1", &huge).await;
    reply.problem(StatusCode::PAYLOAD_TOO_LARGE);
    assert!(world.followups_of(ACME, "contact-1").await.is_empty());
    // Unsigned and oversized: still 413, before anything is read.
    world
        .deliver_raw("acme", &[], vec![b' '; 256 * 1024 + 1])
        .await
        .problem(StatusCode::PAYLOAD_TOO_LARGE);
}

async fn other_event_types_are_acknowledged_and_ignored(world: World) {
    let secret = world.configure_acme().await;
    let reply = world
        .deliver(
            &secret,
            "msg_1",
            &json!({"type": "call.started", "call": {"id": "c"}}),
        )
        .await;
    let answer = reply.expect(StatusCode::OK).json();
    assert_eq!(answer["ignored"], "call.started");
    assert_eq!(answer["webhook_id"], "msg_1");
}

/// Everything a tracing subscriber wrote, for the test to read back.
#[derive(Clone, Default)]
struct CapturedLog(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for CapturedLog {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for CapturedLog {
    type Writer = CapturedLog;

    fn make_writer(&'a self) -> CapturedLog {
        self.clone()
    }
}

#[tokio::test]
async fn a_line_break_in_the_webhook_path_cannot_forge_a_log_line() {
    let log = CapturedLog::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(log.clone())
        .with_ansi(false)
        .without_time()
        .finish();
    // Current-thread runtime: the request is handled on this thread, under this
    // subscriber.
    let _guard = tracing::subscriber::set_default(subscriber);
    let world = World::new(Store::Embedded).await;
    let forged = "acme%0D%0A%20INFO%20forged:%20account%20deleted%1B%5B2J";
    let headers = [
        ("webhook-id".to_string(), "msg_1".to_string()),
        (
            "webhook-timestamp".to_string(),
            world.clock.now().timestamp().to_string(),
        ),
        ("webhook-signature".to_string(), "v1,AAAA".to_string()),
    ];
    post(&world, forged, &headers, "{}")
        .await
        .expect(StatusCode::UNAUTHORIZED);

    let text = String::from_utf8(log.0.lock().unwrap().clone()).unwrap();
    let refused: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("webhook refused"))
        .collect();
    assert_eq!(refused.len(), 1, "{text}");
    // The value is on the event's own line, quoted and escaped.
    assert!(
        refused[0].contains(r#"account="acme\r\n INFO forged: account deleted\u{1b}[2J""#),
        "{text}"
    );
    assert!(
        !text.lines().any(|l| l.starts_with(" INFO forged")),
        "{text}"
    );
    assert!(!text.contains('\r') && !text.contains('\u{1b}'), "{text:?}");
}
