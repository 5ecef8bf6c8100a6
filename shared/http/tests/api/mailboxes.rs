//! Connected mailboxes as a new user connects one: the connect answer, the provider's
//! consent (the stub's authorize endpoint), the callback, the list, the campaign's
//! sender, an email leaving from the mailbox, revoked consent, removal.

use std::collections::HashMap;

use axum::http::StatusCode;
use mail_parser::MessageParser;
use serde_json::{Value, json};

use crate::support::*;

for_each_store!(
    connecting_a_mailbox_stores_it_without_ever_showing_a_token,
    a_state_works_once_and_a_forged_or_foreign_one_is_refused,
    campaign_settings_refuse_a_missing_or_disconnected_mailbox,
    an_email_leaves_from_the_mailbox_and_revoked_consent_disconnects_it,
    a_removed_mailbox_is_gone,
);

/// The provider's consent screen, then the callback path and query it redirects to.
async fn consent(authorization_url: &str) -> String {
    let location = testkit::consent(authorization_url).await;
    location
        .strip_prefix(PUBLIC_BASE_URL)
        .expect("back to our redirect URI")
        .to_owned()
}

async fn connect(world: &World, provider: &str) -> Value {
    let start = world
        .post(&format!("/v1/mailboxes/{provider}/connect"))
        .send()
        .await
        .expect(StatusCode::CREATED)
        .json();
    let callback = consent(start["authorization_url"].as_str().unwrap()).await;
    world.get(&callback).anonymous().send().await.ok().json()
}

fn query_of(url: &str) -> HashMap<String, String> {
    let url = reqwest::Url::parse(url).unwrap();
    url.query_pairs().into_owned().collect()
}

async fn connecting_a_mailbox_stores_it_without_ever_showing_a_token(world: World) {
    let start = world
        .post("/v1/mailboxes/google/connect")
        .send()
        .await
        .expect(StatusCode::CREATED)
        .json();
    let url = start["authorization_url"].as_str().unwrap();
    assert!(
        url.starts_with(&format!("{}/authorize?", world.google.base_url)),
        "{url}"
    );
    let query = query_of(url);
    assert_eq!(query["client_id"], world.google.client_id);
    assert_eq!(query["response_type"], "code");
    assert_eq!(query["code_challenge_method"], "S256");
    assert_eq!(query["access_type"], "offline");
    assert_eq!(query["prompt"], "consent");
    assert!(
        query["scope"]
            .split(' ')
            .any(|s| s == "https://www.googleapis.com/auth/gmail.send")
    );
    assert_eq!(
        query["redirect_uri"],
        format!("{PUBLIC_BASE_URL}/v1/mailboxes/google/callback")
    );
    assert_eq!(start["redirect_uri"], query["redirect_uri"].as_str());
    assert!(!start.to_string().contains("verifier"));

    let callback = consent(url).await;
    let mailbox = world.get(&callback).anonymous().send().await.ok().json();
    assert_eq!(mailbox["provider"], "google");
    assert_eq!(mailbox["address"], "maria@acme.example");
    assert_eq!(mailbox["status"], "connected");
    assert!(mailbox["id"].as_str().unwrap().starts_with("mb_"));

    // The code was exchanged with the verifier of the challenge (the stub refuses any
    // other), and no token shows anywhere.
    let exchange = world.google.token_requests().pop().unwrap();
    assert_eq!(exchange["grant_type"], "authorization_code");
    assert_eq!(
        channels::mailbox::oauth::challenge_of(&exchange["code_verifier"]),
        query["code_challenge"]
    );
    let listed = world.get("/v1/mailboxes").send().await.ok().json();
    assert_eq!(listed["items"], json!([mailbox.clone()]));
    let stored = world.engine.repo.mailboxes(&account("acme")).await.unwrap();
    let stored = serde_json::to_string(&stored[0].value).unwrap();
    for token in world
        .google
        .issued_refresh_tokens()
        .into_iter()
        .chain(world.google.issued_access_tokens())
    {
        for shown in [&mailbox.to_string(), &listed.to_string(), &stored] {
            assert!(!shown.contains(&token), "{token} in {shown}");
        }
    }
    // Another tenant sees none of it.
    let other = world
        .get("/v1/mailboxes")
        .by(GLOBEX)
        .send()
        .await
        .ok()
        .json();
    assert_eq!(other["items"], json!([]));

    // Outlook too.
    let outlook = connect(&world, "microsoft").await;
    assert_eq!(outlook["address"], "maria@acme.onmicrosoft.example");
    let listed = world.get("/v1/mailboxes").send().await.ok().json();
    assert_eq!(listed["items"].as_array().unwrap().len(), 2);
}

