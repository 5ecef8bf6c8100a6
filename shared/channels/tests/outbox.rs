//! The local runtime's outbox: records instead of sending, and keeps what it recorded
//! across a restart.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use channels::{Clock, EmailContent, EmailIdentity, Outbound, Outbox, Sender, SmsIdentity};
use chrono::{DateTime, TimeZone, Utc};
use policy::values::{EmailAddress, PhoneNumber};

fn phone(raw: &str) -> PhoneNumber {
    PhoneNumber::parse("to", raw).expect("a test number is valid")
}

fn address(raw: &str) -> EmailAddress {
    EmailAddress::parse("to", raw).expect("a test address is valid")
}

fn scratch_file(name: &str) -> PathBuf {
    std::env::temp_dir()
        .join(testkit::unique("outbox"))
        .join(name)
}

/// A clock the test moves by hand, as the local runtime does.
fn movable_clock(start: DateTime<Utc>) -> (Clock, Arc<Mutex<DateTime<Utc>>>) {
    let now = Arc::new(Mutex::new(start));
    let read = now.clone();
    (Arc::new(move || *read.lock().unwrap()), now)
}

fn sms() -> Outbound {
    Outbound::Sms {
        to: phone("+14155550123"),
        sender: SmsIdentity::default(),
        text: "Hi Ana, thanks for the call.".into(),
    }
}

fn email() -> Outbound {
    Outbound::Email {
        kind: channels::EmailKind::Email,
        to: address("ana@contact.example"),
        sender: EmailIdentity {
            name: "Acme".into(),
            address: "hello@acme.example".into(),
            configuration_set: None,
        },
        content: EmailContent {
            subject: "We missed you".into(),
            html: "<p>Sorry we missed you.</p>".into(),
            text: "Sorry we missed you.".into(),
        },
        tags: vec![("followup_id".into(), "fu_1".into())],
        headers: vec![(
            "List-Unsubscribe".into(),
            "<https://api.example/v1/unsubscribe/t>".into(),
        )],
    }
}

#[tokio::test]
async fn outbox_records_each_message_with_its_channel_destination_and_time() {
    let start = Utc.with_ymd_and_hms(2030, 1, 15, 14, 0, 0).unwrap();
    let (clock, now) = movable_clock(start);
    let outbox = Outbox::new(None, clock).unwrap();

    let first = outbox.send(&sms()).await.unwrap();
    *now.lock().unwrap() = start + chrono::Duration::days(1);
    let second = outbox.send(&email()).await.unwrap();

    assert_eq!(first.provider_id, "outbox-1");
    assert_eq!(second.provider_id, "outbox-2");
    let entries = outbox.list();
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0].channel, "sms");
    assert_eq!(entries[0].destination, "+14155550123");
    assert_eq!(entries[0].text, "Hi Ana, thanks for the call.");
    assert_eq!(entries[0].sent_at, start);
    assert_eq!(entries[0].detail["channel"], "sms");
    assert_eq!(entries[1].channel, "email");
    assert_eq!(entries[1].destination, "ana@contact.example");
    assert!(entries[1].text.starts_with("We missed you"));
    assert_eq!(entries[1].detail["subject"], "We missed you");
    assert_eq!(entries[1].sent_at, start + chrono::Duration::days(1));
}

#[tokio::test]
async fn outbox_summarises_whatsapp_and_call_messages() {
    let outbox = Outbox::new(None, channels::system_clock()).unwrap();
    outbox
        .send(&Outbound::WhatsApp {
            to: phone("+14155550123"),
            template_name: "followup_after_call".into(),
            language: "en_US".into(),
            parameters: vec!["Ana".into()],
            callback_data: None,
        })
        .await
        .unwrap();
    outbox
        .send(&Outbound::Call {
            to: phone("+14155550123"),
            agent_id: "agent_1".into(),
            instructions: "Call Ana back".into(),
            account_id: "acme".into(),
            followup_id: "fu_1".into(),
            attempt: 2,
            platform: None,
            variables: Default::default(),
        })
        .await
        .unwrap();

    let entries = outbox.list();
    assert_eq!(entries[0].channel, "whatsapp");
    assert!(entries[0].text.contains("followup_after_call"));
    assert_eq!(entries[0].detail["parameters"], serde_json::json!(["Ana"]));
    assert_eq!(entries[1].channel, "call");
    assert!(entries[1].text.contains("Call Ana back"));
    assert_eq!(entries[1].detail["attempt"], 2);
}

