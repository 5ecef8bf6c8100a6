//! The service crate's one error. The HTTP edge maps it to problem+json; the executor
//! and dispatcher map it to retryable (the Lambda invocation fails and is retried) or
//! permanent (recorded on the follow-up).

use policy::ValidationErrors;
use store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The input is invalid; nothing was stored. → 400
    #[error(transparent)]
    Invalid(#[from] ValidationErrors),
    /// No such record for this account (another tenant's records are this too). → 404
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The request is valid but the record's state forbids it. → 409
    #[error("{0}")]
    Conflict(String),
    /// `If-Match` names an older version. → 412
    #[error("the record changed since it was read (version {current} is current)")]
    VersionMismatch { current: u64 },
    /// Missing or failed authentication. → 401
    #[error("{0}")]
    Unauthorized(&'static str),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("scheduling failed: {0}")]
    Scheduling(#[from] scheduling::ScheduleError),
    /// A bug or corrupt data; never retried blindly. → 500
    #[error("{0}")]
    Internal(String),
}

impl ServiceError {
    /// Whether running the same request again may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            ServiceError::Store(e) => e.is_retryable(),
            ServiceError::Scheduling(e) => e.is_retryable(),
            _ => false,
        }
    }
}
