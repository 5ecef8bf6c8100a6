//! The table on DynamoDB.
//!
//! - One write is one PutItem / DeleteItem with `ReturnValuesOnConditionCheckFailure =
//!   ALL_OLD`, so a failed condition carries the current item. A lone `Check` has no
//!   single-item API, so it is a TransactWriteItems of one ConditionCheck: atomic like
//!   any other check, one request, no read-then-decide race.
//! - Several writes are one TransactWriteItems with a fresh `ClientRequestToken` (so the
//!   SDK's own retries cannot apply it twice) and ALL_OLD on every item; cancellation
//!   reasons map back to the writes by position. `TransactionConflict` is retried a few
//!   times with jittered backoff, then reported as `Unavailable`.
//! - TTL deletion is lazy in DynamoDB, so expired items are filtered on every read and
//!   every condition treats them as absent (`attribute_not_exists(pk) OR expires_at <
//!   :now`), with `now` from the table's clock.
//! - Queries ask for one item more than the page so that a cursor is returned only when
//!   an item is left, and keep reading past expired items.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::client::Waiters;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::delete_item::DeleteItemError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, ConditionCheck, Delete, GlobalSecondaryIndex,
    KeySchemaElement, KeyType, KeysAndAttributes, PointInTimeRecoverySpecification, Projection,
    ProjectionType, Put, ReturnValuesOnConditionCheckFailure, ScalarAttributeType,
    StreamSpecification, StreamViewType, TimeToLiveSpecification, TimeToLiveStatus,
    TransactWriteItem,
};

use crate::{
    Attrs, Clock, Cond, EXPIRES_AT, Index, Item, Key, Page, Query, StoreError, Table, Write,
    cursor, rules, system_clock,
};

type Image = HashMap<String, AttributeValue>;

/// Attempts of a transaction that DynamoDB cancels for a conflict with another one.
const CONFLICT_ATTEMPTS: u32 = 4;

/// The table on DynamoDB. Cheap to clone.
#[derive(Clone)]
pub struct DynamoTable {
    client: Client,
    table: String,
    clock: Clock,
}

