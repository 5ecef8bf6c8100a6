//! Connected mailboxes: the OAuth connect flow (start, callback), the records, and
//! what the executor needs to send from one.
//!
//! | record | pk | sk |
//! |---|---|---|
//! | mailbox | `A#{account}` | `MAILBOX#{mb_id}` (data: address, status, sealed refresh token) |
//! | connect in progress | `A#{account}` | `MBCONNECT#{nonce}` (PKCE verifier; expires with the state) |
//!
//! The `state` sent to the provider is `base64url(json{a,p,n,e}).base64url(hmac)`:
//! account, provider, nonce and expiry, signed with HMAC-SHA256 under the configured
//! state key. The PKCE verifier never leaves the server: it waits in the connect record,
//! which the callback consumes (a state works once).

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use channels::mailbox::oauth::{self, OAuthHttp, Pkce};
use channels::mailbox::{Mailbox, OAuthApp, Provider};
use channels::{Secret, SendError};
use chrono::{DateTime, Duration, Utc};
use hmac::{Hmac, Mac};
use policy::{AccountId, FieldError, MailboxId, MailboxStatus, ValidationErrors};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::Sha256;
use store::{Index, Item, Key, Query};

use crate::Engine;
use crate::error::ServiceError;
use crate::records::{self, Versioned};
use crate::repository::Repository;
use crate::sealing::{Sealed, Sealer};

/// How long a connect may take, from the authorization URL to the callback.
pub const STATE_TTL: Duration = Duration::minutes(10);

pub const MAILBOX_PREFIX: &str = "MAILBOX#";
const CONNECT_PREFIX: &str = "MBCONNECT#";

/// The OAuth clients and where the provider sends the user back.
#[derive(Clone)]
pub struct MailboxConfig {
    /// The providers with an OAuth client configured.
    pub apps: HashMap<Provider, OAuthApp>,
    /// The API's public base URL (`https://api.example.com`): the redirect URI is
    /// `{public_url}/v1/mailboxes/{provider}/callback`, registered with the provider.
    pub public_url: String,
    /// Signs the `state` (32 bytes or more of randomness).
    pub state_key: Secret,
}

impl MailboxConfig {
    pub fn redirect_uri(&self, provider: Provider) -> String {
        format!(
            "{}/v1/mailboxes/{}/callback",
            self.public_url.trim_end_matches('/'),
            provider.as_str()
        )
    }
}

/// What connecting needs besides the records: the configuration, the sealer and an
/// HTTP client for the token endpoints.
pub struct Mailboxes {
    pub config: MailboxConfig,
    pub sealer: Arc<dyn Sealer>,
    http: OAuthHttp,
}

impl Mailboxes {
    pub fn new(config: MailboxConfig, sealer: Arc<dyn Sealer>) -> Self {
        Mailboxes {
            config,
            sealer,
            http: OAuthHttp::default(),
        }
    }
}

impl fmt::Debug for Mailboxes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mailboxes")
            .field("providers", &self.config.apps.keys().collect::<Vec<_>>())
            .field("public_url", &self.config.public_url)
            .finish_non_exhaustive()
    }
}

/// A mailbox as stored (the refresh token sealed).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredMailbox {
    pub id: MailboxId,
    pub provider: Provider,
    pub address: String,
    pub status: MailboxStatus,
    pub connected_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disconnected_at: Option<DateTime<Utc>>,
    /// Why it was disconnected: the provider's words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_detail: Option<String>,
    pub refresh_token: Sealed,
}

/// A mailbox as the API shows it: never its token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MailboxView {
    pub id: MailboxId,
    pub provider: Provider,
    pub address: String,
    pub status: MailboxStatus,
    pub connected_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disconnected_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_detail: Option<String>,
}

impl From<&StoredMailbox> for MailboxView {
    fn from(m: &StoredMailbox) -> Self {
        MailboxView {
            id: m.id.clone(),
            provider: m.provider,
            address: m.address.clone(),
            status: m.status,
            connected_at: m.connected_at,
            disconnected_at: m.disconnected_at,
            status_detail: m.status_detail.clone(),
        }
    }
}

/// The start of a connect: where to send the user.
#[derive(Debug, Clone, Serialize)]
pub struct ConnectStart {
    pub provider: Provider,
    pub authorization_url: String,
    pub redirect_uri: String,
    pub expires_at: DateTime<Utc>,
}

#[derive(Serialize, Deserialize)]
struct StatePayload {
    a: String,
    p: Provider,
    n: String,
    e: i64,
}

pub fn mailbox_key(account: &AccountId, id: &MailboxId) -> Key {
    Key::new(
        records::account_pk(account),
        format!("{MAILBOX_PREFIX}{id}"),
    )
}

