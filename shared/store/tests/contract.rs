//! The table contract: every case is written once against `T: Table` and run against
//! the embedded table (a redb file in the temp directory) and against DynamoDB as moto
//! serves it (one fresh table per test; the test fails when moto cannot start).

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use serde_json::{Value, json};
use store::{
    Attrs, Cond, DynamoTable, EmbeddedTable, Index, Item, Key, Query, StoreError, Table, Write,
    query_all_pages,
};
use testkit::TempFile;

/// The time the tables see at the start of every test (2033-05-18).
const NOW: i64 = 2_000_000_000;

pub struct Fixture<T> {
    pub table: T,
    /// The tables' clock, in epoch seconds.
    pub now: Arc<AtomicI64>,
    _file: Option<TempFile>,
}

async fn embedded_fixture() -> Fixture<EmbeddedTable> {
    let file = TempFile::new("store", "redb");
    let now = Arc::new(AtomicI64::new(NOW));
    let clock = Arc::clone(&now);
    let table = EmbeddedTable::open(&file.0)
        .expect("open the embedded table")
        .with_clock(move || clock.load(Ordering::SeqCst));
    Fixture {
        table,
        now,
        _file: Some(file),
    }
}

async fn dynamo_fixture() -> Fixture<DynamoTable> {
    let moto = testkit::Moto::shared();
    let client = aws_sdk_dynamodb::Client::new(&moto.sdk_config());
    let name = testkit::unique("store");
    store::create_table(&client, &name)
        .await
        .expect("create the table in moto");
    let now = Arc::new(AtomicI64::new(NOW));
    let clock = Arc::clone(&now);
    let table = DynamoTable::new(client, name).with_clock(move || clock.load(Ordering::SeqCst));
    Fixture {
        table,
        now,
        _file: None,
    }
}

macro_rules! contract_tests {
    ($backend:ident, $fixture:path; $($case:ident),* $(,)?) => {
        mod $backend {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    super::cases::$case($fixture().await).await
                }
            )*
        }
    };
}

macro_rules! for_both_tables {
    ($($case:ident),* $(,)?) => {
        contract_tests!(embedded, super::embedded_fixture; $($case),*);
        contract_tests!(dynamo, super::dynamo_fixture; $($case),*);
    };
}

for_both_tables!(
    put_then_get_round_trips_every_json_type,
    get_of_a_missing_key_is_none,
    put_replaces_the_whole_item,
    not_exists_guards_a_second_put,
    equals_claims_once_and_returns_the_current_item_when_it_fails,
    equals_on_a_missing_item_fails_without_an_item,
    exists_requires_a_live_item,
    delete_obeys_its_condition,
    a_failed_transaction_writes_nothing_and_names_the_failed_writes,
    a_transaction_applies_every_write,
    check_alone_reports_its_condition,
    more_than_100_writes_are_refused_and_100_commit,
    two_writes_on_one_item_are_refused,
    items_dynamodb_would_refuse_are_refused,
    gsi1_query_is_ascending_by_due_time_within_the_prefix,
    gsi2_query_newest_first,
    sk_from_is_an_inclusive_lower_bound,
    primary_query_reads_one_partition,
    pagination_visits_every_item_exactly_once,
    a_full_last_page_has_no_cursor,
    page_size_is_capped_at_100,
    a_cursor_for_another_partition_or_index_is_refused,
    indexes_are_sparse_and_follow_the_item,
    expired_items_are_absent,
    ten_concurrent_not_exists_puts_have_one_winner,
);

fn attrs(value: Value) -> Attrs {
    match value {
        Value::Object(map) => map,
        other => panic!("attributes must be an object, not {other}"),
    }
}

fn item(pk: &str, sk: &str, value: Value) -> Item {
    Item::new(Key::new(pk, sk), attrs(value))
}

fn put(item: &Item, cond: Cond) -> Write {
    Write::Put {
        item: item.clone(),
        cond,
    }
}

fn failed_writes(err: StoreError) -> Vec<(usize, Option<Item>)> {
    match err {
        StoreError::ConditionFailed { failed } => failed,
        other => panic!("expected ConditionFailed, got {other:?}"),
    }
}

