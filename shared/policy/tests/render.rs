//! Rendering: the SMS templates, their length bound, and emails that stay safe whatever
//! the operator or the call put in them.

mod common;

use common::*;
use policy::render::email::MAX_SUBJECT_CHARS;
use policy::render::sms::{MAX_SEGMENTS, OPT_OUT};
use policy::{
    Appointment, Channel, Encoding, Error, FollowUp, FollowUpId, Reason, Settings, call_request,
    decide, render_email, render_sms, whatsapp_template,
};
use serde_json::{Value, json};

/// The follow-up of `channel` decided for `event`, as stored.
fn stored(settings: &Settings, event: Value, channel: Channel) -> FollowUp {
    let decisions = decide(
        settings,
        &common::event(event),
        &policy::History::default(),
        now(),
    );
    created(&decisions, channel).into_followup(FollowUpId::parse("id", "fu-1").unwrap(), now())
}

fn sms_settings(sms: Value) -> Settings {
    settings_from(
        account_json(),
        Some(agent_json()),
        Some(with(campaign_json(), "/sms", sms)),
    )
}

fn sms_followup() -> FollowUp {
    let mut followup = stored(&settings(), event_json(), Channel::Sms);
    followup.content.appointment = Some(Appointment {
        at: utc("2024-05-16T18:30:00Z"),
        location: Some("12 Main St".into()),
    });
    followup
}

#[test]
fn each_sms_template_has_the_sender_and_the_opt_out_and_fits() {
    let cases = [
        (
            json!({"enabled": true, "template": "meeting_request"}),
            "https://cal.example.com/acme",
        ),
        (
            json!({"enabled": true, "template": "next_step", "meeting_link": "https://cal.example.com/next"}),
            "https://cal.example.com/next",
        ),
        (
            json!({"enabled": true, "template": "appointment_confirmation"}),
            "Thu 16 May at 14:30 EDT at 12 Main St",
        ),
        (
            json!({"enabled": true, "template": "conversation_summary"}),
            "Ana wants a demo next week.",
        ),
        (
            json!({"enabled": true, "template": "offer_promo", "offer_summary": "20% off the first year.", "promo_code": "SAVE20"}),
            "20% off the first year. Use code SAVE20.",
        ),
    ];
    for (sms, slot) in cases {
        let message = render_sms(&sms_followup(), &sms_settings(sms.clone())).unwrap();
        assert!(
            message.text.starts_with("Hi Ana, this is Acme Team. "),
            "{}",
            message.text
        );
        assert!(message.text.ends_with(OPT_OUT), "{}", message.text);
        assert!(message.text.contains(slot), "{} lacks {slot}", message.text);
        assert_eq!(message.encoding, Encoding::Gsm7);
        assert!(message.segments <= 2, "{sms}: {}", message.segments);
    }
}

#[test]
fn the_campaign_sender_name_overrides_the_account_default_in_the_sms() {
    let settings = sms_settings(
        json!({"enabled": true, "template": "meeting_request", "sender_name": "Bo from Acme"}),
    );
    let message = render_sms(&sms_followup(), &settings).unwrap();
    assert!(message.text.starts_with("Hi Ana, this is Bo from Acme. "));
}

#[test]
fn an_over_long_summary_is_shortened_never_the_opt_out() {
    let mut followup = sms_followup();
    followup.content.summary = Some("We talked about pricing, onboarding and support. ".repeat(40));
    let settings = sms_settings(json!({"enabled": true, "template": "conversation_summary"}));
    let message = render_sms(&followup, &settings).unwrap();
    assert_eq!(message.segments, MAX_SEGMENTS);
    assert!(
        message.text.ends_with(&format!("... {OPT_OUT}")),
        "{}",
        message.text
    );
    assert!(
        message.text.len() > 500,
        "the summary should use the room it has"
    );
}

