//! Follow-up calls through each voice platform, end to end over the HTTP edge: a
//! native end-of-call webhook asks for a call back → the executor places it through a
//! local stub of the platform's create-call API (path, auth header and body checked,
//! our follow-up id and attempt in the platform's metadata) → the platform's native
//! completion (no answer) carrying that metadata schedules the retry → the retry is
//! placed → its no-answer exhausts the follow-up.

use std::sync::Arc;

use axum::http::StatusCode;
use chrono::Duration;
use serde_json::{Value, json};
use testkit::platforms::connection;
use testkit::{PlatformStub, Received};

use crate::support::*;

for_each_store!(
    each_platform_places_retries_and_exhausts_a_follow_up_call,
    a_placed_call_without_completion_ends_unknown_after_the_wait,
    each_platforms_lookup_of_an_unanswered_call_retries_then_exhausts_it,
    a_call_still_in_progress_is_looked_up_again_then_ends_unknown,
    a_placed_call_through_the_generic_endpoint_ends_unknown_saying_why,
);

fn agent_with(platform: &str) -> Value {
    let target = match platform {
        "vapi" => json!({"name": "vapi", "agent_id": "asst_followup", "from_number_id": "pn_123"}),
        "retell" => {
            json!({"name": "retell", "agent_id": "agent_retell_1", "from_number": "+14155550100"})
        }
        "bland" => json!({"name": "bland", "from_number": "+14155550100"}),
        _ => json!({"name": "elevenlabs", "agent_id": "agent_el_1", "from_number_id": "phnum_1"}),
    };
    let mut agent = agent_json();
    agent["calls"]["platform"] = target;
    agent["calls"]["max_retries"] = json!(1);
    agent["calls"]["retry_interval_minutes"] = json!(30);
    agent
}

/// The platform's answered call, now, asking for a call back at 12:00 New York time.
fn asking_for_a_call(platform: &str, contact: &str, world: &World) -> Value {
    let now = world.clock.now();
    let ours = json!({"agent_id": "agent-1", "campaign_id": "camp-1", "contact_id": contact});
    let at = json!("2030-01-15T12:00");
    let fixture = crate::platforms::fixture;
    match platform {
        "vapi" => {
            let mut v = fixture("vapi_end_of_call_report");
            v["message"]["call"]["assistantOverrides"]["metadata"] = ours;
            v["message"]["endedAt"] = json!(now.to_rfc3339());
            v["message"]["startedAt"] = json!((now - Duration::minutes(3)).to_rfc3339());
            v["message"]["analysis"]["structuredData"]["followup_call_at"] = at;
            v
        }
        "retell" => {
            let mut v = fixture("retell_call_analyzed");
            v["call"]["metadata"] = ours;
            v["call"]["start_timestamp"] = json!((now - Duration::minutes(3)).timestamp_millis());
            v["call"]["end_timestamp"] = json!(now.timestamp_millis());
            v["call"]["call_analysis"]["custom_analysis_data"]["followup_call_at"] = at;
            v
        }
        "bland" => {
            let mut v = fixture("bland_post_call");
            v["metadata"] = ours;
            v["started_at"] = json!((now - Duration::minutes(3)).to_rfc3339());
            v["end_at"] = json!(now.to_rfc3339());
            v["analysis"]["followup_call_at"] = at;
            v
        }
        _ => {
            let mut v = fixture("elevenlabs_post_call_transcription");
            v["data"]["conversation_initiation_client_data"]["dynamic_variables"] = ours;
            v["data"]["metadata"]["start_time_unix_secs"] = json!(now.timestamp() - 180);
            v["data"]["metadata"]["call_duration_secs"] = json!(180);
            v["data"]["analysis"]["data_collection_results"]["followup_call_at"] =
                json!({"data_collection_id": "followup_call_at", "value": at});
            v
        }
    }
}

