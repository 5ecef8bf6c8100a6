//! Secrets that operators write through the API (a voice platform's API key and
//! webhook secret): SSM Parameter Store `SecureString`s on AWS, files in the data
//! directory locally. Written and deleted, never listed or returned by the API.

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::SendError;
use crate::aws::{Repeat, classify};
use crate::secrets::Secret;

/// A writable store of named secrets.
#[async_trait::async_trait]
pub trait SecretStore: Send + Sync {
    /// The secret called `name`, if any. `fresh` skips any cache (after a signature
    /// that did not verify, so a key changed a moment ago already works).
    async fn read(&self, name: &str, fresh: bool) -> Result<Option<Secret>, SendError>;
    async fn write(&self, name: &str, value: &Secret) -> Result<(), SendError>;
    /// Removes the secret; removing an absent one is not an error.
    async fn remove(&self, name: &str) -> Result<(), SendError>;
}

/// No store configured: reads find nothing, writes fail.
#[derive(Debug, Default)]
pub struct NoSecretStore;

#[async_trait::async_trait]
impl SecretStore for NoSecretStore {
    async fn read(&self, _name: &str, _fresh: bool) -> Result<Option<Secret>, SendError> {
        Ok(None)
    }
    async fn write(&self, _name: &str, _value: &Secret) -> Result<(), SendError> {
        Err(SendError::permanent(
            "no_secret_store",
            "this deployment has no secret store configured",
        ))
    }
    async fn remove(&self, _name: &str) -> Result<(), SendError> {
        Ok(())
    }
}

/// In memory: tests.
#[derive(Default)]
pub struct MemorySecretStore {
    values: Mutex<HashMap<String, Secret>>,
}

impl fmt::Debug for MemorySecretStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MemorySecretStore(<redacted>)")
    }
}

impl MemorySecretStore {
    /// The names stored (never the values).
    pub fn names(&self) -> Vec<String> {
        let values = self.values.lock().unwrap_or_else(|p| p.into_inner());
        let mut names: Vec<String> = values.keys().cloned().collect();
        names.sort();
        names
    }
}

#[async_trait::async_trait]
impl SecretStore for MemorySecretStore {
    async fn read(&self, name: &str, _fresh: bool) -> Result<Option<Secret>, SendError> {
        let values = self.values.lock().unwrap_or_else(|p| p.into_inner());
        Ok(values.get(name).cloned())
    }
    async fn write(&self, name: &str, value: &Secret) -> Result<(), SendError> {
        let mut values = self.values.lock().unwrap_or_else(|p| p.into_inner());
        values.insert(name.to_owned(), value.clone());
        Ok(())
    }
    async fn remove(&self, name: &str) -> Result<(), SendError> {
        let mut values = self.values.lock().unwrap_or_else(|p| p.into_inner());
        values.remove(name);
        Ok(())
    }
}

/// One file per secret in a directory only the owner can read (the local runtime's
/// data directory). Names map to file names injectively (`/` and `_` escaped).
#[derive(Debug)]
pub struct FileSecretStore {
    dir: PathBuf,
}

impl FileSecretStore {
    /// Creates `dir` (mode 0700 on Unix) if needed.
    pub fn open(dir: impl Into<PathBuf>) -> std::io::Result<Self> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))?;
        }
        Ok(Self { dir })
    }

    fn path(&self, name: &str) -> PathBuf {
        let file: String = name
            .chars()
            .flat_map(|c| match c {
                '_' => vec!['_', '_'],
                '/' => vec!['_', 's'],
                ':' => vec!['_', 'c'],
                c if c.is_ascii_alphanumeric() || c == '-' || c == '.' => vec![c],
                _ => vec!['_', 'x'],
            })
            .collect();
        self.dir.join(format!("{file}.secret"))
    }
}

fn io_error(action: &str, e: std::io::Error) -> SendError {
    SendError::permanent(
        "secret_store",
        format!("cannot {action} a secret file: {e}"),
    )
}

#[async_trait::async_trait]
impl SecretStore for FileSecretStore {
    async fn read(&self, name: &str, _fresh: bool) -> Result<Option<Secret>, SendError> {
        match tokio::fs::read_to_string(self.path(name)).await {
            Ok(value) => Ok(Some(Secret::new(value))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_error("read", e)),
        }
    }

