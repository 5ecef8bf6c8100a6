//! The README path, end to end: the real `followups-local` binary on a free port and a
//! temporary data directory, `examples/demo.py` run against it with `python3`, then a
//! restart on the same data directory and the local clock moved forward until the
//! callback call the demo asked for is placed.
//!
//! No assertion is about how long anything took: every wait polls, with a bound.

mod support;

use serde_json::{Value, json};

use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_runs_survives_a_restart_and_the_callback_call_fires_when_the_clock_moves() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");

    // 1. First start, and the demo as the README shows it.
    let local = Local::start(&data);
    run_demo(&local, &data, &[]);
    let api = Api::new(&local, &data);

    // Consent given: the SMS and the email. Missed call: the missed-call email.
    let sms = api.wait_for_outbox("SMS to Ana", to("+14155550101")).await;
    assert_eq!(sms["channel"], "sms");
    assert!(
        sms["text"].as_str().unwrap().contains("Ana from Acme"),
        "{sms}"
    );
    let email = api
        .wait_for_outbox("email to Ana", to("ana.diaz@example.com"))
        .await;
    assert_eq!(email["channel"], "email");
    assert!(
        email["text"]
            .as_str()
            .unwrap()
            .starts_with("Great talking today, Ana Diaz"),
        "{email}"
    );
    let missed = api
        .wait_for_outbox("missed-call email to Carla", to("carla.ruiz@example.com"))
        .await;
    assert!(
        missed["text"]
            .as_str()
            .unwrap()
            .starts_with("Sorry we missed you"),
        "{missed}"
    );
    let outbox = api.outbox().await;
    // Declined: nothing to Bob, and the reasons are on his inbox view.
    assert!(
        !outbox.iter().any(
            |e| e["destination"] == "+14155550102" || e["destination"] == "bob.lee@example.com"
        ),
        "Bob declined: {outbox:#?}"
    );
    for channel in ["sms", "email"] {
        let f = api.followup("contact-bob", channel).await;
        assert_eq!(f["status"], "suppressed", "{f}");
        assert_eq!(f["reason"], "no_consent", "{f}");
    }
    // Unconfirmed number: the SMS waits for an operator, nothing is sent.
    let review = api.followup("contact-eve", "sms").await;
    assert_eq!(review["status"], "needs_review", "{review}");
    assert_eq!(review["reason"], "destination_unconfirmed", "{review}");
    assert!(
        !outbox
            .iter()
            .any(|e| e["channel"] == "sms" && e["destination"] != "+14155550101")
    );
    // The callback: a follow-up call waiting for tomorrow afternoon (or Monday).
    let call = api.followup("contact-dan", "call").await;
    assert_eq!(call["status"], "scheduled", "{call}");
    assert!(!outbox.iter().any(|e| e["channel"] == "call"));

    // 2. Running the demo again is a redelivery of the same webhooks: nothing changes.
    let followups = api.campaign().await;
    let again = run_demo(&local, &data, &[]);
    assert_eq!(
        again.matches("a redelivery of an earlier run").count(),
        5,
        "{again}"
    );
    assert_eq!(api.outbox().await, outbox);
    assert_eq!(api.campaign().await.len(), followups.len());

    // 3. Restart on the same data directory: nothing is lost.
    drop(local);
    let local = Local::start(&data);
    let api = Api::new(&local, &data);
    assert_eq!(api.outbox().await, outbox);
    let after = api.campaign().await;
    let ids = |list: &[Value]| {
        let mut ids: Vec<String> = list.iter().map(|f| f["id"].to_string()).collect();
        ids.sort();
        ids
    };
    assert_eq!(ids(&after), ids(&followups));
    let pending = api.followup("contact-dan", "call").await;
    assert_eq!(pending["status"], "scheduled", "{pending}");
    assert_eq!(pending["due_at"], call["due_at"]);

    // 4. The operator sends the needs-review SMS to the number they confirmed.
    run_demo(&local, &data, &["--send-review", "+14155550199"]);
    let reviewed = api
        .wait_for_outbox("reviewed SMS to Eve", to("+14155550199"))
        .await;
    assert_eq!(reviewed["channel"], "sms");
    assert_eq!(reviewed["detail"]["to"], "+14155550199");

    // 5. Move the clock just past the callback's due time; the in-process scheduler
    // (fed again from the store after the restart) places the call.
    //
    // Not a fixed "30h": the call is re-checked against the agent's window (08:00-20:00
    // Mon-Sat in New York) when it fires, so a fixed jump from a run at 17:00 lands at
    // 23:00 and the call is rightly moved to the next morning instead of placed.
    let now = time(&api.get("/v1/local/clock").await["now"]);
    let due = time(&pending["due_at"]);
    let minutes = (due - now).num_minutes() + 1;
    assert!(minutes > 0, "the callback is in the future: {pending}");
    let moved = api
        .post(
            "/v1/local/clock",
            json!({ "advance": format!("{minutes}m") }),
        )
        .await;
    assert!(time(&moved["now"]) >= due, "{moved}");

    let id = pending["id"].as_str().unwrap().to_string();
    let placed = api
        .wait_for_outbox("the callback call", |e| {
            e["channel"] == "call" && e["detail"]["followup_id"] == id.as_str()
        })
        .await;
    let agent = api
        .get(&format!("/v1/agents/{AGENT}/followup-settings"))
        .await;
    assert_eq!(placed["destination"], "+14155550104");
    // The agent's script, and why the call was asked for.
    let instructions = placed["detail"]["instructions"].as_str().unwrap();
    let script = agent["calls"]["instructions"].as_str().unwrap();
    assert!(instructions.starts_with(script), "{instructions:?}");
    assert!(
        instructions.contains("Asked to be called back tomorrow afternoon."),
        "{instructions:?}"
    );
    assert_eq!(placed["detail"]["agent_id"], AGENT);
    assert_eq!(placed["detail"]["attempt"], 1);
    let call = api.followup("contact-dan", "call").await;
    assert_eq!(call["status"], "placed", "{call}");
}