/// A follow-up as the engine might store it, in campaign `campaign` due at `due`.
fn follow_up(account: &str, id: &str, campaign: &str, due: &str, contact: &str) -> Item {
    item(
        &format!("{account}#fu"),
        id,
        json!({
            "gsi1pk": format!("{account}#campaign#{campaign}"),
            "gsi1sk": format!("due#{due}#{id}"),
            "gsi2pk": format!("{account}#contact#{contact}"),
            "gsi2sk": format!("{due}#{id}"),
            "status": "scheduled",
        }),
    )
}

fn keys(items: &[Item]) -> Vec<String> {
    items.iter().map(|i| i.key.sk.clone()).collect()
}

pub mod cases {
    use super::*;

    pub async fn put_then_get_round_trips_every_json_type<T: Table>(f: Fixture<T>) {
        let every_type = item(
            "acct#1",
            "settings",
            json!({
                "string": "héllo, world",
                "empty_string": "",
                "integer": 42,
                "negative": -7,
                "float": 3.25,
                "big": 9_007_199_254_740_993_u64,
                "true": true,
                "false": false,
                "null": null,
                "list": [1, "two", null, [3], {"four": 4}],
                "empty_list": [],
                "map": {"nested": {"deep": "yes"}, "n": 1.5},
                "empty_map": {},
            }),
        );
        f.table
            .write(vec![put(&every_type, Cond::Always)])
            .await
            .expect("put");
        let got = f.table.get(&every_type.key).await.expect("get");
        assert_eq!(got, Some(every_type));
    }

    pub async fn get_of_a_missing_key_is_none<T: Table>(f: Fixture<T>) {
        let got = f
            .table
            .get(&Key::new("acct#1", "nothing"))
            .await
            .expect("get");
        assert_eq!(got, None);
    }

    pub async fn put_replaces_the_whole_item<T: Table>(f: Fixture<T>) {
        let first = item("acct#1", "a", json!({"x": 1, "y": 2}));
        let second = item("acct#1", "a", json!({"z": 3}));
        f.table
            .write(vec![put(&first, Cond::Always)])
            .await
            .expect("put");
        f.table
            .write(vec![put(&second, Cond::Always)])
            .await
            .expect("put");
        assert_eq!(f.table.get(&first.key).await.expect("get"), Some(second));
    }

    pub async fn not_exists_guards_a_second_put<T: Table>(f: Fixture<T>) {
        let first = item("acct#1", "guard#contact#1", json!({"by": "first"}));
        let second = item("acct#1", "guard#contact#1", json!({"by": "second"}));
        f.table
            .write(vec![put(&first, Cond::NotExists)])
            .await
            .expect("the first put wins");
        let err = f
            .table
            .write(vec![put(&second, Cond::NotExists)])
            .await
            .expect_err("the second put is refused");
        assert_eq!(failed_writes(err), vec![(0, Some(first.clone()))]);
        assert_eq!(f.table.get(&first.key).await.expect("get"), Some(first));
    }

    pub async fn equals_claims_once_and_returns_the_current_item_when_it_fails<T: Table>(
        f: Fixture<T>,
    ) {
        let scheduled = item(
            "acct#1",
            "fu#1",
            json!({"status": "scheduled", "attempt": 1, "channel": "sms"}),
        );
        f.table
            .write(vec![put(&scheduled, Cond::Always)])
            .await
            .expect("put");
        let claim = |by: &str| Write::Put {
            item: item(
                "acct#1",
                "fu#1",
                json!({"status": "sending", "attempt": 1, "channel": "sms", "by": by}),
            ),
            cond: Cond::Equals(vec![
                ("status".into(), json!("scheduled")),
                ("attempt".into(), json!(1)),
            ]),
        };
        f.table
            .write(vec![claim("a")])
            .await
            .expect("the first claim wins");
        let err = f
            .table
            .write(vec![claim("b")])
            .await
            .expect_err("the second claim is refused");
        let claimed = item(
            "acct#1",
            "fu#1",
            json!({"status": "sending", "attempt": 1, "channel": "sms", "by": "a"}),
        );
        assert_eq!(failed_writes(err), vec![(0, Some(claimed.clone()))]);
        assert_eq!(f.table.get(&claimed.key).await.expect("get"), Some(claimed));
    }

