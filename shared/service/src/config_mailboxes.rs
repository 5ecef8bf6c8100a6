//! Connected mailboxes from the environment (see README, "Connected mailboxes").
//!
//! | variable | meaning |
//! |---|---|
//! | `GOOGLE_CLIENT_ID`, `GOOGLE_CLIENT_SECRET_PARAMETER` | Google's OAuth client; the secret is read from SSM |
//! | `MICROSOFT_CLIENT_ID`, `MICROSOFT_CLIENT_SECRET_PARAMETER` | the Microsoft identity platform's; likewise |
//! | `MICROSOFT_TENANT` | `common` unless set (`organizations`, `consumers`, a tenant id) |
//! | `GOOGLE_OAUTH_BASE`, `MICROSOFT_OAUTH_BASE` | a stub serving `/authorize`, `/token`, `/profile`, `/send` instead of the real endpoints |
//! | `OAUTH_STATE_KEY_PARAMETER` | SSM parameter with the key signing the `state` (API only) |
//! | `PUBLIC_BASE_URL` | the API's public base URL, for the redirect URI |
//! | `MAILBOX_KMS_KEY_ID` | the KMS key sealing refresh tokens |

use std::collections::HashMap;
use std::sync::Arc;

use aws_types::SdkConfig;
use channels::mailbox::{Endpoints, OAuthApp, Provider};
use channels::{Secret, SecretSource};

use crate::config::{ConfigError, env, required};
use crate::mailboxes::{MailboxConfig, Mailboxes};
use crate::sealing::KmsSealer;

/// The endpoints of `provider`: the public ones, or a stub's when `{PREFIX}_OAUTH_BASE`
/// is set.
pub fn endpoints(provider: Provider, base: Option<String>, tenant: Option<String>) -> Endpoints {
    if let Some(base) = base {
        return Endpoints::under(&base);
    }
    let mut endpoints = Endpoints::default_for(provider);
    if let (Provider::Microsoft, Some(tenant)) = (provider, tenant) {
        endpoints.authorize = endpoints
            .authorize
            .replace("/common/", &format!("/{tenant}/"));
        endpoints.token = endpoints.token.replace("/common/", &format!("/{tenant}/"));
    }
    endpoints
}

/// The OAuth clients whose id is set (`{GOOGLE,MICROSOFT}_CLIENT_ID`), each with the
/// secret `secret_of` finds for its prefix (`GOOGLE`, `MICROSOFT`) and its endpoints.
pub async fn oauth_apps_with<F, Fut>(
    secret_of: F,
) -> Result<HashMap<Provider, OAuthApp>, ConfigError>
where
    F: Fn(&'static str) -> Fut,
    Fut: Future<Output = Result<Secret, ConfigError>>,
{
    let mut apps = HashMap::new();
    for (provider, prefix) in [
        (Provider::Google, "GOOGLE"),
        (Provider::Microsoft, "MICROSOFT"),
    ] {
        let Some(client_id) = env(&format!("{prefix}_CLIENT_ID")) else {
            continue;
        };
        let client_secret = secret_of(prefix).await?;
        let endpoints = endpoints(
            provider,
            env(&format!("{prefix}_OAUTH_BASE")),
            env("MICROSOFT_TENANT"),
        );
        apps.insert(
            provider,
            OAuthApp {
                provider,
                client_id,
                client_secret,
                endpoints,
            },
        );
    }
    Ok(apps)
}

/// The OAuth clients configured, their secrets read through `secrets` (SSM on AWS)
/// from the parameter `{PREFIX}_CLIENT_SECRET_PARAMETER` names.
pub async fn oauth_apps(
    secrets: &dyn SecretSource,
) -> Result<HashMap<Provider, OAuthApp>, ConfigError> {
    oauth_apps_with(|prefix| async move {
        let parameter = required(&format!("{prefix}_CLIENT_SECRET_PARAMETER"))?;
        secrets
            .get(&parameter)
            .await
            .map_err(|e| ConfigError(format!("{prefix} client secret ({parameter}): {e}")))
    })
    .await
}

fn ssm(sdk: &SdkConfig) -> channels::SsmSecrets {
    channels::SsmSecrets::new(aws_sdk_ssm::Client::new(sdk), channels::DEFAULT_SECRET_TTL)
}

fn kms_sealer(sdk: &SdkConfig) -> Result<Arc<KmsSealer>, ConfigError> {
    Ok(Arc::new(KmsSealer::new(
        aws_sdk_kms::Client::new(sdk),
        required("MAILBOX_KMS_KEY_ID")?,
    )))
}

/// The API's connect flow, when at least one OAuth client is configured.
pub async fn api_mailboxes(sdk: &SdkConfig) -> Result<Option<Arc<Mailboxes>>, ConfigError> {
    let secrets = ssm(sdk);
    let apps = oauth_apps(&secrets).await?;
    if apps.is_empty() {
        return Ok(None);
    }
    let state_parameter = required("OAUTH_STATE_KEY_PARAMETER")?;
    let state_key = secrets
        .get(&state_parameter)
        .await
        .map_err(|e| ConfigError(format!("state key ({state_parameter}): {e}")))?;
    let config = MailboxConfig {
        apps,
        public_url: required("PUBLIC_BASE_URL")?,
        state_key,
    };
    Ok(Some(Arc::new(Mailboxes::new(config, kms_sealer(sdk)?))))
}

/// The email executor's mailbox sending, when at least one OAuth client is configured.
pub async fn executor_mailboxes(
    sdk: &SdkConfig,
) -> Result<Option<crate::execute::MailboxSending>, ConfigError> {
    let apps = oauth_apps(&ssm(sdk)).await?;
    if apps.is_empty() {
        return Ok(None);
    }
    Ok(Some(crate::execute::MailboxSending {
        sender: Arc::new(channels::mailbox::MailboxApi::new(apps.into_values())),
        sealer: kms_sealer(sdk)?,
    }))
}
