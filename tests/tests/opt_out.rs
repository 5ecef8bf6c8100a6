//! Opt-outs on AWS, in the emulator: a two-way SMS reply as End User Messaging
//! publishes it (wrapped as SNS delivers it to Lambda) reaches the `inbound` use case
//! on DynamoDB; the follow-ups of the number are cancelled on every channel and the
//! one confirmation text is published through SNS — all against moto.

mod support;

use std::sync::Arc;

use policy::{Channel, Reason, Status};
use serde_json::json;
use service::inbound::{Handled, Inbound, SnsEvent};
use support::*;

const OUR_NUMBER: &str = "+12125550101";

fn reply(from: &str, body: &str) -> SnsEvent {
    let message = json!({"originationNumber": from, "destinationNumber": OUR_NUMBER,
        "messageKeyword": "KEYWORD_123456789012", "messageBody": body,
        "inboundMessageId": "cae173d2-66b9-564c-8309-21f858e9fb84",
        "previousPublishedMessageId": "wJ0rt0umEVRC7r4i8ujO6QVp3T1A6IPy8mvXpREjNsA"});
    serde_json::from_value(
        json!({"Records": [{"EventSource": "aws:sns", "EventVersion": "1.0",
        "Sns": {"Type": "Notification", "MessageId": "95df01b4-ee98-5cb9-9903-4c221d41eb5e",
                "TopicArn": "arn:aws:sns:us-east-1:123456789012:followups-inbound",
                "Message": message.to_string(), "Timestamp": "2030-01-15T15:00:00.000Z"}}]}),
    )
    .unwrap()
}

#[tokio::test]
async fn a_stop_reply_cancels_the_numbers_follow_ups_and_one_confirmation_goes_through_sns() {
    let world = AwsWorld::new().await;
    let account = json!({"default_sender_name": "Ana at Acme", "default_meeting_link": "https://cal.example.com/acme",
        "default_time_zone": "America/New_York",
        "quiet_hours": {"start": "00:00", "end": "24:00"}, "email_from_address": world.from_address,
        "sms_origination_number": OUR_NUMBER, "sms_opt_out_confirmation": true});
    world
        .engine
        .put_account_settings(&world.account, &account, None)
        .await
        .unwrap();
    let tomorrow = (world.now() + chrono::Duration::days(1)).date_naive();
    let call = world.call("call-1", "contact-1", Some(&format!("{tomorrow}T15:00:00")));
    let (status, answer) = world.post_webhook("msg_1", &call).await;
    assert_eq!(status, 200, "{answer}");

    let sns = aws_sdk_sns::Client::new(&world.moto.sdk_config());
    let inbound = Inbound::new(
        world.engine.clone(),
        Some(Arc::new(channels::SnsSms::new(&sns))),
    );
    let handled = inbound
        .on_event(&reply(&world.phone, "STOP"))
        .await
        .unwrap();
    assert_eq!(
        handled,
        vec![Handled::OptedOut {
            cancelled: 2,
            confirmed: true
        }]
    );
    let again = inbound
        .on_event(&reply(&world.phone, "stop"))
        .await
        .unwrap();
    assert_eq!(
        again,
        vec![Handled::OptedOut {
            cancelled: 0,
            confirmed: false
        }]
    );

    let followups = world.followups("contact-1").await;
    for channel in [Channel::Sms, Channel::Call] {
        let f = followups.iter().find(|f| f.channel == channel).unwrap();
        assert_eq!(
            (f.status, f.reason),
            (Status::Cancelled, Some(Reason::OptedOut)),
            "{channel}"
        );
    }
    let email = followups
        .iter()
        .find(|f| f.channel == Channel::Email)
        .unwrap();
    assert_eq!(email.status, Status::Scheduled);
    let texts = world.sms_to(&world.phone).await;
    assert_eq!(
        texts.len(),
        1,
        "one confirmation, no follow-up SMS: {texts:?}"
    );
    assert!(
        texts[0]
            .to_string()
            .contains("Ana at Acme: you have opted out"),
        "{texts:?}"
    );
}
