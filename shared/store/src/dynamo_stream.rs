//! Reading a DynamoDB table's stream the way Lambda's event source mapping does, for
//! processes that are not Lambda: the local runtime pointed at DynamoDB (or moto) and
//! the tests. Each shard is read in order; shards that appear later (splits) are read
//! from their start, so no change is skipped.

use std::collections::BTreeMap;

use aws_sdk_dynamodbstreams::types::{AttributeValue, ShardIteratorType};

use crate::embedded::Change;
use crate::{Item, StoreError, item_from_stream_image};

pub struct DynamoStream {
    client: aws_sdk_dynamodbstreams::Client,
    arn: String,
    /// Shard id → where to read next (`None`: the shard is closed and fully read).
    shards: BTreeMap<String, Option<String>>,
    first: ShardIteratorType,
}

impl DynamoStream {
    /// The stream of `table`: from its oldest record (24 h back) when `from_start`,
    /// else from now on.
    pub async fn open(
        dynamodb: &aws_sdk_dynamodb::Client,
        client: aws_sdk_dynamodbstreams::Client,
        table: &str,
        from_start: bool,
    ) -> Result<Self, StoreError> {
        let description = dynamodb
            .describe_table()
            .table_name(table)
            .send()
            .await
            .map_err(|e| StoreError::Unavailable(format!("DescribeTable: {e}")))?;
        let arn = description
            .table
            .and_then(|t| t.latest_stream_arn)
            .ok_or_else(|| StoreError::Invalid(format!("table {table} has no stream")))?;
        let first = if from_start {
            ShardIteratorType::TrimHorizon
        } else {
            ShardIteratorType::Latest
        };
        let mut stream = DynamoStream {
            client,
            arn,
            shards: BTreeMap::new(),
            first,
        };
        stream.discover().await?;
        // Shards found later are new: they are read from their start.
        stream.first = ShardIteratorType::TrimHorizon;
        Ok(stream)
    }

    async fn discover(&mut self) -> Result<(), StoreError> {
        let description = self
            .client
            .describe_stream()
            .stream_arn(&self.arn)
            .send()
            .await
            .map_err(|e| StoreError::Unavailable(format!("DescribeStream: {e}")))?
            .stream_description
            .ok_or_else(|| {
                StoreError::Unavailable("DescribeStream without a description".into())
            })?;
        for shard in description.shards.unwrap_or_default() {
            let Some(id) = shard.shard_id else { continue };
            if self.shards.contains_key(&id) {
                continue;
            }
            let iterator = self
                .client
                .get_shard_iterator()
                .stream_arn(&self.arn)
                .shard_id(&id)
                .shard_iterator_type(self.first.clone())
                .send()
                .await
                .map_err(|e| StoreError::Unavailable(format!("GetShardIterator: {e}")))?
                .shard_iterator;
            self.shards.insert(id, iterator);
        }
        Ok(())
    }

    /// The changes written since the last poll, shard by shard in order.
    pub async fn poll(&mut self) -> Result<Vec<Change>, StoreError> {
        self.discover().await?;
        let mut changes = Vec::new();
        for next in self.shards.values_mut() {
            let Some(iterator) = next.take() else {
                continue;
            };
            let page = self
                .client
                .get_records()
                .shard_iterator(iterator)
                .limit(1000)
                .send()
                .await
                .map_err(|e| StoreError::Unavailable(format!("GetRecords: {e}")))?;
            *next = page.next_shard_iterator;
            for record in page.records.unwrap_or_default() {
                let Some(data) = record.dynamodb else {
                    continue;
                };
                changes.push(Change {
                    old: image(data.old_image)?,
                    new: image(data.new_image)?,
                });
            }
        }
        Ok(changes)
    }
}

fn image(
    image: Option<std::collections::HashMap<String, AttributeValue>>,
) -> Result<Option<Item>, StoreError> {
    image
        .filter(|i| !i.is_empty())
        .map(|i| item_from_stream_image(serde_dynamo::Item::from(i)))
        .transpose()
}
