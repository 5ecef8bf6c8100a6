//! The crate's errors. Validation failures are collected, never reported one at a time,
//! so an operator fixing a settings form sees every problem at once.

use serde::Serialize;

use crate::followup::Reason;

/// One invalid field: `field` is a dotted path into the input (`call.outcome`,
/// `allowed_hours.start`, `whatsapp.template.parameters[1]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// Every field error found in one input (never empty when returned as an error).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(transparent)]
#[error("invalid input: {}", display_list(.0))]
pub struct ValidationErrors(pub Vec<FieldError>);

fn display_list(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

impl ValidationErrors {
    pub fn single(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self(vec![FieldError::new(field, message)])
    }

    pub fn errors(&self) -> &[FieldError] {
        &self.0
    }

    /// Whether some error concerns `field` (handy in tests and API mappings).
    pub fn has_field(&self, field: &str) -> bool {
        self.0.iter().any(|e| e.field == field)
    }
}

impl From<FieldError> for ValidationErrors {
    fn from(error: FieldError) -> Self {
        Self(vec![error])
    }
}

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
