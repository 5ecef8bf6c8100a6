//! Settings and webhook bodies: parse, don't validate. Every invalid field is reported,
//! named by its path.

mod common;

use common::*;
use policy::{
    AccountSettings, AgentSettings, CampaignSettings, EventTime, ValidationErrors, WebhookEvent,
    parse_event,
};
use serde_json::{Value, json};

fn fields(errors: &ValidationErrors) -> Vec<&str> {
    errors.errors().iter().map(|e| e.field.as_str()).collect()
}

#[test]
fn an_account_that_configured_nothing_gets_sensible_defaults() {
    let account = AccountSettings::from_json(&json!({})).unwrap();
    assert_eq!(account, AccountSettings::default());
    assert_eq!(account.default_time_zone.as_str(), "UTC");
    assert_eq!(
        (
            account.quiet_hours.start_str(),
            account.quiet_hours.end_str()
        ),
        ("08:00".into(), "21:00".into())
    );
}

#[test]
fn settings_serialize_back_to_the_shape_they_were_read_from() {
    let account = AccountSettings::from_json(&account_json()).unwrap();
    assert_eq!(
        AccountSettings::from_json(&serde_json::to_value(&account).unwrap()).unwrap(),
        account
    );
    let agent = AgentSettings::from_json(&agent_json()).unwrap();
    let agent_value = serde_json::to_value(&agent).unwrap();
    assert_eq!(
        agent_value["allowed_hours"],
        json!({"start": "08:00", "end": "20:00"})
    );
    assert_eq!(
        agent_value["whatsapp"]["template"]["parameters"],
        json!(["{{contact_name}}", "{{reason}}"])
    );
    assert_eq!(AgentSettings::from_json(&agent_value).unwrap(), agent);
    let campaign = CampaignSettings::from_json(&campaign_json()).unwrap();
    let campaign_value = serde_json::to_value(&campaign).unwrap();
    assert_eq!(
        campaign_value["email"]["subject"],
        "Great talking, {{contact_name}}"
    );
    assert_eq!(
        CampaignSettings::from_json(&campaign_value).unwrap(),
        campaign
    );
    // Deserialize validates too.
    assert!(serde_json::from_value::<CampaignSettings>(campaign_value).is_ok());
    assert!(
        serde_json::from_value::<AgentSettings>(
            json!({"allowed_hours": {"start": "9", "end": "8"}})
        )
        .is_err()
    );
}

#[test]
fn agent_settings_report_every_invalid_field_at_once() {
    let bad = json!({
        "allowed_hours": {"start": "20:00", "end": "08:00"},
        "allowed_days": [],
        "time_zone": "Mars/Olympus",
        "calls": {"enabled": "yes", "max_retries": 99, "retry_interval_minutes": 1},
        "whatsapp": {"template": {"name": "Bad Name", "language": "english", "parameters": ["{{nope}}", "a\nb"]}},
        "colour": "blue"
    });
    let errors = AgentSettings::from_json(&bad).unwrap_err();
    let mut got = fields(&errors);
    got.sort();
    assert_eq!(
        got,
        [
            "allowed_days",
            "allowed_hours.end",
            "calls.enabled",
            "calls.max_retries",
            "calls.retry_interval_minutes",
            "colour",
            "time_zone",
            "whatsapp.template.language",
            "whatsapp.template.name",
            "whatsapp.template.parameters[0]",
            "whatsapp.template.parameters[1]",
        ]
    );
    let missing = AgentSettings::from_json(&json!({})).unwrap_err();
    assert_eq!(fields(&missing), ["allowed_hours", "allowed_days"]);
}

#[test]
fn campaign_settings_check_templates_links_names_and_variables() {
    let bad = json!({
        "agent_id": "agent/1",
        "sms": {"enabled": true, "template": "free_text", "sender_name": "Ana\r\nBcc: x", "meeting_link": "http://cal.example.com"},
        "email": {"enabled": true, "subject": "Hi\nthere", "body": "Hello {{first_name}}"},
        "missed_call_email": {"enabled": true}
    });
    let errors = CampaignSettings::from_json(&bad).unwrap_err();
    let mut got = fields(&errors);
    got.sort();
    assert_eq!(
        got,
        [
            "agent_id",
            "email.body",
            "email.subject",
            "missed_call_email.body",
            "missed_call_email.subject",
            "sms.meeting_link",
            "sms.sender_name",
            "sms.template",
        ]
    );
    let unknown = errors
        .errors()
        .iter()
        .find(|e| e.field == "email.body")
        .unwrap();
    assert!(
        unknown.message.contains("{{first_name}}"),
        "{}",
        unknown.message
    );

    let needs_template =
        CampaignSettings::from_json(&json!({"sms": {"enabled": true}})).unwrap_err();
    assert_eq!(fields(&needs_template), ["sms.template"]);
    let offer =
        CampaignSettings::from_json(&json!({"sms": {"enabled": true, "template": "offer_promo"}}))
            .unwrap_err();
    assert_eq!(fields(&offer), ["sms.offer_summary", "sms.promo_code"]);
    assert!(CampaignSettings::from_json(&json!({"sms": {"enabled": false}})).is_ok());
}

