//! The policy's rules, one test per rule, most of them tables.

mod common;

use chrono::{DateTime, Utc};
use common::*;
use policy::{
    CallOutcome, Channel, Decision, Destination, FollowUp, FollowUpId, GuardKey, GuardKind,
    History, PendingKey, Precondition, Reason, SendCheck, Status, decide, recheck,
};
use serde_json::{Value, json};

fn phone(s: &str) -> Destination {
    Destination::parse("d", s).unwrap()
}

fn followup_id(s: &str) -> FollowUpId {
    FollowUpId::parse("id", s).unwrap()
}

fn local(zone: &str, t: DateTime<Utc>) -> String {
    let tz = policy::zone::Zone::get(zone).unwrap();
    t.with_timezone(&tz).format("%a %Y-%m-%d %H:%M").to_string()
}

// Rule 1: SMS after a call.

#[test]
fn sms_is_sent_after_an_answered_call_with_consent_to_the_confirmed_number() {
    let decisions = decide_now(&settings(), event_json());
    let sms = created(&decisions, Channel::Sms);
    assert_eq!(sms.status, Status::Scheduled);
    assert_eq!(sms.reason, Reason::Consented);
    assert_eq!(sms.destination, Some(phone("+14155552671")));
    assert_eq!(sms.due_at, now());
    assert_eq!(sms.trace.len(), 1);
}

#[test]
fn sms_is_not_sent_without_consent() {
    for consent in [json!(false), Value::Null] {
        let decisions = decide_now(
            &settings(),
            with(event_json(), "/analysis/consent/sms", consent.clone()),
        );
        let sms = created(&decisions, Channel::Sms);
        assert_eq!(
            (sms.status, sms.reason),
            (Status::Suppressed, Reason::NoConsent),
            "consent {consent}"
        );
        assert_eq!(sms.destination, None);
    }
}

#[test]
fn sms_is_not_sent_when_the_call_was_not_answered() {
    for outcome in [
        "no_answer",
        "busy",
        "voicemail",
        "failed",
        "declined",
        "invalid_number",
    ] {
        let decisions = decide_now(
            &settings(),
            with(event_json(), "/call/outcome", json!(outcome)),
        );
        let sms = created(&decisions, Channel::Sms);
        assert_eq!(
            (sms.status, sms.reason),
            (Status::Suppressed, Reason::NotAnswered),
            "{outcome}"
        );
    }
}

#[test]
fn sms_needs_review_when_no_number_was_confirmed() {
    let cases = [
        json!({"number": "+14155552671", "confirmed": false}),
        json!({"number": "+14155552671"}),
        Value::Null,
    ];
    for destination in cases {
        let decisions = decide_now(
            &settings(),
            with(
                event_json(),
                "/analysis/sms_destination",
                destination.clone(),
            ),
        );
        let sms = created(&decisions, Channel::Sms);
        assert_eq!(
            (sms.status, sms.reason),
            (Status::NeedsReview, Reason::DestinationUnconfirmed),
            "{destination}"
        );
        assert_eq!(sms.destination, None);
        // It still takes the once-per-contact guard: an operator may send it later.
        assert!(decisions.preconditions().iter().any(|p| matches!(
            p,
            Precondition::NotYetSent {
                kind: GuardKind::Sms,
                ..
            }
        )));
    }
}

#[test]
fn sms_is_not_considered_when_disabled() {
    let settings = settings_from(
        account_json(),
        Some(agent_json()),
        Some(with(campaign_json(), "/sms", json!({"enabled": false}))),
    );
    assert!(!has_channel(
        &decide_now(&settings, event_json()),
        Channel::Sms
    ));
    let no_campaign = settings_from(account_json(), Some(agent_json()), None);
    assert!(
        decide_now(&no_campaign, event_json())
            .created()
            .all(|f| f.channel.is_requested())
    );
}

// Rule 2: the template's slots must be fillable.

#[test]
fn sms_is_suppressed_when_its_template_cannot_be_filled() {
    let no_defaults = json!({"default_time_zone": "America/New_York"});
    let cases: [(Value, Value, Value, Reason); 5] = [
        (
            no_defaults.clone(),
            json!({"enabled": true, "template": "meeting_request", "sender_name": "Ana"}),
            event_json(),
            Reason::NoMeetingLink,
        ),
        (
            no_defaults.clone(),
            json!({"enabled": true, "template": "next_step"}),
            event_json(),
            Reason::NoSenderName,
        ),
        (
            account_json(),
            json!({"enabled": true, "template": "appointment_confirmation"}),
            event_json(),
            Reason::NoAppointment,
        ),
        (
            account_json(),
            json!({"enabled": true, "template": "conversation_summary"}),
            with(event_json(), "/analysis/summary", Value::Null),
            Reason::NoSummary,
        ),
        (
            account_json(),
            json!({"enabled": true, "template": "offer_promo", "offer_summary": "20% off", "promo_code": "SAVE20"}),
            event_json(),
            Reason::Consented,
        ),
    ];
    for (account, sms, event, expected) in cases {
        let settings = settings_from(
            account,
            None,
            Some(with(campaign_json(), "/sms", sms.clone())),
        );
        let found = created(&decide_now(&settings, event), Channel::Sms);
        assert_eq!(found.reason, expected, "{sms}");
    }
}

