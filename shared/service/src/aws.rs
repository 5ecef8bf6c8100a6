//! The one place that builds AWS SDK configuration: rustls on ring, the SDK's
//! standard credential chain and region (environment in Lambda), and the endpoint
//! override `AWS_ENDPOINT_URL` that aws-config already honours (moto, LocalStack).

use aws_config::{BehaviorVersion, SdkConfig};
use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};

/// Loads the SDK configuration from the environment.
pub async fn load() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(http_client())
        .load()
        .await
}

/// The HTTPS client every SDK client shares.
pub fn http_client() -> aws_smithy_runtime_api::client::http::SharedHttpClient {
    aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https()
}
