//! The legal floor through the use cases on the embedded store: the contact's latest
//! zone, retries to numbers on the list, and frequency caps counted from stored touches.

mod support;

use chrono::Duration;
use policy::{Channel, Reason, Status};
use serde_json::{Value, json};
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

async fn the_call(world: &World, contact: &str) -> policy::FollowUp {
    world
        .followups_of(contact)
        .await
        .into_iter()
        .find(|f| f.channel == Channel::Call)
        .expect("a follow-up call")
}

/// An answered call to `phone`, reporting `tz` (or no zone), asking for a call at `at`.
fn call_to(
    call_id: &str,
    phone: &str,
    tz: Option<&str>,
    at: Option<&str>,
    ended: chrono::DateTime<chrono::Utc>,
) -> Value {
    let mut body = set(
        set(
            answered_call(call_id, "contact-1", ended),
            "/contact/phone",
            json!(phone),
        ),
        "/contact/timezone",
        tz.map_or(Value::Null, |t| json!(t)),
    );
    if let Some(at) = at {
        body = set(
            body,
            "/analysis/followup_requests",
            json!([{"channel": "call", "at": at}]),
        );
    }
    body
}

/// A call to a number whose area code says nothing, with no zone: a follow-up call in
/// the agent's New York for Wed 09:00 (06:00 in Los Angeles); an hour later another
/// call says the contact is in Los Angeles. Returns the follow-up as first decided.
async fn call_then_zone_reported(world: &World) -> policy::FollowUp {
    let now = world.clock.now(); // Tue 10:00 in New York
    let unknown = "+447400123456";
    let first = call_to("call-1", unknown, None, Some("2030-01-16T14:00:00Z"), now);
    world.deliver("msg_1", &first).await.unwrap();
    let call = the_call(world, "contact-1").await;
    assert_eq!(call.time_zone.as_str(), "America/New_York");
    world.clock.advance(Duration::hours(1));
    let la = Some("America/Los_Angeles");
    let later = call_to("call-2", unknown, la, None, world.clock.now());
    world.deliver("msg_2", &later).await.unwrap();
    call
}

#[tokio::test]
async fn a_zone_reported_by_a_later_call_moves_the_pending_call_into_its_window() {
    let world = World::new().await;
    call_then_zone_reported(&world).await;
    let moved = the_call(&world, "contact-1").await;
    assert_eq!(moved.time_zone.as_str(), "America/Los_Angeles");
    assert_eq!(moved.due_at.to_rfc3339(), "2030-01-16T17:00:00+00:00"); // 09:00 there
    assert_eq!(moved.reason, Some(Reason::ZoneUpdated));
}

#[tokio::test]
async fn the_send_time_check_reads_the_zone_reported_since() {
    let world = World::new().await;
    let call = call_then_zone_reported(&world).await;
    // Put the stored follow-up back at its old time and zone (as if the move had been
    // lost): the executor reads the contact's zone itself and holds it.
    let stored = world
        .engine
        .followup(&world.account, &call.id)
        .await
        .unwrap();
    let mut back = stored.value.clone();
    back.due_at = call.due_at;
    back.time_zone = call.time_zone;
    world
        .engine
        .repo
        .save_followup(&stored, &back)
        .await
        .unwrap();
    world.clock.set(call.due_at);
    let outcome = world.executor.execute(&input(&world, &back)).await.unwrap();
    assert!(
        matches!(outcome, Outcome::Rescheduled { due_at } if due_at.to_rfc3339() == "2030-01-16T17:00:00+00:00"),
        "{outcome:?}"
    );
    assert!(world.outbox.list().iter().all(|e| e.channel != "call"));
}

#[tokio::test]
async fn a_retry_to_a_number_on_the_dnc_list_ends_suppressed_and_the_webhook_answers() {
    let world = World::new().await;
    let now = world.clock.now();
    world
        .deliver(
            "msg_1",
            &call_to(
                "call-1",
                "+14155552671",
                Some("America/New_York"),
                Some("2030-01-15T16:00:00Z"),
                now,
            ),
        )
        .await
        .unwrap();
    let call = the_call(&world, "contact-1").await;
    world.clock.set(call.due_at);
    let placed = world.executor.execute(&input(&world, &call)).await.unwrap();
    assert!(matches!(placed, Outcome::Sent { .. }), "{placed:?}");
    world
        .engine
        .add_dnc(
            &world.account,
            &policy::Destination::parse("value", "+14155552671").unwrap(),
        )
        .await
        .unwrap();
    let unanswered = set(
        set(
            answered_call("fcall-1", "contact-1", world.clock.now()),
            "/call/outcome",
            json!("no_answer"),
        ),
        "/call/followup_id",
        json!(call.id.as_str()),
    );
    let answer = world.deliver("msg_2", &unanswered).await.unwrap();
    assert!(answer["followups"].is_array(), "{answer}");
    let after = world
        .engine
        .followup(&world.account, &call.id)
        .await
        .unwrap()
        .value;
    assert_eq!(
        (after.status, after.reason),
        (Status::Suppressed, Some(Reason::Dnc))
    );
    // A redelivery gets the same answer: the record was written.
    assert_eq!(world.deliver("msg_2", &unanswered).await.unwrap(), answer);
}

#[tokio::test]
async fn maryland_calls_are_capped_at_three_a_day_counting_the_campaigns_own_calls() {
    let world = World::new().await;
    let start = world.clock.now() - Duration::hours(3);
    let md = "+14105550123";
    for (i, hours) in [0, 1, 2].into_iter().enumerate() {
        world.clock.set(start + Duration::hours(hours));
        let at = (i == 2).then_some("2030-01-15T15:30:00Z");
        let body = call_to(
            &format!("call-{i}"),
            md,
            Some("America/New_York"),
            at,
            world.clock.now(),
        );
        world.deliver(&format!("msg_{i}"), &body).await.unwrap();
    }
    let call = the_call(&world, "contact-1").await;
    // Three calls from 11:55Z on (each started five minutes before it ended): the
    // follow-up waits until the first leaves the 24-hour span (06:55 in Baltimore),
    // then for the agent's 09:00.
    assert_eq!(call.due_at.to_rfc3339(), "2030-01-16T14:00:00+00:00");
    let rules: Vec<String> = call.trace[0]
        .rules
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(rules, ["frequency_cap:MD", "allowed_window"]);
    world.clock.set(call.due_at);
    let sent = world.executor.execute(&input(&world, &call)).await.unwrap();
    assert!(matches!(sent, Outcome::Sent { .. }), "{sent:?}");
}