impl DynamoTable {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoTable {
            client,
            table: table.into(),
            clock: system_clock(),
        }
    }

    /// The same table seeing time through `now` (epoch seconds) for the TTL.
    pub fn with_clock(mut self, now: impl Fn() -> i64 + Send + Sync + 'static) -> Self {
        self.clock = Arc::new(now);
        self
    }

    async fn write_one(&self, write: Write, now: i64) -> Result<(), StoreError> {
        let expr = Expr::condition(write.cond(), now)?;
        let all_old = ReturnValuesOnConditionCheckFailure::AllOld;
        // `Err(Ok(image))`: the condition failed; `Err(Err(e))`: anything else.
        let outcome: Result<(), Result<Option<Image>, StoreError>> = match &write {
            Write::Put { item, .. } => self
                .client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(image_from_item(item)?))
                .set_condition_expression(expr.text)
                .set_expression_attribute_names(expr.names)
                .set_expression_attribute_values(expr.values)
                .return_values_on_condition_check_failure(all_old)
                .send()
                .await
                .map(drop)
                .map_err(|e| match e.as_service_error() {
                    Some(PutItemError::ConditionalCheckFailedException(c)) => Ok(c.item.clone()),
                    _ => Err(classify(&e)),
                }),
            Write::Delete { key, .. } => self
                .client
                .delete_item()
                .table_name(&self.table)
                .set_key(Some(key_image(key)))
                .set_condition_expression(expr.text)
                .set_expression_attribute_names(expr.names)
                .set_expression_attribute_values(expr.values)
                .return_values_on_condition_check_failure(all_old)
                .send()
                .await
                .map(drop)
                .map_err(|e| match e.as_service_error() {
                    Some(DeleteItemError::ConditionalCheckFailedException(c)) => Ok(c.item.clone()),
                    _ => Err(classify(&e)),
                }),
            Write::Check { .. } => return self.transact(vec![write], now).await,
        };
        match outcome {
            Ok(()) => Ok(()),
            Err(Err(e)) => Err(e),
            Err(Ok(image)) => {
                let current = image.map(item_from_image).transpose()?;
                Err(StoreError::ConditionFailed {
                    failed: self
                        .current_items(vec![(0, current)], &[write], now)
                        .await?,
                })
            }
        }
    }

    async fn transact(&self, writes: Vec<Write>, now: i64) -> Result<(), StoreError> {
        // A check that always holds is left out; `positions` maps what is sent back to
        // the caller's write list.
        let mut positions = Vec::with_capacity(writes.len());
        let mut items = Vec::with_capacity(writes.len());
        for (i, write) in writes.iter().enumerate() {
            if matches!(
                write,
                Write::Check {
                    cond: Cond::Always,
                    ..
                }
            ) {
                continue;
            }
            positions.push(i);
            items.push(self.transact_item(write, now)?);
        }
        if items.is_empty() {
            return Ok(());
        }

        let mut attempt = 0;
        loop {
            attempt += 1;
            let sent = self
                .client
                .transact_write_items()
                .set_transact_items(Some(items.clone()))
                .client_request_token(uuid::Uuid::new_v4().simple().to_string())
                .send()
                .await;
            let err = match sent {
                Ok(_) => return Ok(()),
                Err(err) => err,
            };
            let Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) =
                err.as_service_error()
            else {
                return Err(classify(&err));
            };
            let reasons = cancelled.cancellation_reasons();
            let code = |r: &aws_sdk_dynamodb::types::CancellationReason| {
                r.code().unwrap_or("None").to_owned()
            };
            let failed = reasons
                .iter()
                .zip(&positions)
                .filter(|(r, _)| code(r) == "ConditionalCheckFailed")
                .map(|(r, &i)| Ok((i, r.item().cloned().map(item_from_image).transpose()?)))
                .collect::<Result<Vec<(usize, Option<Item>)>, StoreError>>()?;
            if !failed.is_empty() {
                return Err(StoreError::ConditionFailed {
                    failed: self.current_items(failed, &writes, now).await?,
                });
            }
            let codes: Vec<String> = reasons.iter().map(code).collect();
            let message = format!("transaction cancelled: {codes:?}");
            if codes.iter().any(|c| c == "ValidationError") {
                return Err(StoreError::Invalid(message));
            }
            if codes
                .iter()
                .any(|c| c == "ThrottlingError" || c == "ProvisionedThroughputExceeded")
            {
                return Err(StoreError::Throttled(message));
            }
            if codes.iter().any(|c| c == "TransactionConflict") && attempt < CONFLICT_ATTEMPTS {
                tokio::time::sleep(backoff(attempt)).await;
                continue;
            }
            return Err(StoreError::Unavailable(message));
        }
    }

    /// The live current items of the failed writes. With ALL_OLD, DynamoDB (and moto
    /// 5.2, checked) return the item whenever one exists, so a failure without an image
    /// means no item, except for a failed `NotExists`, which proves an item exists: that
    /// one is read again, consistently (moments after the failure, not atomically with
    /// it), so an existing item is never reported as absent by a service that omits it.
    async fn current_items(
        &self,
        failed: Vec<(usize, Option<Item>)>,
        writes: &[Write],
        now: i64,
    ) -> Result<Vec<(usize, Option<Item>)>, StoreError> {
        let mut out = Vec::with_capacity(failed.len());
        for (i, current) in failed {
            let current = match current {
                Some(item) => rules::live(Some(item), now),
                None => match writes.get(i) {
                    Some(write) if matches!(write.cond(), Cond::NotExists) => {
                        self.get_at(write.key(), now).await?
                    }
                    _ => None,
                },
            };
            out.push((i, current));
        }
        Ok(out)
    }

    fn transact_item(&self, write: &Write, now: i64) -> Result<TransactWriteItem, StoreError> {
        let expr = Expr::condition(write.cond(), now)?;
        let all_old = ReturnValuesOnConditionCheckFailure::AllOld;
        let item = match write {
            Write::Put { item, .. } => TransactWriteItem::builder()
                .put(
                    Put::builder()
                        .table_name(&self.table)
                        .set_item(Some(image_from_item(item)?))
                        .set_condition_expression(expr.text)
                        .set_expression_attribute_names(expr.names)
                        .set_expression_attribute_values(expr.values)
                        .return_values_on_condition_check_failure(all_old)
                        .build()
                        .map_err(invalid)?,
                )
                .build(),
            Write::Delete { key, .. } => TransactWriteItem::builder()
                .delete(
                    Delete::builder()
                        .table_name(&self.table)
                        .set_key(Some(key_image(key)))
                        .set_condition_expression(expr.text)
                        .set_expression_attribute_names(expr.names)
                        .set_expression_attribute_values(expr.values)
                        .return_values_on_condition_check_failure(all_old)
                        .build()
                        .map_err(invalid)?,
                )
                .build(),
            Write::Check { key, .. } => TransactWriteItem::builder()
                .condition_check(
                    ConditionCheck::builder()
                        .table_name(&self.table)
                        .set_key(Some(key_image(key)))
                        .set_condition_expression(expr.text)
                        .set_expression_attribute_names(expr.names)
                        .set_expression_attribute_values(expr.values)
                        .return_values_on_condition_check_failure(all_old)
                        .build()
                        .map_err(invalid)?,
                )
                .build(),
        };
        Ok(item)
    }

    async fn get_at(&self, key: &Key, now: i64) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key_image(key)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| classify(&e))?;
        let item = out.item.map(item_from_image).transpose()?;
        Ok(rules::live(item, now))
    }
}

