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
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
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
