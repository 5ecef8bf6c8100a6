//! Each platform's own webhook authentication, checked in constant time:
//! - Vapi: the bearer credential (a header the account configured carries the webhook
//!   secret), or Vapi's HMAC plan (algorithm, headers, prefix, payload format,
//!   encoding as configured; timestamps within [`TOLERANCE_SECONDS`]);
//! - Retell: `x-retell-signature: v=<unix ms>,d=<hex HMAC-SHA256(api key, body + ms)>`,
//!   within [`TOLERANCE_SECONDS`];
//! - Bland: `x-webhook-signature: <hex HMAC-SHA256(webhook secret, body)>` (Bland sends
//!   no timestamp, so a replay is stopped by the call id's idempotency instead);
//! - ElevenLabs: `elevenlabs-signature: t=<unix s>,v0=<hex HMAC-SHA256(secret, "t.body")>`,
//!   within [`ELEVENLABS_TOLERANCE_SECONDS`] (the platform's documented 30 minutes).
//!
//! No arithmetic on a request value can overflow: timestamps are compared with
//! `abs_diff` on parsed integers, and signatures of the wrong length never match.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use policy::platform::{HmacAlgorithm, HmacPlan, Platform, SignatureEncoding, VapiAuth};
use sha2::{Digest, Sha256, Sha512};

/// How far a signed timestamp may be from our clock, either way (Vapi HMAC, Retell).
pub const TOLERANCE_SECONDS: u64 = 5 * 60;
/// ElevenLabs' documented window.
pub const ELEVENLABS_TOLERANCE_SECONDS: u64 = 30 * 60;
const MAX_SIGNATURE_HEADER: usize = 1024;

/// A request's headers, names lower-cased.
#[derive(Debug, Clone, Default)]
pub struct RequestHeaders(Vec<(String, String)>);

impl RequestHeaders {
    pub fn new<N: AsRef<str>, V: Into<String>>(pairs: impl IntoIterator<Item = (N, V)>) -> Self {
        Self(
            pairs
                .into_iter()
                .map(|(n, v)| (n.as_ref().to_ascii_lowercase(), v.into()))
                .collect(),
        )
    }

    /// The first value of `name`, trimmed, if present and not empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
    }
}

/// Why a delivery was refused: always 401 at the edge.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("missing or empty `{0}` header")]
    MissingHeader(String),
    #[error("`{0}` is not in the platform's format")]
    Malformed(String),
    #[error("the signed timestamp is too far from now")]
    Stale,
    #[error("the signature or credential does not match")]
    NoMatch,
    #[error("this account has not connected {0} (no key or secret to verify with)")]
    NotConnected(Platform),
}

/// The keys a platform's webhook is verified with.
pub struct Keys<'a> {
    pub api_key: Option<&'a str>,
    pub webhook_secret: Option<&'a str>,
}

/// Verifies one delivery of `platform`.
pub fn verify(
    platform: Platform,
    vapi_auth: Option<&VapiAuth>,
    keys: &Keys<'_>,
    headers: &RequestHeaders,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<(), AuthError> {
    let not_connected = || AuthError::NotConnected(platform);
    match platform {
        Platform::Vapi => {
            let secret = keys.webhook_secret.ok_or_else(not_connected)?;
            match vapi_auth.cloned().unwrap_or_default() {
                VapiAuth::Bearer {
                    header,
                    bearer_prefix,
                } => vapi_bearer(secret, &header, bearer_prefix, headers),
                VapiAuth::Hmac(plan) => vapi_hmac(secret, &plan, headers, body, now),
            }
        }
        Platform::Retell => retell(keys.api_key.ok_or_else(not_connected)?, headers, body, now),
        Platform::Bland => bland(
            keys.webhook_secret.ok_or_else(not_connected)?,
            headers,
            body,
        ),
        Platform::ElevenLabs => elevenlabs(
            keys.webhook_secret.ok_or_else(not_connected)?,
            headers,
            body,
            now,
        ),
    }
}

fn header<'h>(headers: &'h RequestHeaders, name: &str) -> Result<&'h str, AuthError> {
    let value = headers
        .get(name)
        .ok_or_else(|| AuthError::MissingHeader(name.to_owned()))?;
    if value.len() > MAX_SIGNATURE_HEADER {
        return Err(AuthError::Malformed(name.to_owned()));
    }
    Ok(value)
}

