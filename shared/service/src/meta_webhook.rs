//! Meta's WhatsApp webhook, per account: `GET` answers Meta's subscription check with
//! the account's verify token; `POST` deliveries are signed (`X-Hub-Signature-256:
//! sha256=<hex HMAC-SHA256 of the raw body keyed by the app secret>`, checked in
//! constant time) and carry the contact's messages and our messages' statuses.
//!
//! - A text (or quick-reply button) that is an opt-out word, or Meta's marketing
//!   opt-out (`user_preferences`: `marketing_messages` → `stop`, or the template's
//!   "Stop promotions" button), puts the number on the do-not-call list (source
//!   `whatsapp_reply`) and cancels its open follow-ups.
//! - A status (sent, delivered, read, failed with Meta's error code) is recorded on
//!   the attempt named by the message's `biz_opaque_callback_data`, when the message
//!   id matches the one the executor stored.
//!
//! The app secret and verify token are write-only: set through the API, never shown.

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use policy::{AccountId, Delivery, DeliveryState, Destination, DncSource, PhoneNumber};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::Sha256;
use store::StoreError;
use subtle::ConstantTimeEq;

use crate::Engine;
use crate::error::ServiceError;
use crate::records;

/// The account's Meta webhook credentials as stored.
#[derive(Clone, Serialize, Deserialize)]
pub struct MetaWebhookConfig {
    pub app_secret: String,
    pub verify_token: String,
    pub updated_at: DateTime<Utc>,
}

impl std::fmt::Debug for MetaWebhookConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetaWebhookConfig")
            .field("updated_at", &self.updated_at)
            .finish_non_exhaustive()
    }
}