    pub async fn equals_on_a_missing_item_fails_without_an_item<T: Table>(f: Fixture<T>) {
        let write = Write::Put {
            item: item("acct#1", "fu#9", json!({"status": "sending"})),
            cond: Cond::Equals(vec![("status".into(), json!("scheduled"))]),
        };
        let err = f.table.write(vec![write]).await.expect_err("refused");
        assert_eq!(failed_writes(err), vec![(0, None)]);
        assert_eq!(
            f.table.get(&Key::new("acct#1", "fu#9")).await.expect("get"),
            None
        );
    }

    pub async fn exists_requires_a_live_item<T: Table>(f: Fixture<T>) {
        let update = item("acct#1", "cfg", json!({"v": 2}));
        let err = f
            .table
            .write(vec![put(&update, Cond::Exists)])
            .await
            .expect_err("no item yet");
        assert_eq!(failed_writes(err), vec![(0, None)]);
        let original = item("acct#1", "cfg", json!({"v": 1}));
        f.table
            .write(vec![put(&original, Cond::Always)])
            .await
            .expect("put");
        f.table
            .write(vec![put(&update, Cond::Exists)])
            .await
            .expect("the item exists now");
        assert_eq!(f.table.get(&update.key).await.expect("get"), Some(update));
    }

    pub async fn delete_obeys_its_condition<T: Table>(f: Fixture<T>) {
        let dnc = item("acct#1", "dnc#+12025550100", json!({"reason": "asked"}));
        f.table
            .write(vec![put(&dnc, Cond::Always)])
            .await
            .expect("put");
        let wrong = Write::Delete {
            key: dnc.key.clone(),
            cond: Cond::Equals(vec![("reason".into(), json!("other"))]),
        };
        let err = f.table.write(vec![wrong]).await.expect_err("refused");
        assert_eq!(failed_writes(err), vec![(0, Some(dnc.clone()))]);
        assert_eq!(f.table.get(&dnc.key).await.expect("get"), Some(dnc.clone()));

        let right = Write::Delete {
            key: dnc.key.clone(),
            cond: Cond::Equals(vec![("reason".into(), json!("asked"))]),
        };
        f.table.write(vec![right]).await.expect("deleted");
        assert_eq!(f.table.get(&dnc.key).await.expect("get"), None);

        let again = Write::Delete {
            key: dnc.key.clone(),
            cond: Cond::Exists,
        };
        let err = f.table.write(vec![again]).await.expect_err("already gone");
        assert_eq!(failed_writes(err), vec![(0, None)]);
        let unconditional = Write::Delete {
            key: dnc.key.clone(),
            cond: Cond::Always,
        };
        f.table
            .write(vec![unconditional])
            .await
            .expect("deleting a missing item unconditionally is fine");
    }

    pub async fn a_failed_transaction_writes_nothing_and_names_the_failed_writes<T: Table>(
        f: Fixture<T>,
    ) {
        let event = item("acct#1", "event#e1", json!({"seen": true}));
        let claimed = item("acct#1", "fu#1", json!({"status": "sending"}));
        f.table
            .write(vec![put(&event, Cond::Always), put(&claimed, Cond::Always)])
            .await
            .expect("seed");

        let new_follow_up = item("acct#1", "fu#2", json!({"status": "scheduled"}));
        let err = f
            .table
            .write(vec![
                put(&new_follow_up, Cond::NotExists),
                put(
                    &item("acct#1", "event#e1", json!({"seen": 2})),
                    Cond::NotExists,
                ),
                Write::Check {
                    key: Key::new("acct#1", "guard#missing"),
                    cond: Cond::NotExists,
                },
                Write::Check {
                    key: claimed.key.clone(),
                    cond: Cond::Equals(vec![("status".into(), json!("scheduled"))]),
                },
                Write::Delete {
                    key: Key::new("acct#1", "nothing"),
                    cond: Cond::Exists,
                },
            ])
            .await
            .expect_err("the transaction is cancelled");
        let mut failed = failed_writes(err);
        failed.sort_by_key(|(i, _)| *i);
        assert_eq!(
            failed,
            vec![
                (1, Some(event.clone())),
                (3, Some(claimed.clone())),
                (4, None)
            ]
        );
        assert_eq!(f.table.get(&new_follow_up.key).await.expect("get"), None);
        assert_eq!(f.table.get(&event.key).await.expect("get"), Some(event));
    }

