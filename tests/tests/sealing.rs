//! The KMS envelope sealer of connected mailboxes' refresh tokens, against moto's KMS
//! on loopback: a fresh data key per seal, the wrapped key stored beside the
//! ciphertext, and the record's key as the encryption context, so a sealed token opens
//! in its own record only.

use service::sealing::{KmsSealer, Sealed, Sealer};

const RECORD: &str = "A#acme|MAILBOX#mb_0123456789abcdef0123456789abcdef";
const TOKEN: &[u8] = b"1//0refresh-token-of-the-mailbox";

async fn sealer() -> KmsSealer {
    let sdk = testkit::Moto::shared().sdk_config();
    let kms = aws_sdk_kms::Client::new(&sdk);
    let key = kms
        .create_key()
        .description("mailbox refresh tokens (test)")
        .send()
        .await
        .expect("moto creates a KMS key");
    let key_id = key.key_metadata().expect("key metadata").key_id();
    KmsSealer::new(kms.clone(), key_id)
}

fn decoded(text: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .expect("base64")
}

#[tokio::test]
async fn a_token_sealed_under_a_kms_data_key_opens_in_its_own_record_only() {
    let sealer = sealer().await;
    let sealed = sealer.seal(TOKEN, RECORD).await.unwrap();

    // Stored: the wrapped data key, a nonce, the ciphertext; never the token.
    let wrapped = decoded(sealed.wrapped_key.as_deref().expect("a wrapped key"));
    assert!(wrapped.len() > 32, "the data key is stored wrapped");
    let stored = serde_json::to_string(&sealed).unwrap();
    assert!(!stored.contains("refresh-token"));
    assert!(
        !decoded(&sealed.ciphertext)
            .windows(TOKEN.len())
            .any(|w| w == TOKEN)
    );
    assert_eq!(sealer.open(&sealed, RECORD).await.unwrap(), TOKEN);

    // Every seal asks KMS for a fresh data key.
    let again = sealer.seal(TOKEN, RECORD).await.unwrap();
    assert_ne!(again.wrapped_key, sealed.wrapped_key);
    assert_eq!(sealer.open(&again, RECORD).await.unwrap(), TOKEN);

    // Copied to another record (another account's mailbox), KMS refuses the data key:
    // the record is its encryption context.
    let error = sealer
        .open(
            &sealed,
            "A#globex|MAILBOX#mb_0123456789abcdef0123456789abcdef",
        )
        .await
        .unwrap_err();
    assert!(error.to_string().contains("KMS Decrypt"), "{error}");

    // A ciphertext altered, or put under another value's data key, does not open.
    let mut altered = decoded(&sealed.ciphertext);
    altered[0] ^= 1;
    let tampered = Sealed {
        ciphertext: base64_of(&altered),
        ..sealed.clone()
    };
    assert!(sealer.open(&tampered, RECORD).await.is_err());
    let swapped = Sealed {
        wrapped_key: again.wrapped_key.clone(),
        ..sealed.clone()
    };
    assert!(sealer.open(&swapped, RECORD).await.is_err());
}

fn base64_of(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}