fn connect_key(account: &AccountId, nonce: &str) -> Key {
    Key::new(
        records::account_pk(account),
        format!("{CONNECT_PREFIX}{nonce}"),
    )
}

/// What the sealed refresh token is bound to: its record.
pub fn token_context(account: &AccountId, id: &MailboxId) -> String {
    format!("{}|{MAILBOX_PREFIX}{id}", records::account_pk(account))
}

fn sign(key: &Secret, payload: &str) -> Result<Hmac<Sha256>, ServiceError> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key.expose().as_bytes())
        .map_err(|_| ServiceError::Internal("the state key is unusable".into()))?;
    mac.update(payload.as_bytes());
    Ok(mac)
}

/// The signed state for `payload`.
fn encode_state(key: &Secret, payload: &StatePayload) -> Result<String, ServiceError> {
    let json =
        serde_json::to_vec(payload).map_err(|e| ServiceError::Internal(format!("state: {e}")))?;
    let body = URL_SAFE_NO_PAD.encode(json);
    let tag = sign(key, &body)?.finalize().into_bytes();
    Ok(format!("{body}.{}", URL_SAFE_NO_PAD.encode(tag)))
}

fn bad_state(why: &str) -> ServiceError {
    ServiceError::Invalid(FieldError::new("state", why).into())
}

/// The payload of a state whose signature holds and whose time has not run out.
fn decode_state(
    key: &Secret,
    state: &str,
    now: DateTime<Utc>,
) -> Result<StatePayload, ServiceError> {
    let (body, tag) = state
        .split_once('.')
        .ok_or_else(|| bad_state("is not a state this API issued"))?;
    let tag = URL_SAFE_NO_PAD
        .decode(tag)
        .map_err(|_| bad_state("is not a state this API issued"))?;
    sign(key, body)?
        .verify_slice(&tag)
        .map_err(|_| bad_state("has a bad signature"))?;
    let payload: StatePayload = URL_SAFE_NO_PAD
        .decode(body)
        .ok()
        .and_then(|json| serde_json::from_slice(&json).ok())
        .ok_or_else(|| bad_state("is not a state this API issued"))?;
    if payload.e <= now.timestamp() {
        return Err(bad_state("has expired; connect again"));
    }
    Ok(payload)
}

fn random_hex() -> Result<String, ServiceError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|_| ServiceError::Internal("no randomness".into()))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// A provider's failure during the connect, as the API reports it.
fn connect_error(error: SendError) -> ServiceError {
    match error {
        SendError::Retryable { reason } | SendError::Unknown { reason } => {
            ServiceError::Internal(format!("the provider is unavailable: {reason}"))
        }
        SendError::Permanent { reason, .. } => ServiceError::Invalid(
            FieldError::new("code", format!("the provider refused it: {reason}")).into(),
        ),
        SendError::OptedOut => ServiceError::Internal("unexpected provider answer".into()),
    }
}

impl Engine {
    fn mailboxes(&self) -> Result<&Mailboxes, ServiceError> {
        self.mailboxes
            .as_deref()
            .ok_or_else(|| ServiceError::Conflict("connected mailboxes are not configured".into()))
    }

    fn provider_app(&self, provider: &str) -> Result<(&Mailboxes, &OAuthApp), ServiceError> {
        let parsed = Provider::parse(provider).ok_or_else(|| {
            ServiceError::Invalid(FieldError::new("provider", "must be google or microsoft").into())
        })?;
        let mailboxes = self.mailboxes()?;
        let app = mailboxes.config.apps.get(&parsed).ok_or_else(|| {
            ServiceError::Conflict(format!("no OAuth client is configured for {provider}"))
        })?;
        Ok((mailboxes, app))
    }

    /// Starts connecting a mailbox: the provider's authorization URL, with a signed
    /// state that expires in [`STATE_TTL`].
    pub async fn connect_mailbox(
        &self,
        account: &AccountId,
        provider: &str,
    ) -> Result<ConnectStart, ServiceError> {
        let (mailboxes, app) = self.provider_app(provider)?;
        let now = self.clock.now();
        let expires_at = now + STATE_TTL;
        let nonce = random_hex()?;
        let pkce = Pkce::generate().map_err(connect_error)?;
        let state = encode_state(
            &mailboxes.config.state_key,
            &StatePayload {
                a: account.to_string(),
                p: app.provider,
                n: nonce.clone(),
                e: expires_at.timestamp(),
            },
        )?;
        let mut attrs = store::Attrs::new();
        attrs.insert("provider".into(), json!(app.provider));
        attrs.insert("verifier".into(), json!(pkce.verifier.expose()));
        attrs.insert(store::EXPIRES_AT.into(), json!(expires_at.timestamp()));
        self.repo
            .put_new_item(Item::new(connect_key(account, &nonce), attrs))
            .await?;
        let redirect_uri = mailboxes.config.redirect_uri(app.provider);
        let authorization_url =
            oauth::authorization_url(app, &redirect_uri, &state, &pkce.challenge)
                .map_err(connect_error)?;
        Ok(ConnectStart {
            provider: app.provider,
            authorization_url,
            redirect_uri,
            expires_at,
        })
    }

