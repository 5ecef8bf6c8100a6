//! Native end-of-call bodies of Vapi, Retell, Bland and ElevenLabs read into the neutral
//! `call.completed`: outcomes per the reference tables, which events are final, the
//! idempotency key, the analysis mapping and its overrides, and the errors naming the
//! platform's own fields. Fixtures are shaped per each platform's public docs.

use chrono::{DateTime, TimeZone, Utc};
use policy::platform::{
    self, AnalysisMapping, Mapped, MappingOverrides, Native, NativeCall, Platform, bland,
    elevenlabs, retell, vapi,
};
use policy::{CallOutcome, Channel};
use serde_json::{Value, json};

fn fixture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/tests/fixtures/platforms/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn received() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 3, 12, 0, 0).unwrap()
}

fn native(platform: Platform, body: &[u8]) -> NativeCall {
    match platform::read(platform, body).expect("reads") {
        Native::Final(call) => call,
        Native::Ignored { event_type } => panic!("ignored {event_type}"),
    }
}

fn map(platform: Platform, name: &str) -> Mapped {
    native(platform, &fixture(name))
        .to_call_completed(&AnalysisMapping::default(), received())
        .expect("maps")
}

fn edit(name: &str, change: impl FnOnce(&mut Value)) -> Vec<u8> {
    let mut value: Value = serde_json::from_slice(&fixture(name)).unwrap();
    change(&mut value);
    serde_json::to_vec(&value).unwrap()
}

#[test]
fn vapi_end_reasons_map_per_the_reference_table() {
    use CallOutcome::*;
    let table = [
        ("customer-ended-call", Some(Completed)),
        ("assistant-said-end-call-phrase", Some(Completed)),
        ("exceeded-max-duration", Some(Completed)),
        ("silence-timed-out", Some(Completed)),
        ("customer-did-not-answer", Some(NoAnswer)),
        (
            "call.in-progress.error-providerfault-outbound-sip-480-temporarily-unavailable",
            Some(NoAnswer),
        ),
        ("customer-busy", Some(Busy)),
        ("voicemail", Some(Voicemail)),
        ("twilio-reported-customer-misdialed", Some(InvalidNumber)),
        ("vonage-rejected", Some(Declined)),
        ("twilio-failed-to-connect-call", Some(Failed)),
        (
            "call.start.error-subscription-concurrency-limit-reached",
            Some(Failed),
        ),
        ("pipeline-error-openai-llm-failed", Some(Failed)),
        ("hangup", None),
        ("", None),
    ];
    for (reason, expected) in table {
        assert_eq!(vapi::outcome(reason), expected, "{reason}");
    }
}

#[test]
fn retell_disconnection_reasons_map_per_the_reference_table() {
    use CallOutcome::*;
    let table = [
        ("user_hangup", Some(Completed)),
        ("agent_hangup", Some(Completed)),
        ("call_transfer", Some(Completed)),
        ("inactivity", Some(Completed)),
        ("voicemail_reached", Some(Voicemail)),
        ("ivr_reached", Some(Voicemail)),
        ("dial_no_answer", Some(NoAnswer)),
        ("dial_busy", Some(Busy)),
        ("user_declined", Some(Declined)),
        ("invalid_destination", Some(InvalidNumber)),
        ("dial_failed", Some(Failed)),
        ("marked_as_spam", Some(Failed)),
        ("error_llm_websocket_open", Some(Failed)),
        ("something_new", None),
    ];
    for (reason, expected) in table {
        assert_eq!(retell::outcome(reason), expected, "{reason}");
    }
}

#[test]
fn bland_status_and_answered_by_map_per_the_reference() {
    use CallOutcome::*;
    let table = [
        (
            Some("completed"),
            Some("human"),
            Some(true),
            Some(Completed),
        ),
        (
            Some("completed"),
            Some("unknown"),
            Some(true),
            Some(Completed),
        ),
        (Some("completed"), None, Some(true), Some(Completed)),
        (None, None, Some(true), Some(Completed)),
        (
            Some("completed"),
            Some("voicemail"),
            Some(true),
            Some(Voicemail),
        ),
        (Some("busy"), None, Some(true), Some(Busy)),
        (Some("no-answer"), None, Some(true), Some(NoAnswer)),
        (
            Some("completed"),
            Some("no-answer"),
            Some(true),
            Some(NoAnswer),
        ),
        (Some("failed"), None, Some(false), Some(Failed)),
        (Some("canceled"), None, Some(false), Some(Failed)),
        (Some("queued"), None, Some(false), None),
        (None, None, None, None),
    ];
    for (status, answered_by, completed, expected) in table {
        assert_eq!(
            bland::outcome(status, answered_by, completed),
            expected,
            "{status:?} {answered_by:?}"
        );
    }
}