#[async_trait::async_trait]
impl Table for DynamoTable {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        self.get_at(key, (self.clock)()).await
    }

    async fn write(&self, mut writes: Vec<Write>) -> Result<(), StoreError> {
        rules::check_writes(&writes)?;
        let now = (self.clock)();
        match writes.len() {
            0 => Ok(()),
            1 => match writes.pop() {
                Some(write) => self.write_one(write, now).await,
                None => Ok(()),
            },
            _ => self.transact(writes, now).await,
        }
    }

    async fn query(&self, query: &Query) -> Result<Page, StoreError> {
        rules::check_query(query)?;
        let position = cursor::decode(query)?;
        let now = (self.clock)();
        let size = rules::page_size(query);
        let (pk_attr, sk_attr) = query.index.key_attrs();

        let mut names = HashMap::from([("#pk".to_owned(), pk_attr.to_owned())]);
        let mut values = HashMap::from([(":pk".to_owned(), AttributeValue::S(query.pk.clone()))]);
        let mut key_condition = "#pk = :pk".to_owned();
        if let Some(prefix) = &query.sk_prefix {
            key_condition.push_str(" AND begins_with(#sk, :sk)");
            names.insert("#sk".into(), sk_attr.into());
            values.insert(":sk".into(), AttributeValue::S(prefix.clone()));
        } else if let Some(from) = &query.sk_from {
            key_condition.push_str(" AND #sk >= :sk");
            names.insert("#sk".into(), sk_attr.into());
            values.insert(":sk".into(), AttributeValue::S(from.clone()));
        }
        let mut start = position.map(|p| {
            let mut key = key_image(&Key::new(p.pk, p.sk));
            if query.index != Index::Primary {
                key.insert(pk_attr.into(), AttributeValue::S(query.pk.clone()));
                key.insert(sk_attr.into(), AttributeValue::S(p.index_sk));
            }
            key
        });

        // One item more than the page, to know whether a next page exists.
        let mut found = Vec::with_capacity(size + 1);
        loop {
            let want = (size + 1 - found.len()) as i32;
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .set_index_name(query.index.name().map(str::to_owned))
                .consistent_read(query.index == Index::Primary)
                .key_condition_expression(&key_condition)
                .set_expression_attribute_names(Some(names.clone()))
                .set_expression_attribute_values(Some(values.clone()))
                .scan_index_forward(!query.newest_first)
                .limit(want)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| classify(&e))?;
            for image in out.items.unwrap_or_default() {
                let item = item_from_image(image)?;
                // The indexes hold keys only: their items are read whole below, and
                // an expired one is dropped then.
                let expired = query.index == Index::Primary && rules::is_expired(&item.attrs, now);
                if !expired && found.len() <= size {
                    found.push(item);
                }
            }
            match out.last_evaluated_key {
                Some(last) if found.len() <= size => start = Some(last),
                _ => break,
            }
        }
        let cursor = if found.len() > size {
            found.truncate(size);
            match found.last() {
                Some(last) => Some(cursor::encode(query, last)?),
                None => None,
            }
        } else {
            None
        };
        if query.index != Index::Primary {
            found = self.whole_items(&found, now).await?;
        }
        Ok(Page {
            items: found,
            cursor,
        })
    }
}

