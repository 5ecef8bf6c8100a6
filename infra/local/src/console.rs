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
        "/platforms.js",
        JS,
        include_str!("../../../console/platforms.js"),
    ),
    (
        "/mailboxes.js",
        JS,
        include_str!("../../../console/mailboxes.js"),
    ),
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Every module and stylesheet the console loads is served (a new file must be
    /// added to `ASSETS`, or the browser gets a 404).
    #[test]
    fn every_file_the_console_loads_is_served() {
        let served: Vec<&str> = ASSETS.iter().map(|(path, _, _)| *path).collect();
        let references = ASSETS.iter().flat_map(|(_, _, body)| {
            body.split(['"', '\''])
                .filter(|s| {
                    let file = s.trim_start_matches("./");
                    (file.ends_with(".js") || file.ends_with(".css"))
                        && !file.contains([' ', '/', '$'])
                })
                .map(|s| s.trim_start_matches("./").to_owned())
                .collect::<Vec<_>>()
        });
        let mut checked = 0;
        for reference in references {
            assert!(
                served.contains(&format!("/{reference}").as_str()),
                "{reference} is loaded by the console but not served"
            );
            checked += 1;
        }
        assert!(checked >= 8, "only {checked} references found");
        let files = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../../console"))
            .unwrap()
            .map(|entry| entry.unwrap().file_name().into_string().unwrap());
        for file in files {
            assert!(
                served.contains(&format!("/{file}").as_str()),
                "console/{file} is not served"
            );
        }
    }

    /// The policy forbids inline script: the page must not carry any.
    #[test]
    fn the_page_has_no_inline_script_or_handler() {
        let html = include_str!("../../../console/index.html");
        let handler = html
            .split_whitespace()
            .any(|word| word.starts_with("on") && word.contains('='));
        assert!(!handler, "inline event handler in index.html");
        assert!(!html.contains("<script>"), "inline script in index.html");
        assert!(!html.contains("style="), "inline style in index.html");
    }

    /// The codes of an enum of the OpenAPI document's schema `name`.
    fn codes(name: &str, property: Option<&str>) -> Vec<String> {
        let doc: serde_json::Value =
            serde_json::from_str(include_str!("../../../shared/http/openapi.json")).unwrap();
        let schema = &doc["components"]["schemas"][name];
        let schema = property.map_or(schema, |p| &schema["properties"][p]);
        let codes: Vec<String> = schema["enum"]
            .as_array()
            .unwrap_or_else(|| panic!("{name} has no enum"))
            .iter()
            .map(|code| code.as_str().unwrap().to_owned())
            .collect();
        assert!(!codes.is_empty());
        codes
    }

    /// Every code the API can answer has its words in the console (else an operator
    /// reads a bare code): reasons, statuses, channels, do-not-call sources and
    /// WhatsApp delivery states.
    #[test]
    fn the_console_words_every_code_of_the_api() {
        let ui = include_str!("../../../console/ui.js");
        let tools = include_str!("../../../console/tools.js");
        let followups = include_str!("../../../console/followups.js");
        for (schema, property, source) in [
            ("Reason", None, ui),
            ("Status", None, ui),
            ("Channel", None, ui),
            ("DncEntry", Some("source"), tools),
            ("Delivery", Some("state"), followups),
        ] {
            for code in codes(schema, property) {
                assert!(
                    source.contains(&format!("\n  {code}: \"")),
                    "{schema} `{code}` has no words in the console"
                );
            }
        }
    }
}
