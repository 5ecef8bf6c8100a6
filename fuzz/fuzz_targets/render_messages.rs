//! Message rendering with hostile texts everywhere a value can come from: the call
//! (contact name, summary, appointment location) and the operator (email subject and
//! body templates, sender name, meeting link, offer summary, promo code). The input is
//! those fields separated by 0x1F, then a byte choosing the SMS template and the
//! call's outcome. Whatever the settings validation accepts must render safely:
//! - an SMS within `MAX_SEGMENTS`, counted right, ending with the opt-out wording,
//!   without CR;
//! - an email whose HTML has only Markdown's tags, no script, no event handler, no
//!   link other than http(s)/mailto, and whose subject and From name are one clean line.

#![no_main]

use libfuzzer_sys::fuzz_target;
use policy::{Channel, Decision, FollowUpId, History, Status, WebhookEvent};
use serde_json::json;

#[path = "common.rs"]
mod common;

const TEMPLATES: [&str; 5] = [
    "meeting_request",
    "next_step",
    "appointment_confirmation",
    "conversation_summary",
    "offer_promo",
];

fuzz_target!(|data: &[u8]| {
    let mut parts = data.split(|b| *b == 0x1F);
    let mut next = || String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
    let (name, summary, subject, body) = (next(), next(), next(), next());
    let (sender, link, location, offer, code) = (next(), next(), next(), next(), next());
    let selector = next().bytes().next().unwrap_or(0);
    let template = TEMPLATES[usize::from(selector) % TEMPLATES.len()];
    let outcome = if selector & 0x80 == 0 {
        "completed"
    } else {
        "no_answer"
    };

    // The operator's texts, where the settings validation lets them through; the
    // fixed ones otherwise (so the call's values are still rendered).
    let mut account = common::account_json();
    account["default_sender_name"] = json!(sender);
    account["default_meeting_link"] = json!(link);
    let mut campaign = common::campaign_json();
    campaign["sms"] =
        json!({"enabled": true, "template": template, "offer_summary": offer, "promo_code": code});
    campaign["email"]["subject"] = json!(subject);
    campaign["email"]["body"] = json!(body);
    campaign["missed_call_email"]["body"] = json!(body);
    let agent = common::agent_json();
    let fixed_campaign = {
        let mut c = common::campaign_json();
        c["sms"]["template"] = json!(template);
        if template == "offer_promo" {
            c["sms"]["offer_summary"] = json!("20% off");
            c["sms"]["promo_code"] = json!("SAVE20");
        }
        c
    };
    let Some(settings) = common::settings_from(&account, &agent, &campaign)
        .or_else(|| common::settings_from(&account, &agent, &fixed_campaign))
        .or_else(|| common::settings_from(&common::account_json(), &agent, &campaign))
        .or_else(|| common::settings_from(&common::account_json(), &agent, &fixed_campaign))
    else {
        return;
    };

    let now = common::now();
    let event = json!({
        "type": "call.completed",
        "call": {"id": "call-1", "agent_id": "agent-1", "campaign_id": "camp-1", "outcome": outcome,
                 "started_at": "2030-01-15T14:55:00Z", "ended_at": "2030-01-15T15:00:00Z"},
        "contact": {"id": "contact-1", "phone": "+14155552671", "email": "ana@example.com", "name": name, "timezone": "America/New_York"},
        "analysis": {
            "summary": summary,
            "appointment": {"at": "2030-01-17T16:00:00Z", "location": location},
            "consent": {"sms": true, "email": true, "whatsapp": true},
            "sms_destination": {"number": "+14155552671", "confirmed": true},
            "email_address": {"address": "ana@example.com", "confirmed": true},
            "followup_requests": [{"channel": "whatsapp", "reason": summary}]
        }
    });
    let event = match policy::parse_event(event.to_string().as_bytes()) {
        Ok(WebhookEvent::CallCompleted(event)) => event,
        // A name or summary the webhook refuses never reaches rendering.
        _ => return,
    };
    let decisions = policy::decide(&settings, &event, &History::default(), now);
    common::check_decisions(&event, &decisions, now);
    for decision in decisions.iter() {
        let Decision::Create(new) = decision else {
            continue;
        };
        if new.status != Status::Scheduled {
            continue;
        }
        let followup = new
            .clone()
            .into_followup(FollowUpId::parse("followup_id", "fu_fuzz").unwrap(), now);
        match followup.channel {
            Channel::Sms => {
                if let Ok(sms) = policy::render_sms(&followup, &settings) {
                    let (_, segments) = policy::render::count_segments(&sms.text);
                    assert_eq!(segments, sms.segments, "{:?}", sms.text);
                    assert!(
                        segments <= policy::render::sms::MAX_SEGMENTS,
                        "{:?}",
                        sms.text
                    );
                    assert!(
                        sms.text.ends_with(policy::render::sms::OPT_OUT),
                        "{:?}",
                        sms.text
                    );
                    assert!(!sms.text.contains('\r'), "{:?}", sms.text);
                }
            }
            Channel::Email | Channel::MissedCallEmail => {
                if let Ok(email) = policy::render_email(&followup, &settings) {
                    common::check_html(&email.html);
                    common::check_header("subject", &email.subject);
                    if let Some(from) = &email.from_name {
                        common::check_header("from name", from);
                    }
                    assert!(
                        email.subject.chars().count() <= policy::render::email::MAX_SUBJECT_CHARS,
                        "{:?}",
                        email.subject
                    );
                }
            }
            Channel::Whatsapp => {
                if let Ok(template) = policy::whatsapp_template(&followup, &settings) {
                    for parameter in &template.parameters {
                        assert!(!parameter.is_empty());
                        assert!(!parameter.contains(['\n', '\r', '\t']), "{parameter:?}");
                    }
                }
            }
            Channel::Call => {}
        }
    }
});
