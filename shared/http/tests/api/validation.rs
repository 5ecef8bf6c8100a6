//! Bad input: a 400 problem+json whose `errors[]` name every bad field, and nothing
//! stored (the settings read afterwards are still the version stored before).

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::support::*;

const ACCOUNT: &str = "/v1/settings";
const AGENT: &str = "/v1/agents/agent-1/followup-settings";
const CAMPAIGN: &str = "/v1/campaigns/camp-1/followup-settings";

/// Stores the fixtures once (each at v1), so a refused write can be seen to change nothing.
async fn store_fixtures(world: &World) {
    for (path, body) in [
        (ACCOUNT, account_json()),
        (AGENT, agent_json()),
        (CAMPAIGN, campaign_json()),
    ] {
        let reply = world
            .put(path)
            .json(&body)
            .send()
            .await
            .expect(StatusCode::OK);
        assert_eq!(reply.etag(), Some("\"v1\""));
    }
}

/// The settings at `path` are still the fixture at v1.
async fn unchanged(world: &World, path: &str, fixture: &Value) {
    let read = world.get(path).send().await.expect(StatusCode::OK);
    assert_eq!(read.etag(), Some("\"v1\""), "{path} was not changed");
    let body = read.json();
    for (key, value) in fixture.as_object().unwrap() {
        if value.is_string() {
            assert_eq!(&body[key], value, "{path}: {key} unchanged");
        }
    }
}

/// PUTs `body` at `path`, expects a 400 naming `field`, and checks nothing changed.
async fn refused(world: &World, path: &str, body: Value, field: &str) {
    let reply = world.put(path).json(&body).send().await;
    let fields = reply.invalid_fields();
    assert!(
        fields.iter().any(|f| f == field),
        "{path}: expected `{field}` in {fields:?}: {reply}"
    );
    let fixture = match path {
        ACCOUNT => account_json(),
        AGENT => agent_json(),
        _ => campaign_json(),
    };
    unchanged(world, path, &fixture).await;
}

for_each_store!(
    malformed_json_is_refused_naming_the_body,
    a_field_of_the_wrong_type_is_refused_naming_it,
    an_unknown_field_is_refused_naming_it,
    an_unknown_sms_template_is_refused,
    an_origination_number_that_is_not_e164_is_refused,
    an_invalid_email_address_is_refused,
    an_unknown_time_zone_is_refused,
    allowed_hours_must_start_before_they_end,
    allowed_days_must_not_be_empty,
    a_meeting_link_must_be_https,
    a_line_break_in_a_sender_name_or_subject_is_refused,
    an_unknown_variable_in_an_email_is_refused,
    every_bad_field_of_a_request_is_listed,
    an_invalid_id_in_a_path_is_refused_naming_it,
    a_dot_or_dot_dot_is_not_an_id,
    an_if_match_that_is_not_an_etag_of_this_api_is_refused,
    a_limit_outside_one_to_a_hundred_is_refused,
    unknown_or_repeated_query_parameters_are_refused,
    an_unknown_status_or_channel_filter_is_refused,
    a_body_over_256_kib_is_413_on_every_route_that_takes_one,
);

async fn malformed_json_is_refused_naming_the_body(world: World) {
    store_fixtures(&world).await;
    for path in [ACCOUNT, AGENT, CAMPAIGN] {
        let reply = world.put(path).raw("{\"allowed_hours\": ").send().await;
        assert_eq!(reply.invalid_fields(), ["body"], "{path}");
        let reply = world.put(path).raw("[1, 2]").send().await;
        assert_eq!(reply.invalid_fields(), ["body"], "{path}: not an object");
    }
    unchanged(&world, ACCOUNT, &account_json()).await;
    unchanged(&world, AGENT, &agent_json()).await;
    unchanged(&world, CAMPAIGN, &campaign_json()).await;
}

async fn a_field_of_the_wrong_type_is_refused_naming_it(world: World) {
    store_fixtures(&world).await;
    refused(
        &world,
        AGENT,
        set(agent_json(), "/calls/max_retries", json!("two")),
        "calls.max_retries",
    )
    .await;
    refused(
        &world,
        AGENT,
        set(agent_json(), "/calls/enabled", json!("yes")),
        "calls.enabled",
    )
    .await;
    refused(
        &world,
        AGENT,
        set(agent_json(), "/allowed_days", json!("mon")),
        "allowed_days",
    )
    .await;
    refused(
        &world,
        CAMPAIGN,
        set(campaign_json(), "/sms", json!(true)),
        "sms",
    )
    .await;
    refused(
        &world,
        ACCOUNT,
        set(account_json(), "/default_sender_name", json!(42)),
        "default_sender_name",
    )
    .await;
}

