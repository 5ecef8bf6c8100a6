//! From stored follow-up to sent message: the dispatcher, the executor and the
//! operator actions on the embedded store, with the outbox as every channel.

mod support;

use std::sync::Arc;

use chrono::Duration;
use policy::{Channel, Status};
use serde_json::json;
use service::clock::Clock;
use service::execute::{ExecutorInput, Outcome};
use support::*;

fn input(world: &World, followup: &policy::FollowUp) -> ExecutorInput {
    ExecutorInput {
        account_id: world.account.to_string(),
        followup_id: followup.id.to_string(),
        attempt: followup.attempt,
    }
}

/// Claims `followup` as an executor would, then "dies": it stays `sending`. Returns
/// the claim's time.
async fn claim_and_die(
    world: &World,
    followup: &policy::FollowUp,
) -> chrono::DateTime<chrono::Utc> {
    let repo = &world.engine.repo;
    let stored = repo
        .followup(&world.account, &followup.id)
        .await
        .unwrap()
        .unwrap();
    let mut claimed = stored.value.clone();
    let at = world.clock.now();
    claimed.record(at, Status::Sending, policy::Reason::Due, "claimed");
    repo.save_followup(&stored, &claimed).await.unwrap();
    at
}

async fn one(world: &World, contact: &str, channel: Channel) -> policy::FollowUp {
    let found: Vec<_> = world
        .followups_of(contact)
        .await
        .into_iter()
        .filter(|f| f.channel == channel)
        .collect();
    assert_eq!(found.len(), 1, "{found:#?}");
    found.into_iter().next().unwrap()
}

fn callback(now: chrono::DateTime<chrono::Utc>, at: &str) -> serde_json::Value {
    set(
        answered_call("call-1", "contact-1", now),
        "/analysis/followup_requests",
        json!([{"channel": "call", "at": at, "reason": "call me tomorrow afternoon"}]),
    )
}

#[tokio::test]
async fn due_now_follow_ups_go_the_direct_path_and_later_ones_get_a_schedule_in_the_contacts_zone()
{
    let world = World::new().await;
    let now = world.clock.now();
    world
        .deliver("msg_1", &callback(now, "2030-01-16T14:00:00"))
        .await
        .unwrap();
    world.dispatch_changes().await;
    let scheduled = world.scheduled();
    let direct = scheduled
        .iter()
        .filter(|s| matches!(s, Scheduled::Now(_)))
        .count();
    assert_eq!(direct, 2, "SMS and email go now: {scheduled:?}");
    let call = one(&world, "contact-1", Channel::Call).await;
    assert!(
        scheduled
            .iter()
            .any(|s| matches!(s, Scheduled::At(job, at, tz)
        if job.followup_id == call.id.as_str() && *at == call.due_at && tz == "America/New_York")),
        "{scheduled:?}"
    );
    // 14:00 local New York time on a Wednesday = 19:00 UTC.
    assert_eq!(call.due_at.to_rfc3339(), "2030-01-16T19:00:00+00:00");
}

#[tokio::test]
async fn the_executor_sends_an_sms_exactly_once_however_often_it_is_invoked() {
    let world = Arc::new(World::new().await);
    world
        .deliver(
            "msg_1",
            &answered_call("call-1", "contact-1", world.clock.now()),
        )
        .await
        .unwrap();
    let sms = one(&world, "contact-1", Channel::Sms).await;
    let runs: Vec<_> = (0..5)
        .map(|_| {
            let (world, input) = (world.clone(), input(&world, &sms));
            tokio::spawn(async move { world.executor.execute(&input).await.unwrap() })
        })
        .collect();
    let mut outcomes = Vec::new();
    for run in runs {
        outcomes.push(run.await.unwrap());
    }
    assert_eq!(
        outcomes
            .iter()
            .filter(|o| matches!(o, Outcome::Sent { .. }))
            .count(),
        1,
        "{outcomes:?}"
    );
    let sent: Vec<_> = world
        .outbox
        .list()
        .into_iter()
        .filter(|e| e.channel == "sms")
        .collect();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].destination, "+14155552671");
    assert!(
        sent[0].text.contains("https://cal.example.com/acme") && sent[0].text.contains("STOP"),
        "{}",
        sent[0].text
    );
    let stored = one(&world, "contact-1", Channel::Sms).await;
    assert_eq!(stored.status, Status::Sent);
    assert_eq!(stored.attempts.len(), 1);
    assert_eq!(
        stored.attempts[0].provider_id.as_deref(),
        Some(sent[0].provider_id.as_str())
    );
}