    async fn write(&self, name: &str, value: &Secret) -> Result<(), SendError> {
        let path = self.path(name);
        let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
        let mut options = tokio::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        options.mode(0o600);
        let mut file = options.open(&tmp).await.map_err(|e| io_error("write", e))?;
        tokio::io::AsyncWriteExt::write_all(&mut file, value.expose().as_bytes())
            .await
            .map_err(|e| io_error("write", e))?;
        file.sync_all().await.map_err(|e| io_error("write", e))?;
        tokio::fs::rename(&tmp, &path)
            .await
            .map_err(|e| io_error("write", e))
    }

    async fn remove(&self, name: &str) -> Result<(), SendError> {
        match tokio::fs::remove_file(self.path(name)).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_error("remove", e)),
        }
    }
}

/// SSM Parameter Store `SecureString`s (optionally under a customer-managed KMS key),
/// cached in the process for a TTL.
pub struct SsmSecretStore {
    client: aws_sdk_ssm::Client,
    kms_key_id: Option<String>,
    ttl: Duration,
    cache: Mutex<HashMap<String, (Option<Secret>, Instant)>>,
}

impl fmt::Debug for SsmSecretStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SsmSecretStore")
            .field("ttl", &self.ttl)
            .finish()
    }
}

impl SsmSecretStore {
    pub fn new(client: aws_sdk_ssm::Client, kms_key_id: Option<String>, ttl: Duration) -> Self {
        Self {
            client,
            kms_key_id,
            ttl,
            cache: Mutex::new(HashMap::new()),
        }
    }

    fn remember(&self, name: &str, value: Option<Secret>) {
        self.cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(name.to_owned(), (value, Instant::now()));
    }
}

#[async_trait::async_trait]
impl SecretStore for SsmSecretStore {
    async fn read(&self, name: &str, fresh: bool) -> Result<Option<Secret>, SendError> {
        if !fresh {
            let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
            if let Some((value, at)) = cache.get(name).filter(|(_, at)| at.elapsed() < self.ttl) {
                let _ = at;
                return Ok(value.clone());
            }
        }
        let result = self
            .client
            .get_parameter()
            .name(name)
            .with_decryption(true)
            .send()
            .await;
        let value = match result {
            Ok(output) => output.parameter().and_then(|p| p.value()).map(Secret::new),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_parameter_not_found()) =>
            {
                None
            }
            Err(e) => return Err(classify(e, Repeat::Safe)),
        };
        self.remember(name, value.clone());
        Ok(value)
    }

    async fn write(&self, name: &str, value: &Secret) -> Result<(), SendError> {
        let mut put = self
            .client
            .put_parameter()
            .name(name)
            .value(value.expose())
            .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
            .overwrite(true);
        if let Some(key) = &self.kms_key_id {
            put = put.key_id(key);
        }
        put.send().await.map_err(|e| classify(e, Repeat::Safe))?;
        self.remember(name, Some(value.clone()));
        Ok(())
    }

    async fn remove(&self, name: &str) -> Result<(), SendError> {
        match self.client.delete_parameter().name(name).send().await {
            Ok(_) => {}
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_parameter_not_found()) => {}
            Err(e) => return Err(classify(e, Repeat::Safe)),
        }
        self.remember(name, None);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_file_store_writes_owner_only_files_and_maps_names_injectively() {
        let dir = std::env::temp_dir().join(format!("secret-store-{}", uuid_like()));
        let store = FileSecretStore::open(&dir).unwrap();
        store.write("/a/b_c", &Secret::new("one")).await.unwrap();
        store.write("/a_b/c", &Secret::new("two")).await.unwrap();
        assert_eq!(
            store.read("/a/b_c", false).await.unwrap().unwrap().expose(),
            "one"
        );
        assert_eq!(
            store.read("/a_b/c", false).await.unwrap().unwrap().expose(),
            "two"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(store.path("/a/b_c"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "{mode:o}");
        }
        store.remove("/a/b_c").await.unwrap();
        store.remove("/a/b_c").await.unwrap();
        assert!(store.read("/a/b_c", false).await.unwrap().is_none());
        std::fs::remove_dir_all(dir).unwrap();
    }

    fn uuid_like() -> String {
        format!(
            "{}-{:?}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default()
                .as_nanos()
        )
    }
}
