//! Who is calling: the tenant. The router only reads the [`Tenant`] extension; how it
//! gets there depends on where the router runs:
//! - in Lambda, from a claim of the JWT that API Gateway's authorizer already verified
//!   ([`tenant_from_jwt_claim`]); the client cannot set it;
//! - locally, from a bearer token mapped to an account ([`tenant_from_bearer`]).
//!
//! A request without a tenant gets 401 on every operator route. The account id of the
//! webhook route is in its path, and the signature proves it instead.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::Response;
use lambda_http::request::RequestContext;
use policy::AccountId;
use subtle::ConstantTimeEq;

use crate::problem::Problem;

/// The authenticated account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant(pub AccountId);

impl<S: Send + Sync> FromRequestParts<S> for Tenant {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Tenant>()
            .cloned()
            .ok_or_else(|| Problem::new(StatusCode::UNAUTHORIZED, "missing or invalid credentials"))
    }
}

/// Middleware for Lambda: the tenant is the JWT claim `claim` that API Gateway's JWT
/// authorizer put in the request context. A claim that is not a valid account id is
/// treated as absent.
pub async fn tenant_from_jwt_claim(claim: Arc<str>, mut request: Request, next: Next) -> Response {
    let tenant = match request.extensions().get::<RequestContext>() {
        Some(RequestContext::ApiGatewayV2(context)) => context
            .authorizer
            .as_ref()
            .and_then(|a| a.jwt.as_ref())
            .and_then(|jwt| jwt.claims.get(claim.as_ref()))
            .and_then(|value| AccountId::parse("account_id", value).ok()),
        _ => None,
    };
    request.extensions_mut().remove::<Tenant>();
    if let Some(account) = tenant {
        request.extensions_mut().insert(Tenant(account));
    }
    next.run(request).await
}

/// Bearer tokens of the local runtime, each mapped to its account.
#[derive(Clone, Default)]
pub struct LocalTokens(pub Arc<HashMap<String, AccountId>>);

impl std::fmt::Debug for LocalTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LocalTokens({} tokens)", self.0.len())
    }
}

/// Middleware for the local runtime: `Authorization: Bearer <token>`.
pub async fn tenant_from_bearer(tokens: LocalTokens, mut request: Request, next: Next) -> Response {
    let presented = request
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim());
    let tenant = presented.and_then(|token| {
        tokens
            .0
            .iter()
            .find(|(known, _)| bool::from(known.as_bytes().ct_eq(token.as_bytes())))
            .map(|(_, account)| account.clone())
    });
    request.extensions_mut().remove::<Tenant>();
    if let Some(account) = tenant {
        request.extensions_mut().insert(Tenant(account));
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use axum::Router;
    use axum::body::Body;
    use axum::middleware::from_fn;
    use axum::routing::get;
    use lambda_http::aws_lambda_events::apigw::{
        ApiGatewayRequestAuthorizer, ApiGatewayRequestAuthorizerJwtDescription,
        ApiGatewayV2httpRequestContext,
    };
    use tower::ServiceExt;

    use super::*;

    async fn whoami(tenant: Tenant) -> String {
        tenant.0.to_string()
    }

    fn app() -> Router {
        let claim: Arc<str> = "custom:account".into();
        Router::new()
            .route("/whoami", get(whoami))
            .layer(from_fn(move |r, n| {
                tenant_from_jwt_claim(claim.clone(), r, n)
            }))
    }

    fn with_claims(claims: &[(&str, &str)]) -> axum::http::Request<Body> {
        let mut jwt = ApiGatewayRequestAuthorizerJwtDescription::default();
        jwt.claims = claims
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let mut authorizer = ApiGatewayRequestAuthorizer::default();
        authorizer.jwt = Some(jwt);
        let mut context = ApiGatewayV2httpRequestContext::default();
        context.authorizer = Some(authorizer);
        let mut request = axum::http::Request::get("/whoami")
            .body(Body::empty())
            .unwrap();
        request
            .extensions_mut()
            .insert(RequestContext::ApiGatewayV2(context));
        request
    }

    async fn call(request: axum::http::Request<Body>) -> (StatusCode, String) {
        let response = app().oneshot(request).await.unwrap();
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .unwrap();
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    #[tokio::test]
    async fn the_tenant_is_the_configured_claim_of_the_verified_jwt() {
        let (status, body) = call(with_claims(&[("custom:account", "acme"), ("sub", "u1")])).await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, "acme"));
    }

    #[tokio::test]
    async fn no_claim_an_invalid_claim_or_no_authorizer_context_is_401() {
        for request in [
            with_claims(&[("sub", "u1")]),
            with_claims(&[("custom:account", "../other")]),
            axum::http::Request::get("/whoami")
                .body(Body::empty())
                .unwrap(),
        ] {
            assert_eq!(call(request).await.0, StatusCode::UNAUTHORIZED);
        }
    }

    #[tokio::test]
    async fn a_tenant_set_by_the_client_is_never_trusted() {
        let mut request = axum::http::Request::get("/whoami")
            .body(Body::empty())
            .unwrap();
        request
            .extensions_mut()
            .insert(Tenant(AccountId::parse("account_id", "forged").unwrap()));
        assert_eq!(call(request).await.0, StatusCode::UNAUTHORIZED);
    }
}
