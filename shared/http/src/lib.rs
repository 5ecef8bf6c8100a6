//! The HTTP edge: the operator API and the signed webhook as one axum router, served
//! by the Lambda functions (through lambda_http) and by the local runtime alike.
//! Handlers only translate: HTTP in, a `service::Engine` call, JSON or
//! problem+json out.

pub mod auth;
pub mod extract;
pub mod problem;
mod routes;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use service::Engine;

pub use auth::{LocalTokens, Tenant};
pub use routes::OPENAPI;

/// Every route, as `(method, path)` in axum's syntax: the OpenAPI document is checked
/// against this list in the tests, so a route cannot be missing from it.
pub const ROUTES: &[(&str, &str)] = &[
    ("GET", "/v1/settings"),
    ("PUT", "/v1/settings"),
    ("GET", "/v1/settings/whatsapp-webhook"),
    ("PUT", "/v1/settings/whatsapp-webhook"),
    ("GET", "/v1/webhook-secrets"),
    ("POST", "/v1/webhook-secrets"),
    ("DELETE", "/v1/webhook-secrets/{secret_id}"),
    ("GET", "/v1/agents"),
    ("GET", "/v1/agents/{agent_id}/followup-settings"),
    ("PUT", "/v1/agents/{agent_id}/followup-settings"),
    ("DELETE", "/v1/agents/{agent_id}/followup-settings"),
    ("GET", "/v1/campaigns"),
    ("GET", "/v1/campaigns/{campaign_id}/followup-settings"),
    ("PUT", "/v1/campaigns/{campaign_id}/followup-settings"),
    ("DELETE", "/v1/campaigns/{campaign_id}/followup-settings"),
    (
        "POST",
        "/v1/campaigns/{campaign_id}/followup-settings/preview",
    ),
    ("GET", "/v1/dnc"),
    ("PUT", "/v1/dnc/{phone_or_email}"),
    ("DELETE", "/v1/dnc/{phone_or_email}"),
    ("GET", "/v1/campaigns/{campaign_id}/followups"),
    ("GET", "/v1/contacts/{contact_id}/followups"),
    ("GET", "/v1/followups/{followup_id}"),
    ("POST", "/v1/followups/{followup_id}/cancel"),
    ("POST", "/v1/followups/{followup_id}/send"),
    ("POST", "/v1/decisions/preview"),
    ("GET", "/v1/mailboxes"),
    ("POST", "/v1/mailboxes/{provider}/connect"),
    ("GET", "/v1/mailboxes/{provider}/callback"),
    ("DELETE", "/v1/mailboxes/{mailbox_id}"),
    ("POST", "/v1/webhooks/{account_id}/call-completed"),
    ("GET", "/v1/inbound/{account_id}/whatsapp"),
    ("POST", "/v1/inbound/{account_id}/whatsapp"),
    ("GET", "/v1/unsubscribe/{token}"),
    ("POST", "/v1/unsubscribe/{token}"),
    ("GET", "/v1/platforms/{platform}"),
    ("PUT", "/v1/platforms/{platform}"),
    ("DELETE", "/v1/platforms/{platform}"),
    ("POST", "/v1/webhooks/{account_id}/vapi"),
    ("POST", "/v1/webhooks/{account_id}/retell"),
    ("POST", "/v1/webhooks/{account_id}/bland"),
    ("POST", "/v1/webhooks/{account_id}/elevenlabs"),
    ("GET", "/v1/openapi.json"),
];

