//! The call.completed use case on the embedded store: one delivery, one set of
//! follow-ups, whatever is redelivered or raced.

mod support;

use policy::{Channel, Reason, Status};
use serde_json::json;
use service::clock::Clock;
use service::signature::{SignatureError, SignedHeaders};
use service::webhook::WebhookError;
use support::*;

#[tokio::test]
async fn an_answered_call_with_consent_gets_one_sms_and_one_email_due_now() {
    let world = World::new().await;
    let now = world.clock.now();
    let answer = world
        .deliver("msg_1", &answered_call("call-1", "contact-1", now))
        .await
        .unwrap();
    assert_eq!(answer["followups"].as_array().unwrap().len(), 2, "{answer}");

    let followups = world.followups_of("contact-1").await;
    let channels: Vec<_> = followups
        .iter()
        .map(|f| (f.channel, f.status, f.due_at))
        .collect();
    assert!(
        channels.contains(&(Channel::Sms, Status::Scheduled, now)),
        "{channels:?}"
    );
    assert!(
        channels.contains(&(Channel::Email, Status::Scheduled, now)),
        "{channels:?}"
    );
}

#[tokio::test]
async fn a_redelivery_returns_the_first_answer_and_changes_nothing() {
    let world = World::new().await;
    let body = answered_call("call-1", "contact-1", world.clock.now());
    let first = world.deliver("msg_1", &body).await.unwrap();
    let again = world.deliver("msg_1", &body).await.unwrap();
    assert_eq!(first, again);
    assert_eq!(world.followups_of("contact-1").await.len(), 2);
}

#[tokio::test]
async fn ten_concurrent_deliveries_of_one_event_store_one_set_of_followups() {
    let world = std::sync::Arc::new(World::new().await);
    let body = answered_call("call-1", "contact-1", world.clock.now());
    let answers = futures_join_all((0..10).map(|_| {
        let world = world.clone();
        let body = body.clone();
        tokio::spawn(async move { world.deliver("msg_race", &body).await.unwrap() })
    }))
    .await;
    assert!(answers.windows(2).all(|w| w[0] == w[1]), "{answers:?}");
    assert_eq!(world.followups_of("contact-1").await.len(), 2);
}

async fn futures_join_all<T: Send + 'static>(
    handles: impl Iterator<Item = tokio::task::JoinHandle<T>>,
) -> Vec<T> {
    let mut out = Vec::new();
    for handle in handles.collect::<Vec<_>>() {
        out.push(handle.await.unwrap());
    }
    out
}

