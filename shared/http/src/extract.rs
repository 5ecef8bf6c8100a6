//! Request pieces with problem+json rejections: a bounded raw body, a JSON body, the
//! `If-Match` version, and list query parameters.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use serde_json::Value;

use crate::problem::Problem;

/// The largest request body any route accepts (`WEBHOOK_MAX_BODY_BYTES` may lower it
/// for the webhook). Bigger bodies get 413 before anything is parsed.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// The raw body, at most [`MAX_BODY_BYTES`] (see `DefaultBodyLimit` in the router).
pub struct RawBody(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for RawBody {
    type Rejection = Problem;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        Bytes::from_request(request, state)
            .await
            .map(RawBody)
            .map_err(|rejection| {
                if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    Problem::new(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        format!("the body is larger than the limit of {MAX_BODY_BYTES} bytes"),
                    )
                } else {
                    Problem::new(rejection.status(), rejection.body_text())
                }
            })
    }
}

/// A JSON body; malformed JSON is a 400 naming `body`.
pub struct JsonBody(pub Value);

impl<S: Send + Sync> FromRequest<S> for JsonBody {
    type Rejection = Problem;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let RawBody(bytes) = RawBody::from_request(request, state).await?;
        serde_json::from_slice(&bytes)
            .map(JsonBody)
            .map_err(|e| Problem::field("body", format!("malformed JSON: {e}")))
    }
}

/// The version named by `If-Match` (`"v3"`), if any. `*` means "whatever exists".
pub struct IfMatch(pub Option<u64>);

impl<S: Send + Sync> FromRequestParts<S> for IfMatch {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let Some(raw) = parts.headers.get(header::IF_MATCH) else {
            return Ok(IfMatch(None));
        };
        let text = raw.to_str().unwrap_or_default().trim();
        if text == "*" {
            return Ok(IfMatch(None));
        }
        text.trim_start_matches("W/")
            .trim_matches('"')
            .strip_prefix('v')
            .and_then(|v| v.parse().ok())
            .map(|v| IfMatch(Some(v)))
            .ok_or_else(|| {
                Problem::field("If-Match", "must be an ETag this API gave out, like \"v3\"")
            })
    }
}

/// The ETag of a version.
pub fn etag(version: u64) -> HeaderMap {
    let mut headers = HeaderMap::new();
    if let Ok(value) = HeaderValue::from_str(&format!("\"v{version}\"")) {
        headers.insert(header::ETAG, value);
    }
    headers
}

/// `?cursor=&limit=&status=&channel=` of list routes. Unknown or repeated parameters
/// are a 400 naming them.
#[derive(Debug, Default)]
pub struct PageQuery {
    pub cursor: Option<String>,
    pub limit: Option<String>,
    pub status: Option<String>,
    pub channel: Option<String>,
}

impl<S: Send + Sync> FromRequestParts<S> for PageQuery {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let axum::extract::Query(pairs) =
            axum::extract::Query::<Vec<(String, String)>>::from_request_parts(parts, state)
                .await
                .map_err(|e| Problem::field("query", e.body_text()))?;
        let mut query = PageQuery::default();
        for (name, value) in pairs {
            let slot = match name.as_str() {
                "cursor" => &mut query.cursor,
                "limit" => &mut query.limit,
                "status" => &mut query.status,
                "channel" => &mut query.channel,
                _ => return Err(Problem::field(name, "is not a parameter of this list")),
            };
            if slot.replace(value).is_some() {
                return Err(Problem::field(name, "is given more than once"));
            }
        }
        Ok(query)
    }
}

impl PageQuery {
    pub fn limit(&self) -> Result<Option<u32>, Problem> {
        self.limit
            .as_deref()
            .map(|l| {
                l.parse::<u32>()
                    .ok()
                    .filter(|l| (1..=100).contains(l))
                    .ok_or_else(|| Problem::field("limit", "must be a whole number from 1 to 100"))
            })
            .transpose()
    }
}