    pub async fn a_transaction_applies_every_write<T: Table>(f: Fixture<T>) {
        let old = item("acct#1", "fu#old", json!({"status": "done"}));
        let cfg = item("acct#1", "cfg", json!({"v": 1}));
        f.table
            .write(vec![put(&old, Cond::Always), put(&cfg, Cond::Always)])
            .await
            .expect("seed");
        let a = item("acct#1", "fu#a", json!({"n": 1}));
        let b = item("acct#1", "fu#b", json!({"n": 2}));
        f.table
            .write(vec![
                put(&a, Cond::NotExists),
                put(&b, Cond::Always),
                Write::Delete {
                    key: old.key.clone(),
                    cond: Cond::Equals(vec![("status".into(), json!("done"))]),
                },
                Write::Check {
                    key: cfg.key.clone(),
                    cond: Cond::Equals(vec![("v".into(), json!(1.0))]),
                },
                Write::Check {
                    key: Key::new("acct#1", "anything"),
                    cond: Cond::Always,
                },
            ])
            .await
            .expect("every condition holds");
        assert_eq!(f.table.get(&a.key).await.expect("get"), Some(a));
        assert_eq!(f.table.get(&b.key).await.expect("get"), Some(b));
        assert_eq!(f.table.get(&old.key).await.expect("get"), None);
        assert_eq!(f.table.get(&cfg.key).await.expect("get"), Some(cfg));
    }

    pub async fn check_alone_reports_its_condition<T: Table>(f: Fixture<T>) {
        let dnc = item("acct#1", "dnc#+12025550100", json!({}));
        let not_on_dnc = || Write::Check {
            key: dnc.key.clone(),
            cond: Cond::NotExists,
        };
        f.table
            .write(vec![not_on_dnc()])
            .await
            .expect("not on the list yet");
        f.table
            .write(vec![put(&dnc, Cond::Always)])
            .await
            .expect("put");
        let err = f
            .table
            .write(vec![not_on_dnc()])
            .await
            .expect_err("on the list");
        assert_eq!(failed_writes(err), vec![(0, Some(dnc.clone()))]);
        let on_dnc = Write::Check {
            key: dnc.key.clone(),
            cond: Cond::Exists,
        };
        f.table.write(vec![on_dnc]).await.expect("check holds");
        assert_eq!(f.table.get(&dnc.key).await.expect("get"), Some(dnc));
    }

    pub async fn more_than_100_writes_are_refused_and_100_commit<T: Table>(f: Fixture<T>) {
        let writes = |n: usize| -> Vec<Write> {
            (0..n)
                .map(|i| {
                    put(
                        &item("acct#1", &format!("fu#{i:03}"), json!({})),
                        Cond::NotExists,
                    )
                })
                .collect()
        };
        assert_eq!(
            f.table.write(writes(101)).await,
            Err(StoreError::TooManyWrites)
        );
        assert_eq!(
            f.table
                .get(&Key::new("acct#1", "fu#000"))
                .await
                .expect("get"),
            None
        );
        f.table.write(writes(100)).await.expect("100 writes commit");
        let all = query_all_pages(&f.table, &Query::new(Index::Primary, "acct#1"))
            .await
            .expect("query");
        assert_eq!(all.len(), 100);
    }

