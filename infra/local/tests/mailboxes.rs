//! Connecting a mailbox in the local runtime, as a new user would: the real
//! `followups-local` binary with Google's endpoints pointed at a loopback stand-in
//! (`GOOGLE_OAUTH_BASE`), the consent followed like a browser, the callback, then the
//! demo run with `--email-sender` so the campaign's emails leave from the mailbox and
//! land in the outbox naming it.

mod support;

use serde_json::{Value, json};
use testkit::{Flavor, MailProviderStub, consent};

use support::*;

const ADDRESS: &str = "ana.sales@gmail.example";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connected_gmail_mailbox_sends_the_demo_emails_into_the_outbox_under_its_address() {
    let google = MailProviderStub::start(Flavor::Google, ADDRESS).await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let local = Local::start_with_env(
        &data,
        &[],
        &[
            ("GOOGLE_CLIENT_ID", &google.client_id),
            ("GOOGLE_CLIENT_SECRET", &google.client_secret),
            ("GOOGLE_OAUTH_BASE", &google.base_url),
        ],
    );
    let api = Api::new(&local, &data);

    // Connect: the authorization URL is the stand-in's, and it sends the browser back
    // to this runtime's callback, which exchanges the code (with the PKCE verifier).
    let start = api.post("/v1/mailboxes/google/connect", json!({})).await;
    let url = start["authorization_url"].as_str().unwrap();
    assert!(
        url.starts_with(&format!("{}/authorize?", google.base_url)),
        "{url}"
    );
    let callback = consent(url).await;
    let redirect_uri = format!("{}/v1/mailboxes/google/callback", local.base);
    assert!(callback.starts_with(&redirect_uri), "{callback}");
    let answer = reqwest::get(&callback).await.unwrap();
    assert!(answer.status().is_success(), "{}", answer.status());
    let text = answer.text().await.unwrap();
    let mailbox: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(mailbox["address"], ADDRESS);
    assert_eq!(mailbox["provider"], "google");
    assert_eq!(mailbox["status"], "connected");
    let exchange = google.token_requests().pop().unwrap();
    assert_eq!(exchange["grant_type"], "authorization_code");
    assert_eq!(exchange["redirect_uri"], redirect_uri);
    assert!(!exchange["code_verifier"].is_empty());
    let listed = api.get("/v1/mailboxes").await;
    assert_eq!(listed["items"][0]["id"], mailbox["id"], "{listed}");
    for token in google
        .issued_refresh_tokens()
        .iter()
        .chain(&google.issued_access_tokens())
    {
        assert!(!text.contains(token.as_str()) && !listed.to_string().contains(token.as_str()));
    }
    // The refresh token is kept sealed with the data directory's key, never in clear.
    assert!(data.join("mailbox.key").exists());

    // The demo's campaign names the mailbox as its email sender.
    let id = mailbox["id"].as_str().unwrap();
    run_demo(&local, &data, &["--email-sender", id]);
    for (what, to_whom, channel) in [
        ("email to Ana", "ana.diaz@example.com", "email"),
        (
            "missed-call email to Carla",
            "carla.ruiz@example.com",
            "missed_call_email",
        ),
    ] {
        let sent = api
            .wait_for_outbox(what, |e| e["destination"] == to_whom)
            .await;
        assert_eq!(sent["channel"], channel, "{sent}");
        assert_eq!(sent["detail"]["from_address"], ADDRESS, "{sent}");
        assert_eq!(
            sent["detail"]["sender"],
            json!({"mailbox_id": id, "provider": "google", "address": ADDRESS}),
            "{sent}"
        );
        // The one-click unsubscribe pair, as for SES emails.
        let headers = sent["detail"]["headers"].to_string();
        assert!(headers.contains("List-Unsubscribe-Post"), "{sent}");
    }
    let followup = api.followup("contact-ana", "email").await;
    assert_eq!(followup["status"], "sent", "{followup}");
}