#[tokio::test]
async fn a_second_call_to_the_same_contact_is_suppressed_as_already_sent() {
    let world = World::new().await;
    let now = world.clock.now();
    world
        .deliver("msg_1", &answered_call("call-1", "contact-1", now))
        .await
        .unwrap();
    let answer = world
        .deliver("msg_2", &answered_call("call-2", "contact-1", now))
        .await
        .unwrap();
    let reasons: Vec<_> = answer["followups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["status"].clone(), f["reason"].clone()))
        .collect();
    assert!(
        reasons
            .iter()
            .all(|(s, r)| s == "suppressed" && r == "already_sent"),
        "{reasons:?}"
    );
    let sent: Vec<_> = world
        .followups_of("contact-1")
        .await
        .into_iter()
        .filter(|f| f.status == Status::Scheduled)
        .collect();
    assert_eq!(sent.len(), 2);
}

#[tokio::test]
async fn a_number_on_the_do_not_call_list_gets_no_sms() {
    let world = World::new().await;
    world
        .engine
        .add_dnc(
            &world.account,
            &policy::Destination::parse("value", "+14155552671").unwrap(),
        )
        .await
        .unwrap();
    world
        .deliver(
            "msg_1",
            &answered_call("call-1", "contact-1", world.clock.now()),
        )
        .await
        .unwrap();
    let sms = world
        .followups_of("contact-1")
        .await
        .into_iter()
        .find(|f| f.channel == Channel::Sms)
        .unwrap();
    assert_eq!(
        (sms.status, sms.reason),
        (Status::Suppressed, Some(Reason::Dnc))
    );
}

#[tokio::test]
async fn a_new_callback_request_reschedules_the_pending_call_instead_of_adding_one() {
    let world = World::new().await;
    let now = world.clock.now();
    let request = |at: &str| {
        set(
            answered_call("call-x", "contact-1", now),
            "/analysis/followup_requests",
            json!([{"channel": "call", "at": at, "reason": "asked for a callback"}]),
        )
    };
    world
        .deliver("msg_1", &request("2030-01-16T15:00:00Z"))
        .await
        .unwrap();
    world
        .deliver("msg_2", &request("2030-01-17T16:00:00Z"))
        .await
        .unwrap();

    let calls: Vec<_> = world
        .followups_of("contact-1")
        .await
        .into_iter()
        .filter(|f| f.channel == Channel::Call && f.status == Status::Scheduled)
        .collect();
    assert_eq!(calls.len(), 1, "{calls:#?}");
    assert_eq!(calls[0].due_at.to_rfc3339(), "2030-01-17T16:00:00+00:00");
}

#[tokio::test]
async fn bad_signatures_stale_timestamps_and_unknown_accounts_store_nothing() {
    let world = World::new().await;
    let body = answered_call("call-1", "contact-1", world.clock.now()).to_string();
    let now = world.clock.now().timestamp();
    let good = world.secret.sign("msg_1", now, body.as_bytes());
    let stale = world.secret.sign("msg_1", now - 600, body.as_bytes());
    let (now_s, stale_s) = (now.to_string(), (now - 600).to_string());
    let cases = [
        (
            "acme",
            SignedHeaders {
                id: Some("msg_1"),
                timestamp: Some(&now_s),
                signature: Some("v1,"),
            },
        ),
        (
            "acme",
            SignedHeaders {
                id: Some("msg_1"),
                timestamp: Some(&stale_s),
                signature: Some(&stale),
            },
        ),
        (
            "acme",
            SignedHeaders {
                id: Some("msg_1"),
                timestamp: Some(&now_s),
                signature: None,
            },
        ),
        (
            "other",
            SignedHeaders {
                id: Some("msg_1"),
                timestamp: Some(&now_s),
                signature: Some(&good),
            },
        ),
        (
            "../acme",
            SignedHeaders {
                id: Some("msg_1"),
                timestamp: Some(&now_s),
                signature: Some(&good),
            },
        ),
    ];
    for (account, headers) in cases {
        let result = world
            .engine
            .accept_call_completed(account, headers, body.as_bytes())
            .await;
        assert!(
            matches!(result, Err(WebhookError::Signature(_))),
            "{account} {headers:?}: {result:?}"
        );
    }
    assert!(world.followups_of("contact-1").await.is_empty());
}

#[tokio::test]
async fn an_invalid_body_is_refused_naming_the_field_and_stores_nothing() {
    let world = World::new().await;
    let body = set(
        answered_call("call-1", "contact-1", world.clock.now()),
        "/contact/phone",
        json!("555-1234"),
    );
    match world.deliver("msg_1", &body).await {
        Err(WebhookError::Service(service::ServiceError::Invalid(errors))) => {
            assert!(errors.has_field("contact.phone"), "{errors:?}")
        }
        other => panic!("expected a validation error, got {other:?}"),
    }
    assert!(world.followups_of("contact-1").await.is_empty());
    // Nothing was remembered either: the corrected event under the same id goes through.
    let fixed = answered_call("call-1", "contact-1", world.clock.now());
    assert_eq!(
        world.deliver("msg_1", &fixed).await.unwrap()["followups"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

#[tokio::test]
async fn other_event_types_are_acknowledged_and_ignored() {
    let world = World::new().await;
    let answer = world
        .deliver("msg_1", &json!({"type": "call.started"}))
        .await
        .unwrap();
    assert_eq!(answer["ignored"], "call.started");
}

#[tokio::test]
async fn a_secret_rotated_out_keeps_verifying_for_its_overlap_then_stops() {
    let world = World::new().await;
    world
        .engine
        .create_webhook_secret(&world.account, Some(3600))
        .await
        .unwrap();
    let body = json!({"type": "call.started"});
    assert!(
        world.deliver("msg_1", &body).await.is_ok(),
        "the old secret still verifies during the overlap"
    );
    world.clock.advance(chrono::Duration::hours(2));
    assert!(matches!(
        world.deliver("msg_2", &body).await,
        Err(WebhookError::Signature(SignatureError::NoMatch))
    ));
}
