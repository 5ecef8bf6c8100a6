//! The HTTP senders (WhatsApp Cloud API, voice platform) against a local server that
//! checks the exact request and answers as the provider would.

use std::sync::Arc;
use std::time::Duration;

use channels::{
    Outbound, RetryPolicy, SecretSource, SendError, Sender, StaticSecrets, VoiceCall, WhatsAppCloud,
};
use policy::values::PhoneNumber;
use serde_json::{Value, json};
use testkit::recording::{RecordingStub as Stub, Reply};

fn phone(raw: &str) -> PhoneNumber {
    PhoneNumber::parse("to", raw).expect("a test number is valid")
}

fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        attempts: 3,
        first_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(20),
    }
}

fn secrets() -> Arc<dyn SecretSource> {
    Arc::new(StaticSecrets::new([
        ("whatsapp-token", "EAAG-test-token"),
        ("voice-secret", "vk_test_secret"),
    ]))
}

// --- WhatsApp -------------------------------------------------------------------

fn whatsapp(url: &str) -> WhatsAppCloud {
    WhatsAppCloud::new("106540352242922", secrets(), "whatsapp-token")
        .with_base_url(url)
        .with_timeout(Duration::from_millis(400))
        .with_retry(fast_retry())
}

fn template_message() -> Outbound {
    Outbound::WhatsApp {
        to: phone("+14155550123"),
        template_name: "followup_after_call".into(),
        language: "en_US".into(),
        parameters: vec!["Ana".into(), "Thursday 3 pm".into()],
        callback_data: Some("fu_1:1".into()),
    }
}

fn meta_error(code: i64, message: &str) -> Value {
    json!({"error": {
        "message": message,
        "type": "OAuthException",
        "code": code,
        "error_subcode": 2494010,
        "fbtrace_id": "AbCdEf"
    }})
}

fn meta_accepted(id: &str) -> Reply {
    Reply::Json(
        200,
        json!({
            "messaging_product": "whatsapp",
            "contacts": [{"input": "+14155550123", "wa_id": "14155550123"}],
            "messages": [{"id": id}]
        }),
    )
}

#[tokio::test]
async fn whatsapp_template_message_has_the_cloud_api_shape() {
    let (stub, url) = Stub::start(vec![meta_accepted("wamid.HBgLMTQxNTU1")]).await;

    let sent = whatsapp(&url).send(&template_message()).await.unwrap();

    assert_eq!(sent.provider_id, "wamid.HBgLMTQxNTU1");
    let seen = stub.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].method, "POST");
    assert_eq!(seen[0].path, "/v21.0/106540352242922/messages");
    assert_eq!(seen[0].get("authorization"), Some("Bearer EAAG-test-token"));
    assert_eq!(seen[0].get("content-type"), Some("application/json"));
    assert_eq!(
        seen[0].body,
        json!({
            "messaging_product": "whatsapp",
            "to": "+14155550123",
            "type": "template",
            "template": {
                "name": "followup_after_call",
                "language": {"code": "en_US"},
                "components": [{
                    "type": "body",
                    "parameters": [
                        {"type": "text", "text": "Ana"},
                        {"type": "text", "text": "Thursday 3 pm"}
                    ]
                }]
            },
            "biz_opaque_callback_data": "fu_1:1"
        })
    );
}

#[tokio::test]
async fn whatsapp_api_version_is_configurable() {
    let (stub, url) = Stub::start(vec![meta_accepted("wamid.1")]).await;

    whatsapp(&url)
        .with_api_version("v22.0")
        .send(&template_message())
        .await
        .unwrap();

    assert_eq!(stub.seen()[0].path, "/v22.0/106540352242922/messages");
}

#[tokio::test]
async fn whatsapp_missing_template_is_permanent_and_not_retried() {
    let (stub, url) = Stub::start(vec![Reply::Json(
        404,
        meta_error(
            132001,
            "(#132001) Template name does not exist in the translation",
        ),
    )])
    .await;

    let result = whatsapp(&url).send(&template_message()).await;

    assert!(
        matches!(&result, Err(SendError::Permanent { code, .. }) if code == "132001"),
        "{result:?}"
    );
    assert_eq!(stub.seen().len(), 1);
}

