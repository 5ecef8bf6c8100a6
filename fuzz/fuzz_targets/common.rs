//! What both targets share: fixed settings, a fixed "now", and the properties every
//! decision and every rendered message must have, whatever came in.

#![allow(dead_code)]

use std::sync::OnceLock;

use chrono::{DateTime, Duration, Utc};
use policy::{
    AccountId, AccountSettings, AgentSettings, CallCompleted, CampaignSettings, Channel, Decision,
    Decisions, Settings, Status,
};
use serde_json::{Value, json};

/// Tuesday 2030-01-15 15:00 UTC, 10:00 in New York.
pub fn now() -> DateTime<Utc> {
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
        "calls": {"enabled": true, "when_to_schedule": "When asked.", "instructions": "Offer a demo.", "max_retries": 2, "retry_interval_minutes": 60},
        "whatsapp": {"enabled": true, "when_to_schedule": "When asked.", "instructions": "Short.",
                     "template": {"name": "followup_v1", "language": "en_US", "parameters": ["{{contact_name}}", "{{summary}}"]}}
    })
}

pub fn campaign_json() -> Value {
    json!({
        "agent_id": "agent-1",
        "sms": {"enabled": true, "template": "conversation_summary"},
        "email": {"enabled": true, "ask_for_email": true, "from_name": "Ana at Acme",
                  "subject": "Great talking, {{contact_name}}",
                  "body": "Hi {{contact_name}},\n\n{{summary}}\n\n**Book** a slot: {{meeting_link}}"},
        "missed_call_email": {"enabled": true, "subject": "Sorry we missed you", "body": "Hi {{contact_name}}, {{meeting_link}}"}
    })
}

pub fn settings_from(account: &Value, agent: &Value, campaign: &Value) -> Option<Settings> {
    let mut settings = Settings::new(
        AccountId::parse("account_id", "acme").unwrap(),
        AccountSettings::from_json(account).ok()?,
    );
    settings.agent = Some(AgentSettings::from_json(agent).ok()?);
    settings.campaign = Some(CampaignSettings::from_json(campaign).ok()?);
    Some(settings)
}

/// The fixed settings of the decision target.
pub fn settings() -> &'static Settings {
    static SETTINGS: OnceLock<Settings> = OnceLock::new();
    SETTINGS
        .get_or_init(|| settings_from(&account_json(), &agent_json(), &campaign_json()).unwrap())
}

/// The rules that hold for every decision, whatever the call said.
pub fn check_decisions(event: &CallCompleted, decisions: &Decisions, now: DateTime<Utc>) {
    let consent = &event.analysis.consent;
    let mut live = std::collections::HashMap::new();
    for decision in decisions.iter() {
        let Decision::Create(new) = decision else {
            // Without a history there is nothing to reschedule, retry or finish.
            panic!("{decision:?} without any history");
        };
        // The reason says what happened, on this channel, and is the latest step's.
        assert!(new.reason.fits(new.channel), "{new:?}");
        assert_eq!(new.trace.last().map(|t| t.reason), Some(new.reason), "{new:?}");
        if new.status == Status::Suppressed {
            continue;
        }
        *live.entry(new.channel).or_insert(0) += 1;
        // TCPA and friends: no consent, no message, ever.
        match new.channel {
            Channel::Sms => assert!(consent.sms, "SMS without consent: {new:?}"),
            Channel::Email => assert!(consent.email, "email without consent: {new:?}"),
            Channel::Whatsapp => assert!(consent.whatsapp, "WhatsApp without consent: {new:?}"),
            Channel::MissedCallEmail | Channel::Call => {}
        }
        if new.status == Status::Scheduled {
            assert!(
                new.destination.is_some(),
                "scheduled with nowhere to go: {new:?}"
            );
            assert!(new.due_at >= now, "scheduled in the past: {new:?}");
            assert!(
                new.due_at <= now + policy::HORIZON + Duration::days(8),
                "scheduled far beyond the horizon: {new:?}"
            );
        }
    }
    for (channel, n) in live {
        assert!(n <= 1, "{n} live {channel} follow-ups for one call");
    }
}

/// HTML that came out of the email renderer: text never holds a raw `<` (it is
/// escaped), so every `<` opens a real tag, and only the tags basic Markdown makes are
/// allowed, without event handlers, and links only to the web or to mail.
pub fn check_html(html: &str) {
    const ALLOWED: &[&str] = &[
        "!doctype",
        "html",
        "head",
        "meta",
        "body",
        "p",
        "br",
        "strong",
        "em",
        "a",
        "ul",
        "ol",
        "li",
        "code",
        "pre",
        "blockquote",
        "hr",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "del",
    ];
    for tag in html.split('<').skip(1) {
        let tag = &tag[..tag.find('>').unwrap_or(tag.len())];
        let name = tag
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '!')
            .collect::<String>()
            .to_ascii_lowercase();
        assert!(ALLOWED.contains(&name.as_str()), "<{tag}> in {html}");
        for (attribute, value) in attributes(tag).into_iter().filter(|_| name != "!doctype") {
            assert!(
                ["href", "title", "charset", "start", "class"].contains(&attribute.as_str()),
                "attribute {attribute} in <{tag}>"
            );
            if attribute == "href" {
                let target = value.to_ascii_lowercase();
                assert!(
                    ["https://", "http://", "mailto:"]
                        .iter()
                        .any(|scheme| target.starts_with(scheme)),
                    "a link that is not http(s)/mailto: <{tag}>"
                );
            }
        }
    }
}

/// The attributes of a tag's text (after `<`, before `>`): names and unquoted values.
fn attributes(tag: &str) -> Vec<(String, String)> {
    let mut found = Vec::new();
    let mut rest = tag
        .trim_start_matches('/')
        .trim_start_matches(|c: char| c.is_ascii_alphanumeric() || c == '!');
    loop {
        rest = rest.trim_start_matches(|c: char| c.is_whitespace() || c == '/');
        let name_len = rest
            .find(|c: char| c.is_whitespace() || c == '=' || c == '/')
            .unwrap_or(rest.len());
        if name_len == 0 {
            return found;
        }
        let name = rest[..name_len].to_ascii_lowercase();
        rest = &rest[name_len..];
        let mut value = String::new();
        if let Some(after) = rest.strip_prefix('=') {
            if let Some(quoted) = after.strip_prefix('"') {
                let end = quoted.find('"').unwrap_or(quoted.len());
                value = quoted[..end].to_string();
                rest = quoted.get(end + 1..).unwrap_or_default();
            } else {
                let end = after.find(char::is_whitespace).unwrap_or(after.len());
                value = after[..end].to_string();
                rest = &after[end..];
            }
        }
        found.push((name, value));
    }
}

/// A header-bound value: no CR, LF or other control character.
pub fn check_header(what: &str, value: &str) {
    assert!(
        !value.chars().any(char::is_control),
        "{what} holds a control character: {value:?}"
    );
}
