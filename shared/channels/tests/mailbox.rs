//! Sending from a connected mailbox against a local stand-in for Google's and
//! Microsoft's token endpoints, Gmail and Graph, which checks each request's shape
//! (form fields, PKCE, bearer token, the encoding of the MIME) and keeps what it took.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use channels::mailbox::oauth::{self, OAuthHttp, Pkce};
use channels::mailbox::{
    Endpoints, MAILBOX_DISCONNECTED, Mailbox, MailboxApi, MailboxSend, OAuthApp, Provider,
};
use channels::{EmailContent, EmailIdentity, Outbound, RetryPolicy, Secret, SendError};
use mail_parser::{MessageParser, MimeHeaders};
use policy::values::EmailAddress;
use testkit::{Flavor, MailProviderStub};

const REDIRECT: &str = "http://127.0.0.1:9/v1/mailboxes/cb";
const UNSUBSCRIBE: &str = "https://followups.example/v1/unsubscribe/YWNtZQ.fu_0123abcd.tag";

fn app(stub: &MailProviderStub) -> OAuthApp {
    OAuthApp {
        provider: match stub.flavor {
            Flavor::Google => Provider::Google,
            Flavor::Microsoft => Provider::Microsoft,
        },
        client_id: stub.client_id.clone(),
        client_secret: Secret::new(stub.client_secret.clone()),
        endpoints: Endpoints::under(&stub.base_url),
    }
}

/// What a user's consent gives: the stub's authorization answer, exchanged with the
/// PKCE verifier for a refresh token.
async fn connected(flavor: Flavor, address: &str) -> (MailProviderStub, Mailbox) {
    let stub = MailProviderStub::start(flavor, address).await;
    let app = app(&stub);
    let pkce = Pkce::generate().unwrap();
    let url = oauth::authorization_url(&app, REDIRECT, "st4te", &pkce.challenge).unwrap();
    let location = reqwest::Url::parse(&testkit::consent(&url).await).unwrap();
    let query: std::collections::HashMap<_, _> = location.query_pairs().into_owned().collect();
    assert_eq!(query["state"], "st4te");
    let http = OAuthHttp::default();
    let tokens = oauth::exchange_code(&http, &app, &query["code"], &pkce.verifier, REDIRECT)
        .await
        .unwrap();
    assert_eq!(
        oauth::mailbox_address(&http, &app, &tokens.access_token)
            .await
            .unwrap(),
        address
    );
    let exchange = stub.token_requests().pop().unwrap();
    assert_eq!(exchange["grant_type"], "authorization_code");
    assert_eq!(exchange["code_verifier"], pkce.verifier.expose());
    assert_eq!(exchange["redirect_uri"], REDIRECT);
    let mailbox = Mailbox {
        account_id: "acme".into(),
        id: format!("mb_{}", "1".repeat(32)),
        provider: app.provider,
        address: address.to_owned(),
        refresh_token: tokens
            .refresh_token
            .expect("offline access gives a refresh token"),
    };
    (stub, mailbox)
}

fn email() -> Outbound {
    Outbound::Email {
        kind: channels::EmailKind::Email,
        to: EmailAddress::parse("to", "lead@example.com").expect("a test address is valid"),
        sender: EmailIdentity {
            name: "María at Acme".into(),
            address: "ignored@ses.example".into(),
            configuration_set: None,
        },
        content: EmailContent {
            subject: "Following up on our call".into(),
            html: "<p>Hi <b>Sam</b></p>".into(),
            text: "Hi Sam".into(),
        },
        tags: vec![
            ("account_id".into(), "acme".into()),
            ("followup_id".into(), "fu_0123abcd".into()),
        ],
        headers: vec![
            ("List-Unsubscribe".into(), format!("<{UNSUBSCRIBE}>")),
            (
                "List-Unsubscribe-Post".into(),
                "List-Unsubscribe=One-Click".into(),
            ),
        ],
    }
}

/// A sender that records its waits instead of sleeping.
fn sender(stub: &MailProviderStub) -> (MailboxApi, Arc<Mutex<Vec<Duration>>>) {
    let waits = Arc::new(Mutex::new(Vec::new()));
    let recorded = waits.clone();
    let api = MailboxApi::new([app(stub)]).with_sleep(Arc::new(move |d| {
        recorded.lock().unwrap().push(d);
        Box::pin(async {})
    }));
    (api, waits)
}

