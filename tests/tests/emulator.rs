//! Proves the test harness: each AWS service the engine uses, called through the Rust
//! SDK against the moto server the harness started, with the result read back.

use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
    ScalarAttributeType,
};
use aws_sdk_scheduler::types::{
    ActionAfterCompletion, FlexibleTimeWindow, FlexibleTimeWindowMode, Target,
};
use testkit::{Moto, unique, unique_phone};

#[tokio::test]
async fn dynamodb_conditional_put_refuses_a_second_write_of_the_same_key() {
    let moto = Moto::shared();
    let ddb = aws_sdk_dynamodb::Client::new(&moto.sdk_config());
    let table = unique("table");
    ddb.create_table()
        .table_name(&table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("pk")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("pk")
                .key_type(KeyType::Hash)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();

    let put = |value: &'static str| {
        ddb.put_item()
            .table_name(&table)
            .item("pk", AttributeValue::S("guard#1".into()))
            .item("value", AttributeValue::S(value.into()))
            .condition_expression("attribute_not_exists(pk)")
    };
    put("first").send().await.unwrap();
    let second = put("second").send().await.unwrap_err();
    let second = second.into_service_error();
    assert!(second.is_conditional_check_failed_exception(), "{second:?}");

    let item = ddb
        .get_item()
        .table_name(&table)
        .key("pk", AttributeValue::S("guard#1".into()))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    assert_eq!(item["value"], AttributeValue::S("first".into()));
}

#[tokio::test]
async fn scheduler_keeps_a_one_time_at_schedule_until_it_is_deleted() {
    let moto = Moto::shared();
    let scheduler = aws_sdk_scheduler::Client::new(&moto.sdk_config());
    let name = unique("fu");
    let input = r#"{"account_id":"acme","followup_id":"fu1","attempt":1}"#;
    scheduler
        .create_schedule()
        .name(&name)
        .schedule_expression("at(2030-01-15T15:00:00)")
        .schedule_expression_timezone("America/New_York")
        .action_after_completion(ActionAfterCompletion::Delete)
        .flexible_time_window(
            FlexibleTimeWindow::builder()
                .mode(FlexibleTimeWindowMode::Off)
                .build()
                .unwrap(),
        )
        .target(
            Target::builder()
                .arn("arn:aws:lambda:us-east-1:000000000000:function:executor-call")
                .role_arn("arn:aws:iam::000000000000:role/scheduler")
                .input(input)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();

    let got = scheduler.get_schedule().name(&name).send().await.unwrap();
    assert_eq!(got.schedule_expression(), Some("at(2030-01-15T15:00:00)"));
    assert_eq!(got.schedule_expression_timezone(), Some("America/New_York"));
    assert_eq!(got.target().and_then(|t| t.input()), Some(input));

    scheduler
        .delete_schedule()
        .name(&name)
        .send()
        .await
        .unwrap();
    let gone = scheduler
        .get_schedule()
        .name(&name)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(gone.is_resource_not_found_exception(), "{gone:?}");
}

#[tokio::test]
async fn sns_publishes_an_sms_that_moto_records() {
    let moto = Moto::shared();
    let sns = aws_sdk_sns::Client::new(&moto.sdk_config());
    let phone = unique_phone();
    let id = sns
        .publish()
        .phone_number(&phone)
        .message("Hi Ana, thanks for the call. Reply STOP to opt out.")
        .send()
        .await
        .unwrap()
        .message_id
        .unwrap();

    let data = moto.data().await;
    let sent: Vec<_> = data["sns"]["SMS"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|m| m["phone_number"] == phone.as_str())
        .collect();
    assert_eq!(sent.len(), 1, "{data}");
    assert_eq!(sent[0]["message_id"], id.as_str());
    assert_eq!(
        sent[0]["message"],
        "Hi Ana, thanks for the call. Reply STOP to opt out."
    );
}

#[tokio::test]
async fn sesv2_sends_from_a_verified_identity_and_moto_records_it() {
    use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};
    let moto = Moto::shared();
    let ses = aws_sdk_sesv2::Client::new(&moto.sdk_config());
    let from = format!("{}@example.com", unique("sender"));
    let to = format!("{}@example.org", unique("contact"));
    ses.create_email_identity()
        .email_identity(&from)
        .send()
        .await
        .unwrap();

    let content = |s: &str| Content::builder().data(s).build().unwrap();
    ses.send_email()
        .from_email_address(format!("Maria at Acme <{from}>"))
        .destination(Destination::builder().to_addresses(&to).build())
        .content(
            EmailContent::builder()
                .simple(
                    Message::builder()
                        .subject(content("Thanks for your time"))
                        .body(Body::builder().text(content("See you soon.")).build())
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();

    let data = moto.data().await;
    let sent: Vec<_> = data["ses"]["Message"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|m| m["destinations"].to_string().contains(&to))
        .collect();
    assert_eq!(sent.len(), 1, "{data}");
    assert_eq!(sent[0]["subject"], "Thanks for your time");
}
