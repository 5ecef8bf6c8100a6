//! Account, agent and campaign settings: read, create, replace under `If-Match`, delete.

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::support::*;

/// GET 404 → PUT v1 → GET → PUT If-Match v1 → v2 → stale PUT and DELETE 412 (nothing
/// changed) → DELETE 204 → GET 404.
async fn settings_lifecycle(world: &World, path: &str, first: Value, second: Value) {
    let missing = world.get(path).send().await;
    missing.problem(StatusCode::NOT_FOUND);

    let created = world
        .put(path)
        .json(&first)
        .send()
        .await
        .expect(StatusCode::OK);
    assert_eq!(created.etag(), Some("\"v1\""));
    let stored = created.json();
    let read = world.get(path).send().await.expect(StatusCode::OK);
    assert_eq!(read.etag(), Some("\"v1\""));
    assert_eq!(read.json(), stored, "GET returns what PUT stored");

    let replaced = world
        .put(path)
        .if_match("\"v1\"")
        .json(&second)
        .send()
        .await
        .expect(StatusCode::OK);
    assert_eq!(replaced.etag(), Some("\"v2\""));
    let current = replaced.json();
    assert_ne!(current, stored);

    let stale = world.put(path).if_match("\"v1\"").json(&first).send().await;
    let problem = stale.problem(StatusCode::PRECONDITION_FAILED);
    assert!(
        problem["detail"].as_str().unwrap().contains("\"v2\""),
        "{stale}"
    );
    let stale_delete = world.delete(path).if_match("\"v1\"").send().await;
    stale_delete.problem(StatusCode::PRECONDITION_FAILED);
    let read = world.get(path).send().await.expect(StatusCode::OK);
    assert_eq!(read.etag(), Some("\"v2\""), "a stale write changes nothing");
    assert_eq!(read.json(), current);

    world
        .delete(path)
        .if_match("\"v2\"")
        .send()
        .await
        .expect(StatusCode::NO_CONTENT);
    world.get(path).send().await.problem(StatusCode::NOT_FOUND);
}

for_each_store!(
    account_settings_are_the_defaults_at_version_zero_until_saved,
    account_settings_are_replaced_only_over_the_version_named_by_if_match,
    account_settings_are_created_with_if_match_v0_once,
    agent_settings_go_through_create_read_replace_and_delete_with_etags,
    campaign_settings_go_through_create_read_replace_and_delete_with_etags,
    stored_settings_keep_every_field_that_was_put,
    a_put_without_if_match_replaces_whatever_version_is_there,
    deleting_settings_that_do_not_exist_is_404,
);

async fn account_settings_are_the_defaults_at_version_zero_until_saved(world: World) {
    let reply = world
        .get("/v1/settings")
        .send()
        .await
        .expect(StatusCode::OK);
    assert_eq!(reply.etag(), Some("\"v0\""));
    assert_eq!(reply.content_type(), Some("application/json"));
    let defaults = reply.json();
    assert_eq!(defaults["default_time_zone"], "UTC", "{defaults}");
    assert_eq!(
        defaults["quiet_hours"],
        json!({"start": "08:00", "end": "21:00"}),
        "{defaults}"
    );
}

async fn account_settings_are_replaced_only_over_the_version_named_by_if_match(world: World) {
    let created = world
        .put("/v1/settings")
        .json(&account_json())
        .send()
        .await
        .expect(StatusCode::OK);
    assert_eq!(created.etag(), Some("\"v1\""));
    let stored = created.json();
    assert_eq!(stored["default_sender_name"], "Acme Team");
    assert_eq!(stored["default_time_zone"], "America/New_York");
    let read = world
        .get("/v1/settings")
        .send()
        .await
        .expect(StatusCode::OK);
    assert_eq!((read.etag(), read.json()), (Some("\"v1\""), stored.clone()));

    let renamed = set(account_json(), "/default_sender_name", json!("Acme Sales"));
    let replaced = world
        .put("/v1/settings")
        .if_match("\"v1\"")
        .json(&renamed)
        .send()
        .await
        .expect(StatusCode::OK);
    assert_eq!(replaced.etag(), Some("\"v2\""));
    assert_eq!(replaced.json()["default_sender_name"], "Acme Sales");

    // Stale: v1 again, and v0 ("not saved yet") now that it is saved.
    for stale in ["\"v1\"", "\"v0\""] {
        let reply = world
            .put("/v1/settings")
            .if_match(stale)
            .json(&account_json())
            .send()
            .await;
        reply.problem(StatusCode::PRECONDITION_FAILED);
    }
    let read = world
        .get("/v1/settings")
        .send()
        .await
        .expect(StatusCode::OK);
    assert_eq!(read.etag(), Some("\"v2\""));
    assert_eq!(read.json()["default_sender_name"], "Acme Sales");
}