#[tokio::test]
async fn a_do_not_call_entry_added_after_scheduling_stops_the_send() {
    let world = World::new().await;
    world
        .deliver(
            "msg_1",
            &answered_call("call-1", "contact-1", world.clock.now()),
        )
        .await
        .unwrap();
    world
        .engine
        .add_dnc(
            &world.account,
            &policy::Destination::parse("value", "ana@example.com").unwrap(),
        )
        .await
        .unwrap();
    let email = one(&world, "contact-1", Channel::Email).await;
    let outcome = world
        .executor
        .execute(&input(&world, &email))
        .await
        .unwrap();
    assert!(
        matches!(
            outcome,
            Outcome::Suppressed {
                reason: policy::Reason::Dnc
            }
        ),
        "{outcome:?}"
    );
    assert!(world.outbox.list().iter().all(|e| e.channel != "email"));
    assert_eq!(
        one(&world, "contact-1", Channel::Email).await.status,
        Status::Suppressed
    );
}

#[tokio::test]
async fn a_claim_left_by_a_dead_executor_is_reported_unknown_not_sent_again() {
    let world = World::new().await;
    world
        .deliver(
            "msg_1",
            &answered_call("call-1", "contact-1", world.clock.now()),
        )
        .await
        .unwrap();
    let sms = one(&world, "contact-1", Channel::Sms).await;
    // The process dies right after its claim: the follow-up stays `sending`.
    claim_and_die(&world, &sms).await;

    let soon = world.executor.execute(&input(&world, &sms)).await.unwrap();
    assert!(
        matches!(soon, Outcome::InFlight { .. }),
        "a fresh claim may still be in flight: {soon:?}"
    );
    world.clock.advance(Duration::minutes(10));
    let later = world.executor.execute(&input(&world, &sms)).await.unwrap();
    assert!(matches!(later, Outcome::Unknown { .. }), "{later:?}");
    assert_eq!(
        one(&world, "contact-1", Channel::Sms).await.status,
        Status::Unknown
    );
    assert!(world.outbox.list().is_empty(), "never resent");
}

#[tokio::test]
async fn an_invocation_lambda_gave_up_on_is_settled_from_the_failure_queue_never_resent() {
    use service::parked::{Parked, settle_parked};
    let world = World::new().await;
    world
        .deliver(
            "msg_1",
            &answered_call("call-1", "contact-1", world.clock.now()),
        )
        .await
        .unwrap();
    let sms = one(&world, "contact-1", Channel::Sms).await;
    let email = one(&world, "contact-1", Channel::Email).await;
    let repo = &world.engine.repo;

    // Still waiting to be sent after its executor kept failing: for an operator.
    let parked = settle_parked(repo, &input(&world, &email), world.clock.now()).await;
    assert_eq!(
        parked.unwrap(),
        Parked::ForOperator {
            status: Status::Scheduled
        }
    );

    // The last try claimed the SMS and died: fresh, the claim is left alone; stale, it
    // is settled `unknown` and nothing is sent.
    let claimed_at = claim_and_die(&world, &sms).await;
    let sms_input = input(&world, &sms);
    let at = |seconds| claimed_at + Duration::seconds(seconds);
    let fresh = settle_parked(repo, &sms_input, at(30)).await.unwrap();
    assert_eq!(fresh, Parked::ClaimFresh);
    let stale = settle_parked(repo, &sms_input, at(120)).await.unwrap();
    assert!(matches!(stale, Parked::SettledUnknown { .. }), "{stale:?}");
    assert_eq!(
        one(&world, "contact-1", Channel::Sms).await.status,
        Status::Unknown
    );
    // Received again (the queue delivers at least once): nothing more happens.
    let again = settle_parked(repo, &sms_input, at(240)).await.unwrap();
    assert_eq!(again, Parked::Done);
    assert!(world.outbox.list().is_empty(), "never resent");
}

