//! Who may see what: every operator route needs a known bearer token, and one account
//! can neither see nor change another's records (404, as if they did not exist).

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::*;

for_each_store!(
    every_operator_route_refuses_a_request_without_valid_credentials,
    the_tenant_comes_from_the_jwt_claim_in_lambda_and_nothing_else,
    another_account_cannot_read_replace_or_delete_settings,
    another_account_cannot_see_or_remove_do_not_call_entries,
    another_account_cannot_read_cancel_or_send_followups,
    another_accounts_lists_do_not_show_the_followups,
    a_cursor_given_to_one_account_is_refused_for_another,
    another_account_cannot_delete_or_sign_with_a_webhook_secret,
);

/// A plausible request for every operator route (all but the webhook and the document).
fn operator_requests(followup_id: &str, secret_id: &str) -> Vec<(Method, String, Option<Value>)> {
    http_api::ROUTES
        .iter()
        // The public routes carry their own credentials (signatures, tokens; the OAuth
        // callback's signed state names the account, tested in `mailboxes`).
        .filter(|(_, path)| {
            !path.starts_with("/v1/webhooks/")
                && !path.starts_with("/v1/inbound/")
                && !path.starts_with("/v1/unsubscribe/")
                && *path != "/v1/openapi.json"
                && *path != "/v1/mailboxes/{provider}/callback"
        })
        .map(|(method, path)| {
            let path = path
                .replace("{agent_id}", "agent-1")
                .replace("{campaign_id}", "camp-1")
                .replace("{contact_id}", "contact-1")
                .replace("{phone_or_email}", "%2B14155550000")
                .replace("{followup_id}", followup_id)
                .replace("{secret_id}", secret_id)
                .replace("{provider}", "google")
                .replace("{mailbox_id}", "mb_00000000000000000000000000000000");
            let body = match (*method, path.as_str()) {
                ("PUT", "/v1/settings") => Some(set(
                    account_json(),
                    "/default_sender_name",
                    json!("Mallory"),
                )),
                ("PUT", p) if p.starts_with("/v1/agents/") => Some(agent_json()),
                ("PUT", p) if p.starts_with("/v1/campaigns/") => Some(campaign_json()),
                ("POST", "/v1/decisions/preview") => Some(answered_call(
                    "call-1",
                    "contact-1",
                    tuesday_morning_in_new_york(),
                )),
                ("POST", p) if p.ends_with("/send") => Some(json!({"destination": "+14155550123"})),
                ("POST", _) => Some(json!({})),
                _ => None,
            };
            (method.parse().unwrap(), path, body)
        })
        .collect()
}

async fn every_operator_route_refuses_a_request_without_valid_credentials(world: World) {
    let secret = world.configure_acme().await;
    world
        .deliver(
            &secret,
            "msg_1",
            &callback_call(
                "call-1",
                "contact-1",
                world.clock.now(),
                "2030-01-16T15:00:00Z",
            ),
        )
        .await
        .expect(StatusCode::OK);
    let call = world.one_followup("contact-1", "call").await;
    let call_id = call["id"].as_str().unwrap();
    let before = world
        .get(&format!("/v1/followups/{call_id}"))
        .send()
        .await
        .json();

    let requests = operator_requests(call_id, &secret.id);
    assert!(requests.len() >= 19, "{requests:?}");
    let credentials: [Option<&str>; 6] = [
        None,
        Some("Bearer tok_nobody"),
        Some("Bearer "),
        Some("tok_acme_0123456789"),
        Some("Basic dG9rX2FjbWVfMDEyMzQ1Njc4OTo="),
        Some("bearer tok_acme_0123456789x"),
    ];
    for (method, path, body) in &requests {
        for authorization in credentials {
            let mut call = world.call(method.clone(), path).anonymous();
            if let Some(value) = authorization {
                call = call.header("authorization", value);
            }
            if let Some(body) = body {
                call = call.json(body);
            }
            let reply = call.send().await;
            let problem = reply.problem(StatusCode::UNAUTHORIZED);
            assert!(
                problem["detail"].is_string(),
                "{method} {path} with {authorization:?}: {reply}"
            );
        }
    }

    // Nothing was changed by any of them.
    let account = world
        .get("/v1/settings")
        .send()
        .await
        .expect(StatusCode::OK);
    assert_eq!(account.etag(), Some("\"v1\""));
    assert_eq!(account.json()["default_sender_name"], "Acme Team");
    for path in [
        "/v1/agents/agent-1/followup-settings",
        "/v1/campaigns/camp-1/followup-settings",
    ] {
        assert_eq!(
            world.get(path).send().await.expect(StatusCode::OK).etag(),
            Some("\"v1\"")
        );
    }
    assert_eq!(world.get("/v1/dnc").send().await.json()["items"], json!([]));
    let secrets = world.get("/v1/webhook-secrets").send().await.json();
    assert_eq!(secrets["items"].as_array().unwrap().len(), 1, "{secrets}");
    let after = world
        .get(&format!("/v1/followups/{call_id}"))
        .send()
        .await
        .json();
    assert_eq!(after, before);
}

