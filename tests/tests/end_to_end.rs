//! From the end of a call to a message in the emulator: the signed webhook writes one
//! DynamoDB transaction, the stream drives the dispatcher, which invokes executors
//! directly or creates EventBridge schedules, and the executors send through SNS and
//! SESv2 — all AWS calls against moto.

mod support;

use service::execute::{ExecutorInput, Outcome};
use support::*;

#[tokio::test]
async fn a_call_with_consent_ends_as_one_sms_and_one_email_in_the_emulator_and_a_scheduled_callback()
 {
    let world = AwsWorld::new().await;
    let tomorrow = (world.now() + chrono::Duration::days(1)).date_naive();
    let callback_at = format!("{tomorrow}T15:00:00");
    let (status, answer) = world
        .post_webhook(
            "msg_1",
            &world.call("call-1", "contact-1", Some(&callback_at)),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["followups"].as_array().unwrap().len(), 3, "{answer}");

    // The stream drives the dispatcher: SMS and email now, the callback on a schedule.
    let dispatcher = world.dispatcher();
    assert_eq!(dispatcher.on_stream(world.stream().await).await, None);
    let invocations = world.lambda.take();
    let mut functions: Vec<_> = invocations.iter().map(|i| i.function.clone()).collect();
    functions.sort();
    assert_eq!(functions, vec![executor_arn("email"), executor_arn("sms")]);
    for invocation in &invocations {
        let keys: Vec<_> = invocation
            .payload
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        assert_eq!(
            keys,
            ["account_id", "attempt", "followup_id"],
            "the executor input is exactly these"
        );
    }

    let call = world
        .followups("contact-1")
        .await
        .into_iter()
        .find(|f| f.channel == policy::Channel::Call)
        .unwrap();
    let name = scheduling::schedule_name(world.account.as_str(), call.id.as_str());
    let schedule = world
        .scheduler
        .get_schedule()
        .group_name(&world.group)
        .name(&name)
        .send()
        .await
        .unwrap();
    assert_eq!(
        schedule.schedule_expression(),
        Some(format!("at({tomorrow}T15:00:00)").as_str())
    );
    assert_eq!(
        schedule.schedule_expression_timezone(),
        Some("America/New_York")
    );
    let target = schedule.target().unwrap();
    assert_eq!(target.arn(), executor_arn("call"));
    let input: serde_json::Value = serde_json::from_str(target.input().unwrap()).unwrap();
    assert_eq!(
        input,
        serde_json::json!({"account_id": world.account.as_str(), "followup_id": call.id.as_str(), "attempt": 1})
    );

    // Lambda runs the executors it was asked to: one SMS, one email, in the emulator.
    for invocation in &invocations {
        let outcome = world.run_invocation(invocation).await;
        assert!(matches!(outcome, Outcome::Sent { .. }), "{outcome:?}");
    }
    let sms = world.sms_to(&world.phone).await;
    assert_eq!(sms.len(), 1, "{sms:?}");
    let text = sms[0]["message"].as_str().unwrap();
    assert!(
        text.contains("Ana at Acme")
            && text.contains("https://cal.example.com/acme")
            && text.contains("STOP"),
        "{text}"
    );
    let email = world.email_to("contact-1@example.org").await;
    assert_eq!(email.len(), 1, "{email:?}");
    assert_eq!(email[0]["subject"], "Great talking, Ana");
    assert!(
        email[0]["source"]
            .as_str()
            .unwrap()
            .contains(&world.from_address)
    );
    assert!(
        email[0]["body"]
            .as_str()
            .unwrap()
            .contains("<strong>Book</strong>"),
        "{}",
        email[0]["body"]
    );

    // Fired early (it never is, but), the executor leaves the call and its schedule alone.
    let fired: ExecutorInput = serde_json::from_value(input).unwrap();
    let early = world.executor("call").execute(&fired).await.unwrap();
    assert!(matches!(early, Outcome::Skipped { .. }), "{early:?}");
    assert!(world.outbox.list().is_empty());
    // When Scheduler fires it at its time, the call is placed with the agent's instructions.
    let clock = std::sync::Arc::new(service::clock::MovableClock::new());
    clock.advance(call.due_at - world.now());
    let placed = world
        .executor_with_clock("call", clock)
        .execute(&fired)
        .await
        .unwrap();
    assert!(
        matches!(
            placed,
            Outcome::Sent {
                status: policy::Status::Placed,
                ..
            }
        ),
        "{placed:?}"
    );
    let calls = world.outbox.list();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].destination, world.phone);
    assert_eq!(calls[0].detail["followup_id"], call.id.as_str());
    assert!(
        calls[0].detail["instructions"]
            .as_str()
            .unwrap()
            .contains("Offer a demo.")
    );
}

