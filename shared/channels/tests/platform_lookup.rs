//! The platforms' get-call APIs against a local server that checks the exact request
//! (method, path, auth header) and answers as the platform would.

use std::sync::Arc;

use channels::{
    KeyName, MemorySecretStore, PlatformApis, PlatformCalls, PlatformLookup, Secret, SecretStore,
    SendError,
};
use serde_json::{Value, json};
use testkit::recording::{RecordingStub, Reply};

async fn start(replies: Vec<(u16, Value)>) -> (RecordingStub, String) {
    let replies = replies
        .into_iter()
        .map(|(s, b)| Reply::Json(s, b))
        .collect();
    RecordingStub::start_or(replies, Reply::Json(200, json!({}))).await
}

async fn lookups(base: &str) -> PlatformCalls {
    let secrets = Arc::new(MemorySecretStore::default());
    for (platform, key) in [
        ("vapi", "vapi-key"),
        ("retell", "retell-key"),
        ("bland", "bland-key"),
        ("elevenlabs", "xi-key"),
    ] {
        secrets
            .write(&format!("acme/{platform}"), &Secret::new(key))
            .await
            .unwrap();
    }
    let apis = PlatformApis {
        vapi: base.to_owned(),
        // A base with a trailing slash and a path of its own keeps both.
        retell: format!("{base}/retell/"),
        bland: base.to_owned(),
        elevenlabs: base.to_owned(),
    };
    let naming: KeyName =
        Arc::new(|account: &str, platform: &str| Some(format!("{account}/{platform}")));
    PlatformCalls::new(apis, secrets, naming, None)
}

#[tokio::test]
async fn each_platform_is_asked_on_its_get_call_path_with_its_auth_header() {
    let cases = [
        (
            "vapi",
            "call-1",
            "/call/call-1",
            ("authorization", "Bearer vapi-key"),
        ),
        (
            "retell",
            "call_r1",
            "/retell/v2/get-call/call_r1",
            ("authorization", "Bearer retell-key"),
        ),
        (
            "bland",
            "b-1",
            "/v1/calls/b-1",
            ("authorization", "bland-key"),
        ),
        (
            "elevenlabs",
            "conv_1",
            "/v1/convai/conversations/conv_1",
            ("xi-api-key", "xi-key"),
        ),
    ];
    for (platform, id, path, (name, value)) in cases {
        let answer = json!({"id": id, "status": "ended"});
        let (stub, base) = start(vec![(200, answer.clone())]).await;
        let body = lookups(&base)
            .await
            .get_call("acme", platform, id)
            .await
            .unwrap();
        assert_eq!(
            serde_json::from_slice::<Value>(&body).unwrap(),
            answer,
            "{platform}"
        );
        let seen = stub.seen();
        assert_eq!(seen.len(), 1, "{platform}");
        assert_eq!(seen[0].method, "GET", "{platform}");
        assert_eq!(seen[0].path, path, "{platform}");
        assert_eq!(seen[0].get(name), Some(value), "{platform}");
    }
}

#[tokio::test]
async fn a_call_id_is_one_escaped_path_segment() {
    let (stub, base) = start(vec![(200, json!({}))]).await;
    lookups(&base)
        .await
        .get_call("acme", "vapi", "../admin?x=1")
        .await
        .unwrap();
    let seen = stub.seen();
    assert_eq!(seen[0].path, "/call/..%2Fadmin%3Fx=1");
}

#[tokio::test]
async fn refusals_and_outages_are_errors_and_nothing_without_a_key_is_asked() {
    let (stub, base) = start(vec![
        (404, json!({"message": "not found"})),
        (503, json!({})),
    ])
    .await;
    let calls = lookups(&base).await;
    let missing = calls.get_call("acme", "vapi", "gone").await.unwrap_err();
    assert!(
        matches!(&missing, SendError::Permanent { code, .. } if code == "http_404"),
        "{missing:?}"
    );
    let outage = calls.get_call("acme", "vapi", "x").await.unwrap_err();
    assert!(matches!(outage, SendError::Retryable { .. }), "{outage:?}");
    let unconnected = calls.get_call("other", "vapi", "x").await.unwrap_err();
    assert!(
        matches!(&unconnected, SendError::Permanent { code, .. } if code == "platform_not_connected"),
        "{unconnected:?}"
    );
    let unknown = calls.get_call("acme", "twilio", "x").await.unwrap_err();
    assert!(
        matches!(unknown, SendError::Permanent { .. }),
        "{unknown:?}"
    );
    assert_eq!(stub.seen().len(), 2);
}
