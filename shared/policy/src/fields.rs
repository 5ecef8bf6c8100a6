//! Invalid input, field by field. Validation failures are collected, never reported one
//! at a time, so an operator fixing a settings form sees every problem at once. The
//! bottom of the crate: it uses nothing else of it.

use serde::Serialize;

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