#[test]
fn account_settings_reject_unknown_fields_and_wrong_types() {
    let errors = AccountSettings::from_json(&json!({
        "default_meeting_link": 42,
        "email_from_address": "not-an-address",
        "sms_origination_number": "555-1234",
        "quiet_hours": {"start": "08:00"},
        "secret": "x"
    }))
    .unwrap_err();
    let mut got = fields(&errors);
    got.sort();
    assert_eq!(
        got,
        [
            "default_meeting_link",
            "email_from_address",
            "quiet_hours.end",
            "secret",
            "sms_origination_number"
        ]
    );
    assert_eq!(
        fields(&AccountSettings::from_json(&json!([])).unwrap_err()),
        ["body"]
    );
}

#[test]
fn a_call_completed_body_parses_into_valid_values() {
    let event = event(with(
        event_json(),
        "/analysis/followup_requests",
        json!([{"channel": "call", "at": "2024-05-16T10:00", "reason": "demo"}, {"channel": "whatsapp", "at": "2024-05-16T10:00:00+02:00"}]),
    ));
    assert_eq!(event.call.outcome, policy::CallOutcome::Completed);
    assert_eq!(
        event.contact.phone.as_ref().unwrap().as_str(),
        "+14155552671"
    );
    assert!(event.analysis.consent.sms);
    assert!(matches!(
        event.analysis.followup_requests[0].at,
        Some(EventTime::Local(_))
    ));
    assert!(matches!(
        event.analysis.followup_requests[1].at,
        Some(EventTime::Instant(_))
    ));
    assert_eq!(event.followup_id(), None);
}

#[test]
fn other_event_types_are_ignored() {
    let parsed = parse_event(br#"{"type": "call.started", "anything": 1}"#).unwrap();
    assert_eq!(
        parsed,
        WebhookEvent::Ignored {
            event_type: "call.started".into()
        }
    );
}

#[test]
fn malformed_json_is_one_error_on_body() {
    for body in [&b"{"[..], b"", b"\xff\xfe", b"not json"] {
        let errors = parse_event(body).unwrap_err();
        assert_eq!(fields(&errors), ["body"]);
    }
    assert_eq!(fields(&parse_event(b"[1]").unwrap_err()), ["body"]);
    assert_eq!(fields(&parse_event(b"{}").unwrap_err()), ["type"]);
}

#[test]
fn a_bad_call_completed_body_reports_every_field() {
    let body = json!({
        "type": "call.completed",
        "call": {"id": "call 1", "agent_id": "agent-1", "outcome": "hung_up", "started_at": "2024-05-14T15:00:00Z", "ended_at": "yesterday"},
        "contact": {"id": "c-1", "phone": "+1 415 555 2671", "email": "ana@", "timezone": "Nowhere/City"},
        "analysis": {
            "consent": {"sms": "yes"},
            "sms_destination": {"number": "12345", "confirmed": true},
            "followup_requests": [{"channel": "sms"}, {"channel": "call", "at": "next tuesday"}]
        }
    });
    let errors = parse_event(body.to_string().as_bytes()).unwrap_err();
    let mut got = fields(&errors);
    got.sort();
    assert_eq!(
        got,
        [
            "analysis.consent.sms",
            "analysis.followup_requests[0].channel",
            "analysis.followup_requests[1].at",
            "analysis.sms_destination.number",
            "call.campaign_id",
            "call.ended_at",
            "call.id",
            "call.outcome",
            "contact.email",
            "contact.phone",
        ]
    );
}

#[test]
fn an_invalid_contact_timezone_is_no_reason_to_refuse_the_call() {
    for (raw, kept) in [
        (json!("Nowhere/City"), Some("Nowhere/City")),
        (json!(42), Some("42")),
        (json!("   "), None),
        (json!("Europe/Madrid"), None),
    ] {
        let body = with(event_json(), "/contact/timezone", raw.clone());
        let WebhookEvent::CallCompleted(event) = parse_event(body.to_string().as_bytes()).unwrap()
        else {
            panic!("not a call.completed")
        };
        assert_eq!(event.contact.invalid_timezone.as_deref(), kept, "{raw}");
        assert_eq!(
            event.contact.timezone.is_some(),
            raw == json!("Europe/Madrid"),
            "{raw}"
        );
    }
}

#[test]
fn validation_errors_serialize_as_a_list_of_fields_and_messages() {
    let errors = parse_event(b"{}").unwrap_err();
    let value: Value = serde_json::to_value(&errors).unwrap();
    assert_eq!(value, json!([{"field": "type", "message": "is required"}]));
    assert!(errors.to_string().contains("type: is required"));
}

#[test]
fn stored_numbers_are_read_back_by_shape_while_input_is_checked_against_the_plan() {
    use policy::{Destination, PhoneNumber};
    // +1 555 01xx is E.164-shaped but not a valid North American number.
    assert!(PhoneNumber::parse("phone", "+15550100123").is_err());
    let stored: Destination = serde_json::from_value(serde_json::json!("+15550100123")).unwrap();
    assert_eq!(stored.as_str(), "+15550100123");
    for bad in [
        "15550100123",
        "+0123456789",
        "+12",
        "+1555abc0123",
        "+1234567890123456",
    ] {
        assert!(
            serde_json::from_value::<PhoneNumber>(serde_json::json!(bad)).is_err(),
            "{bad}"
        );
    }
}