/// Contacts opting out as they would: a STOP reply to a text, a WhatsApp STOP, an
/// email's unsubscribe link. Each lands on the do-not-call list with its source, the
/// pending follow-ups of that number or address are cancelled, and nothing more goes
/// out to them (the callback call is never placed).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replies_and_unsubscribe_links_opt_contacts_out_and_nothing_more_is_sent() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let local = Local::start(&data);
    run_demo(&local, &data, &[]);
    let api = Api::new(&local, &data);
    let email = api
        .wait_for_outbox("email to Ana", to("ana.diaz@example.com"))
        .await;
    let mut settings = api.get("/v1/settings").await;
    settings["sms_opt_out_confirmation"] = json!(true);
    settings["sms_origination_number"] = json!("+12125550101");
    api.put("/v1/settings", settings).await;

    // Dan replies STOP to our number: his pending callback call is cancelled, and the
    // one confirmation text goes out.
    let pending = api.followup("contact-dan", "call").await;
    assert_eq!(pending["status"], "scheduled", "{pending}");
    let reply = json!({"from": "+14155550104", "to": "+12125550101", "body": " Stop. "});
    let handled = api.post("/v1/local/inbound/sms", reply.clone()).await;
    assert_eq!(handled["outcome"], "opted_out", "{handled}");
    assert_eq!(handled["cancelled"], 1, "{handled}");
    assert_eq!(handled["confirmation_sent"], true, "{handled}");
    let confirmation = api
        .wait_for_outbox("the opt-out confirmation", to("+14155550104"))
        .await;
    assert!(
        confirmation["text"].as_str().unwrap().contains("opted out"),
        "{confirmation}"
    );
    let call = api.followup("contact-dan", "call").await;
    assert_eq!(
        (call["status"].as_str(), call["reason"].as_str()),
        (Some("cancelled"), Some("opted_out"))
    );
    // A second STOP changes nothing and sends no second confirmation.
    let again = api.post("/v1/local/inbound/sms", reply).await;
    assert_eq!(again["confirmation_sent"], false, "{again}");
    // A reply to a number no account owns is acknowledged and ignored.
    let stray = json!({"from": "+14155550199", "to": "+12125550199", "body": "STOP"});
    assert_eq!(
        api.post("/v1/local/inbound/sms", stray).await["outcome"],
        "ignored"
    );

    // Ana sends STOP on WhatsApp.
    let whatsapp = json!({"from": "+14155550101", "body": "stop"});
    assert_eq!(
        api.post("/v1/local/inbound/whatsapp", whatsapp).await["opted_out"],
        1
    );

    // Ana's email: the one-click link. GET shows a page and changes nothing; POST acts.
    let headers: Vec<(String, String)> =
        serde_json::from_value(email["detail"]["headers"].clone()).unwrap();
    assert!(headers.contains(&(
        "List-Unsubscribe-Post".into(),
        "List-Unsubscribe=One-Click".into()
    )));
    let link = &headers
        .iter()
        .find(|(n, _)| n == "List-Unsubscribe")
        .unwrap()
        .1;
    let url = link
        .trim_start_matches('<')
        .trim_end_matches('>')
        .to_string();
    assert!(
        url.starts_with(&format!("{}/v1/unsubscribe/", local.base)),
        "{url}"
    );
    let http = reqwest::Client::new();
    let page = http.get(&url).send().await.unwrap();
    assert!(page.status().is_success());
    assert!(
        page.text()
            .await
            .unwrap()
            .contains("<form method=\"post\">")
    );
    let dnc = |entries: Value| -> Vec<String> {
        let mut all: Vec<String> = items(entries)
            .iter()
            .map(|e| {
                format!(
                    "{} {}",
                    e["value"].as_str().unwrap(),
                    e["source"].as_str().unwrap()
                )
            })
            .collect();
        all.sort();
        all
    };
    assert!(
        !dnc(api.get("/v1/dnc").await)
            .iter()
            .any(|e| e.starts_with("ana.diaz"))
    );
    let done = http
        .post(&url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .unwrap();
    assert!(done.status().is_success());
    assert_eq!(
        dnc(api.get("/v1/dnc").await),
        [
            "+14155550101 whatsapp_reply",
            "+14155550104 sms_reply",
            "ana.diaz@example.com unsubscribe"
        ]
    );
    let tampered = format!("{}x", url);
    assert_eq!(http.post(&tampered).send().await.unwrap().status(), 404);

    // The clock moves past the callback's time: the operator's reviewed SMS goes out
    // (the runtime is firing due follow-ups), the cancelled call never does.
    let minutes = (time(&pending["due_at"]) - time(&api.get("/v1/local/clock").await["now"]))
        .num_minutes()
        + 1;
    api.post(
        "/v1/local/clock",
        json!({ "advance": format!("{minutes}m") }),
    )
    .await;
    run_demo(&local, &data, &["--send-review", "+14155550199"]);
    api.wait_for_outbox("reviewed SMS to Eve", to("+14155550199"))
        .await;
    let outbox = api.outbox().await;
    assert!(
        !outbox.iter().any(|e| e["channel"] == "call"),
        "{outbox:#?}"
    );
    let to_dan: Vec<_> = outbox
        .iter()
        .filter(|e| e["destination"] == "+14155550104")
        .collect();
    assert_eq!(to_dan.len(), 1, "only the confirmation: {to_dan:#?}");
    assert_eq!(
        api.followup("contact-dan", "call").await["status"],
        "cancelled"
    );
}

#[test]
fn the_banner_address_is_read_from_the_api_line_only() {
    assert_eq!(
        api_address("  API            http://127.0.0.1:41234/v1  (OpenAPI: /v1/openapi.json)"),
        Some("http://127.0.0.1:41234".into())
    );
    assert_eq!(
        api_address("  webhook        POST http://127.0.0.1:1/v1/webhooks/acme/call-completed"),
        None
    );
    assert_eq!(api_address("2030-01-15T15:00:00Z  INFO API started"), None);
}
