//! What operators hit: once per contact means sent, the do-not-call list ignores case,
//! blank overrides fall back to the defaults, an invalid contact zone loses nothing,
//! reasons say what happened, missed-call emails are told apart, and a suppression is
//! stored once.

use axum::http::StatusCode;
use chrono::Duration;
use serde_json::{Value, json};
use store::{Attrs, Cond, Item, Key, Write};

use crate::support::*;

for_each_store!(
    a_cancelled_sms_in_review_leaves_the_contacts_once_to_a_later_call,
    a_later_calls_confirmed_number_completes_the_sms_in_review,
    an_sms_held_for_quiet_hours_then_cancelled_leaves_the_once,
    a_guard_left_by_an_sms_cancelled_before_the_fix_is_taken_over,
    an_sms_suppressed_at_send_time_leaves_the_once,
    an_email_on_the_list_matches_whatever_its_case,
    an_email_stored_before_the_fix_with_upper_case_letters_still_matches,
    blank_campaign_overrides_fall_back_to_the_account_defaults,
    an_invalid_contact_timezone_is_decided_in_the_fallback_zone,
    a_call_moved_at_send_time_reads_outside_window,
    a_missed_call_email_is_told_apart_from_an_email,
    repeated_completions_of_a_follow_up_call_store_each_suppression_once,
);

/// contact-1's SMS after a call that confirmed no number: waiting for review.
async fn sms_in_review(world: &World, secret: &Secret) -> Value {
    let call = set(
        answered_call("call-1", "contact-1", world.clock.now()),
        "/analysis/sms_destination/confirmed",
        json!(false),
    );
    world.deliver(secret, "msg_1", &call).await.ok();
    let sms = world.one_followup("contact-1", "sms").await;
    assert_eq!(sms["status"], "needs_review");
    sms
}

async fn sms_of(world: &World, contact: &str) -> Vec<Value> {
    world
        .followups_of(ACME, contact)
        .await
        .into_iter()
        .filter(|f| f["channel"] == "sms")
        .collect()
}

async fn cancel(world: &World, followup: &Value) {
    let id = followup["id"].as_str().unwrap();
    world
        .post(&format!("/v1/followups/{id}/cancel"))
        .send()
        .await
        .expect(StatusCode::OK);
}

async fn a_cancelled_sms_in_review_leaves_the_contacts_once_to_a_later_call(world: World) {
    let secret = world.configure_acme().await;
    let in_review = sms_in_review(&world, &secret).await;
    cancel(&world, &in_review).await;

    world.clock.advance(Duration::minutes(10));
    let later = answered_call("call-2", "contact-1", world.clock.now());
    world.deliver(&secret, "msg_2", &later).await.ok();
    let sms = sms_of(&world, "contact-1").await;
    assert_eq!(sms.len(), 2, "{sms:#?}");
    assert_eq!(
        (&sms[0]["status"], &sms[0]["reason"]),
        (&json!("scheduled"), &json!("consented"))
    );
    assert_eq!(sms[1]["status"], "cancelled");
}

async fn a_later_calls_confirmed_number_completes_the_sms_in_review(world: World) {
    let secret = world.configure_acme().await;
    let in_review = sms_in_review(&world, &secret).await;

    world.clock.advance(Duration::minutes(10));
    let later = answered_call("call-2", "contact-1", world.clock.now());
    let answer = world.deliver(&secret, "msg_2", &later).await.ok().json();
    let decided: Vec<&Value> = answer["followups"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["channel"] == "sms")
        .collect();
    assert_eq!(decided.len(), 1, "{answer:#}");
    assert_eq!(decided[0]["decision"], "complete");
    assert_eq!(decided[0]["id"], in_review["id"]);

    let sms = world.one_followup("contact-1", "sms").await;
    assert_eq!(sms["id"], in_review["id"]);
    assert_eq!(sms["status"], "scheduled");
    assert_eq!(sms["reason"], "consented");
    assert_eq!(sms["destination"], "+14155552671");
    assert_eq!(sms["trace"].as_array().unwrap().len(), 2);
    assert!(matches!(
        world.execute(&sms).await,
        service::execute::Outcome::Sent { .. }
    ));
}