async fn an_unknown_field_is_refused_naming_it(world: World) {
    store_fixtures(&world).await;
    refused(
        &world,
        ACCOUNT,
        set(account_json(), "/colour", json!("red")),
        "colour",
    )
    .await;
    refused(
        &world,
        AGENT,
        set(agent_json(), "/calls/colour", json!("red")),
        "calls.colour",
    )
    .await;
    refused(
        &world,
        CAMPAIGN,
        set(campaign_json(), "/email/bcc", json!("x@example.com")),
        "email.bcc",
    )
    .await;
}

async fn an_unknown_sms_template_is_refused(world: World) {
    store_fixtures(&world).await;
    refused(
        &world,
        CAMPAIGN,
        set(campaign_json(), "/sms/template", json!("haiku")),
        "sms.template",
    )
    .await;
}

async fn an_origination_number_that_is_not_e164_is_refused(world: World) {
    store_fixtures(&world).await;
    for bad in ["555-1234", "+1", "14155552671", "+1415555267a"] {
        refused(
            &world,
            ACCOUNT,
            set(account_json(), "/sms_origination_number", json!(bad)),
            "sms_origination_number",
        )
        .await;
    }
}

async fn an_invalid_email_address_is_refused(world: World) {
    store_fixtures(&world).await;
    for bad in [
        "not-an-email",
        "ana@",
        "@example.com",
        "ana@example.com\r\nBcc: x@y.com",
    ] {
        refused(
            &world,
            ACCOUNT,
            set(account_json(), "/email_from_address", json!(bad)),
            "email_from_address",
        )
        .await;
    }
}

async fn an_unknown_time_zone_is_refused(world: World) {
    store_fixtures(&world).await;
    refused(
        &world,
        ACCOUNT,
        set(
            account_json(),
            "/default_time_zone",
            json!("Mars/Olympus_Mons"),
        ),
        "default_time_zone",
    )
    .await;
    refused(
        &world,
        AGENT,
        set(agent_json(), "/time_zone", json!("EST5EDT-ish")),
        "time_zone",
    )
    .await;
    refused(
        &world,
        CAMPAIGN,
        set(campaign_json(), "/time_zone", json!("New York")),
        "time_zone",
    )
    .await;
}

async fn allowed_hours_must_start_before_they_end(world: World) {
    store_fixtures(&world).await;
    for (start, end) in [("18:00", "09:00"), ("09:00", "09:00")] {
        let body = set(
            agent_json(),
            "/allowed_hours",
            json!({"start": start, "end": end}),
        );
        refused(&world, AGENT, body, "allowed_hours.end").await;
    }
    let quiet = set(
        account_json(),
        "/quiet_hours",
        json!({"start": "21:00", "end": "08:00"}),
    );
    refused(&world, ACCOUNT, quiet, "quiet_hours.end").await;
    let malformed = set(
        agent_json(),
        "/allowed_hours",
        json!({"start": "9am", "end": "18:00"}),
    );
    refused(&world, AGENT, malformed, "allowed_hours.start").await;
}

async fn allowed_days_must_not_be_empty(world: World) {
    store_fixtures(&world).await;
    refused(
        &world,
        AGENT,
        set(agent_json(), "/allowed_days", json!([])),
        "allowed_days",
    )
    .await;
    refused(
        &world,
        AGENT,
        set(agent_json(), "/allowed_days", json!(["funday"])),
        "allowed_days",
    )
    .await;
}

async fn a_meeting_link_must_be_https(world: World) {
    store_fixtures(&world).await;
    for bad in [
        "http://cal.example.com/acme",
        "javascript:alert(1)",
        "cal.example.com",
    ] {
        refused(
            &world,
            ACCOUNT,
            set(account_json(), "/default_meeting_link", json!(bad)),
            "default_meeting_link",
        )
        .await;
        refused(
            &world,
            CAMPAIGN,
            set(campaign_json(), "/sms/meeting_link", json!(bad)),
            "sms.meeting_link",
        )
        .await;
        refused(
            &world,
            CAMPAIGN,
            set(campaign_json(), "/email/meeting_link", json!(bad)),
            "email.meeting_link",
        )
        .await;
    }
}