#[tokio::test]
async fn an_unanswered_follow_up_call_is_retried_after_the_interval_then_exhausted() {
    let world = World::new().await;
    let now = world.clock.now();
    world
        .deliver("msg_1", &callback(now, "2030-01-15T16:00:00Z"))
        .await
        .unwrap();
    let call = one(&world, "contact-1", Channel::Call).await;
    world.clock.set(call.due_at);
    assert!(matches!(
        world.executor.execute(&input(&world, &call)).await.unwrap(),
        Outcome::Sent {
            status: Status::Placed,
            ..
        }
    ));
    let placed = world
        .outbox
        .list()
        .into_iter()
        .find(|e| e.channel == "call")
        .unwrap();
    assert_eq!(placed.detail["followup_id"], call.id.as_str());
    assert_eq!(
        placed.detail["instructions"]
            .as_str()
            .map(|s| s.contains("Offer a demo.")),
        Some(true)
    );

    // max_retries is 2: attempts 2 and 3 are retries, then it is exhausted.
    for attempt in 1..=3u32 {
        let ended = world.clock.now();
        let body = set(
            set(
                answered_call(&format!("fcall-{attempt}"), "contact-1", ended),
                "/call/outcome",
                json!("no_answer"),
            ),
            "/call/followup_id",
            json!(call.id.as_str()),
        );
        world
            .deliver(&format!("msg_retry_{attempt}"), &body)
            .await
            .unwrap();
        let after = world
            .engine
            .followup(&world.account, &call.id)
            .await
            .unwrap()
            .value;
        if attempt < 3 {
            assert_eq!(
                (after.status, after.attempt),
                (Status::Scheduled, attempt + 1),
                "{:#?}",
                after.trace
            );
            assert!(after.due_at >= ended + Duration::minutes(60));
            world.clock.set(after.due_at);
            let outcome = world
                .executor
                .execute(&input(&world, &after))
                .await
                .unwrap();
            assert!(matches!(outcome, Outcome::Sent { .. }), "{outcome:?}");
        } else {
            assert_eq!(after.status, Status::Exhausted, "{:#?}", after.trace);
        }
    }
    assert_eq!(
        world
            .outbox
            .list()
            .iter()
            .filter(|e| e.channel == "call")
            .count(),
        3
    );
}

#[tokio::test]
async fn a_needs_review_sms_is_sent_to_the_number_the_operator_gives_exactly_once() {
    let world = World::new().await;
    let body = set(
        answered_call("call-1", "contact-1", world.clock.now()),
        "/analysis/sms_destination",
        json!(null),
    );
    world.deliver("msg_1", &body).await.unwrap();
    let sms = one(&world, "contact-1", Channel::Sms).await;
    assert_eq!(sms.status, Status::NeedsReview);

    // A malformed number cannot reach the engine (it takes a `PhoneNumber`); the API's
    // 400 for it is asserted in `http/tests/api/views.rs`.
    let reviewed = world
        .engine
        .send_reviewed(
            &world.account,
            &sms.id,
            policy::PhoneNumber::parse("destination", "+14155550123").unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(reviewed.status, Status::Scheduled);
    let again = world
        .engine
        .send_reviewed(
            &world.account,
            &sms.id,
            policy::PhoneNumber::parse("destination", "+14155550123").unwrap(),
        )
        .await;
    assert!(
        matches!(again, Err(service::ServiceError::Conflict(_))),
        "{again:?}"
    );

    world.dispatch_changes().await;
    assert!(
        world
            .scheduled()
            .iter()
            .any(|s| matches!(s, Scheduled::Now(job) if job.followup_id == sms.id.as_str()))
    );
    world
        .executor
        .execute(&input(&world, &reviewed))
        .await
        .unwrap();
    world
        .executor
        .execute(&input(&world, &reviewed))
        .await
        .unwrap();
    let sent: Vec<_> = world
        .outbox
        .list()
        .into_iter()
        .filter(|e| e.channel == "sms")
        .collect();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].destination, "+14155550123");
}