async fn the_tenant_comes_from_the_jwt_claim_in_lambda_and_nothing_else(world: World) {
    use axum::body::Body;
    use axum::http::Request;
    use lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequestContext;
    use lambda_http::request::RequestContext;
    use tower::ServiceExt;

    world.configure_acme().await;
    let app = http_api::with_fallback(http_api::api_router(world.engine.clone()).layer(
        axum::middleware::from_fn(|request, next| {
            http_api::auth::tenant_from_jwt_claim("account_id".into(), request, next)
        }),
    ));
    let context = |claims: Value| {
        let context: ApiGatewayV2httpRequestContext = serde_json::from_value(json!({
            "routeKey": "GET /v1/settings",
            "http": {"method": "GET", "path": "/v1/settings", "protocol": "HTTP/1.1", "sourceIp": "203.0.113.1", "userAgent": "test"},
            "authorizer": {"jwt": {"claims": claims, "scopes": null}},
        }))
        .unwrap();
        RequestContext::ApiGatewayV2(context)
    };
    let send = |context: Option<RequestContext>, bearer: Option<&str>| {
        let mut request = Request::get("/v1/settings");
        if let Some(token) = bearer {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let mut request = request.body(Body::empty()).unwrap();
        if let Some(context) = context {
            request.extensions_mut().insert(context);
        }
        app.clone().oneshot(request)
    };

    let acme = send(
        Some(context(json!({"account_id": "acme", "sub": "u1"}))),
        None,
    )
    .await
    .unwrap();
    assert_eq!(acme.status(), StatusCode::OK);
    assert_eq!(acme.headers()["etag"], "\"v1\"", "acme's saved settings");
    let globex = send(Some(context(json!({"account_id": "globex"}))), None)
        .await
        .unwrap();
    assert_eq!(
        globex.headers()["etag"],
        "\"v0\"",
        "globex has saved nothing"
    );

    // No context, no claim, an invalid claim, or only a local bearer token: no tenant.
    for (context, bearer) in [
        (None, None),
        (Some(context(json!({"sub": "u1"}))), None),
        (Some(context(json!({"account_id": "../acme"}))), None),
        (Some(context(json!({"account_id": ""}))), None),
        (None, Some(ACME)),
    ] {
        let response = send(context, bearer).await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json"
        );
    }
}

