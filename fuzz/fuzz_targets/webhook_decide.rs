//! A `call.completed` body, as the webhook receives it, through `policy::parse_event`
//! and `policy::decide` with fixed settings: no panic, and every decision keeps the
//! rules that hold whatever the call said (consent, destination, never in the past,
//! one live follow-up per channel); what is scheduled renders without panicking.

#![no_main]

use libfuzzer_sys::fuzz_target;
use policy::{Channel, Decision, FollowUpId, History, Status, WebhookEvent};

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let Ok(WebhookEvent::CallCompleted(event)) = policy::parse_event(data) else {
        return;
    };
    let now = common::now();
    let settings = common::settings();
    let decisions = policy::decide(settings, &event, &History::default(), now);
    serde_json::to_string(&decisions).expect("decisions serialize");
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
                if let Ok(sms) = policy::render_sms(&followup, settings) {
                    assert!(sms.segments <= policy::render::sms::MAX_SEGMENTS);
                }
            }
            Channel::Email | Channel::MissedCallEmail => {
                if let Ok(email) = policy::render_email(&followup, settings) {
                    common::check_html(&email.html);
                    common::check_header("subject", &email.subject);
                }
            }
            Channel::Whatsapp => {
                let _ = policy::whatsapp_template(&followup, settings);
            }
            Channel::Call => {
                let _ = policy::call_request(&followup, settings);
            }
        }
    }
});