impl DynamoTable {
    /// The whole live items behind index entries (the indexes project keys only, so a
    /// status change that leaves the index keys alone writes no index entry), in the
    /// entries' order; one gone meanwhile, or expired, is left out. One `BatchGetItem`
    /// per 100 keys, strongly consistent, keys it leaves unprocessed asked again.
    async fn whole_items(&self, entries: &[Item], now: i64) -> Result<Vec<Item>, StoreError> {
        let mut whole: HashMap<Key, Item> = HashMap::with_capacity(entries.len());
        for chunk in entries.chunks(100) {
            let mut keys: Vec<Image> = chunk.iter().map(|e| key_image(&e.key)).collect();
            for attempt in 1..=BATCH_GET_TRIES {
                if keys.is_empty() {
                    break;
                }
                if attempt > 1 {
                    tokio::time::sleep(backoff(attempt)).await;
                }
                let request = KeysAndAttributes::builder()
                    .set_keys(Some(std::mem::take(&mut keys)))
                    .consistent_read(true)
                    .build()
                    .map_err(invalid)?;
                let out = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, request)
                    .send()
                    .await
                    .map_err(|e| classify(&e))?;
                for image in out
                    .responses
                    .unwrap_or_default()
                    .remove(&self.table)
                    .unwrap_or_default()
                {
                    let item = item_from_image(image)?;
                    whole.insert(item.key.clone(), item);
                }
                keys = out
                    .unprocessed_keys
                    .unwrap_or_default()
                    .remove(&self.table)
                    .map(|k| k.keys)
                    .unwrap_or_default();
            }
            if !keys.is_empty() {
                return Err(StoreError::Throttled(format!(
                    "{} items of a page still unread after {BATCH_GET_TRIES} tries",
                    keys.len()
                )));
            }
        }
        Ok(entries
            .iter()
            .filter_map(|entry| whole.remove(&entry.key))
            .filter(|item| !rules::is_expired(&item.attrs, now))
            .collect())
    }
}

/// How often a page's items are asked for while DynamoDB leaves some unprocessed.
const BATCH_GET_TRIES: u32 = 5;

/// A condition expression with its placeholders.
struct Expr {
    text: Option<String>,
    names: Option<HashMap<String, String>>,
    values: Option<HashMap<String, AttributeValue>>,
}

impl Expr {
    fn condition(cond: &Cond, now: i64) -> Result<Expr, StoreError> {
        const LIVE: &str = "attribute_exists(#pk) AND NOT #ttl < :now";
        let text = match cond {
            Cond::Always => {
                return Ok(Expr {
                    text: None,
                    names: None,
                    values: None,
                });
            }
            Cond::NotExists => "attribute_not_exists(#pk) OR #ttl < :now".to_owned(),
            Cond::Exists => LIVE.to_owned(),
            Cond::Equals(_) => LIVE.to_owned(),
        };
        let mut names = HashMap::from([
            ("#pk".to_owned(), "pk".to_owned()),
            ("#ttl".to_owned(), EXPIRES_AT.to_owned()),
        ]);
        let mut values = HashMap::from([(":now".to_owned(), AttributeValue::N(now.to_string()))]);
        let mut text = text;
        if let Cond::Equals(pairs) = cond {
            for (i, (name, value)) in pairs.iter().enumerate() {
                text.push_str(&format!(" AND #a{i} = :v{i}"));
                names.insert(format!("#a{i}"), name.clone());
                values.insert(format!(":v{i}"), to_attribute_value(value)?);
            }
        }
        Ok(Expr {
            text: Some(text),
            names: Some(names),
            values: Some(values),
        })
    }
}