#[test]
fn sms_waits_for_the_quiet_hours_in_the_contacts_zone() {
    // 21:30 in New York: outside the 08:00–21:00 quiet hours.
    let late = utc("2024-05-15T01:30:00Z");
    let decisions = decide(&settings(), &event(event_json()), &History::default(), late);
    let sms = created(&decisions, Channel::Sms);
    assert_eq!(sms.status, Status::Scheduled);
    assert_eq!(
        local("America/New_York", sms.due_at),
        "Wed 2024-05-15 08:00"
    );
    // Email is not held back.
    assert_eq!(created(&decisions, Channel::Email).due_at, late);
}

// Rule 3: email after a call.

#[test]
fn email_is_sent_with_consent_when_ask_for_email_is_on() {
    let email = created(&decide_now(&settings(), event_json()), Channel::Email);
    assert_eq!(
        (email.status, email.reason),
        (Status::Scheduled, Reason::Consented)
    );
    assert_eq!(
        email.destination,
        Some(Destination::parse("d", "ana@example.com").unwrap())
    );
    assert_eq!(email.due_at, now());
}

#[test]
fn email_is_consent_gated_and_needs_a_known_address() {
    let cases: [(&str, Value, Reason); 6] = [
        ("/analysis/consent/email", json!(false), Reason::NoConsent),
        ("/call/outcome", json!("voicemail"), Reason::NotAnswered),
        (
            "/analysis/email_address/confirmed",
            json!(false),
            Reason::DestinationUnconfirmed,
        ),
        ("/analysis/email_address", Value::Null, Reason::Consented), // the address on file
        ("/contact/email", Value::Null, Reason::Consented),          // the confirmed one
        (
            "/analysis/email_address",
            json!({"address": "new@example.com", "confirmed": true}),
            Reason::Consented,
        ),
    ];
    for (pointer, value, expected) in cases {
        let email = created(
            &decide_now(&settings(), with(event_json(), pointer, value.clone())),
            Channel::Email,
        );
        assert_eq!(email.reason, expected, "{pointer} = {value}");
    }
    let nothing_known = with(
        with(event_json(), "/analysis/email_address", Value::Null),
        "/contact/email",
        Value::Null,
    );
    assert_eq!(
        created(&decide_now(&settings(), nothing_known), Channel::Email).reason,
        Reason::NoDestination
    );
}

#[test]
fn email_is_not_sent_when_ask_for_email_is_off() {
    let settings = settings_from(
        account_json(),
        None,
        Some(with(campaign_json(), "/email/ask_for_email", json!(false))),
    );
    let email = created(&decide_now(&settings, event_json()), Channel::Email);
    assert_eq!(
        (email.status, email.reason),
        (Status::Suppressed, Reason::AskForEmailOff)
    );
}

// Rule 4: missed-call email.

#[test]
fn missed_call_email_goes_without_consent_when_the_call_was_missed() {
    let cases = [
        ("no_answer", true),
        ("busy", true),
        ("voicemail", true),
        ("completed", false),
        ("failed", false),
        ("declined", false),
        ("invalid_number", false),
    ];
    for (outcome, sent) in cases {
        let event = with(
            with(event_json(), "/call/outcome", json!(outcome)),
            "/analysis",
            json!({}),
        );
        let decisions = decide_now(&settings(), event);
        assert_eq!(
            has_channel(&decisions, Channel::MissedCallEmail),
            sent,
            "{outcome}"
        );
        if sent {
            let email = created(&decisions, Channel::MissedCallEmail);
            assert_eq!(
                (email.status, email.reason),
                (Status::Scheduled, Reason::MissedCall)
            );
            assert_eq!(
                email.destination,
                Some(Destination::parse("d", "ana@example.com").unwrap())
            );
        }
    }
}

#[test]
fn missed_call_email_needs_an_address_on_file() {
    let event = with(
        with(event_json(), "/call/outcome", json!("no_answer")),
        "/contact/email",
        Value::Null,
    );
    let email = created(&decide_now(&settings(), event), Channel::MissedCallEmail);
    assert_eq!(
        (email.status, email.reason),
        (Status::Suppressed, Reason::NoDestination)
    );
}

// Rule 5: campaign values, else account defaults.

