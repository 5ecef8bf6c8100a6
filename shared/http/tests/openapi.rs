//! The OpenAPI document (`shared/http/openapi.json`, served at `GET /v1/openapi.json`)
//! against the router: every route is documented, nothing undocumented is routed, and
//! the document holds together (operation ids, responses, `$ref`s).

use std::collections::BTreeSet;

use serde_json::Value;

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "patch", "head", "options", "trace",
];

fn document() -> Value {
    serde_json::from_str(http_api::OPENAPI).expect("openapi.json is JSON")
}

/// Every `(METHOD, path)` operation of the document.
fn operations(doc: &Value) -> Vec<(String, String, &Value)> {
    let paths = doc["paths"].as_object().expect("`paths` is an object");
    let mut out = Vec::new();
    for (path, item) in paths {
        let item = item
            .as_object()
            .unwrap_or_else(|| panic!("path item {path} is an object"));
        for (key, operation) in item {
            if METHODS.contains(&key.as_str()) {
                out.push((key.to_uppercase(), path.clone(), operation));
            }
        }
    }
    out
}

fn routes() -> BTreeSet<(String, String)> {
    http_api::ROUTES
        .iter()
        .map(|(method, path)| (method.to_uppercase(), (*path).to_string()))
        .collect()
}

#[test]
fn it_is_an_openapi_3_document() {
    let doc = document();
    let version = doc["openapi"].as_str().expect("`openapi` is a string");
    assert!(version.starts_with("3."), "not OpenAPI 3: {version}");
    assert!(
        doc["info"]["title"].as_str().is_some_and(|t| !t.is_empty()),
        "info.title"
    );
    assert!(
        doc["info"]["version"]
            .as_str()
            .is_some_and(|v| !v.is_empty()),
        "info.version"
    );
    assert!(doc["paths"].is_object(), "paths");
}

#[test]
fn every_route_is_documented() {
    let doc = document();
    let documented: BTreeSet<(String, String)> = operations(&doc)
        .into_iter()
        .map(|(m, p, _)| (m, p))
        .collect();
    let missing: Vec<_> = routes().difference(&documented).cloned().collect();
    assert!(
        missing.is_empty(),
        "routes missing from openapi.json: {missing:?}"
    );
}

#[test]
fn every_documented_operation_is_routed() {
    let doc = document();
    let routes = routes();
    let extra: Vec<_> = operations(&doc)
        .into_iter()
        .map(|(m, p, _)| (m, p))
        .filter(|op| !routes.contains(op))
        .collect();
    assert!(
        extra.is_empty(),
        "operations in openapi.json that no route serves: {extra:?}"
    );
}

#[test]
fn every_operation_has_an_id_and_responses() {
    let doc = document();
    let mut ids = BTreeSet::new();
    for (method, path, operation) in operations(&doc) {
        let id = operation["operationId"]
            .as_str()
            .filter(|id| !id.is_empty())
            .unwrap_or_else(|| panic!("{method} {path} has no operationId"));
        assert!(ids.insert(id.to_string()), "operationId {id} is used twice");
        let responses = operation["responses"]
            .as_object()
            .unwrap_or_else(|| panic!("{method} {path} has no responses"));
        assert!(!responses.is_empty(), "{method} {path} has no responses");
    }
}

