//! The `inbound` use case on the embedded store, fed payloads shaped as AWS delivers
//! them (tests/fixtures): two-way SMS replies published by End User Messaging SMS to
//! SNS, and SES configuration-set events (complaints, bounces).

mod support;

use policy::{AccountId, Channel, Reason, Status};
use serde_json::{Value, json};
use service::clock::Clock;
use service::execute::ExecutorInput;
use service::inbound::{Handled, Inbound, InboundError, SnsEvent};
use support::*;

const OUR_NUMBER: &str = "+12125550101";
const CONTACT: &str = "+14155552671";

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

/// Lambda's SNS event around one published message.
fn sns_event(message: &str) -> SnsEvent {
    serde_json::from_value(json!({"Records": [{"EventSource": "aws:sns", "Sns": {
        "Type": "Notification", "MessageId": "m-1",
        "TopicArn": "arn:aws:sns:us-east-1:123456789012:followups-inbound",
        "Message": message, "Timestamp": "2030-01-15T15:00:00.000Z"}}]}))
    .unwrap()
}

fn reply(from: &str, to: &str, body: &str) -> SnsEvent {
    sns_event(
        &json!({"originationNumber": from, "destinationNumber": to, "messageKeyword": "KEYWORD_1",
                "messageBody": body, "inboundMessageId": "in-1", "previousPublishedMessageId": "out-1"})
        .to_string(),
    )
}

async fn world_with(confirmation: bool) -> (World, Inbound) {
    let world = World::new().await;
    let mut account = account_json();
    account["sms_origination_number"] = json!(OUR_NUMBER);
    account["sms_opt_out_confirmation"] = json!(confirmation);
    world
        .configure(account, agent_json(), campaign_json())
        .await;
    let now = world.clock.now();
    world
        .deliver("msg_1", &answered_call("call-1", "contact-1", now))
        .await
        .unwrap();
    let inbound = Inbound::new(world.engine.clone(), Some(world.outbox.clone()));
    (world, inbound)
}

async fn status_of(world: &World, channel: Channel) -> (Status, Option<Reason>) {
    let f = world
        .followups_of("contact-1")
        .await
        .into_iter()
        .find(|f| f.channel == channel)
        .unwrap();
    (f.status, f.reason)
}

async fn dnc(world: &World) -> Vec<Value> {
    let list = world
        .engine
        .dnc_list(&world.account, None, None)
        .await
        .unwrap();
    list.items
        .iter()
        .map(|e| serde_json::to_value(e).unwrap())
        .collect()
}

#[tokio::test]
async fn a_stop_reply_puts_the_number_on_the_list_of_the_account_owning_our_number() {
    let (world, inbound) = world_with(false).await;
    let event: SnsEvent = serde_json::from_str(&fixture("sns_event_two_way_sms.json")).unwrap();
    let handled = inbound.on_event(&event).await.unwrap();
    assert_eq!(
        handled,
        vec![Handled::OptedOut {
            cancelled: 1,
            confirmed: false
        }]
    );
    assert_eq!(
        status_of(&world, Channel::Sms).await,
        (Status::Cancelled, Some(Reason::OptedOut))
    );
    assert_eq!(status_of(&world, Channel::Email).await.0, Status::Scheduled);
    let entries = dnc(&world).await;
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["value"], CONTACT);
    assert_eq!(entries[0]["source"], "sms_reply");
    assert!(
        world.outbox.list().is_empty(),
        "no confirmation unless the account turns it on"
    );
}

#[tokio::test]
async fn the_confirmation_text_goes_out_once_from_our_number_when_the_account_turns_it_on() {
    let (world, inbound) = world_with(true).await;
    let first = inbound
        .on_event(&reply(CONTACT, OUR_NUMBER, "STOP"))
        .await
        .unwrap();
    assert_eq!(
        first,
        vec![Handled::OptedOut {
            cancelled: 1,
            confirmed: true
        }]
    );
    world.clock.advance(chrono::Duration::minutes(1));
    let again = inbound
        .on_event(&reply(CONTACT, OUR_NUMBER, "stop"))
        .await
        .unwrap();
    assert_eq!(
        again,
        vec![Handled::OptedOut {
            cancelled: 0,
            confirmed: false
        }]
    );
    let sent = world.outbox.list();
    assert_eq!(sent.len(), 1, "{sent:?}");
    let message = serde_json::to_value(&sent[0]).unwrap();
    assert_eq!(message["channel"], "sms", "{message}");
    assert_eq!(message["destination"], CONTACT, "{message}");
    assert!(
        message
            .to_string()
            .contains("Acme Team: you have opted out"),
        "{message}"
    );
}

#[tokio::test]
async fn a_reply_that_is_not_an_opt_out_word_changes_nothing() {
    let (world, inbound) = world_with(true).await;
    let handled = inbound
        .on_event(&reply(CONTACT, OUR_NUMBER, "Stop by tomorrow?"))
        .await
        .unwrap();
    assert_eq!(handled, vec![Handled::Ignored("not an opt-out word")]);
    assert!(dnc(&world).await.is_empty());
    assert_eq!(status_of(&world, Channel::Sms).await.0, Status::Scheduled);
}

#[tokio::test]
async fn a_reply_to_a_number_no_account_owns_is_acknowledged_and_ignored() {
    let (world, inbound) = world_with(true).await;
    let handled = inbound
        .on_event(&reply(CONTACT, "+12125550199", "STOP"))
        .await
        .unwrap();
    assert_eq!(
        handled,
        vec![Handled::Ignored("a reply to a number no account owns")]
    );
    assert!(dnc(&world).await.is_empty());
    assert!(world.outbox.list().is_empty());
}