#[test]
fn sender_name_and_meeting_link_fall_back_to_the_account_defaults() {
    let plain = settings();
    assert_eq!(plain.sms_sender_name().unwrap().as_str(), "Acme Team");
    assert_eq!(
        plain.sms_meeting_link().unwrap().as_str(),
        "https://cal.example.com/acme"
    );
    assert_eq!(plain.email_from_name().unwrap().as_str(), "Ana at Acme");
    let campaign = with(
        with(campaign_json(), "/sms/sender_name", json!("Bo")),
        "/sms/meeting_link",
        json!("https://cal.example.com/bo"),
    );
    let overridden = settings_from(account_json(), None, Some(campaign));
    assert_eq!(overridden.sms_sender_name().unwrap().as_str(), "Bo");
    assert_eq!(
        overridden.sms_meeting_link().unwrap().as_str(),
        "https://cal.example.com/bo"
    );
}

// Rule 6: once per (campaign, contact, kind).

#[test]
fn sms_and_emails_are_sent_once_per_campaign_and_contact() {
    let first = decide_now(&settings(), event_json());
    for kind in [GuardKind::Sms, GuardKind::Email] {
        assert!(first.preconditions().contains(&Precondition::NotYetSent {
            campaign_id: first.campaign_id.clone(),
            contact_id: first.contact_id.clone(),
            kind,
        }));
    }
    let mut history = History::default();
    for kind in [GuardKind::Sms, GuardKind::Email, GuardKind::MissedCallEmail] {
        history.learn_already_sent(GuardKey {
            campaign_id: first.campaign_id.clone(),
            contact_id: first.contact_id.clone(),
            kind,
        });
    }
    for outcome in ["completed", "no_answer"] {
        let event = event(with(event_json(), "/call/outcome", json!(outcome)));
        let again = decide(&settings(), &event, &history, now());
        for new in again.created().filter(|f| f.channel.guard_kind().is_some()) {
            if new.reason != Reason::NotAnswered {
                assert_eq!(
                    (new.status, new.reason),
                    (Status::Suppressed, Reason::AlreadySent),
                    "{outcome} {}",
                    new.channel
                );
            }
        }
        assert!(again.preconditions().iter().all(|p| p.holds(&history)));
    }
}

// Rule 7: follow-up calls and WhatsApp from the agent's requests.

fn request(channel: &str, at: Value) -> Value {
    with(
        event_json(),
        "/analysis/followup_requests",
        json!([{"channel": channel, "at": at, "reason": "wants a demo"}]),
    )
}

#[test]
fn follow_up_call_is_scheduled_at_the_requested_time_when_allowed() {
    let decisions = decide_now(
        &settings(),
        request("call", json!("2024-05-16T14:00:00-04:00")),
    );
    let call = created(&decisions, Channel::Call);
    assert_eq!(
        (call.status, call.reason),
        (Status::Scheduled, Reason::Requested)
    );
    assert_eq!(call.due_at, utc("2024-05-16T18:00:00Z"));
    assert_eq!(call.destination, Some(phone("+14155552671")));
    assert_eq!(
        (call.max_retries, call.retry_interval_minutes, call.attempt),
        (Some(2), Some(60), 1)
    );
    assert_eq!(call.content.request_reason.as_deref(), Some("wants a demo"));
    assert!(
        decisions
            .preconditions()
            .contains(&Precondition::NoPending {
                campaign_id: call.campaign_id.clone(),
                contact_id: call.contact_id.clone(),
                channel: Channel::Call,
            })
    );
}

#[test]
fn requested_times_move_to_the_next_allowed_instant_in_the_contacts_zone() {
    // (requested, contact zone, expected local due time in that zone)
    let cases = [
        (
            json!("2024-05-16T22:30:00-04:00"),
            "America/New_York",
            "Fri 2024-05-17 08:00",
        ), // after hours
        (
            json!("2024-05-19T10:00:00-04:00"),
            "America/New_York",
            "Mon 2024-05-20 08:00",
        ), // Sunday
        (
            json!("2024-05-16T07:00"),
            "America/New_York",
            "Thu 2024-05-16 08:00",
        ), // local, early
        (
            json!("2024-05-16T12:00"),
            "Europe/London",
            "Thu 2024-05-16 12:00",
        ), // local, other zone
        (
            json!("2024-05-16T20:30"),
            "Australia/Lord_Howe",
            "Fri 2024-05-17 08:00",
        ),
    ];
    for (at, zone, expected) in cases {
        let event = with(
            request("call", at.clone()),
            "/contact/timezone",
            json!(zone),
        );
        let call = created(&decide_now(&settings(), event), Channel::Call);
        assert_eq!(local(zone, call.due_at), expected, "{at} in {zone}");
    }
}

