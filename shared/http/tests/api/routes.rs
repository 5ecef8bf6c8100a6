//! What is outside the resources: the OpenAPI document and unknown routes.

use axum::http::{Method, StatusCode};
use serde_json::Value;

use crate::support::*;

for_each_store!(
    the_openapi_document_is_served_without_credentials,
    an_unknown_route_is_a_404_problem,
    a_known_route_with_a_method_it_does_not_have_is_a_405_problem,
);

async fn the_openapi_document_is_served_without_credentials(world: World) {
    for reply in [
        world.get("/v1/openapi.json").anonymous().send().await,
        world.get("/v1/openapi.json").send().await,
    ] {
        assert_eq!(reply.status, StatusCode::OK, "{reply}");
        assert_eq!(reply.content_type(), Some("application/json"));
        let document = reply.json();
        assert!(
            document["openapi"]
                .as_str()
                .is_some_and(|v| v.starts_with("3.")),
            "{document}"
        );
        let paths = document["paths"].as_object().unwrap();
        for (_, path) in http_api::ROUTES {
            assert!(paths.contains_key(*path), "{path} is documented");
        }
        assert_eq!(
            document,
            serde_json::from_str::<Value>(http_api::OPENAPI).unwrap()
        );
    }
}

async fn an_unknown_route_is_a_404_problem(world: World) {
    for path in [
        "/",
        "/v1",
        "/v1/nope",
        "/v2/settings",
        "/v1/settings/extra",
        "/v1/followups",
        "/v1/webhooks/acme",
    ] {
        world.get(path).send().await.problem(StatusCode::NOT_FOUND);
        world
            .get(path)
            .anonymous()
            .send()
            .await
            .problem(StatusCode::NOT_FOUND);
        world
            .post(path)
            .anonymous()
            .raw("{}")
            .send()
            .await
            .problem(StatusCode::NOT_FOUND);
    }
}

async fn a_known_route_with_a_method_it_does_not_have_is_a_405_problem(world: World) {
    for (method, path) in [
        (Method::PATCH, "/v1/settings"),
        (Method::DELETE, "/v1/settings"),
        (Method::POST, "/v1/agents/agent-1/followup-settings"),
        (Method::GET, "/v1/followups/fu_1/cancel"),
        (Method::GET, "/v1/webhooks/acme/call-completed"),
    ] {
        let reply = world.call(method.clone(), path).send().await;
        assert!(
            reply.headers.contains_key("allow"),
            "{method} {path}: {reply}"
        );
        reply.problem(StatusCode::METHOD_NOT_ALLOWED);
    }
}
