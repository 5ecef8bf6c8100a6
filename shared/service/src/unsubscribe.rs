//! One-click unsubscribe (RFC 8058) for follow-up emails.
//!
//! Every email carries `List-Unsubscribe: <{base}/v1/unsubscribe/{token}>` and
//! `List-Unsubscribe-Post: List-Unsubscribe=One-Click`. The token is
//! `{base64url(account)}.{follow-up id}.{tag}`, where the tag is HMAC-SHA256 (first 16
//! bytes) over the account, the follow-up and the address it was sent to, keyed by a
//! random per-account key kept in the table. So the URL holds no address, a token is
//! bound to its account and address, cannot be guessed or altered, and one made for
//! another account (or with another key) does not verify.
//!
//! `POST` acts: the address goes on the do-not-call list (source `unsubscribe`) and
//! its pending emails are cancelled. `GET` only shows a page with a button that posts
//! (mail scanners follow links; they must not unsubscribe anyone).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use policy::{AccountId, Destination, DncSource, EmailAddress, FollowUp, FollowUpId, SenderName};
use sha2::Sha256;

use crate::Engine;
use crate::error::ServiceError;
use crate::optout::OptedOut;

/// Bytes of the HMAC kept in a token (128 bits).
const TAG_BYTES: usize = 16;
/// Bytes of an account's unsubscribe key.
pub const KEY_BYTES: usize = 32;
/// The longest token read; longer ones are refused unread.
const MAX_TOKEN_CHARS: usize = 400;

/// The `List-Unsubscribe-Post` value RFC 8058 requires.
pub const ONE_CLICK: &str = "List-Unsubscribe=One-Click";

/// A token that is malformed, altered, foreign or about nothing we sent: 404, so a
/// prober learns nothing.
#[derive(Debug, thiserror::Error)]
pub enum UnsubscribeError {
    #[error("this unsubscribe link is not valid")]
    InvalidToken,
    #[error(transparent)]
    Service(#[from] ServiceError),
}

/// What a valid token is about.
#[derive(Debug, Clone)]
pub struct Unsubscribe {
    pub account: AccountId,
    pub address: EmailAddress,
    /// Whose emails these are, for the page ("Stop emails from …").
    pub sender_name: Option<SenderName>,
}

fn tag(
    key: &[u8],
    account: &AccountId,
    followup: &FollowUpId,
    address: &EmailAddress,
) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    for part in [account.as_str(), followup.as_str(), address.as_str()] {
        mac.update(part.as_bytes());
        mac.update(&[0]);
    }
    mac
}

/// The token for an email of `followup` to `address`.
pub fn token(key: &[u8], followup: &FollowUp, address: &EmailAddress) -> String {
    let account = &followup.account_id;
    let bytes = tag(key, account, &followup.id, address)
        .finalize()
        .into_bytes();
    format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(account.as_str()),
        followup.id,
        URL_SAFE_NO_PAD.encode(&bytes[..TAG_BYTES])
    )
}

/// The two headers of an email of `followup` to `address`.
pub fn headers(
    base_url: &str,
    key: &[u8],
    followup: &FollowUp,
    address: &EmailAddress,
) -> Vec<(String, String)> {
    let url = format!(
        "{}/v1/unsubscribe/{}",
        base_url.trim_end_matches('/'),
        token(key, followup, address)
    );
    vec![
        ("List-Unsubscribe".into(), format!("<{url}>")),
        ("List-Unsubscribe-Post".into(), ONE_CLICK.into()),
    ]
}

/// The parts of a token, unverified.
fn parse(raw: &str) -> Option<(AccountId, FollowUpId, Vec<u8>)> {
    if raw.len() > MAX_TOKEN_CHARS {
        return None;
    }
    let mut parts = raw.split('.');
    let (account, followup, tag) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let account = String::from_utf8(URL_SAFE_NO_PAD.decode(account).ok()?).ok()?;
    let account = AccountId::parse("token", &account).ok()?;
    let followup = FollowUpId::parse("token", followup).ok()?;
    let tag = URL_SAFE_NO_PAD
        .decode(tag)
        .ok()
        .filter(|t| t.len() == TAG_BYTES)?;
    Some((account, followup, tag))
}

impl Engine {
    /// What `token` unsubscribes, when it is valid. Changes nothing.
    pub async fn unsubscribe_target(&self, token: &str) -> Result<Unsubscribe, UnsubscribeError> {
        let (account, followup_id, given) = parse(token).ok_or(UnsubscribeError::InvalidToken)?;
        let key = self.repo.unsubscribe_key(&account, false).await?;
        let followup = self.repo.followup(&account, &followup_id).await?;
        let (Some(key), Some(followup)) = (key, followup) else {
            return Err(UnsubscribeError::InvalidToken);
        };
        let Some(Destination::Email(address)) = followup.value.destination else {
            return Err(UnsubscribeError::InvalidToken);
        };
        tag(&key, &account, &followup_id, &address)
            .verify_truncated_left(&given)
            .map_err(|_| UnsubscribeError::InvalidToken)?;
        let settings = self.account_settings(&account).await?.value;
        Ok(Unsubscribe {
            account,
            address,
            sender_name: settings.default_sender_name,
        })
    }

    /// The one-click unsubscribe: the address goes on the list and its pending emails
    /// are cancelled. Repeating it changes nothing.
    pub async fn unsubscribe(
        &self,
        token: &str,
    ) -> Result<(Unsubscribe, OptedOut), UnsubscribeError> {
        let target = self.unsubscribe_target(token).await?;
        let destination = Destination::Email(target.address.clone());
        let done = self
            .opt_out(&target.account, &destination, DncSource::Unsubscribe)
            .await?;
        Ok((target, done))
    }
}
