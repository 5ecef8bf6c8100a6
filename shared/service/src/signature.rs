//! Standard Webhooks signatures on the `call.completed` webhook.
//!
//! The voice platform signs `"{webhook-id}.{webhook-timestamp}.{raw body}"` with
//! HMAC-SHA256 and sends `v1,<base64>` in `webhook-signature`; several space-separated
//! signatures may be present so an account can rotate its secret without downtime.
//! Verification is constant-time (through `Mac::verify_slice`), checks the decoded
//! length so an empty or bare `v1,` signature can never match, and refuses timestamps
//! more than [`TOLERANCE_SECONDS`] away from now, which bounds replays.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// How far a `webhook-timestamp` may be from our clock, either way.
pub const TOLERANCE_SECONDS: i64 = 5 * 60;
/// The prefix of every secret's text form.
pub const SECRET_PREFIX: &str = "whsec_";
/// Secrets we create carry this many random bytes (Standard Webhooks asks for 24–64).
pub const SECRET_BYTES: usize = 32;
const MIN_SECRET_BYTES: usize = 24;
const MAX_ID_LEN: usize = 256;
const SIGNATURE_LEN: usize = 32;

/// A signing secret's key bytes. Its `Debug` never shows them.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret(Vec<u8>);

impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookSecret(<redacted>)")
    }
}

impl WebhookSecret {
    /// Parses the text form `whsec_<base64>`.
    pub fn parse(text: &str) -> Result<Self, SignatureError> {
        let encoded = text.strip_prefix(SECRET_PREFIX).unwrap_or(text);
        let key = STANDARD
            .decode(encoded)
            .map_err(|_| SignatureError::BadSecret)?;
        if key.len() < MIN_SECRET_BYTES {
            return Err(SignatureError::BadSecret);
        }
        Ok(WebhookSecret(key))
    }

    /// A new random secret and its text form (shown to the operator once).
    pub fn generate() -> Result<(Self, String), SignatureError> {
        let mut key = vec![0u8; SECRET_BYTES];
        getrandom::fill(&mut key).map_err(|_| SignatureError::NoRandomness)?;
        let text = format!("{SECRET_PREFIX}{}", STANDARD.encode(&key));
        Ok((WebhookSecret(key), text))
    }

    fn mac(&self, id: &str, timestamp: &str, body: &[u8]) -> HmacSha256 {
        #[cfg(test)]
        tests::BODY_HASHES.with(|n| n.set(n.get() + 1));
        // HMAC accepts keys of any length; `new_from_slice` cannot fail for it.
        let mut mac = HmacSha256::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.as_bytes());
        mac.update(b".");
        mac.update(body);
        mac
    }

    /// The `webhook-signature` header value for a message (used by senders and tests).
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        let tag = self
            .mac(id, &timestamp.to_string(), body)
            .finalize()
            .into_bytes();
        format!("v1,{}", STANDARD.encode(tag))
    }
}

/// Why a delivery was refused. Every variant is a 401 at the edge, except a missing
/// header, which is a 400 naming it.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SignatureError {
    #[error("missing or empty `{0}` header")]
    MissingHeader(&'static str),
    #[error("`webhook-id` is longer than {MAX_ID_LEN} characters")]
    IdTooLong,
    #[error("`webhook-timestamp` is not a Unix timestamp in seconds")]
    BadTimestamp,
    #[error("`webhook-timestamp` is more than {TOLERANCE_SECONDS} seconds from now")]
    Stale,
    #[error("no signature in `webhook-signature` matches an active secret")]
    NoMatch,
    #[error(
        "a webhook secret must be `whsec_` followed by base64 of at least {MIN_SECRET_BYTES} bytes"
    )]
    BadSecret,
    #[error("the system has no randomness to make a secret")]
    NoRandomness,
}