async fn a_line_break_in_a_sender_name_or_subject_is_refused(world: World) {
    store_fixtures(&world).await;
    for bad in [
        "Acme\r\nBcc: victim@example.com",
        "Acme\nTeam",
        "Acme\rTeam",
    ] {
        refused(
            &world,
            ACCOUNT,
            set(account_json(), "/default_sender_name", json!(bad)),
            "default_sender_name",
        )
        .await;
        refused(
            &world,
            CAMPAIGN,
            set(campaign_json(), "/email/from_name", json!(bad)),
            "email.from_name",
        )
        .await;
        refused(
            &world,
            CAMPAIGN,
            set(campaign_json(), "/sms/sender_name", json!(bad)),
            "sms.sender_name",
        )
        .await;
        refused(
            &world,
            CAMPAIGN,
            set(campaign_json(), "/email/subject", json!(bad)),
            "email.subject",
        )
        .await;
        refused(
            &world,
            CAMPAIGN,
            set(campaign_json(), "/missed_call_email/subject", json!(bad)),
            "missed_call_email.subject",
        )
        .await;
    }
}

async fn an_unknown_variable_in_an_email_is_refused(world: World) {
    store_fixtures(&world).await;
    let body = "Hi {{contact_name}}, your colour is {{favourite_colour}}";
    refused(
        &world,
        CAMPAIGN,
        set(campaign_json(), "/email/body", json!(body)),
        "email.body",
    )
    .await;
    refused(
        &world,
        CAMPAIGN,
        set(campaign_json(), "/missed_call_email/body", json!(body)),
        "missed_call_email.body",
    )
    .await;
    refused(
        &world,
        CAMPAIGN,
        set(campaign_json(), "/email/subject", json!("Hi {{nickname}}")),
        "email.subject",
    )
    .await;
}

async fn every_bad_field_of_a_request_is_listed(world: World) {
    store_fixtures(&world).await;
    let mut body = set(campaign_json(), "/sms/template", json!("haiku"));
    body = set(body, "/sms/meeting_link", json!("http://cal.example.com"));
    body = set(body, "/email/from_name", json!("Ana\r\nBcc: x@y.com"));
    body = set(body, "/time_zone", json!("Mars/Olympus_Mons"));
    body = set(body, "/colour", json!("red"));
    let reply = world.put(CAMPAIGN).json(&body).send().await;
    let mut fields = reply.invalid_fields();
    fields.sort();
    assert_eq!(
        fields,
        [
            "colour",
            "email.from_name",
            "sms.meeting_link",
            "sms.template",
            "time_zone"
        ],
        "{reply}"
    );
    unchanged(&world, CAMPAIGN, &campaign_json()).await;

    // A bad id in the path and a bad body are reported together.
    let bad_agent = set(agent_json(), "/allowed_days", json!([]));
    let reply = world
        .put("/v1/agents/a%23b/followup-settings")
        .json(&bad_agent)
        .send()
        .await;
    let mut fields = reply.invalid_fields();
    fields.sort();
    assert_eq!(fields, ["agent_id", "allowed_days"], "{reply}");
}

async fn an_invalid_id_in_a_path_is_refused_naming_it(world: World) {
    store_fixtures(&world).await;
    let long = "a".repeat(200);
    for id in ["a%23b", long.as_str(), "a%20b", "a%2Fb", "%C3%A9"] {
        for (template, field, body) in [
            ("/v1/agents/{}/followup-settings", "agent_id", agent_json()),
            (
                "/v1/campaigns/{}/followup-settings",
                "campaign_id",
                campaign_json(),
            ),
        ] {
            let path = template.replace("{}", id);
            assert_eq!(
                world.get(&path).send().await.invalid_fields(),
                [field],
                "GET {path}"
            );
            assert_eq!(
                world.put(&path).json(&body).send().await.invalid_fields(),
                [field],
                "PUT {path}"
            );
            assert_eq!(
                world.delete(&path).send().await.invalid_fields(),
                [field],
                "DELETE {path}"
            );
        }
        let path = format!("/v1/campaigns/{id}/followups");
        assert_eq!(
            world.get(&path).send().await.invalid_fields(),
            ["campaign_id"],
            "GET {path}"
        );
        let path = format!("/v1/contacts/{id}/followups");
        assert_eq!(
            world.get(&path).send().await.invalid_fields(),
            ["contact_id"],
            "GET {path}"
        );
    }
    // A follow-up id that cannot exist is simply not found.
    world
        .get("/v1/followups/..")
        .send()
        .await
        .problem(StatusCode::NOT_FOUND);
    world
        .get(&format!("/v1/followups/{long}"))
        .send()
        .await
        .problem(StatusCode::NOT_FOUND);
}