/// Why a Meta delivery or subscription check was refused: 401 for all, so nobody can
/// tell an unknown account from a wrong secret.
#[derive(Debug, thiserror::Error)]
pub enum MetaError {
    #[error("{0}")]
    Unauthorized(&'static str),
    #[error(transparent)]
    Service(#[from] ServiceError),
}

/// Meta's delivery body (only what we read; other fields are ignored).
#[derive(Debug, Deserialize)]
struct Delivered {
    object: String,
    entry: Vec<Entry>,
}

#[derive(Debug, Deserialize)]
struct Entry {
    #[serde(default)]
    changes: Vec<Change>,
}

#[derive(Debug, Deserialize)]
struct Change {
    field: String,
    value: ChangeValue,
}

#[derive(Debug, Default, Deserialize)]
struct ChangeValue {
    #[serde(default)]
    messages: Vec<InboundText>,
    #[serde(default)]
    statuses: Vec<StatusUpdate>,
    #[serde(default)]
    user_preferences: Vec<UserPreference>,
}

#[derive(Debug, Deserialize)]
struct InboundText {
    from: String,
    #[serde(default)]
    text: Option<TextBody>,
    #[serde(default)]
    button: Option<ButtonReply>,
}

#[derive(Debug, Deserialize)]
struct TextBody {
    body: String,
}

#[derive(Debug, Deserialize)]
struct ButtonReply {
    #[serde(default)]
    text: String,
    #[serde(default)]
    payload: String,
}

#[derive(Debug, Deserialize)]
struct StatusUpdate {
    id: String,
    status: String,
    timestamp: String,
    #[serde(default)]
    biz_opaque_callback_data: Option<String>,
    #[serde(default)]
    errors: Vec<MetaErrorBody>,
}

#[derive(Debug, Deserialize)]
struct MetaErrorBody {
    code: i64,
    #[serde(default)]
    title: Option<String>,
}

#[derive(Debug, Deserialize)]
struct UserPreference {
    wa_id: String,
    category: String,
    value: String,
}

/// Meta's marketing opt-out button text on marketing templates.
const STOP_PROMOTIONS: &str = "stop promotions";
const MIN_SECRET_CHARS: usize = 16;
const MIN_TOKEN_CHARS: usize = 8;
const MAX_CREDENTIAL_CHARS: usize = 256;

impl Engine {
    /// Stores the account's app secret and verify token (replacing any). Write-only:
    /// the answer says only that they are configured and since when.
    pub async fn put_meta_webhook(
        &self,
        account: &AccountId,
        body: &Value,
    ) -> Result<Value, ServiceError> {
        let mut errors = Vec::new();
        let app_secret = credential(body, "app_secret", MIN_SECRET_CHARS, &mut errors);
        let verify_token = credential(body, "verify_token", MIN_TOKEN_CHARS, &mut errors);
        if let Value::Object(fields) = body {
            for name in fields.keys() {
                if name != "app_secret" && name != "verify_token" {
                    errors.push(policy::FieldError::new(
                        name.clone(),
                        "is not a known field",
                    ));
                }
            }
        }
        let (Some(app_secret), Some(verify_token), true) =
            (app_secret, verify_token, errors.is_empty())
        else {
            return Err(policy::ValidationErrors(errors).into());
        };
        let config = MetaWebhookConfig {
            app_secret,
            verify_token,
            updated_at: self.clock.now(),
        };
        let key = records::meta_webhook_key(account);
        self.repo.put_record(key, &config, None).await?;
        Ok(meta_status(account, Some(&config)))
    }

    /// Whether the account's Meta webhook is configured, without the credentials.
    pub async fn meta_webhook_status(&self, account: &AccountId) -> Result<Value, ServiceError> {
        let config = self.repo.meta_webhook(account).await?;
        Ok(meta_status(account, config.as_ref()))
    }

    /// Meta's subscription check: echoes `challenge` when the mode is `subscribe` and
    /// the token is the account's.
    pub async fn verify_meta_subscription(
        &self,
        account_raw: &str,
        mode: Option<&str>,
        token: Option<&str>,
        challenge: Option<&str>,
    ) -> Result<String, MetaError> {
        let refused = MetaError::Unauthorized("the verify token does not match");
        let config = self.meta_config(account_raw).await?;
        let (Some("subscribe"), Some(token), Some(challenge)) = (mode, token, challenge) else {
            return Err(refused);
        };
        let matches: bool = token
            .as_bytes()
            .ct_eq(config.verify_token.as_bytes())
            .into();
        if !matches || challenge.len() > 256 {
            return Err(refused);
        }
        Ok(challenge.to_string())
    }

    /// One signed delivery of Meta's webhook. Unsigned, wrongly signed, or for an
    /// account without credentials: 401, nothing read or changed.
    pub async fn accept_meta_webhook(
        &self,
        account_raw: &str,
        signature: Option<&str>,
        body: &[u8],
    ) -> Result<Value, MetaError> {
        let config = self.meta_config(account_raw).await?;
        verify_signature(&config.app_secret, signature, body)?;
        let account = AccountId::parse("account_id", account_raw)
            .map_err(|_| MetaError::Unauthorized("unknown account"))?;
        Ok(self.handle_meta_delivery(&account, body).await?)
    }

    /// A delivery already verified as Meta's for `account` (the local runtime's
    /// simulated replies come in here too).
    pub async fn handle_meta_delivery(
        &self,
        account: &AccountId,
        body: &[u8],
    ) -> Result<Value, ServiceError> {
        let account = account.clone();
        let delivered: Delivered = serde_json::from_slice(body).map_err(|e| {
            ServiceError::Invalid(policy::ValidationErrors::single("body", e.to_string()))
        })?;
        if delivered.object != "whatsapp_business_account" {
            return Ok(json!({ "ignored": delivered.object }));
        }
        let (mut opt_outs, mut statuses) = (0, 0);
        for change in delivered.entry.iter().flat_map(|e| &e.changes) {
            for number in opt_out_numbers(change) {
                self.opt_out(
                    &account,
                    &Destination::Phone(number),
                    DncSource::WhatsappReply,
                )
                .await?;
                opt_outs += 1;
            }
            for status in &change.value.statuses {
                statuses += usize::from(self.record_meta_status(&account, status).await?);
            }
        }
        Ok(json!({ "opted_out": opt_outs, "statuses_recorded": statuses }))
    }

    async fn meta_config(&self, account_raw: &str) -> Result<MetaWebhookConfig, MetaError> {
        let unknown = || MetaError::Unauthorized("no WhatsApp webhook is configured here");
        let account = AccountId::parse("account_id", account_raw).map_err(|_| unknown())?;
        self.repo.meta_webhook(&account).await?.ok_or_else(unknown)
    }

    /// Records one status on its attempt; false when it names no attempt of ours.
    async fn record_meta_status(
        &self,
        account: &AccountId,
        status: &StatusUpdate,
    ) -> Result<bool, ServiceError> {
        let (Some(state), Some((id, attempt))) = (
            DeliveryState::parse(&status.status),
            status
                .biz_opaque_callback_data
                .as_deref()
                .and_then(policy::parse_callback_data),
        ) else {
            return Ok(false);
        };
        let at = status
            .timestamp
            .parse::<i64>()
            .ok()
            .and_then(|t| DateTime::from_timestamp(t, 0))
            .unwrap_or_else(|| self.clock.now());
        let first_error = status.errors.first();
        let delivery = Delivery {
            state,
            at,
            error_code: first_error.map(|e| e.code),
            error: first_error.and_then(|e| e.title.clone()),
        };
        for _ in 0..3 {
            let Some(stored) = self.repo.followup(account, &id).await? else {
                return Ok(false);
            };
            let mut updated = stored.value.clone();
            if !updated.record_delivery(attempt, &status.id, delivery.clone()) {
                return Ok(false);
            }
            match self.repo.save_followup(&stored, &updated).await {
                Ok(_) => return Ok(true),
                Err(StoreError::ConditionFailed { .. }) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(ServiceError::Conflict(format!(
            "follow-up {id} kept changing; redeliver"
        )))
    }
}

/// The numbers a change opts out: opt-out words and Meta's marketing opt-outs.
fn opt_out_numbers(change: &Change) -> Vec<PhoneNumber> {
    let from_wa_id = |wa_id: &str| PhoneNumber::parse("wa_id", &format!("+{wa_id}")).ok();
    let mut numbers = Vec::new();
    if change.field == "messages" {
        for message in &change.value.messages {
            let said = [
                message.text.as_ref().map(|t| t.body.as_str()),
                message.button.as_ref().map(|b| b.text.as_str()),
                message.button.as_ref().map(|b| b.payload.as_str()),
            ];
            let stop = said.into_iter().flatten().any(|text| {
                policy::is_opt_out(text) || text.trim().eq_ignore_ascii_case(STOP_PROMOTIONS)
            });
            numbers.extend(from_wa_id(&message.from).filter(|_| stop));
        }
    }
    for preference in &change.value.user_preferences {
        if preference.category == "marketing_messages" && preference.value == "stop" {
            numbers.extend(from_wa_id(&preference.wa_id));
        }
    }
    numbers
}

fn verify_signature(secret: &str, header: Option<&str>, body: &[u8]) -> Result<(), MetaError> {
    let refused = || MetaError::Unauthorized("X-Hub-Signature-256 is missing or does not match");
    let tag = header
        .and_then(|h| h.strip_prefix("sha256="))
        .and_then(|hex_tag| hex::decode(hex_tag).ok())
        .ok_or_else(refused)?;
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(body);
    mac.verify_slice(&tag).map_err(|_| refused())
}

/// `sha256=<hex>` of `body` under `secret`: what Meta sends (tests and the local
/// runtime's simulated deliveries sign with it).
pub fn meta_signature(secret: &str, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Configured or not (and since when), and where Meta's webhook must point.
fn meta_status(account: &AccountId, config: Option<&MetaWebhookConfig>) -> Value {
    let webhook_path = format!("/v1/inbound/{account}/whatsapp");
    match config {
        Some(config) => json!({
            "configured": true,
            "updated_at": config.updated_at,
            "webhook_path": webhook_path,
        }),
        None => json!({ "configured": false, "webhook_path": webhook_path }),
    }
}

fn credential(
    body: &Value,
    field: &str,
    min_chars: usize,
    errors: &mut Vec<policy::FieldError>,
) -> Option<String> {
    let problem = match body.get(field) {
        None => "is required",
        Some(Value::String(s)) if s.chars().count() < min_chars => "is too short",
        Some(Value::String(s)) if s.chars().count() > MAX_CREDENTIAL_CHARS => "is too long",
        Some(Value::String(s)) if !s.chars().all(|c| c.is_ascii_graphic()) => {
            "must be printable ASCII without spaces"
        }
        Some(Value::String(s)) => return Some(s.clone()),
        Some(_) => "must be a string",
    };
    let message = match problem {
        "is too short" => format!("must be at least {min_chars} characters"),
        "is too long" => format!("must be at most {MAX_CREDENTIAL_CHARS} characters"),
        other => other.to_string(),
    };
    errors.push(policy::FieldError::new(field, message));
    None
}
