//! The one place that builds AWS SDK configuration.
//!
//! The Lambda functions use [`from_environment`]: the region and the execution role's
//! credentials from the variables Lambda sets (`AWS_REGION`, `AWS_ACCESS_KEY_ID`,
//! `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`), the endpoint override
//! `AWS_ENDPOINT_URL` (moto, LocalStack), and the HTTPS client of `sdk_http`. Retries and
//! the connect timeout are the SDK clients' own defaults (standard retry mode). There is
//! no profile file, SSO, instance metadata or STS in them: aws-config's chain for those
//! is ≈ 0.4 MB of every function (docs/performance.md) that Lambda never uses.
//!
//! [`load`] (feature `credential-chain`, which the local runtime turns on) is aws-config's
//! whole chain, for a laptop whose credentials live in `~/.aws` or come from SSO.

use aws_credential_types::Credentials;
use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider, future};
use aws_smithy_runtime_api::client::behavior_version::BehaviorVersion;
use aws_types::SdkConfig;
use aws_types::region::Region;

/// The SDK configuration of a Lambda function, from its environment.
pub fn from_environment() -> SdkConfig {
    from_variables(crate::config::env)
}

/// `get` reads a variable, empty counting as unset (`config::env`).
fn from_variables(get: impl Fn(&str) -> Option<String>) -> SdkConfig {
    let mut builder = SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .credentials_provider(SharedCredentialsProvider::new(EnvironmentCredentials))
        .retry_config(aws_smithy_types::retry::RetryConfig::standard())
        .http_client(sdk_http::http_client());
    if let Some(region) = get("AWS_REGION").or_else(|| get("AWS_DEFAULT_REGION")) {
        builder = builder.region(Region::new(region));
    }
    if let Some(endpoint) = get("AWS_ENDPOINT_URL") {
        builder = builder.endpoint_url(endpoint);
    }
    builder.build()
}

/// The credentials in the environment, read when the SDK asks for them (it caches them).
#[derive(Debug)]
struct EnvironmentCredentials;

impl ProvideCredentials for EnvironmentCredentials {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::ready(credentials_from(crate::config::env))
    }
}

fn credentials_from(get: impl Fn(&str) -> Option<String>) -> Result<Credentials, CredentialsError> {
    let required = |name: &str| {
        get(name).ok_or_else(|| {
            CredentialsError::not_loaded(format!(
                "{name} is not set: the functions read the credentials Lambda sets in the \
                 environment (export them to run a function elsewhere)"
            ))
        })
    };
    Ok(Credentials::new(
        required("AWS_ACCESS_KEY_ID")?,
        required("AWS_SECRET_ACCESS_KEY")?,
        get("AWS_SESSION_TOKEN"),
        None,
        "environment",
    ))
}

/// aws-config's whole chain (environment, profile files, SSO, web identity, instance
/// metadata), the endpoint override it honours, and the HTTPS client of `sdk_http`.
#[cfg(feature = "credential-chain")]
pub async fn load() -> SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(sdk_http::http_client())
        .load()
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| map.get(name).filter(|v| !v.trim().is_empty()).cloned()
    }

    #[test]
    fn lambda_s_variables_give_the_region_the_endpoint_and_the_credentials() {
        let config = from_variables(vars(&[
            ("AWS_REGION", "eu-west-1"),
            ("AWS_DEFAULT_REGION", "us-east-1"),
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:5000"),
        ]));
        assert_eq!(config.region().map(|r| r.as_ref()), Some("eu-west-1"));
        assert_eq!(config.endpoint_url(), Some("http://127.0.0.1:5000"));
        assert!(config.retry_config().is_some_and(|r| r.max_attempts() == 3));

        let only_default = from_variables(vars(&[("AWS_DEFAULT_REGION", "us-east-1")]));
        assert_eq!(only_default.region().map(|r| r.as_ref()), Some("us-east-1"));
        assert_eq!(only_default.endpoint_url(), None);

        let credentials = credentials_from(vars(&[
            ("AWS_ACCESS_KEY_ID", "AKID"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
            ("AWS_SESSION_TOKEN", "token"),
        ]))
        .unwrap();
        assert_eq!(credentials.access_key_id(), "AKID");
        assert_eq!(credentials.secret_access_key(), "secret");
        assert_eq!(credentials.session_token(), Some("token"));
    }

    #[test]
    fn missing_credentials_are_an_error_that_names_the_variable() {
        let error = credentials_from(vars(&[("AWS_ACCESS_KEY_ID", "AKID")])).unwrap_err();
        let message = format!(
            "{}",
            aws_smithy_types::error::display::DisplayErrorContext(&error)
        );
        assert!(
            message.contains("AWS_SECRET_ACCESS_KEY is not set"),
            "{message}"
        );
        assert!(credentials_from(vars(&[("AWS_ACCESS_KEY_ID", " ")])).is_err());
    }
}
