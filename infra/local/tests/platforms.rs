//! Vapi, Retell, Bland and ElevenLabs on the running local runtime, as a new user
//! connecting each would: the platform's own signed webhook asks for a call back → the
//! follow-up call is placed through a local stub of the platform's create-call API
//! (path, auth header and body checked, our follow-up id and attempt in its metadata) →
//! the platform's completion (no answer) carrying that metadata → the retry is placed →
//! its no-answer exhausts the follow-up. And a call left `placed` when the runtime
//! stopped is looked up on its platform after a restart. Signatures are computed here,
//! from the platforms' documented schemes; the clock moves through the local clock
//! endpoint, so the whole run takes seconds.

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use support::*;
use testkit::platforms::{RETELL_KEY, connection, signature};
use testkit::{PlatformStub, Received};

const ACCOUNT: &str = "acme";
const PHONE: &str = "+14155550123";

/// The environment that points the runtime's platform calls at this stub.
fn platform_env(stub: &PlatformStub, wait_minutes: &'static str) -> Vec<(&'static str, String)> {
    let mut vars: Vec<(&'static str, String)> = [
        "VAPI_API_BASE",
        "RETELL_API_BASE",
        "BLAND_API_BASE",
        "ELEVENLABS_API_BASE",
    ]
    .into_iter()
    .map(|name| (name, stub.base().to_owned()))
    .collect();
    vars.push(("PLACED_CALL_WAIT_MINUTES", wait_minutes.to_owned()));
    vars
}

