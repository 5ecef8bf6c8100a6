//! Secrets the engine keeps for a user (a mailbox's refresh token): sealed with
//! AES-256-GCM before they reach the table, never stored or returned in clear.
//!
//! On AWS the key is a KMS data key (envelope encryption: `GenerateDataKey` for every
//! seal, the wrapped key stored beside the ciphertext, `Decrypt` to open); in the local
//! runtime a 32-byte key file in the data directory. Either way the record's key is the
//! additional authenticated data (and the KMS encryption context), so a sealed value
//! copied to another record does not open.

use std::fmt;
use std::path::Path;

use aes_gcm::aead::{Aead, Payload};
use aes_gcm::{Aes256Gcm, Key, KeyInit, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};

use crate::error::ServiceError;

/// A sealed value as stored: base64 of the nonce and the ciphertext (with its tag),
/// and, under KMS, of the wrapped data key.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sealed {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wrapped_key: Option<String>,
    pub nonce: String,
    pub ciphertext: String,
}

impl fmt::Debug for Sealed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Sealed(..)")
    }
}

/// Seals and opens values bound to `context` (the record they live in).
#[async_trait::async_trait]
pub trait Sealer: Send + Sync {
    async fn seal(&self, plaintext: &[u8], context: &str) -> Result<Sealed, ServiceError>;
    async fn open(&self, sealed: &Sealed, context: &str) -> Result<Vec<u8>, ServiceError>;
}

fn internal(what: &str) -> ServiceError {
    ServiceError::Internal(format!("sealing: {what}"))
}

fn aead_seal(
    key: &[u8],
    plaintext: &[u8],
    context: &str,
) -> Result<(String, String), ServiceError> {
    let cipher = Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(key));
    let mut nonce = [0u8; 12];
    getrandom::fill(&mut nonce).map_err(|_| internal("no randomness"))?;
    let ciphertext = cipher
        .encrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: plaintext,
                aad: context.as_bytes(),
            },
        )
        .map_err(|_| internal("encryption failed"))?;
    Ok((STANDARD.encode(nonce), STANDARD.encode(ciphertext)))
}

fn aead_open(key: &[u8], sealed: &Sealed, context: &str) -> Result<Vec<u8>, ServiceError> {
    let nonce = STANDARD
        .decode(&sealed.nonce)
        .ok()
        .filter(|n| n.len() == 12)
        .ok_or_else(|| internal("a sealed value has a bad nonce"))?;
    let ciphertext = STANDARD
        .decode(&sealed.ciphertext)
        .map_err(|_| internal("a sealed value is not base64"))?;
    let cipher = Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(key));
    cipher
        .decrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: &ciphertext,
                aad: context.as_bytes(),
            },
        )
        .map_err(|_| internal("a sealed value does not open (wrong key or record)"))
}

/// The local runtime's sealer: one key, kept in a file.
pub struct LocalSealer {
    key: [u8; 32],
}

impl LocalSealer {
    /// Reads the key at `path`, creating it (32 random bytes, owner-only) if missing.
    pub fn from_file(path: &Path) -> std::io::Result<LocalSealer> {
        match std::fs::read(path) {
            Ok(bytes) => {
                let key = <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| {
                    std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        format!("{} must hold exactly 32 bytes", path.display()),
                    )
                })?;
                Ok(LocalSealer { key })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut key = [0u8; 32];
                getrandom::fill(&mut key).map_err(|e| std::io::Error::other(e.to_string()))?;
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir)?;
                }
                write_owner_only(path, &key)?;
                Ok(LocalSealer { key })
            }
            Err(e) => Err(e),
        }
    }

    /// A key given directly (tests).
    pub fn with_key(key: [u8; 32]) -> LocalSealer {
        LocalSealer { key }
    }
}

#[cfg(unix)]
fn write_owner_only(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(bytes)
}

#[cfg(not(unix))]
fn write_owner_only(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}

impl fmt::Debug for LocalSealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LocalSealer(..)")
    }
}

#[async_trait::async_trait]
impl Sealer for LocalSealer {
    async fn seal(&self, plaintext: &[u8], context: &str) -> Result<Sealed, ServiceError> {
        let (nonce, ciphertext) = aead_seal(&self.key, plaintext, context)?;
        Ok(Sealed {
            wrapped_key: None,
            nonce,
            ciphertext,
        })
    }

