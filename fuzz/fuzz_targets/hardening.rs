//! The bodies of the `signature_headers` and `local_clock_body` fuzz targets, as plain
//! functions: cargo-fuzz runs them for long (nightly), and the workspace's test command
//! runs them on a bounded number of generated inputs on stable
//! (`shared/service/tests/fuzz_inputs.rs`, which includes this file).

use service::clock::{MAX_OFFSET, MovableClock};
use service::signature::{self, MAX_SIGNATURES, SignatureError, SignedHeaders, WebhookSecret};

/// A fixed secret (the Standard Webhooks example's).
pub fn secret() -> WebhookSecret {
    WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").expect("a valid secret")
}

/// Clocks the check runs at: an ordinary one and the extremes of `i64`.
const NOWS: [i64; 4] = [1_800_000_000, 0, i64::MIN, i64::MAX];

/// `data` is `id \n timestamp \n signature \n body`. Whatever it holds, verification
/// returns (no panic, no overflow), a delivery verifies only when one of the first
/// [`MAX_SIGNATURES`] entries of its header is the exact signature, and the same headers
/// with the right signature in front always verify when the timestamp is now.
pub fn signature_headers(data: &[u8]) {
    let mut parts = data.splitn(4, |b| *b == b'\n');
    let mut text = || String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
    let (id, timestamp, signatures) = (text(), text(), text());
    let body = data.splitn(4, |b| *b == b'\n').nth(3).unwrap_or_default();
    let secret = secret();
    for now in NOWS {
        let headers = SignedHeaders {
            id: Some(&id),
            timestamp: Some(&timestamp),
            signature: Some(&signatures),
        };
        match signature::verify(std::slice::from_ref(&secret), headers, body, now) {
            Ok(verified) => {
                let sent_at: i64 = timestamp
                    .trim()
                    .parse()
                    .expect("a verified timestamp parses");
                let expected = secret.sign(verified, sent_at, body);
                let examined: Vec<&str> = signatures
                    .trim()
                    .split(' ')
                    .filter(|s| !s.is_empty())
                    .take(MAX_SIGNATURES)
                    .collect();
                assert!(
                    examined.contains(&expected.as_str()),
                    "verified without its signature among the first {MAX_SIGNATURES}"
                );
            }
            Err(SignatureError::BadSecret | SignatureError::NoRandomness) => {
                panic!("verification cannot fail on the secret")
            }
            Err(_) => {}
        }
    }
    // The right signature, first, always verifies at its own timestamp.
    let id = id.trim();
    if id.is_empty() || id.len() > 256 {
        return;
    }
    let now = NOWS[0];
    let signed = format!("{} {signatures}", secret.sign(id, now, body));
    let timestamp = now.to_string();
    let headers = SignedHeaders {
        id: Some(id),
        timestamp: Some(&timestamp),
        signature: Some(&signed),
    };
    assert_eq!(
        signature::verify(std::slice::from_ref(&secret), headers, body, now),
        Ok(id)
    );
}

/// `data` is the body of `POST /v1/local/clock`. Whatever it holds, reading it returns (no
/// panic, no overflow); an accepted move is within `0..=MAX_OFFSET`, moves a fresh clock
/// by exactly that much, and a second move past the bound is refused without changing
/// the clock.
pub fn local_clock_body(data: &[u8]) {
    let raw = String::from_utf8_lossy(data);
    let _ = service::clock::parse_advance(&raw);
    let Ok(body) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    let Ok(by) = service::clock::requested_advance(&body) else {
        return;
    };
    assert!(by >= chrono::Duration::zero() && by <= MAX_OFFSET, "{by}");
    let clock = MovableClock::new();
    assert_eq!(clock.try_advance(by), Ok(by));
    let _ = service::clock::Clock::now(&clock);
    let beyond = MAX_OFFSET - by + chrono::Duration::seconds(1);
    assert!(clock.try_advance(beyond).is_err());
    assert_eq!(clock.offset(), by);
}
