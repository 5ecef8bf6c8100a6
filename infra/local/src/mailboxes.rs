//! Connected mailboxes in the local runtime: OAuth clients from the environment (the
//! secret given directly, `GOOGLE_CLIENT_SECRET` / `MICROSOFT_CLIENT_SECRET`), the
//! providers' endpoints configurable (`GOOGLE_OAUTH_BASE`, `MICROSOFT_OAUTH_BASE`) so a
//! stub can stand in, refresh tokens sealed with a key file in the data directory,
//! and the state signed with another. Mailbox sends land in the outbox, naming the
//! mailbox, unless the runtime sends for real.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use channels::mailbox::{MailboxSend, OAuthApp, Provider};
use channels::{Outbox, Secret};
use service::config::{ConfigError, env};
use service::config_mailboxes::oauth_apps_with;
use service::execute::MailboxSending;
use service::mailboxes::{MailboxConfig, Mailboxes};
use service::sealing::{LocalSealer, Sealer};

use crate::options::SenderKind;

/// The OAuth clients named by `{GOOGLE,MICROSOFT}_CLIENT_ID` and `_CLIENT_SECRET`.
async fn apps() -> Result<HashMap<Provider, OAuthApp>, String> {
    oauth_apps_with(|prefix| async move {
        env(&format!("{prefix}_CLIENT_SECRET"))
            .map(Secret::new)
            .ok_or_else(|| {
                ConfigError(format!(
                    "{prefix}_CLIENT_SECRET must be set with {prefix}_CLIENT_ID"
                ))
            })
    })
    .await
    .map_err(|e| e.to_string())
}

/// What the runtime needs: the connect flow for the API (when a client is
/// configured) and the executor's mailbox sending.
pub struct LocalMailboxes {
    pub connect: Option<Arc<Mailboxes>>,
    pub sending: MailboxSending,
}

/// `public_url` is the base of the OAuth redirect URI (the runtime's public base URL).
pub async fn local_mailboxes(
    dir: &Path,
    public_url: String,
    senders: SenderKind,
    outbox: Arc<Outbox>,
) -> Result<LocalMailboxes, String> {
    let key_path = dir.join("mailbox.key");
    let sealer: Arc<dyn Sealer> = Arc::new(
        LocalSealer::from_file(&key_path)
            .map_err(|e| format!("cannot open {}: {e}", key_path.display()))?,
    );
    let apps = apps().await?;
    let sender: Arc<dyn MailboxSend> = match senders {
        SenderKind::Outbox => outbox,
        SenderKind::Aws => Arc::new(channels::mailbox::MailboxApi::new(apps.values().cloned())),
    };
    let connect = if apps.is_empty() {
        None
    } else {
        let state_key = crate::runtime::remembered(dir, "oauth-state.key", || {
            format!(
                "{}{}",
                uuid::Uuid::new_v4().simple(),
                uuid::Uuid::new_v4().simple()
            )
        })?;
        let config = MailboxConfig {
            apps,
            public_url,
            state_key: Secret::new(state_key),
        };
        Some(Arc::new(Mailboxes::new(config, sealer.clone())))
    };
    Ok(LocalMailboxes {
        connect,
        sending: MailboxSending { sender, sealer },
    })
}