/// The operator API (needs a [`Tenant`] from an auth middleware) plus the OpenAPI
/// document. Wrap it with [`auth::tenant_from_jwt_claim`] or
/// [`auth::tenant_from_bearer`].
pub fn api_router(engine: Arc<Engine>) -> Router {
    use routes::{decisions, dnc, followups, inbound, mailboxes, platforms, settings};
    Router::new()
        .route(
            "/v1/settings",
            get(settings::get_account).put(settings::put_account),
        )
        .route(
            "/v1/settings/whatsapp-webhook",
            get(inbound::get_credentials).put(inbound::put_credentials),
        )
        .route(
            "/v1/webhook-secrets",
            get(settings::list_secrets).post(settings::create_secret),
        )
        .route(
            "/v1/webhook-secrets/{secret_id}",
            axum::routing::delete(settings::delete_secret),
        )
        .route("/v1/agents", get(settings::list_agents))
        .route("/v1/campaigns", get(settings::list_campaigns))
        .route(
            "/v1/agents/{agent_id}/followup-settings",
            get(settings::get_agent)
                .put(settings::put_agent)
                .delete(settings::delete_agent),
        )
        .route(
            "/v1/campaigns/{campaign_id}/followup-settings",
            get(settings::get_campaign)
                .put(settings::put_campaign)
                .delete(settings::delete_campaign),
        )
        .route(
            "/v1/campaigns/{campaign_id}/followup-settings/preview",
            post(settings::preview_campaign),
        )
        .route("/v1/dnc", get(dnc::list))
        .route(
            "/v1/dnc/{phone_or_email}",
            axum::routing::put(dnc::add).delete(dnc::remove),
        )
        .route(
            "/v1/campaigns/{campaign_id}/followups",
            get(followups::by_campaign),
        )
        .route(
            "/v1/contacts/{contact_id}/followups",
            get(followups::by_contact),
        )
        .route("/v1/followups/{followup_id}", get(followups::one))
        .route(
            "/v1/followups/{followup_id}/cancel",
            post(followups::cancel),
        )
        .route("/v1/followups/{followup_id}/send", post(followups::send))
        .route("/v1/decisions/preview", post(decisions::preview))
        .route("/v1/mailboxes", get(mailboxes::list))
        .route("/v1/mailboxes/{provider}/connect", post(mailboxes::connect))
        .route(
            "/v1/mailboxes/{mailbox_id}",
            axum::routing::delete(mailboxes::remove),
        )
        .route(
            "/v1/platforms/{platform}",
            get(platforms::get)
                .put(platforms::put)
                .delete(platforms::delete),
        )
        .merge(openapi_router())
        .layer(DefaultBodyLimit::max(extract::MAX_BODY_BYTES))
        .with_state(engine)
}

/// The public routes, each authenticated by its own signature or token rather than a
/// JWT: the signed `call.completed` webhook, Meta's WhatsApp webhook and the emails'
/// unsubscribe links (the `call-completed` function serves these).
pub fn webhook_router(engine: Arc<Engine>, max_body_bytes: usize) -> Router {
    Router::new()
        .route(
            "/v1/webhooks/{account_id}/call-completed",
            post(routes::webhook::call_completed),
        )
        .route(
            "/v1/inbound/{account_id}/whatsapp",
            get(routes::inbound::whatsapp_verify).post(routes::inbound::whatsapp_event),
        )
        .route(
            "/v1/unsubscribe/{token}",
            get(routes::inbound::unsubscribe_page).post(routes::inbound::unsubscribe),
        )
        .route(
            "/v1/webhooks/{account_id}/vapi",
            post(routes::platforms::vapi),
        )
        .route(
            "/v1/webhooks/{account_id}/retell",
            post(routes::platforms::retell),
        )
        .route(
            "/v1/webhooks/{account_id}/bland",
            post(routes::platforms::bland),
        )
        .route(
            "/v1/webhooks/{account_id}/elevenlabs",
            post(routes::platforms::elevenlabs),
        )
        .layer(DefaultBodyLimit::max(
            max_body_bytes.min(extract::MAX_BODY_BYTES),
        ))
        .with_state(engine)
}

/// Adds the problem+json 404 for unknown paths and 405 for unknown methods (once,
/// after merging routers).
pub fn with_fallback(router: Router) -> Router {
    router
        .fallback(routes::not_found)
        .method_not_allowed_fallback(routes::method_not_allowed)
}

/// The OAuth callback of connected mailboxes, public: the provider redirects the
/// user's browser here, and the signed `state` names the account.
pub fn mailbox_callback_router(engine: Arc<Engine>) -> Router {
    Router::new()
        .route(
            "/v1/mailboxes/{provider}/callback",
            get(routes::mailboxes::callback),
        )
        .with_state(engine)
}

/// `GET /v1/openapi.json`, public.
pub fn openapi_router() -> Router<Arc<Engine>> {
    Router::new().route("/v1/openapi.json", get(routes::openapi))
}
