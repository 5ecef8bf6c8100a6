//! Meta's WhatsApp webhook: the subscription check with the verify token, deliveries
//! signed with the app secret (`X-Hub-Signature-256`), opt-outs and status updates;
//! and the write-only credentials.

use axum::http::StatusCode;
use chrono::Duration;
use serde_json::{Value, json};
use service::meta_webhook::meta_signature;

use crate::support::*;

for_each_store!(
    the_credentials_are_write_only_and_validated,
    meta_subscription_check_echoes_the_challenge_only_with_the_verify_token,
    a_signed_stop_puts_the_number_on_the_list_and_cancels_its_follow_ups,
    unsigned_or_wrongly_signed_deliveries_are_refused_and_change_nothing,
    meta_marketing_opt_out_puts_the_number_on_the_list,
    message_statuses_are_recorded_on_the_attempt_and_visible,
);

const APP_SECRET: &str = "0123456789abcdef0123456789abcdef";
const VERIFY_TOKEN: &str = "verify-me-please";
const WEBHOOK: &str = "/v1/inbound/acme/whatsapp";

async fn configure_meta(world: &World) {
    world
        .put("/v1/settings/whatsapp-webhook")
        .json(&json!({"app_secret": APP_SECRET, "verify_token": VERIFY_TOKEN}))
        .send()
        .await
        .expect(StatusCode::OK);
}

/// A delivery as Meta posts it, with `value` as the one change's value.
fn delivery(field: &str, value: Value) -> Value {
    json!({"object": "whatsapp_business_account", "entry": [{"id": "102290129340398", "changes": [{
        "field": field,
        "value": {"messaging_product": "whatsapp",
                  "metadata": {"display_phone_number": "15550783881", "phone_number_id": "106540352242922"}}
    }]}]})
    .as_object()
    .cloned()
    .map(|mut d| {
        let change = &mut d["entry"][0]["changes"][0]["value"];
        for (k, v) in value.as_object().unwrap() {
            change[k] = v.clone();
        }
        Value::Object(d)
    })
    .unwrap()
}

fn text_from(wa_id: &str, body: &str) -> Value {
    delivery(
        "messages",
        json!({"contacts": [{"profile": {"name": "Ana"}, "wa_id": wa_id}],
               "messages": [{"from": wa_id, "id": "wamid.IN1", "timestamp": "1894700000",
                             "type": "text", "text": {"body": body}}]}),
    )
}

async fn post_signed(world: &World, body: &Value, secret: &str) -> Reply {
    let raw = body.to_string();
    world
        .post(WEBHOOK)
        .anonymous()
        .header("content-type", "application/json")
        .header(
            "x-hub-signature-256",
            &meta_signature(secret, raw.as_bytes()),
        )
        .raw(raw)
        .send()
        .await
}

async fn the_credentials_are_write_only_and_validated(world: World) {
    let before = world.get("/v1/settings/whatsapp-webhook").send().await.ok();
    assert_eq!(
        before.json(),
        json!({"configured": false, "webhook_path": "/v1/inbound/acme/whatsapp"})
    );
    configure_meta(&world).await;
    let after = world.get("/v1/settings/whatsapp-webhook").send().await.ok();
    assert_eq!(after.json()["configured"], true);
    assert!(!after.text().contains(APP_SECRET) && !after.text().contains(VERIFY_TOKEN));

    let bad = world
        .put("/v1/settings/whatsapp-webhook")
        .json(&json!({"app_secret": "short", "verify_token": 5, "extra": true}))
        .send()
        .await;
    bad.problem(StatusCode::BAD_REQUEST);
    let mut fields = bad.invalid_fields();
    fields.sort();
    assert_eq!(fields, ["app_secret", "extra", "verify_token"]);
    // The other account sees nothing of acme's.
    let globex = world
        .get("/v1/settings/whatsapp-webhook")
        .by(GLOBEX)
        .send()
        .await
        .ok();
    assert_eq!(
        globex.json(),
        json!({"configured": false, "webhook_path": "/v1/inbound/globex/whatsapp"})
    );
}

