//! How an AWS SDK failure maps onto [`SendError`].
//!
//! The SDK clients used for sending are built with the SDK's own retries turned off
//! (see [`without_sdk_retries_sns`]): the SDK's standard retry strategy treats timeouts, I/O
//! errors after the request went out and HTTP 500/502/503/504 as transient and sends
//! the request again (aws-smithy-runtime's `TransientErrorClassifier` and
//! `HttpStatusCodeClassifier`). For `Publish` and `SendEmail` that could deliver the
//! same message twice, so the senders decide here what is safe and retry that
//! themselves with [`crate::RetryPolicy`].

use std::error::Error as StdError;

use aws_sdk_sns::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

use crate::SendError;

/// Error codes AWS services use to say "slow down, nothing was done".
const THROTTLING_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "Throttled",
    "ThrottledException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "RequestThrottled",
    "RequestThrottledException",
    "SlowDown",
    "KMSThrottlingException",
];

/// Whether the request may be sent again even if the first one reached the service
/// (reads, checks), or whether a failure after sending leaves the outcome unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Repeat {
    Safe,
    MayDuplicate,
}

pub(crate) fn classify<E>(error: SdkError<E>, repeat: Repeat) -> SendError
where
    E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
{
    let after_sending = |reason: String| match repeat {
        Repeat::Safe => SendError::retryable(reason),
        Repeat::MayDuplicate => SendError::unknown(reason),
    };
    match &error {
        SdkError::ConstructionFailure(_) => {
            SendError::permanent("invalid_request", DisplayErrorContext(&error).to_string())
        }
        SdkError::DispatchFailure(failure) => {
            let reason = DisplayErrorContext(&error).to_string();
            if refused_before_sending(&error) {
                SendError::retryable(reason)
            } else if failure.is_user() {
                SendError::permanent("invalid_request", reason)
            } else {
                after_sending(reason)
            }
        }
        SdkError::TimeoutError(_) | SdkError::ResponseError(_) => {
            after_sending(DisplayErrorContext(&error).to_string())
        }
        SdkError::ServiceError(service) => {
            let status = service.raw().status().as_u16();
            let code = service.err().code().unwrap_or("").to_owned();
            let message = service.err().message().unwrap_or("").to_owned();
            let reason = format!("{code}: {message} (HTTP {status})");
            if THROTTLING_CODES.contains(&code.as_str()) || status == 429 {
                SendError::retryable(reason)
            } else if status == 503 {
                // "Service unavailable" is the service saying it did not take the request.
                SendError::retryable(reason)
            } else if status >= 500 {
                after_sending(reason)
            } else {
                let code = if code.is_empty() {
                    "rejected".to_owned()
                } else {
                    code
                };
                SendError::Permanent { code, reason }
            }
        }
        _ => after_sending(DisplayErrorContext(&error).to_string()),
    }
}

/// A refused connection is the one dispatch failure where the request certainly never
/// reached the service.
fn refused_before_sending(error: &(dyn StdError + 'static)) -> bool {
    let mut source = Some(error);
    while let Some(e) = source {
        if let Some(io) = e.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::ConnectionRefused
        {
            return true;
        }
        source = e.source();
    }
    false
}

/// The client's configuration with the SDK's retries off, for operations whose retry
/// this crate decides itself.
pub(crate) fn without_sdk_retries_sns(client: &aws_sdk_sns::Client) -> aws_sdk_sns::Client {
    let config = client
        .config()
        .to_builder()
        .retry_config(aws_sdk_sns::config::retry::RetryConfig::disabled())
        .build();
    aws_sdk_sns::Client::from_conf(config)
}

/// As [`without_sdk_retries_sns`], for SESv2.
pub(crate) fn without_sdk_retries_sesv2(client: &aws_sdk_sesv2::Client) -> aws_sdk_sesv2::Client {
    let config = client
        .config()
        .to_builder()
        .retry_config(aws_sdk_sesv2::config::retry::RetryConfig::disabled())
        .build();
    aws_sdk_sesv2::Client::from_conf(config)
}