async fn a_state_works_once_and_a_forged_or_foreign_one_is_refused(world: World) {
    let start = world
        .post("/v1/mailboxes/google/connect")
        .send()
        .await
        .expect(StatusCode::CREATED)
        .json();
    let callback = consent(start["authorization_url"].as_str().unwrap()).await;
    let state = query_of(&format!("{PUBLIC_BASE_URL}{callback}"))["state"].clone();
    let (body, tag) = state.split_once('.').unwrap();
    let forged = format!("{}x.{tag}", &body[..body.len() - 1]);
    // Altered, or brought to the other provider's callback: refused.
    for refused in [
        format!("/v1/mailboxes/google/callback?code=x&state={forged}"),
        format!("/v1/mailboxes/microsoft/callback?code=x&state={state}"),
    ] {
        let reply = world.get(&refused).anonymous().send().await;
        assert_eq!(
            reply.expect(StatusCode::BAD_REQUEST).invalid_fields(),
            ["state"],
            "{refused}"
        );
    }

    world.get(&callback).anonymous().send().await.ok();
    let again = world.get(&callback).anonymous().send().await;
    assert_eq!(
        again.expect(StatusCode::BAD_REQUEST).invalid_fields(),
        ["state"]
    );

    let unknown = world.post("/v1/mailboxes/yahoo/connect").send().await;
    assert_eq!(
        unknown.expect(StatusCode::BAD_REQUEST).invalid_fields(),
        ["provider"]
    );
}

async fn campaign_settings_refuse_a_missing_or_disconnected_mailbox(world: World) {
    world.configure_acme().await;
    let missing = format!("mb_{}", "0".repeat(32));
    let mut campaign = campaign_json();
    // A mailbox that does not exist, and a value that is neither `ses` nor a mailbox id.
    for sender in [missing.as_str(), "gmail"] {
        campaign["email"]["sender"] = json!(sender);
        let reply = world
            .put("/v1/campaigns/camp-1/followup-settings")
            .json(&campaign)
            .send()
            .await;
        assert_eq!(
            reply.expect(StatusCode::BAD_REQUEST).invalid_fields(),
            ["email.sender"],
            "{sender}"
        );
    }

    let mailbox = connect(&world, "google").await;
    campaign["email"]["sender"] = mailbox["id"].clone();
    campaign["missed_call_email"]["sender"] = mailbox["id"].clone();
    let saved = world
        .put("/v1/campaigns/camp-1/followup-settings")
        .json(&campaign)
        .send()
        .await
        .ok()
        .json();
    assert_eq!(saved["email"]["sender"], mailbox["id"]);

    // Consent revoked, seen at the next send: the mailbox is disconnected and refused.
    world.google.revoke_consent();
    let secret = world.create_secret(ACME).await;
    let now = world.clock.now();
    world
        .deliver(
            &secret,
            "wh_missed",
            &missed_call("call-m", "contact-m", now),
        )
        .await
        .ok();
    let followup = world.one_followup("contact-m", "missed_call_email").await;
    world.clock.advance(chrono::Duration::hours(1));
    world.execute(&followup).await;
    let reply = world
        .put("/v1/campaigns/camp-1/followup-settings")
        .json(&campaign)
        .send()
        .await;
    let mut fields = reply.expect(StatusCode::BAD_REQUEST).invalid_fields();
    fields.sort();
    assert_eq!(fields, ["email.sender", "missed_call_email.sender"]);
}

fn missed_call(call_id: &str, contact: &str, now: chrono::DateTime<chrono::Utc>) -> Value {
    let mut call = answered_call(call_id, contact, now);
    call["call"]["outcome"] = json!("no_answer");
    call
}

