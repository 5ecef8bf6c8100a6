//! The engine's use cases, between the HTTP edge / Lambda events and the policy:
//! a webhook becomes stored follow-ups ([`webhook`]), stored changes become schedules
//! ([`dispatch`]), due follow-ups become messages ([`execute`]), and operators
//! configure and inspect it all ([`operations`]). Everything here talks to the world
//! through ports: the [`store::Table`], [`scheduling::Schedules`], [`channels::Sender`]
//! and [`clock::Clock`], so the same code runs in Lambda, locally and in tests.

pub mod answer;
pub mod aws;
pub mod cache;
pub mod clock;
pub mod config;
pub mod config_mailboxes;
pub mod dispatch;
pub mod error;
pub mod execute;
pub mod inbound;
mod learning;
pub mod mailboxes;
pub mod meta_webhook;
pub mod metrics;
pub mod operations;
pub mod optout;
pub mod parked;
pub mod platforms;
pub mod records;
pub mod repository;
pub mod sealing;
pub mod signature;
pub mod telemetry;
pub mod unsubscribe;
pub mod webhook;

use std::sync::Arc;

pub use answer::{CallAnswer, DecidedFollowUp, DecisionKind};
pub use error::ServiceError;
pub use optout::OptedOut;
pub use repository::{DncEntry, Listing, Repository, StoredSecret};

use clock::Clock;

/// The webhook and operator use cases share this: the records and the clock.
pub struct Engine {
    pub repo: Arc<Repository>,
    pub clock: Arc<dyn Clock>,
    /// Connected mailboxes (OAuth clients and the sealer); `None` where not configured.
    pub mailboxes: Option<Arc<mailboxes::Mailboxes>>,
    /// Voice platforms' API keys and webhook secrets (SSM on AWS, files locally).
    pub platform_secrets: platforms::PlatformSecrets,
}

impl Engine {
    pub fn new(repo: Arc<Repository>, clock: Arc<dyn Clock>) -> Self {
        Self {
            repo,
            clock,
            mailboxes: None,
            platform_secrets: platforms::PlatformSecrets::none(),
        }
    }

    pub fn with_mailboxes(mut self, mailboxes: Arc<mailboxes::Mailboxes>) -> Self {
        self.mailboxes = Some(mailboxes);
        self
    }

    /// Where platform keys and secrets are written and read.
    pub fn with_platform_secrets(mut self, secrets: platforms::PlatformSecrets) -> Self {
        self.platform_secrets = secrets;
        self
    }
}

/// The follow-up after `event`, by the policy's state machine. The caller read the
/// follow-up and checked its state just before, so a refusal is a bug, not a race.
pub(crate) fn step(
    followup: &policy::FollowUp,
    event: policy::lifecycle::Event,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<policy::FollowUp, ServiceError> {
    policy::lifecycle::apply(followup, event, now)
        .map_err(|refused| ServiceError::Internal(format!("follow-up {}: {refused}", followup.id)))
}

/// A new follow-up id: time-ordered, so ids sort roughly by creation.
pub fn new_followup_id() -> policy::FollowUpId {
    let id = format!("fu_{}", uuid::Uuid::now_v7().simple());
    policy::FollowUpId::parse("followup_id", &id).expect("fu_ + hex is a valid id")
}
