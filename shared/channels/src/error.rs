/// Why a message was not (or may not have been) sent.
///
/// The split is about what the caller may do next: `Retryable` can be sent again,
/// `Permanent` and `OptedOut` never will succeed as they are, and `Unknown` means the
/// provider may have accepted the message, so sending again risks a duplicate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// Nothing was accepted (throttling, a refused connection, a provider error that
    /// says it did not act): safe to try again later.
    #[error("temporary failure, safe to retry: {reason}")]
    Retryable { reason: String },
    /// The message can never be sent as it is (invalid number, missing template, outside
    /// the 24-hour window, bad request, bad credentials).
    #[error("permanent failure ({code}): {reason}")]
    Permanent { code: String, reason: String },
    /// The recipient opted out with the provider (SNS's opt-out list).
    #[error("the recipient has opted out")]
    OptedOut,
    /// The provider may have accepted the message (a timeout after the request was sent,
    /// an ambiguous server error): never resend automatically.
    #[error("outcome unknown, the provider may have accepted the message: {reason}")]
    Unknown { reason: String },
}

impl SendError {
    pub(crate) fn permanent(code: impl Into<String>, reason: impl Into<String>) -> Self {
        SendError::Permanent {
            code: code.into(),
            reason: reason.into(),
        }
    }

    pub(crate) fn retryable(reason: impl Into<String>) -> Self {
        SendError::Retryable {
            reason: reason.into(),
        }
    }

    pub(crate) fn unknown(reason: impl Into<String>) -> Self {
        SendError::Unknown {
            reason: reason.into(),
        }
    }

    /// Whether sending the same message again is safe.
    pub fn is_retryable(&self) -> bool {
        matches!(self, SendError::Retryable { .. })
    }

    pub(crate) fn wrong_channel(sender: &str, message: &crate::Outbound) -> Self {
        SendError::permanent(
            "wrong_channel",
            format!(
                "the {sender} sender cannot send a {} message",
                message.channel()
            ),
        )
    }
}