async fn meta_subscription_check_echoes_the_challenge_only_with_the_verify_token(world: World) {
    let check = |token: &str| {
        format!("{WEBHOOK}?hub.mode=subscribe&hub.verify_token={token}&hub.challenge=1158201444")
    };
    world
        .get(&check(VERIFY_TOKEN))
        .anonymous()
        .send()
        .await
        .problem(StatusCode::UNAUTHORIZED);
    configure_meta(&world).await;
    let ok = world
        .get(&check(VERIFY_TOKEN))
        .anonymous()
        .send()
        .await
        .ok();
    assert_eq!(ok.text(), "1158201444");
    assert_eq!(ok.content_type(), Some("text/plain"));
    for path in [
        check("wrong-token-123"),
        format!("{WEBHOOK}?hub.mode=unsubscribe&hub.verify_token={VERIFY_TOKEN}&hub.challenge=1"),
        format!("{WEBHOOK}?hub.verify_token={VERIFY_TOKEN}"),
        "/v1/inbound/globex/whatsapp?hub.mode=subscribe&hub.verify_token=verify-me-please&hub.challenge=1".into(),
    ] {
        world.get(&path).anonymous().send().await.problem(StatusCode::UNAUTHORIZED);
    }
}

async fn a_signed_stop_puts_the_number_on_the_list_and_cancels_its_follow_ups(world: World) {
    let secret = world.configure_acme().await;
    configure_meta(&world).await;
    world
        .deliver(
            &secret,
            "msg_1",
            &answered_call("call-1", "contact-1", world.clock.now()),
        )
        .await
        .ok();
    let answer = post_signed(&world, &text_from("14155552671", "Stop!"), APP_SECRET)
        .await
        .ok();
    assert_eq!(answer.json()["opted_out"], 1);
    let entries = world.dnc_entries().await;
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["value"], "+14155552671");
    assert_eq!(entries[0]["source"], "whatsapp_reply");
    let sms = world.one_followup("contact-1", "sms").await;
    assert_eq!(
        (sms["status"].as_str(), sms["reason"].as_str()),
        (Some("cancelled"), Some("opted_out"))
    );
    // A message that is not an opt-out changes nothing more.
    let answer = post_signed(&world, &text_from("14155550100", "thanks!"), APP_SECRET)
        .await
        .ok();
    assert_eq!(answer.json()["opted_out"], 0);
    assert_eq!(world.dnc_entries().await.len(), 1);
}

async fn unsigned_or_wrongly_signed_deliveries_are_refused_and_change_nothing(world: World) {
    configure_meta(&world).await;
    let body = text_from("14155552671", "STOP");
    let raw = body.to_string();
    let good = meta_signature(APP_SECRET, raw.as_bytes());
    let tampered = format!("{}0", &good[..good.len() - 1]);
    let cases: Vec<Option<String>> = vec![
        None,
        Some(String::new()),
        Some(meta_signature("another-app-secret-0000", raw.as_bytes())),
        Some(good.trim_start_matches("sha256=").to_string()),
        Some(if tampered == good {
            format!("{}1", &good[..good.len() - 1])
        } else {
            tampered
        }),
        Some("sha256=zz".into()),
    ];
    for signature in cases {
        let mut call = world
            .post(WEBHOOK)
            .anonymous()
            .header("content-type", "application/json");
        if let Some(signature) = &signature {
            call = call.header("x-hub-signature-256", signature);
        }
        let reply = call.raw(raw.clone()).send().await;
        reply.problem(StatusCode::UNAUTHORIZED);
    }
    // Signed for acme, posted to globex (which has no credentials): refused too.
    let foreign = world
        .post("/v1/inbound/globex/whatsapp")
        .anonymous()
        .header("x-hub-signature-256", &good)
        .raw(raw.clone())
        .send()
        .await;
    foreign.problem(StatusCode::UNAUTHORIZED);
    assert!(world.dnc_entries().await.is_empty());
    // The body signed, then changed by one byte.
    let changed = raw.replace("STOP", "STOp");
    let reply = world
        .post(WEBHOOK)
        .anonymous()
        .header("x-hub-signature-256", &good)
        .raw(changed)
        .send()
        .await;
    reply.problem(StatusCode::UNAUTHORIZED);
    assert!(world.dnc_entries().await.is_empty());
}

