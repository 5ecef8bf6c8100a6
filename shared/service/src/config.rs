//! Building the engine's parts from the environment, once per process (outside the
//! Lambda handler). Each function reads only the variables it needs; the names are
//! the ones `template.yaml` sets.

use std::sync::Arc;
use std::time::Duration;

use aws_config::SdkConfig;

use crate::cache::{Cache, DEFAULT_TTL};
use crate::repository::Repository;

#[derive(Debug, thiserror::Error)]
#[error("configuration: {0}")]
pub struct ConfigError(pub String);

/// An environment variable, empty counting as unset.
pub fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

pub fn required(name: &str) -> Result<String, ConfigError> {
    env(name).ok_or_else(|| ConfigError(format!("{name} must be set")))
}

/// `SETTINGS_CACHE_SECONDS` (default 30).
pub fn settings_cache() -> Result<Cache, ConfigError> {
    match env("SETTINGS_CACHE_SECONDS") {
        None => Ok(Cache::new(DEFAULT_TTL)),
        Some(raw) => raw
            .parse::<u64>()
            .map(|s| Cache::new(Duration::from_secs(s)))
            .map_err(|_| ConfigError("SETTINGS_CACHE_SECONDS must be a whole number".into())),
    }
}

/// The DynamoDB-backed repository on `TABLE_NAME`.
pub fn dynamodb_repository(sdk: &SdkConfig) -> Result<Arc<Repository>, ConfigError> {
    let table =
        store::DynamoTable::new(aws_sdk_dynamodb::Client::new(sdk), required("TABLE_NAME")?);
    Ok(Arc::new(Repository::new(
        Arc::new(table),
        settings_cache()?,
    )))
}

/// `WEBHOOK_MAX_BODY_BYTES` (default 256 KiB).
pub fn webhook_max_body_bytes() -> Result<usize, ConfigError> {
    match env("WEBHOOK_MAX_BODY_BYTES") {
        None => Ok(256 * 1024),
        Some(raw) => raw
            .parse()
            .map_err(|_| ConfigError("WEBHOOK_MAX_BODY_BYTES must be a number of bytes".into())),
    }
}

/// The EventBridge Scheduler + Lambda adapter of the dispatcher.
pub fn event_bridge_schedules(
    sdk: &SdkConfig,
) -> Result<scheduling::EventBridgeSchedules, ConfigError> {
    let executors = scheduling::Executors {
        sms: required("EXECUTOR_SMS_ARN")?,
        email: required("EXECUTOR_EMAIL_ARN")?,
        whatsapp: required("EXECUTOR_WHATSAPP_ARN")?,
        call: required("EXECUTOR_CALL_ARN")?,
    };
    let settings = scheduling::SchedulerSettings::new(
        env("SCHEDULE_GROUP").unwrap_or_else(|| "default".into()),
        required("SCHEDULER_ROLE_ARN")?,
        executors,
        env("SCHEDULER_DLQ_ARN"),
    );
    Ok(scheduling::EventBridgeSchedules::new(
        aws_sdk_scheduler::Client::new(sdk),
        aws_sdk_lambda::Client::new(sdk),
        settings,
    ))
}

/// The real sender of one channel (`sms`, `email`, `whatsapp` or `call`), configured
/// from the environment (see README, "Lambda functions").
pub fn sender_for(
    channel: &str,
    sdk: &SdkConfig,
) -> Result<Arc<dyn channels::Sender>, ConfigError> {
    let ssm_secrets = || -> Arc<dyn channels::SecretSource> {
        Arc::new(channels::SsmSecrets::new(
            aws_sdk_ssm::Client::new(sdk),
            channels::DEFAULT_SECRET_TTL,
        ))
    };
    Ok(match channel {
        "sms" => Arc::new(channels::SnsSms::new(&aws_sdk_sns::Client::new(sdk))),
        "email" => Arc::new(channels::SesEmail::new(&aws_sdk_sesv2::Client::new(sdk))),
        "whatsapp" => {
            let mut sender = channels::WhatsAppCloud::new(
                required("WHATSAPP_PHONE_NUMBER_ID")?,
                ssm_secrets(),
                required("WHATSAPP_TOKEN_PARAMETER")?,
            );
            if let Some(base) = env("WHATSAPP_API_BASE") {
                sender = sender.with_base_url(base);
            }
            if let Some(version) = env("WHATSAPP_API_VERSION") {
                sender = sender.with_api_version(version);
            }
            Arc::new(sender)
        }
        "call" => call_sender(sdk)?,
        other => {
            return Err(ConfigError(format!(
                "CHANNEL must be sms, email, whatsapp or call, not {other:?}"
            )));
        }
    })
}