    /// The provider's redirect back: checks the state, consumes the connect, exchanges
    /// the code (with the PKCE verifier), learns the address and stores the mailbox
    /// with its refresh token sealed. Connecting an address again replaces its token.
    pub async fn finish_mailbox_connect(
        &self,
        provider: &str,
        code: Option<&str>,
        state: Option<&str>,
        provider_error: Option<&str>,
    ) -> Result<MailboxView, ServiceError> {
        let (mailboxes, app) = self.provider_app(provider)?;
        let state = state.ok_or_else(|| bad_state("is required"))?;
        let payload = decode_state(&mailboxes.config.state_key, state, self.clock.now())?;
        if payload.p != app.provider {
            return Err(bad_state("was issued for another provider"));
        }
        let account = AccountId::parse("state", &payload.a).map_err(ValidationErrors::from)?;
        let verifier = self.consume_connect(&account, &payload.n).await?;
        if let Some(error) = provider_error {
            return Err(ServiceError::Invalid(
                FieldError::new(
                    "error",
                    format!("the provider answered {error:?}; nothing was connected"),
                )
                .into(),
            ));
        }
        let code = code
            .filter(|c| !c.is_empty())
            .ok_or_else(|| ServiceError::Invalid(FieldError::new("code", "is required").into()))?;
        let redirect_uri = mailboxes.config.redirect_uri(app.provider);
        let tokens = oauth::exchange_code(&mailboxes.http, app, code, &verifier, &redirect_uri)
            .await
            .map_err(connect_error)?;
        let refresh_token = tokens.refresh_token.ok_or_else(|| {
            ServiceError::Invalid(
                FieldError::new(
                    "code",
                    "the provider granted no offline access (no refresh token)",
                )
                .into(),
            )
        })?;
        let address = oauth::mailbox_address(&mailboxes.http, app, &tokens.access_token)
            .await
            .map_err(connect_error)?;
        let existing = self.repo.mailboxes(&account).await?.into_iter().find(|m| {
            m.value.provider == app.provider && m.value.address.eq_ignore_ascii_case(&address)
        });
        let id = match &existing {
            Some(m) => m.value.id.clone(),
            None => MailboxId::parse("mailbox_id", &format!("mb_{}", random_hex()?))
                .map_err(ValidationErrors::from)?,
        };
        let sealed = mailboxes
            .sealer
            .seal(
                refresh_token.expose().as_bytes(),
                &token_context(&account, &id),
            )
            .await?;
        let mailbox = StoredMailbox {
            id: id.clone(),
            provider: app.provider,
            address,
            status: MailboxStatus::Connected,
            connected_at: self.clock.now(),
            disconnected_at: None,
            status_detail: None,
            refresh_token: sealed,
        };
        self.repo
            .put_record(mailbox_key(&account, &id), &mailbox, None)
            .await?;
        tracing::info!(account_id = %account, mailbox_id = %id, provider = app.provider.as_str(), "mailbox connected");
        Ok(MailboxView::from(&mailbox))
    }

    /// The verifier of a connect in progress, deleting it so the state works once.
    async fn consume_connect(
        &self,
        account: &AccountId,
        nonce: &str,
    ) -> Result<Secret, ServiceError> {
        let key = connect_key(account, nonce);
        let used = || bad_state("was already used or has expired; connect again");
        let item = self.repo.take_item(key).await?.ok_or_else(used)?;
        item.attrs
            .get("verifier")
            .and_then(|v| v.as_str())
            .map(Secret::new)
            .ok_or_else(|| ServiceError::Internal("a connect record has no verifier".into()))
    }

    pub async fn list_mailboxes(
        &self,
        account: &AccountId,
    ) -> Result<Vec<MailboxView>, ServiceError> {
        Ok(self
            .repo
            .mailboxes(account)
            .await?
            .iter()
            .map(|m| MailboxView::from(&m.value))
            .collect())
    }

    pub async fn delete_mailbox(
        &self,
        account: &AccountId,
        id: &MailboxId,
    ) -> Result<(), ServiceError> {
        match self
            .repo
            .delete_record(mailbox_key(account, id), None)
            .await
        {
            Err(ServiceError::NotFound(_)) => Err(ServiceError::NotFound("mailbox")),
            other => other,
        }
    }

