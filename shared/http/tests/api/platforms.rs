//! Voice platforms over HTTP: connections with write-only secrets, native webhooks
//! signed the platform's own way (signatures computed here with the `hmac` crate, not
//! through the engine), one set of follow-ups per platform call id, 401 / 400 refusals
//! that store nothing, and the native preview.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use serde_json::{Value, json};
use testkit::platforms::{connection, signature};

use crate::support::*;

for_each_store!(
    a_connection_keeps_its_secrets_write_only,
    a_connection_with_bad_fields_is_400_and_stores_nothing,
    each_platforms_signed_end_of_call_records_followups_once_per_call,
    a_missing_or_wrong_signature_is_401_and_stores_nothing,
    a_native_body_without_the_contacts_number_is_400_naming_it,
    non_final_events_are_acknowledged_and_ignored,
    the_preview_reads_a_native_body,
);

pub(crate) fn fixture(name: &str) -> Value {
    let path = format!(
        "{}/../policy/tests/fixtures/platforms/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// The platform's answered-call fixture, tied to acme's `agent-1` / `camp-1`.
fn answered(platform: &str, contact: &str) -> Value {
    let ours = json!({"agent_id": "agent-1", "campaign_id": "camp-1", "contact_id": contact});
    match platform {
        "vapi" => set(
            fixture("vapi_end_of_call_report"),
            "/message/call/assistantOverrides/metadata",
            ours,
        ),
        "retell" => set(fixture("retell_call_analyzed"), "/call/metadata", ours),
        "bland" => set(fixture("bland_post_call"), "/metadata", ours),
        _ => set(
            fixture("elevenlabs_post_call_transcription"),
            "/data/conversation_initiation_client_data/dynamic_variables",
            ours,
        ),
    }
}

/// The headers the platform would send with `body` at the world's now.
pub(crate) fn signed(world: &World, platform: &str, body: &str) -> Vec<(String, String)> {
    let (name, value) = signature(platform, body, world.clock.now());
    vec![(name.to_owned(), value)]
}

const PLATFORMS: [&str; 4] = ["vapi", "retell", "bland", "elevenlabs"];

async fn connect(world: &World, platform: &str) {
    world
        .put(&format!("/v1/platforms/{platform}"))
        .json(&connection(platform))
        .send()
        .await
        .expect(StatusCode::OK);
}

pub(crate) async fn post(
    world: &World,
    account: &str,
    platform: &str,
    headers: &[(String, String)],
    body: &str,
) -> Reply {
    let mut request = Request::builder()
        .method(Method::POST)
        .uri(format!("/v1/webhooks/{account}/{platform}"))
        .header(header::CONTENT_TYPE, "application/json");
    for (name, value) in headers {
        request = request.header(name.as_str(), value.as_str());
    }
    world
        .send(request.body(Body::from(body.to_owned())).unwrap())
        .await
}

async fn a_connection_keeps_its_secrets_write_only(world: World) {
    let reply = world
        .put("/v1/platforms/vapi")
        .json(&json!({
            "api_key": "vapi-private-key-SECRET",
            "webhook_secret": "vapi-webhook-SECRET",
            "vapi_auth": {"type": "bearer", "header": "X-Vapi-Secret", "bearer_prefix": false},
            "analysis_mapping": {"consent_sms": "ok_to_text"}
        }))
        .send()
        .await
        .expect(StatusCode::OK);
    assert!(!reply.text().contains("SECRET"), "{reply}");
    let view = reply.json();
    assert_eq!(view["api_key_set"], true);
    assert_eq!(view["webhook_secret_set"], true);
    assert_eq!(view["webhook_path"], "/v1/webhooks/acme/vapi");
    assert_eq!(view["vapi_auth"]["header"], "x-vapi-secret");
    assert_eq!(view["analysis_mapping"]["consent_sms"], "ok_to_text");
    assert_eq!(view["analysis_mapping"]["consent_email"], "consent_email");
    let got = world
        .get("/v1/platforms/vapi")
        .send()
        .await
        .expect(StatusCode::OK);
    assert!(!got.text().contains("SECRET"), "{got}");
    // Secrets absent from a later PUT are kept.
    let kept = world
        .put("/v1/platforms/vapi")
        .json(&json!({}))
        .send()
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(kept["api_key_set"], true);
    assert_eq!(
        world.platform_secrets.names(),
        vec![
            "/followups/platforms/acme/vapi/api-key".to_owned(),
            "/followups/platforms/acme/vapi/webhook-secret".to_owned(),
        ]
    );
    // Another account sees nothing.
    world
        .get("/v1/platforms/vapi")
        .by(GLOBEX)
        .send()
        .await
        .problem(StatusCode::NOT_FOUND);
    world
        .delete("/v1/platforms/vapi")
        .send()
        .await
        .expect(StatusCode::NO_CONTENT);
    assert!(world.platform_secrets.names().is_empty());
    world
        .get("/v1/platforms/vapi")
        .send()
        .await
        .problem(StatusCode::NOT_FOUND);
    world
        .get("/v1/platforms/twilio")
        .send()
        .await
        .problem(StatusCode::NOT_FOUND);
    world
        .get("/v1/platforms/vapi")
        .anonymous()
        .send()
        .await
        .problem(StatusCode::UNAUTHORIZED);
}

async fn a_connection_with_bad_fields_is_400_and_stores_nothing(world: World) {
    let cases = [
        ("retell", json!({"webhook_secret": "x"}), "webhook_secret"),
        ("bland", json!({"api_key": ""}), "api_key"),
        (
            "bland",
            json!({"vapi_auth": {"type": "bearer"}}),
            "vapi_auth",
        ),
        (
            "vapi",
            json!({"vapi_auth": {"type": "hmac", "algorithm": "sha1"}}),
            "vapi_auth.algorithm",
        ),
        (
            "vapi",
            json!({"vapi_auth": {"type": "hmac", "payload_format": "{url}{body}"}}),
            "vapi_auth.payload_format",
        ),
        (
            "elevenlabs",
            json!({"analysis_mapping": {"nope": "x"}}),
            "analysis_mapping.nope",
        ),
    ];
    for (platform, body, field) in cases {
        let reply = world
            .put(&format!("/v1/platforms/{platform}"))
            .json(&body)
            .send()
            .await;
        let fields = reply.invalid_fields();
        assert!(
            fields.contains(&field.to_owned()),
            "{platform} {body}: {reply}"
        );
    }
    assert!(world.platform_secrets.names().is_empty());
    world
        .get("/v1/platforms/vapi")
        .send()
        .await
        .problem(StatusCode::NOT_FOUND);
}

async fn each_platforms_signed_end_of_call_records_followups_once_per_call(world: World) {
    world.configure_acme().await;
    for platform in PLATFORMS {
        connect(&world, platform).await;
        let contact = format!("c-{platform}");
        let body = answered(platform, &contact).to_string();
        let headers = signed(&world, platform, &body);
        let first = post(&world, "acme", platform, &headers, &body)
            .await
            .expect(StatusCode::OK)
            .json();
        assert!(
            first["webhook_id"]
                .as_str()
                .unwrap()
                .starts_with(&format!("{platform}:")),
            "{first}"
        );
        let stored = world.followups_of(ACME, &contact).await;
        assert!(!stored.is_empty(), "{platform}: {first}");
        // A redelivery (Bland's delayed second webhook, a platform retry) changes nothing.
        let again = post(&world, "acme", platform, &headers, &body)
            .await
            .expect(StatusCode::OK)
            .json();
        assert_eq!(again["followups"], first["followups"], "{platform}");
        assert_eq!(world.followups_of(ACME, &contact).await.len(), stored.len());
    }
}

async fn a_missing_or_wrong_signature_is_401_and_stores_nothing(world: World) {
    world.configure_acme().await;
    for platform in PLATFORMS {
        connect(&world, platform).await;
        let contact = format!("c-{platform}");
        let body = answered(platform, &contact).to_string();
        let good = signed(&world, platform, &body);
        let other_body = answered(platform, "someone-else").to_string();
        let for_other_body = signed(&world, platform, &other_body);
        let wrong: Vec<(String, String)> = match platform {
            // Vapi's bearer does not cover the body: a wrong token instead.
            "vapi" => vec![("authorization".into(), "Bearer not-the-secret".into())],
            _ => for_other_body,
        };
        for headers in [vec![], wrong] {
            let reply = post(&world, "acme", platform, &headers, &body).await;
            reply.problem(StatusCode::UNAUTHORIZED);
        }
        // Signed right, but for an account that has not connected the platform.
        post(&world, "globex", platform, &good, &body)
            .await
            .problem(StatusCode::UNAUTHORIZED);
        post(&world, "no%20such%20account", platform, &good, &body)
            .await
            .problem(StatusCode::UNAUTHORIZED);
        assert!(
            world.followups_of(ACME, &contact).await.is_empty(),
            "{platform}"
        );
    }
    // A Retell signature more than five minutes old.
    let body = answered("retell", "c-stale").to_string();
    let headers = signed(&world, "retell", &body);
    world.clock.advance(chrono::Duration::minutes(6));
    post(&world, "acme", "retell", &headers, &body)
        .await
        .problem(StatusCode::UNAUTHORIZED);
    assert!(world.followups_of(ACME, "c-stale").await.is_empty());
}

async fn a_native_body_without_the_contacts_number_is_400_naming_it(world: World) {
    world.configure_acme().await;
    let cases = [
        (
            "vapi",
            vec!["/message/customer/number", "/message/call/customer/number"],
            "message.customer.number",
        ),
        ("retell", vec!["/call/to_number"], "call.to_number"),
        ("bland", vec!["/to"], "to"),
        (
            "elevenlabs",
            vec!["/data/metadata/phone_call/external_number"],
            "data.metadata.phone_call.external_number",
        ),
    ];
    for (platform, remove, field) in cases {
        connect(&world, platform).await;
        let contact = format!("c-{platform}");
        let mut body = answered(platform, &contact);
        for pointer in remove {
            let (parent, key) = pointer.rsplit_once('/').unwrap();
            if let Some(map) = body.pointer_mut(parent).and_then(Value::as_object_mut) {
                map.remove(key);
            }
        }
        let body = body.to_string();
        let headers = signed(&world, platform, &body);
        let reply = post(&world, "acme", platform, &headers, &body).await;
        assert_eq!(reply.invalid_fields(), vec![field.to_owned()], "{reply}");
        assert!(world.followups_of(ACME, &contact).await.is_empty());
        // Nothing was recorded for the call id either: the fixed body is accepted.
        let fixed = answered(platform, &contact).to_string();
        let headers = signed(&world, platform, &fixed);
        post(&world, "acme", platform, &headers, &fixed)
            .await
            .expect(StatusCode::OK);
    }
}

async fn non_final_events_are_acknowledged_and_ignored(world: World) {
    world.configure_acme().await;
    let cases = [
        ("vapi", fixture("vapi_status_update"), "status-update"),
        (
            "retell",
            fixture("retell_call_ended_connected"),
            "call_ended",
        ),
        (
            "elevenlabs",
            json!({"type": "post_call_audio", "event_timestamp": 1, "data": {"conversation_id": "conv_1", "full_audio": "AAAA"}}),
            "post_call_audio",
        ),
    ];
    for (platform, body, event) in cases {
        connect(&world, platform).await;
        let body = body.to_string();
        let headers = signed(&world, platform, &body);
        let answer = post(&world, "acme", platform, &headers, &body)
            .await
            .expect(StatusCode::OK)
            .json();
        assert_eq!(answer["ignored"], event, "{answer}");
    }
}

async fn the_preview_reads_a_native_body(world: World) {
    world.configure_acme().await;
    let body = answered("retell", "c-preview");
    let reply = world
        .post("/v1/decisions/preview?platform=retell")
        .json(&body)
        .send()
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(reply["platform"], "retell");
    assert_eq!(reply["mapped"]["call"]["agent_id"], "agent-1");
    assert_eq!(reply["mapped"]["call"]["outcome"], "completed");
    assert!(
        reply["followups"].as_array().is_some_and(|d| !d.is_empty()),
        "{reply}"
    );
    assert!(world.followups_of(ACME, "c-preview").await.is_empty());
    let fields = world
        .post("/v1/decisions/preview?platform=twilio")
        .json(&body)
        .send()
        .await
        .invalid_fields();
    assert_eq!(fields, vec!["platform".to_owned()]);
    let fields = world
        .post("/v1/decisions/preview?platform=retell&platform=vapi")
        .json(&body)
        .send()
        .await
        .invalid_fields();
    assert_eq!(fields, vec!["platform".to_owned()]);
}
