//! Where the WhatsApp token and the voice platform's secret come from.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::SendError;
use crate::aws::{Repeat, classify};

/// A secret value. Its `Debug` output is redacted and it has no `Display`, so it cannot
/// reach a log line by accident; [`Secret::expose`] is the one way to read it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Arc<str>);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(Arc::from(value.into()))
    }

    /// The value, for the one header that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// Reads a named secret.
#[async_trait::async_trait]
pub trait SecretSource: Send + Sync {
    /// The current value of the secret called `name`.
    async fn get(&self, name: &str) -> Result<Secret, SendError>;

    /// Drops any cached value of `name`, after the provider rejected it (a rotated
    /// token is then read afresh on the next send).
    async fn forget(&self, _name: &str) {}
}

/// Secrets given at start-up: the local runtime and tests.
#[derive(Clone, Default)]
pub struct StaticSecrets {
    values: HashMap<String, Secret>,
}

impl StaticSecrets {
    pub fn new<N: Into<String>, V: Into<String>>(values: impl IntoIterator<Item = (N, V)>) -> Self {
        StaticSecrets {
            values: values
                .into_iter()
                .map(|(name, value)| (name.into(), Secret::new(value)))
                .collect(),
        }
    }
}

impl fmt::Debug for StaticSecrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut names: Vec<_> = self.values.keys().collect();
        names.sort();
        f.debug_struct("StaticSecrets")
            .field("names", &names)
            .finish()
    }
}

#[async_trait::async_trait]
impl SecretSource for StaticSecrets {
    async fn get(&self, name: &str) -> Result<Secret, SendError> {
        self.values.get(name).cloned().ok_or_else(|| {
            SendError::permanent("secret_missing", format!("no secret named {name}"))
        })
    }
}

/// How long [`SsmSecrets`] serves a value before reading it again, unless told otherwise.
pub const DEFAULT_SECRET_TTL: Duration = Duration::from_secs(5 * 60);

/// SSM Parameter Store `SecureString` parameters (`GetParameter` with decryption),
/// cached in the process for a TTL so a warm Lambda does not read SSM on every send.
pub struct SsmSecrets {
    client: aws_sdk_ssm::Client,
    ttl: Duration,
    cache: Mutex<HashMap<String, (Secret, Instant)>>,
}

impl SsmSecrets {
    /// Values are read again once they are older than `ttl`
    /// ([`DEFAULT_SECRET_TTL`] is a sensible choice).
    pub fn new(client: aws_sdk_ssm::Client, ttl: Duration) -> Self {
        SsmSecrets {
            client,
            ttl,
            cache: Mutex::new(HashMap::new()),
        }
    }

    fn cached(&self, name: &str) -> Option<Secret> {
        let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        cache
            .get(name)
            .filter(|(_, read_at)| read_at.elapsed() < self.ttl)
            .map(|(secret, _)| secret.clone())
    }
}

impl fmt::Debug for SsmSecrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SsmSecrets")
            .field("ttl", &self.ttl)
            .finish()
    }
}

#[async_trait::async_trait]
impl SecretSource for SsmSecrets {
    async fn get(&self, name: &str) -> Result<Secret, SendError> {
        if let Some(secret) = self.cached(name) {
            return Ok(secret);
        }
        let output = self
            .client
            .get_parameter()
            .name(name)
            .with_decryption(true)
            .send()
            .await
            .map_err(|e| {
                if e.as_service_error()
                    .is_some_and(|s| s.is_parameter_not_found())
                {
                    SendError::permanent("secret_missing", format!("no SSM parameter {name}"))
                } else {
                    classify(e, Repeat::Safe)
                }
            })?;
        let value = output.parameter().and_then(|p| p.value()).ok_or_else(|| {
            SendError::permanent(
                "secret_missing",
                format!("SSM parameter {name} has no value"),
            )
        })?;
        let secret = Secret::new(value);
        self.cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(name.to_owned(), (secret.clone(), Instant::now()));
        Ok(secret)
    }

    async fn forget(&self, name: &str) {
        self.cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_show_in_debug_output() {
        let secret = Secret::new("EAAG-very-secret");
        assert!(!format!("{secret:?}").contains("very-secret"));
        let source = StaticSecrets::new([("whatsapp-token", "EAAG-very-secret")]);
        let debug = format!("{source:?}");
        assert!(debug.contains("whatsapp-token"));
        assert!(!debug.contains("very-secret"));
    }

    #[tokio::test]
    async fn a_missing_static_secret_is_a_permanent_failure() {
        let source = StaticSecrets::new([("a", "1")]);
        assert_eq!(
            source.get("a").await.map(|s| s.expose().to_owned()),
            Ok("1".into())
        );
        assert!(matches!(
            source.get("b").await,
            Err(SendError::Permanent { code, .. }) if code == "secret_missing"
        ));
    }
}
