//! What only the DynamoDB table does: create the production table, and turn raw
//! DynamoDB images (stream records, items other writers left) into items or a clear
//! `Corrupt`. Runs against moto; fails when moto cannot start.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{
    AttributeValue, BillingMode, KeyType, PointInTimeRecoveryStatus, ProjectionType,
    StreamViewType, TimeToLiveStatus,
};
use serde_json::json;
use store::{
    DynamoTable, Key, StoreError, Table, create_table, item_from_image, item_from_stream_image,
};

fn client() -> Client {
    Client::new(&testkit::Moto::shared().sdk_config())
}

#[tokio::test]
async fn create_table_builds_the_production_table() {
    let client = client();
    let name = testkit::unique("store");
    create_table(&client, &name).await.expect("create");
    create_table(&client, &name)
        .await
        .expect("creating it again is harmless");

    let table = client
        .describe_table()
        .table_name(&name)
        .send()
        .await
        .expect("describe")
        .table
        .expect("a table");
    let keys = |schema: &[aws_sdk_dynamodb::types::KeySchemaElement]| -> Vec<(String, KeyType)> {
        schema
            .iter()
            .map(|k| (k.attribute_name().to_owned(), k.key_type().clone()))
            .collect()
    };
    assert_eq!(
        keys(table.key_schema()),
        [("pk".into(), KeyType::Hash), ("sk".into(), KeyType::Range)]
    );
    let mut indexes: Vec<_> = table
        .global_secondary_indexes()
        .iter()
        .map(|gsi| {
            (
                gsi.index_name().unwrap_or_default().to_owned(),
                keys(gsi.key_schema()),
                gsi.projection().and_then(|p| p.projection_type()).cloned(),
            )
        })
        .collect();
    indexes.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        indexes,
        [
            (
                "gsi1".into(),
                vec![
                    ("gsi1pk".into(), KeyType::Hash),
                    ("gsi1sk".into(), KeyType::Range)
                ],
                Some(ProjectionType::KeysOnly)
            ),
            (
                "gsi2".into(),
                vec![
                    ("gsi2pk".into(), KeyType::Hash),
                    ("gsi2sk".into(), KeyType::Range)
                ],
                Some(ProjectionType::KeysOnly)
            ),
        ]
    );
    assert_eq!(
        table.billing_mode_summary().and_then(|b| b.billing_mode()),
        Some(&BillingMode::PayPerRequest)
    );
    let stream = table.stream_specification().expect("a stream");
    assert!(stream.stream_enabled());
    assert_eq!(
        stream.stream_view_type(),
        Some(&StreamViewType::NewAndOldImages)
    );

    let ttl = client
        .describe_time_to_live()
        .table_name(&name)
        .send()
        .await
        .expect("describe ttl")
        .time_to_live_description
        .expect("ttl");
    assert_eq!(ttl.attribute_name(), Some("expires_at"));
    assert_eq!(ttl.time_to_live_status(), Some(&TimeToLiveStatus::Enabled));

    let backups = client
        .describe_continuous_backups()
        .table_name(&name)
        .send()
        .await
        .expect("describe backups");
    let pitr = backups
        .continuous_backups_description()
        .and_then(|d| d.point_in_time_recovery_description())
        .and_then(|p| p.point_in_time_recovery_status());
    assert_eq!(pitr, Some(&PointInTimeRecoveryStatus::Enabled));
}

#[test]
fn a_stream_image_becomes_an_item() {
    let image = HashMap::from([
        ("pk".to_owned(), AttributeValue::S("acct#1#fu".into())),
        ("sk".to_owned(), AttributeValue::S("fu#1".into())),
        ("attempt".to_owned(), AttributeValue::N("2".into())),
        ("score".to_owned(), AttributeValue::N("0.5".into())),
        ("sent".to_owned(), AttributeValue::Bool(false)),
        ("note".to_owned(), AttributeValue::Null(true)),
        (
            "channels".to_owned(),
            AttributeValue::L(vec![AttributeValue::S("sms".into())]),
        ),
        (
            "window".to_owned(),
            AttributeValue::M(HashMap::from([(
                "start".to_owned(),
                AttributeValue::S("09:00".into()),
            )])),
        ),
    ]);
    let item = item_from_image(image).expect("an item");
    assert_eq!(item.key, Key::new("acct#1#fu", "fu#1"));
    assert_eq!(
        serde_json::Value::Object(item.attrs),
        json!({"attempt": 2, "score": 0.5, "sent": false, "note": null,
               "channels": ["sms"], "window": {"start": "09:00"}})
    );
}

#[test]
fn a_lambda_stream_record_image_becomes_an_item() {
    // The shape `aws_lambda_events` hands the dispatcher (DynamoDB JSON).
    let image: serde_dynamo::Item = serde_json::from_value(json!({
        "pk": {"S": "acct#1#fu"},
        "sk": {"S": "fu#1"},
        "due_at": {"N": "1893456000"},
        "tags": {"L": [{"S": "vip"}]}
    }))
    .expect("DynamoDB JSON");
    let item = item_from_stream_image(image).expect("an item");
    assert_eq!(item.key, Key::new("acct#1#fu", "fu#1"));
    assert_eq!(
        serde_json::Value::Object(item.attrs),
        json!({"due_at": 1_893_456_000, "tags": ["vip"]})
    );
}

#[test]
fn images_without_a_json_shape_are_corrupt() {
    let key = || {
        HashMap::from([
            ("pk".to_owned(), AttributeValue::S("a".into())),
            ("sk".to_owned(), AttributeValue::S("b".into())),
        ])
    };
    let mut binary = key();
    binary.insert("blob".into(), AttributeValue::B(Blob::new(vec![1, 2])));
    let mut numeric_key = key();
    numeric_key.insert("sk".into(), AttributeValue::N("1".into()));
    let mut no_key = key();
    no_key.remove("pk");
    for image in [binary, numeric_key, no_key] {
        let result = item_from_image(image.clone());
        assert!(
            matches!(result, Err(StoreError::Corrupt(_))),
            "{image:?}: {result:?}"
        );
    }
}

#[tokio::test]
async fn an_item_another_writer_left_undecodable_is_reported_corrupt() {
    let client = client();
    let name = testkit::unique("store");
    create_table(&client, &name).await.expect("create");
    client
        .put_item()
        .table_name(&name)
        .item("pk", AttributeValue::S("acct#1".into()))
        .item("sk", AttributeValue::S("x".into()))
        .item("blob", AttributeValue::B(Blob::new(vec![0, 1])))
        .send()
        .await
        .expect("raw put");
    let table = DynamoTable::new(client, name);
    let result = table.get(&Key::new("acct#1", "x")).await;
    assert!(matches!(result, Err(StoreError::Corrupt(_))), "{result:?}");
}

#[tokio::test]
async fn a_missing_table_is_an_error_not_a_panic() {
    let table = DynamoTable::new(client(), testkit::unique("missing"));
    let result = table.get(&Key::new("a", "b")).await;
    assert!(
        matches!(result, Err(StoreError::Unavailable(_))),
        "{result:?}"
    );
}