#[test]
fn elevenlabs_outcomes_come_from_the_event_and_its_failure_reason() {
    use CallOutcome::*;
    assert_eq!(elevenlabs::failure_outcome("busy"), Some(Busy));
    assert_eq!(elevenlabs::failure_outcome("no-answer"), Some(NoAnswer));
    assert_eq!(elevenlabs::failure_outcome("unknown"), Some(Failed));
    assert_eq!(elevenlabs::failure_outcome("carrier-exploded"), None);
    assert_eq!(elevenlabs::conversation_outcome(None), Completed);
    assert_eq!(
        elevenlabs::conversation_outcome(Some("Voicemail detected")),
        Voicemail
    );
    assert_eq!(
        elevenlabs::conversation_outcome(Some("Call ended by remote party")),
        Completed
    );
}

#[test]
fn an_unknown_end_reason_is_failed_and_its_raw_value_reaches_the_trace_text() {
    let body = edit("vapi_end_of_call_report", |v| {
        v["message"]["endedReason"] = json!("brand-new-reason")
    });
    let mapped = native(Platform::Vapi, &body)
        .to_call_completed(&AnalysisMapping::default(), received())
        .unwrap();
    assert_eq!(mapped.event.call.outcome, CallOutcome::Failed);
    assert_eq!(
        mapped.event.call.outcome_description(),
        "failed (vapi endedReason brand-new-reason, not a known value)"
    );
}

#[test]
fn a_vapi_report_maps_identity_outcome_and_analysis() {
    let mapped = map(Platform::Vapi, "vapi_end_of_call_report");
    let event = &mapped.event;
    assert_eq!(
        mapped.idempotency_key,
        "vapi:3f5c6a1e-1b2c-4d3e-8f90-123456789abc"
    );
    assert_eq!(event.call.agent_id.as_str(), "asst_sales");
    assert_eq!(event.call.campaign_id.as_str(), "spring");
    assert_eq!(event.call.outcome, CallOutcome::Completed);
    assert_eq!(event.call.followup_id, None);
    assert_eq!(
        event.call.ended_at,
        Utc.with_ymd_and_hms(2026, 1, 1, 19, 0, 0).unwrap()
    );
    assert_eq!(event.contact.id.as_str(), "c_42");
    assert_eq!(
        event.contact.phone.as_ref().unwrap().as_str(),
        "+14155550123"
    );
    assert_eq!(event.contact.name.as_deref(), Some("Ada Lovelace"));
    let analysis = &event.analysis;
    assert!(
        analysis
            .summary
            .as_deref()
            .unwrap()
            .starts_with("The customer wants")
    );
    assert!(analysis.consent.sms && !analysis.consent.email);
    let sms = analysis.sms_destination.as_ref().unwrap();
    assert!(sms.confirmed);
    assert_eq!(sms.number.as_str(), "+14155550123");
    assert_eq!(analysis.followup_requests.len(), 1);
    assert_eq!(analysis.followup_requests[0].channel, Channel::Call);
    assert_eq!(
        analysis.followup_requests[0].reason.as_deref(),
        Some("asked to be called back tomorrow morning")
    );
    // From a structured output, by its name.
    assert!(analysis.appointment.is_some());
    assert!(mapped.ignored.is_empty());
}

#[test]
fn a_follow_up_call_carries_our_metadata_back() {
    for (platform, name) in [
        (Platform::Vapi, "vapi_no_answer_followup"),
        (Platform::Retell, "retell_call_ended_no_answer"),
        (Platform::Bland, "bland_no_answer"),
        (Platform::ElevenLabs, "elevenlabs_call_initiation_failure"),
    ] {
        let event = map(platform, name).event;
        assert_eq!(event.call.outcome, CallOutcome::NoAnswer, "{name}");
        assert_eq!(
            event.call.followup_id.as_ref().map(|f| f.as_str()),
            Some("fu_0001"),
            "{name}"
        );
        assert_eq!(event.call.campaign_id.as_str(), "spring", "{name}");
        assert!(event.call.agent_id.as_str().starts_with("agent_"), "{name}");
        assert_eq!(
            event.contact.phone.as_ref().unwrap().as_str(),
            "+14155550123",
            "{name}"
        );
    }
}

