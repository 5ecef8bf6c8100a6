//! The legal floor over HTTP: the rule that held a follow-up back shows in the preview
//! and in the views, and the account's switches are validated.

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::support::*;

for_each_store!(
    a_state_rule_that_holds_a_call_back_shows_in_the_preview_and_the_views,
    calling_rules_are_validated_and_contact_state_too,
);

/// A callback to a Miami number for 20:30 in New York, with an agent open until 21:00.
async fn florida_evening(world: &World) -> (Secret, Value) {
    let secret = world.configure_acme().await;
    let agent = set(
        set(
            agent_json(),
            "/allowed_hours",
            json!({"start": "08:00", "end": "21:00"}),
        ),
        "/allowed_days",
        json!(["mon", "tue", "wed", "thu", "fri", "sat", "sun"]),
    );
    world
        .put("/v1/agents/agent-1/followup-settings")
        .json(&agent)
        .send()
        .await
        .expect(StatusCode::OK);
    let now = world.clock.now();
    let call = set(
        callback_call("call-1", "contact-1", now, "2030-01-16T01:30:00Z"),
        "/contact/phone",
        json!("+13055550123"),
    );
    (secret, call)
}

fn call_of(items: &[Value]) -> Value {
    items
        .iter()
        .find(|f| f["channel"] == "call")
        .cloned()
        .unwrap_or_else(|| panic!("no call in {items:?}"))
}

async fn a_state_rule_that_holds_a_call_back_shows_in_the_preview_and_the_views(world: World) {
    let (secret, call) = florida_evening(&world).await;
    let preview = world
        .post("/v1/decisions/preview")
        .json(&call)
        .send()
        .await
        .expect(StatusCode::OK)
        .json();
    let decided = call_of(preview["followups"].as_array().unwrap());
    // Florida ends calls at 20:00: the next morning at 08:00 in New York.
    assert_eq!(decided["due_at"], "2030-01-16T13:00:00Z", "{decided}");
    assert_eq!(decided["trace"][0]["rules"], json!(["state_hours:FL"]));

    world
        .deliver(&secret, "msg_1", &call)
        .await
        .expect(StatusCode::OK);
    let stored = call_of(&world.followups_of(ACME, "contact-1").await);
    assert_eq!(stored["due_at"], "2030-01-16T13:00:00Z");
    assert_eq!(stored["trace"][0]["rules"], json!(["state_hours:FL"]));
    assert_eq!(stored["zone_source"], "contact");
}

async fn calling_rules_are_validated_and_contact_state_too(world: World) {
    let (secret, call) = florida_evening(&world).await;
    let bad = set(
        account_json(),
        "/calling_rules",
        json!({"disabled": ["allowed_window"]}),
    );
    let reply = world.put("/v1/settings").json(&bad).send().await;
    assert_eq!(reply.invalid_fields(), ["calling_rules.disabled"]);
    let off = set(
        account_json(),
        "/calling_rules",
        json!({"disabled": ["state_hours:FL"]}),
    );
    let saved = world
        .put("/v1/settings")
        .json(&off)
        .send()
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(
        saved["calling_rules"]["disabled"],
        json!(["state_hours:FL"])
    );

    let reply = world
        .deliver(
            &secret,
            "msg_bad",
            &set(call, "/contact/state", json!("Florida")),
        )
        .await;
    assert_eq!(reply.invalid_fields(), ["contact.state"]);
}