/// Constant-time equality of two secrets of any lengths (their digests are compared).
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    let (a, b) = (Sha256::digest(a), Sha256::digest(b));
    let mut diff = 0u8;
    for (x, y) in a.iter().zip(b.iter()) {
        diff |= x ^ y;
    }
    diff == 0
}

fn vapi_bearer(
    secret: &str,
    name: &str,
    bearer_prefix: bool,
    headers: &RequestHeaders,
) -> Result<(), AuthError> {
    let presented = header(headers, name)?;
    let presented = if bearer_prefix {
        match presented.split_once(' ') {
            Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token.trim(),
            _ => return Err(AuthError::Malformed(name.to_owned())),
        }
    } else {
        presented
    };
    if same_secret(presented.as_bytes(), secret.as_bytes()) {
        Ok(())
    } else {
        Err(AuthError::NoMatch)
    }
}

/// A signed timestamp (seconds, or milliseconds when it is that large) within
/// `tolerance` of now.
fn fresh(raw: &str, name: &str, tolerance: u64, now: DateTime<Utc>) -> Result<(), AuthError> {
    let value: i64 = raw
        .parse()
        .map_err(|_| AuthError::Malformed(name.to_owned()))?;
    let seconds = if value.unsigned_abs() > 100_000_000_000 {
        value / 1000
    } else {
        value
    };
    if seconds.abs_diff(now.timestamp()) > tolerance {
        return Err(AuthError::Stale);
    }
    Ok(())
}

fn vapi_hmac(
    secret: &str,
    plan: &HmacPlan,
    headers: &RequestHeaders,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<(), AuthError> {
    let signature = header(headers, &plan.signature_header)?;
    let timestamp = if plan.include_timestamp {
        let raw = header(headers, &plan.timestamp_header)?;
        fresh(raw, &plan.timestamp_header, TOLERANCE_SECONDS, now)?;
        raw
    } else {
        ""
    };
    let message_id = match &plan.message_id_header {
        Some(name) => header(headers, name)?,
        None => "",
    };
    let key = if plan.secret_is_base64 {
        STANDARD
            .decode(secret)
            .map_err(|_| AuthError::NotConnected(Platform::Vapi))?
    } else {
        secret.as_bytes().to_vec()
    };
    let payload = vapi_payload(&plan.payload_format, body, timestamp, message_id);
    let encoded = signature
        .strip_prefix(plan.signature_prefix.as_str())
        .ok_or(AuthError::NoMatch)?;
    let tag = match plan.encoding {
        SignatureEncoding::Hex => decode_hex(encoded),
        SignatureEncoding::Base64 => STANDARD.decode(encoded).ok(),
    }
    .ok_or(AuthError::NoMatch)?;
    let ok = match plan.algorithm {
        HmacAlgorithm::Sha256 => hmac_matches::<Hmac<Sha256>>(&key, &[&payload], &tag),
        HmacAlgorithm::Sha512 => hmac_matches::<Hmac<Sha512>>(&key, &[&payload], &tag),
    };
    if ok { Ok(()) } else { Err(AuthError::NoMatch) }
}

/// The signed text of Vapi's `payloadFormat`.
fn vapi_payload(format: &str, body: &[u8], timestamp: &str, message_id: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + format.len() + 32);
    let mut rest = format;
    while let Some(start) = rest.find('{') {
        out.extend_from_slice(&rest.as_bytes()[..start]);
        let tail = &rest[start..];
        let (value, len): (&[u8], usize) = if tail.starts_with("{body}") {
            (body, 6)
        } else if tail.starts_with("{timestamp}") {
            (timestamp.as_bytes(), 11)
        } else if tail.starts_with("{svix-id}") {
            (message_id.as_bytes(), 9)
        } else if tail.starts_with("{method}") {
            (b"POST", 8)
        } else {
            (b"{", 1)
        };
        out.extend_from_slice(value);
        rest = &tail[len..];
    }
    out.extend_from_slice(rest.as_bytes());
    out
}