#[tokio::test]
async fn whatsapp_outside_the_24_hour_window_is_permanent() {
    let (stub, url) = Stub::start(vec![Reply::Json(
        400,
        meta_error(131047, "Re-engagement message"),
    )])
    .await;

    let result = whatsapp(&url).send(&template_message()).await;

    assert!(
        matches!(&result, Err(SendError::Permanent { code, .. }) if code == "131047"),
        "{result:?}"
    );
    assert_eq!(stub.seen().len(), 1);
}

#[tokio::test]
async fn whatsapp_rate_limit_is_retried_then_succeeds() {
    let (stub, url) = Stub::start(vec![
        Reply::Json(429, meta_error(130429, "Rate limit hit")),
        meta_accepted("wamid.after-rate-limit"),
    ])
    .await;

    let sent = whatsapp(&url).send(&template_message()).await.unwrap();

    assert_eq!(sent.provider_id, "wamid.after-rate-limit");
    let seen = stub.seen();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].body, seen[1].body);
}

#[tokio::test]
async fn whatsapp_server_error_is_retried_then_succeeds() {
    let (stub, url) = Stub::start(vec![
        Reply::Json(
            500,
            json!({"error": {"message": "An unknown error occurred", "code": 1}}),
        ),
        meta_accepted("wamid.after-500"),
    ])
    .await;

    let sent = whatsapp(&url).send(&template_message()).await.unwrap();

    assert_eq!(sent.provider_id, "wamid.after-500");
    assert_eq!(stub.seen().len(), 2);
}

#[tokio::test]
async fn whatsapp_rate_limit_that_persists_is_retryable_after_the_bounded_tries() {
    let limited = Reply::Json(400, meta_error(131056, "Pair rate limit hit"));
    let (stub, url) = Stub::start(vec![limited.clone(), limited.clone(), limited]).await;

    let result = whatsapp(&url).send(&template_message()).await;

    assert!(
        matches!(result, Err(SendError::Retryable { .. })),
        "{result:?}"
    );
    assert_eq!(stub.seen().len(), 3);
}

#[tokio::test]
async fn whatsapp_timeout_after_sending_is_unknown_and_not_retried() {
    let (stub, url) = Stub::start(vec![Reply::Hang, meta_accepted("wamid.never")]).await;

    let result = whatsapp(&url).send(&template_message()).await;

    assert!(
        matches!(result, Err(SendError::Unknown { .. })),
        "{result:?}"
    );
    assert_eq!(stub.seen().len(), 1);
}

#[tokio::test]
async fn whatsapp_unreachable_api_is_retryable() {
    // Bind then drop a listener: its port now refuses connections.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();

    let result = whatsapp(&format!("http://127.0.0.1:{port}"))
        .send(&template_message())
        .await;

    assert!(
        matches!(result, Err(SendError::Retryable { .. })),
        "{result:?}"
    );
}

#[tokio::test]
async fn whatsapp_error_reasons_never_carry_the_token() {
    let (_stub, url) = Stub::start(vec![Reply::Json(
        401,
        meta_error(190, "Error validating access token"),
    )])
    .await;
    let sender = whatsapp(&url);

    let result = sender.send(&template_message()).await;

    let error = result.unwrap_err();
    assert!(
        matches!(&error, SendError::Permanent { code, .. } if code == "190"),
        "{error:?}"
    );
    assert!(!format!("{error} {error:?} {sender:?}").contains("EAAG-test-token"));
}

// --- Voice platform -------------------------------------------------------------

fn voice(url: &str) -> VoiceCall {
    VoiceCall::new(format!("{url}/v1/calls"), secrets(), "voice-secret")
        .with_timeout(Duration::from_millis(400))
        .with_retry(fast_retry())
}

fn follow_up_call() -> Outbound {
    Outbound::Call {
        to: phone("+14155550123"),
        agent_id: "agent_sales_es".into(),
        instructions: "Call Ana back about the Thursday demo.".into(),
        account_id: "acme".into(),
        followup_id: "fu_01J9ZQ".into(),
        attempt: 2,
        platform: None,
        variables: Default::default(),
    }
}

fn call_placed(id: &str) -> Reply {
    Reply::Json(201, json!({"call_id": id, "status": "queued"}))
}

