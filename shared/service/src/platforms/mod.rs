//! Voice platforms natively: an account connects Vapi, Retell, Bland or ElevenLabs
//! (`/v1/platforms/{platform}`), their webhooks come in on
//! `/v1/webhooks/{account_id}/{platform}` and become the same idempotent write as the
//! neutral `call.completed`, and the decision preview reads their bodies too.
//!
//! Keys and secrets are write-only: they go to the [`PlatformSecrets`] store (SSM on
//! AWS, the data directory locally) and nothing returns them; a connection's view only
//! says whether each is set.

pub mod verify;

use std::sync::Arc;

use channels::{NoSecretStore, Secret, SecretStore};
use policy::platform::{
    self, AnalysisMapping, Connection, ConnectionInput, Native, NativeCall, Platform,
};
use policy::{AccountId, AgentId};
use serde_json::{Value, json};

use crate::error::ServiceError;
use crate::records;
use crate::{Engine, ServiceError as E};
use verify::{AuthError, Keys, RequestHeaders};

/// The default name prefix of platform secrets (an SSM parameter path).
pub const DEFAULT_SECRET_PREFIX: &str = "/followups/platforms";

/// Which secret of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretKind {
    ApiKey,
    WebhookSecret,
}

impl SecretKind {
    fn as_str(self) -> &'static str {
        match self {
            Self::ApiKey => "api-key",
            Self::WebhookSecret => "webhook-secret",
        }
    }
}

/// The platform secrets' store and naming.
#[derive(Clone)]
pub struct PlatformSecrets {
    store: Arc<dyn SecretStore>,
    prefix: String,
}

impl PlatformSecrets {
    pub fn new(store: Arc<dyn SecretStore>, prefix: impl Into<String>) -> Self {
        let prefix = prefix.into().trim_end_matches('/').to_owned();
        Self { store, prefix }
    }

    /// No store: nothing can be connected.
    pub fn none() -> Self {
        Self::new(Arc::new(NoSecretStore), DEFAULT_SECRET_PREFIX)
    }

    /// `{prefix}/{account}/{platform}/{kind}`; the account id is escaped so the name
    /// only uses SSM's alphabet (`_` → `__`, `:` → `_c`), which keeps it injective.
    pub fn name(&self, account: &AccountId, platform: Platform, kind: SecretKind) -> String {
        let account: String = account
            .as_str()
            .chars()
            .flat_map(|c| match c {
                '_' => vec!['_', '_'],
                ':' => vec!['_', 'c'],
                c => vec![c],
            })
            .collect();
        format!("{}/{account}/{platform}/{}", self.prefix, kind.as_str())
    }

    pub async fn read(
        &self,
        account: &AccountId,
        platform: Platform,
        kind: SecretKind,
        fresh: bool,
    ) -> Result<Option<Secret>, ServiceError> {
        self.store
            .read(&self.name(account, platform, kind), fresh)
            .await
            .map_err(|e| E::Internal(format!("secret store: {e}")))
    }

    async fn write(
        &self,
        account: &AccountId,
        platform: Platform,
        kind: SecretKind,
        value: &str,
    ) -> Result<(), ServiceError> {
        self.store
            .write(&self.name(account, platform, kind), &Secret::new(value))
            .await
            .map_err(|e| E::Internal(format!("secret store: {e}")))
    }

    async fn remove(
        &self,
        account: &AccountId,
        platform: Platform,
        kind: SecretKind,
    ) -> Result<(), ServiceError> {
        self.store
            .remove(&self.name(account, platform, kind))
            .await
            .map_err(|e| E::Internal(format!("secret store: {e}")))
    }

    /// The store itself (the call senders read API keys from it).
    pub fn store(&self) -> Arc<dyn SecretStore> {
        self.store.clone()
    }
}

impl PlatformSecrets {
    /// The executor's call sender: the platform an agent names, else `generic`.
    pub fn call_sender(
        &self,
        apis: channels::PlatformApis,
        generic: Option<Arc<dyn channels::Sender>>,
    ) -> channels::PlatformCalls {
        let naming = self.clone();
        let key_name: channels::KeyName = Arc::new(move |account: &str, platform: &str| {
            let account = AccountId::parse("account_id", account).ok()?;
            let platform = Platform::parse("platform", platform).ok()?;
            Some(naming.name(&account, platform, SecretKind::ApiKey))
        });
        channels::PlatformCalls::new(apis, self.store.clone(), key_name, generic)
    }
}

/// The platform of an agent's follow-up calls, as the call sender takes it.
pub fn call_target(settings: &policy::Settings) -> Option<channels::PlatformTarget> {
    let platform = settings.agent.as_ref()?.calls.platform.as_ref()?;
    Some(channels::PlatformTarget {
        name: platform.name.as_str().to_owned(),
        agent_id: platform.agent_id.clone(),
        from_number_id: platform.from_number_id.clone(),
        from_number: platform.from_number.clone(),
    })
}

