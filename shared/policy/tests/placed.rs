//! A follow-up call left `placed` beyond the wait: its platform's get-call answer read
//! through the webhook readers, and what each answer leads to (record the end, look
//! again a bounded number of times, or `unknown` with the reason).

mod common;

use chrono::{DateTime, Duration, Utc};
use common::*;
use policy::platform::{Lookup, Platform, read_lookup};
use policy::{
    Attempt, CallLookup, CallOutcome, FollowUp, MAX_IN_PROGRESS_LOOKUPS, PlacedStep, Reason,
    Status, placed_call_id, settle_placed,
};
use serde_json::{Value, json};

const WAIT: Duration = Duration::minutes(120);

/// A follow-up call placed at 15:00 as `vapi-call-1`, due to be looked at 17:00.
fn placed() -> FollowUp {
    let mut call = requested_call();
    call.attempts.push(Attempt {
        attempt: call.attempt,
        at: now(),
        status: Status::Placed,
        provider_id: Some("vapi-call-1".into()),
        error: None,
        deliveries: Vec::new(),
    });
    call.record(now(), Status::Placed, Reason::ProviderAccepted, "accepted");
    call.due_at = now() + WAIT;
    call
}

fn later() -> DateTime<Utc> {
    now() + WAIT
}

fn in_progress() -> CallLookup {
    CallLookup::InProgress {
        platform: "vapi".into(),
        status: "in-progress".into(),
    }
}

