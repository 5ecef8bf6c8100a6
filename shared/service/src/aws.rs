//! The one place that builds AWS SDK configuration: the SDK's standard credential chain
//! and region (environment in Lambda), the endpoint override `AWS_ENDPOINT_URL` that
//! aws-config already honours (moto, LocalStack), and the HTTPS client of `sdk_http`.

use aws_config::{BehaviorVersion, SdkConfig};

/// Loads the SDK configuration from the environment.
pub async fn load() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(sdk_http::http_client())
        .load()
        .await
}
