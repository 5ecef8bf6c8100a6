//! One-click unsubscribe (RFC 8058): every follow-up email carries the two headers;
//! the link's GET only shows a page, its POST puts the address on the do-not-call list
//! and cancels its pending emails; a tampered or foreign token changes nothing.

use axum::http::StatusCode;

use crate::support::*;

for_each_store!(
    every_follow_up_email_carries_one_click_unsubscribe_headers,
    the_get_only_shows_a_page_and_the_post_unsubscribes_and_cancels_pending_emails,
    tampered_or_foreign_tokens_are_refused_and_change_nothing,
);

/// Sends acme's email to ana@example.com and returns the outbox entry's headers.
async fn sent_email_headers(world: &World) -> Vec<(String, String)> {
    let secret = world.configure_acme().await;
    world
        .deliver(
            &secret,
            "msg_1",
            &answered_call("call-1", "contact-1", world.clock.now()),
        )
        .await
        .ok();
    let email = world.one_followup("contact-1", "email").await;
    world.execute(&email).await;
    let sent = world.outbox.list();
    let entry = sent
        .iter()
        .find(|e| e.channel == "email")
        .expect("the email was sent");
    serde_json::from_value(entry.detail["headers"].clone()).unwrap()
}

fn token_of(headers: &[(String, String)]) -> String {
    let link = &headers
        .iter()
        .find(|(n, _)| n == "List-Unsubscribe")
        .unwrap()
        .1;
    let url = link.trim_start_matches('<').trim_end_matches('>');
    url.rsplit('/').next().unwrap().to_string()
}

async fn every_follow_up_email_carries_one_click_unsubscribe_headers(world: World) {
    let headers = sent_email_headers(&world).await;
    let names: Vec<&str> = headers.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["List-Unsubscribe", "List-Unsubscribe-Post"]);
    let link = &headers[0].1;
    assert!(
        link.starts_with(&format!("<{PUBLIC_BASE_URL}/v1/unsubscribe/")),
        "{link}"
    );
    assert!(
        !link.contains("ana") && !link.contains("example.com/"),
        "no address in clear: {link}"
    );
    assert_eq!(headers[1].1, "List-Unsubscribe=One-Click");
}

async fn the_get_only_shows_a_page_and_the_post_unsubscribes_and_cancels_pending_emails(
    world: World,
) {
    let token = token_of(&sent_email_headers(&world).await);
    let secret = world.create_secret(ACME).await;
    // A second call to another contact at the same address: an email now pending.
    world
        .deliver(
            &secret,
            "msg_2",
            &answered_call("call-2", "contact-2", world.clock.now()),
        )
        .await
        .ok();
    let path = format!("/v1/unsubscribe/{token}");
    for _ in 0..2 {
        let page = world.get(&path).anonymous().send().await.ok();
        assert!(page.content_type().unwrap().starts_with("text/html"));
        assert!(
            page.text().contains("<form method=\"post\">"),
            "{}",
            page.text()
        );
    }
    assert!(
        world.dnc_entries().await.is_empty(),
        "a GET changes nothing"
    );
    assert_eq!(
        world.one_followup("contact-2", "email").await["status"],
        "scheduled"
    );

    let done = world.one_click_unsubscribe(&path).await;
    assert!(done.text().contains("no more messages"));
    let entries = world.dnc_entries().await;
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["value"], "ana@example.com");
    assert_eq!(entries[0]["source"], "unsubscribe");
    let pending = world.one_followup("contact-2", "email").await;
    assert_eq!(
        (pending["status"].as_str(), pending["reason"].as_str()),
        (Some("cancelled"), Some("opted_out"))
    );
    assert_eq!(
        world.one_followup("contact-2", "sms").await["status"],
        "scheduled"
    );
    // Clicking again is fine and changes nothing.
    world.post(&path).anonymous().send().await.ok();
    assert_eq!(world.dnc_entries().await, entries);
}

async fn tampered_or_foreign_tokens_are_refused_and_change_nothing(world: World) {
    let token = token_of(&sent_email_headers(&world).await);
    let (account, rest) = token.split_once('.').unwrap();
    let (followup, tag) = rest.split_once('.').unwrap();
    let flipped = {
        let mut chars: Vec<char> = tag.chars().collect();
        chars[0] = if chars[0] == 'A' { 'B' } else { 'A' };
        chars.into_iter().collect::<String>()
    };
    // globex, base64url: the same follow-up and tag, claimed for another account.
    let globex = "Z2xvYmV4";
    assert_ne!(account, globex);
    let cases = [
        format!("{account}.{followup}.{flipped}"),
        format!("{globex}.{followup}.{tag}"),
        format!("{account}.fu_0000000000000000.{tag}"),
        format!("{account}.{followup}"),
        format!("{token}.x"),
        "not-a-token".to_string(),
        "a".repeat(2000),
    ];
    for bad in &cases {
        for method in ["GET", "POST"] {
            let reply = world
                .call(method.parse().unwrap(), &format!("/v1/unsubscribe/{bad}"))
                .anonymous()
                .send()
                .await;
            reply.problem(StatusCode::NOT_FOUND);
        }
    }
    assert!(world.dnc_entries().await.is_empty());
}
