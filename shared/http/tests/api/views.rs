//! The follow-up views (campaign, contact inbox, one follow-up) and the operator
//! actions (cancel, send a `needs_review` SMS, preview).

use std::collections::BTreeSet;

use axum::http::StatusCode;
use chrono::Duration;
use serde_json::{Value, json};

use crate::support::*;

for_each_store!(
    the_campaign_view_lists_followups_by_due_time,
    the_campaign_view_filters_by_status_and_channel,
    pages_of_one_visit_every_followup_of_the_campaign_view_once,
    the_contact_view_is_newest_first_and_shows_suppressions_with_their_reasons,
    one_followup_is_shown_with_its_trace_attempts_and_etag,
    a_sent_followup_shows_its_attempt_and_can_no_longer_be_cancelled_or_sent,
    an_unknown_followup_is_404,
    a_scheduled_call_is_cancelled_once_then_409,
    a_needs_review_sms_is_sent_to_the_operators_number_once_then_409,
    only_a_needs_review_sms_can_be_sent_by_hand,
    a_needs_review_sms_is_not_sent_to_a_number_on_the_do_not_call_list,
    a_preview_shows_the_decisions_and_stores_nothing,
    a_preview_of_an_invalid_body_names_the_fields,
);

/// Acme with four contacts in `camp-1`, eleven follow-ups: a callback call on Thursday
/// (contact-1) and on Wednesday (contact-2), each with an SMS and an email due now; a
/// missed call (contact-3: the missed-call email, SMS and email suppressed); an SMS
/// waiting for review and an email (contact-4).
async fn busy_campaign(world: &World) {
    let secret = world.configure_acme().await;
    let now = world.clock.now();
    let calls = [
        callback_call("call-1", "contact-1", now, "2030-01-17T15:00:00Z"),
        callback_call("call-2", "contact-2", now, "2030-01-16T15:00:00Z"),
        missed_call("call-3", "contact-3", now),
        set(
            answered_call("call-4", "contact-4", now),
            "/analysis/sms_destination",
            Value::Null,
        ),
    ];
    for (i, call) in calls.iter().enumerate() {
        world
            .deliver(&secret, &format!("msg_{i}"), call)
            .await
            .expect(StatusCode::OK);
    }
}

async fn campaign_view(world: &World, query: &str) -> Vec<Value> {
    let reply = world
        .get(&format!("/v1/campaigns/camp-1/followups?limit=100{query}"))
        .send()
        .await;
    let page = reply.expect(StatusCode::OK).json();
    assert!(
        page.get("next_cursor").is_none_or(Value::is_null),
        "one page: {page}"
    );
    page["items"].as_array().unwrap().clone()
}

fn due_times(items: &[Value]) -> Vec<String> {
    items
        .iter()
        .map(|f| f["due_at"].as_str().unwrap().to_string())
        .collect()
}

fn ids(items: &[Value]) -> Vec<String> {
    items
        .iter()
        .map(|f| f["id"].as_str().unwrap().to_string())
        .collect()
}

async fn the_campaign_view_lists_followups_by_due_time(world: World) {
    busy_campaign(&world).await;
    let items = campaign_view(&world, "").await;
    assert_eq!(items.len(), 11, "{items:#?}");
    let due = due_times(&items);
    let mut sorted = due.clone();
    sorted.sort();
    assert_eq!(due, sorted, "ordered by due time");
    let last_two: Vec<_> = items[9..]
        .iter()
        .map(|f| (f["channel"].as_str(), f["contact_id"].as_str()))
        .collect();
    assert_eq!(
        last_two,
        [
            (Some("call"), Some("contact-2")),
            (Some("call"), Some("contact-1"))
        ],
        "Wednesday's call, then Thursday's"
    );
    assert!(items.iter().all(|f| f["campaign_id"] == "camp-1"));
}