/// The item in a DynamoDB image: a GetItem/Query result, a cancellation reason or a
/// stream record's `NewImage`/`OldImage`. `Corrupt` when the image has no string `pk`
/// and `sk`, or holds a type JSON has no place for (binary, or one this SDK does not
/// know).
pub fn item_from_image(image: HashMap<String, AttributeValue>) -> Result<Item, StoreError> {
    if let Some(name) = image
        .iter()
        .find_map(|(name, value)| has_unknown(value).then_some(name))
    {
        return Err(StoreError::Corrupt(format!(
            "attribute `{name}` has a type this SDK does not know"
        )));
    }
    item_from_stream_image(serde_dynamo::Item::from(image))
}

/// [`item_from_image`] for images already in serde_dynamo's form, as
/// `aws_lambda_events`' DynamoDB stream records carry them.
pub fn item_from_stream_image(image: serde_dynamo::Item) -> Result<Item, StoreError> {
    let mut attrs: Attrs =
        serde_dynamo::from_item(image).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let mut part = |name: &str| match attrs.remove(name) {
        Some(serde_json::Value::String(s)) => Ok(s),
        _ => Err(StoreError::Corrupt(format!("item without a string {name}"))),
    };
    let key = Key::new(part("pk")?, part("sk")?);
    Ok(Item { key, attrs })
}

fn has_unknown(value: &AttributeValue) -> bool {
    match value {
        AttributeValue::L(list) => list.iter().any(has_unknown),
        AttributeValue::M(map) => map.values().any(has_unknown),
        AttributeValue::S(_)
        | AttributeValue::N(_)
        | AttributeValue::B(_)
        | AttributeValue::Bool(_)
        | AttributeValue::Null(_)
        | AttributeValue::Ss(_)
        | AttributeValue::Ns(_)
        | AttributeValue::Bs(_) => false,
        _ => true,
    }
}

fn image_from_item(item: &Item) -> Result<Image, StoreError> {
    let mut image: Image = serde_dynamo::aws_sdk_dynamodb_1::to_item(&item.attrs)
        .map_err(|e| StoreError::Invalid(e.to_string()))?;
    image.extend(key_image(&item.key));
    Ok(image)
}

fn key_image(key: &Key) -> Image {
    HashMap::from([
        ("pk".to_owned(), AttributeValue::S(key.pk.clone())),
        ("sk".to_owned(), AttributeValue::S(key.sk.clone())),
    ])
}

fn to_attribute_value(value: &serde_json::Value) -> Result<AttributeValue, StoreError> {
    serde_dynamo::aws_sdk_dynamodb_1::to_attribute_value(value)
        .map_err(|e| StoreError::Invalid(e.to_string()))
}

fn invalid(e: impl std::fmt::Display) -> StoreError {
    StoreError::Invalid(e.to_string())
}

/// Retryable or permanent, from an SDK error that is not a failed condition.
fn classify<E, R>(err: &SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let message = DisplayErrorContext(err).to_string();
    match err {
        SdkError::ServiceError(service) => match service.err().code() {
            Some(
                "ThrottlingException"
                | "ProvisionedThroughputExceededException"
                | "RequestLimitExceeded",
            ) => StoreError::Throttled(message),
            Some("ValidationException" | "SerializationException") => StoreError::Invalid(message),
            _ => StoreError::Unavailable(message),
        },
        SdkError::ConstructionFailure(_) => StoreError::Invalid(message),
        _ => StoreError::Unavailable(message),
    }
}

