//! Channel senders: how a due follow-up leaves the building.
//!
//! One port, [`Sender`], takes an [`Outbound`] message and either returns the provider's
//! id for it or a [`SendError`] that says whether trying again is safe. It is implemented
//! for SMS (SNS), email (SESv2), WhatsApp (Meta Cloud API), follow-up calls (the voice
//! platform's outbound-call API) and, for the local runtime and tests, the [`Outbox`],
//! which records what would have been sent.
//!
//! The executor owns the follow-up's state; this crate only sends. It never resends
//! something the provider may already have accepted: such failures come back as
//! [`SendError::Unknown`] for the executor to surface.

mod aws;
mod call;
mod email;
mod error;
mod http;
pub mod mailbox;
mod message;
mod outbox;
mod platform_call;
mod retry;
mod secret_store;
mod secrets;
mod sms;
mod whatsapp;

use std::sync::Arc;

use chrono::{DateTime, Utc};

pub use call::VoiceCall;
pub use email::{SesEmail, from_header};
pub use error::SendError;
pub use http::DEFAULT_HTTP_TIMEOUT;
pub use message::{
    EmailContent, EmailIdentity, EmailKind, Outbound, PlatformTarget, Sent, SmsIdentity,
};
pub use outbox::{Outbox, OutboxEntry};
pub use platform_call::{KeyName, PlatformApis, PlatformCalls, PlatformLookup};
pub use retry::RetryPolicy;
pub use secret_store::{
    FileSecretStore, MemorySecretStore, NoSecretStore, SecretStore, SsmSecretStore,
};
pub use secrets::{DEFAULT_SECRET_TTL, Secret, SecretSource, SsmSecrets, StaticSecrets};
pub use sms::SnsSms;
pub use whatsapp::{DEFAULT_GRAPH_API_VERSION, DEFAULT_GRAPH_URL, WhatsAppCloud};

/// The time as the caller sees it: the wall clock in Lambda, the movable clock of the
/// local runtime.
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// The wall clock.
pub fn system_clock() -> Clock {
    Arc::new(Utc::now)
}

/// Sends one follow-up message through one channel.
#[async_trait::async_trait]
pub trait Sender: Send + Sync {
    /// Sends `message`, retrying internally only what is safe to retry.
    async fn send(&self, message: &Outbound) -> Result<Sent, SendError>;

    /// Sends `message` for the account whose follow-up it is. Providers need not know
    /// the account; the local [`Outbox`] records it, so each account sees only its own
    /// messages.
    async fn send_for(&self, account_id: &str, message: &Outbound) -> Result<Sent, SendError> {
        let _ = account_id;
        self.send(message).await
    }
}