async fn an_sms_held_for_quiet_hours_then_cancelled_leaves_the_once(world: World) {
    let secret = world.configure_acme().await;
    // 10:00 in New York is the middle of the night in Tokyo: the SMS is held.
    let night = set(
        answered_call("call-1", "contact-1", world.clock.now()),
        "/contact/timezone",
        json!("Asia/Tokyo"),
    );
    world.deliver(&secret, "msg_1", &night).await.ok();
    let held = world.one_followup("contact-1", "sms").await;
    assert_eq!(held["status"], "scheduled");
    assert_ne!(held["due_at"], json!(world.clock.now()));
    cancel(&world, &held).await;

    let again = set(night, "/call/id", json!("call-2"));
    world.deliver(&secret, "msg_2", &again).await.ok();
    let sms = sms_of(&world, "contact-1").await;
    assert_eq!(sms.len(), 2, "{sms:#?}");
    assert_eq!(
        (&sms[0]["status"], &sms[0]["reason"]),
        (&json!("scheduled"), &json!("consented"))
    );
}

async fn a_guard_left_by_an_sms_cancelled_before_the_fix_is_taken_over(world: World) {
    let secret = world.configure_acme().await;
    let in_review = sms_in_review(&world, &secret).await;
    // As the engine stored a cancel before guards were released: the follow-up is
    // cancelled, its guard is left in place.
    let id = policy::FollowUpId::parse("id", in_review["id"].as_str().unwrap()).unwrap();
    let stored = world
        .engine
        .repo
        .followup(&account("acme"), &id)
        .await
        .unwrap()
        .unwrap();
    let mut cancelled = stored.value.clone();
    cancelled.record(
        world.clock.now(),
        policy::Status::Cancelled,
        policy::Reason::Cancelled,
        "old",
    );
    let item = service::records::followup_item(&cancelled, stored.version + 1).unwrap();
    world
        .engine
        .repo
        .table()
        .write(vec![Write::Put {
            item,
            cond: Cond::Always,
        }])
        .await
        .unwrap();

    let later = answered_call("call-2", "contact-1", world.clock.now());
    world.deliver(&secret, "msg_2", &later).await.ok();
    let sms = sms_of(&world, "contact-1").await;
    assert_eq!(sms.len(), 2, "{sms:#?}");
    assert_eq!(sms[0]["status"], "scheduled");
    // The guard now belongs to the new SMS: a third call finds the once spent.
    let third = set(later, "/call/id", json!("call-3"));
    world.deliver(&secret, "msg_3", &third).await.ok();
    let sms = sms_of(&world, "contact-1").await;
    assert_eq!(sms[0]["reason"], "already_sent", "{sms:#?}");
}

async fn an_sms_suppressed_at_send_time_leaves_the_once(world: World) {
    let secret = world.configure_acme().await;
    let first = answered_call("call-1", "contact-1", world.clock.now());
    world.deliver(&secret, "msg_1", &first).await.ok();
    let sms = world.one_followup("contact-1", "sms").await;
    world
        .put("/v1/dnc/%2B14155552671")
        .send()
        .await
        .expect(StatusCode::OK);
    let outcome = world.execute(&sms).await;
    assert!(
        matches!(outcome, service::execute::Outcome::Suppressed { .. }),
        "{outcome:?}"
    );
    world
        .delete("/v1/dnc/%2B14155552671")
        .send()
        .await
        .expect(StatusCode::NO_CONTENT);

    let later = set(first, "/call/id", json!("call-2"));
    world.deliver(&secret, "msg_2", &later).await.ok();
    let sms = sms_of(&world, "contact-1").await;
    assert_eq!(sms.len(), 2, "{sms:#?}");
    assert_eq!(
        (&sms[0]["status"], &sms[0]["reason"]),
        (&json!("scheduled"), &json!("consented"))
    );
    assert_eq!(
        (&sms[1]["status"], &sms[1]["reason"]),
        (&json!("suppressed"), &json!("dnc"))
    );
}

async fn email_reason(world: &World, contact: &str) -> Value {
    world.one_followup(contact, "email").await["reason"].clone()
}

fn call_with_email(call_id: &str, contact: &str, address: &str, world: &World) -> Value {
    let call = answered_call(call_id, contact, world.clock.now());
    let call = set(call, "/contact/email", json!(address));
    set(call, "/analysis/email_address/address", json!(address))
}