fn check_mime(mime: &[u8], from: &str) {
    let message = MessageParser::default()
        .parse(mime)
        .expect("a parsable message");
    let from_addr = message.from().and_then(|a| a.first()).unwrap();
    assert_eq!(from_addr.name(), Some("María at Acme"));
    assert_eq!(from_addr.address(), Some(from));
    assert_eq!(
        message
            .to()
            .and_then(|a| a.first())
            .and_then(|a| a.address()),
        Some("lead@example.com")
    );
    assert_eq!(
        message
            .reply_to()
            .and_then(|a| a.first())
            .and_then(|a| a.address()),
        Some(from)
    );
    assert_eq!(message.subject(), Some("Following up on our call"));
    let domain = from.split('@').nth(1).unwrap();
    assert_eq!(
        message.message_id(),
        Some(format!("fu_0123abcd@{domain}").as_str())
    );
    assert_eq!(
        message.header_raw("X-Followup-Id").map(str::trim),
        Some("fu_0123abcd")
    );
    assert!(message.date().is_some());
    // One-click unsubscribe (RFC 8058), as SES emails carry it.
    assert_eq!(
        message.header_raw("List-Unsubscribe").map(str::trim),
        Some(format!("<{UNSUBSCRIBE}>").as_str())
    );
    assert_eq!(
        message.header_raw("List-Unsubscribe-Post").map(str::trim),
        Some("List-Unsubscribe=One-Click")
    );
    let content_type = message.content_type().unwrap();
    assert_eq!(content_type.ctype(), "multipart");
    assert_eq!(content_type.subtype(), Some("alternative"));
    assert_eq!(message.body_text(0).as_deref(), Some("Hi Sam"));
    assert_eq!(
        message.body_html(0).as_deref(),
        Some("<p>Hi <b>Sam</b></p>")
    );
}

#[tokio::test]
async fn gmail_gets_the_raw_message_base64url_with_a_refreshed_token() {
    let (stub, mailbox) = connected(Flavor::Google, "maria@acme.example").await;
    let (api, _) = sender(&stub);
    let sent = api.send_from(&mailbox, &email()).await.unwrap();
    assert_eq!(sent.provider_id, "gmail-1");
    assert_eq!(sent.rotated_refresh_token, None);
    let refresh = stub.token_requests().pop().unwrap();
    assert_eq!(refresh["grant_type"], "refresh_token");
    assert_eq!(refresh["refresh_token"], mailbox.refresh_token.expose());
    assert_eq!(refresh["client_id"], stub.client_id);
    let delivered = stub.sent();
    assert_eq!(delivered.len(), 1);
    assert_eq!(
        Some(&delivered[0].access_token),
        stub.issued_access_tokens().last()
    );
    check_mime(&delivered[0].mime, "maria@acme.example");
}

#[tokio::test]
async fn graph_gets_the_mime_base64_and_a_rotated_refresh_token_is_handed_back() {
    let (stub, mailbox) = connected(Flavor::Microsoft, "maria@acme.onmicrosoft.example").await;
    stub.rotate_refresh_tokens();
    let (api, _) = sender(&stub);
    let sent = api.send_from(&mailbox, &email()).await.unwrap();
    assert_eq!(sent.provider_id, "<fu_0123abcd@acme.onmicrosoft.example>");
    let rotated = sent
        .rotated_refresh_token
        .expect("Microsoft rotates refresh tokens");
    assert_ne!(rotated.expose(), mailbox.refresh_token.expose());
    let refresh = stub.token_requests().pop().unwrap();
    assert_eq!(refresh["grant_type"], "refresh_token");
    assert!(refresh["scope"].contains("Mail.Send"));
    check_mime(&stub.sent()[0].mime, "maria@acme.onmicrosoft.example");
}

#[tokio::test]
async fn the_access_token_is_cached_until_it_expires() {
    let (stub, mailbox) = connected(Flavor::Google, "maria@acme.example").await;
    let (api, _) = sender(&stub);
    let before = stub.token_requests().len();
    api.send_from(&mailbox, &email()).await.unwrap();
    api.send_from(&mailbox, &email()).await.unwrap();
    assert_eq!(
        stub.token_requests().len(),
        before + 1,
        "one refresh for two sends"
    );
    let sent = stub.sent();
    assert_eq!(sent[0].access_token, sent[1].access_token);

    // Tokens that expire at once are refreshed for every send.
    let (stub, mailbox) = connected(Flavor::Google, "maria@acme.example").await;
    stub.set_expires_in(0);
    let (api, _) = sender(&stub);
    let before = stub.token_requests().len();
    api.send_from(&mailbox, &email()).await.unwrap();
    api.send_from(&mailbox, &email()).await.unwrap();
    assert_eq!(stub.token_requests().len(), before + 2);
}