#[test]
fn path_parameters_match_the_path_templates() {
    let doc = document();
    for (method, path, operation) in operations(&doc) {
        let in_template: BTreeSet<String> = path
            .split('/')
            .filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'))
            .map(str::to_string)
            .collect();
        let shared = doc["paths"][&path]["parameters"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let own = operation["parameters"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let declared: BTreeSet<String> = shared
            .iter()
            .chain(own.iter())
            .map(|p| {
                resolve(&doc, p)
                    .unwrap_or_else(|| panic!("{method} {path}: unresolved parameter {p}"))
            })
            .filter(|p| p["in"] == "path")
            .map(|p| p["name"].as_str().unwrap_or_default().to_string())
            .collect();
        assert_eq!(declared, in_template, "{method} {path}: path parameters");
    }
}

#[test]
fn settings_and_followups_carry_etags_and_if_match() {
    let doc = document();
    let has_etag = |path: &str, method: &str| {
        doc["paths"][path][method]["responses"]["200"]
            .get("headers")
            .and_then(|h| h.get("ETag"))
            .is_some()
    };
    let has_if_match = |path: &str, method: &str| {
        doc["paths"][path][method]["parameters"]
            .as_array()
            .is_some_and(|params| {
                params
                    .iter()
                    .filter_map(|p| resolve(&doc, p))
                    .any(|p| p["in"] == "header" && p["name"] == "If-Match")
            })
    };
    for path in [
        "/v1/settings",
        "/v1/agents/{agent_id}/followup-settings",
        "/v1/campaigns/{campaign_id}/followup-settings",
    ] {
        assert!(has_etag(path, "get"), "GET {path}: ETag");
        assert!(has_etag(path, "put"), "PUT {path}: ETag");
        assert!(has_if_match(path, "put"), "PUT {path}: If-Match");
    }
    for path in [
        "/v1/agents/{agent_id}/followup-settings",
        "/v1/campaigns/{campaign_id}/followup-settings",
    ] {
        assert!(has_if_match(path, "delete"), "DELETE {path}: If-Match");
    }
    assert!(
        has_etag("/v1/followups/{followup_id}", "get"),
        "GET follow-up: ETag"
    );
}

#[test]
fn the_webhook_and_the_document_are_public_and_the_rest_is_not() {
    let doc = document();
    assert!(
        doc["components"]["securitySchemes"]["bearerAuth"].is_object(),
        "bearerAuth security scheme"
    );
    assert!(
        doc["security"]
            .as_array()
            .is_some_and(|s| s.iter().any(|r| r.get("bearerAuth").is_some())),
        "bearerAuth applies globally"
    );
    let public = [
        ("POST", "/v1/webhooks/{account_id}/call-completed"),
        ("GET", "/v1/inbound/{account_id}/whatsapp"),
        ("POST", "/v1/inbound/{account_id}/whatsapp"),
        ("GET", "/v1/unsubscribe/{token}"),
        ("POST", "/v1/unsubscribe/{token}"),
        ("POST", "/v1/webhooks/{account_id}/vapi"),
        ("POST", "/v1/webhooks/{account_id}/retell"),
        ("POST", "/v1/webhooks/{account_id}/bland"),
        ("POST", "/v1/webhooks/{account_id}/elevenlabs"),
        ("GET", "/v1/openapi.json"),
        // The provider redirects the browser here; the signed state names the account.
        ("GET", "/v1/mailboxes/{provider}/callback"),
    ];
    for (method, path, operation) in operations(&doc) {
        let is_public = public.contains(&(method.as_str(), path.as_str()));
        let overrides = operation.get("security");
        if is_public {
            assert_eq!(
                overrides,
                Some(&Value::Array(vec![])),
                "{method} {path} must be `security: []`"
            );
        } else {
            assert!(
                overrides.is_none(),
                "{method} {path} must use the global bearerAuth"
            );
        }
    }
    let webhook = &doc["paths"]["/v1/webhooks/{account_id}/call-completed"]["post"];
    let headers: BTreeSet<String> = webhook["parameters"]
        .as_array()
        .expect("webhook parameters")
        .iter()
        .filter_map(|p| resolve(&doc, p))
        .filter(|p| p["in"] == "header" && p["required"] == true)
        .filter_map(|p| p["name"].as_str().map(str::to_string))
        .collect();
    for name in ["webhook-id", "webhook-timestamp", "webhook-signature"] {
        assert!(headers.contains(name), "webhook header {name} is required");
    }
}

#[test]
fn error_responses_are_problem_json() {
    let doc = document();
    for (method, path, operation) in operations(&doc) {
        for (code, response) in operation["responses"].as_object().into_iter().flatten() {
            if !(code.starts_with('4') || code.starts_with('5')) {
                continue;
            }
            let response = resolve(&doc, response)
                .unwrap_or_else(|| panic!("{method} {path} {code}: unresolved response"));
            let schema = &response["content"]["application/problem+json"]["schema"]["$ref"];
            assert_eq!(
                schema, "#/components/schemas/Problem",
                "{method} {path} {code}"
            );
        }
    }
}

/// Follows a local `$ref` (repeatedly); `None` when it points nowhere.
fn resolve<'a>(doc: &'a Value, mut node: &'a Value) -> Option<&'a Value> {
    for _ in 0..32 {
        let Some(pointer) = node.get("$ref").and_then(Value::as_str) else {
            return Some(node);
        };
        node = doc.pointer(pointer.strip_prefix('#')?)?;
    }
    None
}

fn collect_refs<'a>(node: &'a Value, at: String, out: &mut Vec<(String, &'a str)>) {
    match node {
        Value::Object(map) => {
            for (key, value) in map {
                if key == "$ref" {
                    if let Some(target) = value.as_str() {
                        out.push((at.clone(), target));
                    }
                } else {
                    collect_refs(value, format!("{at}/{key}"), out);
                }
            }
        }
        Value::Array(items) => {
            for (i, value) in items.iter().enumerate() {
                collect_refs(value, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

#[test]
fn every_ref_resolves() {
    let doc = document();
    let mut refs = Vec::new();
    collect_refs(&doc, String::new(), &mut refs);
    assert!(
        !refs.is_empty(),
        "the document reuses components through $ref"
    );
    let broken: Vec<_> = refs
        .iter()
        .filter(|(_, target)| {
            target
                .strip_prefix('#')
                .and_then(|pointer| doc.pointer(pointer))
                .is_none()
        })
        .collect();
    assert!(
        broken.is_empty(),
        "$refs that resolve to nothing (at, target): {broken:?}"
    );
    // Discriminator mappings name schemas too.
    let mut mappings = Vec::new();
    collect_mappings(&doc, &mut mappings);
    for target in mappings {
        let pointer = target.strip_prefix('#').unwrap_or(target);
        assert!(
            doc.pointer(pointer).is_some(),
            "discriminator mapping {target} resolves to nothing"
        );
    }
}

fn collect_mappings<'a>(node: &'a Value, out: &mut Vec<&'a str>) {
    match node {
        Value::Object(map) => {
            if let Some(mapping) = map
                .get("discriminator")
                .and_then(|d| d.get("mapping"))
                .and_then(Value::as_object)
            {
                out.extend(mapping.values().filter_map(Value::as_str));
            }
            map.values().for_each(|v| collect_mappings(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| collect_mappings(v, out)),
        _ => {}
    }
}
