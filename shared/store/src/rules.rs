//! The semantics both tables share and check before touching storage, so that a
//! request DynamoDB would refuse is refused the same way by the embedded table, and the
//! DynamoDB answer never depends on what the emulator happens to validate.

use std::collections::HashSet;

use serde_json::Value;

use crate::{Attrs, Cond, EXPIRES_AT, Index, Item, MAX_PAGE, MAX_WRITES, Query, StoreError, Write};

/// DynamoDB's limits on key attribute sizes, in UTF-8 bytes.
const MAX_PK_BYTES: usize = 2048;
const MAX_SK_BYTES: usize = 1024;

/// Refuses what DynamoDB would refuse, before any I/O.
pub(crate) fn check_writes(writes: &[Write]) -> Result<(), StoreError> {
    if writes.len() > MAX_WRITES {
        return Err(StoreError::TooManyWrites);
    }
    let mut seen = HashSet::new();
    for (i, write) in writes.iter().enumerate() {
        let key = write.key();
        check_key_part("pk", &key.pk, MAX_PK_BYTES)?;
        check_key_part("sk", &key.sk, MAX_SK_BYTES)?;
        if !seen.insert(key) {
            return Err(StoreError::Invalid(format!(
                "write {i}: two writes on one item ({}, {})",
                key.pk, key.sk
            )));
        }
        if let Write::Put { item, .. } = write {
            check_attrs(&item.attrs)?;
        }
        if let Cond::Equals(pairs) = write.cond()
            && pairs.iter().any(|(name, _)| name.is_empty())
        {
            return Err(StoreError::Invalid(format!(
                "write {i}: empty attribute name in a condition"
            )));
        }
    }
    Ok(())
}

fn check_key_part(name: &str, value: &str, max: usize) -> Result<(), StoreError> {
    if value.is_empty() {
        return Err(StoreError::Invalid(format!("empty {name}")));
    }
    if value.len() > max {
        return Err(StoreError::Invalid(format!(
            "{name} longer than {max} bytes"
        )));
    }
    Ok(())
}

fn check_attrs(attrs: &Attrs) -> Result<(), StoreError> {
    for name in ["pk", "sk"] {
        if attrs.contains_key(name) {
            return Err(StoreError::Invalid(format!(
                "`{name}` is the key, not an attribute"
            )));
        }
    }
    for index in [Index::Gsi1, Index::Gsi2] {
        let (pk, sk) = index.key_attrs();
        for (name, max) in [(pk, MAX_PK_BYTES), (sk, MAX_SK_BYTES)] {
            match attrs.get(name) {
                None => {}
                Some(Value::String(s)) => check_key_part(name, s, max)?,
                Some(_) => {
                    return Err(StoreError::Invalid(format!(
                        "index attribute `{name}` must be a string"
                    )));
                }
            }
        }
    }
    Ok(())
}

pub(crate) fn check_query(query: &Query) -> Result<(), StoreError> {
    if query.sk_prefix.is_some() && query.sk_from.is_some() {
        return Err(StoreError::Invalid(
            "a query takes sk_prefix or sk_from, not both".into(),
        ));
    }
    check_key_part("query pk", &query.pk, MAX_PK_BYTES)
}

/// The page size actually used.
pub(crate) fn page_size(query: &Query) -> usize {
    query.limit.clamp(1, MAX_PAGE) as usize
}

/// The item's key in `index`, when it is in it.
pub(crate) fn index_key(index: Index, item: &Item) -> Option<(&str, &str)> {
    match index {
        Index::Primary => Some((&item.key.pk, &item.key.sk)),
        Index::Gsi1 | Index::Gsi2 => {
            let (pk, sk) = index.key_attrs();
            match (item.attrs.get(pk), item.attrs.get(sk)) {
                (Some(Value::String(pk)), Some(Value::String(sk))) => Some((pk, sk)),
                _ => None,
            }
        }
    }
}

/// Whether the TTL has passed: `expires_at` is a number before `now`, the same test
/// as the condition `expires_at < :now` on DynamoDB.
pub(crate) fn is_expired(attrs: &Attrs, now: i64) -> bool {
    attrs
        .get(EXPIRES_AT)
        .and_then(Value::as_f64)
        .is_some_and(|at| at < now as f64)
}

/// The item as reads see it: absent once expired.
pub(crate) fn live(item: Option<Item>, now: i64) -> Option<Item> {
    item.filter(|item| !is_expired(&item.attrs, now))
}

/// Whether `cond` holds for the live current item.
pub(crate) fn holds(cond: &Cond, current: Option<&Item>) -> bool {
    match cond {
        Cond::Always => true,
        Cond::NotExists => current.is_none(),
        Cond::Exists => current.is_some(),
        Cond::Equals(pairs) => current.is_some_and(|item| {
            pairs.iter().all(|(name, want)| {
                item.attrs
                    .get(name)
                    .is_some_and(|have| same_value(have, want))
            })
        }),
    }
}

/// DynamoDB's `=`: numbers by value, lists and maps element by element.
pub(crate) fn same_value(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(a), Value::Number(b)) => match (a.as_i64(), b.as_i64()) {
            (Some(a), Some(b)) => a == b,
            _ => match (a.as_u64(), b.as_u64()) {
                (Some(a), Some(b)) => a == b,
                _ => a.as_f64() == b.as_f64(),
            },
        },
        (Value::Array(a), Value::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(a, b)| same_value(a, b))
        }
        (Value::Object(a), Value::Object(b)) => {
            a.len() == b.len()
                && a.iter()
                    .all(|(k, v)| b.get(k).is_some_and(|w| same_value(v, w)))
        }
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::Key;

    fn put(pk: &str, attrs: Value) -> Write {
        let Value::Object(attrs) = attrs else {
            panic!("attrs must be an object")
        };
        Write::Put {
            item: Item::new(Key::new(pk, "s"), attrs),
            cond: Cond::Always,
        }
    }

    #[test]
    fn numbers_compare_by_value() {
        assert!(same_value(&json!(1), &json!(1.0)));
        assert!(same_value(
            &json!({"a": [1, 2.5]}),
            &json!({"a": [1.0, 2.5]})
        ));
        assert!(!same_value(&json!(1), &json!("1")));
    }

    #[test]
    fn requests_dynamodb_refuses_are_refused() {
        let refused = [
            vec![put("", json!({}))],
            vec![put("a", json!({"pk": "x"}))],
            vec![put("a", json!({"gsi1pk": 3, "gsi1sk": "x"}))],
            vec![put("a", json!({"gsi2sk": ""}))],
            vec![put("a", json!({})), put("a", json!({}))],
        ];
        for writes in refused {
            assert!(
                matches!(check_writes(&writes), Err(StoreError::Invalid(_))),
                "{writes:?}"
            );
        }
        assert!(check_writes(&[put("a", json!({"gsi1pk": "c", "x": null}))]).is_ok());
    }

    #[test]
    fn only_a_past_numeric_expires_at_expires() {
        let attrs = |v: Value| match json!({ "expires_at": v }) {
            Value::Object(m) => m,
            _ => unreachable!(),
        };
        assert!(is_expired(&attrs(json!(99)), 100));
        assert!(!is_expired(&attrs(json!(100)), 100));
        assert!(!is_expired(&attrs(json!("99")), 100));
        assert!(!is_expired(&Attrs::new(), 100));
    }
}