async fn the_campaign_view_filters_by_status_and_channel(world: World) {
    busy_campaign(&world).await;
    let all = campaign_view(&world, "").await;

    let scheduled = campaign_view(&world, "&status=scheduled").await;
    assert!(
        scheduled.iter().all(|f| f["status"] == "scheduled"),
        "{scheduled:#?}"
    );
    let expected: Vec<_> = all
        .iter()
        .filter(|f| f["status"] == "scheduled")
        .cloned()
        .collect();
    assert_eq!(ids(&scheduled), ids(&expected));

    let review = campaign_view(&world, "&status=needs_review").await;
    assert_eq!(review.len(), 1, "{review:#?}");
    assert_eq!(
        (
            review[0]["channel"].as_str(),
            review[0]["contact_id"].as_str()
        ),
        (Some("sms"), Some("contact-4"))
    );

    let suppressed = campaign_view(&world, "&status=suppressed").await;
    let outline: Vec<_> = suppressed
        .iter()
        .map(|f| (f["contact_id"].as_str(), f["reason"].as_str()))
        .collect();
    assert_eq!(outline, [(Some("contact-3"), Some("not_answered")); 2]);

    let calls = campaign_view(&world, "&channel=call").await;
    assert_eq!(calls.len(), 2);
    assert!(calls.iter().all(|f| f["channel"] == "call"));
    assert_eq!(
        due_times(&calls),
        ["2030-01-16T15:00:00Z", "2030-01-17T15:00:00Z"]
    );

    let missed = campaign_view(&world, "&channel=missed_call_email&status=scheduled").await;
    assert_eq!(missed.len(), 1, "{missed:#?}");
    assert_eq!(missed[0]["contact_id"], "contact-3");
    assert!(campaign_view(&world, "&channel=whatsapp").await.is_empty());
    assert!(campaign_view(&world, "&status=sent").await.is_empty());
}

async fn pages_of_one_visit_every_followup_of_the_campaign_view_once(world: World) {
    busy_campaign(&world).await;
    for filter in [
        "",
        "&status=scheduled",
        "&channel=sms",
        "&channel=call&status=scheduled",
    ] {
        let all = ids(&campaign_view(&world, filter).await);
        let mut visited = Vec::new();
        let mut cursor: Option<String> = None;
        let mut pages = 0;
        loop {
            let mut path = format!("/v1/campaigns/camp-1/followups?limit=1{filter}");
            if let Some(cursor) = &cursor {
                path.push_str(&format!("&cursor={cursor}"));
            }
            let page = world.get(&path).send().await.expect(StatusCode::OK).json();
            let items = page["items"].as_array().unwrap();
            assert!(items.len() <= 1, "{path}: {page}");
            visited.extend(ids(items));
            pages += 1;
            assert!(pages <= 20, "{filter}: the pages end");
            match page["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_string()),
                None => break,
            }
        }
        assert_eq!(visited, all, "{filter}: every follow-up once, in order");
        assert_eq!(visited.iter().collect::<BTreeSet<_>>().len(), visited.len());
    }
}

async fn the_contact_view_is_newest_first_and_shows_suppressions_with_their_reasons(world: World) {
    let secret = world.configure_acme().await;
    let first_at = world.clock.now();
    world
        .deliver(
            &secret,
            "msg_1",
            &answered_call("call-1", "contact-1", first_at),
        )
        .await
        .expect(StatusCode::OK);
    world.clock.advance(Duration::minutes(10));
    let second_at = world.clock.now();
    world
        .deliver(
            &secret,
            "msg_2",
            &answered_call("call-2", "contact-1", second_at),
        )
        .await
        .expect(StatusCode::OK);

    let items = world.followups_of(ACME, "contact-1").await;
    let outline: Vec<_> = items
        .iter()
        .map(|f| {
            (
                f["created_at"].clone(),
                f["call_id"].clone(),
                f["status"].clone(),
                f["reason"].clone(),
            )
        })
        .collect();
    assert_eq!(items.len(), 4, "{outline:#?}");
    for newer in &outline[..2] {
        assert_eq!(
            (&newer.0, &newer.1, &newer.2, &newer.3),
            (
                &json!(second_at),
                &json!("call-2"),
                &json!("suppressed"),
                &json!("already_sent")
            ),
            "{outline:#?}"
        );
    }
    for older in &outline[2..] {
        assert_eq!(
            (&older.0, &older.1, &older.2, &older.3),
            (
                &json!(first_at),
                &json!("call-1"),
                &json!("scheduled"),
                &json!("consented")
            ),
            "{outline:#?}"
        );
    }
    let suppressed = &items[0];
    let last = suppressed["trace"].as_array().unwrap().last().unwrap();
    assert_eq!(last["reason"], "already_sent");
    assert!(
        last["detail"].as_str().is_some_and(|d| !d.is_empty()),
        "{suppressed}"
    );

    // Paging the inbox: newest first across pages too.
    let page = world
        .get("/v1/contacts/contact-1/followups?limit=3")
        .send()
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(ids(page["items"].as_array().unwrap()), ids(&items[..3]));
    let cursor = page["next_cursor"].as_str().unwrap();
    let rest = world
        .get(&format!(
            "/v1/contacts/contact-1/followups?limit=3&cursor={cursor}"
        ))
        .send()
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(ids(rest["items"].as_array().unwrap()), ids(&items[3..]));
    assert!(
        world.followups_of(ACME, "contact-9").await.is_empty(),
        "an unknown contact has an empty inbox"
    );
}

