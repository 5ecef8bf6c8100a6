//! The table on one redb file, for the local runtime and tests.
//!
//! Layout: `items` maps the encoded primary key to the item as JSON (attributes plus
//! `pk`/`sk`, like a DynamoDB item); `gsi1` and `gsi2` map the encoded index key
//! (index pk, index sk, pk, sk) to the encoded primary key, and hold only items that
//! have both index attributes. Keys are encoded so that byte order is the order of
//! their string parts, which makes every query a range over one table.
//!
//! redb is blocking and commits with an fsync, so every call runs on tokio's blocking
//! pool. Writes also take one mutex through commit and notification, so subscribers
//! see changes in commit order.
//!
//! Expired items are invisible but stay in the file until a write replaces or deletes
//! them (there is no background sweeper: the local runtime's data is small).

use std::ops::Bound;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use redb::{Database, ReadableTable, TableDefinition};
use tokio::sync::mpsc;

use crate::{
    Clock, Index, Item, Key, Page, Query, StoreError, Table, Write, cursor, rules, system_clock,
};

const ITEMS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("items");
const GSI1: TableDefinition<&[u8], &[u8]> = TableDefinition::new("gsi1");
const GSI2: TableDefinition<&[u8], &[u8]> = TableDefinition::new("gsi2");

/// What one write did to one item, like a DynamoDB stream record with new and old
/// images. Emitted after commit; a write that changes nothing emits nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub old: Option<Item>,
    pub new: Option<Item>,
}

/// The embedded table. Cheap to clone; clones share the file.
#[derive(Clone)]
pub struct EmbeddedTable {
    inner: Arc<Inner>,
    clock: Clock,
}

struct Inner {
    db: Database,
    write_lock: Mutex<()>,
    subscribers: Mutex<Vec<mpsc::UnboundedSender<Change>>>,
}

impl EmbeddedTable {
    /// Opens the table in `path`, creating the file if needed. Fails if another
    /// process (or another `EmbeddedTable`) has it open.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let db = Database::create(path.as_ref()).map_err(storage)?;
        let txn = db.begin_write().map_err(storage)?;
        for table in [ITEMS, GSI1, GSI2] {
            txn.open_table(table).map_err(storage)?;
        }
        txn.commit().map_err(storage)?;
        Ok(EmbeddedTable {
            inner: Arc::new(Inner {
                db,
                write_lock: Mutex::new(()),
                subscribers: Mutex::new(Vec::new()),
            }),
            clock: system_clock(),
        })
    }

    /// The same table seeing time through `now` (epoch seconds) for the TTL.
    pub fn with_clock(mut self, now: impl Fn() -> i64 + Send + Sync + 'static) -> Self {
        self.clock = Arc::new(now);
        self
    }

    /// Every change committed from now on, in commit order. Unbounded so a slow
    /// consumer loses nothing; changes committed before the call (or before a restart)
    /// are not replayed, so consumers reconcile from queries when they start.
    pub fn subscribe(&self) -> mpsc::UnboundedReceiver<Change> {
        let (tx, rx) = mpsc::unbounded_channel();
        lock(&self.inner.subscribers).push(tx);
        rx
    }

    /// Every live item whose sort key is `sk`, in key order. A full read of the file:
    /// for the local runtime's start (re-feeding due follow-ups after a restart), never
    /// for a request.
    pub async fn items_with_sort_key(&self, sk: &str) -> Result<Vec<Item>, StoreError> {
        let sk = sk.to_owned();
        self.blocking(move |inner, now| {
            let txn = inner.db.begin_read().map_err(storage)?;
            let items = txn.open_table(ITEMS).map_err(storage)?;
            let mut found = Vec::new();
            for entry in items.iter().map_err(storage)? {
                let (_, value) = entry.map_err(storage)?;
                let item = decode_item(value.value())?;
                if item.key.sk == sk
                    && let Some(item) = rules::live(Some(item), now)
                {
                    found.push(item);
                }
            }
            Ok(found)
        })
        .await
    }

    async fn blocking<R: Send + 'static>(
        &self,
        work: impl FnOnce(&Inner, i64) -> Result<R, StoreError> + Send + 'static,
    ) -> Result<R, StoreError> {
        let inner = Arc::clone(&self.inner);
        let now = (self.clock)();
        tokio::task::spawn_blocking(move || work(&inner, now))
            .await
            .map_err(|e| StoreError::Unavailable(format!("store task failed: {e}")))?
    }
}