#[tokio::test]
async fn cancelling_a_scheduled_call_removes_its_schedule_and_frees_the_slot() {
    let world = World::new().await;
    let now = world.clock.now();
    world
        .deliver("msg_1", &callback(now, "2030-01-16T15:00:00Z"))
        .await
        .unwrap();
    world.dispatch_changes().await;
    world.scheduled();
    let call = one(&world, "contact-1", Channel::Call).await;
    world
        .engine
        .cancel_followup(&world.account, &call.id)
        .await
        .unwrap();
    world.dispatch_changes().await;
    assert_eq!(
        world.scheduled(),
        vec![Scheduled::Removed(call.id.to_string())]
    );
    let again = world.engine.cancel_followup(&world.account, &call.id).await;
    assert!(matches!(again, Err(service::ServiceError::Conflict(_))));

    // A new request now creates a new pending call rather than rescheduling the cancelled one.
    let later = set(
        callback(now, "2030-01-17T15:00:00Z"),
        "/call/id",
        json!("call-2"),
    );
    world.deliver("msg_2", &later).await.unwrap();
    let scheduled: Vec<_> = world
        .followups_of("contact-1")
        .await
        .into_iter()
        .filter(|f| f.channel == Channel::Call && f.status == Status::Scheduled)
        .collect();
    assert_eq!(scheduled.len(), 1);
    assert_ne!(scheduled[0].id, call.id);
}

#[tokio::test]
async fn a_sent_follow_up_cannot_be_cancelled() {
    let world = World::new().await;
    world
        .deliver(
            "msg_1",
            &answered_call("call-1", "contact-1", world.clock.now()),
        )
        .await
        .unwrap();
    let sms = one(&world, "contact-1", Channel::Sms).await;
    world.executor.execute(&input(&world, &sms)).await.unwrap();
    match world.engine.cancel_followup(&world.account, &sms.id).await {
        Err(service::ServiceError::Conflict(message)) => {
            assert!(message.contains("sent"), "{message}")
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn the_preview_matches_what_the_webhook_then_does_and_stores_nothing() {
    let world = World::new().await;
    let now = world.clock.now();
    world
        .deliver("msg_1", &answered_call("call-1", "contact-1", now))
        .await
        .unwrap();
    let second = callback(now, "2030-01-16T15:00:00Z");
    let second = set(second, "/call/id", json!("call-2"));
    let preview = world
        .engine
        .preview(&world.account, second.to_string().as_bytes())
        .await
        .unwrap();
    assert_eq!(
        world.followups_of("contact-1").await.len(),
        2,
        "the preview stored nothing"
    );
    let answer: service::CallAnswer =
        serde_json::from_value(world.deliver("msg_2", &second).await.unwrap()).unwrap();
    // One schema: the answer is the preview plus the delivery's id and the new ids.
    let mut real = answer.clone();
    real.webhook_id = None;
    for followup in &mut real.followups {
        if followup.decision == service::DecisionKind::Create {
            followup.id = None;
        }
    }
    assert_eq!(preview, real, "{preview:#?}\n{answer:#?}");
}