/// The three Standard Webhooks headers, as received.
#[derive(Debug, Clone, Copy)]
pub struct SignedHeaders<'a> {
    pub id: Option<&'a str>,
    pub timestamp: Option<&'a str>,
    pub signature: Option<&'a str>,
}

/// At most this many entries of `webhook-signature` are looked at (Standard Webhooks
/// senders put one per active secret, so a handful at most); the rest are ignored, so a
/// header stuffed with bogus signatures costs no more than this many comparisons.
pub const MAX_SIGNATURES: usize = 8;

/// A delivery whose headers are well formed and whose timestamp is inside the
/// tolerance: what is left is to find a secret that signed it.
#[derive(Debug, Clone)]
pub struct Delivery<'a> {
    id: &'a str,
    timestamp: &'a str,
    candidates: Vec<[u8; SIGNATURE_LEN]>,
}

impl<'a> Delivery<'a> {
    /// Reads the three headers: cheap (no hashing), and refuses a missing header, a long
    /// id, a timestamp that is not an integer or is outside the tolerance (with
    /// arithmetic that cannot overflow, whatever the header says).
    pub fn parse(headers: SignedHeaders<'a>, now_unix: i64) -> Result<Self, SignatureError> {
        let present = |v: Option<&'a str>, name| {
            v.map(str::trim)
                .filter(|v| !v.is_empty())
                .ok_or(SignatureError::MissingHeader(name))
        };
        let id = present(headers.id, "webhook-id")?;
        let timestamp = present(headers.timestamp, "webhook-timestamp")?;
        let signatures = present(headers.signature, "webhook-signature")?;
        if id.len() > MAX_ID_LEN {
            return Err(SignatureError::IdTooLong);
        }
        let sent_at: i64 = timestamp
            .parse()
            .map_err(|_| SignatureError::BadTimestamp)?;
        if now_unix.abs_diff(sent_at) > TOLERANCE_SECONDS.unsigned_abs() {
            return Err(SignatureError::Stale);
        }
        let candidates = signatures
            .split(' ')
            .filter(|s| !s.is_empty())
            .take(MAX_SIGNATURES)
            .filter_map(|s| s.strip_prefix("v1,"))
            .filter_map(|b64| STANDARD.decode(b64).ok())
            .filter_map(|tag| <[u8; SIGNATURE_LEN]>::try_from(tag).ok())
            .collect();
        Ok(Delivery {
            id,
            timestamp,
            candidates,
        })
    }

    /// The `webhook-id`.
    pub fn id(&self) -> &'a str {
        self.id
    }

    /// Whether `secret` signed this delivery: the body is hashed once, whatever the
    /// number of candidate signatures, and each is compared in constant time.
    pub fn signed_by(&self, secret: &WebhookSecret, body: &[u8]) -> bool {
        if self.candidates.is_empty() {
            return false;
        }
        let expected = secret.mac(self.id, self.timestamp, body).finalize();
        self.candidates
            .iter()
            .any(|tag| expected == hmac::digest::CtOutput::new((*tag).into()))
    }

    /// Whether any of `secrets` signed this delivery.
    pub fn signed_by_any<'s>(
        &self,
        secrets: impl IntoIterator<Item = &'s WebhookSecret>,
        body: &[u8],
    ) -> bool {
        secrets
            .into_iter()
            .any(|secret| self.signed_by(secret, body))
    }
}

