//! The storage port. Everything the engine keeps (settings, follow-ups, guards,
//! idempotency records) lives in one table shaped like DynamoDB's: items keyed by
//! `pk`/`sk`, two sparse secondary indexes, conditional writes, transactions of up to
//! 100 writes, a TTL attribute and a change stream. [`Table`] is that shape;
//! [`DynamoTable`] runs it on DynamoDB in Lambda, [`EmbeddedTable`] on one redb file on
//! a laptop. Both obey the same contract, proved by one test suite run against each
//! (`tests/contract.rs`). The crate knows nothing of follow-ups: key layout and item
//! shapes belong to the crates above it.

mod cursor;
mod dynamo;
mod dynamo_stream;
mod embedded;
mod rules;

use std::sync::Arc;

pub use dynamo::{DynamoTable, create_table, item_from_image, item_from_stream_image};
pub use dynamo_stream::DynamoStream;
pub use embedded::{Backend, Change, EmbeddedTable, file_backend};

/// A JSON object of top-level attributes.
pub type Attrs = serde_json::Map<String, serde_json::Value>;

/// The TTL attribute: epoch seconds (a number). An item whose `expires_at` is before
/// now is absent for every read and condition, whether or not it was purged yet.
pub const EXPIRES_AT: &str = "expires_at";

/// The primary key of an item.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    pub pk: String,
    pub sk: String,
}

impl Key {
    pub fn new(pk: impl Into<String>, sk: impl Into<String>) -> Self {
        Key {
            pk: pk.into(),
            sk: sk.into(),
        }
    }
}

/// An item: its key and its other top-level attributes (`attrs` must not hold `pk` or
/// `sk`; index attributes `gsi1pk`… are ordinary attributes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub key: Key,
    pub attrs: Attrs,
}

impl Item {
    pub fn new(key: Key, attrs: Attrs) -> Self {
        Item { key, attrs }
    }
}

/// Which ordering of the table a query reads. An item is in a secondary index only
/// when it has both of the index's key attributes (sparse indexes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Index {
    /// `pk` / `sk`.
    Primary,
    /// `gsi1pk` / `gsi1sk`: a campaign's follow-ups by due time.
    Gsi1,
    /// `gsi2pk` / `gsi2sk`: a contact's follow-ups.
    Gsi2,
}

impl Index {
    /// The attribute names of the index's partition and sort keys.
    pub fn key_attrs(self) -> (&'static str, &'static str) {
        match self {
            Index::Primary => ("pk", "sk"),
            Index::Gsi1 => ("gsi1pk", "gsi1sk"),
            Index::Gsi2 => ("gsi2pk", "gsi2sk"),
        }
    }

    /// The DynamoDB index name, `None` for the table itself.
    pub fn name(self) -> Option<&'static str> {
        match self {
            Index::Primary => None,
            Index::Gsi1 => Some("gsi1"),
            Index::Gsi2 => Some("gsi2"),
        }
    }
}

/// A condition on the current item, evaluated atomically with the write. An expired
/// item counts as absent.
#[derive(Debug, Clone, PartialEq)]
pub enum Cond {
    Always,
    NotExists,
    Exists,
    /// The item exists and every named top-level attribute equals the value (numbers
    /// compare by value, as in DynamoDB: `1` equals `1.0`).
    Equals(Vec<(String, serde_json::Value)>),
}

/// One write of a [`Table::write`] call.
#[derive(Debug, Clone, PartialEq)]
pub enum Write {
    /// Replaces the whole item.
    Put {
        item: Item,
        cond: Cond,
    },
    Delete {
        key: Key,
        cond: Cond,
    },
    /// A condition only (DynamoDB's ConditionCheck): writes nothing.
    Check {
        key: Key,
        cond: Cond,
    },
}

impl Write {
    pub fn key(&self) -> &Key {
        match self {
            Write::Put { item, .. } => &item.key,
            Write::Delete { key, .. } | Write::Check { key, .. } => key,
        }
    }

    pub fn cond(&self) -> &Cond {
        match self {
            Write::Put { cond, .. } | Write::Delete { cond, .. } | Write::Check { cond, .. } => {
                cond
            }
        }
    }
}