/// What a step must be: recorded, waiting until an instant with a detail, or unknown
/// with a detail (each detail checked by a phrase in it).
#[derive(Debug)]
enum Expect {
    Record,
    Wait(DateTime<Utc>, &'static str),
    Unknown(&'static str),
}

#[test]
fn each_lookup_answer_leads_to_its_step() {
    let call = placed();
    let cases = [
        (CallLookup::Ended, Expect::Record),
        (
            in_progress(),
            Expect::Wait(later() + WAIT, "vapi reports the call in-progress"),
        ),
        (
            CallLookup::Failed {
                platform: "retell".into(),
                detail: "retell answered 500".into(),
            },
            Expect::Unknown("looking it up on retell failed: retell answered 500"),
        ),
        (
            CallLookup::Unsupported,
            Expect::Unknown("generic voice endpoint, which has no call lookup"),
        ),
    ];
    for (lookup, expected) in cases {
        let step = settle_placed(&call, &lookup, WAIT, later());
        let ok = match (&expected, &step) {
            (Expect::Record, PlacedStep::Record) => true,
            (
                Expect::Wait(at, phrase),
                PlacedStep::Wait {
                    until,
                    reason: Reason::CallInProgress,
                    detail,
                },
            ) => until == at && detail.contains(phrase),
            (
                Expect::Unknown(phrase),
                PlacedStep::Unknown {
                    reason: Reason::OutcomeUnknown,
                    detail,
                },
            ) => {
                detail.contains(phrase)
                    && detail.contains("no completion webhook arrived")
                    && detail.contains("vapi-call-1")
            }
            _ => false,
        };
        assert!(ok, "{lookup:?}: expected {expected:?}, got {step:?}");
    }
}

#[test]
fn a_call_still_in_progress_is_looked_up_again_a_bounded_number_of_times() {
    let mut call = placed();
    let mut at = later();
    let mut waits = 0;
    loop {
        match settle_placed(&call, &in_progress(), WAIT, at) {
            PlacedStep::Wait {
                until,
                reason,
                detail,
            } => {
                waits += 1;
                call.record(at, Status::Placed, reason, detail);
                call.due_at = until;
                at = until;
            }
            PlacedStep::Unknown { detail, .. } => {
                assert!(
                    detail.contains(&format!("after {MAX_IN_PROGRESS_LOOKUPS} lookups")),
                    "{detail}"
                );
                break;
            }
            PlacedStep::Record => panic!("nothing ended"),
        }
        assert!(waits < 10, "never gave up");
    }
    assert_eq!(waits, MAX_IN_PROGRESS_LOOKUPS - 1);
}

#[test]
fn a_retry_counts_its_in_progress_lookups_afresh() {
    let mut call = placed();
    call.record(later(), Status::Placed, Reason::CallInProgress, "ringing");
    call.record(later(), Status::Placed, Reason::CallInProgress, "ringing");
    // The retry is placed: the earlier attempt's lookups no longer count.
    call.attempt += 1;
    call.attempts.push(Attempt {
        attempt: call.attempt,
        at: later(),
        status: Status::Placed,
        provider_id: Some("vapi-call-2".into()),
        error: None,
        deliveries: Vec::new(),
    });
    call.record(later(), Status::Placed, Reason::ProviderAccepted, "again");
    assert_eq!(placed_call_id(&call), Some("vapi-call-2"));
    assert!(matches!(
        settle_placed(&call, &in_progress(), WAIT, later()),
        PlacedStep::Wait { .. }
    ));
}

#[test]
fn the_call_id_is_the_current_attempts() {
    let mut call = placed();
    assert_eq!(placed_call_id(&call), Some("vapi-call-1"));
    call.attempt += 1;
    assert_eq!(placed_call_id(&call), None);
}

fn ended(platform: Platform, body: Value) -> policy::platform::NativeCall {
    match read_lookup(platform, body.to_string().as_bytes()) {
        Ok(Lookup::Ended(call)) => call,
        other => panic!("{platform}: {other:?}"),
    }
}

fn still(platform: Platform, body: Value) -> String {
    match read_lookup(platform, body.to_string().as_bytes()) {
        Ok(Lookup::InProgress { status }) => status,
        other => panic!("{platform}: {other:?}"),
    }
}

fn ours() -> Value {
    json!({"followup_id": "fu-call", "attempt": 1, "agent_id": "agent-1", "campaign_id": "camp-1", "contact_id": "c-1"})
}

#[test]
fn get_call_answers_read_like_their_webhooks() {
    // (platform, the get-call answer of an ended call, the outcome it maps to)
    let cases = [
        (
            Platform::Vapi,
            json!({"id": "vapi-call-1", "status": "ended", "endedReason": "customer-did-not-answer",
                   "assistantId": "asst_1", "customer": {"number": "+14155550123"},
                   "assistantOverrides": {"metadata": ours()}}),
            CallOutcome::NoAnswer,
        ),
        (
            Platform::Vapi,
            json!({"id": "vapi-call-1", "status": "ended", "endedReason": "customer-ended-call",
                   "assistantId": "asst_1", "customer": {"number": "+14155550123"},
                   "analysis": {"summary": "Talked.", "structuredData": {"sms_consent": true}},
                   "assistantOverrides": {"metadata": ours()}}),
            CallOutcome::Completed,
        ),
        (
            Platform::Retell,
            json!({"call_id": "call_r1", "agent_id": "agent_r", "call_status": "not_connected",
                   "direction": "outbound", "to_number": "+14155550123",
                   "disconnection_reason": "dial_busy", "metadata": ours()}),
            CallOutcome::Busy,
        ),
        (
            Platform::Retell,
            json!({"call_id": "call_r1", "agent_id": "agent_r", "call_status": "ended",
                   "direction": "outbound", "to_number": "+14155550123",
                   "disconnection_reason": "user_hangup", "metadata": ours(),
                   "call_analysis": {"in_voicemail": true}}),
            CallOutcome::Voicemail,
        ),
        (
            Platform::Bland,
            json!({"call_id": "bland-1", "to": "+14155550123", "completed": true,
                   "status": "no-answer", "queue_status": "complete", "metadata": ours()}),
            CallOutcome::NoAnswer,
        ),
        (
            Platform::Bland,
            json!({"call_id": "bland-1", "to": "+14155550123", "completed": false,
                   "queue_status": "call_error", "metadata": ours()}),
            CallOutcome::Failed,
        ),
        (
            Platform::ElevenLabs,
            json!({"conversation_id": "conv_1", "agent_id": "agent_el", "status": "done",
                   "metadata": {"phone_call": {"external_number": "+14155550123"}, "termination_reason": "voicemail detected"},
                   "conversation_initiation_client_data": {"dynamic_variables": ours()}}),
            CallOutcome::Voicemail,
        ),
        (
            Platform::ElevenLabs,
            json!({"conversation_id": "conv_1", "agent_id": "agent_el", "status": "failed",
                   "metadata": {"phone_call": {"external_number": "+14155550123"}},
                   "conversation_initiation_client_data": {"dynamic_variables": ours()}}),
            CallOutcome::Failed,
        ),
    ];
    for (platform, body, outcome) in cases {
        let call = ended(platform, body.clone());
        assert_eq!(call.end.outcome, outcome, "{platform}: {body}");
        let mapped = call
            .to_call_completed(&policy::platform::AnalysisMapping::default(), now())
            .unwrap_or_else(|e| panic!("{platform}: {e:?}"));
        assert_eq!(
            mapped.event.followup_id().map(|f| f.as_str()),
            Some("fu-call"),
            "{platform}"
        );
        assert!(
            mapped.idempotency_key.starts_with(platform.as_str()),
            "{platform}"
        );
    }
}

#[test]
fn get_call_answers_of_calls_still_going_say_their_status() {
    let cases = [
        (
            Platform::Vapi,
            json!({"id": "v", "status": "ringing"}),
            "ringing",
        ),
        (
            Platform::Retell,
            json!({"call_id": "r", "call_status": "ongoing"}),
            "ongoing",
        ),
        (
            Platform::Bland,
            json!({"call_id": "b", "completed": false, "queue_status": "started"}),
            "started",
        ),
        (
            Platform::ElevenLabs,
            json!({"conversation_id": "c", "status": "processing"}),
            "processing",
        ),
    ];
    for (platform, body, status) in cases {
        assert_eq!(still(platform, body), status, "{platform}");
    }
}

#[test]
fn get_call_answers_that_do_not_say_name_the_field() {
    let cases = [
        (
            Platform::Vapi,
            json!({"id": "v", "status": "not-found"}),
            "status",
        ),
        (Platform::Retell, json!({"call_id": "r"}), "call_status"),
        (Platform::Bland, json!({"call_id": "b"}), "completed"),
        (
            Platform::ElevenLabs,
            json!({"status": "unheard-of"}),
            "status",
        ),
        (Platform::Vapi, json!([1, 2]), "body"),
    ];
    for (platform, body, field) in cases {
        let errors = read_lookup(platform, body.to_string().as_bytes()).unwrap_err();
        assert_eq!(errors.0[0].field, field, "{platform}: {errors:?}");
    }
    assert!(read_lookup(Platform::Bland, b"not json").is_err());
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    /// Get-call answers of any shape, with the fields the readers look at.
    fn answer() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| json!(n)),
            prop_oneof![
                Just("ended".to_owned()),
                Just("done".to_owned()),
                Just("failed".to_owned()),
                Just("not_connected".to_owned()),
                Just("no-answer".to_owned()),
                Just("queue_error".to_owned()),
                "[a-z_+0-9:. -]{0,12}",
            ]
            .prop_map(Value::String),
        ];
        leaf.prop_recursive(3, 24, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
                prop::collection::btree_map(
                    prop_oneof![
                        Just("status".to_owned()),
                        Just("call_status".to_owned()),
                        Just("queue_status".to_owned()),
                        Just("completed".to_owned()),
                        Just("endedReason".to_owned()),
                        Just("customer".to_owned()),
                        Just("number".to_owned()),
                        Just("metadata".to_owned()),
                        Just("call_id".to_owned()),
                        Just("id".to_owned()),
                        "[a-z_]{1,8}",
                    ],
                    inner,
                    0..6
                )
                .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn any_get_call_answer_reads_or_names_a_field_and_never_panics(
            body in answer(),
            platform in prop::sample::select(Platform::ALL.to_vec()),
        ) {
            match read_lookup(platform, body.to_string().as_bytes()) {
                Ok(Lookup::InProgress { status }) => prop_assert!(!status.is_empty()),
                Ok(Lookup::Ended(call)) => prop_assert_eq!(call.platform, platform),
                Err(errors) => prop_assert!(!errors.0.is_empty()),
            }
        }

        #[test]
        fn a_call_in_progress_waits_only_while_lookups_are_left(earlier in 0usize..8) {
            let mut call = placed();
            for _ in 0..earlier {
                call.record(later(), Status::Placed, Reason::CallInProgress, "ringing");
            }
            let step = settle_placed(&call, &in_progress(), WAIT, later());
            let waits = matches!(step, PlacedStep::Wait { .. });
            prop_assert_eq!(waits, earlier + 1 < MAX_IN_PROGRESS_LOOKUPS);
            let unknown = matches!(step, PlacedStep::Unknown { .. });
            prop_assert!(waits || unknown);
        }
    }
}
