//! How many decisions per second the policy makes for a realistic answered call: SMS,
//! email and a follow-up call and WhatsApp request, in the contact's zone.

use chrono::{DateTime, Utc};
use criterion::{Criterion, black_box, criterion_group, criterion_main};
use policy::{
    AccountId, AccountSettings, AgentSettings, CampaignSettings, History, Settings, WebhookEvent,
    decide, parse_event,
};
use serde_json::json;

fn settings() -> Settings {
    Settings {
        account_id: AccountId::parse("account_id", "acct-1").expect("id"),
        account: AccountSettings::from_json(&json!({
            "default_sender_name": "Acme Team",
            "default_meeting_link": "https://cal.example.com/acme",
            "default_time_zone": "America/New_York"
        }))
        .expect("account"),
        agent: Some(
            AgentSettings::from_json(&json!({
                "allowed_hours": {"start": "08:00", "end": "20:00"},
                "allowed_days": ["mon", "tue", "wed", "thu", "fri", "sat"],
                "calls": {"enabled": true, "instructions": "Book a demo.", "max_retries": 3, "retry_interval_minutes": 60},
                "whatsapp": {"enabled": true, "template": {"name": "followup_v1", "language": "en_US", "parameters": ["{{contact_name}}"]}}
            }))
            .expect("agent"),
        ),
        campaign: Some(
            CampaignSettings::from_json(&json!({
                "sms": {"enabled": true, "template": "conversation_summary"},
                "email": {"enabled": true, "ask_for_email": true, "subject": "Thanks, {{contact_name}}", "body": "Hi {{contact_name}},\n\n{{summary}}\n\n[Book]({{meeting_link}})"},
                "missed_call_email": {"enabled": true, "subject": "We missed you", "body": "Call us back."}
            }))
            .expect("campaign"),
        ),
    }
}

fn body() -> Vec<u8> {
    json!({
        "type": "call.completed",
        "call": {"id": "call-1", "agent_id": "agent-1", "campaign_id": "camp-1", "outcome": "completed",
                 "started_at": "2024-05-14T14:50:00Z", "ended_at": "2024-05-14T14:59:30Z"},
        "contact": {"id": "contact-1", "phone": "+14155552671", "email": "ana@example.com", "name": "Ana",
                    "timezone": "America/Los_Angeles"},
        "analysis": {
            "summary": "Ana runs a 40-person clinic and wants a demo of scheduling next week.",
            "consent": {"sms": true, "email": true, "whatsapp": true},
            "sms_destination": {"number": "+14155552671", "confirmed": true},
            "email_address": {"address": "ana@example.com", "confirmed": true},
            "followup_requests": [
                {"channel": "call", "at": "2024-05-20T09:30", "reason": "demo with the owner"},
                {"channel": "whatsapp", "reason": "send the brochure"}
            ]
        }
    })
    .to_string()
    .into_bytes()
}

fn bench_decide(c: &mut Criterion) {
    let settings = settings();
    let body = body();
    let Ok(WebhookEvent::CallCompleted(event)) = parse_event(&body) else {
        panic!("the benchmark body must parse");
    };
    let history = History::default();
    let now: DateTime<Utc> = "2024-05-14T15:00:00Z".parse().expect("instant");
    c.bench_function("decide/answered_call", |b| {
        b.iter(|| {
            decide(
                black_box(&settings),
                black_box(&event),
                black_box(&history),
                now,
            )
        })
    });
    c.bench_function("parse_event_and_decide/answered_call", |b| {
        b.iter(|| match parse_event(black_box(&body)) {
            Ok(WebhookEvent::CallCompleted(event)) => {
                decide(&settings, &event, &history, now).len()
            }
            _ => 0,
        })
    });
}

criterion_group!(benches, bench_decide);
criterion_main!(benches);