    pub async fn two_writes_on_one_item_are_refused<T: Table>(f: Fixture<T>) {
        let a = item("acct#1", "x", json!({"n": 1}));
        let result = f
            .table
            .write(vec![
                put(&a, Cond::Always),
                Write::Check {
                    key: a.key.clone(),
                    cond: Cond::NotExists,
                },
            ])
            .await;
        assert!(matches!(result, Err(StoreError::Invalid(_))), "{result:?}");
        assert_eq!(f.table.get(&a.key).await.expect("get"), None);
    }

    pub async fn items_dynamodb_would_refuse_are_refused<T: Table>(f: Fixture<T>) {
        let refused = [
            item("", "x", json!({})),
            item("acct#1", "", json!({})),
            item("acct#1", "x", json!({"pk": "other"})),
            item("acct#1", "x", json!({"gsi1pk": 7, "gsi1sk": "a"})),
            item("acct#1", "x", json!({"gsi2pk": "c", "gsi2sk": ""})),
        ];
        for bad in refused {
            let result = f.table.write(vec![put(&bad, Cond::Always)]).await;
            assert!(
                matches!(result, Err(StoreError::Invalid(_))),
                "{bad:?}: {result:?}"
            );
        }
        let mut both = Query::new(Index::Primary, "acct#1");
        both.sk_prefix = Some("a".into());
        both.sk_from = Some("b".into());
        assert!(matches!(
            f.table.query(&both).await,
            Err(StoreError::Invalid(_))
        ));
    }

    pub async fn gsi1_query_is_ascending_by_due_time_within_the_prefix<T: Table>(f: Fixture<T>) {
        let writes = vec![
            put(
                &follow_up("acct#1", "fu#c", "spring", "2030-01-03", "p1"),
                Cond::Always,
            ),
            put(
                &follow_up("acct#1", "fu#a", "spring", "2030-01-01", "p2"),
                Cond::Always,
            ),
            put(
                &follow_up("acct#1", "fu#b", "spring", "2030-01-02", "p1"),
                Cond::Always,
            ),
            put(
                &follow_up("acct#1", "fu#x", "autumn", "2030-01-01", "p1"),
                Cond::Always,
            ),
            put(
                &follow_up("acct#2", "fu#y", "spring", "2030-01-01", "p1"),
                Cond::Always,
            ),
            put(
                &item(
                    "acct#1#fu",
                    "fu#z",
                    json!({"gsi1pk": "acct#1#campaign#spring", "gsi1sk": "paused#2030"}),
                ),
                Cond::Always,
            ),
        ];
        f.table.write(writes).await.expect("seed");
        let mut query = Query::new(Index::Gsi1, "acct#1#campaign#spring");
        query.sk_prefix = Some("due#".into());
        let page = f.table.query(&query).await.expect("query");
        assert_eq!(keys(&page.items), ["fu#a", "fu#b", "fu#c"]);
        assert_eq!(page.cursor, None);
        assert_eq!(
            page.items[0],
            follow_up("acct#1", "fu#a", "spring", "2030-01-01", "p2"),
            "the index projects the whole item"
        );
    }

    pub async fn gsi2_query_newest_first<T: Table>(f: Fixture<T>) {
        let writes = vec![
            put(
                &follow_up("acct#1", "fu#1", "spring", "2030-01-01", "p1"),
                Cond::Always,
            ),
            put(
                &follow_up("acct#1", "fu#3", "autumn", "2030-03-01", "p1"),
                Cond::Always,
            ),
            put(
                &follow_up("acct#1", "fu#2", "spring", "2030-02-01", "p1"),
                Cond::Always,
            ),
            put(
                &follow_up("acct#1", "fu#4", "spring", "2030-04-01", "p2"),
                Cond::Always,
            ),
        ];
        f.table.write(writes).await.expect("seed");
        let mut query = Query::new(Index::Gsi2, "acct#1#contact#p1");
        query.newest_first = true;
        let page = f.table.query(&query).await.expect("query");
        assert_eq!(keys(&page.items), ["fu#3", "fu#2", "fu#1"]);
    }

