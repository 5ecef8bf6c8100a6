//! Rules operators rely on when they read and act on follow-ups: once per contact means
//! sent, an invalid contact zone loses nothing, every reason says what happened on its
//! own channel, and a suppression is stored once.

mod common;

use common::*;
use policy::{
    CallOutcome, Channel, Decision, Destination, FollowUp, FollowUpId, GuardKey, GuardKind,
    History, Precondition, Reason, Status, SuppressionKey, TimeZone, decide,
};
use serde_json::{Value, json};

fn id(s: &str) -> FollowUpId {
    FollowUpId::parse("id", s).unwrap()
}

fn guard(kind: GuardKind) -> GuardKey {
    GuardKey {
        campaign_id: policy::CampaignId::parse("c", "camp-1").unwrap(),
        contact_id: policy::ContactId::parse("c", "contact-1").unwrap(),
        kind,
    }
}

fn suppression(channel: Channel, reason: Reason) -> SuppressionKey {
    SuppressionKey {
        campaign_id: policy::CampaignId::parse("c", "camp-1").unwrap(),
        contact_id: policy::ContactId::parse("c", "contact-1").unwrap(),
        channel,
        reason,
    }
}

/// The SMS an earlier call left waiting for an operator to set its number.
fn sms_in_review() -> FollowUp {
    let unconfirmed = with(
        event_json(),
        "/analysis/sms_destination/confirmed",
        json!(false),
    );
    let decisions = decide_now(&settings(), unconfirmed);
    let sms = created(&decisions, Channel::Sms);
    assert_eq!(sms.status, Status::NeedsReview);
    sms.into_followup(id("fu-review"), now())
}

// Once per contact means sent.

#[test]
fn only_a_follow_up_that_may_have_reached_the_contact_spends_the_once() {
    for (status, holds) in [
        (Status::Scheduled, true),
        (Status::Sending, true),
        (Status::Sent, true),
        (Status::Unknown, true),
        (Status::NeedsReview, true),
        (Status::Cancelled, false),
        (Status::Suppressed, false),
        (Status::Failed, false),
    ] {
        assert_eq!(status.holds_guard(), holds, "{status}");
    }
}

#[test]
fn a_later_calls_confirmed_number_completes_the_sms_waiting_for_review() {
    let mut history = History::default();
    history.learn_awaiting_review(sms_in_review());
    let later = with(event_json(), "/call/id", json!("call-2"));
    let decisions = decide(&settings(), &event(later), &history, now());
    assert!(!has_channel(&decisions, Channel::Sms), "{decisions:#?}");
    let completed = decisions.iter().find_map(|d| match d {
        Decision::Complete {
            followup_id,
            destination,
            due_at,
            trace,
            ..
        } => Some((followup_id, destination, due_at, trace)),
        _ => None,
    });
    let (followup_id, destination, due_at, trace) = completed.expect("a completion");
    assert_eq!(followup_id.as_str(), "fu-review");
    assert_eq!(
        destination,
        &Destination::parse("d", "+14155552671").unwrap()
    );
    assert_eq!(*due_at, now());
    assert_eq!(
        (trace.status, trace.reason),
        (Status::Scheduled, Reason::Consented)
    );
    let preconditions = decisions.preconditions();
    assert!(preconditions.contains(&Precondition::NotOnDnc(destination.clone())));
    assert!(
        !preconditions.iter().any(|p| matches!(
            p,
            Precondition::NotYetSent {
                kind: GuardKind::Sms,
                ..
            }
        )),
        "the guard stays with the SMS in review: {preconditions:#?}"
    );
}

#[test]
fn a_later_call_without_a_confirmed_number_leaves_the_sms_in_review_alone() {
    let mut history = History::default();
    history.learn_awaiting_review(sms_in_review());
    let unconfirmed = with(event_json(), "/analysis/sms_destination", Value::Null);
    let decisions = decide(&settings(), &event(unconfirmed), &history, now());
    let sms = created(&decisions, Channel::Sms);
    assert_eq!(
        (sms.status, sms.reason),
        (Status::Suppressed, Reason::AwaitingReview)
    );
}

