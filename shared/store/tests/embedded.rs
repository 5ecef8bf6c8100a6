//! What only the embedded table does: keep its data across a restart and tell
//! subscribers about every change, like a DynamoDB stream.

use serde_json::{Value, json};
use store::{Change, Cond, EmbeddedTable, Index, Item, Key, Query, StoreError, Table, Write};
use tokio::sync::mpsc::error::TryRecvError;

/// A file path in the temp directory, removed on drop.
struct TempFile(std::path::PathBuf);

impl TempFile {
    fn new() -> Self {
        TempFile(std::env::temp_dir().join(format!("{}.redb", testkit::unique("store"))))
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

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
    let file = TempFile::new();
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
    let file = TempFile::new();
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
    let file = TempFile::new();
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
