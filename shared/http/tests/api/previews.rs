//! `POST /v1/campaigns/{id}/followup-settings/preview`: the campaign's messages rendered
//! by the sending renderer for a sample contact, unsaved settings or saved ones, with
//! the account defaults where the campaign leaves a value blank; stores nothing.

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::support::*;

for_each_store!(
    a_blank_sender_and_link_fall_back_to_the_account_defaults_and_say_so,
    the_sms_segments_count_gsm7_and_ucs2,
    the_email_is_rendered_markdown_with_escaped_values,
    without_settings_in_the_body_the_saved_ones_are_previewed,
    a_template_that_needs_what_the_sample_lacks_is_not_renderable_with_its_reason,
    invalid_settings_are_reported_under_settings_and_nothing_is_stored,
);

const PATH: &str = "/v1/campaigns/camp-1/followup-settings/preview";

async fn with_account(world: &World) {
    saved(world, "/v1/settings", &account_json()).await;
}

async fn preview(world: &World, body: Value) -> Value {
    world
        .post(PATH)
        .json(&body)
        .send()
        .await
        .expect(StatusCode::OK)
        .json()
}

async fn a_blank_sender_and_link_fall_back_to_the_account_defaults_and_say_so(world: World) {
    with_account(&world).await;
    let body = json!({
        "settings": {"sms": {"enabled": true, "template": "meeting_request"}},
        "sample": {"contact_name": "Ana Diaz"}
    });
    let sms = &preview(&world, body).await["sms"]["rendered"];
    assert_eq!(
        sms["text"],
        "Hi Ana Diaz, this is Acme Team. Thanks for your time today. Book a meeting at a time \
         that suits you: https://cal.example.com/acme Reply STOP to opt out."
    );
    assert_eq!(
        sms["sender_name"],
        json!({"value": "Acme Team", "source": "account_default"})
    );
    assert_eq!(
        sms["meeting_link"],
        json!({"value": "https://cal.example.com/acme", "source": "account_default"})
    );
    assert_eq!(sms["enabled"], true);

    let overridden = json!({
        "settings": {"sms": {"template": "meeting_request", "sender_name": "Bo at Acme",
                             "meeting_link": "https://cal.example.com/bo"}},
        "sample": {"contact_name": "Ana Diaz"}
    });
    let sms = &preview(&world, overridden).await["sms"]["rendered"];
    assert_eq!(
        sms["sender_name"],
        json!({"value": "Bo at Acme", "source": "campaign"})
    );
    assert_eq!(sms["meeting_link"]["source"], "campaign");
    assert_eq!(sms["enabled"], false, "previewed although disabled");
    assert!(
        sms["text"]
            .as_str()
            .unwrap()
            .contains("this is Bo at Acme.")
    );
}

async fn the_sms_segments_count_gsm7_and_ucs2(world: World) {
    with_account(&world).await;
    let sms = |name: &str| {
        json!({
            "settings": {"sms": {"enabled": true, "template": "meeting_request"}},
            "sample": {"contact_name": name}
        })
    };
    let plain = &preview(&world, sms("Ana")).await["sms"]["rendered"];
    assert_eq!(plain["encoding"], "gsm7");
    assert_eq!(plain["segments"], 1);
    assert_eq!(plain["max_segments"], 4);
    // One character outside GSM-7 turns the whole SMS into UCS-2 (70 per segment).
    let accented = &preview(&world, sms("Łukasz")).await["sms"]["rendered"];
    assert_eq!(accented["encoding"], "ucs2");
    assert_eq!(accented["segments"], 3, "{accented}");
}

async fn the_email_is_rendered_markdown_with_escaped_values(world: World) {
    with_account(&world).await;
    let body = json!({
        "settings": {"email": {"enabled": true, "ask_for_email": true,
                               "subject": "Hello {{contact_name}}",
                               "body": "Hi **{{contact_name}}**,\n\n[Book]({{meeting_link}})"}},
        "sample": {"contact_name": "<b>Eve</b>"}
    });
    let email = &preview(&world, body).await["email"]["rendered"];
    assert_eq!(email["subject"], "Hello <b>Eve</b>");
    assert_eq!(email["from_name"], "Acme Team");
    assert_eq!(email["from_name_source"], "account_default");
    let html = email["html"].as_str().unwrap();
    assert!(
        html.contains("<strong>&lt;b&gt;Eve&lt;/b&gt;</strong>"),
        "{html}"
    );
    assert!(
        html.contains("<a href=\"https://cal.example.com/acme\">Book</a>"),
        "{html}"
    );
    assert!(email["text"].as_str().unwrap().contains("Hi <b>Eve</b>,"));
}

async fn without_settings_in_the_body_the_saved_ones_are_previewed(world: World) {
    with_account(&world).await;
    world
        .post(PATH)
        .json(&json!({}))
        .send()
        .await
        .problem(StatusCode::NOT_FOUND);
    saved(
        &world,
        "/v1/campaigns/camp-1/followup-settings",
        &campaign_json(),
    )
    .await;
    let saved = preview(&world, json!({"sample": {"contact_name": "Ana"}})).await;
    assert_eq!(saved["email"]["rendered"]["subject"], "Great talking, Ana");
    assert_eq!(saved["email"]["rendered"]["from_name_source"], "campaign");
    assert_eq!(
        saved["missed_call_email"]["rendered"]["subject"],
        "Sorry we missed you"
    );
    assert_eq!(saved["time_zone"], "America/New_York");
}

async fn a_template_that_needs_what_the_sample_lacks_is_not_renderable_with_its_reason(
    world: World,
) {
    with_account(&world).await;
    let body = json!({"settings": {"sms": {"enabled": true, "template": "conversation_summary"}}});
    let without = preview(&world, body.clone()).await;
    assert_eq!(
        without["sms"]["not_renderable"]["reason"], "no_summary",
        "{without}"
    );
    assert_eq!(without["email"]["not_renderable"]["reason"], "no_template");

    let with_summary = set(
        body,
        "/sample",
        json!({"summary": "Wants a demo on Friday."}),
    );
    let sms = &preview(&world, with_summary).await["sms"]["rendered"];
    assert!(
        sms["text"]
            .as_str()
            .unwrap()
            .contains("Wants a demo on Friday.")
    );
}

async fn invalid_settings_are_reported_under_settings_and_nothing_is_stored(world: World) {
    let body = json!({
        "settings": {"sms": {"enabled": true, "meeting_link": "http://insecure.example.com"}},
        "sample": {"time_zone": "Mars/Olympus", "appointment": {"at": "soon"}},
        "extra": 1
    });
    let reply = world.post(PATH).json(&body).send().await;
    reply.problem(StatusCode::BAD_REQUEST);
    let fields = reply.invalid_fields();
    for field in [
        "settings.sms.meeting_link",
        "settings.sms.template",
        "sample.time_zone",
        "sample.appointment.at",
        "extra",
    ] {
        assert!(fields.contains(&field.to_string()), "{field} in {fields:?}");
    }
    let bad_id = world
        .post("/v1/campaigns/a..b/followup-settings/preview")
        .json(&json!({}))
        .send()
        .await;
    bad_id.problem(StatusCode::BAD_REQUEST);
    world
        .get("/v1/campaigns/camp-1/followup-settings")
        .send()
        .await
        .problem(StatusCode::NOT_FOUND);
}