#[tokio::test]
async fn call_request_carries_agent_number_instructions_metadata_and_idempotency_key() {
    let (stub, url) = Stub::start(vec![call_placed("call_8f2")]).await;

    let sent = voice(&url).send(&follow_up_call()).await.unwrap();

    assert_eq!(sent.provider_id, "call_8f2");
    let seen = stub.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].method, "POST");
    assert_eq!(seen[0].path, "/v1/calls");
    assert_eq!(seen[0].get("authorization"), Some("Bearer vk_test_secret"));
    assert_eq!(seen[0].get("idempotency-key"), Some("fu_01J9ZQ:2"));
    assert_eq!(
        seen[0].body,
        json!({
            "agent_id": "agent_sales_es",
            "to": "+14155550123",
            "instructions": "Call Ana back about the Thursday demo.",
            "metadata": {"account_id": "acme", "followup_id": "fu_01J9ZQ", "attempt": 2}
        })
    );
}

#[tokio::test]
async fn call_rejected_by_the_platform_is_permanent_and_not_retried() {
    let (stub, url) = Stub::start(vec![Reply::Json(
        422,
        json!({"error": "invalid phone number"}),
    )])
    .await;

    let result = voice(&url).send(&follow_up_call()).await;

    assert!(
        matches!(&result, Err(SendError::Permanent { code, .. }) if code == "http_422"),
        "{result:?}"
    );
    assert_eq!(stub.seen().len(), 1);
}

#[tokio::test]
async fn call_throttled_is_retried_then_placed() {
    let (stub, url) = Stub::start(vec![
        Reply::Json(429, json!({"error": "slow down"})),
        call_placed("call_after_429"),
    ])
    .await;

    let sent = voice(&url).send(&follow_up_call()).await.unwrap();

    assert_eq!(sent.provider_id, "call_after_429");
    assert_eq!(stub.seen().len(), 2);
}

#[tokio::test]
async fn call_server_error_is_retried_with_the_same_idempotency_key() {
    let (stub, url) = Stub::start(vec![
        Reply::Json(503, json!({"error": "unavailable"})),
        call_placed("call_after_503"),
    ])
    .await;

    let sent = voice(&url).send(&follow_up_call()).await.unwrap();

    assert_eq!(sent.provider_id, "call_after_503");
    let keys: Vec<_> = stub
        .seen()
        .into_iter()
        .map(|s| s.get("idempotency-key").map(str::to_owned))
        .collect();
    assert_eq!(
        keys,
        vec![Some("fu_01J9ZQ:2".into()), Some("fu_01J9ZQ:2".into())]
    );
}

#[tokio::test]
async fn call_server_error_is_unknown_when_the_platform_ignores_idempotency_keys() {
    let (stub, url) = Stub::start(vec![
        Reply::Json(500, json!({"error": "boom"})),
        call_placed("call_never"),
    ])
    .await;

    let result = voice(&url)
        .idempotency_key_honoured(false)
        .send(&follow_up_call())
        .await;

    assert!(
        matches!(result, Err(SendError::Unknown { .. })),
        "{result:?}"
    );
    assert_eq!(stub.seen().len(), 1);
}

#[tokio::test]
async fn call_timeout_after_sending_is_unknown_and_not_retried() {
    let (stub, url) = Stub::start(vec![Reply::Hang, call_placed("call_never")]).await;

    let result = voice(&url).send(&follow_up_call()).await;

    assert!(
        matches!(result, Err(SendError::Unknown { .. })),
        "{result:?}"
    );
    assert_eq!(stub.seen().len(), 1);
}

#[tokio::test]
async fn call_without_its_secret_is_permanent_and_nothing_is_sent() {
    let (stub, url) = Stub::start(vec![call_placed("call_never")]).await;
    let sender = VoiceCall::new(
        format!("{url}/v1/calls"),
        Arc::new(StaticSecrets::default()),
        "voice-secret",
    );

    let result = sender.send(&follow_up_call()).await;

    assert!(
        matches!(&result, Err(SendError::Permanent { code, .. }) if code == "secret_missing"),
        "{result:?}"
    );
    assert!(stub.seen().is_empty());
}