#[async_trait::async_trait]
impl Table for EmbeddedTable {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        let key = key.clone();
        self.blocking(move |inner, now| {
            let txn = inner.db.begin_read().map_err(storage)?;
            let items = txn.open_table(ITEMS).map_err(storage)?;
            Ok(rules::live(load(&items, &primary_key(&key))?, now))
        })
        .await
    }

    async fn write(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        rules::check_writes(&writes)?;
        if writes.is_empty() {
            return Ok(());
        }
        self.blocking(move |inner, now| inner.write(writes, now))
            .await
    }

    async fn query(&self, query: &Query) -> Result<Page, StoreError> {
        rules::check_query(query)?;
        let position = cursor::decode(query)?;
        let query = query.clone();
        self.blocking(move |inner, now| inner.query(&query, position, now))
            .await
    }
}

impl Inner {
    fn write(&self, writes: Vec<Write>, now: i64) -> Result<(), StoreError> {
        let _serial = lock(&self.write_lock);
        let txn = self.db.begin_write().map_err(storage)?;
        let mut changes = Vec::new();
        {
            let mut items = txn.open_table(ITEMS).map_err(storage)?;
            let mut gsi1 = txn.open_table(GSI1).map_err(storage)?;
            let mut gsi2 = txn.open_table(GSI2).map_err(storage)?;

            // Keys are distinct (checked), so every condition sees the state before the
            // call, as in a DynamoDB transaction.
            let mut stored = Vec::with_capacity(writes.len());
            let mut failed = Vec::new();
            for (i, write) in writes.iter().enumerate() {
                let current = load(&items, &primary_key(write.key()))?;
                let live = rules::live(current.clone(), now);
                if !rules::holds(write.cond(), live.as_ref()) {
                    failed.push((i, live.clone()));
                }
                stored.push((current, live));
            }
            if !failed.is_empty() {
                // Dropping the transaction aborts it.
                return Err(StoreError::ConditionFailed { failed });
            }

            for (write, (current, live)) in writes.into_iter().zip(stored) {
                let key = primary_key(write.key());
                if let Some(current) = &current
                    && !matches!(write, Write::Check { .. })
                {
                    unindex(&mut gsi1, &mut gsi2, current, &key)?;
                }
                match write {
                    Write::Put { item, .. } => {
                        items
                            .insert(key.as_slice(), encode_item(&item)?.as_slice())
                            .map_err(storage)?;
                        index(&mut gsi1, &mut gsi2, &item, &key)?;
                        if live.as_ref() != Some(&item) {
                            changes.push(Change {
                                old: live,
                                new: Some(item),
                            });
                        }
                    }
                    Write::Delete { .. } => {
                        items.remove(key.as_slice()).map_err(storage)?;
                        if live.is_some() {
                            changes.push(Change {
                                old: live,
                                new: None,
                            });
                        }
                    }
                    Write::Check { .. } => {}
                }
            }
        }
        txn.commit().map_err(storage)?;
        if !changes.is_empty() {
            let mut subscribers = lock(&self.subscribers);
            subscribers.retain(|tx| changes.iter().all(|c| tx.send(c.clone()).is_ok()));
        }
        Ok(())
    }