    pub async fn sk_from_is_an_inclusive_lower_bound<T: Table>(f: Fixture<T>) {
        let writes = (1..=5)
            .map(|d| {
                put(
                    &follow_up(
                        "acct#1",
                        &format!("fu#{d}"),
                        "c",
                        &format!("2030-01-0{d}"),
                        "p",
                    ),
                    Cond::Always,
                )
            })
            .collect();
        f.table.write(writes).await.expect("seed");
        let mut query = Query::new(Index::Gsi1, "acct#1#campaign#c");
        query.sk_from = Some("due#2030-01-03".into());
        let page = f.table.query(&query).await.expect("query");
        assert_eq!(keys(&page.items), ["fu#3", "fu#4", "fu#5"]);
        query.newest_first = true;
        let page = f.table.query(&query).await.expect("query");
        assert_eq!(keys(&page.items), ["fu#5", "fu#4", "fu#3"]);
    }

    pub async fn primary_query_reads_one_partition<T: Table>(f: Fixture<T>) {
        let writes = vec![
            put(&item("acct#1", "agent#2", json!({})), Cond::Always),
            put(&item("acct#1", "agent#1", json!({})), Cond::Always),
            put(&item("acct#1", "campaign#1", json!({})), Cond::Always),
            put(&item("acct#10", "agent#0", json!({})), Cond::Always),
            put(&item("acct#", "agent#0", json!({})), Cond::Always),
        ];
        f.table.write(writes).await.expect("seed");
        let mut query = Query::new(Index::Primary, "acct#1");
        query.sk_prefix = Some("agent#".into());
        let page = f.table.query(&query).await.expect("query");
        assert_eq!(keys(&page.items), ["agent#1", "agent#2"]);
        query.sk_prefix = None;
        let page = f.table.query(&query).await.expect("query");
        assert_eq!(keys(&page.items), ["agent#1", "agent#2", "campaign#1"]);
    }

    pub async fn pagination_visits_every_item_exactly_once<T: Table>(f: Fixture<T>) {
        // Same due time for several items: the index sort key ties are broken by the
        // item key, and the cursor must not skip or repeat across a tie.
        let writes: Vec<Write> = (0..23)
            .map(|i| {
                put(
                    &item(
                        "acct#1#fu",
                        &format!("fu#{i:02}"),
                        json!({"gsi1pk": "acct#1#campaign#c", "gsi1sk": format!("due#{}", i / 4)}),
                    ),
                    Cond::Always,
                )
            })
            .collect();
        f.table.write(writes).await.expect("seed");
        for newest_first in [false, true] {
            let mut query = Query::new(Index::Gsi1, "acct#1#campaign#c");
            query.limit = 5;
            query.newest_first = newest_first;
            let mut seen: Vec<(String, String)> = Vec::new();
            let mut pages = 0;
            loop {
                let page = f.table.query(&query).await.expect("query");
                pages += 1;
                assert!(page.items.len() <= 5);
                seen.extend(page.items.iter().map(|i| {
                    let due = i.attrs["gsi1sk"].as_str().unwrap_or_default().to_owned();
                    (due, i.key.sk.clone())
                }));
                match page.cursor {
                    Some(cursor) => query.cursor = Some(cursor),
                    None => break,
                }
            }
            assert_eq!(pages, 5);
            let dues: Vec<&str> = seen.iter().map(|(due, _)| due.as_str()).collect();
            let mut ordered = dues.clone();
            ordered.sort();
            if newest_first {
                ordered.reverse();
            }
            assert_eq!(dues, ordered, "pages are in index order");
            let mut ids: Vec<&str> = seen.iter().map(|(_, id)| id.as_str()).collect();
            ids.sort();
            let all: Vec<String> = (0..23).map(|i| format!("fu#{i:02}")).collect();
            assert_eq!(
                ids, all,
                "every item exactly once (newest_first: {newest_first})"
            );
        }
    }

    pub async fn a_full_last_page_has_no_cursor<T: Table>(f: Fixture<T>) {
        let writes = (0..6)
            .map(|i| put(&item("acct#1", &format!("x#{i}"), json!({})), Cond::Always))
            .collect();
        f.table.write(writes).await.expect("seed");
        let mut query = Query::new(Index::Primary, "acct#1");
        query.limit = 3;
        let first = f.table.query(&query).await.expect("query");
        assert_eq!(keys(&first.items), ["x#0", "x#1", "x#2"]);
        query.cursor = Some(first.cursor.expect("a second page"));
        let second = f.table.query(&query).await.expect("query");
        assert_eq!(keys(&second.items), ["x#3", "x#4", "x#5"]);
        assert_eq!(second.cursor, None);
    }