#[tokio::test]
async fn malformed_messages_fail_and_store_nothing() {
    let (world, inbound) = world_with(true).await;
    let cases = [
        sns_event("not json"),
        sns_event("{}"),
        sns_event(r#"{"inboundMessageId": "x", "messageBody": "STOP"}"#),
        sns_event(
            &json!({"originationNumber": "12", "destinationNumber": OUR_NUMBER,
            "messageBody": "STOP", "inboundMessageId": "in-1"})
            .to_string(),
        ),
        sns_event(
            &json!({"originationNumber": CONTACT, "destinationNumber": OUR_NUMBER,
            "messageBody": 5, "inboundMessageId": "in-1"})
            .to_string(),
        ),
        sns_event(
            r#"{"eventType": "Complaint", "mail": {"messageId": "m", "tags": {"account_id": ["acme"]}}}"#,
        ),
        sns_event(&"x".repeat(300 * 1024)),
    ];
    for event in &cases {
        let result = inbound.on_event(event).await;
        assert!(
            matches!(result, Err(InboundError::Malformed(_))),
            "{result:?}"
        );
    }
    let mut wrong_type = reply(CONTACT, OUR_NUMBER, "STOP");
    wrong_type.records[0].sns.kind = "SubscriptionConfirmation".into();
    assert!(matches!(
        inbound.on_event(&wrong_type).await,
        Err(InboundError::Malformed(_))
    ));
    assert!(serde_json::from_value::<SnsEvent>(json!({"Records": [{"Sns": {}}]})).is_err());
    assert!(dnc(&world).await.is_empty());
    assert_eq!(status_of(&world, Channel::Sms).await.0, Status::Scheduled);
}

#[tokio::test]
async fn an_ses_complaint_puts_the_address_on_the_list_and_cancels_its_email() {
    let (world, inbound) = world_with(false).await;
    let handled = inbound
        .on_event(&sns_event(&fixture("ses_complaint.json")))
        .await
        .unwrap();
    assert_eq!(
        handled,
        vec![Handled::OptedOut {
            cancelled: 1,
            confirmed: false
        }]
    );
    let entries = dnc(&world).await;
    assert_eq!(entries[0]["value"], "ana@example.com");
    assert_eq!(entries[0]["source"], "complaint");
    assert_eq!(
        status_of(&world, Channel::Email).await,
        (Status::Cancelled, Some(Reason::OptedOut))
    );
    assert_eq!(status_of(&world, Channel::Sms).await.0, Status::Scheduled);
}

#[tokio::test]
async fn a_permanent_bounce_stops_email_to_the_address_and_nothing_else() {
    let (world, inbound) = world_with(false).await;
    let handled = inbound
        .on_event(&sns_event(&fixture("ses_bounce_permanent.json")))
        .await
        .unwrap();
    assert_eq!(handled, vec![Handled::Undeliverable(1)]);
    assert!(dnc(&world).await.is_empty(), "a bounce is not an opt-out");
    for f in world.followups_of("contact-1").await {
        let input = ExecutorInput {
            account_id: "acme".into(),
            followup_id: f.id.to_string(),
            attempt: 1,
        };
        world.executor.execute(&input).await.unwrap();
    }
    assert_eq!(
        status_of(&world, Channel::Email).await,
        (Status::Suppressed, Some(Reason::Undeliverable))
    );
    assert_eq!(status_of(&world, Channel::Sms).await.0, Status::Sent);
}

#[tokio::test]
async fn transient_bounces_untagged_emails_and_other_events_are_ignored() {
    let (world, inbound) = world_with(false).await;
    let mut transient: Value = serde_json::from_str(&fixture("ses_bounce_permanent.json")).unwrap();
    transient["bounce"]["bounceType"] = json!("Transient");
    let mut untagged: Value = serde_json::from_str(&fixture("ses_complaint.json")).unwrap();
    untagged["mail"]["tags"] = json!({});
    let delivery = json!({"eventType": "Delivery", "mail": {"messageId": "m", "tags": {"account_id": ["acme"]}}, "delivery": {}});
    for event in [transient, untagged, delivery] {
        let handled = inbound
            .on_event(&sns_event(&event.to_string()))
            .await
            .unwrap();
        assert!(matches!(handled[0], Handled::Ignored(_)), "{handled:?}");
    }
    assert!(dnc(&world).await.is_empty());
    assert_eq!(status_of(&world, Channel::Email).await.0, Status::Scheduled);
}

#[tokio::test]
async fn an_origination_number_belongs_to_one_account() {
    let (world, _inbound) = world_with(false).await;
    let globex = AccountId::parse("account_id", "globex").unwrap();
    let taken = world
        .engine
        .put_account_settings(
            &globex,
            &json!({"sms_origination_number": OUR_NUMBER}),
            None,
        )
        .await;
    assert!(
        matches!(taken, Err(service::ServiceError::Conflict(_))),
        "{taken:?}"
    );
    // Acme moves to another number: the old one is free for Globex.
    let mut account = account_json();
    account["sms_origination_number"] = json!("+12125550102");
    world
        .configure(account, agent_json(), campaign_json())
        .await;
    world
        .engine
        .put_account_settings(
            &globex,
            &json!({"sms_origination_number": OUR_NUMBER}),
            None,
        )
        .await
        .unwrap();
    let owner = world
        .engine
        .repo
        .origination_owner(&policy::PhoneNumber::parse("n", OUR_NUMBER).unwrap())
        .await
        .unwrap();
    assert_eq!(owner, Some(globex));
}