#[test]
fn an_sms_already_sent_is_still_not_sent_twice() {
    let mut history = History::default();
    history.learn_already_sent(guard(GuardKind::Sms));
    let decisions = decide(&settings(), &event(event_json()), &history, now());
    assert_eq!(
        created(&decisions, Channel::Sms).reason,
        Reason::AlreadySent
    );
}

// An invalid contact zone does not lose the call.

#[test]
fn an_invalid_contact_timezone_is_decided_in_the_fallback_zone_and_says_so() {
    // A number whose area code gives no zone (a NANP number's would: tests/legal.rs).
    let body = with(
        with(
            with(event_json(), "/contact/timezone", json!("Mars/Olympus")),
            "/analysis/followup_requests",
            json!([{"channel": "call"}]),
        ),
        "/contact/phone",
        json!("+447400123456"),
    );
    let decisions = decide_now(&settings(), body);
    let fallback = settings().zone_for(None);
    assert_ne!(fallback, TimeZone::parse("z", "America/New_York").unwrap());
    let created: Vec<_> = decisions.created().collect();
    assert_eq!(created.len(), 3, "sms, email, call: {decisions:#?}");
    for new in created {
        assert_eq!(new.time_zone, fallback, "{}", new.channel);
        let first = &new.trace[0];
        assert_eq!(first.reason, Reason::InvalidContactTimezone);
        assert!(first.detail.contains("Mars/Olympus"), "{}", first.detail);
        assert_eq!(new.trace.last().map(|t| t.reason), Some(new.reason));
    }
}

// Every reason says what happened, on its own channel.

#[test]
fn every_decided_reason_fits_its_channel_and_is_the_latest_trace_entrys() {
    let outcomes = CallOutcome::ALL.map(|o| o.as_str());
    let mut checked = 0;
    for outcome in outcomes {
        for consent in [true, false] {
            for confirmed in [true, false] {
                let body = with(
                    with(
                        with(event_json(), "/call/outcome", json!(outcome)),
                        "/analysis/consent",
                        json!({"sms": consent, "email": consent, "whatsapp": consent}),
                    ),
                    "/analysis/followup_requests",
                    json!([{"channel": "call"}, {"channel": "whatsapp"}, {"channel": "call", "at": "2024-05-18T23:00"}]),
                );
                let body = with(
                    body,
                    "/analysis/sms_destination/confirmed",
                    json!(confirmed),
                );
                for decision in decide_now(&settings(), body).iter() {
                    let trace = decision.trace();
                    let last = trace.last().expect("every decision records a step");
                    if let Decision::Create(new) = decision {
                        assert!(
                            new.reason.fits(new.channel),
                            "{:?} on {}",
                            new.reason,
                            new.channel
                        );
                        assert_eq!(last.reason, new.reason);
                        checked += 1;
                    }
                }
            }
        }
    }
    assert!(checked > 100, "{checked}");
}

#[test]
fn reasons_of_one_channel_do_not_describe_another() {
    for (reason, fits, does_not_fit) in [
        (Reason::Requested, Channel::Call, Channel::Sms),
        (Reason::Requested, Channel::Whatsapp, Channel::Email),
        (Reason::Consented, Channel::Sms, Channel::Call),
        (Reason::MissedCall, Channel::MissedCallEmail, Channel::Email),
        (Reason::Reviewed, Channel::Sms, Channel::Email),
        (Reason::Answered, Channel::Call, Channel::Whatsapp),
        (
            Reason::AskForEmailOff,
            Channel::Email,
            Channel::MissedCallEmail,
        ),
    ] {
        assert!(reason.fits(fits), "{reason} on {fits}");
        assert!(!reason.fits(does_not_fit), "{reason} on {does_not_fit}");
    }
    for channel in Channel::ALL {
        for reason in [Reason::Due, Reason::OutsideWindow, Reason::ProviderAccepted] {
            assert!(reason.fits(channel), "{reason} on {channel}");
        }
    }
}

