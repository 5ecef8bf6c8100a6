//! The campaign message preview: the text a sample contact would get is the text the
//! executor renders for a decided follow-up, and the preview says where the sender name
//! and meeting link come from.

mod common;

use common::*;
use policy::render::preview::{Outcome, PreviewRequest, Source, preview_messages};
use policy::{CampaignId, Channel, FollowUpId, History, Reason, decide, render_email, render_sms};
use serde_json::{Value, json};

fn campaign_id() -> CampaignId {
    CampaignId::parse("campaign_id", "camp-1").unwrap()
}

fn request(body: Value) -> PreviewRequest {
    PreviewRequest::from_json(&body).unwrap()
}

#[test]
fn the_preview_is_what_the_executor_sends_for_the_same_call() {
    let settings = settings();
    let decisions = decide(&settings, &event(event_json()), &History::default(), now());
    let sample = request(json!({"sample": {
        "contact_name": event_json()["contact"]["name"],
        "summary": event_json()["analysis"]["summary"],
        "time_zone": event_json()["contact"]["timezone"],
    }}))
    .sample;
    let preview = preview_messages(&settings, &campaign_id(), &sample, now());
    for channel in [Channel::Sms, Channel::Email] {
        let stored = created(&decisions, channel)
            .into_followup(FollowUpId::parse("id", "fu-1").unwrap(), now());
        match channel {
            Channel::Sms => {
                let Outcome::Rendered(sms) = &preview.sms else {
                    panic!("{:?}", preview.sms)
                };
                assert_eq!(sms.message, render_sms(&stored, &settings).unwrap());
            }
            _ => {
                let Outcome::Rendered(email) = &preview.email else {
                    panic!("{:?}", preview.email)
                };
                assert_eq!(email.message, render_email(&stored, &settings).unwrap());
            }
        }
    }
}

#[test]
fn each_value_says_whether_it_is_the_campaigns_or_the_account_default() {
    // (campaign sms, account, expected sender source, expected link source)
    let cases = [
        (
            json!({}),
            account_json(),
            Source::AccountDefault,
            Source::AccountDefault,
        ),
        (
            json!({"sender_name": "Bo", "meeting_link": "https://cal.example.com/bo"}),
            account_json(),
            Source::Campaign,
            Source::Campaign,
        ),
        (
            json!({"sender_name": "Bo"}),
            json!({"default_sender_name": "Acme"}),
            Source::Campaign,
            Source::Unset,
        ),
    ];
    for (sms, account, sender, link) in cases {
        let mut sms = sms.as_object().unwrap().clone();
        sms.insert("template".into(), json!("conversation_summary"));
        let settings = settings_from(account, None, Some(json!({ "sms": sms })));
        let sample = request(json!({"sample": {"summary": "Wants a demo."}})).sample;
        let preview = preview_messages(&settings, &campaign_id(), &sample, now());
        let Outcome::Rendered(rendered) = &preview.sms else {
            panic!("{sms:?}: {:?}", preview.sms)
        };
        assert_eq!(rendered.sender_name.source, sender, "{sms:?}");
        assert_eq!(rendered.meeting_link.source, link, "{sms:?}");
    }
}

#[test]
fn what_the_template_needs_and_the_sample_lacks_is_the_executors_reason() {
    let cases = [
        ("appointment_confirmation", Reason::NoAppointment),
        ("conversation_summary", Reason::NoSummary),
        ("offer_promo", Reason::NoOffer),
    ];
    for (template, reason) in cases {
        let settings = settings_from(
            account_json(),
            None,
            Some(json!({"sms": {"template": template}})),
        );
        let preview =
            preview_messages(&settings, &campaign_id(), &request(json!({})).sample, now());
        match &preview.sms {
            Outcome::NotRenderable { reason: got, .. } => assert_eq!(got, &reason, "{template}"),
            other => panic!("{template}: {other:?}"),
        }
    }
}

#[test]
fn a_preview_request_reports_every_bad_field_with_its_path() {
    let errors = PreviewRequest::from_json(&json!({
        "settings": {"sms": {"template": "free_text"}},
        "sample": {"time_zone": "Nowhere/City", "appointment": {"location": "x"}, "age": 3},
        "other": true
    }))
    .unwrap_err();
    for field in [
        "settings.sms.template",
        "sample.time_zone",
        "sample.appointment.at",
        "sample.age",
        "other",
    ] {
        assert!(errors.has_field(field), "{field}: {errors}");
    }
    let long = "x".repeat(2_001);
    let errors = PreviewRequest::from_json(&json!({"sample": {"summary": long}})).unwrap_err();
    assert!(errors.has_field("sample.summary"), "{errors}");
}