async fn account_settings_are_created_with_if_match_v0_once(world: World) {
    let created = world
        .put("/v1/settings")
        .if_match("\"v0\"")
        .json(&account_json())
        .send()
        .await;
    assert_eq!(created.expect(StatusCode::OK).etag(), Some("\"v1\""));
    let again = world
        .put("/v1/settings")
        .if_match("\"v0\"")
        .json(&account_json())
        .send()
        .await;
    again.problem(StatusCode::PRECONDITION_FAILED);
}

async fn agent_settings_go_through_create_read_replace_and_delete_with_etags(world: World) {
    let second = set(
        agent_json(),
        "/allowed_hours",
        json!({"start": "10:00", "end": "16:00"}),
    );
    settings_lifecycle(
        &world,
        "/v1/agents/agent-1/followup-settings",
        agent_json(),
        second,
    )
    .await;
}

async fn campaign_settings_go_through_create_read_replace_and_delete_with_etags(world: World) {
    let second = set(
        campaign_json(),
        "/sms",
        json!({"enabled": true, "template": "conversation_summary"}),
    );
    settings_lifecycle(
        &world,
        "/v1/campaigns/camp-1/followup-settings",
        campaign_json(),
        second,
    )
    .await;
}

async fn stored_settings_keep_every_field_that_was_put(world: World) {
    let agent = world
        .put("/v1/agents/agent-1/followup-settings")
        .json(&agent_json())
        .send()
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(
        agent["allowed_hours"],
        json!({"start": "09:00", "end": "18:00"}),
        "{agent}"
    );
    assert_eq!(
        agent["allowed_days"],
        json!(["mon", "tue", "wed", "thu", "fri"]),
        "{agent}"
    );
    assert_eq!(agent["time_zone"], "America/New_York");
    assert_eq!(agent["calls"]["max_retries"], 2);
    assert_eq!(
        agent["calls"]["when_to_schedule"],
        "When asked to call back."
    );
    assert_eq!(agent["whatsapp"]["template"]["name"], "followup_v1");

    let campaign = world
        .put("/v1/campaigns/camp-1/followup-settings")
        .json(&campaign_json())
        .send()
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(campaign["agent_id"], "agent-1");
    assert_eq!(campaign["sms"]["template"], "meeting_request", "{campaign}");
    assert_eq!(
        campaign["email"]["subject"], "Great talking, {{contact_name}}",
        "{campaign}"
    );
    assert_eq!(campaign["missed_call_email"]["enabled"], true);
}

async fn a_put_without_if_match_replaces_whatever_version_is_there(world: World) {
    let path = "/v1/agents/agent-1/followup-settings";
    world
        .put(path)
        .json(&agent_json())
        .send()
        .await
        .expect(StatusCode::OK);
    let again = world
        .put(path)
        .json(&agent_json())
        .send()
        .await
        .expect(StatusCode::OK);
    assert_eq!(again.etag(), Some("\"v2\""));
    let star = world
        .put(path)
        .if_match("*")
        .json(&agent_json())
        .send()
        .await
        .expect(StatusCode::OK);
    assert_eq!(star.etag(), Some("\"v3\""));
}

async fn deleting_settings_that_do_not_exist_is_404(world: World) {
    for path in [
        "/v1/agents/agent-9/followup-settings",
        "/v1/campaigns/camp-9/followup-settings",
    ] {
        world
            .delete(path)
            .send()
            .await
            .problem(StatusCode::NOT_FOUND);
        world
            .delete(path)
            .if_match("\"v1\"")
            .send()
            .await
            .problem(StatusCode::NOT_FOUND);
    }
}
