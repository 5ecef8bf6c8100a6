//! What only the embedded table does: keep its data across a restart and tell
//! subscribers about every change, like a DynamoDB stream.

use serde_json::{Value, json};
use store::{Change, Cond, EmbeddedTable, Index, Item, Key, Query, StoreError, Table, Write};
use testkit::TempFile;
use tokio::sync::mpsc::error::TryRecvError;

fn item(pk: &str, sk: &str, value: Value) -> Item {
    match value {
        Value::Object(attrs) => Item::new(Key::new(pk, sk), attrs),
        other => panic!("attributes must be an object, not {other}"),
    }
}

fn put(item: &Item, cond: Cond) -> Write {
    Write::Put {
        item: item.clone(),
        cond,
    }
}

#[tokio::test]
async fn the_table_survives_a_restart() {
    let file = TempFile::new("store", "redb");
    let follow_up = item(
        "acct#1#fu",
        "fu#1",
        json!({"gsi1pk": "acct#1#campaign#c", "gsi1sk": "due#2030", "status": "scheduled"}),
    );
    {
        let table = EmbeddedTable::open(&file.0).expect("open");
        table
            .write(vec![put(&follow_up, Cond::NotExists)])
            .await
            .expect("put");
    }
    let table = EmbeddedTable::open(&file.0).expect("reopen");
    assert_eq!(
        table.get(&follow_up.key).await.expect("get"),
        Some(follow_up.clone())
    );
    let page = table
        .query(&Query::new(Index::Gsi1, "acct#1#campaign#c"))
        .await
        .expect("query");
    assert_eq!(page.items, std::slice::from_ref(&follow_up));
    let err = table
        .write(vec![put(&follow_up, Cond::NotExists)])
        .await
        .expect_err("the guard survived too");
    assert!(matches!(err, StoreError::ConditionFailed { .. }), "{err:?}");
}

#[tokio::test]
async fn a_file_already_open_is_refused_not_shared() {
    let file = TempFile::new("store", "redb");
    let _open = EmbeddedTable::open(&file.0).expect("open");
    let second = EmbeddedTable::open(&file.0);
    assert!(
        matches!(second, Err(StoreError::Unavailable(_))),
        "{:?}",
        second.err()
    );
}

#[tokio::test]
async fn subscribers_see_every_committed_change_in_order() {
    let file = TempFile::new("store", "redb");
    let table = EmbeddedTable::open(&file.0)
        .expect("open")
        .with_clock(|| 1_000);
    let mut changes = table.subscribe();

    let v1 = item("acct#1", "fu#1", json!({"attempt": 1}));
    let v2 = item("acct#1", "fu#1", json!({"attempt": 2}));
    let other = item("acct#1", "fu#2", json!({"attempt": 1}));
    // Already expired when written: the next NotExists put treats it as absent.
    let expired = item("acct#1", "event#e1", json!({"expires_at": 999}));
    table
        .write(vec![put(&v1, Cond::NotExists)])
        .await
        .expect("insert");
    table
        .write(vec![put(&v2, Cond::Exists)])
        .await
        .expect("modify");
    table
        .write(vec![put(&v2, Cond::Always)])
        .await
        .expect("same item again");
    table
        .write(vec![Write::Check {
            key: v2.key.clone(),
            cond: Cond::Exists,
        }])
        .await
        .expect("check");
    table
        .write(vec![put(&other, Cond::Always), put(&v1, Cond::NotExists)])
        .await
        .expect_err("a cancelled transaction changes nothing");
    table
        .write(vec![
            put(&other, Cond::NotExists),
            Write::Delete {
                key: v2.key.clone(),
                cond: Cond::Exists,
            },
        ])
        .await
        .expect("transaction");
    table
        .write(vec![Write::Delete {
            key: v2.key.clone(),
            cond: Cond::Always,
        }])
        .await
        .expect("deleting nothing");
    table
        .write(vec![put(&expired, Cond::Always)])
        .await
        .expect("put");
    let fresh = item("acct#1", "event#e1", json!({"expires_at": 2_000}));
    table
        .write(vec![put(&fresh, Cond::NotExists)])
        .await
        .expect("put");

    let expected = [
        Change {
            old: None,
            new: Some(v1.clone()),
        },
        Change {
            old: Some(v1),
            new: Some(v2.clone()),
        },
        Change {
            old: None,
            new: Some(other),
        },
        Change {
            old: Some(v2),
            new: None,
        },
        Change {
            old: None,
            new: Some(expired),
        },
        Change {
            old: None,
            new: Some(fresh),
        },
    ];
    let mut got = Vec::new();
    loop {
        match changes.try_recv() {
            Ok(change) => got.push(change),
            Err(TryRecvError::Empty) => break,
            Err(TryRecvError::Disconnected) => panic!("the table dropped its subscriber"),
        }
    }
    assert_eq!(got, expected);
}