#[test]
fn without_a_contact_zone_the_campaign_then_agent_then_account_zone_is_used() {
    // A number whose area code says nothing about the zone (see tests/legal.rs for
    // NANP numbers, whose area code gives the zone).
    let event = with(
        with(
            request("call", json!("2024-05-16T07:30")),
            "/contact/timezone",
            Value::Null,
        ),
        "/contact/phone",
        json!("+447400123456"),
    );
    let agent_zone = created(&decide_now(&settings(), event.clone()), Channel::Call);
    assert_eq!(agent_zone.time_zone.as_str(), "America/Chicago");
    assert_eq!(
        local("America/Chicago", agent_zone.due_at),
        "Thu 2024-05-16 08:00"
    );

    let campaign = with(campaign_json(), "/time_zone", json!("Europe/London"));
    let campaign_zone = settings_from(account_json(), Some(agent_json()), Some(campaign));
    assert_eq!(
        created(&decide_now(&campaign_zone, event.clone()), Channel::Call)
            .time_zone
            .as_str(),
        "Europe/London"
    );

    let agent = with(agent_json(), "/time_zone", Value::Null);
    let account_zone = settings_from(account_json(), Some(agent), Some(campaign_json()));
    assert_eq!(
        created(&decide_now(&account_zone, event), Channel::Call)
            .time_zone
            .as_str(),
        "America/New_York"
    );
}

#[test]
fn a_request_without_a_time_is_due_a_day_after_the_call() {
    let call = created(
        &decide_now(&settings(), request("call", Value::Null)),
        Channel::Call,
    );
    assert_eq!(
        call.due_at,
        utc("2024-05-14T14:59:30Z") + policy::DEFAULT_REQUEST_DELAY
    );
}

#[test]
fn a_request_is_never_scheduled_in_the_past() {
    let call = created(
        &decide_now(&settings(), request("call", json!("2024-05-01T10:00:00Z"))),
        Channel::Call,
    );
    assert_eq!(call.due_at, now());
}

#[test]
fn a_request_beyond_the_horizon_is_refused() {
    let cases = [
        (json!("2024-06-12T15:00:00Z"), Reason::Requested), // 29 days
        (json!("2024-06-14T15:00:01Z"), Reason::OutsideHorizon),
        (json!("2025-05-14T15:00:00Z"), Reason::OutsideHorizon),
    ];
    for (at, expected) in cases {
        let call = created(
            &decide_now(&settings(), request("call", at.clone())),
            Channel::Call,
        );
        assert_eq!(call.reason, expected, "{at}");
    }
}

#[test]
fn requests_for_a_disabled_channel_are_suppressed() {
    let cases = [
        (
            Some(with(agent_json(), "/calls/enabled", json!(false))),
            "call",
        ),
        (None, "call"),
        (
            Some(with(agent_json(), "/whatsapp/enabled", json!(false))),
            "whatsapp",
        ),
    ];
    for (agent, channel) in cases {
        let settings = settings_from(account_json(), agent, Some(campaign_json()));
        let decisions = decide_now(&settings, request(channel, Value::Null));
        let found = decisions
            .created()
            .find(|f| f.channel.as_str() == channel)
            .unwrap()
            .clone();
        assert_eq!(
            (found.status, found.reason),
            (Status::Suppressed, Reason::ChannelDisabled)
        );
    }
}

#[test]
fn whatsapp_needs_consent_and_a_template() {
    let without_template = settings_from(
        account_json(),
        Some(with(agent_json(), "/whatsapp/template", Value::Null)),
        Some(campaign_json()),
    );
    let cases = [
        (
            settings(),
            request("whatsapp", Value::Null),
            Reason::Requested,
        ),
        (
            settings(),
            with(
                request("whatsapp", Value::Null),
                "/analysis/consent/whatsapp",
                json!(false),
            ),
            Reason::NoConsent,
        ),
        (
            without_template,
            request("whatsapp", Value::Null),
            Reason::NoTemplate,
        ),
    ];
    for (settings, event, expected) in cases {
        assert_eq!(
            created(&decide_now(&settings, event), Channel::Whatsapp).reason,
            expected
        );
    }
}

#[test]
fn calls_and_whatsapp_need_the_contacts_phone() {
    let event = with(request("call", Value::Null), "/contact/phone", Value::Null);
    let call = created(&decide_now(&settings(), event), Channel::Call);
    assert_eq!(
        (call.status, call.reason),
        (Status::Suppressed, Reason::NoDestination)
    );
}

#[test]
fn the_agent_window_is_clamped_inside_the_account_quiet_hours() {
    let account = with(
        account_json(),
        "/quiet_hours",
        json!({"start": "09:00", "end": "17:00"}),
    );
    let settings = settings_from(account.clone(), Some(agent_json()), Some(campaign_json()));
    let call = created(
        &decide_now(&settings, request("call", json!("2024-05-16T18:00"))),
        Channel::Call,
    );
    assert_eq!(
        local("America/New_York", call.due_at),
        "Fri 2024-05-17 09:00"
    );

    let disjoint = settings_from(
        with(
            account,
            "/quiet_hours",
            json!({"start": "21:00", "end": "22:00"}),
        ),
        Some(agent_json()),
        Some(campaign_json()),
    );
    let call = created(
        &decide_now(&disjoint, request("call", Value::Null)),
        Channel::Call,
    );
    assert_eq!(call.reason, Reason::NoAllowedWindow);
}