fn start(data: &Path, vars: &[(&'static str, String)]) -> Local {
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    Local::start_with_env(data, &[], &vars)
}

fn agent(platform: &str) -> Value {
    let target = match platform {
        "vapi" => json!({"name": "vapi", "agent_id": "asst_followup", "from_number_id": "pn_123"}),
        "retell" => {
            json!({"name": "retell", "agent_id": "agent_retell_1", "from_number": "+14155550100"})
        }
        "bland" => json!({"name": "bland", "from_number": "+14155550100"}),
        _ => json!({"name": "elevenlabs", "agent_id": "agent_el_1", "from_number_id": "phnum_1"}),
    };
    json!({
        "allowed_hours": {"start": "09:00", "end": "18:00"},
        "allowed_days": ["mon", "tue", "wed", "thu", "fri"],
        "time_zone": "America/New_York",
        "calls": {"enabled": true, "when_to_schedule": "When asked to call back.",
                  "instructions": "Offer a demo.", "max_retries": 1, "retry_interval_minutes": 30,
                  "platform": target}
    })
}

async fn configure(api: &Api) {
    api.put(
        "/v1/settings",
        json!({"default_sender_name": "Acme Team", "default_time_zone": "America/New_York"}),
    )
    .await;
    api.put(
        "/v1/campaigns/camp-1/followup-settings",
        json!({"agent_id": "agent-1"}),
    )
    .await;
}

async fn connect(api: &Api, platform: &str) {
    let view = api
        .put(&format!("/v1/platforms/{platform}"), connection(platform))
        .await;
    assert_eq!(view["api_key_set"], true, "{view}");
    api.put("/v1/agents/agent-1/followup-settings", agent(platform))
        .await;
}

async fn local_now(api: &Api) -> DateTime<Utc> {
    time(&api.get("/v1/local/clock").await["now"])
}

/// Moves the local clock just past `due`.
async fn advance_past(api: &Api, due: DateTime<Utc>) {
    let minutes = (due - local_now(api).await).num_minutes() + 1;
    if minutes > 0 {
        api.post(
            "/v1/local/clock",
            json!({ "advance": format!("{minutes}m") }),
        )
        .await;
    }
}

/// Posts `body` to the account's webhook of `platform`, signed as the platform would.
async fn deliver(api: &Api, platform: &str, body: &Value) -> Value {
    let body = body.to_string();
    let (name, value) = signature(platform, &body, local_now(api).await);
    let path = format!("/v1/webhooks/{ACCOUNT}/{platform}");
    let response = api
        .http
        .post(format!("{}{path}", api.base))
        .header("content-type", "application/json")
        .header(name, value)
        .body(body)
        .send()
        .await
        .unwrap();
    answer(response, &path).await
}

fn fixture(name: &str) -> Value {
    let path = format!(
        "{}/../../shared/policy/tests/fixtures/platforms/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// The platform's answered call (its fixture, shaped per its docs), tied to our agent,
/// campaign and `contact`, whose analysis asks for a call back.
fn asking_for_a_call(platform: &str, contact: &str, now: DateTime<Utc>) -> Value {
    let ours = json!({"agent_id": "agent-1", "campaign_id": "camp-1", "contact_id": contact});
    let started = now - chrono::Duration::minutes(3);
    match platform {
        "vapi" => {
            let mut v = fixture("vapi_end_of_call_report");
            let m = &mut v["message"];
            m["call"]["assistantOverrides"]["metadata"] = ours;
            m["customer"]["number"] = json!(PHONE);
            m["startedAt"] = json!(started.to_rfc3339());
            m["endedAt"] = json!(now.to_rfc3339());
            m["analysis"]["structuredData"]["followup_call_at"] = json!(true);
            v
        }
        "retell" => {
            let mut v = fixture("retell_call_analyzed");
            let c = &mut v["call"];
            c["metadata"] = ours;
            c["to_number"] = json!(PHONE);
            c["start_timestamp"] = json!(started.timestamp_millis());
            c["end_timestamp"] = json!(now.timestamp_millis());
            c["call_analysis"]["custom_analysis_data"]["followup_call_at"] = json!(true);
            v
        }
        "bland" => {
            let mut v = fixture("bland_post_call");
            v["metadata"] = ours;
            v["to"] = json!(PHONE);
            v["started_at"] = json!(started.to_rfc3339());
            v["end_at"] = json!(now.to_rfc3339());
            v["analysis"]["followup_call_at"] = json!(true);
            v
        }
        _ => {
            let mut v = fixture("elevenlabs_post_call_transcription");
            let d = &mut v["data"];
            d["conversation_initiation_client_data"]["dynamic_variables"] = ours;
            d["metadata"]["phone_call"]["external_number"] = json!(PHONE);
            d["metadata"]["start_time_unix_secs"] = json!(started.timestamp());
            d["metadata"]["call_duration_secs"] = json!(180);
            d["analysis"]["data_collection_results"]["followup_call_at"] =
                json!({"data_collection_id": "followup_call_at", "value": true});
            v
        }
    }
}

/// The platform's completion webhook of the call it placed with `request`: nobody
/// answered. It carries back what the platform echoes of the request (our metadata).
fn no_answer(platform: &str, request: &Value, call_id: &str, now: DateTime<Utc>) -> Value {
    match platform {
        "vapi" => json!({"message": {
            "type": "end-of-call-report", "endedReason": "customer-did-not-answer",
            "endedAt": now.to_rfc3339(), "customer": request["customer"],
            "analysis": {}, "artifact": {"messages": []},
            "call": {"id": call_id, "type": "outboundPhoneCall", "status": "ended",
                     "assistantId": request["assistantId"], "phoneNumberId": request["phoneNumberId"],
                     "customer": request["customer"], "assistantOverrides": request["assistantOverrides"]}
        }}),
        "retell" => {
            json!({"event": "call_ended", "call": retell_unanswered(request, call_id, now)})
        }
        "bland" => json!({
            "call_id": call_id, "to": request["phone_number"], "from": request["from"],
            "inbound": false, "completed": true, "status": "no-answer", "answered_by": "no-answer",
            "end_at": now.to_rfc3339(), "metadata": request["metadata"],
            "variables": {"metadata": request["metadata"]}
        }),
        _ => {
            json!({"type": "call_initiation_failure", "event_timestamp": now.timestamp(), "data": {
                "agent_id": request["agent_id"], "conversation_id": call_id, "failure_reason": "no-answer",
                "metadata": {"type": "twilio", "body": {"To": request["to_number"], "CallStatus": "no-answer"}},
                "conversation_initiation_client_data": request["conversation_initiation_client_data"]
            }})
        }
    }
}

/// Retell's call object of an unanswered call placed with `request` (in its webhooks
/// and its get-call answer alike).
fn retell_unanswered(request: &Value, call_id: &str, now: DateTime<Utc>) -> Value {
    json!({
        "call_id": call_id, "call_type": "phone_call", "agent_id": request["override_agent_id"],
        "call_status": "not_connected", "direction": "outbound",
        "from_number": request["from_number"], "to_number": request["to_number"],
        "end_timestamp": now.timestamp_millis(), "disconnection_reason": "dial_no_answer",
        "metadata": request["metadata"],
        "retell_llm_dynamic_variables": request["retell_llm_dynamic_variables"]
    })
}

/// The create-call request: path, auth header, the contact, and our follow-up id and
/// attempt where the platform carries metadata back.
fn check_create_call(platform: &str, got: &Received, followup: &str, attempt: u64) {
    let b = &got.body;
    let header = |name: &str| got.header(name);
    let (path, metadata) = match platform {
        "vapi" => {
            assert_eq!(header("authorization"), "Bearer vapi-private-key");
            assert_eq!(b["assistantId"], "asst_followup");
            assert_eq!(b["phoneNumberId"], "pn_123");
            assert_eq!(b["customer"]["number"], PHONE);
            let vars = &b["assistantOverrides"]["variableValues"];
            assert!(
                vars["followup_instructions"]
                    .as_str()
                    .unwrap()
                    .starts_with("Offer a demo.")
            );
            ("/call", &b["assistantOverrides"]["metadata"])
        }
        "retell" => {
            assert_eq!(header("authorization"), format!("Bearer {RETELL_KEY}"));
            assert_eq!(b["from_number"], "+14155550100");
            assert_eq!(b["to_number"], PHONE);
            assert_eq!(b["override_agent_id"], "agent_retell_1");
            ("/v2/create-phone-call", &b["metadata"])
        }
        "bland" => {
            assert_eq!(header("authorization"), "bland-api-key");
            assert_eq!(b["phone_number"], PHONE);
            assert_eq!(b["from"], "+14155550100");
            assert!(b["task"].as_str().unwrap().starts_with("Offer a demo."));
            ("/v1/calls", &b["metadata"])
        }
        _ => {
            assert_eq!(header("xi-api-key"), "xi-api-key-0123");
            assert_eq!(b["agent_id"], "agent_el_1");
            assert_eq!(b["agent_phone_number_id"], "phnum_1");
            assert_eq!(b["to_number"], PHONE);
            let vars = &b["conversation_initiation_client_data"]["dynamic_variables"];
            // ElevenLabs' dynamic variables are strings.
            assert_eq!(vars["followup_attempt"], attempt.to_string());
            ("/v1/convai/twilio/outbound-call", vars)
        }
    };
    assert_eq!(got.method, "POST");
    assert_eq!(got.path, path, "{platform}");
    assert_eq!(metadata["followup_id"], followup, "{platform}: {b}");
    assert_eq!(metadata["campaign_id"], "camp-1", "{platform}");
    assert_eq!(
        metadata["contact_id"],
        format!("c-{platform}"),
        "{platform}"
    );
    if platform != "elevenlabs" {
        assert_eq!(metadata["attempt"], attempt, "{platform}: {b}");
        assert_eq!(metadata["account_id"], ACCOUNT, "{platform}");
    }
}

/// Waits (bounded) until the follow-up call of `contact` shows `status`.
async fn wait_for_status(api: &Api, contact: &str, status: &str) -> Value {
    let deadline = Instant::now() + SEND_BOUND;
    loop {
        let call = api.followup(contact, "call").await;
        if call["status"] == status {
            return call;
        }
        assert!(
            Instant::now() < deadline,
            "the call of {contact} is not {status} within {SEND_BOUND:?}: {call:#}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn provider_id(call: &Value) -> String {
    call["attempts"].as_array().unwrap().last().unwrap()["provider_id"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_platform_webhook_places_retries_and_exhausts_a_follow_up_call_on_the_local_runtime() {
    let stub = PlatformStub::start().await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let local = start(&data, &platform_env(&stub, "600"));
    let api = Api::new(&local, &data);
    configure(&api).await;
    let mut placed = 0;
    for platform in ["vapi", "retell", "bland", "elevenlabs"] {
        connect(&api, platform).await;
        let contact = format!("c-{platform}");
        let asked = deliver(
            &api,
            platform,
            &asking_for_a_call(platform, &contact, local_now(&api).await),
        )
        .await;
        assert!(asked.is_object(), "{asked}");
        let call = api.followup(&contact, "call").await;
        assert_eq!(call["status"], "scheduled", "{platform}: {call:#}");
        let id = call["id"].as_str().unwrap().to_owned();
        for attempt in 1..=2u64 {
            let call = api.followup(&contact, "call").await;
            assert_eq!(call["attempt"], attempt, "{platform}: {call:#}");
            advance_past(&api, time(&call["due_at"])).await;
            placed += 1;
            let request = stub.wait_for("POST", placed, SEND_BOUND).await;
            check_create_call(platform, &request, &id, attempt);
            let call = wait_for_status(&api, &contact, "placed").await;
            let completion = no_answer(
                platform,
                &request.body,
                &provider_id(&call),
                local_now(&api).await,
            );
            deliver(&api, platform, &completion).await;
        }
        let call = api.followup(&contact, "call").await;
        assert_eq!(call["status"], "exhausted", "{platform}: {call:#}");
        assert_eq!(call["reason"], "retries_exhausted", "{platform}: {call:#}");
    }
    assert_eq!(stub.requests("POST").len(), 8);
    assert!(
        stub.requests("GET").is_empty(),
        "every completion came by webhook"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_left_placed_when_the_runtime_stopped_is_looked_up_on_its_platform_after_a_restart()
{
    let stub = PlatformStub::start().await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let env = platform_env(&stub, "30");
    let local = start(&data, &env);
    let api = Api::new(&local, &data);
    configure(&api).await;
    connect(&api, "retell").await;
    deliver(
        &api,
        "retell",
        &asking_for_a_call("retell", "c-retell", local_now(&api).await),
    )
    .await;
    let call = api.followup("c-retell", "call").await;
    advance_past(&api, time(&call["due_at"])).await;
    let request = stub.wait_for("POST", 1, SEND_BOUND).await;
    let placed = wait_for_status(&api, "c-retell", "placed").await;
    let call_id = provider_id(&placed);

    // The runtime stops while the call is placed; its completion webhook never comes.
    drop(local);
    let now = local_now_of(&data);
    stub.answer_lookup(retell_unanswered(&request.body, &call_id, now));
    let local = start(&data, &env);
    let api = Api::new(&local, &data);
    advance_past(&api, time(&placed["due_at"])).await;
    let looked_up = stub.wait_for("GET", 1, SEND_BOUND).await;
    assert_eq!(looked_up.path, format!("/v2/get-call/{call_id}"));
    assert_eq!(
        looked_up.headers["authorization"],
        format!("Bearer {RETELL_KEY}")
    );
    // Settled as Retell's webhook would have: unanswered, so retried (the retry may be
    // due, and placed, at once: the call ended half an hour ago).
    let deadline = Instant::now() + SEND_BOUND;
    let retry = loop {
        let call = api.followup("c-retell", "call").await;
        if call["attempt"] == 2 {
            break call;
        }
        assert!(Instant::now() < deadline, "not retried: {call:#}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let retried = retry["trace"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["status"] == "scheduled" && e["reason"] == "not_answered");
    assert!(retried, "{retry:#}");
    let creates = stub.requests("POST");
    assert!(creates.len() <= 2, "{creates:#?}");
    if let Some(second) = creates.get(1) {
        assert_eq!(second.body["metadata"]["attempt"], 2);
    }
}

/// The runtime's clock while it is stopped: the machine's time plus the saved offset.
fn local_now_of(data: &Path) -> DateTime<Utc> {
    let offset = std::fs::read_to_string(data.join("clock-offset"))
        .ok()
        .and_then(|s| s.trim().parse::<i64>().ok())
        .unwrap_or(0);
    Utc::now() + chrono::Duration::seconds(offset)
}