#[test]
fn retell_decides_on_call_analyzed_or_on_call_ended_of_a_call_that_never_connected() {
    let analyzed = map(Platform::Retell, "retell_call_analyzed");
    assert_eq!(
        analyzed.idempotency_key,
        "retell:Jabr9TXYYJHfvl6Syypi88rdAHYHmcq6"
    );
    assert_eq!(analyzed.event.call.outcome, CallOutcome::Completed);
    assert!(analyzed.event.analysis.appointment.is_some());
    let email = analyzed.event.analysis.email_address.as_ref().unwrap();
    assert!(email.confirmed);
    assert!(analyzed.event.analysis.consent.email);

    assert_eq!(
        platform::read(Platform::Retell, &fixture("retell_call_ended_connected")),
        Ok(Native::Ignored {
            event_type: "call_ended".into()
        })
    );
    let not_connected = map(Platform::Retell, "retell_call_ended_no_answer");
    assert_eq!(not_connected.idempotency_key, "retell:Kc8dLmNoPqRsTuVw");
    // The later call_analyzed of that call shares the key, so it changes nothing.
    let later = edit("retell_call_ended_no_answer", |v| {
        v["event"] = json!("call_analyzed")
    });
    let later = native(Platform::Retell, &later)
        .to_call_completed(&AnalysisMapping::default(), received())
        .unwrap();
    assert_eq!(later.idempotency_key, not_connected.idempotency_key);
    for event in ["call_started", "transcript_updated", "transfer_started"] {
        let body = edit("retell_call_analyzed", |v| v["event"] = json!(event));
        assert!(matches!(
            platform::read(Platform::Retell, &body),
            Ok(Native::Ignored { .. })
        ));
    }
}

#[test]
fn retell_in_voicemail_overrides_the_disconnection_reason() {
    let body = edit("retell_call_analyzed", |v| {
        v["call"]["call_analysis"]["in_voicemail"] = json!(true)
    });
    let mapped = native(Platform::Retell, &body)
        .to_call_completed(&AnalysisMapping::default(), received())
        .unwrap();
    assert_eq!(mapped.event.call.outcome, CallOutcome::Voicemail);
}

#[test]
fn bland_second_delayed_webhook_has_the_same_key() {
    let first = map(Platform::Bland, "bland_post_call");
    let second = edit("bland_post_call", |v| {
        v["corrected_transcript"] = json!("user: hi");
        v["citations"] = json!([]);
    });
    let second = native(Platform::Bland, &second)
        .to_call_completed(&AnalysisMapping::default(), received())
        .unwrap();
    assert_eq!(first.idempotency_key, second.idempotency_key);
    assert_eq!(first.event.call.agent_id.as_str(), "agent_b");
    assert!(first.event.analysis.consent.whatsapp);
    assert_eq!(
        first.event.analysis.followup_requests[0].channel,
        Channel::Whatsapp
    );
    let live = json!({"category": "queue", "message": "queued", "call_id": null});
    assert!(matches!(
        platform::read(Platform::Bland, live.to_string().as_bytes()),
        Ok(Native::Ignored { .. })
    ));
}

#[test]
fn elevenlabs_reads_data_collection_values_and_ignores_audio() {
    let mapped = map(Platform::ElevenLabs, "elevenlabs_post_call_transcription");
    assert_eq!(mapped.idempotency_key, "elevenlabs:conv_01jxk1wqpz");
    let event = &mapped.event;
    assert_eq!(event.call.outcome, CallOutcome::Completed);
    assert_eq!(event.contact.id.as_str(), "c_9");
    assert_eq!(
        event.call.ended_at,
        Utc.timestamp_opt(1_767_294_000, 0).unwrap()
    );
    assert!(event.analysis.consent.sms);
    assert_eq!(
        event
            .analysis
            .sms_destination
            .as_ref()
            .unwrap()
            .number
            .as_str(),
        "+14155550199"
    );
    let audio =
        json!({"type": "post_call_audio", "data": {"conversation_id": "c", "full_audio": "AAAA"}});
    assert_eq!(
        platform::read(Platform::ElevenLabs, audio.to_string().as_bytes()),
        Ok(Native::Ignored {
            event_type: "post_call_audio".into()
        })
    );
}