    async fn open(&self, sealed: &Sealed, context: &str) -> Result<Vec<u8>, ServiceError> {
        aead_open(&self.key, sealed, context)
    }
}

/// Envelope encryption under a KMS key: a fresh data key per seal.
pub struct KmsSealer {
    client: aws_sdk_kms::Client,
    key_id: String,
}

impl KmsSealer {
    pub fn new(client: aws_sdk_kms::Client, key_id: impl Into<String>) -> Self {
        KmsSealer {
            client,
            key_id: key_id.into(),
        }
    }
}

impl fmt::Debug for KmsSealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KmsSealer")
            .field("key_id", &self.key_id)
            .finish()
    }
}

fn kms_error(what: &str, error: impl std::error::Error) -> ServiceError {
    let mut text = String::new();
    let mut source: Option<&dyn std::error::Error> = Some(&error);
    while let Some(e) = source {
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&e.to_string());
        source = e.source();
    }
    ServiceError::Internal(format!("KMS {what}: {text}"))
}

#[async_trait::async_trait]
impl Sealer for KmsSealer {
    async fn seal(&self, plaintext: &[u8], context: &str) -> Result<Sealed, ServiceError> {
        let output = self
            .client
            .generate_data_key()
            .key_id(&self.key_id)
            .key_spec(aws_sdk_kms::types::DataKeySpec::Aes256)
            .encryption_context("record", context)
            .send()
            .await
            .map_err(|e| kms_error("GenerateDataKey", e))?;
        let key = output
            .plaintext()
            .map(|b| b.as_ref())
            .filter(|k| k.len() == 32)
            .ok_or_else(|| internal("KMS returned no 256-bit data key"))?;
        let wrapped = output
            .ciphertext_blob()
            .ok_or_else(|| internal("KMS returned no wrapped data key"))?;
        let (nonce, ciphertext) = aead_seal(key, plaintext, context)?;
        Ok(Sealed {
            wrapped_key: Some(STANDARD.encode(wrapped.as_ref())),
            nonce,
            ciphertext,
        })
    }

    async fn open(&self, sealed: &Sealed, context: &str) -> Result<Vec<u8>, ServiceError> {
        let wrapped = sealed
            .wrapped_key
            .as_deref()
            .and_then(|k| STANDARD.decode(k).ok())
            .ok_or_else(|| internal("a KMS-sealed value has no wrapped key"))?;
        let output = self
            .client
            .decrypt()
            .key_id(&self.key_id)
            .ciphertext_blob(aws_sdk_kms::primitives::Blob::new(wrapped))
            .encryption_context("record", context)
            .send()
            .await
            .map_err(|e| kms_error("Decrypt", e))?;
        let key = output
            .plaintext()
            .map(|b| b.as_ref())
            .filter(|k| k.len() == 32)
            .ok_or_else(|| internal("KMS returned no 256-bit data key"))?;
        aead_open(key, sealed, context)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_sealed_value_opens_only_with_its_key_and_record() {
        let sealer = LocalSealer::with_key([7; 32]);
        let sealed = sealer
            .seal(b"1//refresh-token", "A#acme|MAILBOX#mb_1")
            .await
            .unwrap();
        assert!(!sealed.ciphertext.contains("refresh"));
        assert!(!format!("{sealed:?}").contains(&sealed.ciphertext));
        assert_eq!(
            sealer.open(&sealed, "A#acme|MAILBOX#mb_1").await.unwrap(),
            b"1//refresh-token"
        );
        assert!(sealer.open(&sealed, "A#other|MAILBOX#mb_1").await.is_err());
        let other = LocalSealer::with_key([8; 32]);
        assert!(other.open(&sealed, "A#acme|MAILBOX#mb_1").await.is_err());
        let again = sealer
            .seal(b"1//refresh-token", "A#acme|MAILBOX#mb_1")
            .await
            .unwrap();
        assert_ne!(again.nonce, sealed.nonce, "a fresh nonce every time");
    }

    #[tokio::test]
    async fn the_key_file_is_created_once_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys/mailbox.key");
        let first = LocalSealer::from_file(&path).unwrap();
        let sealed = first.seal(b"x", "c").await.unwrap();
        let second = LocalSealer::from_file(&path).unwrap();
        assert_eq!(second.open(&sealed, "c").await.unwrap(), b"x");
        std::fs::write(&path, b"short").unwrap();
        assert!(LocalSealer::from_file(&path).is_err());
    }
}