    fn query(
        &self,
        query: &Query,
        position: Option<cursor::Position>,
        now: i64,
    ) -> Result<Page, StoreError> {
        let size = rules::page_size(query);
        let txn = self.db.begin_read().map_err(storage)?;
        let items = txn.open_table(ITEMS).map_err(storage)?;
        let table = match query.index {
            Index::Primary => None,
            Index::Gsi1 => Some(txn.open_table(GSI1).map_err(storage)?),
            Index::Gsi2 => Some(txn.open_table(GSI2).map_err(storage)?),
        };

        let (mut lower, mut upper) = partition_range(query);
        if let Some(position) = &position {
            let mut at = encode_parts(&[&query.pk, &position.index_sk]);
            if query.index != Index::Primary {
                push_part(&mut at, &position.pk);
                push_part(&mut at, &position.sk);
            }
            if query.newest_first {
                upper = Bound::Excluded(at);
            } else {
                lower = Bound::Excluded(at);
            }
        }
        if bounds_are_empty(&lower, &upper) {
            return Ok(Page {
                items: Vec::new(),
                cursor: None,
            });
        }
        let range = (as_slice(&lower), as_slice(&upper));
        let entries = match &table {
            None => items.range::<&[u8]>(range),
            Some(index) => index.range::<&[u8]>(range),
        }
        .map_err(storage)?;
        let entries: Box<dyn Iterator<Item = _>> = if query.newest_first {
            Box::new(entries.rev())
        } else {
            Box::new(entries)
        };

        // One item more than the page, to know whether a next page exists.
        let mut found = Vec::with_capacity(size + 1);
        for entry in entries {
            let (_, value) = entry.map_err(storage)?;
            let item = match table {
                None => decode_item(value.value())?,
                Some(_) => load(&items, value.value())?.ok_or_else(|| {
                    StoreError::Corrupt("an index entry points to no item".into())
                })?,
            };
            if rules::is_expired(&item.attrs, now) {
                continue;
            }
            found.push(item);
            if found.len() > size {
                break;
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
        Ok(Page {
            items: found,
            cursor,
        })
    }
}

type RedbTable<'t> = redb::Table<'t, &'static [u8], &'static [u8]>;

fn index<'t>(
    gsi1: &mut RedbTable<'t>,
    gsi2: &mut RedbTable<'t>,
    item: &Item,
    primary: &[u8],
) -> Result<(), StoreError> {
    for (index, table) in [(Index::Gsi1, gsi1), (Index::Gsi2, gsi2)] {
        if let Some(key) = gsi_key(index, item, primary) {
            table.insert(key.as_slice(), primary).map_err(storage)?;
        }
    }
    Ok(())
}

fn unindex<'t>(
    gsi1: &mut RedbTable<'t>,
    gsi2: &mut RedbTable<'t>,
    item: &Item,
    primary: &[u8],
) -> Result<(), StoreError> {
    for (index, table) in [(Index::Gsi1, gsi1), (Index::Gsi2, gsi2)] {
        if let Some(key) = gsi_key(index, item, primary) {
            table.remove(key.as_slice()).map_err(storage)?;
        }
    }
    Ok(())
}

fn gsi_key(index: Index, item: &Item, primary: &[u8]) -> Option<Vec<u8>> {
    let (pk, sk) = rules::index_key(index, item)?;
    let mut key = encode_parts(&[pk, sk]);
    key.extend_from_slice(primary);
    Some(key)
}

fn load(
    items: &impl ReadableTable<&'static [u8], &'static [u8]>,
    key: &[u8],
) -> Result<Option<Item>, StoreError> {
    match items.get(key).map_err(storage)? {
        Some(value) => decode_item(value.value()).map(Some),
        None => Ok(None),
    }
}