fn pending_call(id: &str, due_at: DateTime<Utc>) -> FollowUp {
    let decisions = decide_now(&settings(), request("call", Value::Null));
    let mut pending = created(&decisions, Channel::Call).into_followup(followup_id(id), now());
    pending.due_at = due_at;
    pending
}

#[test]
fn a_new_request_reschedules_the_pending_follow_up() {
    let mut history = History::default();
    history.learn_pending(pending_call("fu-pending", utc("2024-05-20T13:00:00Z")));
    let event = event(request("call", json!("2024-05-16T10:00")));
    let decisions = decide(&settings(), &event, &history, now());
    let reschedules: Vec<_> = decisions
        .iter()
        .filter_map(|d| match d {
            Decision::Reschedule {
                followup_id,
                due_at,
                trace,
                ..
            } => Some((followup_id, due_at, trace)),
            _ => None,
        })
        .collect();
    assert_eq!(reschedules.len(), 1, "{decisions:#?}");
    let (id, due_at, trace) = reschedules[0];
    assert_eq!(id.as_str(), "fu-pending");
    assert_eq!(*due_at, utc("2024-05-16T14:00:00Z"));
    assert_eq!(trace.reason, Reason::Rescheduled);
    assert!(!has_channel(&decisions, Channel::Call));
    assert!(decisions.preconditions().iter().all(|p| p.holds(&history)));
}

#[test]
fn only_the_last_request_per_channel_counts() {
    let event = with(
        event_json(),
        "/analysis/followup_requests",
        json!([
            {"channel": "call", "at": "2024-05-15T10:00", "reason": "first"},
            {"channel": "whatsapp", "reason": "send the brochure"},
            {"channel": "call", "at": "2024-05-16T10:00", "reason": "second"}
        ]),
    );
    let decisions = decide_now(&settings(), event);
    let calls: Vec<_> = decisions
        .created()
        .filter(|f| f.channel == Channel::Call)
        .collect();
    assert_eq!(calls.len(), 2);
    assert_eq!(
        (calls[0].reason, calls[0].content.request_reason.as_deref()),
        (Reason::Superseded, Some("first"))
    );
    assert_eq!(
        (calls[1].reason, calls[1].content.request_reason.as_deref()),
        (Reason::Requested, Some("second"))
    );
    assert_eq!(
        created(&decisions, Channel::Whatsapp).reason,
        Reason::Requested
    );
}

// Rule 8: retries of unanswered follow-up calls.

/// A follow-up call that was placed as `attempt`, and the event of its completion.
fn placed_call(attempt: u32, outcome: &str) -> (History, policy::CallCompleted) {
    let mut original = pending_call("fu-call", utc("2024-05-14T14:00:00Z"));
    original.status = Status::Placed;
    original.attempt = attempt;
    let history = History {
        original_followup: Some(original),
        ..History::default()
    };
    let body = with(
        with(event_json(), "/call/followup_id", json!("fu-call")),
        "/call/outcome",
        json!(outcome),
    );
    (history, event(body))
}

#[test]
fn an_unanswered_follow_up_call_is_retried_after_the_interval() {
    for outcome in ["no_answer", "busy", "voicemail", "failed"] {
        let (history, event) = placed_call(1, outcome);
        assert_eq!(event.followup_id().map(|id| id.as_str()), Some("fu-call"));
        let decisions = decide(&settings(), &event, &history, now());
        let retry = decisions.iter().find_map(|d| match d {
            Decision::Retry {
                followup_id,
                attempt,
                due_at,
                trace,
                ..
            } => Some((followup_id.clone(), *attempt, *due_at, trace.reason)),
            _ => None,
        });
        // Ended 14:59:30Z + 60 min, inside the window.
        assert_eq!(
            retry,
            Some((
                followup_id("fu-call"),
                2,
                utc("2024-05-14T15:59:30Z"),
                Reason::NotAnswered
            )),
            "{outcome}"
        );
        assert!(decisions.preconditions().iter().any(|p| matches!(
            p,
            Precondition::NoPending {
                channel: Channel::Call,
                ..
            }
        )));
    }
}

#[test]
fn a_retry_waits_for_the_window() {
    let (history, event) = placed_call(1, "no_answer");
    let late = utc("2024-05-15T00:30:00Z"); // 20:30 in New York
    let decisions = decide(&settings(), &event, &history, late);
    let due = decisions.iter().find_map(|d| match d {
        Decision::Retry { due_at, .. } => Some(*due_at),
        _ => None,
    });
    assert_eq!(
        due.map(|t| local("America/New_York", t)),
        Some("Wed 2024-05-15 08:00".into())
    );
}

#[test]
fn a_follow_up_call_ends_exhausted_after_max_retries() {
    // max_retries is 2: attempts 1 and 2 are retried, attempt 3 is the last.
    let (history, event) = placed_call(3, "no_answer");
    let decisions = decide(&settings(), &event, &history, now());
    assert!(decisions.iter().any(|d| matches!(
        d,
        Decision::Finish {
            status: Status::Exhausted,
            reason: Reason::RetriesExhausted,
            ..
        }
    )));
    assert!(
        !decisions
            .iter()
            .any(|d| matches!(d, Decision::Retry { .. }))
    );
}