async fn meta_marketing_opt_out_puts_the_number_on_the_list(world: World) {
    configure_meta(&world).await;
    let preference = delivery(
        "user_preferences",
        json!({"contacts": [{"profile": {"name": "Bo"}, "wa_id": "14155550100"}],
               "user_preferences": [{"wa_id": "14155550100", "detail": "User requested to stop marketing messages",
                                     "category": "marketing_messages", "value": "stop", "timestamp": 1894700000}]}),
    );
    post_signed(&world, &preference, APP_SECRET).await.ok();
    let button = delivery(
        "messages",
        json!({"messages": [{"from": "14155550101", "id": "wamid.IN2", "timestamp": "1894700000", "type": "button",
                             "button": {"payload": "Stop promotions", "text": "Stop promotions"}}]}),
    );
    post_signed(&world, &button, APP_SECRET).await.ok();
    let mut values: Vec<String> = world
        .dnc_entries()
        .await
        .iter()
        .map(|e| {
            format!(
                "{} {}",
                e["value"].as_str().unwrap(),
                e["source"].as_str().unwrap()
            )
        })
        .collect();
    values.sort();
    assert_eq!(
        values,
        ["+14155550100 whatsapp_reply", "+14155550101 whatsapp_reply"]
    );
}

async fn message_statuses_are_recorded_on_the_attempt_and_visible(world: World) {
    let secret = world.configure_acme().await;
    configure_meta(&world).await;
    let now = world.clock.now();
    let call = set(
        set(
            answered_call("call-1", "contact-1", now),
            "/analysis/consent/whatsapp",
            json!(true),
        ),
        "/analysis/followup_requests",
        json!([{"channel": "whatsapp", "at": "2030-01-15T10:30:00", "reason": "send the brochure"}]),
    );
    world.deliver(&secret, "msg_1", &call).await.ok();
    world.clock.advance(Duration::minutes(30));
    let whatsapp = world.one_followup("contact-1", "whatsapp").await;
    world.execute(&whatsapp).await;
    let sent = world.one_followup("contact-1", "whatsapp").await;
    assert_eq!(sent["status"], "sent", "{sent:#}");
    let wamid = sent["attempts"][0]["provider_id"]
        .as_str()
        .unwrap()
        .to_string();
    let callback = format!("{}:1", sent["id"].as_str().unwrap());

    let status = |state: &str, errors: Value| {
        delivery(
            "messages",
            json!({"statuses": [{"id": wamid, "status": state, "timestamp": "1894700000",
                                 "recipient_id": "14155552671", "biz_opaque_callback_data": callback,
                                 "errors": errors}]}),
        )
    };
    for body in [
        status("delivered", json!([])),
        status("read", json!([])),
        status("read", json!([])),
        status(
            "failed",
            json!([{"code": 131047, "title": "Re-engagement message",
                                  "error_data": {"details": "Message failed to send because more than 24 hours have passed"}}]),
        ),
    ] {
        post_signed(&world, &body, APP_SECRET).await.ok();
    }
    // A status naming a message of ours that is not this attempt's is not recorded.
    let foreign = set(
        status("read", json!([])),
        "/entry/0/changes/0/value/statuses/0/id",
        json!("wamid.OTHER"),
    );
    let answer = post_signed(&world, &foreign, APP_SECRET).await.ok();
    assert_eq!(answer.json()["statuses_recorded"], 0);

    let seen = world
        .get(&format!("/v1/followups/{}", sent["id"].as_str().unwrap()))
        .send()
        .await
        .ok();
    let deliveries = seen.json()["attempts"][0]["deliveries"].clone();
    let states: Vec<&str> = deliveries
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["delivered", "read", "failed"], "{deliveries:#}");
    assert_eq!(deliveries[2]["error_code"], 131047);
    assert_eq!(deliveries[2]["at"], "2030-01-15T09:33:20Z");
}