#[test]
fn a_non_gsm_name_switches_to_ucs2_and_still_fits() {
    let mut followup = sms_followup();
    followup.content.contact_name = Some("Łukasz 😀".into());
    followup.content.summary = Some("A long recap of the call. ".repeat(30));
    let settings = sms_settings(json!({"enabled": true, "template": "conversation_summary"}));
    let message = render_sms(&followup, &settings).unwrap();
    assert_eq!(message.encoding, Encoding::Ucs2);
    assert!(message.segments <= MAX_SEGMENTS);
    assert!(message.text.starts_with("Hi Łukasz 😀, this is Acme Team."));
    assert!(message.text.ends_with(OPT_OUT));
}

#[test]
fn line_breaks_from_the_call_do_not_reach_the_sms() {
    let mut followup = sms_followup();
    followup.content.contact_name = Some("Ana\r\nSTOP".into());
    let message = render_sms(&followup, &settings()).unwrap();
    assert!(!message.text.contains(['\r', '\n']));
}

#[test]
fn rendering_refuses_a_follow_up_of_another_channel() {
    let email = stored(&settings(), event_json(), Channel::Email);
    assert!(matches!(
        render_sms(&email, &settings()),
        Err(Error::NotRenderable {
            reason: Reason::WrongChannel,
            ..
        })
    ));
    assert!(matches!(
        call_request(&email, &settings()),
        Err(Error::NotRenderable {
            reason: Reason::WrongChannel,
            ..
        })
    ));
}