    pub async fn page_size_is_capped_at_100<T: Table>(f: Fixture<T>) {
        for batch in 0..2 {
            let writes = (0..60)
                .map(|i| {
                    put(
                        &item("acct#1", &format!("x#{batch}{i:02}"), json!({})),
                        Cond::Always,
                    )
                })
                .collect();
            f.table.write(writes).await.expect("seed");
        }
        let mut query = Query::new(Index::Primary, "acct#1");
        query.limit = 1000;
        let page = f.table.query(&query).await.expect("query");
        assert_eq!(page.items.len(), 100);
        assert!(page.cursor.is_some());
        query.limit = 0;
        let page = f.table.query(&query).await.expect("query");
        assert_eq!(page.items.len(), 1, "a zero limit reads one item");
    }

    pub async fn a_cursor_for_another_partition_or_index_is_refused<T: Table>(f: Fixture<T>) {
        let writes = (0..4)
            .flat_map(|i| {
                [
                    put(
                        &follow_up("acct#1", &format!("fu#{i}"), "c", "2030", "p"),
                        Cond::Always,
                    ),
                    put(
                        &follow_up("acct#2", &format!("fu#{i}"), "c", "2030", "p"),
                        Cond::Always,
                    ),
                ]
            })
            .collect();
        f.table.write(writes).await.expect("seed");
        let mut mine = Query::new(Index::Gsi1, "acct#1#campaign#c");
        mine.limit = 2;
        let cursor = f
            .table
            .query(&mine)
            .await
            .expect("query")
            .cursor
            .expect("more");

        let theirs = Query {
            cursor: Some(cursor.clone()),
            ..Query::new(Index::Gsi1, "acct#2#campaign#c")
        };
        assert_eq!(f.table.query(&theirs).await, Err(StoreError::BadCursor));
        let other_index = Query {
            cursor: Some(cursor.clone()),
            ..Query::new(Index::Gsi2, "acct#1#campaign#c")
        };
        assert_eq!(
            f.table.query(&other_index).await,
            Err(StoreError::BadCursor)
        );
        for garbage in ["", "%%%", "eyJ4IjoxfQ", &format!("{cursor}x")] {
            let bad = Query {
                cursor: Some(garbage.into()),
                ..Query::new(Index::Gsi1, "acct#1#campaign#c")
            };
            assert_eq!(
                f.table.query(&bad).await,
                Err(StoreError::BadCursor),
                "{garbage}"
            );
        }
        mine.cursor = Some(cursor);
        let next = f.table.query(&mine).await.expect("the owner can use it");
        assert_eq!(next.items.len(), 2);
        assert!(next.items.iter().all(|i| i.key.pk == "acct#1#fu"));
    }

    pub async fn indexes_are_sparse_and_follow_the_item<T: Table>(f: Fixture<T>) {
        let indexed = follow_up("acct#1", "fu#1", "c", "2030", "p");
        let half = item("acct#1#fu", "fu#2", json!({"gsi1pk": "acct#1#campaign#c"}));
        let plain = item("acct#1#fu", "fu#3", json!({"status": "draft"}));
        f.table
            .write(vec![
                put(&indexed, Cond::Always),
                put(&half, Cond::Always),
                put(&plain, Cond::Always),
            ])
            .await
            .expect("seed");
        let campaign = Query::new(Index::Gsi1, "acct#1#campaign#c");
        let contact = Query::new(Index::Gsi2, "acct#1#contact#p");
        assert_eq!(
            keys(&f.table.query(&campaign).await.expect("q").items),
            ["fu#1"]
        );
        assert_eq!(
            keys(&f.table.query(&contact).await.expect("q").items),
            ["fu#1"]
        );

        // Moving the item to another campaign and dropping its contact view.
        let moved = item(
            "acct#1#fu",
            "fu#1",
            json!({"gsi1pk": "acct#1#campaign#d", "gsi1sk": "due#2031"}),
        );
        f.table
            .write(vec![put(&moved, Cond::Exists)])
            .await
            .expect("put");
        assert!(f.table.query(&campaign).await.expect("q").items.is_empty());
        assert!(f.table.query(&contact).await.expect("q").items.is_empty());
        let other = Query::new(Index::Gsi1, "acct#1#campaign#d");
        assert_eq!(
            f.table.query(&other).await.expect("q").items,
            std::slice::from_ref(&moved)
        );

        f.table
            .write(vec![Write::Delete {
                key: moved.key.clone(),
                cond: Cond::Always,
            }])
            .await
            .expect("delete");
        assert!(f.table.query(&other).await.expect("q").items.is_empty());
    }