#[tokio::test]
async fn a_warm_webhook_costs_one_dynamodb_transaction_and_a_send_costs_a_claim_a_send_and_a_write()
{
    let world = AwsWorld::new().await;
    // The first delivery of a container warms the settings and secrets caches.
    world
        .post_webhook("msg_warm", &world.call("call-0", "contact-0", None))
        .await;
    world.webhook_requests.reset();
    let (status, _) = world
        .post_webhook("msg_1", &world.call("call-1", "contact-1", None))
        .await;
    assert_eq!(status, 200);
    let counts = world.webhook_requests.counts();
    // One transaction, and the contact's two records (latest zone, recent touches)
    // read in parallel: the legal floor needs them before deciding. Then the
    // do-not-call entries of the two destinations (phone, email), read in parallel
    // before the transaction instead of checked inside it. The call reports
    // the contact's zone for the first time, so their follow-ups are looked up once to
    // move any pending one into its window (none here): a Query of the contact index,
    // which holds keys only, and one BatchGetItem of the entries it found.
    assert_eq!(
        counts.into_iter().collect::<Vec<_>>(),
        vec![
            ("DynamoDB.BatchGetItem".to_string(), 1),
            ("DynamoDB.GetItem".to_string(), 4),
            ("DynamoDB.Query".to_string(), 1),
            ("DynamoDB.TransactWriteItems".to_string(), 1)
        ]
    );

    let dispatcher = world.dispatcher();
    assert_eq!(dispatcher.on_stream(world.stream().await).await, None);
    let invocations = world.lambda.take();
    let mut sms_of = std::collections::HashMap::new();
    for contact in ["contact-0", "contact-1"] {
        let id = world
            .followups(contact)
            .await
            .into_iter()
            .find(|f| f.channel == policy::Channel::Sms)
            .unwrap()
            .id;
        let invocation = invocations
            .iter()
            .find(|i| i.payload["followup_id"] == id.as_str())
            .unwrap()
            .clone();
        sms_of.insert(contact, invocation);
    }
    // The executor's first run warms its settings cache too; count the second.
    world.run_invocation(&sms_of["contact-0"]).await;
    world.executor_requests.reset();
    let outcome = world.run_invocation(&sms_of["contact-1"]).await;
    assert!(matches!(outcome, Outcome::Sent { .. }), "{outcome:?}");
    let counts: Vec<_> = world.executor_requests.counts().into_iter().collect();
    let expected = [
        // the follow-up, its do-not-call entry, the contact's latest zone and touches
        ("DynamoDB.GetItem", 4),
        ("DynamoDB.PutItem", 1),            // the outcome
        ("DynamoDB.TransactWriteItems", 1), // the claim with the touch it counts for caps
        ("SNS.CheckIfPhoneNumberIsOptedOut", 1),
        ("SNS.Publish", 1),
    ];
    assert_eq!(counts, expected.map(|(o, n)| (o.to_string(), n)).to_vec());
}

#[tokio::test]
async fn a_follow_up_written_before_the_process_died_is_still_scheduled_and_sent_once() {
    let world = AwsWorld::new().await;
    let (status, _) = world
        .post_webhook("msg_1", &world.call("call-1", "contact-1", None))
        .await;
    assert_eq!(status, 200);
    // The webhook's process dies here: nothing was dispatched. The stream keeps the
    // records; a dispatcher started later (a new Lambda container) gets them.
    assert!(world.lambda.take().is_empty());
    let records = world.stream().await;
    assert_eq!(world.dispatcher().on_stream(records).await, None);
    // The event source mapping may deliver the batch again (the dispatcher died after
    // dispatching but before checkpointing): the executor sends once all the same.
    assert_eq!(
        world.dispatcher().on_stream(world.stream().await).await,
        None
    );
    let invocations = world.lambda.take();
    assert_eq!(invocations.len(), 4, "SMS and email, each dispatched twice");
    for invocation in &invocations {
        world.run_invocation(invocation).await;
    }
    assert_eq!(world.sms_to(&world.phone).await.len(), 1);
    assert_eq!(world.email_to("contact-1@example.org").await.len(), 1);
}

