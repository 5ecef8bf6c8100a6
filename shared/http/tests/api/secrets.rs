//! Webhook signing secrets: shown once at creation, listed without their values,
//! rotated with an overlap, deleted.

use axum::http::StatusCode;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::Duration;
use serde_json::json;

use crate::support::*;

for_each_store!(
    a_new_secret_is_201_whsec_and_base64_of_at_least_24_bytes,
    a_secret_is_shown_once_and_never_listed_with_its_value,
    a_rotated_out_secret_keeps_verifying_during_the_overlap_then_stops,
    a_deleted_secret_stops_verifying_at_once,
    a_secret_request_with_bad_fields_is_refused,
);

fn call_started() -> serde_json::Value {
    json!({"type": "call.started"})
}

async fn a_new_secret_is_201_whsec_and_base64_of_at_least_24_bytes(world: World) {
    let reply = world.post("/v1/webhook-secrets").send().await;
    let created = reply.expect(StatusCode::CREATED).json();
    let text = created["secret"].as_str().unwrap();
    let key = STANDARD
        .decode(text.strip_prefix("whsec_").expect("whsec_ prefix"))
        .expect("base64");
    assert!(key.len() >= 24, "{} bytes", key.len());
    assert!(created["id"].as_str().is_some_and(|id| !id.is_empty()));
    assert_eq!(created["created_at"], json!(world.clock.now()));
    let other = world.create_secret(ACME).await;
    assert_ne!(other.text, text, "every secret is new");
}

async fn a_secret_is_shown_once_and_never_listed_with_its_value(world: World) {
    let first = world.create_secret(ACME).await;
    let second = world.create_secret(ACME).await;
    let reply = world
        .get("/v1/webhook-secrets")
        .send()
        .await
        .expect(StatusCode::OK);
    let listed = reply.json();
    let mut ids: Vec<&str> = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    ids.sort();
    let mut expected = [first.id.as_str(), second.id.as_str()];
    expected.sort();
    assert_eq!(ids, expected);
    let text = reply.text();
    for secret in [&first, &second] {
        let encoded = secret.text.strip_prefix("whsec_").unwrap();
        assert!(
            !text.contains(encoded),
            "a secret's value is listed: {text}"
        );
        assert!(
            !text.contains(&encoded[..16]),
            "part of a secret is listed: {text}"
        );
    }
    assert!(!text.contains("whsec_"), "{text}");
    let settings = world.get("/v1/settings").send().await.text();
    assert!(
        !settings.contains("whsec_") && !settings.contains(&first.id),
        "{settings}"
    );
    assert!(listed["items"][0].get("secret").is_none(), "{listed}");
}

async fn a_rotated_out_secret_keeps_verifying_during_the_overlap_then_stops(world: World) {
    let old = world.create_secret(ACME).await;
    let new = {
        let reply = world
            .post("/v1/webhook-secrets")
            .json(&json!({"previous_secrets_expire_in_seconds": 3600}))
            .send()
            .await
            .expect(StatusCode::CREATED)
            .json();
        let text = reply["secret"].as_str().unwrap().to_string();
        Secret {
            id: reply["id"].as_str().unwrap().into(),
            key: service::signature::WebhookSecret::parse(&text).unwrap(),
            text,
        }
    };
    world
        .deliver(&old, "msg_1", &call_started())
        .await
        .expect(StatusCode::OK);
    world
        .deliver(&new, "msg_2", &call_started())
        .await
        .expect(StatusCode::OK);
    let listed = world.get("/v1/webhook-secrets").send().await.json();
    let old_listed = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == old.id.as_str())
        .unwrap()
        .clone();
    assert_eq!(
        old_listed["expires_at"],
        json!(world.clock.now() + Duration::hours(1)),
        "{listed}"
    );

    world.clock.advance(Duration::minutes(59));
    world
        .deliver(&old, "msg_3", &call_started())
        .await
        .expect(StatusCode::OK);
    world.clock.advance(Duration::minutes(2));
    world
        .deliver(&old, "msg_4", &call_started())
        .await
        .problem(StatusCode::UNAUTHORIZED);
    world
        .deliver(&new, "msg_5", &call_started())
        .await
        .expect(StatusCode::OK);
    let listed = world.get("/v1/webhook-secrets").send().await.json();
    let ids: Vec<_> = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].clone())
        .collect();
    assert_eq!(
        ids,
        [json!(new.id)],
        "an expired secret is no longer listed"
    );
}

async fn a_deleted_secret_stops_verifying_at_once(world: World) {
    let kept = world.create_secret(ACME).await;
    let deleted = world.create_secret(ACME).await;
    world
        .deliver(&deleted, "msg_1", &call_started())
        .await
        .expect(StatusCode::OK);
    let path = format!("/v1/webhook-secrets/{}", deleted.id);
    world
        .delete(&path)
        .send()
        .await
        .expect(StatusCode::NO_CONTENT);
    world
        .deliver(&deleted, "msg_2", &call_started())
        .await
        .problem(StatusCode::UNAUTHORIZED);
    world
        .deliver(&kept, "msg_3", &call_started())
        .await
        .expect(StatusCode::OK);
    let listed = world.get("/v1/webhook-secrets").send().await.json();
    assert!(!listed.to_string().contains(&deleted.id), "{listed}");
    world
        .delete(&path)
        .send()
        .await
        .problem(StatusCode::NOT_FOUND);
    world
        .delete("/v1/webhook-secrets/..")
        .send()
        .await
        .problem(StatusCode::NOT_FOUND);
}

async fn a_secret_request_with_bad_fields_is_refused(world: World) {
    for (body, field) in [
        (
            json!({"previous_secrets_expire_in_seconds": -1}),
            "previous_secrets_expire_in_seconds",
        ),
        (
            json!({"previous_secrets_expire_in_seconds": 2592001}),
            "previous_secrets_expire_in_seconds",
        ),
        (
            json!({"previous_secrets_expire_in_seconds": "an hour"}),
            "previous_secrets_expire_in_seconds",
        ),
        (json!({"colour": "red"}), "colour"),
        (json!([]), "body"),
    ] {
        let reply = world.post("/v1/webhook-secrets").json(&body).send().await;
        assert_eq!(reply.invalid_fields(), [field], "{body}");
    }
    let reply = world.post("/v1/webhook-secrets").raw("{").send().await;
    assert_eq!(reply.invalid_fields(), ["body"]);
    let listed = world.get("/v1/webhook-secrets").send().await.json();
    assert_eq!(listed["items"], json!([]), "nothing was created");
}