/// The file backend with a switch that makes the disk "full": every write, resize and
/// sync fails with `StorageFull` while it is on, as a full disk does.
#[derive(Debug)]
struct FillableDisk {
    file: redb::backends::FileBackend,
    full: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl FillableDisk {
    fn backend(full: &std::sync::Arc<std::sync::atomic::AtomicBool>) -> store::Backend {
        let full = full.clone();
        std::sync::Arc::new(move |file| {
            Ok(Box::new(FillableDisk {
                file: redb::backends::FileBackend::new(file)?,
                full: full.clone(),
            }) as Box<dyn redb::StorageBackend>)
        })
    }

    fn check(&self) -> std::io::Result<()> {
        if self.full.load(std::sync::atomic::Ordering::SeqCst) {
            Err(std::io::Error::new(
                std::io::ErrorKind::StorageFull,
                "no space left on device",
            ))
        } else {
            Ok(())
        }
    }
}

impl redb::StorageBackend for FillableDisk {
    fn len(&self) -> std::io::Result<u64> {
        self.file.len()
    }

    fn read(&self, offset: u64, len: usize) -> std::io::Result<Vec<u8>> {
        self.file.read(offset, len)
    }

    fn set_len(&self, len: u64) -> std::io::Result<()> {
        self.check()?;
        self.file.set_len(len)
    }

    fn sync_data(&self, eventual: bool) -> std::io::Result<()> {
        self.check()?;
        self.file.sync_data(eventual)
    }

