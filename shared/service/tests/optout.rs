//! The opt-out use case on the embedded store: the number or
//! address goes on the do-not-call list with its source, its open follow-ups of every
//! channel are cancelled with reason `opted_out`, and nothing more is sent to it.

mod support;

use policy::{Channel, Destination, DncSource, FollowUp, Reason, Status};
use serde_json::json;
use service::clock::Clock;
use service::execute::ExecutorInput;
use support::*;

fn destination(raw: &str) -> Destination {
    Destination::parse("d", raw).unwrap()
}

/// An answered call with SMS and email consent and a follow-up call tomorrow.
async fn call_with_three_followups(world: &World) -> Vec<FollowUp> {
    let now = world.clock.now();
    let body = set(
        answered_call("call-1", "contact-1", now),
        "/analysis/followup_requests",
        json!([{"channel": "call", "at": "2030-01-16T14:00:00", "reason": "call me tomorrow"}]),
    );
    world.deliver("msg_1", &body).await.unwrap();
    let followups = world.followups_of("contact-1").await;
    assert_eq!(followups.len(), 3, "{followups:#?}");
    assert!(followups.iter().all(|f| f.status == Status::Scheduled));
    followups
}

fn of(followups: &[FollowUp], channel: Channel) -> &FollowUp {
    followups.iter().find(|f| f.channel == channel).unwrap()
}

#[tokio::test]
async fn an_sms_opt_out_cancels_every_open_follow_up_of_the_number_and_not_the_email() {
    let world = World::new().await;
    call_with_three_followups(&world).await;

    let phone = destination("+14155552671");
    let done = world
        .engine
        .opt_out(&world.account, &phone, DncSource::SmsReply)
        .await
        .unwrap();
    assert_eq!(done.entry.source, DncSource::SmsReply);
    assert_eq!(done.cancelled.len(), 2, "the SMS and the follow-up call");

    let followups = world.followups_of("contact-1").await;
    for channel in [Channel::Sms, Channel::Call] {
        let f = of(&followups, channel);
        assert_eq!(f.status, Status::Cancelled, "{channel}");
        assert_eq!(f.reason, Some(Reason::OptedOut), "{channel}");
    }
    assert_eq!(of(&followups, Channel::Email).status, Status::Scheduled);
}

#[tokio::test]
async fn an_unsubscribe_cancels_the_pending_email_and_nothing_is_sent_to_the_address() {
    let world = World::new().await;
    let followups = call_with_three_followups(&world).await;
    let email = of(&followups, Channel::Email).clone();

    world
        .engine
        .opt_out(
            &world.account,
            &destination("ana@example.com"),
            DncSource::Unsubscribe,
        )
        .await
        .unwrap();
    let input = ExecutorInput {
        account_id: "acme".into(),
        followup_id: email.id.to_string(),
        attempt: 1,
    };
    world.executor.execute(&input).await.unwrap();
    assert!(
        world.outbox.list().iter().all(|e| e.channel != "email"),
        "{:?}",
        world.outbox.list()
    );
    let email = world
        .engine
        .followup(&world.account, &email.id)
        .await
        .unwrap();
    assert_eq!(email.value.status, Status::Cancelled);
    assert_eq!(email.value.reason, Some(Reason::OptedOut));
}

#[tokio::test]
async fn a_repeated_opt_out_keeps_the_first_entry_and_changes_nothing() {
    let world = World::new().await;
    call_with_three_followups(&world).await;
    let phone = destination("+14155552671");
    let first = world
        .engine
        .opt_out(&world.account, &phone, DncSource::SmsReply)
        .await
        .unwrap();
    let before = world.followups_of("contact-1").await;
    world.clock.advance(chrono::Duration::minutes(1));
    let again = world
        .engine
        .opt_out(&world.account, &phone, DncSource::WhatsappReply)
        .await
        .unwrap();
    assert!(again.cancelled.is_empty());
    assert_eq!(again.entry.source, DncSource::SmsReply);
    assert_eq!(again.entry.added_at, first.entry.added_at);
    assert_eq!(world.followups_of("contact-1").await, before);
}

#[tokio::test]
async fn the_dnc_list_shows_each_entry_with_its_source_and_time() {
    let world = World::new().await;
    let now = world.clock.now();
    world
        .engine
        .add_dnc(
            &world.account,
            &policy::Destination::parse("value", "+14155550100").unwrap(),
        )
        .await
        .unwrap();
    world
        .engine
        .opt_out(
            &world.account,
            &destination("bo@example.com"),
            DncSource::Complaint,
        )
        .await
        .unwrap();
    let list = world
        .engine
        .dnc_list(&world.account, None, None)
        .await
        .unwrap();
    let shown: Vec<_> = list
        .items
        .iter()
        .map(|e| serde_json::to_value(e).unwrap())
        .collect();
    assert!(
        shown.contains(&json!({"value": "+14155550100", "added_at": now, "source": "operator"})),
        "{shown:?}"
    );
    assert!(
        shown.contains(&json!({"value": "bo@example.com", "added_at": now, "source": "complaint"})),
        "{shown:?}"
    );
}

#[tokio::test]
async fn an_entry_stored_before_sources_existed_reads_as_operator() {
    let world = World::new().await;
    let mut attrs = store::Attrs::new();
    attrs.insert("value".into(), json!("+14155550100"));
    attrs.insert("added_at".into(), json!("2025-01-01T00:00:00Z"));
    let key = store::Key::new("A#acme", "DNC#+14155550100");
    use store::Table;
    world
        .table
        .write(vec![store::Write::Put {
            item: store::Item::new(key, attrs),
            cond: store::Cond::Always,
        }])
        .await
        .unwrap();
    let list = world
        .engine
        .dnc_list(&world.account, None, None)
        .await
        .unwrap();
    assert_eq!(list.items.len(), 1);
    assert_eq!(list.items[0].source, DncSource::Operator);
}
