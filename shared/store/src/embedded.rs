//! The table on one redb file, for the local runtime and tests.
//!
//! Layout: `items` maps the encoded primary key to the item as JSON (attributes plus
//! `pk`/`sk`, like a DynamoDB item); `gsi1` and `gsi2` map the encoded index key
//! (index pk, index sk, pk, sk) to the encoded primary key, and hold only items that
//! have both index attributes. Keys are encoded so that byte order is the order of
//! their string parts, which makes every query a range over one table.
//!
//! redb is blocking and commits with an fsync. Writes go to the table's own writer
//! thread, which group-commits them: the calls queued while it was busy are applied one
//! after the other in one transaction with one fsync, each with its own conditions and
//! its own answer, sent once the transaction is durable (what a commit promises is
//! unchanged). It notifies subscribers before the next commit, so they see changes in
//! commit order. A single-key read runs where it is called: it reads a few cached pages,
//! cheaper than handing it to another thread and back (the local runtime's throughput is
//! bounded by such hand-offs, docs/performance.md). Queries and full reads, which can
//! touch many items, run on tokio's blocking pool.
//!
//! Expired items are invisible but stay in the file until a write replaces or deletes
//! them (there is no background sweeper: the local runtime's data is small).
//!
//! Disk faults: a new file is built under a temporary name and renamed into place only
//! once it is a complete database, so a first start that fails (a full disk) leaves
//! nothing behind. After an I/O error redb refuses every later transaction until the
//! database is opened again; the table then closes it and opens it again on the next
//! call, so a transient fault (a full disk, freed again) heals without a restart.

use std::fs::{File, OpenOptions};
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, Weak};

use redb::backends::FileBackend;
use redb::{Database, ReadableTable, StorageBackend, TableDefinition};
use tokio::sync::{mpsc, oneshot};

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

/// Makes redb's storage of the opened store file: the plain [`FileBackend`] in the
/// runtime; tests wrap it with one that fails writes on demand.
pub type Backend =
    Arc<dyn Fn(File) -> Result<Box<dyn StorageBackend>, redb::DatabaseError> + Send + Sync>;

/// The plain file backend (it also locks the file against a second process).
pub fn file_backend() -> Backend {
    Arc::new(|file| Ok(Box::new(FileBackend::new(file)?) as Box<dyn StorageBackend>))
}

struct Inner {
    path: PathBuf,
    backend: Backend,
    /// `None` after an I/O error closed it: the next call opens the file again.
    db: RwLock<Option<Database>>,
    /// The writer thread's queue; it stops when this is dropped with the table.
    writer: std::sync::mpsc::Sender<Queued>,
    subscribers: Mutex<Vec<mpsc::UnboundedSender<Change>>>,
}

