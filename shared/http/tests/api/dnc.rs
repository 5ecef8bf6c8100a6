//! The do-not-call list: phone numbers (E.164, `+` sent as `%2B`) and email addresses.

use std::collections::BTreeSet;

use axum::http::StatusCode;
use chrono::Duration;
use serde_json::{Value, json};

use crate::support::*;

for_each_store!(
    a_phone_number_and_an_email_address_go_on_the_list_idempotently,
    putting_an_entry_again_answers_with_the_stored_entry,
    an_email_domain_matches_however_it_was_typed,
    the_list_is_paginated_and_each_entry_is_visited_once,
    a_removed_entry_is_gone_and_removing_it_again_is_404,
    an_entry_that_is_neither_a_phone_number_nor_an_email_is_refused,
    a_number_on_the_list_gets_no_sms_from_the_webhook,
);

async fn entries(world: &World) -> Vec<Value> {
    world
        .get("/v1/dnc?limit=100")
        .send()
        .await
        .expect(StatusCode::OK)
        .json()["items"]
        .as_array()
        .unwrap()
        .clone()
}

async fn a_phone_number_and_an_email_address_go_on_the_list_idempotently(world: World) {
    let first = world
        .put("/v1/dnc/%2B14155552671")
        .send()
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(first["value"], "+14155552671");
    assert_eq!(first["added_at"], json!(world.clock.now()));
    world
        .put("/v1/dnc/ana@example.com")
        .send()
        .await
        .expect(StatusCode::OK);

    world.clock.advance(Duration::hours(1));
    world
        .put("/v1/dnc/%2B14155552671")
        .send()
        .await
        .expect(StatusCode::OK);
    world
        .put("/v1/dnc/ana@example.com")
        .send()
        .await
        .expect(StatusCode::OK);
    let listed = entries(&world).await;
    assert_eq!(listed.len(), 2, "{listed:?}");
    let phone = listed
        .iter()
        .find(|e| e["value"] == "+14155552671")
        .unwrap();
    assert_eq!(
        phone["added_at"], first["added_at"],
        "the first date is kept"
    );
    assert!(
        listed.iter().any(|e| e["value"] == "ana@example.com"),
        "{listed:?}"
    );
}

async fn putting_an_entry_again_answers_with_the_stored_entry(world: World) {
    for path in ["/v1/dnc/%2B14155552671", "/v1/dnc/ana@example.com"] {
        let first = world.put(path).send().await.expect(StatusCode::OK).json();
        world.clock.advance(Duration::hours(1));
        let again = world.put(path).send().await.expect(StatusCode::OK).json();
        assert_eq!(again, first, "{path}: PUT is idempotent, its answer too");
    }
}

async fn an_email_domain_matches_however_it_was_typed(world: World) {
    let secret = world.configure_acme().await;
    let entry = world
        .put("/v1/dnc/ana@EXAMPLE.Com")
        .send()
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(entry["value"], "ana@example.com");
    // A raw `+` in a path is a plus (only a query string reads it as a space).
    let entry = world
        .put("/v1/dnc/+14155552671")
        .send()
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(entry["value"], "+14155552671");
    assert_eq!(entries(&world).await.len(), 2);
    let body = answered_call("call-1", "contact-1", world.clock.now());
    world
        .deliver(&secret, "msg_1", &body)
        .await
        .expect(StatusCode::OK);
    for channel in ["sms", "email"] {
        let followup = world.one_followup("contact-1", channel).await;
        assert_eq!(followup["reason"], "dnc", "{followup}");
    }
    world
        .delete("/v1/dnc/ana@example.COM")
        .send()
        .await
        .expect(StatusCode::NO_CONTENT);
    world
        .delete("/v1/dnc/%2B14155552671")
        .send()
        .await
        .expect(StatusCode::NO_CONTENT);
    assert!(entries(&world).await.is_empty());
}

async fn the_list_is_paginated_and_each_entry_is_visited_once(world: World) {
    let mut added = BTreeSet::new();
    for i in 0..5 {
        let number = format!("+1415555010{i}");
        world
            .put(&format!("/v1/dnc/{}", number.replace('+', "%2B")))
            .send()
            .await
            .expect(StatusCode::OK);
        added.insert(number);
    }
    world
        .put("/v1/dnc/bob@example.com")
        .send()
        .await
        .expect(StatusCode::OK);
    added.insert("bob@example.com".into());

    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..10 {
        let path = match &cursor {
            Some(c) => format!("/v1/dnc?limit=2&cursor={c}"),
            None => "/v1/dnc?limit=2".into(),
        };
        let page = world.get(&path).send().await.expect(StatusCode::OK).json();
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= 2, "{page}");
        seen.extend(
            items
                .iter()
                .map(|e| e["value"].as_str().unwrap().to_string()),
        );
        cursor = page["next_cursor"].as_str().map(str::to_string);
        if cursor.is_none() {
            break;
        }
    }
    assert!(cursor.is_none(), "the pages end");
    assert_eq!(seen.len(), added.len(), "each once: {seen:?}");
    assert_eq!(seen.into_iter().collect::<BTreeSet<_>>(), added);
}

async fn a_removed_entry_is_gone_and_removing_it_again_is_404(world: World) {
    world
        .put("/v1/dnc/%2B14155552671")
        .send()
        .await
        .expect(StatusCode::OK);
    world
        .put("/v1/dnc/ana@example.com")
        .send()
        .await
        .expect(StatusCode::OK);
    world
        .delete("/v1/dnc/%2B14155552671")
        .send()
        .await
        .expect(StatusCode::NO_CONTENT);
    let listed = entries(&world).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["value"], "ana@example.com");
    world
        .delete("/v1/dnc/%2B14155552671")
        .send()
        .await
        .problem(StatusCode::NOT_FOUND);
    world
        .delete("/v1/dnc/ana@example.com")
        .send()
        .await
        .expect(StatusCode::NO_CONTENT);
    assert!(entries(&world).await.is_empty());
}

async fn an_entry_that_is_neither_a_phone_number_nor_an_email_is_refused(world: World) {
    for bad in [
        "12",
        "not-a-number",
        "ana@",
        "%2B1",
        "4155552671x",
        "%2B1415555267a",
        "ana%0D%0A@example.com",
    ] {
        let path = format!("/v1/dnc/{bad}");
        assert_eq!(
            world.put(&path).send().await.invalid_fields(),
            ["phone_or_email"],
            "PUT {bad}"
        );
        assert_eq!(
            world.delete(&path).send().await.invalid_fields(),
            ["phone_or_email"],
            "DELETE {bad}"
        );
    }
    assert!(entries(&world).await.is_empty(), "nothing stored");
}

async fn a_number_on_the_list_gets_no_sms_from_the_webhook(world: World) {
    let secret = world.configure_acme().await;
    world
        .put("/v1/dnc/%2B14155552671")
        .send()
        .await
        .expect(StatusCode::OK);
    let body = answered_call("call-1", "contact-1", world.clock.now());
    world
        .deliver(&secret, "msg_1", &body)
        .await
        .expect(StatusCode::OK);
    let sms = world.one_followup("contact-1", "sms").await;
    assert_eq!(
        (sms["status"].as_str(), sms["reason"].as_str()),
        (Some("suppressed"), Some("dnc")),
        "{sms}"
    );
    let email = world.one_followup("contact-1", "email").await;
    assert_eq!(
        email["status"], "scheduled",
        "the email address is not on the list"
    );
}
