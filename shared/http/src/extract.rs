//! Request pieces with problem+json rejections: a bounded raw body, a JSON body, the
//! `If-Match` version, list query parameters, and path ids parsed into the policy's
//! types, so the engine is handed typed values only.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use policy::{
    AgentId, CampaignId, Channel, ContactId, Destination, FollowUpId, MailboxId, Status,
    ValidationErrors,
};
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

    /// The `status` filter of a follow-up list, if any.
    pub fn status(&self) -> Result<Option<Status>, Problem> {
        self.status
            .as_deref()
            .map(|raw| Status::parse("status", raw))
            .transpose()
            .map_err(|e| ValidationErrors::from(e).into())
    }

    /// The `channel` filter of a follow-up list, if any.
    pub fn channel(&self) -> Result<Option<Channel>, Problem> {
        self.channel
            .as_deref()
            .map(|raw| Channel::parse("channel", raw))
            .transpose()
            .map_err(|e| ValidationErrors::from(e).into())
    }
}

/// A value of the request path (`/v1/agents/{agent_id}`…) parsed into its policy type.
/// An unparseable value is a 400 naming the field, except where the type says
/// otherwise (an id no follow-up can have is simply not found).
pub struct PathId<T>(pub T);

/// How a path value is parsed, and what an unparseable one answers.
pub trait PathParam: Sized {
    fn from_path(raw: &str) -> Result<Self, Problem>;
}

impl<T: PathParam, S: Send + Sync> FromRequestParts<S> for PathId<T> {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Path(raw) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|rejection| Problem::new(rejection.status(), rejection.body_text()))?;
        T::from_path(&raw).map(PathId)
    }
}

macro_rules! path_param {
    ($($type:ty => $field:literal),* $(,)?) => {$(
        impl PathParam for $type {
            fn from_path(raw: &str) -> Result<Self, Problem> {
                <$type>::parse($field, raw).map_err(|e| ValidationErrors::from(e).into())
            }
        }
    )*};
}

path_param! {
    AgentId => "agent_id",
    CampaignId => "campaign_id",
    ContactId => "contact_id",
    Destination => "phone_or_email",
    MailboxId => "mailbox_id",
}

impl PathParam for FollowUpId {
    fn from_path(raw: &str) -> Result<Self, Problem> {
        FollowUpId::parse("followup_id", raw)
            .map_err(|_| Problem::new(StatusCode::NOT_FOUND, "follow-up not found"))
    }
}

/// Both parts of a request, or every invalid field of both (the path's first), so a
/// client fixes them in one go. A part that failed otherwise (404, 413…) wins as is.
pub fn both<A, B>(
    first: Result<A, Problem>,
    second: Result<B, impl Into<Problem>>,
) -> Result<(A, B), Problem> {
    match (first, second.map_err(Into::into)) {
        (Ok(a), Ok(b)) => Ok((a, b)),
        (Err(mut e1), Err(e2)) if is_validation(&e1) && is_validation(&e2) => {
            e1.errors.extend(e2.errors);
            Err(e1)
        }
        (Err(e), _) | (_, Err(e)) => Err(e),
    }
}

fn is_validation(problem: &Problem) -> bool {
    problem.status() == StatusCode::BAD_REQUEST && !problem.errors.is_empty()
}