async fn an_email_on_the_list_matches_whatever_its_case(world: World) {
    let secret = world.configure_acme().await;
    let added = world
        .put("/v1/dnc/Pat.Case@Example.COM")
        .send()
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(added["value"], "Pat.Case@example.com");
    let again = world
        .put("/v1/dnc/PAT.CASE@example.com")
        .send()
        .await
        .expect(StatusCode::OK);
    assert_eq!(
        again.json()["value"],
        "Pat.Case@example.com",
        "one entry, the first"
    );

    let call = call_with_email("call-1", "contact-1", "pat.case@example.com", &world);
    world.deliver(&secret, "msg_1", &call).await.ok();
    assert_eq!(email_reason(&world, "contact-1").await, "dnc");

    world
        .delete("/v1/dnc/pat.case@EXAMPLE.com")
        .send()
        .await
        .expect(StatusCode::NO_CONTENT);
    let call = call_with_email("call-2", "contact-2", "pat.case@example.com", &world);
    world.deliver(&secret, "msg_2", &call).await.ok();
    assert_eq!(email_reason(&world, "contact-2").await, "consented");
}

async fn an_email_stored_before_the_fix_with_upper_case_letters_still_matches(world: World) {
    // An entry as the engine stored it before: keyed by the address as typed.
    let mut attrs = Attrs::new();
    attrs.insert("value".into(), json!("Pat.Case@example.com"));
    attrs.insert("added_at".into(), json!(world.clock.now()));
    let item = Item::new(Key::new("A#acme", "DNC#Pat.Case@example.com"), attrs);
    let table = world.engine.repo.table();
    table
        .write(vec![Write::Put {
            item,
            cond: Cond::NotExists,
        }])
        .await
        .unwrap();

    let secret = world.configure_acme().await;
    let call = call_with_email("call-1", "contact-1", "pat.case@example.com", &world);
    world.deliver(&secret, "msg_1", &call).await.ok();
    assert_eq!(email_reason(&world, "contact-1").await, "dnc");

    let listed = world
        .get("/v1/dnc")
        .send()
        .await
        .expect(StatusCode::OK)
        .json();
    let values: Vec<&Value> = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["value"])
        .collect();
    assert_eq!(
        values,
        [&json!("Pat.Case@example.com")],
        "kept as typed, listed once"
    );
    world
        .delete("/v1/dnc/pat.case@example.com")
        .send()
        .await
        .expect(StatusCode::NO_CONTENT);
}

async fn blank_campaign_overrides_fall_back_to_the_account_defaults(world: World) {
    let secret = world.configure_acme().await;
    let mut campaign = campaign_json();
    campaign["sms"]["sender_name"] = json!("");
    campaign["sms"]["meeting_link"] = json!("   ");
    campaign["email"]["from_name"] = json!(" ");
    campaign["email"]["meeting_link"] = json!("");
    campaign["time_zone"] = json!("");
    let stored = world
        .put("/v1/campaigns/camp-1/followup-settings")
        .json(&campaign)
        .send()
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(stored["sms"]["sender_name"], Value::Null, "{stored}");
    assert_eq!(stored["sms"]["meeting_link"], Value::Null, "{stored}");

    let call = answered_call("call-1", "contact-1", world.clock.now());
    world.deliver(&secret, "msg_1", &call).await.ok();
    let sms = world.one_followup("contact-1", "sms").await;
    assert_eq!(sms["status"], "scheduled");
    world.execute(&sms).await;
    let text = &world.outbox.list()[0].text;
    assert!(text.contains("Acme Team"), "{text}");
    assert!(text.contains("https://cal.example.com/acme"), "{text}");
}

async fn an_invalid_contact_timezone_is_decided_in_the_fallback_zone(world: World) {
    let secret = world.configure_acme().await;
    let call = set(
        callback_call(
            "call-1",
            "contact-1",
            world.clock.now(),
            "2030-01-16T15:00:00Z",
        ),
        "/contact/timezone",
        json!("Mars/Olympus"),
    );
    let answer = world
        .deliver(&secret, "msg_1", &call)
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(
        answer["followups"].as_array().unwrap().len(),
        3,
        "{answer:#}"
    );
    // The fallback for a US number is its area code's zone (415: San Francisco),
    // before the campaign's or agent's zone.
    for followup in world.followups_of(ACME, "contact-1").await {
        assert_eq!(followup["time_zone"], "America/Los_Angeles", "{followup:#}");
        assert_eq!(followup["zone_source"], "area_code", "{followup:#}");
        let trace = followup["trace"].as_array().unwrap();
        assert_eq!(
            trace[0]["reason"], "invalid_contact_timezone",
            "{followup:#}"
        );
        assert_eq!(trace.last().unwrap()["reason"], followup["reason"]);
    }
}

