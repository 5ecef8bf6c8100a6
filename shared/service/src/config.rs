//! Building the engine's parts from the environment, once per process (outside the
//! Lambda handler). Each function reads only the variables it needs; the names are
//! the ones `template.yaml` sets.

use std::sync::Arc;
use std::time::Duration;

use aws_types::SdkConfig;

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
/// from the environment (see README, "Lambda functions"). For the local runtime and
/// the inbound function; each executor binary builds only its own channel's sender
/// (see [`sms_executor`] and its siblings), so it links only that channel's clients.
pub fn sender_for(
    channel: &str,
    sdk: &SdkConfig,
) -> Result<Arc<dyn channels::Sender>, ConfigError> {
    Ok(match channel {
        "sms" => sms_sender(sdk),
        "email" => email_sender(sdk),
        "whatsapp" => whatsapp_sender(sdk)?,
        "call" => call_sender(sdk)?,
        other => {
            return Err(ConfigError(format!(
                "the channel must be sms, email, whatsapp or call, not {other:?}"
            )));
        }
    })
}

/// SMS through SNS.
pub fn sms_sender(sdk: &SdkConfig) -> Arc<dyn channels::Sender> {
    Arc::new(channels::SnsSms::new(&aws_sdk_sns::Client::new(sdk)))
}

/// Email through SESv2.
pub fn email_sender(sdk: &SdkConfig) -> Arc<dyn channels::Sender> {
    Arc::new(channels::SesEmail::new(&aws_sdk_sesv2::Client::new(sdk)))
}

/// WhatsApp through the Cloud API, its token from SSM.
pub fn whatsapp_sender(sdk: &SdkConfig) -> Result<Arc<dyn channels::Sender>, ConfigError> {
    let secrets = Arc::new(channels::SsmSecrets::new(
        aws_sdk_ssm::Client::new(sdk),
        channels::DEFAULT_SECRET_TTL,
    ));
    let mut sender = channels::WhatsAppCloud::new(
        required("WHATSAPP_PHONE_NUMBER_ID")?,
        secrets,
        required("WHATSAPP_TOKEN_PARAMETER")?,
    );
    if let Some(base) = env("WHATSAPP_API_BASE") {
        sender = sender.with_base_url(base);
    }
    if let Some(version) = env("WHATSAPP_API_VERSION") {
        sender = sender.with_api_version(version);
    }
    Ok(Arc::new(sender))
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

/// The SMS executor.
pub async fn sms_executor(sdk: &SdkConfig) -> Result<crate::execute::Executor, ConfigError> {
    executor_with(sdk, |senders| senders.sms = Some(sms_sender(sdk)))
}

/// The email executor: SES, and the connected mailboxes a campaign may send from.
pub async fn email_executor(sdk: &SdkConfig) -> Result<crate::execute::Executor, ConfigError> {
    let executor = executor_with(sdk, |senders| senders.email = Some(email_sender(sdk)))?;
    Ok(
        match crate::config_mailboxes::executor_mailboxes(sdk).await? {
            Some(mailboxes) => executor.with_mailboxes(mailboxes),
            None => executor,
        },
    )
}

/// The WhatsApp executor.
pub async fn whatsapp_executor(sdk: &SdkConfig) -> Result<crate::execute::Executor, ConfigError> {
    let sender = whatsapp_sender(sdk)?;
    executor_with(sdk, |senders| senders.whatsapp = Some(sender))
}

/// The follow-up call executor, which also looks up placed calls on their platform.
pub async fn call_executor(sdk: &SdkConfig) -> Result<crate::execute::Executor, ConfigError> {
    let calls = call_sender(sdk)?;
    let sender = calls.clone();
    Ok(executor_with(sdk, |senders| senders.call = Some(sender))?.with_call_lookups(calls))
}

/// An executor on the DynamoDB repository with the senders `add` sets.
fn executor_with(
    sdk: &SdkConfig,
    add: impl FnOnce(&mut crate::execute::Senders),
) -> Result<crate::execute::Executor, ConfigError> {
    let mut senders = crate::execute::Senders::default();
    add(&mut senders);
    Ok(crate::execute::Executor::new(
        dynamodb_repository(sdk)?,
        senders,
        sender_identity(),
        Arc::new(crate::clock::SystemClock),
    )
    .with_placed_call_wait(placed_call_wait()?))
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