    /// Refuses campaign settings whose email or missed-call email names a mailbox that
    /// does not exist or is disconnected (400 naming the field).
    pub async fn check_email_senders(
        &self,
        account: &AccountId,
        settings: &policy::CampaignSettings,
    ) -> Result<(), ServiceError> {
        let mut errors = Vec::new();
        for (field, sender) in [
            ("email.sender", &settings.email.sender),
            (
                "missed_call_email.sender",
                &settings.missed_call_email.sender,
            ),
        ] {
            let Some(id) = sender.mailbox() else { continue };
            match self.repo.mailbox(account, id).await? {
                None => errors.push(FieldError::new(
                    field,
                    "names no connected mailbox of this account",
                )),
                Some(m) if m.value.status != MailboxStatus::Connected => errors.push(
                    FieldError::new(field, "names a disconnected mailbox; connect it again"),
                ),
                Some(_) => {}
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(ServiceError::Invalid(ValidationErrors(errors)))
        }
    }
}

impl Repository {
    pub async fn mailbox(
        &self,
        account: &AccountId,
        id: &MailboxId,
    ) -> Result<Option<Versioned<StoredMailbox>>, ServiceError> {
        self.get_record(&mailbox_key(account, id)).await
    }

    /// Every mailbox of the account, in id order.
    pub async fn mailboxes(
        &self,
        account: &AccountId,
    ) -> Result<Vec<Versioned<StoredMailbox>>, ServiceError> {
        let mut query = Query::new(Index::Primary, records::account_pk(account));
        query.sk_prefix = Some(MAILBOX_PREFIX.into());
        let items = store::query_all_pages(self.table(), &query).await?;
        items.iter().map(records::data_from_item).collect()
    }

    /// Saves a changed mailbox over the version it was read at (a concurrent change
    /// wins; the caller's change is then dropped, which is right for both callers:
    /// a disconnect and a rotated token).
    pub async fn save_mailbox(
        &self,
        account: &AccountId,
        old: &Versioned<StoredMailbox>,
        new: &StoredMailbox,
    ) -> Result<(), ServiceError> {
        match self
            .put_record(mailbox_key(account, &new.id), new, Some(old.version))
            .await
        {
            Ok(_) | Err(ServiceError::VersionMismatch { .. } | ServiceError::NotFound(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }
}

/// The mailbox to send from, opened for the sender; `Err` with the reason it cannot
/// send (missing or disconnected).
pub async fn open_mailbox(
    repo: &Repository,
    sealer: &dyn Sealer,
    account: &AccountId,
    id: &MailboxId,
) -> Result<Result<(Versioned<StoredMailbox>, Mailbox), String>, ServiceError> {
    let Some(stored) = repo.mailbox(account, id).await? else {
        return Ok(Err(format!("mailbox {id} no longer exists")));
    };
    if stored.value.status != MailboxStatus::Connected {
        return Ok(Err(format!(
            "mailbox {id} ({}) is disconnected: {}",
            stored.value.address,
            stored
                .value
                .status_detail
                .as_deref()
                .unwrap_or("connect it again")
        )));
    }
    let token = sealer
        .open(&stored.value.refresh_token, &token_context(account, id))
        .await?;
    let token = String::from_utf8(token)
        .map_err(|_| ServiceError::Internal("a sealed refresh token is not text".into()))?;
    let mailbox = Mailbox {
        account_id: account.to_string(),
        id: id.to_string(),
        provider: stored.value.provider,
        address: stored.value.address.clone(),
        refresh_token: Secret::new(token),
    };
    Ok(Ok((stored, mailbox)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(e: i64) -> StatePayload {
        StatePayload {
            a: "acme".into(),
            p: Provider::Google,
            n: "00ff".into(),
            e,
        }
    }

    #[test]
    fn a_state_verifies_until_it_expires_and_not_when_tampered() {
        let key = Secret::new("k".repeat(32));
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let state = encode_state(&key, &payload(now.timestamp() + 600)).unwrap();
        assert_eq!(decode_state(&key, &state, now).unwrap().a, "acme");
        assert!(decode_state(&key, &state, now + Duration::seconds(600)).is_err());
        assert!(decode_state(&Secret::new("other"), &state, now).is_err());
        let (_, tag) = state.split_once('.').unwrap();
        let forged =
            URL_SAFE_NO_PAD.encode(br#"{"a":"evil","p":"google","n":"00ff","e":9999999999}"#);
        assert!(decode_state(&key, &format!("{forged}.{tag}"), now).is_err());
        assert!(decode_state(&key, "garbage", now).is_err());
    }
}