// A suppression is stored once.

#[test]
fn a_suppression_already_stored_is_noted_not_stored_again() {
    let mut history = History::default();
    history.learn_suppressed(suppression(Channel::Sms, Reason::NoConsent), id("fu-first"));
    let body = with(event_json(), "/analysis/consent/sms", json!(false));
    let decisions = decide(&settings(), &event(body), &history, now());
    assert!(!has_channel(&decisions, Channel::Sms), "{decisions:#?}");
    let noted = decisions.iter().find_map(|d| match d {
        Decision::Noted {
            channel,
            recorded_as,
            trace,
        } => Some((channel, recorded_as, trace)),
        _ => None,
    });
    let (channel, recorded_as, trace) = noted.expect("a note");
    assert_eq!((*channel, recorded_as.as_str()), (Channel::Sms, "fu-first"));
    assert_eq!(
        (trace.status, trace.reason, trace.channel),
        (Status::Suppressed, Reason::NoConsent, Some(Channel::Sms))
    );
    assert!(
        !decisions
            .preconditions()
            .iter()
            .any(|p| matches!(p, Precondition::NotYetSuppressed(k) if k.channel == Channel::Sms))
    );
}

#[test]
fn a_new_suppression_is_written_once_and_checked_in_the_same_write() {
    let body = with(event_json(), "/analysis/consent/sms", json!(false));
    let decisions = decide_now(&settings(), body);
    assert!(
        decisions
            .preconditions()
            .contains(&Precondition::NotYetSuppressed(suppression(
                Channel::Sms,
                Reason::NoConsent
            )))
    );
}

#[test]
fn a_follow_up_calls_completion_keeps_repeated_suppressions_in_its_own_trace() {
    let mut original = sms_in_review();
    original.id = id("fu-call");
    original.channel = Channel::Call;
    original.status = Status::Placed;
    original.max_retries = Some(2);
    let mut history = History {
        original_followup: Some(original),
        ..History::default()
    };
    history.learn_suppressed(
        suppression(Channel::Sms, Reason::NotAnswered),
        id("fu-sms-1"),
    );
    history.learn_suppressed(
        suppression(Channel::Email, Reason::NotAnswered),
        id("fu-email-1"),
    );
    let body = with(
        with(event_json(), "/call/followup_id", json!("fu-call")),
        "/call/outcome",
        json!("no_answer"),
    );
    let decisions = decide(&settings(), &event(body), &history, now());
    assert_eq!(
        decisions
            .created()
            .filter(|f| f.status == Status::Suppressed)
            .count(),
        0
    );
    let retry = decisions
        .iter()
        .find(|d| matches!(d, Decision::Retry { .. }))
        .expect("a retry");
    let trace = retry.trace();
    let noted: Vec<_> = trace.iter().filter_map(|t| t.channel).collect();
    assert_eq!(noted, [Channel::Sms, Channel::Email]);
    let own = trace.last().unwrap();
    assert_eq!((own.channel, own.reason), (None, Reason::NotAnswered));
}

#[test]
fn alike_suppressions_in_one_call_are_one_follow_up() {
    let body = with(
        event_json(),
        "/analysis/followup_requests",
        json!([{"channel": "call"}, {"channel": "call"}, {"channel": "call"}]),
    );
    let decisions = decide_now(&settings(), body);
    let superseded: Vec<_> = decisions
        .created()
        .filter(|f| f.reason == Reason::Superseded)
        .collect();
    assert_eq!(superseded.len(), 1, "{decisions:#?}");
    assert_eq!(superseded[0].trace.len(), 2);
}
