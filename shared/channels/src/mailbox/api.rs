//! Sending through the Gmail API or Microsoft Graph, with the access token cached.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use reqwest::StatusCode;
use serde::Deserialize;
use serde_json::json;

use super::{Mailbox, MailboxSend, MailboxSent, OAuthApp, Provider, build_mime, oauth};
use crate::http::{DEFAULT_HTTP_TIMEOUT, client, snippet, transport_error};
use crate::{Outbound, RetryPolicy, Secret, SendError};

/// Waits between tries (tokio's sleep; tests record the waits instead).
pub type Sleep = Arc<dyn Fn(Duration) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

/// The longest `Retry-After` honoured within one invocation; a provider asking for
/// more gets a retryable failure, and the executor tries again minutes later.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(20);
/// An access token is refreshed this long before the provider says it expires.
const EXPIRY_MARGIN: Duration = Duration::from_secs(60);

/// Sends from connected mailboxes: Gmail `users.messages.send` (the raw message,
/// base64url) or Graph `sendMail` (the MIME message, base64, `text/plain`).
///
/// 429 and the 5xx answers that say the message was not taken (500, 502, 503) are
/// retried, waiting as `Retry-After` asks (bounded); a 401 drops the cached access
/// token and tries once more with a fresh one; any other 4xx is permanent with the
/// provider's message; a timeout after the request was sent, or a 504, is unknown and
/// never resent.
pub struct MailboxApi {
    http: reqwest::Client,
    oauth: oauth::OAuthHttp,
    apps: HashMap<Provider, OAuthApp>,
    retry: RetryPolicy,
    sleep: Sleep,
    tokens: Mutex<HashMap<String, (Secret, Instant)>>,
}

impl MailboxApi {
    pub fn new(apps: impl IntoIterator<Item = OAuthApp>) -> Self {
        MailboxApi {
            http: client(DEFAULT_HTTP_TIMEOUT),
            oauth: oauth::OAuthHttp::default(),
            apps: apps.into_iter().map(|a| (a.provider, a)).collect(),
            retry: RetryPolicy::default(),
            sleep: Arc::new(|d| Box::pin(tokio::time::sleep(d))),
            tokens: Mutex::new(HashMap::new()),
        }
    }

    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Another way to wait between tries (tests record the waits).
    pub fn with_sleep(mut self, sleep: Sleep) -> Self {
        self.sleep = sleep;
        self
    }

    fn app(&self, provider: Provider) -> Result<&OAuthApp, SendError> {
        self.apps.get(&provider).ok_or_else(|| {
            SendError::permanent(
                "invalid_configuration",
                format!("no OAuth client configured for {}", provider.as_str()),
            )
        })
    }

    fn cached_token(&self, mailbox: &str) -> Option<Secret> {
        let tokens = self.tokens.lock().unwrap_or_else(|p| p.into_inner());
        tokens
            .get(mailbox)
            .filter(|(_, until)| Instant::now() < *until)
            .map(|(token, _)| token.clone())
    }

    fn forget_token(&self, mailbox: &str) {
        self.tokens
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(mailbox);
    }

    /// The cached access token, or a fresh one (with the rotated refresh token, if any).
    async fn access_token(&self, mailbox: &Mailbox) -> Result<(Secret, Option<Secret>), SendError> {
        if let Some(token) = self.cached_token(&mailbox.id) {
            return Ok((token, None));
        }
        let app = self.app(mailbox.provider)?;
        let tokens = self
            .retry
            .run("refresh a mailbox token", || {
                oauth::refresh(&self.oauth, app, &mailbox.refresh_token)
            })
            .await?;
        let until = Instant::now() + tokens.expires_in.saturating_sub(EXPIRY_MARGIN);
        self.tokens
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(mailbox.id.clone(), (tokens.access_token.clone(), until));
        let rotated = tokens
            .refresh_token
            .filter(|t| t.expose() != mailbox.refresh_token.expose());
        Ok((tokens.access_token, rotated))
    }

    async fn post(
        &self,
        mailbox: &Mailbox,
        token: &Secret,
        mime: &[u8],
    ) -> Result<reqwest::Response, SendError> {
        let app = self.app(mailbox.provider)?;
        let request = self
            .http
            .post(&app.endpoints.send)
            .bearer_auth(token.expose());
        let request = match mailbox.provider {
            Provider::Google => request.json(&json!({ "raw": URL_SAFE_NO_PAD.encode(mime) })),
            Provider::Microsoft => request
                .header(reqwest::header::CONTENT_TYPE, "text/plain")
                .body(STANDARD.encode(mime)),
        };
        request
            .send()
            .await
            .map_err(|e| transport_error("mailbox send", &e))
    }
}

