//! What a provider reports after it accepted a message: WhatsApp's status webhooks
//! (sent, delivered, read, failed with Meta's error code), recorded on the attempt
//! they are about. A status names its attempt through the callback data the executor
//! gave Meta with the message, and must match the provider id stored on it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::FollowUpId;

/// A message's state at the provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    Sent,
    Delivered,
    Read,
    Failed,
}

impl DeliveryState {
    /// Meta's `status` value; anything else (e.g. `deleted`, `warning`) is not recorded.
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "sent" => Some(Self::Sent),
            "delivered" => Some(Self::Delivered),
            "read" => Some(Self::Read),
            "failed" => Some(Self::Failed),
            _ => None,
        }
    }
}

/// One status report of the provider about one attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    pub state: DeliveryState,
    /// When the provider says it happened.
    pub at: DateTime<Utc>,
    /// The provider's error code (Meta's `errors[].code`), on `failed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The text given to Meta as `biz_opaque_callback_data`: follow-up and attempt.
pub fn whatsapp_callback_data(id: &FollowUpId, attempt: u32) -> String {
    format!("{id}:{attempt}")
}

/// The follow-up and attempt a callback text names; `None` for anything else.
pub fn parse_callback_data(raw: &str) -> Option<(FollowUpId, u32)> {
    let (id, attempt) = raw.rsplit_once(':')?;
    let id = FollowUpId::parse("biz_opaque_callback_data", id).ok()?;
    Some((id, attempt.parse().ok()?))
}

/// Longest error text kept from a provider.
pub(crate) const MAX_ERROR_CHARS: usize = 300;