/// The contact variables a platform call carries (and its completion brings back).
pub fn call_variables(followup: &policy::FollowUp) -> std::collections::BTreeMap<String, String> {
    let mut vars = std::collections::BTreeMap::new();
    vars.insert("agent_id".into(), followup.agent_id.to_string());
    vars.insert("campaign_id".into(), followup.campaign_id.to_string());
    vars.insert("contact_id".into(), followup.contact_id.to_string());
    vars.insert("contact_timezone".into(), followup.time_zone.to_string());
    let content = &followup.content;
    for (key, value) in [
        ("contact_name", &content.contact_name),
        ("previous_call_summary", &content.summary),
        ("followup_reason", &content.request_reason),
    ] {
        if let Some(value) = value {
            vars.insert(key.into(), value.clone());
        }
    }
    vars
}

/// Why a platform delivery was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum PlatformWebhookError {
    /// 401: a missing or wrong signature, or nothing to verify with (an unknown account
    /// or platform not connected looks the same).
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error(transparent)]
    Service(#[from] ServiceError),
}

impl Engine {
    /// `PUT /v1/platforms/{platform}`: stores the connection; the secrets in the body
    /// replace the stored ones, absent ones are kept.
    pub async fn put_platform(
        &self,
        account: &AccountId,
        platform: Platform,
        body: &[u8],
    ) -> Result<Value, ServiceError> {
        let value: Value = serde_json::from_slice(body).map_err(|e| {
            policy::ValidationErrors::single("body", format!("malformed JSON: {e}"))
        })?;
        let input = ConnectionInput::from_json(platform, &value)?;
        let secrets = &self.platform_secrets;
        if let Some(key) = &input.api_key {
            secrets
                .write(account, platform, SecretKind::ApiKey, key)
                .await?;
        }
        if let Some(secret) = &input.webhook_secret {
            secrets
                .write(account, platform, SecretKind::WebhookSecret, secret)
                .await?;
        }
        self.repo
            .put_record(
                records::platform_key(account, platform),
                &input.connection,
                None,
            )
            .await?;
        tracing::info!(account = %account, platform = %platform, "platform connected");
        self.platform_view(account, platform, &input.connection)
            .await
    }

    /// `GET /v1/platforms/{platform}`: the connection without its secrets.
    pub async fn get_platform(
        &self,
        account: &AccountId,
        platform: Platform,
    ) -> Result<Value, ServiceError> {
        let connection = self
            .connection(account, platform)
            .await?
            .ok_or(E::NotFound("platform connection"))?;
        self.platform_view(account, platform, &connection).await
    }

    /// `DELETE /v1/platforms/{platform}`: the connection and its secrets.
    pub async fn delete_platform(
        &self,
        account: &AccountId,
        platform: Platform,
    ) -> Result<(), ServiceError> {
        for kind in [SecretKind::ApiKey, SecretKind::WebhookSecret] {
            self.platform_secrets
                .remove(account, platform, kind)
                .await?;
        }
        self.repo
            .delete_record(records::platform_key(account, platform), None)
            .await
    }

    async fn connection(
        &self,
        account: &AccountId,
        platform: Platform,
    ) -> Result<Option<Connection>, ServiceError> {
        Ok(self
            .repo
            .get_record::<Connection>(&records::platform_key(account, platform))
            .await?
            .map(|v| v.value))
    }

    async fn platform_view(
        &self,
        account: &AccountId,
        platform: Platform,
        connection: &Connection,
    ) -> Result<Value, ServiceError> {
        let secrets = &self.platform_secrets;
        let api_key = secrets
            .read(account, platform, SecretKind::ApiKey, true)
            .await?;
        let webhook = secrets
            .read(account, platform, SecretKind::WebhookSecret, true)
            .await?;
        let mut view = json!({
            "platform": platform,
            "api_key_set": api_key.is_some(),
            "webhook_secret_set": webhook.is_some(),
            "webhook_path": format!("/v1/webhooks/{account}/{platform}"),
            "analysis_mapping": AnalysisMapping::resolve(connection.mapping_overrides().as_ref(), None),
        });
        if let Some(auth) = &connection.vapi_auth {
            view["vapi_auth"] = serde_json::to_value(auth)
                .map_err(|e| E::Internal(format!("cannot show vapi_auth: {e}")))?;
        }
        Ok(view)
    }