async fn a_call_moved_at_send_time_reads_outside_window(world: World) {
    let secret = world.configure_acme().await;
    // Tuesday 10:00 in New York: a call for 11:00 the same day.
    let at = (world.clock.now() + Duration::hours(1)).to_rfc3339();
    let call = callback_call("call-1", "contact-1", world.clock.now(), &at);
    world.deliver(&secret, "msg_1", &call).await.ok();
    // The schedule fires late, after the agent's hours (09:00–18:00).
    world.clock.advance(Duration::hours(9));
    let followup = world.one_followup("contact-1", "call").await;
    let outcome = world.execute(&followup).await;
    assert!(
        matches!(outcome, service::execute::Outcome::Rescheduled { .. }),
        "{outcome:?}"
    );
    let moved = world.one_followup("contact-1", "call").await;
    assert_eq!(moved["status"], "scheduled");
    assert_eq!(moved["reason"], "outside_window");
    assert_eq!(
        moved["trace"].as_array().unwrap().last().unwrap()["reason"],
        "outside_window"
    );

    // An SMS that leaves records `due` when claimed, never `requested`.
    let sms = world.one_followup("contact-1", "sms").await;
    world.execute(&sms).await;
    let sent = world.one_followup("contact-1", "sms").await;
    let reasons: Vec<&Value> = sent["trace"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| &t["reason"])
        .collect();
    assert_eq!(
        reasons,
        [
            &json!("consented"),
            &json!("due"),
            &json!("provider_accepted")
        ]
    );
}

async fn a_missed_call_email_is_told_apart_from_an_email(world: World) {
    let secret = world.configure_acme().await;
    let call = missed_call("call-1", "contact-1", world.clock.now());
    world.deliver(&secret, "msg_1", &call).await.ok();
    let missed = world.one_followup("contact-1", "missed_call_email").await;
    world.execute(&missed).await;
    let outbox = world.outbox.list();
    assert_eq!(outbox.len(), 1);
    assert_eq!(outbox[0].channel, "missed_call_email");
    assert_eq!(outbox[0].detail["kind"], "missed_call_email");

    let view = |channel: &'static str| {
        let world = &world;
        async move {
            world
                .get(&format!("/v1/campaigns/camp-1/followups?channel={channel}"))
                .send()
                .await
                .expect(StatusCode::OK)
                .json()["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f["channel"].clone())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        view("missed_call_email").await,
        [json!("missed_call_email")]
    );
    assert!(view("email").await.iter().all(|c| c == "email"));
}

async fn repeated_completions_of_a_follow_up_call_store_each_suppression_once(world: World) {
    let secret = world.configure_acme().await;
    let at = (world.clock.now() + Duration::hours(1)).to_rfc3339();
    let first = callback_call("call-1", "contact-1", world.clock.now(), &at);
    world.deliver(&secret, "msg_1", &first).await.ok();
    let before = world.followups_of(ACME, "contact-1").await.len();

    for attempt in 1..=3u32 {
        let call = world.one_followup("contact-1", "call").await;
        assert_eq!(call["attempt"], attempt);
        world.clock.advance(Duration::hours(1));
        let placed = world.execute(&call).await;
        assert!(
            matches!(placed, service::execute::Outcome::Sent { .. }),
            "{placed:?}"
        );
        let mut unanswered =
            missed_call(&format!("call-f{attempt}"), "contact-1", world.clock.now());
        unanswered["call"]["followup_id"] = call["id"].clone();
        world
            .deliver(&secret, &format!("msg_f{attempt}"), &unanswered)
            .await
            .ok();
    }
    let all = world.followups_of(ACME, "contact-1").await;
    let suppressed: Vec<(String, String)> = all
        .iter()
        .filter(|f| f["status"] == "suppressed")
        .map(|f| (f["channel"].to_string(), f["reason"].to_string()))
        .collect();
    let unique: std::collections::BTreeSet<_> = suppressed.iter().cloned().collect();
    assert_eq!(suppressed.len(), unique.len(), "{suppressed:#?}");
    assert!(all.len() <= before + unique.len() + 1, "{all:#?}");

    let call = world.one_followup("contact-1", "call").await;
    assert_eq!(call["status"], "exhausted");
    assert_eq!(call["reason"], "retries_exhausted");
    let notes = call["trace"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t.get("channel").is_some())
        .count();
    assert!(
        notes >= 2,
        "the repeats are kept in the call's trace: {call:#}"
    );
}