#[test]
fn an_sms_whose_settings_changed_is_not_renderable() {
    let settings = settings_from(
        json!({}),
        None,
        Some(with(
            campaign_json(),
            "/sms",
            json!({"enabled": true, "template": "next_step", "sender_name": "Bo"}),
        )),
    );
    let err = render_sms(&sms_followup(), &settings).unwrap_err();
    assert!(
        matches!(
            err,
            Error::NotRenderable {
                reason: Reason::NoMeetingLink,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn email_body_formatting_becomes_html_and_plain_text() {
    let email = stored(&settings(), event_json(), Channel::Email);
    let message = render_email(&email, &settings()).unwrap();
    assert_eq!(message.from_name.as_deref(), Some("Ana at Acme"));
    assert_eq!(message.subject, "Great talking, Ana");
    assert!(message.html.contains("<p>Hi Ana,</p>"), "{}", message.html);
    assert!(message.html.contains("<strong>Book</strong>"));
    assert!(
        message
            .html
            .contains(r#"<a href="https://cal.example.com/acme">https://cal.example.com/acme</a>"#)
    );
    assert!(
        message
            .html
            .contains("<ul>\n<li>one</li>\n<li>two</li>\n</ul>"),
        "{}",
        message.html
    );
    assert_eq!(
        message.text,
        "Hi Ana,\n\nThanks for your time. Book a slot: https://cal.example.com/acme\n\n- one\n- two\n"
    );
}

fn email_with_body(body: &str, contact_name: &str) -> policy::EmailMessage {
    let campaign = with(campaign_json(), "/email/body", json!(body));
    let settings = settings_from(account_json(), None, Some(campaign));
    let event = with(event_json(), "/contact/name", json!(contact_name));
    let email = stored(&settings, event, Channel::Email);
    render_email(&email, &settings).unwrap()
}

#[test]
fn email_rendering_escapes_hostile_input() {
    let hostile_name = "<script>alert(1)</script> [x](javascript:alert(2)) **bold**";
    let cases = [
        "Hello <script>alert('body')</script>",
        "<div onclick=\"alert(1)\">block html</div>\n\nnext",
        "Hi {{contact_name}}",
        "[click](javascript:alert(3)) and [ok](https://example.com) and <javascript:alert(4)>",
        "![img](https://tracker.example.com/p.gif) [mail](mailto:a@example.com)",
        "`{{contact_name}}` and [{{contact_name}}]({{meeting_link}})",
    ];
    for body in cases {
        let message = email_with_body(body, hostile_name);
        let html = message.html.to_lowercase();
        assert!(!html.contains("<script"), "{body}: {html}");
        assert!(!html.contains("<div"), "{body}: {html}");
        assert!(!html.contains("javascript:alert(3)\""), "{body}: {html}");
        assert!(!html.contains("href=\"javascript"), "{body}: {html}");
        assert!(!html.contains("<img"), "{body}: {html}");
    }
    let message = email_with_body("Hi {{contact_name}}", hostile_name);
    assert!(
        message
            .html
            .contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{}",
        message.html
    );
    assert!(
        message.html.contains("**bold**"),
        "values are text, not Markdown"
    );
    let links = email_with_body(
        "[ok](https://example.com) [mail](mailto:a@example.com)",
        "Ana",
    );
    assert!(
        links
            .html
            .contains(r#"<a href="https://example.com/">ok</a>"#),
        "{}",
        links.html
    );
    assert!(
        links
            .html
            .contains(r#"<a href="mailto:a@example.com">mail</a>"#)
    );
    assert!(
        links
            .text
            .contains("ok (https://example.com/) mail (a@example.com)"),
        "{}",
        links.text
    );
}

#[test]
fn line_breaks_in_values_never_reach_the_subject() {
    let campaign = with(
        campaign_json(),
        "/email/subject",
        json!("Hello {{contact_name}} {{summary}}"),
    );
    let settings = settings_from(account_json(), None, Some(campaign));
    let mut email = stored(&settings, event_json(), Channel::Email);
    email.content.contact_name = Some("Ana\r\nBcc: evil@example.com".into());
    email.content.summary = Some("line one\nline two ".repeat(100));
    let message = render_email(&email, &settings).unwrap();
    assert!(
        !message.subject.contains(['\r', '\n']),
        "{}",
        message.subject
    );
    assert!(
        message
            .subject
            .starts_with("Hello Ana Bcc: evil@example.com line one line two")
    );
    assert!(message.subject.chars().count() <= MAX_SUBJECT_CHARS);
}

#[test]
fn summary_line_breaks_become_breaks_in_the_email() {
    let mut email = stored(&settings(), event_json(), Channel::Email);
    email.content.summary = Some("first <b>\nsecond".into());
    let campaign = with(campaign_json(), "/email/body", json!("Recap: {{summary}}"));
    let settings = settings_from(account_json(), None, Some(campaign));
    let message = render_email(&email, &settings).unwrap();
    assert!(
        message
            .html
            .contains("<p>Recap: first &lt;b&gt;<br />\nsecond</p>"),
        "{}",
        message.html
    );
}

#[test]
fn missed_call_email_uses_its_own_texts() {
    let event = with(event_json(), "/call/outcome", json!("no_answer"));
    let email = stored(&settings(), event, Channel::MissedCallEmail);
    let message = render_email(&email, &settings()).unwrap();
    assert_eq!(message.subject, "Sorry we missed you");
    assert!(message.html.contains("we tried to call you"));
    assert!(
        message
            .text
            .contains("Pick a better time: https://cal.example.com/acme")
    );
}

#[test]
fn whatsapp_parameters_are_filled_on_one_line() {
    let body = with(
        event_json(),
        "/analysis/followup_requests",
        json!([{"channel": "whatsapp", "reason": "send\nthe brochure"}]),
    );
    let whatsapp = stored(&settings(), body, Channel::Whatsapp);
    let template = whatsapp_template(&whatsapp, &settings()).unwrap();
    assert_eq!(
        (template.name.as_str(), template.language.as_str()),
        ("followup_v1", "en_US")
    );
    assert_eq!(template.parameters, ["Ana", "send the brochure"]);

    let mut nameless = whatsapp.clone();
    nameless.content.contact_name = None;
    assert_eq!(
        whatsapp_template(&nameless, &settings())
            .unwrap()
            .parameters[0],
        "-"
    );
}

#[test]
fn a_call_request_carries_the_instructions_and_ties_back_to_the_follow_up() {
    let body = with(
        event_json(),
        "/analysis/followup_requests",
        json!([{"channel": "call", "reason": "wants a demo"}]),
    );
    let call = stored(&settings(), body, Channel::Call);
    let request = call_request(&call, &settings()).unwrap();
    assert_eq!(request.to.as_str(), "+14155552671");
    assert_eq!(request.agent_id.as_str(), "agent-1");
    assert_eq!((request.followup_id.as_str(), request.attempt), ("fu-1", 1));
    assert_eq!(
        request.instructions,
        "Remind them of the offer and book a demo.\n\nWhy this follow-up call was scheduled: wants a demo"
    );
}