fn hmac_matches<M: Mac + hmac::digest::KeyInit>(key: &[u8], parts: &[&[u8]], tag: &[u8]) -> bool {
    let Ok(mut mac) = <M as hmac::digest::KeyInit>::new_from_slice(key) else {
        return false;
    };
    for part in parts {
        mac.update(part);
    }
    // Constant time; a tag of the wrong length never matches.
    mac.verify_slice(tag).is_ok()
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || text.len() > 256 {
        return None;
    }
    let digit = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    text.as_bytes()
        .chunks(2)
        .map(|pair| Some(digit(pair[0])? << 4 | digit(pair[1])?))
        .collect()
}

/// `k1=v1,k2=v2` → the value of `key`.
fn field<'a>(header: &'a str, key: &str) -> Option<&'a str> {
    header
        .split(',')
        .filter_map(|part| part.trim().split_once('='))
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v.trim())
}

fn retell(
    api_key: &str,
    headers: &RequestHeaders,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<(), AuthError> {
    const NAME: &str = "x-retell-signature";
    let value = header(headers, NAME)?;
    let malformed = || AuthError::Malformed(NAME.to_owned());
    let sent_ms = field(value, "v").ok_or_else(malformed)?;
    let digest = field(value, "d").ok_or_else(malformed)?;
    let sent: i64 = sent_ms.parse().map_err(|_| malformed())?;
    if sent.abs_diff(now.timestamp_millis()) > TOLERANCE_SECONDS * 1000 {
        return Err(AuthError::Stale);
    }
    if digest.len() != 64 {
        return Err(AuthError::NoMatch);
    }
    let tag = decode_hex(digest).ok_or(AuthError::NoMatch)?;
    if hmac_matches::<Hmac<Sha256>>(api_key.as_bytes(), &[body, sent_ms.as_bytes()], &tag) {
        Ok(())
    } else {
        Err(AuthError::NoMatch)
    }
}

fn bland(secret: &str, headers: &RequestHeaders, body: &[u8]) -> Result<(), AuthError> {
    let value = header(headers, "x-webhook-signature")?;
    let tag = decode_hex(value).ok_or(AuthError::NoMatch)?;
    if hmac_matches::<Hmac<Sha256>>(secret.as_bytes(), &[body], &tag) {
        Ok(())
    } else {
        Err(AuthError::NoMatch)
    }
}

fn elevenlabs(
    secret: &str,
    headers: &RequestHeaders,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<(), AuthError> {
    const NAME: &str = "elevenlabs-signature";
    let value = header(headers, NAME)?;
    let malformed = || AuthError::Malformed(NAME.to_owned());
    let t = field(value, "t").ok_or_else(malformed)?;
    let v0 = field(value, "v0").ok_or_else(malformed)?;
    let sent: i64 = t.parse().map_err(|_| malformed())?;
    if sent.abs_diff(now.timestamp()) > ELEVENLABS_TOLERANCE_SECONDS {
        return Err(AuthError::Stale);
    }
    let tag = decode_hex(v0).ok_or(AuthError::NoMatch)?;
    if hmac_matches::<Hmac<Sha256>>(secret.as_bytes(), &[t.as_bytes(), b".", body], &tag) {
        Ok(())
    } else {
        Err(AuthError::NoMatch)
    }
}