#[tokio::test]
async fn a_refused_access_token_is_refreshed_once_and_the_send_goes_through() {
    let (stub, mailbox) = connected(Flavor::Google, "maria@acme.example").await;
    let (api, _) = sender(&stub);
    api.send_from(&mailbox, &email()).await.unwrap();
    stub.refuse_access_token(&stub.sent()[0].access_token);
    api.send_from(&mailbox, &email()).await.unwrap();
    let sent = stub.sent();
    assert_eq!(sent.len(), 2);
    assert_ne!(sent[0].access_token, sent[1].access_token);
}

#[tokio::test]
async fn revoked_consent_is_mailbox_disconnected_and_nothing_is_sent() {
    for flavor in [Flavor::Google, Flavor::Microsoft] {
        let (stub, mailbox) = connected(flavor, "maria@acme.example").await;
        stub.revoke_consent();
        let (api, _) = sender(&stub);
        let error = api.send_from(&mailbox, &email()).await.unwrap_err();
        assert!(
            matches!(&error, SendError::Permanent { code, reason } if code == MAILBOX_DISCONNECTED && reason.contains("invalid_grant")),
            "{error:?}"
        );
        assert!(stub.sent().is_empty());
    }
}

#[tokio::test]
async fn throttling_waits_as_retry_after_asks_then_sends() {
    let (stub, mailbox) = connected(Flavor::Google, "maria@acme.example").await;
    stub.fail_next_send(
        429,
        Some("3"),
        r#"{"error":{"code":429,"message":"Rate limit"}}"#,
    );
    stub.fail_next_send(503, None, "unavailable");
    let (api, waits) = sender(&stub);
    let sent = api.send_from(&mailbox, &email()).await.unwrap();
    assert_eq!(sent.provider_id, "gmail-1");
    let waits = waits.lock().unwrap().clone();
    assert_eq!(waits.len(), 2);
    assert_eq!(waits[0], Duration::from_secs(3), "Retry-After is honoured");
    assert!(waits[1] <= RetryPolicy::default().max_delay);
}

#[tokio::test]
async fn a_retry_after_beyond_the_bound_is_left_to_the_executor() {
    let (stub, mailbox) = connected(Flavor::Microsoft, "maria@acme.example").await;
    stub.fail_next_send(
        429,
        Some("3600"),
        r#"{"error":{"code":"TooManyRequests","message":"Slow down"}}"#,
    );
    let (api, waits) = sender(&stub);
    let error = api.send_from(&mailbox, &email()).await.unwrap_err();
    assert!(
        matches!(&error, SendError::Retryable { reason } if reason.contains("Slow down")),
        "{error:?}"
    );
    assert!(waits.lock().unwrap().is_empty());
    assert!(stub.sent().is_empty());
}

#[tokio::test]
async fn other_client_errors_are_permanent_with_the_providers_message() {
    let (stub, mailbox) = connected(Flavor::Google, "maria@acme.example").await;
    stub.fail_next_send(
        400,
        None,
        r#"{"error":{"code":400,"message":"Invalid To header"}}"#,
    );
    let (api, waits) = sender(&stub);
    let error = api.send_from(&mailbox, &email()).await.unwrap_err();
    assert_eq!(
        error,
        SendError::Permanent {
            code: "http_400".into(),
            reason: "HTTP 400: Invalid To header".into()
        }
    );
    assert!(waits.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_gateway_timeout_may_have_sent_and_is_never_repeated() {
    let (stub, mailbox) = connected(Flavor::Google, "maria@acme.example").await;
    stub.fail_next_send(504, None, "gateway timeout");
    let (api, waits) = sender(&stub);
    let error = api.send_from(&mailbox, &email()).await.unwrap_err();
    assert!(matches!(error, SendError::Unknown { .. }), "{error:?}");
    assert!(waits.lock().unwrap().is_empty());
    assert!(stub.sent().is_empty(), "no second request was made");
}

#[tokio::test]
async fn an_extra_header_that_could_inject_or_repeat_one_is_refused_before_any_request() {
    let (stub, mailbox) = connected(Flavor::Google, "maria@acme.example").await;
    let (api, _) = sender(&stub);
    let before = stub.token_requests().len();
    for (name, value) in [
        (
            "List-Unsubscribe",
            "<https://x.example/u>\r\nBcc: all@example.com",
        ),
        ("Bcc: all@example.com\r\nX", "1"),
        ("from", "someone@else.example"),
        ("Message-ID", "<other@else.example>"),
    ] {
        let mut message = email();
        if let Outbound::Email { headers, .. } = &mut message {
            headers.push((name.into(), value.into()));
        }
        let error = api.send_from(&mailbox, &message).await.unwrap_err();
        assert!(
            matches!(&error, SendError::Permanent { code, .. } if code == "invalid_header"),
            "{name}: {error:?}"
        );
    }
    assert_eq!(
        stub.token_requests().len(),
        before,
        "no token was refreshed"
    );
    assert!(stub.sent().is_empty());
}