async fn another_account_cannot_read_replace_or_delete_settings(world: World) {
    world.configure_acme().await;
    for (path, body) in [
        ("/v1/agents/agent-1/followup-settings", agent_json()),
        ("/v1/campaigns/camp-1/followup-settings", campaign_json()),
    ] {
        let acme = world.get(path).send().await.expect(StatusCode::OK).json();
        world
            .get(path)
            .by(GLOBEX)
            .send()
            .await
            .problem(StatusCode::NOT_FOUND);
        let changed = set(body.clone(), "/time_zone", json!("Europe/Madrid"));
        world
            .put(path)
            .by(GLOBEX)
            .if_match("\"v1\"")
            .json(&changed)
            .send()
            .await
            .problem(StatusCode::NOT_FOUND);
        world
            .delete(path)
            .by(GLOBEX)
            .send()
            .await
            .problem(StatusCode::NOT_FOUND);
        world
            .delete(path)
            .by(GLOBEX)
            .if_match("\"v1\"")
            .send()
            .await
            .problem(StatusCode::NOT_FOUND);

        // Globex's own record of the same name is its own.
        let own = world
            .put(path)
            .by(GLOBEX)
            .json(&changed)
            .send()
            .await
            .expect(StatusCode::OK);
        assert_eq!(own.etag(), Some("\"v1\""));
        world
            .delete(path)
            .by(GLOBEX)
            .if_match("\"v1\"")
            .send()
            .await
            .expect(StatusCode::NO_CONTENT);

        let after = world.get(path).send().await.expect(StatusCode::OK);
        assert_eq!(
            after.etag(),
            Some("\"v1\""),
            "{path}: acme's record is untouched"
        );
        assert_eq!(after.json(), acme);
    }
    let account = world
        .get("/v1/settings")
        .by(GLOBEX)
        .send()
        .await
        .expect(StatusCode::OK);
    assert_eq!(
        account.etag(),
        Some("\"v0\""),
        "globex sees its own defaults"
    );
    assert_eq!(account.json()["default_sender_name"], Value::Null);
}

async fn another_account_cannot_see_or_remove_do_not_call_entries(world: World) {
    world
        .put("/v1/dnc/%2B14155552671")
        .send()
        .await
        .expect(StatusCode::OK);
    world
        .put("/v1/dnc/ana@example.com")
        .send()
        .await
        .expect(StatusCode::OK);
    let globex = world
        .get("/v1/dnc")
        .by(GLOBEX)
        .send()
        .await
        .expect(StatusCode::OK);
    assert_eq!(globex.json()["items"], json!([]));
    world
        .delete("/v1/dnc/%2B14155552671")
        .by(GLOBEX)
        .send()
        .await
        .problem(StatusCode::NOT_FOUND);
    world
        .delete("/v1/dnc/ana@example.com")
        .by(GLOBEX)
        .send()
        .await
        .problem(StatusCode::NOT_FOUND);
    let acme = world.get("/v1/dnc").send().await.json();
    assert_eq!(acme["items"].as_array().unwrap().len(), 2, "{acme}");
}

async fn another_account_cannot_read_cancel_or_send_followups(world: World) {
    let secret = world.configure_acme().await;
    let now = world.clock.now();
    let needs_review = set(
        callback_call("call-1", "contact-1", now, "2030-01-16T15:00:00Z"),
        "/analysis/sms_destination",
        Value::Null,
    );
    world
        .deliver(&secret, "msg_1", &needs_review)
        .await
        .expect(StatusCode::OK);
    let call = world.one_followup("contact-1", "call").await;
    let sms = world.one_followup("contact-1", "sms").await;
    assert_eq!(
        (call["status"].as_str(), sms["status"].as_str()),
        (Some("scheduled"), Some("needs_review"))
    );

    for followup in [&call, &sms] {
        let id = followup["id"].as_str().unwrap();
        let path = format!("/v1/followups/{id}");
        let before = world.get(&path).send().await.expect(StatusCode::OK);
        let reply = world.get(&path).by(GLOBEX).send().await;
        reply.problem(StatusCode::NOT_FOUND);
        assert!(!reply.text().contains("contact-1"), "{reply}");
        world
            .post(&format!("{path}/cancel"))
            .by(GLOBEX)
            .send()
            .await
            .problem(StatusCode::NOT_FOUND);
        world
            .post(&format!("{path}/send"))
            .by(GLOBEX)
            .json(&json!({"destination": "+14155550123"}))
            .send()
            .await
            .problem(StatusCode::NOT_FOUND);
        let after = world.get(&path).send().await.expect(StatusCode::OK);
        assert_eq!(
            (after.etag(), after.json()),
            (before.etag(), before.json()),
            "{path} untouched"
        );
    }
}