    pub async fn expired_items_are_absent<T: Table>(f: Fixture<T>) {
        let now = f.now.load(Ordering::SeqCst);
        let idempotency = item(
            "acct#1",
            "event#e1",
            json!({"expires_at": now + 60, "gsi1pk": "acct#1#events", "gsi1sk": "e1"}),
        );
        let live = item("acct#1", "event#e2", json!({"expires_at": now + 600}));
        let forever = item("acct#1", "event#e3", json!({"expires_at": "not a number"}));
        f.table
            .write(vec![
                put(&idempotency, Cond::NotExists),
                put(&live, Cond::NotExists),
                put(&forever, Cond::NotExists),
            ])
            .await
            .expect("seed");
        let err = f
            .table
            .write(vec![put(&idempotency, Cond::NotExists)])
            .await
            .expect_err("not expired yet");
        assert_eq!(failed_writes(err), vec![(0, Some(idempotency.clone()))]);

        f.now.store(now + 61, Ordering::SeqCst);
        assert_eq!(f.table.get(&idempotency.key).await.expect("get"), None);
        let all = Query::new(Index::Primary, "acct#1");
        assert_eq!(
            keys(&f.table.query(&all).await.expect("q").items),
            ["event#e2", "event#e3"]
        );
        let index = Query::new(Index::Gsi1, "acct#1#events");
        assert!(f.table.query(&index).await.expect("q").items.is_empty());
        let mut paged = all.clone();
        paged.limit = 1;
        let first = f.table.query(&paged).await.expect("q");
        assert_eq!(keys(&first.items), ["event#e2"]);

        for cond in [
            Cond::Exists,
            Cond::Equals(vec![("gsi1sk".into(), json!("e1"))]),
        ] {
            let err = f
                .table
                .write(vec![Write::Check {
                    key: idempotency.key.clone(),
                    cond,
                }])
                .await
                .expect_err("an expired item does not exist");
            assert_eq!(failed_writes(err), vec![(0, None)]);
        }
        let again = item("acct#1", "event#e1", json!({"expires_at": now + 1000}));
        f.table
            .write(vec![put(&again, Cond::NotExists)])
            .await
            .expect("an expired key can be written again");
        assert_eq!(f.table.get(&again.key).await.expect("get"), Some(again));
    }

    pub async fn ten_concurrent_not_exists_puts_have_one_winner<T: Table + 'static>(f: Fixture<T>) {
        let table = Arc::new(f.table);
        let mut tasks = tokio::task::JoinSet::new();
        for n in 0..10 {
            let table = Arc::clone(&table);
            tasks.spawn(async move {
                let guard = item("acct#1", "guard#call#c1", json!({"by": n}));
                table.write(vec![put(&guard, Cond::NotExists)]).await
            });
        }
        let mut won = 0;
        let mut lost = 0;
        while let Some(result) = tasks.join_next().await {
            match result.expect("task") {
                Ok(()) => won += 1,
                Err(StoreError::ConditionFailed { failed }) => {
                    assert!(matches!(failed.as_slice(), [(0, Some(_))]), "{failed:?}");
                    lost += 1;
                }
                Err(other) => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!((won, lost), (1, 9));
    }
}