impl EmbeddedTable {
    /// Opens the table in `path`, creating the file if needed. Fails if another
    /// process (or another `EmbeddedTable`) has it open.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        Self::open_with_backend(path, file_backend())
    }

    /// [`EmbeddedTable::open`] with redb's storage made by `backend`.
    pub fn open_with_backend(path: impl AsRef<Path>, backend: Backend) -> Result<Self, StoreError> {
        let path = path.as_ref().to_path_buf();
        if !path.exists() {
            create_atomically(&path, &backend)?;
        }
        let db = open_file(&path, &backend)?;
        let (writer, queue) = std::sync::mpsc::channel();
        let inner = Arc::new(Inner {
            path,
            backend,
            db: RwLock::new(Some(db)),
            writer,
            subscribers: Mutex::new(Vec::new()),
        });
        let weak = Arc::downgrade(&inner);
        std::thread::Builder::new()
            .name("store-writer".into())
            .spawn(move || run_writer(&weak, &queue))
            .map_err(|e| {
                StoreError::Unavailable(format!("cannot start the store's writer: {e}"))
            })?;
        Ok(EmbeddedTable {
            inner,
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
        self.blocking(move |db, now| {
            let txn = db.begin_read().map_err(storage)?;
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
        work: impl FnOnce(&Database, i64) -> Result<R, StoreError> + Send + 'static,
    ) -> Result<R, StoreError> {
        let inner = Arc::clone(&self.inner);
        let now = (self.clock)();
        tokio::task::spawn_blocking(move || inner.with_database(|db| work(db, now)))
            .await
            .map_err(|e| StoreError::Unavailable(format!("store task failed: {e}")))?
    }
}

#[async_trait::async_trait]
impl Table for EmbeddedTable {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        let now = (self.clock)();
        self.inner.with_database(|db| {
            let txn = db.begin_read().map_err(storage)?;
            let items = txn.open_table(ITEMS).map_err(storage)?;
            Ok(rules::live(load(&items, &primary_key(key))?, now))
        })
    }

    /// Queued for the writer's next group commit; answered once it is durable.
    async fn write(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        rules::check_writes(&writes)?;
        if writes.is_empty() {
            return Ok(());
        }
        let (reply, answer) = oneshot::channel();
        let now = (self.clock)();
        let stopped = || StoreError::Unavailable("the store's writer stopped".into());
        self.inner
            .writer
            .send(Queued { writes, now, reply })
            .map_err(|_| stopped())?;
        answer.await.unwrap_or_else(|_| Err(stopped()))
    }

    async fn query(&self, query: &Query) -> Result<Page, StoreError> {
        rules::check_query(query)?;
        let position = cursor::decode(query)?;
        let query = query.clone();
        self.blocking(move |db, now| query_in(db, &query, position, now))
            .await
    }
}

impl Inner {
    /// Runs `work` on the open database, opening it first if an earlier I/O error closed
    /// it; an I/O error now closes it, so the next call starts from a fresh open.
    fn with_database<R>(
        &self,
        work: impl FnOnce(&Database) -> Result<R, StoreError>,
    ) -> Result<R, StoreError> {
        if read_db(&self.db).is_none() {
            let mut db = write_db(&self.db);
            if db.is_none() {
                *db = Some(open_file(&self.path, &self.backend)?);
                tracing::info!(path = %self.path.display(), "store opened again after an I/O error");
            }
        }
        let result = {
            let db = read_db(&self.db);
            match db.as_ref() {
                Some(db) => work(db),
                None => Err(StoreError::Unavailable(
                    "the store is being reopened".into(),
                )),
            }
        };
        if let Err(StoreError::Unavailable(reason)) = &result {
            tracing::warn!(%reason, "store I/O failed; it will be opened again");
            // Dropping the database releases the file for the next open.
            write_db(&self.db).take();
        }
        result
    }

    /// Applies a batch of queued calls in one transaction, notifies the subscribers of
    /// what changed, and returns each call's answer (to be sent by the caller).
    fn commit(&self, batch: Vec<Queued>) -> Vec<(Reply, Result<(), StoreError>)> {
        let (calls, replies): (Vec<_>, Vec<_>) = batch
            .into_iter()
            .map(|queued| ((queued.writes, queued.now), queued.reply))
            .unzip();
        let applied = self.with_database(|db| {
            let txn = db.begin_write().map_err(storage)?;
            let outcomes = apply_all(&txn, calls)?;
            txn.commit().map_err(storage)?;
            Ok(outcomes)
        });
        match applied {
            Ok(outcomes) => {
                let mut changes = Vec::new();
                let answers = replies
                    .into_iter()
                    .zip(outcomes)
                    .map(|(reply, outcome)| {
                        let answer = outcome.map(|made| changes.extend(made));
                        (reply, answer)
                    })
                    .collect();
                self.notify(changes);
                answers
            }
            // Nothing of the batch was written (a condition seen failing may have
            // depended on a write that is gone too): every call may try again.
            Err(e) => {
                let reason = match e {
                    StoreError::Unavailable(reason) => reason,
                    other => other.to_string(),
                };
                replies
                    .into_iter()
                    .map(|reply| (reply, Err(StoreError::Unavailable(reason.clone()))))
                    .collect()
            }
        }
    }

    /// Sends each change to every subscriber (the last one gets the original), dropping
    /// subscribers that have gone.
    fn notify(&self, changes: Vec<Change>) {
        if changes.is_empty() {
            return;
        }
        let mut subscribers = lock(&self.subscribers);
        for change in changes {
            let (count, mut change, mut index) = (subscribers.len(), Some(change), 0);
            subscribers.retain(|tx| {
                index += 1;
                let copy = if index == count {
                    change.take()
                } else {
                    change.clone()
                };
                copy.is_some_and(|copy| tx.send(copy).is_ok())
            });
        }
    }
}

/// The writer thread: waits for a call, takes every call queued behind it, commits them
/// as one batch and answers. It holds the table only while committing, so dropping the
/// last handle closes the file (once the answers are out) and ends the thread.
fn run_writer(table: &Weak<Inner>, queue: &std::sync::mpsc::Receiver<Queued>) {
    while let Ok(first) = queue.recv() {
        let mut batch = vec![first];
        batch.extend(queue.try_iter());
        let answers = match table.upgrade() {
            Some(inner) => inner.commit(batch),
            None => return,
        };
        for (reply, answer) in answers {
            let _ = reply.send(answer);
        }
    }
}

type Reply = oneshot::Sender<Result<(), StoreError>>;

/// One call's writes waiting for the next group commit.
struct Queued {
    writes: Vec<Write>,
    now: i64,
    reply: Reply,
}

/// Applies each queued call in order inside `txn`: a call whose conditions fail writes
/// nothing and gets `ConditionFailed`; an I/O error fails the whole batch. The items
/// written become the changes (moved, not copied: this runs on the one writer thread).
fn apply_all(
    txn: &redb::WriteTransaction,
    calls: Vec<(Vec<Write>, i64)>,
) -> Result<Vec<Result<Vec<Change>, StoreError>>, StoreError> {
    let mut items = txn.open_table(ITEMS).map_err(storage)?;
    let mut gsi1 = txn.open_table(GSI1).map_err(storage)?;
    let mut gsi2 = txn.open_table(GSI2).map_err(storage)?;
    let mut outcomes = Vec::with_capacity(calls.len());
    for (writes, now) in calls {
        // Keys are distinct (checked), so every condition sees the state before the
        // call, as in a DynamoDB transaction.
        let mut current = Vec::with_capacity(writes.len());
        let mut failed = Vec::new();
        for (i, write) in writes.iter().enumerate() {
            let key = primary_key(write.key());
            let stored = load(&items, &key)?;
            // The index entries of what is stored (even if expired) go with it.
            let indexed = stored.as_ref().map(|item| gsi_keys(item, &key));
            let live = rules::live(stored, now);
            if rules::holds(write.cond(), live.as_ref()) {
                current.push((key, indexed, live));
            } else {
                failed.push((i, live));
            }
        }
        if !failed.is_empty() {
            outcomes.push(Err(StoreError::ConditionFailed { failed }));
            continue;
        }
        let mut changes = Vec::new();
        for (write, (key, indexed, live)) in writes.into_iter().zip(current) {
            if matches!(write, Write::Check { .. }) {
                continue;
            }
            if let Some(entries) = indexed {
                unindex([&mut gsi1, &mut gsi2], entries)?;
            }
            match write {
                Write::Put { item, .. } => {
                    items
                        .insert(key.as_slice(), encode_item(&item)?.as_slice())
                        .map_err(storage)?;
                    index([&mut gsi1, &mut gsi2], gsi_keys(&item, &key), &key)?;
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
        outcomes.push(Ok(changes));
    }
    Ok(outcomes)
}

fn query_in(
    db: &Database,
    query: &Query,
    position: Option<cursor::Position>,
    now: i64,
) -> Result<Page, StoreError> {
    let size = rules::page_size(query);
    let txn = db.begin_read().map_err(storage)?;
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
            Some(_) => load(&items, value.value())?
                .ok_or_else(|| StoreError::Corrupt("an index entry points to no item".into()))?,
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

/// Opens an existing store file and makes sure its tables exist.
fn open_file(path: &Path, backend: &Backend) -> Result<Database, StoreError> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(|e| StoreError::Unavailable(format!("cannot open {}: {e}", path.display())))?;
    let db = redb::Builder::new()
        .create_with_backend(Boxed(backend(file).map_err(opening)?))
        .map_err(opening)?;
    create_tables(&db)?;
    Ok(db)
}

/// Builds a new store under a temporary name and renames it to `path` once complete;
/// on failure removes what it wrote, so nothing half-made blocks the next start.
fn create_atomically(path: &Path, backend: &Backend) -> Result<(), StoreError> {
    let mut partial = path.as_os_str().to_owned();
    partial.push(".partial");
    let partial = PathBuf::from(partial);
    let build = || -> Result<(), StoreError> {
        let cannot = |e: std::io::Error| {
            StoreError::Unavailable(format!("cannot create {}: {e}", path.display()))
        };
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&partial)
            .map_err(cannot)?;
        let db = redb::Builder::new()
            .create_with_backend(Boxed(backend(file).map_err(opening)?))
            .map_err(opening)?;
        create_tables(&db)?;
        drop(db);
        std::fs::rename(&partial, path).map_err(cannot)
    };
    let built = build();
    if built.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    built
}

fn create_tables(db: &Database) -> Result<(), StoreError> {
    let txn = db.begin_write().map_err(storage)?;
    for table in [ITEMS, GSI1, GSI2] {
        txn.open_table(table).map_err(storage)?;
    }
    txn.commit().map_err(storage)
}

/// Why a store file could not be opened, in words that name the cause.
fn opening(e: redb::DatabaseError) -> StoreError {
    match e {
        redb::DatabaseError::DatabaseAlreadyOpen => StoreError::Unavailable(
            "the store file is open in another process (is another followups-local running?)"
                .into(),
        ),
        e => storage(e),
    }
}

/// A boxed backend is a backend (redb takes one by value).
#[derive(Debug)]
struct Boxed(Box<dyn StorageBackend>);

impl StorageBackend for Boxed {
    fn len(&self) -> std::io::Result<u64> {
        self.0.len()
    }

    fn read(&self, offset: u64, len: usize) -> std::io::Result<Vec<u8>> {
        self.0.read(offset, len)
    }

    fn set_len(&self, len: u64) -> std::io::Result<()> {
        self.0.set_len(len)
    }

    fn sync_data(&self, eventual: bool) -> std::io::Result<()> {
        self.0.sync_data(eventual)
    }

    fn write(&self, offset: u64, data: &[u8]) -> std::io::Result<()> {
        self.0.write(offset, data)
    }
}

/// The item's entries in the two indexes (`None` where it has no index key).
fn gsi_keys(item: &Item, primary: &[u8]) -> [Option<Vec<u8>>; 2] {
    [Index::Gsi1, Index::Gsi2].map(|index| gsi_key(index, item, primary))
}

type RedbTable<'t> = redb::Table<'t, &'static [u8], &'static [u8]>;

/// Writes the index entries `entries` (from [`gsi_keys`]) pointing at `primary`.
fn index(
    tables: [&mut RedbTable<'_>; 2],
    entries: [Option<Vec<u8>>; 2],
    primary: &[u8],
) -> Result<(), StoreError> {
    for (table, entry) in tables.into_iter().zip(entries) {
        if let Some(entry) = entry {
            table.insert(entry.as_slice(), primary).map_err(storage)?;
        }
    }
    Ok(())
}

/// Removes the index entries `entries` (from [`gsi_keys`]).
fn unindex(
    tables: [&mut RedbTable<'_>; 2],
    entries: [Option<Vec<u8>>; 2],
) -> Result<(), StoreError> {
    for (table, entry) in tables.into_iter().zip(entries) {
        if let Some(entry) = entry {
            table.remove(entry.as_slice()).map_err(storage)?;
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

/// The item as stored: its attributes with `pk` and `sk`, as one JSON object (written
/// straight from the item: this runs for every write, on the one writer thread).
fn encode_item(item: &Item) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(&Stored(item)).map_err(|e| StoreError::Corrupt(e.to_string()))
}

struct Stored<'a>(&'a Item);

impl serde::Serialize for Stored<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let Item { key, attrs } = self.0;
        let own = |name: &&String| name.as_str() != "pk" && name.as_str() != "sk";
        let mut map = serializer.serialize_map(Some(2 + attrs.keys().filter(own).count()))?;
        map.serialize_entry("pk", &key.pk)?;
        map.serialize_entry("sk", &key.sk)?;
        for (name, value) in attrs.iter().filter(|(name, _)| own(name)) {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
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

fn read_db(db: &RwLock<Option<Database>>) -> std::sync::RwLockReadGuard<'_, Option<Database>> {
    db.read().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn write_db(db: &RwLock<Option<Database>>) -> std::sync::RwLockWriteGuard<'_, Option<Database>> {
    db.write()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
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
