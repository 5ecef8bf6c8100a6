use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use serde_json::json;

use crate::http::{DEFAULT_HTTP_TIMEOUT, client, snippet, transport_error};
use crate::{Outbound, RetryPolicy, SecretSource, SendError, Sender, Sent};

/// Meta's Graph API, where the WhatsApp Cloud API lives.
pub const DEFAULT_GRAPH_URL: &str = "https://graph.facebook.com";
/// The Graph API version the request shape was written against.
pub const DEFAULT_GRAPH_API_VERSION: &str = "v21.0";

/// Meta error codes after which the same message will never go through.
const PERMANENT_CODES: &[i64] = &[
    10,     // permission denied
    100,    // invalid parameter
    190,    // access token expired or invalid
    131008, // required parameter missing
    131009, // parameter value invalid
    131021, // recipient cannot be the sender
    131026, // message undeliverable (not on WhatsApp, old client, ...)
    131030, // recipient not in the allowed list (test numbers)
    131031, // business account locked
    131047, // re-engagement: more than 24 hours since the contact last wrote
    131051, // unsupported message type
    132000, // template parameter count mismatch
    132001, // template does not exist (in that language)
    132005, // translated text too long
    132007, // template format character policy violated
    132012, // template parameter format mismatch
    132015, // template paused
    132016, // template disabled
    133010, // phone number not registered
];

/// Meta error codes that say "not now": rate limits and temporary failures.
const RETRYABLE_CODES: &[i64] = &[
    1,      // unknown API error, temporary
    2,      // service temporarily unavailable
    4,      // application request limit
    80007,  // WhatsApp Business Account rate limit
    130429, // Cloud API throughput reached
    131000, // something went wrong
    131048, // spam rate limit
    131056, // pair rate limit (too many messages to one number)
    133004, // server temporarily unavailable
];

/// A WhatsApp template message through Meta's Cloud API
/// (`POST {base}/{version}/{phone-number-id}/messages`), with the access token read
/// from a [`SecretSource`] on each send (cached there).
///
/// Meta offers no idempotency key, so only answers that say the message was not taken
/// (rate limits, Meta's "temporary" error codes, HTTP 5xx) are retried; a timeout after
/// the request was sent is [`SendError::Unknown`].
pub struct WhatsAppCloud {
    http: reqwest::Client,
    base_url: String,
    api_version: String,
    phone_number_id: String,
    secrets: Arc<dyn SecretSource>,
    token_name: String,
    retry: RetryPolicy,
}

impl WhatsAppCloud {
    /// Sends from the business phone number `phone_number_id`, authenticating with the
    /// secret called `token_name`.
    pub fn new(
        phone_number_id: impl Into<String>,
        secrets: Arc<dyn SecretSource>,
        token_name: impl Into<String>,
    ) -> Self {
        WhatsAppCloud {
            http: client(DEFAULT_HTTP_TIMEOUT),
            base_url: DEFAULT_GRAPH_URL.to_owned(),
            api_version: DEFAULT_GRAPH_API_VERSION.to_owned(),
            phone_number_id: phone_number_id.into(),
            secrets,
            token_name: token_name.into(),
            retry: RetryPolicy::default(),
        }
    }

    /// Another Graph API host (a test server, a proxy).
    pub fn with_base_url(mut self, base_url: impl Into<String>) -> Self {
        self.base_url = base_url.into().trim_end_matches('/').to_owned();
        self
    }

    pub fn with_api_version(mut self, api_version: impl Into<String>) -> Self {
        self.api_version = api_version.into();
        self
    }

    /// How long to wait for Meta's answer (10 s unless set).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.http = client(timeout);
        self
    }

    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    async fn send_once(&self, url: &str, body: &serde_json::Value) -> Result<Sent, SendError> {
        let token = self.secrets.get(&self.token_name).await?;
        let response = self
            .http
            .post(url)
            .bearer_auth(token.expose())
            .json(body)
            .send()
            .await
            .map_err(|e| transport_error("WhatsApp Cloud API", &e))?;
        let status = response.status();
        let text = response
            .text()
            .await
            .map_err(|e| transport_error("WhatsApp Cloud API answer", &e))?;
        if status.is_success() {
            return serde_json::from_str::<Accepted>(&text)
                .ok()
                .and_then(|a| a.messages.into_iter().next())
                .map(|m| Sent { provider_id: m.id })
                .ok_or_else(|| {
                    SendError::unknown(format!(
                        "WhatsApp Cloud API answered {status} without a message id: {}",
                        snippet(&text, 300)
                    ))
                });
        }
        let error = meta_error(status.as_u16(), &text);
        if matches!(&error, SendError::Permanent { code, .. } if code == "190")
            || status == reqwest::StatusCode::UNAUTHORIZED
        {
            self.secrets.forget(&self.token_name).await;
        }
        Err(error)
    }
}