/// Call `n` goes unanswered; its missed-call email is executed an hour later.
async fn missed_call_email_sent(
    world: &World,
    secret: &Secret,
    n: u32,
) -> (Value, service::execute::Outcome) {
    let (contact, now) = (format!("contact-{n}"), world.clock.now());
    world
        .deliver(
            secret,
            &format!("wh_{n}"),
            &missed_call(&format!("call-{n}"), &contact, now),
        )
        .await
        .ok();
    let followup = world.one_followup(&contact, "missed_call_email").await;
    world.clock.advance(chrono::Duration::hours(1));
    let outcome = world.execute(&followup).await;
    (followup, outcome)
}

async fn an_email_leaves_from_the_mailbox_and_revoked_consent_disconnects_it(world: World) {
    let secret = world.configure_acme().await;
    let mailbox = connect(&world, "google").await;
    let mut campaign = campaign_json();
    campaign["missed_call_email"]["sender"] = mailbox["id"].clone();
    world
        .put("/v1/campaigns/camp-1/followup-settings")
        .json(&campaign)
        .send()
        .await
        .ok();

    let (followup, outcome) = missed_call_email_sent(&world, &secret, 1).await;
    assert!(
        matches!(&outcome, service::execute::Outcome::Sent { provider_id, .. } if provider_id == "gmail-1"),
        "{outcome:?}"
    );
    assert!(world.outbox.list().is_empty(), "not through SES");
    let sent = world.google.sent();
    let message = MessageParser::default().parse(&sent[0].mime).unwrap();
    let from = message.from().and_then(|a| a.first()).unwrap();
    assert_eq!(from.address(), Some("maria@acme.example"));
    assert_eq!(from.name(), Some("Ana at Acme"));
    assert_eq!(message.subject(), Some("Sorry we missed you"));
    assert_eq!(
        message.header_raw("X-Followup-Id").map(str::trim),
        followup["id"].as_str()
    );
    // One-click unsubscribe (RFC 8058), as through SES.
    let link = message.header_raw("List-Unsubscribe").unwrap().trim();
    let prefix = format!("<{PUBLIC_BASE_URL}/v1/unsubscribe/");
    assert!(link.starts_with(&prefix), "{link}");
    assert_eq!(
        message.header_raw("List-Unsubscribe-Post").map(str::trim),
        Some("List-Unsubscribe=One-Click")
    );
    let unsubscribe = format!(
        "/v1/unsubscribe/{}",
        link.strip_prefix(&prefix).unwrap().trim_end_matches('>')
    );

    world.google.revoke_consent();
    let (followup, outcome) = missed_call_email_sent(&world, &secret, 2).await;
    assert!(
        matches!(
            &outcome,
            service::execute::Outcome::Failed {
                reason: policy::Reason::MailboxDisconnected,
                ..
            }
        ),
        "{outcome:?}"
    );
    let stored = world
        .get(&format!(
            "/v1/followups/{}",
            followup["id"].as_str().unwrap()
        ))
        .send()
        .await
        .ok()
        .json();
    assert_eq!(stored["status"], "failed");
    assert_eq!(stored["reason"], "mailbox_disconnected");
    let listed = world.get("/v1/mailboxes").send().await.ok().json();
    assert_eq!(listed["items"][0]["status"], "disconnected");
    assert!(
        listed["items"][0]["status_detail"]
            .as_str()
            .unwrap()
            .contains("invalid_grant")
    );
    assert_eq!(world.google.sent().len(), 1, "nothing more was sent");

    // Connecting the address again reconnects the same mailbox.
    world.google.set_expires_in(3600);
    let again = connect(&world, "google").await;
    assert_eq!(again["id"], mailbox["id"]);
    assert_eq!(again["status"], "connected");

    // The first email's unsubscribe link works like an SES email's.
    world.one_click_unsubscribe(&unsubscribe).await;
    let entries = world.dnc_entries().await;
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["source"], "unsubscribe");
}

async fn a_removed_mailbox_is_gone(world: World) {
    let mailbox = connect(&world, "microsoft").await;
    let path = format!("/v1/mailboxes/{}", mailbox["id"].as_str().unwrap());
    world
        .delete(&path)
        .by(GLOBEX)
        .send()
        .await
        .expect(StatusCode::NOT_FOUND);
    world
        .delete(&path)
        .send()
        .await
        .expect(StatusCode::NO_CONTENT);
    world
        .delete(&path)
        .send()
        .await
        .expect(StatusCode::NOT_FOUND);
    let listed = world.get("/v1/mailboxes").send().await.ok().json();
    assert_eq!(listed["items"], json!([]));
}