async fn a_dot_or_dot_dot_is_not_an_id(world: World) {
    for id in ["..", ".", "%2E%2E"] {
        for (template, field, body) in [
            ("/v1/agents/{}/followup-settings", "agent_id", agent_json()),
            (
                "/v1/campaigns/{}/followup-settings",
                "campaign_id",
                campaign_json(),
            ),
        ] {
            let path = template.replace("{}", id);
            assert_eq!(
                world.put(&path).json(&body).send().await.invalid_fields(),
                [field],
                "PUT {path}"
            );
            assert_eq!(
                world.get(&path).send().await.invalid_fields(),
                [field],
                "GET {path}"
            );
        }
        let path = format!("/v1/contacts/{id}/followups");
        assert_eq!(
            world.get(&path).send().await.invalid_fields(),
            ["contact_id"],
            "GET {path}"
        );
    }
}

async fn an_if_match_that_is_not_an_etag_of_this_api_is_refused(world: World) {
    store_fixtures(&world).await;
    for bad in ["\"banana\"", "\"1\"", "\"v-1\"", "\"v\"", "\"v1.5\""] {
        let body = set(agent_json(), "/time_zone", json!("Europe/Madrid"));
        let reply = world.put(AGENT).if_match(bad).json(&body).send().await;
        assert_eq!(reply.invalid_fields(), ["If-Match"], "{bad}");
        let reply = world.delete(AGENT).if_match(bad).send().await;
        assert_eq!(reply.invalid_fields(), ["If-Match"], "{bad}");
    }
    unchanged(&world, AGENT, &agent_json()).await;
}

async fn a_limit_outside_one_to_a_hundred_is_refused(world: World) {
    for list in [
        "/v1/dnc",
        "/v1/campaigns/camp-1/followups",
        "/v1/contacts/contact-1/followups",
    ] {
        for bad in ["0", "abc", "101", "-1", "1.5", ""] {
            let reply = world.get(&format!("{list}?limit={bad}")).send().await;
            assert_eq!(reply.invalid_fields(), ["limit"], "{list}?limit={bad}");
        }
        world
            .get(&format!("{list}?limit=100"))
            .send()
            .await
            .expect(StatusCode::OK);
    }
}

async fn unknown_or_repeated_query_parameters_are_refused(world: World) {
    for list in [
        "/v1/dnc",
        "/v1/campaigns/camp-1/followups",
        "/v1/contacts/contact-1/followups",
    ] {
        let reply = world.get(&format!("{list}?colour=red")).send().await;
        assert_eq!(reply.invalid_fields(), ["colour"], "{list}");
        let reply = world.get(&format!("{list}?limit=1&limit=2")).send().await;
        assert_eq!(reply.invalid_fields(), ["limit"], "{list}");
    }
    let reply = world
        .get("/v1/campaigns/camp-1/followups?status=scheduled&status=sent")
        .send()
        .await;
    assert_eq!(reply.invalid_fields(), ["status"]);
}

async fn an_unknown_status_or_channel_filter_is_refused(world: World) {
    let reply = world
        .get("/v1/campaigns/camp-1/followups?status=lost")
        .send()
        .await;
    assert_eq!(reply.invalid_fields(), ["status"]);
    let reply = world
        .get("/v1/campaigns/camp-1/followups?channel=fax")
        .send()
        .await;
    assert_eq!(reply.invalid_fields(), ["channel"]);
    let reply = world
        .get("/v1/campaigns/camp-1/followups?status=lost&channel=fax")
        .send()
        .await;
    let mut fields = reply.invalid_fields();
    fields.sort();
    assert_eq!(fields, ["channel", "status"]);
}

async fn a_body_over_256_kib_is_413_on_every_route_that_takes_one(world: World) {
    store_fixtures(&world).await;
    let padding = "x".repeat(256 * 1024);
    let huge = json!({"default_sender_name": padding}).to_string();
    for (method, path) in [
        ("PUT", ACCOUNT),
        ("PUT", AGENT),
        ("PUT", CAMPAIGN),
        ("POST", "/v1/webhook-secrets"),
        ("POST", "/v1/decisions/preview"),
        ("POST", "/v1/followups/fu_0/send"),
    ] {
        let reply = world
            .call(method.parse().unwrap(), path)
            .raw(huge.clone())
            .send()
            .await;
        let problem = reply.problem(StatusCode::PAYLOAD_TOO_LARGE);
        assert!(
            problem["detail"].as_str().unwrap().contains("262144"),
            "{reply}"
        );
    }
    unchanged(&world, ACCOUNT, &account_json()).await;
    unchanged(&world, AGENT, &agent_json()).await;
    // Just under the limit is parsed (and refused for what it says, not its size).
    let under = json!({"default_sender_name": "x".repeat(256 * 1024 - 100)}).to_string();
    assert!(under.len() <= 256 * 1024);
    let reply = world.put(ACCOUNT).raw(under).send().await;
    assert_eq!(reply.invalid_fields(), ["default_sender_name"]);
}