/// Verifies a delivery against every active secret; returns the `webhook-id`.
pub fn verify<'a>(
    secrets: &[WebhookSecret],
    headers: SignedHeaders<'a>,
    body: &[u8],
    now_unix: i64,
) -> Result<&'a str, SignatureError> {
    let delivery = Delivery::parse(headers, now_unix)?;
    if delivery.signed_by_any(secrets, body) {
        Ok(delivery.id())
    } else {
        Err(SignatureError::NoMatch)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    thread_local! {
        /// How many times this thread hashed a body (`WebhookSecret::mac`).
        pub(crate) static BODY_HASHES: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    }

    pub(crate) fn body_hashes_during<R>(f: impl FnOnce() -> R) -> (R, usize) {
        let before = BODY_HASHES.with(std::cell::Cell::get);
        let result = f();
        (result, BODY_HASHES.with(std::cell::Cell::get) - before)
    }

    const NOW: i64 = 1_800_000_000;
    const BODY: &[u8] = br#"{"type":"call.completed"}"#;

    fn secret() -> WebhookSecret {
        WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap()
    }

    fn headers<'a>(id: &'a str, ts: &'a str, sig: &'a str) -> SignedHeaders<'a> {
        SignedHeaders {
            id: Some(id),
            timestamp: Some(ts),
            signature: Some(sig),
        }
    }

    #[test]
    fn a_correct_signature_is_accepted_and_yields_the_webhook_id() {
        let sig = secret().sign("msg_1", NOW, BODY);
        let ts = NOW.to_string();
        assert_eq!(
            verify(&[secret()], headers("msg_1", &ts, &sig), BODY, NOW),
            Ok("msg_1")
        );
    }

    #[test]
    fn the_standard_webhooks_reference_vector_verifies() {
        // The example from the Standard Webhooks specification.
        let secret = WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let body = br#"{"test": 2432232314}"#;
        let sig = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
        let h = headers("msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330", sig);
        assert!(verify(&[secret], h, body, 1614265330).is_ok());
    }

    #[test]
    fn any_of_several_signatures_may_match_so_secrets_can_rotate() {
        let old = WebhookSecret::generate().unwrap().0;
        let new = secret();
        let sig = format!("{} {}", old.sign("m", NOW, BODY), new.sign("m", NOW, BODY));
        let ts = NOW.to_string();
        assert!(
            verify(
                std::slice::from_ref(&new),
                headers("m", &ts, &sig),
                BODY,
                NOW
            )
            .is_ok()
        );
        assert!(verify(&[old, new], headers("m", &ts, &sig), BODY, NOW).is_ok());
    }

    #[test]
    fn empty_bare_and_truncated_signatures_never_pass() {
        let ts = NOW.to_string();
        let full = secret().sign("m", NOW, BODY);
        let truncated = &full[..full.len() - 8];
        for sig in ["v1,", "v1", "v1, ", "v2,abc", "v1,AAAA", truncated] {
            assert_eq!(
                verify(&[secret()], headers("m", &ts, sig), BODY, NOW),
                Err(SignatureError::NoMatch),
                "{sig:?}"
            );
        }
        let h = SignedHeaders {
            id: Some("m"),
            timestamp: Some(&ts),
            signature: Some(""),
        };
        assert_eq!(
            verify(&[secret()], h, BODY, NOW),
            Err(SignatureError::MissingHeader("webhook-signature"))
        );
    }

    #[test]
    fn a_changed_body_id_or_timestamp_breaks_the_signature() {
        let sig = secret().sign("m", NOW, BODY);
        let ts = NOW.to_string();
        assert!(verify(&[secret()], headers("m", &ts, &sig), b"{}", NOW).is_err());
        assert!(verify(&[secret()], headers("n", &ts, &sig), BODY, NOW).is_err());
        let later = (NOW + 1).to_string();
        assert!(verify(&[secret()], headers("m", &later, &sig), BODY, NOW).is_err());
    }

    #[test]
    fn timestamps_beyond_five_minutes_either_way_are_refused() {
        for sent in [NOW - TOLERANCE_SECONDS - 1, NOW + TOLERANCE_SECONDS + 1] {
            let sig = secret().sign("m", sent, BODY);
            let ts = sent.to_string();
            assert_eq!(
                verify(&[secret()], headers("m", &ts, &sig), BODY, NOW),
                Err(SignatureError::Stale)
            );
        }
        let sent = NOW - TOLERANCE_SECONDS;
        let sig = secret().sign("m", sent, BODY);
        let ts = sent.to_string();
        assert!(verify(&[secret()], headers("m", &ts, &sig), BODY, NOW).is_ok());
    }

    #[test]
    fn no_active_secret_means_nothing_verifies() {
        let sig = secret().sign("m", NOW, BODY);
        let ts = NOW.to_string();
        assert_eq!(
            verify(&[], headers("m", &ts, &sig), BODY, NOW),
            Err(SignatureError::NoMatch)
        );
    }

    #[test]
    fn secrets_are_random_long_enough_and_never_shown_in_debug() {
        let (a, text) = WebhookSecret::generate().unwrap();
        let (b, _) = WebhookSecret::generate().unwrap();
        assert_ne!(a, b);
        assert!(text.starts_with(SECRET_PREFIX));
        assert_eq!(WebhookSecret::parse(&text).unwrap(), a);
        assert_eq!(format!("{a:?}"), "WebhookSecret(<redacted>)");
        assert_eq!(
            WebhookSecret::parse("whsec_c2hvcnQ="),
            Err(SignatureError::BadSecret)
        );
    }

    #[test]
    fn an_extreme_timestamp_is_stale_and_never_overflows() {
        let sig = secret().sign("m", NOW, BODY);
        for now in [NOW, i64::MIN, i64::MAX, 0] {
            for ts in [
                i64::MIN.to_string(),
                i64::MAX.to_string(),
                (i64::MIN + 1).to_string(),
                "-0".to_string(),
            ] {
                let result = verify(&[secret()], headers("m", &ts, &sig), BODY, now);
                assert!(
                    matches!(result, Err(SignatureError::Stale | SignatureError::NoMatch)),
                    "now {now}, timestamp {ts}: {result:?}"
                );
            }
        }
        // One past i64's range is not a timestamp at all.
        let ts = "9223372036854775808";
        assert_eq!(
            verify(&[secret()], headers("m", ts, &sig), BODY, NOW),
            Err(SignatureError::BadTimestamp)
        );
    }

    #[test]
    fn the_body_is_hashed_once_per_secret_however_many_signatures_the_header_holds() {
        let bogus = format!("v1,{}", STANDARD.encode([7u8; SIGNATURE_LEN]));
        let header = vec![bogus.as_str(); 1_000].join(" ");
        let secrets = [secret(), WebhookSecret::generate().unwrap().0];
        let ts = NOW.to_string();
        let (result, hashes) =
            body_hashes_during(|| verify(&secrets, headers("m", &ts, &header), BODY, NOW));
        assert_eq!(result, Err(SignatureError::NoMatch));
        assert_eq!(hashes, secrets.len());
        // A header with no well-formed candidate costs no hashing at all.
        let junk = vec!["v1,!!"; 1_000].join(" ");
        let (result, hashes) =
            body_hashes_during(|| verify(&secrets, headers("m", &ts, &junk), BODY, NOW));
        assert_eq!(result, Err(SignatureError::NoMatch));
        assert_eq!(hashes, 0);
    }

    #[test]
    fn only_the_first_signatures_of_a_header_are_examined() {
        let good = secret().sign("m", NOW, BODY);
        let bogus = format!("v1,{}", STANDARD.encode([7u8; SIGNATURE_LEN]));
        let ts = NOW.to_string();
        let with_good_at = |position: usize| {
            let mut entries = vec![bogus.clone(); position - 1];
            entries.push(good.clone());
            entries.join(" ")
        };
        let last_examined = with_good_at(MAX_SIGNATURES);
        assert_eq!(
            verify(&[secret()], headers("m", &ts, &last_examined), BODY, NOW),
            Ok("m")
        );
        let beyond = with_good_at(MAX_SIGNATURES + 1);
        assert_eq!(
            verify(&[secret()], headers("m", &ts, &beyond), BODY, NOW),
            Err(SignatureError::NoMatch)
        );
    }
}