fn encode_item(item: &Item) -> Result<Vec<u8>, StoreError> {
    let mut json = item.attrs.clone();
    json.insert("pk".into(), item.key.pk.clone().into());
    json.insert("sk".into(), item.key.sk.clone().into());
    serde_json::to_vec(&json).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn decode_item(bytes: &[u8]) -> Result<Item, StoreError> {
    let mut attrs: crate::Attrs =
        serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let mut part = |name: &str| match attrs.remove(name) {
        Some(serde_json::Value::String(s)) => Ok(s),
        _ => Err(StoreError::Corrupt(format!(
            "stored item without a string {name}"
        ))),
    };
    let key = Key::new(part("pk")?, part("sk")?);
    Ok(Item { key, attrs })
}

// Key encoding: each string part is written with 0x00 escaped as 0x00 0xFF and ends
// with 0x00 0x01. Bytewise order of encodings is then the order of the tuples of
// parts, and the encoding of a prefix of a string is a prefix of its encoding.

fn push_escaped(out: &mut Vec<u8>, part: &str) {
    for byte in part.bytes() {
        if byte == 0 {
            out.extend_from_slice(&[0x00, 0xFF]);
        } else {
            out.push(byte);
        }
    }
}

fn push_part(out: &mut Vec<u8>, part: &str) {
    push_escaped(out, part);
    out.extend_from_slice(&[0x00, 0x01]);
}

fn encode_parts(parts: &[&str]) -> Vec<u8> {
    let mut out = Vec::new();
    for part in parts {
        push_part(&mut out, part);
    }
    out
}

fn primary_key(key: &Key) -> Vec<u8> {
    encode_parts(&[&key.pk, &key.sk])
}

/// The smallest byte string greater than every string starting with `prefix`.
fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xFF {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

/// The keys of the query's partition that satisfy its sort-key condition.
fn partition_range(query: &Query) -> (Bound<Vec<u8>>, Bound<Vec<u8>>) {
    let partition = encode_parts(&[&query.pk]);
    let mut start = partition.clone();
    let mut end_of = partition;
    if let Some(prefix) = &query.sk_prefix {
        push_escaped(&mut start, prefix);
        end_of = start.clone();
    } else if let Some(from) = &query.sk_from {
        push_escaped(&mut start, from);
    }
    let end = match prefix_end(&end_of) {
        Some(end) => Bound::Excluded(end),
        None => Bound::Unbounded,
    };
    (Bound::Included(start), end)
}

fn bounds_are_empty(lower: &Bound<Vec<u8>>, upper: &Bound<Vec<u8>>) -> bool {
    match (lower, upper) {
        (Bound::Included(l), Bound::Included(u)) => l > u,
        (Bound::Included(l) | Bound::Excluded(l), Bound::Excluded(u))
        | (Bound::Excluded(l), Bound::Included(u)) => l >= u,
        _ => false,
    }
}

fn as_slice(bound: &Bound<Vec<u8>>) -> Bound<&[u8]> {
    match bound {
        Bound::Included(v) => Bound::Included(v.as_slice()),
        Bound::Excluded(v) => Bound::Excluded(v.as_slice()),
        Bound::Unbounded => Bound::Unbounded,
    }
}

fn storage(e: impl Into<redb::Error>) -> StoreError {
    match e.into() {
        redb::Error::Corrupted(msg) => StoreError::Corrupt(msg),
        e => StoreError::Unavailable(e.to_string()),
    }
}

/// A poisoned lock only means another call panicked; the data it guards (a unit, a
/// list of senders) is still sound.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn key_encoding_keeps_tuple_order(
            a in ("[a\\x00\\x01#\u{e9}]{0,4}", "[a\\x00\\x01#\u{e9}]{0,4}"),
            b in ("[a\\x00\\x01#\u{e9}]{0,4}", "[a\\x00\\x01#\u{e9}]{0,4}"),
        ) {
            let ea = encode_parts(&[&a.0, &a.1]);
            let eb = encode_parts(&[&b.0, &b.1]);
            prop_assert_eq!(ea.cmp(&eb), a.cmp(&b));
        }

        #[test]
        fn a_prefix_range_holds_exactly_the_strings_with_that_prefix(
            prefix in "[a\\x00\\x01]{0,3}",
            s in "[a\\x00\\x01]{0,5}",
        ) {
            let mut start = Vec::new();
            push_escaped(&mut start, &prefix);
            let end = prefix_end(&start);
            let e = encode_parts(&[&s]);
            let inside = e >= start && end.is_none_or(|end| e < end);
            prop_assert_eq!(inside, s.starts_with(&prefix));
        }
    }
}
