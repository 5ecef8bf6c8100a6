/// Why a follow-up could not be scheduled, unscheduled or dispatched.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    /// Throttling or a temporary failure that outlasted the SDK's own retries: try again.
    #[error("temporary scheduling failure, safe to retry: {reason}")]
    Retryable { reason: String },
    /// The request can never succeed as it is (unknown channel or time zone, bad ARN,
    /// missing permission).
    #[error("scheduling failed: {reason}")]
    Permanent { reason: String },
}

impl ScheduleError {
    pub(crate) fn permanent(reason: impl Into<String>) -> Self {
        ScheduleError::Permanent {
            reason: reason.into(),
        }
    }

    pub(crate) fn retryable(reason: impl Into<String>) -> Self {
        ScheduleError::Retryable {
            reason: reason.into(),
        }
    }

    pub fn is_retryable(&self) -> bool {
        matches!(self, ScheduleError::Retryable { .. })
    }
}