#[tokio::test]
async fn a_do_not_call_entry_added_after_scheduling_stops_the_send_in_the_emulator() {
    let world = AwsWorld::new().await;
    world
        .post_webhook("msg_1", &world.call("call-1", "contact-1", None))
        .await;
    assert_eq!(
        world.dispatcher().on_stream(world.stream().await).await,
        None
    );
    world
        .engine
        .add_dnc(
            &world.account,
            &policy::Destination::parse("value", &world.phone).unwrap(),
        )
        .await
        .unwrap();
    for invocation in world.lambda.take() {
        world.run_invocation(&invocation).await;
    }
    assert!(world.sms_to(&world.phone).await.is_empty());
    let sms = world
        .followups("contact-1")
        .await
        .into_iter()
        .find(|f| f.channel == policy::Channel::Sms)
        .unwrap();
    assert_eq!(
        (sms.status, sms.reason),
        (policy::Status::Suppressed, Some(policy::Reason::Dnc))
    );
    assert_eq!(
        world.email_to("contact-1@example.org").await.len(),
        1,
        "the email address is not on the list"
    );
}

#[tokio::test]
async fn cancelling_a_scheduled_callback_deletes_its_schedule() {
    let world = AwsWorld::new().await;
    let at = (world.now() + chrono::Duration::days(2))
        .format("%Y-%m-%dT10:00:00")
        .to_string();
    world
        .post_webhook("msg_1", &world.call("call-1", "contact-1", Some(&at)))
        .await;
    assert_eq!(
        world.dispatcher().on_stream(world.stream().await).await,
        None
    );
    let call = world
        .followups("contact-1")
        .await
        .into_iter()
        .find(|f| f.channel == policy::Channel::Call)
        .unwrap();
    let name = scheduling::schedule_name(world.account.as_str(), call.id.as_str());
    assert!(
        world
            .scheduler
            .get_schedule()
            .group_name(&world.group)
            .name(&name)
            .send()
            .await
            .is_ok()
    );

    world
        .engine
        .cancel_followup(&world.account, &call.id)
        .await
        .unwrap();
    // The stream replays from the start; every change is applied in order again.
    assert_eq!(
        world.dispatcher().on_stream(world.stream().await).await,
        None
    );
    let gone = world
        .scheduler
        .get_schedule()
        .group_name(&world.group)
        .name(&name)
        .send()
        .await
        .unwrap_err();
    assert!(gone.into_service_error().is_resource_not_found_exception());
}

#[tokio::test]
async fn a_number_opted_out_with_sns_is_suppressed_not_texted() {
    let world = AwsWorld::new().await;
    // moto reports numbers ending in 99 as opted out.
    let opted_out = format!("{}99", &world.phone[..world.phone.len() - 2]);
    let mut body = world.call("call-1", "contact-1", None);
    body["contact"]["phone"] = serde_json::json!(opted_out);
    body["analysis"]["sms_destination"]["number"] = serde_json::json!(opted_out);
    world.post_webhook("msg_1", &body).await;
    assert_eq!(
        world.dispatcher().on_stream(world.stream().await).await,
        None
    );
    for invocation in world.lambda.take() {
        world.run_invocation(&invocation).await;
    }
    assert!(world.sms_to(&opted_out).await.is_empty());
    let sms = world
        .followups("contact-1")
        .await
        .into_iter()
        .find(|f| f.channel == policy::Channel::Sms)
        .unwrap();
    assert_eq!(
        (sms.status, sms.reason),
        (policy::Status::Suppressed, Some(policy::Reason::OptedOut))
    );
}