/// 25 ms, 50 ms, 100 ms… each with up to as much again of random jitter, so that
/// conflicting writers do not retry in step.
fn backoff(attempt: u32) -> Duration {
    let base = 25u64 << attempt.saturating_sub(1).min(6);
    let jitter = RandomState::new().hash_one(attempt) % (base + 1);
    Duration::from_millis(base + jitter)
}

/// Creates the table as production runs it: `pk`/`sk` strings, `gsi1` on
/// `gsi1pk`/`gsi1sk` and `gsi2` on `gsi2pk`/`gsi2sk` projecting keys only,
/// on-demand billing, a stream of new and old images, point-in-time recovery and TTL
/// on `expires_at`. A table that already exists is left as it is, apart from turning
/// TTL on if it is off. Waits until the table is active.
pub async fn create_table(client: &Client, name: &str) -> Result<(), StoreError> {
    create_if_missing(client, name).await?;
    client
        .wait_until_table_exists()
        .table_name(name)
        .wait(Duration::from_secs(300))
        .await
        .map_err(|e| StoreError::Unavailable(format!("table {name} did not become active: {e}")))?;
    turn_ttl_on(client, name).await?;
    client
        .update_continuous_backups()
        .table_name(name)
        .point_in_time_recovery_specification(
            PointInTimeRecoverySpecification::builder()
                .point_in_time_recovery_enabled(true)
                .build()
                .map_err(invalid)?,
        )
        .send()
        .await
        .map_err(|e| classify(&e))?;
    Ok(())
}

/// Sends the table's creation; a table already there (`ResourceInUse`) is kept as it is.
async fn create_if_missing(client: &Client, name: &str) -> Result<(), StoreError> {
    let mut request = client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .set_key_schema(Some(key_schema("pk", "sk")?))
        .stream_specification(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::NewAndOldImages)
                .build()
                .map_err(invalid)?,
        );
    for attr in ["pk", "sk", "gsi1pk", "gsi1sk", "gsi2pk", "gsi2sk"] {
        request = request.attribute_definitions(string_attr(attr)?);
    }
    for index in [Index::Gsi1, Index::Gsi2] {
        let (pk, sk) = index.key_attrs();
        request = request.global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(index.name().unwrap_or_default())
                .set_key_schema(Some(key_schema(pk, sk)?))
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::KeysOnly)
                        .build(),
                )
                .build()
                .map_err(invalid)?,
        );
    }
    match request.send().await {
        Ok(_) => Ok(()),
        Err(e)
            if e.as_service_error()
                .is_some_and(|e| e.is_resource_in_use_exception()) =>
        {
            Ok(())
        }
        Err(e) => Err(classify(&e)),
    }
}

fn string_attr(attr: &str) -> Result<AttributeDefinition, StoreError> {
    AttributeDefinition::builder()
        .attribute_name(attr)
        .attribute_type(ScalarAttributeType::S)
        .build()
        .map_err(invalid)
}

fn key_schema(pk: &str, sk: &str) -> Result<Vec<KeySchemaElement>, StoreError> {
    Ok(vec![
        KeySchemaElement::builder()
            .attribute_name(pk)
            .key_type(KeyType::Hash)
            .build()
            .map_err(invalid)?,
        KeySchemaElement::builder()
            .attribute_name(sk)
            .key_type(KeyType::Range)
            .build()
            .map_err(invalid)?,
    ])
}

/// Turns TTL on `expires_at` on unless it is already on (or turning on): asking again
/// while it is on is an error.
async fn turn_ttl_on(client: &Client, name: &str) -> Result<(), StoreError> {
    let ttl = client
        .describe_time_to_live()
        .table_name(name)
        .send()
        .await
        .map_err(|e| classify(&e))?;
    let ttl_on = ttl
        .time_to_live_description()
        .and_then(|d| d.time_to_live_status())
        .is_some_and(|s| matches!(s, TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling));
    if ttl_on {
        return Ok(());
    }
    client
        .update_time_to_live()
        .table_name(name)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .attribute_name(EXPIRES_AT)
                .enabled(true)
                .build()
                .map_err(invalid)?,
        )
        .send()
        .await
        .map_err(|e| classify(&e))?;
    Ok(())
}
