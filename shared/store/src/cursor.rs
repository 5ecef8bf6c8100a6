//! Page cursors: the position of the last item a page returned, as base64url JSON,
//! bound to the index and partition it was issued for. Both tables use this one format.
//!
//! A cursor is not signed: it cannot widen a query, because the partition comes from
//! the query (which the caller builds from the authenticated account) and a cursor
//! naming another partition or index is refused.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use crate::{Index, Item, Query, StoreError, rules};

/// Longest cursor accepted: two keys at DynamoDB's size limits, encoded.
const MAX_CURSOR_CHARS: usize = 16 * 1024;

/// Where a page stopped: the last item's key in the queried index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Position {
    /// The item's primary key.
    pub pk: String,
    pub sk: String,
    /// The item's sort key in the queried index (equal to `sk` for the primary index).
    pub index_sk: String,
}

#[derive(Serialize, Deserialize)]
struct Body {
    /// Index: "p", "1" or "2".
    i: String,
    /// The queried partition.
    p: String,
    k: String,
    s: String,
    /// Sort key in a secondary index.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    g: Option<String>,
}

fn index_tag(index: Index) -> &'static str {
    match index {
        Index::Primary => "p",
        Index::Gsi1 => "1",
        Index::Gsi2 => "2",
    }
}

/// The cursor after `last`, an item the query returned.
pub(crate) fn encode(query: &Query, last: &Item) -> Result<String, StoreError> {
    let index_sk = rules::index_key(query.index, last)
        .map(|(_, sk)| sk.to_owned())
        .ok_or_else(|| StoreError::Corrupt("a returned item is not in its index".into()))?;
    let body = Body {
        i: index_tag(query.index).into(),
        p: query.pk.clone(),
        k: last.key.pk.clone(),
        s: last.key.sk.clone(),
        g: (query.index != Index::Primary).then_some(index_sk),
    };
    let json = serde_json::to_vec(&body).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    Ok(URL_SAFE_NO_PAD.encode(json))
}

/// The position in `query.cursor`, if any; `BadCursor` unless it was issued for the
/// same index and partition.
pub(crate) fn decode(query: &Query) -> Result<Option<Position>, StoreError> {
    let Some(cursor) = &query.cursor else {
        return Ok(None);
    };
    if cursor.len() > MAX_CURSOR_CHARS {
        return Err(StoreError::BadCursor);
    }
    let json = URL_SAFE_NO_PAD
        .decode(cursor)
        .map_err(|_| StoreError::BadCursor)?;
    let body: Body = serde_json::from_slice(&json).map_err(|_| StoreError::BadCursor)?;
    if body.i != index_tag(query.index) || body.p != query.pk {
        return Err(StoreError::BadCursor);
    }
    let index_sk = match (query.index, body.g) {
        (Index::Primary, None) if body.k == body.p => body.s.clone(),
        (Index::Gsi1 | Index::Gsi2, Some(g)) => g,
        _ => return Err(StoreError::BadCursor),
    };
    Ok(Some(Position {
        pk: body.k,
        sk: body.s,
        index_sk,
    }))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::Key;

    fn item() -> Item {
        let serde_json::Value::Object(attrs) = json!({"gsi1pk": "c#1", "gsi1sk": "2030"}) else {
            unreachable!()
        };
        Item::new(Key::new("a#1", "f#1"), attrs)
    }

    #[test]
    fn a_cursor_round_trips_for_its_own_query_only() {
        let mut query = Query::new(Index::Gsi1, "c#1");
        let cursor = encode(&query, &item()).expect("encodes");
        assert!(
            cursor
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        query.cursor = Some(cursor.clone());
        assert_eq!(
            decode(&query).expect("decodes"),
            Some(Position {
                pk: "a#1".into(),
                sk: "f#1".into(),
                index_sk: "2030".into()
            })
        );
        for other in [
            Query::new(Index::Gsi1, "c#2"),
            Query::new(Index::Gsi2, "c#1"),
        ] {
            let other = Query {
                cursor: Some(cursor.clone()),
                ..other
            };
            assert_eq!(decode(&other), Err(StoreError::BadCursor));
        }
        let garbage = Query {
            cursor: Some("not a cursor!".into()),
            ..Query::new(Index::Gsi1, "c#1")
        };
        assert_eq!(decode(&garbage), Err(StoreError::BadCursor));
    }
}