/// The call sender: the voice platform an agent names (which also answers the
/// get-call lookups of placed calls), else today's generic endpoint when configured.
pub fn call_sender(sdk: &SdkConfig) -> Result<Arc<channels::PlatformCalls>, ConfigError> {
    let generic: Option<Arc<dyn channels::Sender>> = match env("VOICE_API_URL") {
        Some(url) => Some(Arc::new(channels::VoiceCall::new(
            url,
            Arc::new(channels::SsmSecrets::new(
                aws_sdk_ssm::Client::new(sdk),
                channels::DEFAULT_SECRET_TTL,
            )),
            required("VOICE_API_SECRET_PARAMETER")?,
        ))),
        None => None,
    };
    Ok(Arc::new(
        platform_secrets(sdk).call_sender(platform_apis(), generic),
    ))
}

/// Platform keys and secrets in SSM under `PLATFORM_SECRETS_PREFIX` (default
/// `/followups/platforms`), encrypted with `PLATFORM_SECRETS_KMS_KEY_ID` when set.
pub fn platform_secrets(sdk: &SdkConfig) -> crate::platforms::PlatformSecrets {
    let store = channels::SsmSecretStore::new(
        aws_sdk_ssm::Client::new(sdk),
        env("PLATFORM_SECRETS_KMS_KEY_ID"),
        channels::DEFAULT_SECRET_TTL,
    );
    crate::platforms::PlatformSecrets::new(
        Arc::new(store),
        env("PLATFORM_SECRETS_PREFIX")
            .unwrap_or_else(|| crate::platforms::DEFAULT_SECRET_PREFIX.into()),
    )
}

/// The platforms' API roots: `VAPI_API_BASE`, `RETELL_API_BASE`, `BLAND_API_BASE`,
/// `ELEVENLABS_API_BASE`, each defaulting to the platform's public API.
pub fn platform_apis() -> channels::PlatformApis {
    let defaults = channels::PlatformApis::default();
    channels::PlatformApis {
        vapi: env("VAPI_API_BASE").unwrap_or(defaults.vapi),
        retell: env("RETELL_API_BASE").unwrap_or(defaults.retell),
        bland: env("BLAND_API_BASE").unwrap_or(defaults.bland),
        elevenlabs: env("ELEVENLABS_API_BASE").unwrap_or(defaults.elevenlabs),
    }
}

/// Channel identities from the environment.
pub fn sender_identity() -> crate::execute::SenderIdentity {
    crate::execute::SenderIdentity {
        email_from_address: env("SES_FROM_ADDRESS"),
        email_configuration_set: env("SES_CONFIGURATION_SET"),
        sms_sender_id: env("SMS_SENDER_ID"),
        sms_origination_number: env("SMS_ORIGINATION_NUMBER"),
        public_base_url: env("PUBLIC_BASE_URL"),
    }
}

/// The executor of the channel named by `CHANNEL`, with only that channel's sender.
pub async fn executor_for_channel(
    sdk: &SdkConfig,
) -> Result<crate::execute::Executor, ConfigError> {
    use crate::execute::{Executor, Senders};
    let channel = required("CHANNEL")?;
    let mut senders = Senders::default();
    let mut lookups = None;
    match channel.as_str() {
        "call" => {
            let calls = call_sender(sdk)?;
            senders.call = Some(calls.clone());
            lookups = Some(calls);
        }
        "sms" => senders.sms = Some(sender_for(&channel, sdk)?),
        "email" => senders.email = Some(sender_for(&channel, sdk)?),
        "whatsapp" => senders.whatsapp = Some(sender_for(&channel, sdk)?),
        other => {
            return Err(ConfigError(format!(
                "CHANNEL must be sms, email, whatsapp or call, not {other:?}"
            )));
        }
    }
    let mailboxes = if channel == "email" {
        crate::config_mailboxes::executor_mailboxes(sdk).await?
    } else {
        None
    };
    let mut executor = Executor::new(
        dynamodb_repository(sdk)?,
        senders,
        sender_identity(),
        Arc::new(crate::clock::SystemClock),
    )
    .with_placed_call_wait(placed_call_wait()?);
    if let Some(lookups) = lookups {
        executor = executor.with_call_lookups(lookups);
    }
    if let Some(mailboxes) = mailboxes {
        executor = executor.with_mailboxes(mailboxes);
    }
    Ok(executor)
}

/// `PLACED_CALL_WAIT_MINUTES` (default 120): how long a placed follow-up call waits for
/// its completion webhook before it is looked up on its platform (and, while the
/// platform reports it in progress, between lookups).
pub fn placed_call_wait() -> Result<chrono::Duration, ConfigError> {
    match env("PLACED_CALL_WAIT_MINUTES") {
        None => Ok(crate::execute::DEFAULT_PLACED_CALL_WAIT),
        Some(raw) => raw
            .parse::<u32>()
            .ok()
            .filter(|m| (1..=10_080).contains(m))
            .map(|m| chrono::Duration::minutes(i64::from(m)))
            .ok_or_else(|| {
                ConfigError("PLACED_CALL_WAIT_MINUTES must be 1 to 10080 minutes".into())
            }),
    }
}