#[tokio::test]
async fn outbox_survives_a_restart_and_keeps_counting() {
    let path = scratch_file("outbox.jsonl");
    {
        let outbox = Outbox::new(Some(path.clone()), channels::system_clock()).unwrap();
        outbox.send(&sms()).await.unwrap();
        outbox.send(&email()).await.unwrap();
    }

    let reopened = Outbox::new(Some(path.clone()), channels::system_clock()).unwrap();
    let before = reopened.list();
    let third = reopened.send(&sms()).await.unwrap();

    assert_eq!(before.len(), 2);
    assert_eq!(before[0].channel, "sms");
    assert_eq!(before[1].channel, "email");
    assert_eq!(third.provider_id, "outbox-3");
    let again = Outbox::new(Some(path.clone()), channels::system_clock()).unwrap();
    assert_eq!(again.list(), reopened.list());
    let _ = std::fs::remove_dir_all(path.parent().unwrap());
}

#[tokio::test]
async fn outbox_skips_a_line_torn_by_a_crash() {
    let path = scratch_file("outbox.jsonl");
    {
        let outbox = Outbox::new(Some(path.clone()), channels::system_clock()).unwrap();
        outbox.send(&sms()).await.unwrap();
    }
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str("{\"channel\":\"sms\",\"destin");
    std::fs::write(&path, text).unwrap();

    let reopened = Outbox::new(Some(path.clone()), channels::system_clock()).unwrap();
    assert_eq!(reopened.list().len(), 1);
    reopened.send(&email()).await.unwrap();

    let again = Outbox::new(Some(path.clone()), channels::system_clock()).unwrap();
    let channels: Vec<_> = again.list().into_iter().map(|e| e.channel).collect();
    assert_eq!(channels, ["sms", "email"]);
    let _ = std::fs::remove_dir_all(path.parent().unwrap());
}

#[tokio::test]
async fn each_account_sees_only_its_own_outbox_also_after_a_restart() {
    let path = scratch_file("outbox.jsonl");
    {
        let outbox = Outbox::new(Some(path.clone()), channels::system_clock()).unwrap();
        outbox.send_for("acme", &sms()).await.unwrap();
        outbox.send_for("globex", &email()).await.unwrap();
        // Sent without an account: nobody's to see.
        outbox.send(&sms()).await.unwrap();
    }
    let reopened = Outbox::new(Some(path.clone()), channels::system_clock()).unwrap();
    let acme = reopened.list_for("acme");
    assert_eq!(acme.len(), 1);
    assert_eq!(acme[0].destination, "+14155550123");
    assert_eq!(acme[0].account_id.as_deref(), Some("acme"));
    let globex = reopened.list_for("globex");
    assert_eq!(globex.len(), 1);
    assert_eq!(globex[0].destination, "ana@contact.example");
    assert!(reopened.list_for("initech").is_empty());
    assert_eq!(reopened.list().len(), 3);
    let _ = std::fs::remove_dir_all(path.parent().unwrap());
}

#[tokio::test]
async fn memory_holds_only_the_most_recent_messages_while_the_file_keeps_them_all() {
    let path = scratch_file("outbox.jsonl");
    let (clock, _) = movable_clock(Utc.with_ymd_and_hms(2030, 1, 15, 14, 0, 0).unwrap());
    let outbox = Outbox::with_memory_limit(Some(path.clone()), clock.clone(), 3).unwrap();
    for _ in 0..5 {
        outbox.send(&sms()).await.unwrap();
    }
    let ids = |o: &Outbox| {
        o.list()
            .into_iter()
            .map(|e| e.provider_id)
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(&outbox), ["outbox-3", "outbox-4", "outbox-5"]);
    drop(outbox);

    let lines = std::fs::read_to_string(&path).unwrap().lines().count();
    assert_eq!(lines, 5, "the file is the whole record");
    let reopened = Outbox::with_memory_limit(Some(path), clock, 3).unwrap();
    assert_eq!(ids(&reopened), ["outbox-3", "outbox-4", "outbox-5"]);
    let next = reopened.send(&sms()).await.unwrap();
    assert_eq!(
        next.provider_id, "outbox-6",
        "numbering counts the whole record"
    );
}
