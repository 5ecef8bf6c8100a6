//! Settings and webhook bodies several crates' tests start from: an account with
//! defaults, an agent and a campaign with every channel on (New York business hours),
//! and an answered call with consent for SMS and email.

use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

/// Tuesday 2030-01-15 15:00 UTC = 10:00 in New York: inside every window, so SMS and
/// emails decided now are due now.
pub fn tuesday_morning_in_new_york() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2030-01-15T15:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

pub fn account_json() -> Value {
    json!({
        "default_sender_name": "Acme Team",
        "default_meeting_link": "https://cal.example.com/acme",
        "default_time_zone": "America/New_York",
        "email_from_address": "followups@acme.example.com"
    })
}

pub fn agent_json() -> Value {
    json!({
        "allowed_hours": {"start": "09:00", "end": "18:00"},
        "allowed_days": ["mon", "tue", "wed", "thu", "fri"],
        "time_zone": "America/New_York",
        "calls": {"enabled": true, "when_to_schedule": "When asked to call back.", "instructions": "Offer a demo.", "max_retries": 2, "retry_interval_minutes": 60},
        "whatsapp": {"enabled": true, "when_to_schedule": "When they prefer WhatsApp.", "instructions": "Short.",
                     "template": {"name": "followup_v1", "language": "en_US", "parameters": ["{{contact_name}}"]}}
    })
}

pub fn campaign_json() -> Value {
    json!({
        "agent_id": "agent-1",
        "sms": {"enabled": true, "template": "meeting_request"},
        "email": {"enabled": true, "ask_for_email": true, "from_name": "Ana at Acme",
                  "subject": "Great talking, {{contact_name}}", "body": "Hi {{contact_name}},\n\n**Book** a slot: {{meeting_link}}"},
        "missed_call_email": {"enabled": true, "subject": "Sorry we missed you", "body": "Hi {{contact_name}}, pick a better time: {{meeting_link}}"}
    })
}

/// A realistic answered call with consent for SMS and email.
pub fn answered_call(call_id: &str, contact: &str, now: DateTime<Utc>) -> Value {
    json!({
        "type": "call.completed",
        "call": {"id": call_id, "agent_id": "agent-1", "campaign_id": "camp-1", "outcome": "completed",
                 "started_at": (now - Duration::minutes(5)).to_rfc3339(), "ended_at": now.to_rfc3339()},
        "contact": {"id": contact, "phone": "+14155552671", "email": "ana@example.com", "name": "Ana", "timezone": "America/New_York"},
        "analysis": {
            "summary": "Ana wants a demo next week.",
            "consent": {"sms": true, "email": true, "whatsapp": false},
            "sms_destination": {"number": "+14155552671", "confirmed": true},
            "email_address": {"address": "ana@example.com", "confirmed": true},
            "followup_requests": []
        }
    })
}