#[test]
fn a_follow_up_call_finishes_on_a_final_outcome() {
    let cases = [
        ("completed", Status::Completed, Reason::Answered),
        ("declined", Status::Failed, Reason::CallDeclined),
        ("invalid_number", Status::Failed, Reason::InvalidNumber),
    ];
    for (outcome, status, reason) in cases {
        let (history, event) = placed_call(1, outcome);
        let decisions = decide(&settings(), &event, &history, now());
        let finish = decisions.iter().find_map(|d| match d {
            Decision::Finish { status, reason, .. } => Some((*status, *reason)),
            _ => None,
        });
        assert_eq!(finish, Some((status, reason)), "{outcome}");
    }
}

#[test]
fn a_retry_is_not_decided_for_a_follow_up_already_settled_or_unknown() {
    let (mut history, event) = placed_call(1, "no_answer");
    history.original_followup.as_mut().unwrap().status = Status::Cancelled;
    let decisions = decide(&settings(), &event, &history, now());
    assert!(
        !decisions
            .iter()
            .any(|d| matches!(d, Decision::Retry { .. } | Decision::Finish { .. }))
    );
    let unloaded = decide(&settings(), &event, &History::default(), now());
    assert!(
        !unloaded
            .iter()
            .any(|d| matches!(d, Decision::Retry { .. } | Decision::Finish { .. }))
    );
}

#[test]
fn a_retry_gives_way_to_a_newer_pending_call() {
    let (mut history, event) = placed_call(1, "no_answer");
    history.learn_pending(pending_call("fu-newer", utc("2024-05-20T13:00:00Z")));
    let decisions = decide(&settings(), &event, &history, now());
    assert!(decisions.iter().any(|d| matches!(
        d,
        Decision::Finish {
            status: Status::Cancelled,
            reason: Reason::Superseded,
            ..
        }
    )));
    assert!(decisions.preconditions().iter().all(|p| p.holds(&history)));
}

// Rule 9: do-not-call.

#[test]
fn nothing_is_sent_to_a_destination_on_the_dnc_list() {
    let mut history = History::default();
    history.learn_dnc(phone("+14155552671"));
    history.learn_dnc(Destination::parse("d", "ana@example.com").unwrap());
    let requests = json!([{"channel": "call"}, {"channel": "whatsapp"}]);
    for outcome in ["completed", "no_answer"] {
        let body = with(
            with(
                event_json(),
                "/analysis/followup_requests",
                requests.clone(),
            ),
            "/call/outcome",
            json!(outcome),
        );
        let decisions = decide(&settings(), &event(body), &history, now());
        for new in decisions.created() {
            if new.reason != Reason::NotAnswered {
                assert_eq!(
                    (new.status, new.reason),
                    (Status::Suppressed, Reason::Dnc),
                    "{outcome} {}",
                    new.channel
                );
            }
        }
        assert!(decisions.preconditions().iter().all(|p| p.holds(&history)));
    }
    let first = decide_now(
        &settings(),
        with(event_json(), "/analysis/followup_requests", requests),
    );
    assert!(
        first
            .preconditions()
            .contains(&Precondition::NotOnDnc(phone("+14155552671")))
    );
}

// Rule 11 and the storage contract.

#[test]
fn every_suppression_is_recorded_with_its_reason_and_a_trace() {
    let body = with(
        with(event_json(), "/analysis/consent", json!({})),
        "/analysis/followup_requests",
        json!([{"channel": "whatsapp"}]),
    );
    let decisions = decide_now(&settings(), body);
    let suppressed: Vec<_> = decisions
        .created()
        .filter(|f| f.status == Status::Suppressed)
        .collect();
    assert_eq!(suppressed.len(), 3, "{decisions:#?}"); // sms, email, whatsapp
    for new in suppressed {
        assert_eq!(new.reason, Reason::NoConsent);
        assert_eq!(new.trace[0].reason, new.reason);
        assert!(!new.trace[0].detail.is_empty());
    }
    // A suppression checks nothing but that it is not stored yet (once per reason).
    assert!(
        decisions
            .preconditions()
            .iter()
            .all(|p| matches!(p, Precondition::NotYetSuppressed(_)))
    );
    assert_eq!(decisions.preconditions().len(), 3);
}