async fn one_followup_is_shown_with_its_trace_attempts_and_etag(world: World) {
    busy_campaign(&world).await;
    let listed = world.one_followup("contact-1", "call").await;
    let id = listed["id"].as_str().unwrap();
    let reply = world
        .get(&format!("/v1/followups/{id}"))
        .send()
        .await
        .expect(StatusCode::OK);
    assert_eq!(reply.etag(), Some("\"v1\""));
    assert_eq!(reply.content_type(), Some("application/json"));
    let followup = reply.json();
    assert_eq!(followup, listed, "the same follow-up as the list shows");
    assert_eq!(followup["due_at"], "2030-01-17T15:00:00Z");
    assert_eq!(followup["destination"], "+14155552671");
    assert_eq!(followup["time_zone"], "America/New_York");
    let trace = followup["trace"].as_array().unwrap();
    assert_eq!(trace.len(), 1, "{followup}");
    assert_eq!(
        (trace[0]["status"].as_str(), trace[0]["reason"].as_str()),
        (Some("scheduled"), Some("requested"))
    );
    assert_eq!(followup["attempts"], json!([]), "not attempted yet");
}

async fn a_sent_followup_shows_its_attempt_and_can_no_longer_be_cancelled_or_sent(world: World) {
    busy_campaign(&world).await;
    let sms = world.one_followup("contact-1", "sms").await;
    let path = format!("/v1/followups/{}", sms["id"].as_str().unwrap());
    let outcome = world.execute(&sms).await;
    assert!(
        matches!(outcome, service::execute::Outcome::Sent { .. }),
        "{outcome:?}"
    );
    assert_eq!(world.outbox.list().len(), 1);

    let reply = world.get(&path).send().await.expect(StatusCode::OK);
    let version: u64 = reply
        .etag()
        .unwrap()
        .trim_matches('"')
        .trim_start_matches('v')
        .parse()
        .unwrap();
    assert!(version > 1, "{reply}");
    let sent = reply.json();
    assert_eq!(sent["status"], "sent");
    let attempts = sent["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 1, "{sent}");
    assert_eq!(attempts[0]["attempt"], 1);
    assert_eq!(attempts[0]["status"], "sent");
    assert_eq!(attempts[0]["at"], json!(world.clock.now()));
    assert!(
        attempts[0]["provider_id"]
            .as_str()
            .is_some_and(|p| !p.is_empty()),
        "{sent}"
    );
    let statuses: Vec<_> = sent["trace"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["status"].clone())
        .collect();
    assert_eq!(statuses.first(), Some(&json!("scheduled")));
    assert_eq!(statuses.last(), Some(&json!("sent")), "{statuses:?}");

    let reply = world.post(&format!("{path}/cancel")).send().await;
    assert!(
        reply.problem(StatusCode::CONFLICT)["detail"]
            .as_str()
            .unwrap()
            .contains("sent"),
        "{reply}"
    );
    world
        .post(&format!("{path}/send"))
        .json(&json!({"destination": "+14155550123"}))
        .send()
        .await
        .problem(StatusCode::CONFLICT);
    assert_eq!(world.get(&path).send().await.json(), sent, "unchanged");
    assert_eq!(world.outbox.list().len(), 1, "nothing more was sent");
}

async fn an_unknown_followup_is_404(world: World) {
    for id in ["fu_0000000000000000000000000000000", "nope", "fu_%23x"] {
        world
            .get(&format!("/v1/followups/{id}"))
            .send()
            .await
            .problem(StatusCode::NOT_FOUND);
        world
            .post(&format!("/v1/followups/{id}/cancel"))
            .send()
            .await
            .problem(StatusCode::NOT_FOUND);
        world
            .post(&format!("/v1/followups/{id}/send"))
            .json(&json!({"destination": "+14155550123"}))
            .send()
            .await
            .problem(StatusCode::NOT_FOUND);
    }
}

async fn a_scheduled_call_is_cancelled_once_then_409(world: World) {
    busy_campaign(&world).await;
    let call = world.one_followup("contact-1", "call").await;
    let path = format!("/v1/followups/{}", call["id"].as_str().unwrap());
    world.clock.advance(Duration::minutes(1));
    let cancelled = world
        .post(&format!("{path}/cancel"))
        .send()
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(cancelled["reason"], "cancelled");
    let stored = world.get(&path).send().await.expect(StatusCode::OK);
    assert_eq!(stored.etag(), Some("\"v2\""));
    let stored = stored.json();
    assert_eq!(stored, cancelled, "what the answer shows is stored");
    let last = stored["trace"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (last["status"].as_str(), last["at"].clone()),
        (Some("cancelled"), json!(world.clock.now()))
    );

    let again = world.post(&format!("{path}/cancel")).send().await;
    let problem = again.problem(StatusCode::CONFLICT);
    assert!(
        problem["detail"].as_str().unwrap().contains("cancelled"),
        "{again}"
    );
    assert_eq!(
        world.get(&path).send().await.etag(),
        Some("\"v2\""),
        "unchanged"
    );

    // A suppressed follow-up cannot be cancelled either.
    let secret = world.create_secret(ACME).await;
    world
        .deliver(
            &secret,
            "msg_9",
            &answered_call("call-9", "contact-1", world.clock.now()),
        )
        .await
        .expect(StatusCode::OK);
    let suppressed = world
        .followups_of(ACME, "contact-1")
        .await
        .into_iter()
        .find(|f| f["status"] == "suppressed")
        .unwrap();
    let reply = world
        .post(&format!(
            "/v1/followups/{}/cancel",
            suppressed["id"].as_str().unwrap()
        ))
        .send()
        .await;
    reply.problem(StatusCode::CONFLICT);
}

async fn a_needs_review_sms_is_sent_to_the_operators_number_once_then_409(world: World) {
    busy_campaign(&world).await;
    let sms = world.one_followup("contact-4", "sms").await;
    assert_eq!(sms["status"], "needs_review");
    assert!(sms.get("destination").is_none_or(Value::is_null), "{sms}");
    let path = format!("/v1/followups/{}", sms["id"].as_str().unwrap());

    for (body, field) in [
        (json!({"destination": "12"}), "destination"),
        (json!({"destination": "4155550123"}), "destination"),
        (json!({"destination": "ana@example.com"}), "destination"),
        (json!({"destination": 14155550123u64}), "destination"),
        (json!({}), "destination"),
    ] {
        let reply = world.post(&format!("{path}/send")).json(&body).send().await;
        assert_eq!(reply.invalid_fields(), [field], "{body}");
    }
    let reply = world
        .post(&format!("{path}/send"))
        .raw("{\"destination\": ")
        .send()
        .await;
    assert_eq!(reply.invalid_fields(), ["body"]);
    let unchanged = world.get(&path).send().await;
    assert_eq!(
        (unchanged.etag(), unchanged.json()["status"].clone()),
        (Some("\"v1\""), json!("needs_review"))
    );

    let sent = world
        .post(&format!("{path}/send"))
        .json(&json!({"destination": "+14155550123"}))
        .send()
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(sent["status"], "scheduled");
    assert_eq!(sent["reason"], "reviewed");
    assert_eq!(sent["destination"], "+14155550123");
    assert_eq!(sent["due_at"], json!(world.clock.now()));
    let stored = world.get(&path).send().await;
    assert_eq!(stored.etag(), Some("\"v2\""));
    assert_eq!(stored.json(), sent);

    let again = world
        .post(&format!("{path}/send"))
        .json(&json!({"destination": "+14155550199"}))
        .send()
        .await;
    again.problem(StatusCode::CONFLICT);
    assert_eq!(
        world.get(&path).send().await.json()["destination"],
        "+14155550123",
        "unchanged"
    );
}

async fn only_a_needs_review_sms_can_be_sent_by_hand(world: World) {
    busy_campaign(&world).await;
    for (contact, channel) in [
        ("contact-1", "call"),
        ("contact-1", "sms"),
        ("contact-3", "missed_call_email"),
    ] {
        let followup = world.one_followup(contact, channel).await;
        let path = format!("/v1/followups/{}", followup["id"].as_str().unwrap());
        let reply = world
            .post(&format!("{path}/send"))
            .json(&json!({"destination": "+14155550123"}))
            .send()
            .await;
        reply.problem(StatusCode::CONFLICT);
        assert_eq!(
            world.get(&path).send().await.json(),
            followup,
            "{channel} unchanged"
        );
    }
}

async fn a_needs_review_sms_is_not_sent_to_a_number_on_the_do_not_call_list(world: World) {
    busy_campaign(&world).await;
    world
        .put("/v1/dnc/%2B14155550123")
        .send()
        .await
        .expect(StatusCode::OK);
    let sms = world.one_followup("contact-4", "sms").await;
    let path = format!("/v1/followups/{}", sms["id"].as_str().unwrap());
    let reply = world
        .post(&format!("{path}/send"))
        .json(&json!({"destination": "+14155550123"}))
        .send()
        .await;
    let problem = reply.problem(StatusCode::CONFLICT);
    assert!(
        problem["detail"].as_str().unwrap().contains("do-not-call"),
        "{reply}"
    );
    assert_eq!(
        world.get(&path).send().await.json()["status"],
        "needs_review"
    );
}

async fn a_preview_shows_the_decisions_and_stores_nothing(world: World) {
    let secret = world.configure_acme().await;
    let now = world.clock.now();
    let call = callback_call("call-1", "contact-1", now, "2030-01-16T15:00:00Z");
    let reply = world
        .post("/v1/decisions/preview")
        .json(&call)
        .send()
        .await
        .expect(StatusCode::OK);
    let preview = reply.json();
    assert_eq!(preview["call_id"], "call-1");
    let decisions = preview["followups"].as_array().unwrap();
    for decision in decisions {
        assert_eq!(decision["decision"], "create", "{decision}");
        assert!(
            decision["trace"].as_array().is_some_and(|t| !t.is_empty()),
            "{decision}"
        );
    }
    assert!(
        world.followups_of(ACME, "contact-1").await.is_empty(),
        "nothing stored"
    );
    assert!(campaign_view(&world, "").await.is_empty());

    // What the webhook then does is what the preview said.
    let answer = world
        .deliver(&secret, "msg_1", &call)
        .await
        .expect(StatusCode::OK)
        .json();
    let outline = |items: &Value| {
        let mut v: Vec<String> = items
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                format!(
                    "{} {} {} {}",
                    f["channel"], f["status"], f["reason"], f["due_at"]
                )
            })
            .collect();
        v.sort();
        v
    };
    assert_eq!(
        outline(&preview["followups"]),
        outline(&answer["followups"])
    );
    // One schema: the answer is the preview plus the delivery's id and the new ids.
    let mut real = answer.clone();
    real.as_object_mut().unwrap().remove("webhook_id");
    for followup in real["followups"].as_array_mut().unwrap() {
        followup.as_object_mut().unwrap().remove("id");
    }
    assert_eq!(preview, real);
    assert_eq!(outline(&answer["followups"]).len(), 3, "{answer}");

    // A preview of the same call now sees what is stored: nothing new would be sent.
    let again = world
        .post("/v1/decisions/preview")
        .json(&set(call, "/call/id", json!("call-2")))
        .send()
        .await;
    let again = again.expect(StatusCode::OK).json();
    assert!(
        again["followups"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["status"] != "scheduled" || d["channel"] == "call"),
        "{again}"
    );
    assert_eq!(
        world.followups_of(ACME, "contact-1").await.len(),
        3,
        "still nothing stored by previews"
    );

    let ignored = world
        .post("/v1/decisions/preview")
        .json(&json!({"type": "call.started"}))
        .send()
        .await;
    assert_eq!(
        ignored.expect(StatusCode::OK).json(),
        json!({"ignored": "call.started", "followups": []})
    );
}

async fn a_preview_of_an_invalid_body_names_the_fields(world: World) {
    world.configure_acme().await;
    let now = world.clock.now();
    let bad = set(
        answered_call("call-1", "contact-1", now),
        "/contact/phone",
        json!("555-1234"),
    );
    let bad = set(bad, "/call/outcome", json!("exploded"));
    let reply = world.post("/v1/decisions/preview").json(&bad).send().await;
    let mut fields = reply.invalid_fields();
    fields.sort();
    assert_eq!(fields, ["call.outcome", "contact.phone"]);
    let reply = world.post("/v1/decisions/preview").raw("nope").send().await;
    assert_eq!(reply.invalid_fields(), ["body"]);
    assert!(world.followups_of(ACME, "contact-1").await.is_empty());
}
