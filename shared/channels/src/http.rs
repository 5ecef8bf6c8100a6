//! What the HTTP senders (WhatsApp, voice platform) share: the client and how a
//! transport failure maps onto [`SendError`].

use std::time::Duration;

use crate::SendError;

/// How long an HTTP sender waits for the provider's answer unless told otherwise.
pub const DEFAULT_HTTP_TIMEOUT: Duration = Duration::from_secs(10);

/// Connecting is bounded separately: a connect failure proves nothing was sent.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

pub(crate) fn client(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(CONNECT_TIMEOUT.min(timeout))
        .build()
        // Building only fails when the TLS backend cannot start; the default client
        // then reports the same problem on first use, as a send error.
        .unwrap_or_default()
}

/// A request that failed without an HTTP answer: retryable only when the connection
/// was never made, otherwise the provider may have acted on it.
pub(crate) fn transport_error(what: &str, error: &reqwest::Error) -> SendError {
    let reason = format!("{what}: {}", without_url(error));
    if error.is_connect() {
        SendError::retryable(reason)
    } else if error.is_builder() {
        SendError::permanent("invalid_request", reason)
    } else {
        SendError::unknown(reason)
    }
}

/// A transport failure's description without its URL.
pub(crate) fn transport_reason(what: &str, error: &reqwest::Error) -> String {
    format!("{what}: {}", without_url(error))
}

/// reqwest's messages include the URL; keep only the error chain (the URL is
/// configuration, and some providers put tokens in query strings).
fn without_url(error: &reqwest::Error) -> String {
    let mut text = String::new();
    let mut source = std::error::Error::source(error);
    while let Some(e) = source {
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&e.to_string());
        source = e.source();
    }
    if error.is_timeout() {
        if text.is_empty() {
            "timed out".clone_into(&mut text);
        } else {
            text = format!("timed out: {text}");
        }
    }
    if text.is_empty() {
        "request failed".clone_into(&mut text);
    }
    text
}

/// At most `max` characters of a provider's answer, for error reasons.
pub(crate) fn snippet(body: &str, max: usize) -> String {
    body.chars().take(max).collect()
}
