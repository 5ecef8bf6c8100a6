//! The crate's error: invalid input ([`ValidationErrors`]) or a follow-up that cannot be
//! rendered.

pub use crate::fields::{FieldError, ValidationErrors};
use crate::vocabulary::Reason;

/// The policy crate's error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// Input (settings, webhook body, operator input) is not valid.
    #[error(transparent)]
    Invalid(#[from] ValidationErrors),
    /// A stored follow-up cannot be turned into a message with the current settings (the
    /// settings changed after the decision, or the follow-up is for another channel).
    /// Permanent: retrying does not help, the follow-up should end `failed` with `reason`.
    #[error("follow-up cannot be rendered ({}): {detail}", .reason.as_str())]
    NotRenderable { reason: Reason, detail: String },
}

impl Error {
    pub(crate) fn not_renderable(reason: Reason, detail: impl Into<String>) -> Self {
        Self::NotRenderable {
            reason,
            detail: detail.into(),
        }
    }
}