    /// One delivery on `POST /v1/webhooks/{account_id}/{platform}`: verified with the
    /// platform's own scheme, read, mapped and recorded like `call.completed`, keyed by
    /// the platform's call id (a redelivery gets the first answer and changes nothing).
    pub async fn accept_platform_webhook(
        &self,
        account_raw: &str,
        platform: Platform,
        headers: &RequestHeaders,
        body: &[u8],
    ) -> Result<Value, PlatformWebhookError> {
        let now = self.clock.now();
        let account = AccountId::parse("account_id", account_raw)
            .map_err(|_| AuthError::NotConnected(platform))?;
        let connection = self
            .connection(&account, platform)
            .await?
            .ok_or(AuthError::NotConnected(platform))?;
        self.verify_platform(&account, platform, &connection, headers, body, now)
            .await?;
        let call = match platform::read(platform, body).map_err(ServiceError::from)? {
            Native::Final(call) => call,
            Native::Ignored { event_type } => {
                return Ok(json!({ "platform": platform, "ignored": event_type }));
            }
        };
        let mapped = self.map_native(&account, &connection, &call, now).await?;
        let mut answer = self
            .record_call(&account, &mapped.idempotency_key, &mapped.event, now)
            .await?;
        if !mapped.ignored.is_empty() {
            answer["ignored_analysis"] = json!(mapped.ignored);
        }
        Ok(answer)
    }

    async fn verify_platform(
        &self,
        account: &AccountId,
        platform: Platform,
        connection: &Connection,
        headers: &RequestHeaders,
        body: &[u8],
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), PlatformWebhookError> {
        let mut result = Err(AuthError::NoMatch);
        // The cached keys first; after a mismatch, once more from the store (a key
        // rotated a moment ago in another process).
        for fresh in [false, true] {
            let secrets = &self.platform_secrets;
            let api_key = secrets
                .read(account, platform, SecretKind::ApiKey, fresh)
                .await?;
            let webhook = secrets
                .read(account, platform, SecretKind::WebhookSecret, fresh)
                .await?;
            let keys = Keys {
                api_key: api_key.as_ref().map(Secret::expose),
                webhook_secret: webhook.as_ref().map(Secret::expose),
            };
            result = verify::verify(
                platform,
                connection.vapi_auth.as_ref(),
                &keys,
                headers,
                body,
                now,
            );
            if !matches!(result, Err(AuthError::NoMatch | AuthError::NotConnected(_))) {
                break;
            }
        }
        result.map_err(PlatformWebhookError::from)
    }

    /// The mapping (defaults, the account's, the agent's) applied to a native call.
    async fn map_native(
        &self,
        account: &AccountId,
        connection: &Connection,
        call: &NativeCall,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<platform::Mapped, ServiceError> {
        let agent = match call
            .our_agent_id()
            .and_then(|raw| AgentId::parse("agent_id", &raw).ok())
        {
            Some(agent) => self.repo.agent_settings(account, &agent).await?,
            None => None,
        };
        let agent_overrides = agent.and_then(|a| a.value.analysis_mapping);
        let mapping = AnalysisMapping::resolve(
            connection.mapping_overrides().as_ref(),
            agent_overrides.as_ref(),
        );
        Ok(call.to_call_completed(&mapping, now)?)
    }

    /// A native call learned another way (a placed call's lookup), mapped with the
    /// account's connection and the agent's overrides as its webhook would be.
    pub async fn map_native_call(
        &self,
        account: &AccountId,
        platform: Platform,
        call: &NativeCall,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<platform::Mapped, ServiceError> {
        let connection = self
            .connection(account, platform)
            .await?
            .unwrap_or_default();
        self.map_native(account, &connection, call, now).await
    }

    /// `POST /v1/decisions/preview?platform=…`: a native body, read and mapped as the
    /// webhook would (no signature: the operator is authenticated), then previewed.
    pub async fn preview_native(
        &self,
        account: &AccountId,
        platform: Platform,
        body: &[u8],
    ) -> Result<Value, ServiceError> {
        let call = match platform::read(platform, body)? {
            Native::Final(call) => call,
            Native::Ignored { event_type } => {
                let mut answer = json!(crate::CallAnswer::ignored(None, event_type));
                answer["platform"] = json!(platform);
                return Ok(answer);
            }
        };
        let connection = self
            .connection(account, platform)
            .await?
            .unwrap_or_default();
        let mapped = self
            .map_native(account, &connection, &call, self.clock.now())
            .await?;
        let neutral = json!({
            "type": policy::CALL_COMPLETED,
            "call": mapped.event.call,
            "contact": mapped.event.contact,
            "analysis": mapped.event.analysis,
        });
        let mut answer = json!(self.preview_event(account, &mapped.event).await?);
        answer["platform"] = json!(platform);
        answer["idempotency_key"] = json!(mapped.idempotency_key);
        answer["mapped"] = neutral;
        if !mapped.ignored.is_empty() {
            answer["ignored_analysis"] = json!(mapped.ignored);
        }
        Ok(answer)
    }
}