/// The platform's completion of the call it placed with `request`: nobody answered.
fn no_answer(platform: &str, request: &Value, call_id: &str, world: &World) -> Value {
    let now = world.clock.now();
    match platform {
        "vapi" => json!({"message": {
            "type": "end-of-call-report",
            "endedReason": "customer-did-not-answer",
            "endedAt": now.to_rfc3339(),
            "customer": request["customer"],
            "analysis": {}, "artifact": {"messages": []},
            "call": {"id": call_id, "type": "outboundPhoneCall", "assistantId": request["assistantId"],
                     "phoneNumberId": request["phoneNumberId"], "customer": request["customer"],
                     "assistantOverrides": request["assistantOverrides"]}
        }}),
        "retell" => json!({"event": "call_ended", "call": {
            "call_id": call_id, "agent_id": request["override_agent_id"], "call_status": "not_connected",
            "direction": "outbound", "from_number": request["from_number"], "to_number": request["to_number"],
            "end_timestamp": now.timestamp_millis(), "disconnection_reason": "dial_no_answer",
            "metadata": request["metadata"], "retell_llm_dynamic_variables": request["retell_llm_dynamic_variables"]
        }}),
        "bland" => json!({
            "call_id": call_id, "to": request["phone_number"], "from": "+14155550100", "inbound": false,
            "completed": true, "status": "no-answer", "answered_by": "no-answer",
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

/// What each platform's request must carry, checked field by field.
fn check_request(platform: &str, got: &Received, followup: &str, attempt: u64) {
    let b = &got.body;
    let auth = |name: &str| got.header(name);
    let (path, metadata) = match platform {
        "vapi" => {
            assert_eq!(auth("authorization"), "Bearer vapi-private-key");
            assert_eq!(b["assistantId"], "asst_followup");
            assert_eq!(b["phoneNumberId"], "pn_123");
            assert_eq!(b["customer"]["number"], "+14155550123");
            assert_eq!(b["customer"]["externalId"], "c-vapi");
            assert!(
                b["assistantOverrides"]["variableValues"]["followup_instructions"]
                    .as_str()
                    .unwrap()
                    .starts_with("Offer a demo.")
            );
            ("/call", &b["assistantOverrides"]["metadata"])
        }
        "retell" => {
            assert_eq!(auth("authorization"), "Bearer key_retell_0123456789abcdef");
            assert_eq!(b["from_number"], "+14155550100");
            assert_eq!(b["to_number"], "+14155550123");
            assert_eq!(b["override_agent_id"], "agent_retell_1");
            assert_eq!(b["retell_llm_dynamic_variables"]["followup_id"], followup);
            ("/v2/create-phone-call", &b["metadata"])
        }
        "bland" => {
            assert_eq!(auth("authorization"), "bland-api-key");
            assert_eq!(b["phone_number"], "+14155550123");
            assert_eq!(b["from"], "+14155550100");
            assert!(b["task"].as_str().unwrap().starts_with("Offer a demo."));
            ("/v1/calls", &b["metadata"])
        }
        _ => {
            assert_eq!(auth("xi-api-key"), "xi-api-key-0123");
            assert_eq!(b["agent_id"], "agent_el_1");
            assert_eq!(b["agent_phone_number_id"], "phnum_1");
            assert_eq!(b["to_number"], "+14155550123");
            let vars = &b["conversation_initiation_client_data"]["dynamic_variables"];
            assert_eq!(vars["followup_attempt"], attempt.to_string());
            ("/v1/convai/twilio/outbound-call", vars)
        }
    };
    assert_eq!(got.path, path);
    assert_eq!(metadata["followup_id"], followup, "{platform}: {b}");
    assert_eq!(metadata["agent_id"], "agent-1");
    assert_eq!(metadata["campaign_id"], "camp-1");
    assert_eq!(metadata["contact_id"], format!("c-{platform}"));
    if platform != "elevenlabs" {
        assert_eq!(metadata["attempt"], attempt, "{platform}");
        assert_eq!(metadata["account_id"], "acme");
    }
}

fn executor(world: &World, base: &str) -> service::execute::Executor {
    executor_with(world, base, None)
}

/// The executor calling through the platforms at `base` (and `generic` for agents
/// without one), looking placed calls up there too.
fn executor_with(
    world: &World,
    base: &str,
    generic: Option<Arc<dyn channels::Sender>>,
) -> service::execute::Executor {
    let apis = channels::PlatformApis {
        vapi: base.to_owned(),
        retell: base.to_owned(),
        bland: base.to_owned(),
        elevenlabs: base.to_owned(),
    };
    let calls = Arc::new(
        service::platforms::PlatformSecrets::new(
            world.platform_secrets.clone(),
            service::platforms::DEFAULT_SECRET_PREFIX,
        )
        .call_sender(apis, generic),
    );
    let mut senders = service::execute::Senders::all(world.outbox.clone());
    senders.call = Some(calls.clone());
    service::execute::Executor::new(
        world.engine.repo.clone(),
        senders,
        service::execute::SenderIdentity::default(),
        world.clock.clone(),
    )
    .with_call_lookups(calls)
}

async fn a_placed_call_without_completion_ends_unknown_after_the_wait(world: World) {
    let seen = PlatformStub::start().await;
    let base = seen.base();
    world.configure_acme().await;
    let executor = executor(&world, base).with_placed_call_wait(Duration::minutes(90));
    world
        .put("/v1/platforms/retell")
        .json(&json!({"api_key": "key_retell_0123456789abcdef"}))
        .send()
        .await
        .expect(StatusCode::OK);
    world
        .put("/v1/agents/agent-1/followup-settings")
        .json(&agent_with("retell"))
        .send()
        .await
        .expect(StatusCode::OK);
    let body = asking_for_a_call("retell", "c-retell", &world).to_string();
    deliver(&world, "retell", &body).await;
    let call = world.one_followup("c-retell", "call").await;
    let id = call["id"].as_str().unwrap().to_owned();
    let due = chrono::DateTime::parse_from_rfc3339(call["due_at"].as_str().unwrap()).unwrap();
    world
        .clock
        .advance(due.with_timezone(&chrono::Utc) - world.clock.now());
    let input = service::execute::ExecutorInput {
        account_id: "acme".into(),
        followup_id: id.clone(),
        attempt: 1,
    };
    executor.execute(&input).await.unwrap();
    assert_eq!(seen.placed().len(), 1);
    let placed = world.one_followup("c-retell", "call").await;
    assert_eq!(placed["status"], "placed");
    let check_at =
        chrono::DateTime::parse_from_rfc3339(placed["due_at"].as_str().unwrap()).unwrap();
    assert_eq!(
        check_at.with_timezone(&chrono::Utc),
        world.clock.now() + Duration::minutes(90)
    );
    // Invoked before the wait is over (by more than the executor would sleep for):
    // nothing changes.
    world.clock.advance(Duration::minutes(80));
    let early = executor.execute(&input).await.unwrap();
    assert!(
        matches!(early, service::execute::Outcome::Skipped { .. }),
        "{early:?}"
    );
    assert_eq!(
        world.one_followup("c-retell", "call").await["status"],
        "placed"
    );
    world.clock.advance(Duration::minutes(10));
    let outcome = executor.execute(&input).await.unwrap();
    assert!(
        matches!(outcome, service::execute::Outcome::Unknown { .. }),
        "{outcome:?}"
    );
    let unknown = world
        .get(&format!("/v1/followups/{id}"))
        .send()
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(unknown["status"], "unknown");
    let last = unknown["trace"].as_array().unwrap().last().unwrap().clone();
    let detail = last["detail"].as_str().unwrap();
    assert!(detail.contains("no completion webhook arrived"), "{last}");
    // Retell was asked (its stub knows no such call) and said so.
    assert!(
        detail.contains("looking it up on retell failed") && detail.contains("404"),
        "{last}"
    );
    let asked = seen.looked_up();
    assert_eq!(asked.len(), 1);
    assert_eq!(asked[0].path, "/v2/get-call/retell-call-1");
    assert_eq!(
        asked[0].headers["authorization"],
        "Bearer key_retell_0123456789abcdef"
    );
    // Nothing was placed again.
    assert_eq!(seen.placed().len(), 1);
}

async fn each_platform_places_retries_and_exhausts_a_follow_up_call(world: World) {
    let seen = PlatformStub::start().await;
    let base = seen.base();
    world.configure_acme().await;
    let executor = executor(&world, base);
    for (platform, key) in keys() {
        connect(&world, platform, &key).await;
        let contact = format!("c-{platform}");
        let body = asking_for_a_call(platform, &contact, &world).to_string();
        deliver(&world, platform, &body).await;
        let call = world.one_followup(&contact, "call").await;
        assert_eq!(call["status"], "scheduled", "{platform}: {call}");
        let id = call["id"].as_str().unwrap().to_owned();

        for attempt in 1..=2u64 {
            let (call, outcome) = run_when_due(&world, &executor, &contact).await;
            assert_eq!(call["attempt"], attempt, "{platform}: {call}");
            assert!(
                matches!(outcome, service::execute::Outcome::Sent { .. }),
                "{platform}: {outcome:?}"
            );
            let request = seen.placed().last().cloned().unwrap();
            check_request(platform, &request, &id, attempt);
            assert_eq!(
                world.one_followup(&contact, "call").await["status"],
                "placed"
            );

            let completion = no_answer(
                platform,
                &request.body,
                &format!("{platform}-done-{attempt}"),
                &world,
            )
            .to_string();
            deliver(&world, platform, &completion).await;
        }
        let call = world.one_followup(&contact, "call").await;
        assert_eq!(call["status"], "exhausted", "{platform}: {call}");
    }
}

async fn deliver(world: &World, platform: &str, body: &str) {
    let headers = crate::platforms::signed(world, platform, body);
    let reply = crate::platforms::post(world, "acme", platform, &headers, body).await;
    assert_eq!(reply.status, StatusCode::OK, "{platform}: {reply}");
}

/// Each platform's API key (and webhook secret, where its webhooks are signed with one).
fn keys() -> [(&'static str, Value); 4] {
    ["vapi", "retell", "bland", "elevenlabs"].map(|platform| (platform, connection(platform)))
}

/// Each platform's get-call path and auth header for `call_id`.
fn get_call(platform: &str, call_id: &str) -> (String, &'static str, &'static str) {
    match platform {
        "vapi" => (
            format!("/call/{call_id}"),
            "authorization",
            "Bearer vapi-private-key",
        ),
        "retell" => (
            format!("/v2/get-call/{call_id}"),
            "authorization",
            "Bearer key_retell_0123456789abcdef",
        ),
        "bland" => (
            format!("/v1/calls/{call_id}"),
            "authorization",
            "bland-api-key",
        ),
        _ => (
            format!("/v1/convai/conversations/{call_id}"),
            "xi-api-key",
            "xi-api-key-0123",
        ),
    }
}

/// The platform's get-call answer about the call `request` placed: over, unanswered,
/// with what the platform echoes of the request (our ids in its metadata).
fn looked_up_unanswered(platform: &str, request: &Value, call_id: &str) -> Value {
    match platform {
        "vapi" => json!({
            "id": call_id, "type": "outboundPhoneCall", "status": "ended",
            "endedReason": "customer-did-not-answer", "assistantId": request["assistantId"],
            "phoneNumberId": request["phoneNumberId"], "customer": request["customer"],
            "assistantOverrides": request["assistantOverrides"]
        }),
        "retell" => json!({
            "call_id": call_id, "agent_id": request["override_agent_id"], "call_status": "not_connected",
            "direction": "outbound", "from_number": request["from_number"], "to_number": request["to_number"],
            "disconnection_reason": "dial_no_answer", "metadata": request["metadata"],
            "retell_llm_dynamic_variables": request["retell_llm_dynamic_variables"]
        }),
        "bland" => json!({
            "call_id": call_id, "to": request["phone_number"], "from": "+14155550100", "inbound": false,
            "completed": true, "status": "no-answer", "queue_status": "complete",
            "answered_by": "no-answer", "metadata": request["metadata"]
        }),
        _ => json!({
            "conversation_id": call_id, "agent_id": request["agent_id"], "status": "failed",
            "metadata": {"phone_call": {"direction": "outbound", "external_number": request["to_number"]}},
            "conversation_initiation_client_data": request["conversation_initiation_client_data"]
        }),
    }
}

async fn connect(world: &World, platform: &str, key: &Value) {
    world
        .put(&format!("/v1/platforms/{platform}"))
        .json(key)
        .send()
        .await
        .expect(StatusCode::OK);
    world
        .put("/v1/agents/agent-1/followup-settings")
        .json(&agent_with(platform))
        .send()
        .await
        .expect(StatusCode::OK);
}

/// Moves the clock to the follow-up's due time (if it is ahead) and runs the executor.
async fn run_when_due(
    world: &World,
    executor: &service::execute::Executor,
    contact: &str,
) -> (Value, service::execute::Outcome) {
    let call = world.one_followup(contact, "call").await;
    let due = chrono::DateTime::parse_from_rfc3339(call["due_at"].as_str().unwrap()).unwrap();
    let wait = due.with_timezone(&chrono::Utc) - world.clock.now();
    if wait > Duration::zero() {
        world.clock.advance(wait);
    }
    let input = service::execute::ExecutorInput {
        account_id: "acme".into(),
        followup_id: call["id"].as_str().unwrap().to_owned(),
        attempt: call["attempt"].as_u64().unwrap() as u32,
    };
    let outcome = executor.execute(&input).await.unwrap();
    (call, outcome)
}

async fn each_platforms_lookup_of_an_unanswered_call_retries_then_exhausts_it(world: World) {
    let stub = PlatformStub::start().await;
    let base = stub.base();
    world.configure_acme().await;
    let executor = executor(&world, base).with_placed_call_wait(Duration::minutes(60));
    for (platform, key) in keys() {
        connect(&world, platform, &key).await;
        let contact = format!("c-{platform}");
        let body = asking_for_a_call(platform, &contact, &world).to_string();
        deliver(&world, platform, &body).await;
        for attempt in 1..=2u64 {
            let (_, outcome) = run_when_due(&world, &executor, &contact).await;
            assert!(
                matches!(outcome, service::execute::Outcome::Sent { .. }),
                "{platform}: {outcome:?}"
            );
            let placed = world.one_followup(&contact, "call").await;
            assert_eq!(placed["status"], "placed", "{platform}");
            let call_id = placed["attempts"].as_array().unwrap().last().unwrap()["provider_id"]
                .as_str()
                .unwrap()
                .to_owned();
            let request = stub.placed().last().cloned().unwrap();
            stub.answer_lookup(looked_up_unanswered(platform, &request.body, &call_id));
            // No completion webhook: after the wait, the platform is asked.
            let (_, outcome) = run_when_due(&world, &executor, &contact).await;
            assert!(
                matches!(outcome, service::execute::Outcome::Settled { .. }),
                "{platform}: {outcome:?}"
            );
            let asked = stub.looked_up().last().cloned().unwrap();
            let (path, header, value) = get_call(platform, &call_id);
            assert_eq!(asked.path, path, "{platform}");
            assert_eq!(asked.headers[header], value, "{platform}");
            let after = world.one_followup(&contact, "call").await;
            if attempt == 1 {
                assert_eq!(after["status"], "scheduled", "{platform}: {after}");
                assert_eq!(after["attempt"], 2, "{platform}: {after}");
                assert_eq!(after["reason"], "not_answered", "{platform}: {after}");
                // The completion webhook of that call, arriving late, changes nothing.
                let late = no_answer(platform, &request.body, &call_id, &world).to_string();
                deliver(&world, platform, &late).await;
                assert_eq!(
                    world.one_followup(&contact, "call").await,
                    after,
                    "{platform}"
                );
            }
        }
        let call = world.one_followup(&contact, "call").await;
        assert_eq!(call["status"], "exhausted", "{platform}: {call}");
        assert_eq!(call["reason"], "retries_exhausted", "{platform}: {call}");
    }
    assert_eq!(stub.placed().len(), 8);
    assert_eq!(stub.looked_up().len(), 8);
}

async fn a_call_still_in_progress_is_looked_up_again_then_ends_unknown(world: World) {
    let stub = PlatformStub::start().await;
    let base = stub.base();
    world.configure_acme().await;
    let executor = executor(&world, base).with_placed_call_wait(Duration::minutes(45));
    connect(&world, "bland", &keys()[2].1).await;
    let body = asking_for_a_call("bland", "c-bland", &world).to_string();
    deliver(&world, "bland", &body).await;
    run_when_due(&world, &executor, "c-bland").await;
    let call_id = "bland-call-1";
    for _ in 0..policy::MAX_IN_PROGRESS_LOOKUPS {
        stub.answer_lookup(
            json!({"call_id": call_id, "completed": false, "queue_status": "started"}),
        );
    }
    for lookup in 1..=policy::MAX_IN_PROGRESS_LOOKUPS {
        let (before, outcome) = run_when_due(&world, &executor, "c-bland").await;
        let after = world.one_followup("c-bland", "call").await;
        if lookup < policy::MAX_IN_PROGRESS_LOOKUPS {
            assert!(
                matches!(outcome, service::execute::Outcome::Rescheduled { .. }),
                "{outcome:?}"
            );
            assert_eq!(after["status"], "placed");
            assert_eq!(after["reason"], "call_in_progress");
            let due = |f: &Value| {
                chrono::DateTime::parse_from_rfc3339(f["due_at"].as_str().unwrap()).unwrap()
            };
            assert_eq!(due(&after) - due(&before), Duration::minutes(45));
        } else {
            assert!(
                matches!(outcome, service::execute::Outcome::Unknown { .. }),
                "{outcome:?}"
            );
            assert_eq!(after["status"], "unknown");
            let last = after["trace"].as_array().unwrap().last().unwrap().clone();
            assert!(
                last["detail"]
                    .as_str()
                    .unwrap()
                    .contains("bland still reports it started after 3 lookups"),
                "{last}"
            );
        }
    }
    assert_eq!(stub.looked_up().len(), policy::MAX_IN_PROGRESS_LOOKUPS);
    assert!(
        stub.looked_up()
            .iter()
            .all(|r| r.path == "/v1/calls/bland-call-1")
    );
    assert_eq!(stub.placed().len(), 1);
}

async fn a_placed_call_through_the_generic_endpoint_ends_unknown_saying_why(world: World) {
    let stub = PlatformStub::start().await;
    let base = stub.base();
    world.configure_acme().await;
    let executor = executor_with(&world, base, Some(world.outbox.clone()))
        .with_placed_call_wait(Duration::minutes(30));
    // Vapi's webhook asks for the call back, but the agent names no platform: the call
    // goes to the generic endpoint (the outbox here).
    connect(&world, "vapi", &keys()[0].1).await;
    let mut agent = agent_json();
    agent["calls"]["max_retries"] = json!(1);
    world
        .put("/v1/agents/agent-1/followup-settings")
        .json(&agent)
        .send()
        .await
        .expect(StatusCode::OK);
    let body = asking_for_a_call("vapi", "c-vapi", &world).to_string();
    deliver(&world, "vapi", &body).await;
    let (_, sent) = run_when_due(&world, &executor, "c-vapi").await;
    assert!(
        matches!(sent, service::execute::Outcome::Sent { .. }),
        "{sent:?}"
    );
    let (_, outcome) = run_when_due(&world, &executor, "c-vapi").await;
    assert!(
        matches!(outcome, service::execute::Outcome::Unknown { .. }),
        "{outcome:?}"
    );
    let call = world.one_followup("c-vapi", "call").await;
    assert_eq!(call["status"], "unknown");
    let last = call["trace"].as_array().unwrap().last().unwrap().clone();
    assert!(
        last["detail"]
            .as_str()
            .unwrap()
            .contains("generic voice endpoint, which has no call lookup"),
        "{last}"
    );
    assert!(stub.received().is_empty());
}