/// The caller's loop: decide knowing nothing, "write" against the real facts, learn what
/// failed, decide again. The second round's preconditions must all hold.
#[test]
fn deciding_again_with_the_learned_facts_satisfies_every_precondition() {
    let body = with(
        event_json(),
        "/analysis/followup_requests",
        json!([{"channel": "call"}, {"channel": "whatsapp"}]),
    );
    let event = event(body);
    let mut truth = History::default();
    truth.learn_dnc(Destination::parse("d", "ana@example.com").unwrap());
    truth.learn_already_sent(GuardKey {
        campaign_id: event.call.campaign_id.clone(),
        contact_id: event.contact.id.clone(),
        kind: GuardKind::Sms,
    });
    let mut pending = pending_call("fu-wa", utc("2024-05-20T13:00:00Z"));
    pending.channel = Channel::Whatsapp;
    truth.learn_pending(pending.clone());

    let first = decide(&settings(), &event, &History::default(), now());
    let failed: Vec<_> = first
        .preconditions()
        .into_iter()
        .filter(|p| !p.holds(&truth))
        .collect();
    assert_eq!(failed.len(), 3, "{failed:#?}");
    let mut learned = History::default();
    for precondition in failed {
        match precondition {
            Precondition::NotOnDnc(destination) => learned.learn_dnc(destination),
            Precondition::NotYetSent {
                campaign_id,
                contact_id,
                kind,
            } => learned.learn_already_sent(GuardKey {
                campaign_id,
                contact_id,
                kind,
            }),
            Precondition::NoPending {
                campaign_id,
                contact_id,
                channel,
            } => {
                let key = PendingKey {
                    campaign_id,
                    contact_id,
                    channel,
                };
                learned.learn_pending(truth.pending[&key].clone());
            }
            Precondition::NotYetSuppressed(key) => {
                let recorded_as = truth.suppressed[&key].clone();
                learned.learn_suppressed(key, recorded_as);
            }
        }
    }
    let second = decide(&settings(), &event, &learned, now());
    assert!(
        second.preconditions().iter().all(|p| p.holds(&truth)),
        "{second:#?}"
    );
    assert_eq!(created(&second, Channel::Sms).reason, Reason::AlreadySent);
    assert_eq!(created(&second, Channel::Email).reason, Reason::Dnc);
    assert_eq!(created(&second, Channel::Call).status, Status::Scheduled);
    assert!(second.iter().any(
        |d| matches!(d, Decision::Reschedule { followup_id, .. } if followup_id.as_str() == "fu-wa")
    ));
}

#[test]
fn decide_is_deterministic() {
    let body = with(
        event_json(),
        "/analysis/followup_requests",
        json!([{"channel": "call"}]),
    );
    assert_eq!(
        decide_now(&settings(), body.clone()),
        decide_now(&settings(), body)
    );
}

#[test]
fn call_outcomes_classify_missed_and_retryable_calls() {
    let missed: Vec<_> = CallOutcome::ALL
        .into_iter()
        .filter(|o| o.missed())
        .map(CallOutcome::as_str)
        .collect();
    assert_eq!(missed, ["no_answer", "busy", "voicemail"]);
}

// Rules 9–10: the send-time re-check.

fn stored(channel: Channel) -> FollowUp {
    let body = with(
        event_json(),
        "/analysis/followup_requests",
        json!([{"channel": "call", "at": "2024-05-14T12:00"}, {"channel": "whatsapp", "at": "2024-05-14T12:00"}]),
    );
    let decisions = decide_now(&settings(), body);
    created(&decisions, channel).into_followup(followup_id("fu-1"), now())
}

/// Send-time facts with nothing reported about the recipient.
fn at_send(on_dnc: bool) -> policy::AtSend<'static> {
    policy::AtSend {
        on_dnc,
        undeliverable: false,
        facts: Box::leak(Box::default()),
        touches: &[],
    }
}

#[test]
fn a_due_follow_up_inside_its_window_is_sent() {
    for channel in [
        Channel::Sms,
        Channel::Email,
        Channel::Call,
        Channel::Whatsapp,
    ] {
        let followup = stored(channel);
        assert_eq!(
            recheck(&followup, &settings(), &at_send(false), followup.due_at),
            SendCheck::Send,
            "{channel}"
        );
    }
}

#[test]
fn the_dnc_list_is_checked_again_before_sending() {
    let followup = stored(Channel::Sms);
    assert_eq!(
        recheck(&followup, &settings(), &at_send(true), now()),
        SendCheck::Suppress(Reason::Dnc)
    );
}

#[test]
fn a_channel_disabled_since_the_decision_is_not_sent() {
    let cases = [
        (
            Channel::Sms,
            settings_from(
                account_json(),
                Some(agent_json()),
                Some(with(campaign_json(), "/sms/enabled", json!(false))),
            ),
            Reason::ChannelDisabled,
        ),
        (
            Channel::Email,
            settings_from(
                account_json(),
                Some(agent_json()),
                Some(with(campaign_json(), "/email/ask_for_email", json!(false))),
            ),
            Reason::AskForEmailOff,
        ),
        (
            Channel::Call,
            settings_from(account_json(), None, Some(campaign_json())),
            Reason::ChannelDisabled,
        ),
        (
            Channel::Whatsapp,
            settings_from(
                account_json(),
                Some(with(agent_json(), "/whatsapp/template", Value::Null)),
                None,
            ),
            Reason::NoTemplate,
        ),
    ];
    for (channel, settings, reason) in cases {
        let followup = stored(channel);
        assert_eq!(
            recheck(&followup, &settings, &at_send(false), followup.due_at),
            SendCheck::Suppress(reason),
            "{channel}"
        );
    }
}