    fn write(&self, offset: u64, data: &[u8]) -> std::io::Result<()> {
        self.check()?;
        self.file.write(offset, data)
    }
}

#[tokio::test]
async fn a_transient_full_disk_fails_writes_and_the_table_recovers_without_a_restart() {
    let file = TempFile::new("store", "redb");
    let full = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let table =
        EmbeddedTable::open_with_backend(&file.0, FillableDisk::backend(&full)).expect("open");
    let before = item("acct#1", "fu#1", json!({"n": 1}));
    let during = item("acct#1", "fu#2", json!({"n": 2}));
    let after = item("acct#1", "fu#3", json!({"n": 3}));
    table
        .write(vec![put(&before, Cond::NotExists)])
        .await
        .expect("a write before the disk fills");

    full.store(true, std::sync::atomic::Ordering::SeqCst);
    for _ in 0..3 {
        let refused = table
            .write(vec![put(&during, Cond::NotExists)])
            .await
            .expect_err("nothing can be written to a full disk");
        assert!(matches!(refused, StoreError::Unavailable(_)), "{refused:?}");
    }

    // Space is freed: the same table (no restart) writes again, and nothing of the
    // refused writes was kept.
    full.store(false, std::sync::atomic::Ordering::SeqCst);
    table
        .write(vec![put(&after, Cond::NotExists)])
        .await
        .expect("a write once there is space again");
    assert_eq!(table.get(&before.key).await.unwrap(), Some(before.clone()));
    assert_eq!(table.get(&during.key).await.unwrap(), None);
    assert_eq!(table.get(&after.key).await.unwrap(), Some(after.clone()));
    table
        .write(vec![put(&during, Cond::NotExists)])
        .await
        .expect("the refused write can be made now");

    drop(table);
    let reopened = EmbeddedTable::open(&file.0).expect("reopen");
    for kept in [&before, &during, &after] {
        assert_eq!(reopened.get(&kept.key).await.unwrap(), Some(kept.clone()));
    }
}

#[tokio::test]
async fn a_first_open_on_a_full_disk_names_the_cause_and_leaves_nothing_behind() {
    let dir = tempfile_dir();
    let path = dir.join("followups.redb");
    let full = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let failed = EmbeddedTable::open_with_backend(&path, FillableDisk::backend(&full))
        .err()
        .expect("nothing can be created on a full disk");
    assert!(
        failed.to_string().contains("no space left on device"),
        "{failed}"
    );
    assert!(!failed.to_string().contains("another"), "{failed}");
    let left: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
    assert!(left.is_empty(), "left behind: {left:?}");

    // The next start, with space, simply creates the store.
    let table = EmbeddedTable::open(&path).expect("open once there is space");
    let kept = item("acct#1", "fu#1", json!({"n": 1}));
    table
        .write(vec![put(&kept, Cond::NotExists)])
        .await
        .unwrap();
    drop(table);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_store_file_left_half_made_by_a_killed_start_does_not_block_the_next() {
    let dir = tempfile_dir();
    let path = dir.join("followups.redb");
    // What a start killed while building the file leaves: the temporary file only.
    std::fs::write(dir.join("followups.redb.partial"), b"redb\x1a\x0a\xa9\x0d").unwrap();
    let table = EmbeddedTable::open(&path).expect("open despite the leftover");
    let kept = item("acct#1", "fu#1", json!({"n": 1}));
    table
        .write(vec![put(&kept, Cond::NotExists)])
        .await
        .unwrap();
    let names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["followups.redb"]);
    drop(table);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_second_open_of_the_same_file_says_another_process_has_it() {
    let file = TempFile::new("store", "redb");
    let _open = EmbeddedTable::open(&file.0).expect("open");
    let second = EmbeddedTable::open(&file.0).err().expect("refused");
    assert!(
        second.to_string().contains("open in another process"),
        "{second}"
    );
}

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(testkit::unique("store-dir"));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Concurrent calls are group-committed, yet each is applied as if alone, in some
/// order: 40 tasks each add 1 to a counter by compare-and-set (retrying when another
/// got there first), and 40 more race to create the same item. The counter ends at 40
/// with 40 changes of +1 each on the feed, in order; exactly one create wins.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_calls_committed_together_are_each_applied_as_if_alone() {
    let file = TempFile::new("store", "redb");
    let table = EmbeddedTable::open(&file.0).expect("open");
    let counter = |n: i64| item("acct#1", "counter", json!({"n": n}));
    table
        .write(vec![put(&counter(0), Cond::NotExists)])
        .await
        .expect("create the counter");
    let mut changes = table.subscribe();

    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..40 {
        let table = table.clone();
        tasks.spawn(async move {
            loop {
                let current = table.get(&Key::new("acct#1", "counter")).await.unwrap();
                let n = current.unwrap().attrs["n"].as_i64().unwrap();
                let cond = Cond::Equals(vec![("n".into(), json!(n))]);
                match table.write(vec![put(&counter(n + 1), cond)]).await {
                    Ok(()) => return true,
                    Err(StoreError::ConditionFailed { .. }) => continue,
                    Err(e) => panic!("{e}"),
                }
            }
        });
    }
    for i in 0..40 {
        let table = table.clone();
        tasks.spawn(async move {
            let once = item("acct#1", "once", json!({"by": i}));
            table.write(vec![put(&once, Cond::NotExists)]).await.is_ok()
        });
    }
    let mut succeeded = 0;
    while let Some(ok) = tasks.join_next().await {
        succeeded += ok.unwrap() as usize;
    }
    assert_eq!(succeeded, 40 + 1, "every increment and exactly one create");
    let stored = table.get(&Key::new("acct#1", "counter")).await.unwrap();
    assert_eq!(stored.unwrap().attrs["n"], json!(40));

    let mut seen = Vec::new();
    while let Ok(change) = changes.try_recv() {
        if change.new.as_ref().is_some_and(|i| i.key.sk == "counter") {
            let n = |i: &Option<Item>| i.as_ref().map(|i| i.attrs["n"].as_i64().unwrap());
            seen.push((n(&change.old), n(&change.new)));
        }
    }
    let expected: Vec<_> = (0..40).map(|n| (Some(n), Some(n + 1))).collect();
    assert_eq!(seen, expected, "each increment once, in commit order");
}