impl fmt::Debug for WhatsAppCloud {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WhatsAppCloud")
            .field("base_url", &self.base_url)
            .field("api_version", &self.api_version)
            .field("phone_number_id", &self.phone_number_id)
            .field("token_name", &self.token_name)
            .field("retry", &self.retry)
            .finish()
    }
}

#[derive(Deserialize)]
struct Accepted {
    #[serde(default)]
    messages: Vec<AcceptedMessage>,
}

#[derive(Deserialize)]
struct AcceptedMessage {
    id: String,
}

#[derive(Deserialize)]
struct ErrorEnvelope {
    error: MetaError,
}

#[derive(Deserialize)]
struct MetaError {
    code: i64,
    #[serde(default)]
    message: String,
    #[serde(default)]
    error_subcode: Option<i64>,
    #[serde(default)]
    error_data: Option<serde_json::Value>,
}

/// Meta's error answer (`{"error":{"code":..,"message":..,"error_subcode":..}}`) as a
/// [`SendError`]; the code decides, the HTTP status only when the code is unknown.
fn meta_error(status: u16, body: &str) -> SendError {
    let Ok(ErrorEnvelope { error }) = serde_json::from_str::<ErrorEnvelope>(body) else {
        let reason = format!("HTTP {status}: {}", snippet(body, 300));
        return if status == 429 || status >= 500 {
            SendError::retryable(reason)
        } else {
            SendError::permanent(format!("http_{status}"), reason)
        };
    };
    let mut reason = error.message.clone();
    if let Some(sub) = error.error_subcode {
        reason.push_str(&format!(" (subcode {sub})"));
    }
    if let Some(details) = error
        .error_data
        .as_ref()
        .and_then(|d| d.get("details"))
        .and_then(|d| d.as_str())
    {
        reason.push_str(&format!(": {details}"));
    }
    if PERMANENT_CODES.contains(&error.code) {
        SendError::permanent(error.code.to_string(), reason)
    } else if RETRYABLE_CODES.contains(&error.code) || status == 429 || status >= 500 {
        SendError::retryable(format!("Meta error {}: {reason}", error.code))
    } else {
        SendError::permanent(error.code.to_string(), reason)
    }
}

#[async_trait::async_trait]
impl Sender for WhatsAppCloud {
    async fn send(&self, message: &Outbound) -> Result<Sent, SendError> {
        let Outbound::WhatsApp {
            to,
            template_name,
            language,
            parameters,
            callback_data,
        } = message
        else {
            return Err(SendError::wrong_channel("WhatsApp", message));
        };
        let mut template = json!({
            "name": template_name,
            "language": { "code": language },
        });
        if !parameters.is_empty() {
            let parameters: Vec<_> = parameters
                .iter()
                .map(|p| json!({ "type": "text", "text": p }))
                .collect();
            template["components"] = json!([{ "type": "body", "parameters": parameters }]);
        }
        let mut body = json!({
            "messaging_product": "whatsapp",
            "to": to,
            "type": "template",
            "template": template,
        });
        if let Some(data) = callback_data {
            body["biz_opaque_callback_data"] = json!(data);
        }
        let url = format!(
            "{}/{}/{}/messages",
            self.base_url, self.api_version, self.phone_number_id
        );
        let sent = self
            .retry
            .run("whatsapp send", || self.send_once(&url, &body))
            .await?;
        tracing::info!(channel = "whatsapp", provider_id = sent.provider_id, "sent");
        Ok(sent)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(code: i64) -> String {
        json!({"error": {"message": "m", "type": "OAuthException", "code": code, "fbtrace_id": "x"}})
            .to_string()
    }

    #[test]
    fn meta_codes_decide_between_permanent_and_retryable() {
        for code in [131047, 132001, 131026, 100, 190] {
            assert!(
                matches!(meta_error(400, &error(code)), SendError::Permanent { code: c, .. } if c == code.to_string()),
                "{code}"
            );
        }
        for code in [4, 80007, 130429, 131048, 131056, 1, 2, 131000] {
            assert!(meta_error(400, &error(code)).is_retryable(), "{code}");
        }
    }

    #[test]
    fn without_a_meta_error_the_status_decides() {
        assert!(meta_error(500, "oops").is_retryable());
        assert!(meta_error(503, "").is_retryable());
        assert!(meta_error(429, "").is_retryable());
        assert!(
            matches!(meta_error(404, "nope"), SendError::Permanent { code, .. } if code == "http_404")
        );
        assert!(meta_error(502, &error(999_999)).is_retryable());
        assert!(matches!(
            meta_error(400, &error(999_999)),
            SendError::Permanent { .. }
        ));
    }
}