async fn another_accounts_lists_do_not_show_the_followups(world: World) {
    let secret = world.configure_acme().await;
    world
        .deliver(
            &secret,
            "msg_1",
            &answered_call("call-1", "contact-1", world.clock.now()),
        )
        .await
        .expect(StatusCode::OK);
    assert_eq!(world.followups_of(ACME, "contact-1").await.len(), 2);
    assert_eq!(
        world.followups_of(GLOBEX, "contact-1").await,
        Vec::<Value>::new()
    );
    let campaign = world
        .get("/v1/campaigns/camp-1/followups")
        .by(GLOBEX)
        .send()
        .await
        .expect(StatusCode::OK);
    assert_eq!(campaign.json()["items"], json!([]));
    assert!(
        campaign
            .json()
            .get("next_cursor")
            .is_none_or(Value::is_null)
    );
}

async fn a_cursor_given_to_one_account_is_refused_for_another(world: World) {
    let secret = world.configure_acme().await;
    world
        .deliver(
            &secret,
            "msg_1",
            &answered_call("call-1", "contact-1", world.clock.now()),
        )
        .await
        .expect(StatusCode::OK);
    world
        .put("/v1/dnc/%2B14155550001")
        .send()
        .await
        .expect(StatusCode::OK);
    world
        .put("/v1/dnc/%2B14155550002")
        .send()
        .await
        .expect(StatusCode::OK);
    for list in [
        "/v1/campaigns/camp-1/followups",
        "/v1/contacts/contact-1/followups",
        "/v1/dnc",
    ] {
        let page = world
            .get(&format!("{list}?limit=1"))
            .send()
            .await
            .expect(StatusCode::OK)
            .json();
        let cursor = page["next_cursor"]
            .as_str()
            .unwrap_or_else(|| panic!("{list}: a second page: {page}"));
        // The cursor still works for acme…
        world
            .get(&format!("{list}?limit=1&cursor={cursor}"))
            .send()
            .await
            .expect(StatusCode::OK);
        // …and is refused for globex, showing none of acme's data.
        let reply = world
            .get(&format!("{list}?limit=1&cursor={cursor}"))
            .by(GLOBEX)
            .send()
            .await;
        assert_eq!(reply.invalid_fields(), ["cursor"], "{list}");
        for secret_of_acme in ["contact-1", "+1415555", "fu_"] {
            assert!(!reply.text().contains(secret_of_acme), "{list}: {reply}");
        }
    }
    let reply = world.get("/v1/dnc?cursor=bm90LWEtY3Vyc29y").send().await;
    assert_eq!(reply.invalid_fields(), ["cursor"], "a made-up cursor");
}

async fn another_account_cannot_delete_or_sign_with_a_webhook_secret(world: World) {
    let acme = world.configure_acme().await;
    let globex = world.create_secret(GLOBEX).await;
    let listed = world
        .get("/v1/webhook-secrets")
        .by(GLOBEX)
        .send()
        .await
        .json();
    let ids: Vec<&str> = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [globex.id.as_str()],
        "globex lists only its own secret"
    );
    world
        .delete(&format!("/v1/webhook-secrets/{}", acme.id))
        .by(GLOBEX)
        .send()
        .await
        .problem(StatusCode::NOT_FOUND);

    // Acme's webhook does not accept globex's signature, and still accepts its own.
    let body = answered_call("call-1", "contact-1", world.clock.now());
    world
        .deliver(&globex, "msg_1", &body)
        .await
        .problem(StatusCode::UNAUTHORIZED);
    assert!(world.followups_of(ACME, "contact-1").await.is_empty());
    world
        .deliver(&acme, "msg_1", &body)
        .await
        .expect(StatusCode::OK);
}