impl fmt::Debug for MailboxApi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MailboxApi")
            .field("apps", &self.apps.values().collect::<Vec<_>>())
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct GmailAccepted {
    id: String,
}

/// What one try of the send API came to.
enum Try {
    Done(String),
    Again {
        error: SendError,
        wait: Option<Duration>,
    },
    Unauthorized(SendError),
}

#[async_trait::async_trait]
impl MailboxSend for MailboxApi {
    async fn send_from(
        &self,
        mailbox: &Mailbox,
        message: &Outbound,
    ) -> Result<MailboxSent, SendError> {
        let (mime, message_id) = build_mime(message, &mailbox.address)?;
        let (mut token, mut rotated) = self.access_token(mailbox).await?;
        let mut reauthorized = false;
        let mut tried = 0;
        loop {
            tried += 1;
            let response = self.post(mailbox, &token, &mime).await?;
            match classify(mailbox.provider, response).await? {
                Try::Done(id) => {
                    let provider_id = if id.is_empty() { message_id } else { id };
                    tracing::info!(channel = "email", mailbox = %mailbox.id, provider_id, "sent from a mailbox");
                    return Ok(MailboxSent {
                        provider_id,
                        rotated_refresh_token: rotated,
                    });
                }
                Try::Unauthorized(error) if !reauthorized => {
                    // The token was refused, so nothing was sent: once more, freshly.
                    tracing::warn!(mailbox = %mailbox.id, %error, "access token refused; refreshing");
                    reauthorized = true;
                    self.forget_token(&mailbox.id);
                    let (fresh, again) = self.access_token(mailbox).await?;
                    token = fresh;
                    rotated = again.or(rotated);
                }
                Try::Unauthorized(error) => return Err(error),
                Try::Again { error, wait } => {
                    if tried >= self.retry.attempts.max(1) {
                        return Err(error);
                    }
                    let wait = match wait {
                        Some(wait) if wait > MAX_RETRY_AFTER => return Err(error),
                        Some(wait) => wait,
                        None => self.retry.delay(tried),
                    };
                    tracing::warn!(mailbox = %mailbox.id, tried, ?wait, %error, "retrying a mailbox send");
                    (self.sleep)(wait).await;
                }
            }
        }
    }
}

/// The send API's answer: accepted, worth another try (and after how long), a refused
/// token, or a failure to report.
async fn classify(provider: Provider, response: reqwest::Response) -> Result<Try, SendError> {
    let status = response.status();
    let retry_after = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(retry_after);
    let text = response
        .text()
        .await
        .map_err(|e| transport_error("mailbox send answer", &e))?;
    if status.is_success() {
        return match provider {
            // Graph answers 202 Accepted with no body and no id.
            Provider::Microsoft => Ok(Try::Done(String::new())),
            Provider::Google => serde_json::from_str::<GmailAccepted>(&text)
                .map(|a| Try::Done(a.id))
                .map_err(|_| {
                    SendError::unknown(format!(
                        "Gmail answered {status} without a message id: {}",
                        snippet(&text, 300)
                    ))
                }),
        };
    }
    let reason = format!("HTTP {}: {}", status.as_u16(), provider_message(&text));
    Ok(match status {
        StatusCode::UNAUTHORIZED => Try::Unauthorized(SendError::permanent("unauthorized", reason)),
        StatusCode::TOO_MANY_REQUESTS
        | StatusCode::INTERNAL_SERVER_ERROR
        | StatusCode::BAD_GATEWAY
        | StatusCode::SERVICE_UNAVAILABLE => Try::Again {
            error: SendError::retryable(reason),
            wait: retry_after,
        },
        s if s.is_client_error() => {
            return Err(SendError::permanent(format!("http_{}", s.as_u16()), reason));
        }
        // 504 and the rest: the provider may have sent it.
        _ => return Err(SendError::unknown(reason)),
    })
}

/// `Retry-After` as seconds (HTTP dates are read too).
fn retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let wait = at.signed_duration_since(chrono::Utc::now());
    Some(wait.to_std().unwrap_or_default())
}

/// The provider's own words: Google's and Graph's `{"error":{"message":…}}`, else the
/// start of the body.
fn provider_message(body: &str) -> String {
    serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v["error"]["message"].as_str().map(|m| snippet(m, 300)))
        .unwrap_or_else(|| snippet(body, 300))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        assert_eq!(retry_after("7"), Some(Duration::from_secs(7)));
        assert_eq!(retry_after(" 0 "), Some(Duration::ZERO));
        assert_eq!(
            retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(retry_after("soon"), None);
    }

    #[test]
    fn the_providers_message_is_kept() {
        assert_eq!(
            provider_message(r#"{"error":{"code":400,"message":"Invalid To header"}}"#),
            "Invalid To header"
        );
        assert_eq!(provider_message("plain"), "plain");
    }
}
