//! `GET /v1/agents` and `GET /v1/campaigns`: the agents and campaigns that have
//! follow-up settings, with them, by id, a page at a time, per account.

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::support::*;

for_each_store!(
    agents_and_campaigns_with_settings_are_listed_by_id_a_page_at_a_time,
    the_lists_hold_only_the_callers_account,
);

async fn agents_and_campaigns_with_settings_are_listed_by_id_a_page_at_a_time(world: World) {
    for id in ["agent-b", "agent-a", "agent-c"] {
        saved(
            &world,
            &format!("/v1/agents/{id}/followup-settings"),
            &agent_json(),
        )
        .await;
    }
    saved(
        &world,
        "/v1/campaigns/camp-1/followup-settings",
        &campaign_json(),
    )
    .await;
    saved(&world, "/v1/settings", &account_json()).await;

    let first = world
        .get("/v1/agents?limit=2")
        .send()
        .await
        .expect(StatusCode::OK)
        .json();
    let ids = |page: &Value| -> Vec<String> {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(ids(&first), ["agent-a", "agent-b"]);
    assert_eq!(
        first["items"][0]["settings"]["allowed_hours"]["start"],
        "09:00"
    );
    let cursor = first["next_cursor"].as_str().expect("a next page");
    let second = world
        .get(&format!("/v1/agents?limit=2&cursor={cursor}"))
        .send()
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(ids(&second), ["agent-c"]);
    assert!(second.get("next_cursor").is_none(), "{second}");

    let campaigns = world
        .get("/v1/campaigns")
        .send()
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(
        ids(&campaigns),
        ["camp-1"],
        "agents, secrets and settings are not campaigns"
    );
    assert_eq!(
        campaigns["items"][0]["settings"]["sms"]["template"],
        "meeting_request"
    );
    world
        .get("/v1/campaigns?limit=zero")
        .send()
        .await
        .problem(StatusCode::BAD_REQUEST);
}

async fn the_lists_hold_only_the_callers_account(world: World) {
    saved(
        &world,
        "/v1/campaigns/camp-1/followup-settings",
        &campaign_json(),
    )
    .await;
    let other = world
        .get("/v1/campaigns")
        .by(GLOBEX)
        .send()
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(other["items"], json!([]));
    world
        .get("/v1/agents")
        .anonymous()
        .send()
        .await
        .problem(StatusCode::UNAUTHORIZED);
}