#[test]
fn a_follow_up_no_longer_waiting_is_skipped() {
    for status in [
        Status::Cancelled,
        Status::Sent,
        Status::NeedsReview,
        Status::Unknown,
        Status::Suppressed,
    ] {
        let mut followup = stored(Channel::Sms);
        followup.status = status;
        assert_eq!(
            recheck(&followup, &settings(), &at_send(false), now()),
            SendCheck::Skip(status)
        );
    }
}

#[test]
fn outside_the_window_at_send_time_moves_to_the_next_slot() {
    let call = stored(Channel::Call);
    let late = utc("2024-05-18T00:30:00Z"); // Fri 20:30 in New York
    let SendCheck::Hold { at: next, rules } = recheck(&call, &settings(), &at_send(false), late)
    else {
        panic!("expected a hold");
    };
    assert_eq!(rules, [policy::Rule::ALLOWED_WINDOW]);
    assert_eq!(local("America/New_York", next), "Sat 2024-05-18 08:00");
    // SMS keep to the quiet hours; email goes any time.
    let sms = stored(Channel::Sms);
    let night = utc("2024-05-15T03:00:00Z"); // 23:00 in New York
    assert_eq!(
        recheck(&sms, &settings(), &at_send(false), night),
        SendCheck::Hold {
            at: utc("2024-05-15T12:00:00Z"),
            rules: vec![policy::Rule::ALLOWED_WINDOW]
        }
    );
    assert_eq!(
        recheck(&stored(Channel::Email), &settings(), &at_send(false), night),
        SendCheck::Send
    );
}

#[test]
fn a_follow_up_picked_up_early_waits_for_its_due_time() {
    let call = stored(Channel::Call);
    let early = call.due_at - chrono::TimeDelta::minutes(10);
    assert_eq!(
        recheck(&call, &settings(), &at_send(false), early),
        SendCheck::Reschedule(call.due_at)
    );
    assert_eq!(
        recheck(
            &call,
            &settings(),
            &at_send(false),
            call.due_at - chrono::TimeDelta::seconds(30)
        ),
        SendCheck::Send
    );
}

#[test]
fn a_reviewed_sms_is_scheduled_to_the_number_the_operator_set() {
    let body = with(event_json(), "/analysis/sms_destination", Value::Null);
    let decisions = decide_now(&settings(), body);
    let mut sms = created(&decisions, Channel::Sms).into_followup(followup_id("fu-r"), now());
    assert_eq!(
        recheck(&sms, &settings(), &at_send(false), now()),
        SendCheck::Skip(Status::NeedsReview)
    );
    let number = policy::PhoneNumber::parse("destination", "+14155552672").unwrap();
    sms.review(number.clone(), now()).unwrap();
    assert_eq!(sms.status, Status::Scheduled);
    assert_eq!(sms.reason, Some(Reason::Reviewed));
    assert_eq!(sms.destination, Some(Destination::Phone(number.clone())));
    assert_eq!(
        recheck(&sms, &settings(), &at_send(false), now()),
        SendCheck::Send
    );
    assert!(
        sms.review(number, now()).is_err(),
        "only a needs_review SMS can be reviewed"
    );
}

#[test]
fn decisions_and_preconditions_serialize_for_the_dry_run() {
    let body = with(
        event_json(),
        "/analysis/followup_requests",
        json!([{"channel": "call"}]),
    );
    let decisions = decide_now(&settings(), body);
    let value = serde_json::to_value(&decisions).unwrap();
    assert_eq!(value["decisions"][0]["decision"], "create");
    assert_eq!(value["decisions"][0]["channel"], "sms");
    let preconditions = serde_json::to_value(decisions.preconditions()).unwrap();
    assert!(
        preconditions
            .as_array()
            .unwrap()
            .contains(&json!({"type": "not_on_dnc", "value": "+14155552671"})),
        "{preconditions}"
    );
    let check = serde_json::to_value(SendCheck::Suppress(Reason::Dnc)).unwrap();
    assert_eq!(check, json!({"action": "suppress", "value": "dnc"}));
}

#[test]
fn a_stored_follow_up_round_trips_through_json() {
    let mut call = stored(Channel::Call);
    call.attempts.push(policy::Attempt {
        attempt: 1,
        at: now(),
        status: Status::Placed,
        provider_id: Some("prov-1".into()),
        error: None,
        deliveries: Vec::new(),
    });
    let json = serde_json::to_value(&call).unwrap();
    assert_eq!(json["channel"], "call");
    assert_eq!(json["status"], "scheduled");
    assert_eq!(json["time_zone"], "America/New_York");
    assert_eq!(serde_json::from_value::<FollowUp>(json).unwrap(), call);
}
