//! The operator console (`console/` in the repository), embedded in the binary and
//! served at `/`. Public like any static site: every call it makes goes through the
//! API with the operator's bearer token. Locally it signs in with that token.

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

/// What the console may load and talk to: only this origin, no inline script or style.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-src 'self'; \
     frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'";

/// The local sign-in: the bearer token printed at start.
const LOCAL_CONFIG: &str = r#"{"auth":{"kind":"token"}}"#;

/// `(path, content type, body)` of every asset.
pub const ASSETS: &[(&str, &str, &str)] = &[
    ("/", HTML, include_str!("../../../console/index.html")),
    (
        "/index.html",
        HTML,
        include_str!("../../../console/index.html"),
    ),
    ("/app.js", JS, include_str!("../../../console/app.js")),
    ("/api.js", JS, include_str!("../../../console/api.js")),
    ("/oidc.js", JS, include_str!("../../../console/oidc.js")),
    ("/ui.js", JS, include_str!("../../../console/ui.js")),
    (
        "/settings.js",
        JS,
        include_str!("../../../console/settings.js"),
    ),
    (
        "/followups.js",
        JS,
        include_str!("../../../console/followups.js"),
    ),
    ("/tools.js", JS, include_str!("../../../console/tools.js")),
    (
        "/console.css",
        "text/css; charset=utf-8",
        include_str!("../../../console/console.css"),
    ),
    ("/config.json", "application/json", LOCAL_CONFIG),
];

const HTML: &str = "text/html; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";

pub fn router() -> Router {
    ASSETS
        .iter()
        .fold(Router::new(), |router, &(path, content_type, body)| {
            router.route(path, get(move || async move { asset(content_type, body) }))
        })
}

fn asset(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "no-referrer"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
}