#[test]
fn non_final_vapi_messages_are_ignored() {
    assert_eq!(
        platform::read(Platform::Vapi, &fixture("vapi_status_update")),
        Ok(Native::Ignored {
            event_type: "status-update".into()
        })
    );
}

#[test]
fn a_missing_contact_number_or_call_id_is_an_error_naming_the_platforms_field() {
    let cases: [(Platform, &str, &[&str], &str); 4] = [
        (
            Platform::Vapi,
            "vapi_end_of_call_report",
            &["message.customer.number", "message.call.customer.number"],
            "message.customer.number",
        ),
        (
            Platform::Retell,
            "retell_call_analyzed",
            &["call.to_number"],
            "call.to_number",
        ),
        (Platform::Bland, "bland_post_call", &["to"], "to"),
        (
            Platform::ElevenLabs,
            "elevenlabs_post_call_transcription",
            &["data.metadata.phone_call.external_number"],
            "data.metadata.phone_call.external_number",
        ),
    ];
    for (platform, name, remove, field) in cases {
        let body = edit(name, |v| {
            for path in remove {
                let (parent, key) = path.rsplit_once('.').unwrap_or(("", path));
                let pointer = format!("/{}", parent.replace('.', "/"));
                let node = if parent.is_empty() {
                    Some(&mut *v)
                } else {
                    v.pointer_mut(&pointer)
                };
                if let Some(Value::Object(map)) = node {
                    map.remove(key);
                }
            }
        });
        let errors = native(platform, &body)
            .to_call_completed(&AnalysisMapping::default(), received())
            .unwrap_err();
        assert!(errors.has_field(field), "{name}: {errors:?}");
    }
    let body = edit("retell_call_analyzed", |v| {
        v["call"].as_object_mut().unwrap().remove("call_id");
    });
    let errors = native(Platform::Retell, &body)
        .to_call_completed(&AnalysisMapping::default(), received())
        .unwrap_err();
    assert!(errors.has_field("call.call_id"), "{errors:?}");
    let body = edit("vapi_end_of_call_report", |v| {
        v["message"]["customer"]["number"] = json!("not a number");
        v["message"]["call"]["customer"]["number"] = json!("not a number");
    });
    let errors = native(Platform::Vapi, &body)
        .to_call_completed(&AnalysisMapping::default(), received())
        .unwrap_err();
    assert!(errors.has_field("message.customer.number"), "{errors:?}");
}

#[test]
fn malformed_bodies_are_errors_on_their_envelope() {
    assert!(
        platform::read(Platform::Vapi, b"{")
            .unwrap_err()
            .has_field("body")
    );
    assert!(
        platform::read(Platform::Vapi, b"[]")
            .unwrap_err()
            .has_field("body")
    );
    assert!(
        platform::read(Platform::Vapi, b"{}")
            .unwrap_err()
            .has_field("message")
    );
    assert!(
        platform::read(Platform::Retell, b"{}")
            .unwrap_err()
            .has_field("event")
    );
    assert!(
        platform::read(Platform::ElevenLabs, b"{}")
            .unwrap_err()
            .has_field("type")
    );
    let no_data = br#"{"type":"post_call_transcription"}"#;
    assert!(
        platform::read(Platform::ElevenLabs, no_data)
            .unwrap_err()
            .has_field("data")
    );
}

#[test]
fn analysis_values_that_do_not_read_are_dropped_and_reported() {
    let body = edit("vapi_end_of_call_report", |v| {
        v["message"]["analysis"]["structuredData"]["consent_sms"] = json!("maybe");
        v["message"]["analysis"]["structuredData"]["sms_number"] = json!("call me");
    });
    let mapped = native(Platform::Vapi, &body)
        .to_call_completed(&AnalysisMapping::default(), received())
        .unwrap();
    assert!(mapped.event.analysis.sms_destination.is_none());
    let fields: Vec<&str> = mapped.ignored.iter().map(|e| e.field.as_str()).collect();
    assert!(
        fields.contains(&"message.analysis.structuredData.sms_number.number"),
        "{fields:?}"
    );
    assert!(
        fields.contains(&"message.analysis.structuredData.consent_sms"),
        "{fields:?}"
    );
    // The rest of the analysis still counts.
    assert_eq!(mapped.event.analysis.followup_requests.len(), 1);
}

