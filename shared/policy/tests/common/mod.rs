//! Fixtures shared by the integration tests: a realistic account, agent, campaign and
//! answered call, built from JSON so the tests also exercise the parsers.
#![allow(dead_code)]

use chrono::{DateTime, Utc};
use policy::{
    AccountId, AccountSettings, AgentSettings, CallCompleted, CampaignSettings, Channel, Decision,
    Decisions, History, NewFollowUp, Settings, WebhookEvent, decide, parse_event,
};
use serde_json::{Value, json};

pub fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// Tuesday 14 May 2024, 11:00 in New York.
pub fn now() -> DateTime<Utc> {
    utc("2024-05-14T15:00:00Z")
}

pub fn account_json() -> Value {
    json!({
        "default_sender_name": "Acme Team",
        "default_meeting_link": "https://cal.example.com/acme",
        "default_time_zone": "America/New_York",
        "quiet_hours": {"start": "08:00", "end": "21:00"},
        "sms_sender_id": "Acme",
        "email_from_address": "followups@acme.example.com"
    })
}

pub fn agent_json() -> Value {
    json!({
        "allowed_hours": {"start": "08:00", "end": "20:00"},
        "allowed_days": ["mon", "tue", "wed", "thu", "fri", "sat"],
        "time_zone": "America/Chicago",
        "calls": {
            "enabled": true,
            "when_to_schedule": "When the contact asks to be called back.",
            "instructions": "Remind them of the offer and book a demo.",
            "max_retries": 2,
            "retry_interval_minutes": 60
        },
        "whatsapp": {
            "enabled": true,
            "when_to_schedule": "When the contact prefers WhatsApp.",
            "instructions": "Friendly and short.",
            "template": {"name": "followup_v1", "language": "en_US", "parameters": ["{{contact_name}}", "{{reason}}"]}
        }
    })
}

pub fn campaign_json() -> Value {
    json!({
        "agent_id": "agent-1",
        "sms": {"enabled": true, "template": "meeting_request"},
        "email": {
            "enabled": true,
            "ask_for_email": true,
            "from_name": "Ana at Acme",
            "subject": "Great talking, {{contact_name}}",
            "body": "Hi {{contact_name}},\n\nThanks for your time. **Book** a slot: {{meeting_link}}\n\n- one\n- two\n"
        },
        "missed_call_email": {
            "enabled": true,
            "subject": "Sorry we missed you",
            "body": "Hi {{contact_name}}, we tried to call you. Pick a better time: {{meeting_link}}"
        }
    })
}

pub fn settings_from(account: Value, agent: Option<Value>, campaign: Option<Value>) -> Settings {
    Settings {
        account_id: AccountId::parse("account_id", "acct-1").unwrap(),
        account: AccountSettings::from_json(&account).unwrap(),
        agent: agent.map(|a| AgentSettings::from_json(&a).unwrap()),
        campaign: campaign.map(|c| CampaignSettings::from_json(&c).unwrap()),
    }
}

pub fn settings() -> Settings {
    settings_from(account_json(), Some(agent_json()), Some(campaign_json()))
}

/// An answered call where the contact agreed to everything and confirmed everything.
pub fn event_json() -> Value {
    json!({
        "type": "call.completed",
        "call": {
            "id": "call-1",
            "agent_id": "agent-1",
            "campaign_id": "camp-1",
            "outcome": "completed",
            "started_at": "2024-05-14T14:50:00Z",
            "ended_at": "2024-05-14T14:59:30Z"
        },
        "contact": {
            "id": "contact-1",
            "phone": "+14155552671",
            "email": "ana@example.com",
            "name": "Ana",
            "timezone": "America/New_York",
            "locale": "en-US"
        },
        "analysis": {
            "summary": "Ana wants a demo next week.",
            "consent": {"sms": true, "email": true, "whatsapp": true},
            "sms_destination": {"number": "+14155552671", "confirmed": true},
            "email_address": {"address": "ana@example.com", "confirmed": true},
            "followup_requests": []
        }
    })
}

/// Sets the value at a JSON pointer (creating objects on the way); `null` removes.
pub fn with(mut value: Value, pointer: &str, new: Value) -> Value {
    let mut target = &mut value;
    for key in pointer.trim_start_matches('/').split('/') {
        if !target.is_object() {
            *target = json!({});
        }
        target = target
            .as_object_mut()
            .unwrap()
            .entry(key.to_owned())
            .or_insert(Value::Null);
    }
    *target = new;
    value
}

pub fn event(value: Value) -> CallCompleted {
    match parse_event(value.to_string().as_bytes()).unwrap() {
        WebhookEvent::CallCompleted(event) => event,
        other => panic!("not a call: {other:?}"),
    }
}

pub fn decide_now(settings: &Settings, event_value: Value) -> Decisions {
    decide(settings, &event(event_value), &History::default(), now())
}

/// The follow-up call an agent asked for ("wants a demo"), stored at `now()` as
/// `fu-call`.
pub fn requested_call() -> policy::FollowUp {
    let event = with(
        event_json(),
        "/analysis/followup_requests",
        json!([{"channel": "call", "at": null, "reason": "wants a demo"}]),
    );
    let decisions = decide_now(&settings(), event);
    let id = policy::FollowUpId::parse("followup_id", "fu-call").unwrap();
    created(&decisions, Channel::Call).into_followup(id, now())
}

/// The new follow-up of `channel` (panics when there is none or several).
pub fn created(decisions: &Decisions, channel: Channel) -> NewFollowUp {
    let found: Vec<_> = decisions
        .created()
        .filter(|f| f.channel == channel)
        .collect();
    assert_eq!(
        found.len(),
        1,
        "expected one {channel} follow-up in {decisions:#?}"
    );
    found[0].clone()
}

pub fn has_channel(decisions: &Decisions, channel: Channel) -> bool {
    decisions
        .iter()
        .any(|d| matches!(d, Decision::Create(f) if f.channel == channel))
}
