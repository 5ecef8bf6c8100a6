use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use serde_json::json;

use crate::http::{DEFAULT_HTTP_TIMEOUT, client, snippet, transport_error};
use crate::{Outbound, RetryPolicy, SecretSource, SendError, Sender, Sent};

/// A follow-up call through the voice platform's outbound-call API: `POST {endpoint}`
/// with `{"agent_id","to","instructions","metadata":{"account_id","followup_id","attempt"}}`,
/// `Authorization: Bearer <secret>` and `Idempotency-Key: <followup_id>:<attempt>`; the
/// answer `{"call_id": ..}` gives the provider id. The metadata comes back in the
/// call's `call.completed` webhook, which ties the call to its follow-up.
///
/// # The idempotency contract
///
/// The platform is required to honour `Idempotency-Key`: a second request with the key
/// of a call it already placed must not place another call (it answers with the first
/// call's id). That is what makes it safe to retry an HTTP 5xx answer here. Against a
/// platform that does not honour it, turn this off with
/// [`VoiceCall::idempotency_key_honoured`]; 5xx then becomes [`SendError::Unknown`].
/// Either way, a timeout after the request was sent is `Unknown` (a call may be ringing),
/// and 409 Conflict (the key is already in use) is `Unknown` too.
pub struct VoiceCall {
    http: reqwest::Client,
    endpoint: String,
    secrets: Arc<dyn SecretSource>,
    secret_name: String,
    retry: RetryPolicy,
    idempotency_key_honoured: bool,
}

impl VoiceCall {
    /// Calls through `endpoint` (an https URL), authenticating with the secret called
    /// `secret_name`.
    pub fn new(
        endpoint: impl Into<String>,
        secrets: Arc<dyn SecretSource>,
        secret_name: impl Into<String>,
    ) -> Self {
        VoiceCall {
            http: client(DEFAULT_HTTP_TIMEOUT),
            endpoint: endpoint.into(),
            secrets,
            secret_name: secret_name.into(),
            retry: RetryPolicy::default(),
            idempotency_key_honoured: true,
        }
    }

    /// How long to wait for the platform's answer (10 s unless set).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.http = client(timeout);
        self
    }

    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Whether the platform honours `Idempotency-Key` (the default, and our contract).
    pub fn idempotency_key_honoured(mut self, honoured: bool) -> Self {
        self.idempotency_key_honoured = honoured;
        self
    }

    async fn send_once(
        &self,
        body: &serde_json::Value,
        idempotency_key: &str,
    ) -> Result<Sent, SendError> {
        let secret = self.secrets.get(&self.secret_name).await?;
        let response = self
            .http
            .post(&self.endpoint)
            .bearer_auth(secret.expose())
            .header("Idempotency-Key", idempotency_key)
            .json(body)
            .send()
            .await
            .map_err(|e| transport_error("voice platform", &e))?;
        let status = response.status();
        let text = response
            .text()
            .await
            .map_err(|e| transport_error("voice platform answer", &e))?;
        let reason = || format!("voice platform answered {status}: {}", snippet(&text, 300));
        match status.as_u16() {
            200..=299 => serde_json::from_str::<Placed>(&text)
                .map(|p| Sent {
                    provider_id: p.call_id,
                })
                // The call was accepted; only its id is missing.
                .map_err(|_| SendError::unknown(reason())),
            401 | 403 => {
                self.secrets.forget(&self.secret_name).await;
                Err(SendError::permanent(
                    format!("http_{}", status.as_u16()),
                    reason(),
                ))
            }
            409 => Err(SendError::unknown(reason())),
            429 => Err(SendError::retryable(reason())),
            400..=499 => Err(SendError::permanent(
                format!("http_{}", status.as_u16()),
                reason(),
            )),
            _ if self.idempotency_key_honoured => Err(SendError::retryable(reason())),
            _ => Err(SendError::unknown(reason())),
        }
    }
}

impl fmt::Debug for VoiceCall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VoiceCall")
            .field("endpoint", &self.endpoint)
            .field("secret_name", &self.secret_name)
            .field("retry", &self.retry)
            .field("idempotency_key_honoured", &self.idempotency_key_honoured)
            .finish()
    }
}

#[derive(Deserialize)]
struct Placed {
    call_id: String,
}

#[async_trait::async_trait]
impl Sender for VoiceCall {
    async fn send(&self, message: &Outbound) -> Result<Sent, SendError> {
        let Outbound::Call {
            to,
            agent_id,
            instructions,
            account_id,
            followup_id,
            attempt,
            ..
        } = message
        else {
            return Err(SendError::wrong_channel("call", message));
        };
        let body = json!({
            "agent_id": agent_id,
            "to": to,
            "instructions": instructions,
            "metadata": {
                "account_id": account_id,
                "followup_id": followup_id,
                "attempt": attempt,
            },
        });
        let idempotency_key = format!("{followup_id}:{attempt}");
        if idempotency_key.chars().any(|c| c.is_control()) {
            return Err(SendError::permanent(
                "invalid_header",
                "followup_id contains a control character",
            ));
        }
        let sent = self
            .retry
            .run("voice call", || self.send_once(&body, &idempotency_key))
            .await?;
        tracing::info!(channel = "call", provider_id = sent.provider_id, "placed");
        Ok(sent)
    }
}