#[test]
fn the_mapping_is_overridden_by_the_account_then_the_agent() {
    let body = edit("retell_call_analyzed", |v| {
        let data = &mut v["call"]["call_analysis"]["custom_analysis_data"];
        data["texting_ok"] = json!(true);
        data["nested"] = json!({"ok_to_email": false});
        data["recap"] = json!("Custom recap.");
    });
    let account: MappingOverrides = MappingOverrides::from_json(
        &json!({"consent_sms": "texting_ok", "consent_email": "nested.ok_to_email"}),
    )
    .unwrap();
    let agent: MappingOverrides =
        MappingOverrides::from_json(&json!({"summary": "recap"})).unwrap();
    let mapping = AnalysisMapping::resolve(Some(&account), Some(&agent));
    let event = native(Platform::Retell, &body)
        .to_call_completed(&mapping, received())
        .unwrap()
        .event;
    assert!(event.analysis.consent.sms);
    assert!(!event.analysis.consent.email);
    assert_eq!(event.analysis.summary.as_deref(), Some("Custom recap."));
    let agent_wins = AnalysisMapping::resolve(
        Some(&account),
        Some(&MappingOverrides::from_json(&json!({"consent_sms": "absent"})).unwrap()),
    );
    assert_eq!(agent_wins.consent_sms, "absent");
    assert!(MappingOverrides::from_json(&json!({"unknown": "x"})).is_err());
    assert!(MappingOverrides::from_json(&json!({"summary": "a..b"})).is_err());
}

#[test]
fn an_end_time_that_is_absent_is_the_reception_time() {
    let body = edit("retell_call_ended_no_answer", |v| {
        v["call"]["end_timestamp"] = json!(i64::MAX);
    });
    let event = native(Platform::Retell, &body)
        .to_call_completed(&AnalysisMapping::default(), received())
        .unwrap()
        .event;
    assert_eq!(event.call.ended_at, received());
}

mod never_panics {
    use super::*;
    use proptest::prelude::*;

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| json!(n)),
            any::<f64>().prop_map(|n| json!(n)),
            "[a-z_+0-9:. -]{0,12}".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 32, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map(
                    prop_oneof![
                        Just("message".to_owned()),
                        Just("call".to_owned()),
                        Just("data".to_owned()),
                        Just("type".to_owned()),
                        Just("event".to_owned()),
                        Just("metadata".to_owned()),
                        Just("end_timestamp".to_owned()),
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
        fn any_json_reads_or_errors_without_panicking(value in json_value()) {
            let body = value.to_string();
            for platform in Platform::ALL {
                if let Ok(Native::Final(call)) = platform::read(platform, body.as_bytes()) {
                    let _ = call.to_call_completed(&AnalysisMapping::default(), received());
                }
            }
        }

        #[test]
        fn fixtures_with_one_value_replaced_never_panic(value in json_value(), index in 0usize..40) {
            for (platform, name) in [
                (Platform::Vapi, "vapi_end_of_call_report"),
                (Platform::Retell, "retell_call_analyzed"),
                (Platform::Bland, "bland_post_call"),
                (Platform::ElevenLabs, "elevenlabs_post_call_transcription"),
            ] {
                let mut doc: Value = serde_json::from_slice(&fixture(name)).unwrap();
                replace_nth(&mut doc, index, value.clone(), &mut 0);
                if let Ok(Native::Final(call)) = platform::read(platform, doc.to_string().as_bytes()) {
                    let _ = call.to_call_completed(&AnalysisMapping::default(), received());
                }
            }
        }
    }

    fn replace_nth(node: &mut Value, target: usize, with: Value, seen: &mut usize) -> bool {
        if *seen == target {
            *node = with;
            return true;
        }
        *seen += 1;
        match node {
            Value::Object(map) => map
                .values_mut()
                .any(|child| replace_nth(child, target, with.clone(), seen)),
            Value::Array(items) => items
                .iter_mut()
                .any(|child| replace_nth(child, target, with.clone(), seen)),
            _ => false,
        }
    }
}