/// The most writes one [`Table::write`] call may carry (DynamoDB's transaction limit).
pub const MAX_WRITES: usize = 100;
/// The most items one page may hold.
pub const MAX_PAGE: u32 = 100;

/// A query of one partition of one index, in sort-key order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    pub index: Index,
    pub pk: String,
    /// Only sort keys starting with this. Not together with `sk_from`.
    pub sk_prefix: Option<String>,
    /// Only sort keys `>=` this. Not together with `sk_prefix`.
    pub sk_from: Option<String>,
    /// Descending sort keys.
    pub newest_first: bool,
    /// Items per page, clamped to `1..=100`.
    pub limit: u32,
    /// Where the previous page stopped: [`Page::cursor`] of the same query.
    pub cursor: Option<String>,
}

impl Query {
    /// The first page of `index` partition `pk`, ascending, 100 items.
    pub fn new(index: Index, pk: impl Into<String>) -> Self {
        Query {
            index,
            pk: pk.into(),
            sk_prefix: None,
            sk_from: None,
            newest_first: false,
            limit: MAX_PAGE,
            cursor: None,
        }
    }
}

/// One page of a query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    pub items: Vec<Item>,
    /// Opaque and url-safe; `None` exactly when no item is left (a page is never
    /// followed by an empty one).
    pub cursor: Option<String>,
}

/// Everything a table can answer besides success.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StoreError {
    /// Some conditions did not hold; nothing was written. Each entry is the position
    /// of the write in the call and the current item, when there is a live one.
    #[error("condition failed for write(s) {:?}", .failed.iter().map(|(i, _)| *i).collect::<Vec<_>>())]
    ConditionFailed { failed: Vec<(usize, Option<Item>)> },
    /// A cursor that is malformed or was issued for another index or partition.
    #[error("bad cursor")]
    BadCursor,
    /// More than [`MAX_WRITES`] writes in one call.
    #[error("more than {MAX_WRITES} writes in one call")]
    TooManyWrites,
    /// A request no table accepts (empty key, index attribute that is not a string, two
    /// writes on one item, `pk`/`sk` inside attrs…): a bug in the caller, permanent.
    #[error("invalid request: {0}")]
    Invalid(String),
    /// Retryable: the table is throttling us (after the SDK's own retries).
    #[error("throttled: {0}")]
    Throttled(String),
    /// Retryable: timeouts, 5xx, I/O, transaction conflicts that outlived our retries.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// Permanent: a stored item that cannot be decoded.
    #[error("corrupt item: {0}")]
    Corrupt(String),
}

impl StoreError {
    /// Whether the same call may succeed later.
    pub fn is_retryable(&self) -> bool {
        matches!(self, StoreError::Throttled(_) | StoreError::Unavailable(_))
    }
}

/// The table port.
#[async_trait::async_trait]
pub trait Table: Send + Sync {
    /// The live item under `key`, strongly consistent.
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError>;
    /// One write is a single conditional operation; several are one atomic transaction
    /// (all or nothing). No writes is a no-op.
    async fn write(&self, writes: Vec<Write>) -> Result<(), StoreError>;
    /// One page of one partition of one index. Never a scan. Secondary-index queries
    /// are eventually consistent on DynamoDB.
    async fn query(&self, query: &Query) -> Result<Page, StoreError>;
}

/// Epoch seconds now, as the TTL sees it. Tables take it as a parameter
/// (`with_clock`) so tests and the local runtime can move time.
pub(crate) type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

pub(crate) fn system_clock() -> Clock {
    Arc::new(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0)
    })
}

/// Every page of `query` from its cursor on, concatenated. For small partitions only.
pub async fn query_all_pages<T: Table + ?Sized>(
    table: &T,
    query: &Query,
) -> Result<Vec<Item>, StoreError> {
    let mut query = query.clone();
    let mut items = Vec::new();
    loop {
        let page = table.query(&query).await?;
        items.extend(page.items);
        match page.cursor {
            Some(cursor) => query.cursor = Some(cursor),
            None => return Ok(items),
        }
    }
}
