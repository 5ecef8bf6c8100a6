//! The life of a follow-up as one state machine: which event moves which status where,
//! what each step records, and what no event may ever do (change a terminal follow-up,
//! change it without a trace entry, go back an attempt).

mod common;

use chrono::{DateTime, Duration, Utc};
use common::*;
use policy::lifecycle::{
    CLAIM_TIMEOUT, Event, MAX_PROVIDER_TRIES, PROVIDER_RETRY_DELAY, ProviderAnswer, Refused, apply,
};
use policy::{
    Channel, Decision, DncSource, FollowUp, FollowUpId, PhoneNumber, Reason, RecipientFacts, Rule,
    Status, TimeZone, TraceEntry,
};
use proptest::prelude::*;
use serde_json::json;

const WAIT: Duration = Duration::minutes(120);

/// A follow-up call an agent asked for, stored at `now()` and set to `status`.
fn call(status: Status) -> FollowUp {
    let mut call = requested_call();
    call.status = status;
    call
}

fn on(channel: Channel, status: Status) -> FollowUp {
    let mut followup = call(status);
    followup.channel = channel;
    followup
}

fn later() -> DateTime<Utc> {
    now() + Duration::minutes(10)
}

fn settle(answer: ProviderAnswer) -> Event {
    Event::Settle {
        answer,
        placed_call_wait: WAIT,
    }
}

fn last(followup: &FollowUp) -> &TraceEntry {
    followup.trace.last().expect("a trace entry")
}

fn phone() -> PhoneNumber {
    PhoneNumber::parse("destination", "+14155550123").unwrap()
}

fn wrong_status(event: &Event, status: Status) -> Refused {
    Refused::WrongStatus {
        event: event.name(),
        status,
    }
}

#[test]
fn a_due_follow_up_is_claimed_at_its_attempt_only() {
    let scheduled = call(Status::Scheduled);
    let claim = |attempt| Event::Claim {
        attempt,
        token: "t-1".into(),
    };
    let claimed = apply(&scheduled, claim(1), later()).unwrap();
    assert_eq!(claimed.status, Status::Sending);
    assert_eq!(claimed.reason, Some(Reason::Due));
    assert!(last(&claimed).detail.contains("claim t-1"));
    assert_eq!(claimed.updated_at, later());

    assert_eq!(
        apply(&scheduled, claim(2), later()),
        Err(Refused::WrongAttempt {
            event: "a claim",
            asked: 2,
            current: 1
        })
    );
    let sending = call(Status::Sending);
    assert_eq!(
        apply(&sending, claim(1), later()),
        Err(wrong_status(&claim(1), Status::Sending))
    );
}

#[test]
fn a_providers_answer_settles_the_claim() {
    let accepted = || ProviderAnswer::Accepted {
        provider_id: "m-1".into(),
    };
    // (channel, answer, status, reason, what the detail says)
    let table = [
        (
            Channel::Sms,
            accepted(),
            Status::Sent,
            Reason::ProviderAccepted,
            "accepted as m-1",
        ),
        (
            Channel::Call,
            accepted(),
            Status::Placed,
            Reason::ProviderAccepted,
            "accepted as m-1",
        ),
        (
            Channel::Sms,
            ProviderAnswer::OptedOut,
            Status::Suppressed,
            Reason::OptedOut,
            "opted out with the provider",
        ),
        (
            Channel::Email,
            ProviderAnswer::MailboxDisconnected {
                reason: "invalid_grant".into(),
            },
            Status::Failed,
            Reason::MailboxDisconnected,
            "the mailbox lost its consent: invalid_grant",
        ),
        (
            Channel::Sms,
            ProviderAnswer::Rejected {
                code: "InvalidNumber".into(),
                reason: "no such number".into(),
            },
            Status::Failed,
            Reason::ProviderError,
            "InvalidNumber: no such number",
        ),
        (
            Channel::Whatsapp,
            ProviderAnswer::Unknown {
                reason: "timed out".into(),
            },
            Status::Unknown,
            Reason::OutcomeUnknown,
            "timed out",
        ),
    ];
    for (channel, answer, status, reason, detail) in table {
        let sending = on(channel, Status::Sending);
        let done = apply(&sending, settle(answer.clone()), later()).unwrap();
        assert_eq!(
            (done.status, done.reason),
            (status, Some(reason)),
            "{answer:?}"
        );
        assert!(last(&done).detail.contains(detail), "{answer:?}: {done:#?}");
        let attempt = done.attempts.last().expect("the attempt is recorded");
        assert_eq!((attempt.attempt, attempt.status), (1, status), "{answer:?}");
        let accepted = matches!(answer, ProviderAnswer::Accepted { .. });
        assert_eq!(attempt.provider_id.is_some(), accepted, "{answer:?}");
        assert_eq!(attempt.error.is_some(), !accepted, "{answer:?}");
    }
}

#[test]
fn a_placed_call_is_looked_at_again_after_the_wait() {
    let placed = apply(
        &call(Status::Sending),
        settle(ProviderAnswer::Accepted {
            provider_id: "vapi-1".into(),
        }),
        later(),
    )
    .unwrap();
    assert_eq!(placed.due_at, later() + WAIT);
    let sent = apply(
        &on(Channel::Sms, Status::Sending),
        settle(ProviderAnswer::Accepted {
            provider_id: "m-1".into(),
        }),
        later(),
    )
    .unwrap();
    assert_eq!(
        sent.due_at,
        call(Status::Sending).due_at,
        "a message's due time stays"
    );
}

#[test]
fn a_provider_failing_for_now_is_tried_again_a_few_times_then_fails() {
    let unavailable = || {
        settle(ProviderAnswer::Unavailable {
            reason: "throttled".into(),
        })
    };
    let mut followup = on(Channel::Sms, Status::Sending);
    for tries in 1..=MAX_PROVIDER_TRIES {
        let at = later() + Duration::minutes(tries as i64 * 10);
        followup.status = Status::Sending;
        followup = apply(&followup, unavailable(), at).unwrap();
        assert_eq!(followup.attempts.len(), tries);
        if tries < MAX_PROVIDER_TRIES {
            assert_eq!(followup.status, Status::Scheduled, "try {tries}");
            assert_eq!(followup.due_at, at + PROVIDER_RETRY_DELAY);
            assert_eq!(followup.attempt, 1, "the same attempt is tried again");
        } else {
            assert_eq!(followup.status, Status::Failed);
            assert!(last(&followup).detail.contains("after 3 tries"));
        }
        assert_eq!(followup.reason, Some(Reason::ProviderError));
    }
}

#[test]
fn a_claim_is_called_unknown_only_once_it_is_old() {
    let mut sending = call(Status::Sending);
    sending.updated_at = now();
    let fresh = now() + CLAIM_TIMEOUT - Duration::seconds(1);
    assert_eq!(
        apply(&sending, Event::ClaimExpired, fresh),
        Err(Refused::ClaimFresh { claimed_at: now() })
    );
    let unknown = apply(&sending, Event::ClaimExpired, now() + CLAIM_TIMEOUT).unwrap();
    assert_eq!(unknown.status, Status::Unknown);
    assert_eq!(unknown.reason, Some(Reason::OutcomeUnknown));
    assert!(last(&unknown).detail.contains("never settled"));
}

#[test]
fn nothing_left_to_send_fails_the_claim() {
    let event = Event::Fail {
        reason: Reason::MailboxDisconnected,
        detail: "mailbox gone".into(),
    };
    let failed = apply(&on(Channel::Email, Status::Sending), event.clone(), later()).unwrap();
    assert_eq!(failed.status, Status::Failed);
    assert_eq!(failed.reason, Some(Reason::MailboxDisconnected));
    assert!(failed.attempts.is_empty(), "the provider was not tried");
    let scheduled = on(Channel::Email, Status::Scheduled);
    assert_eq!(
        apply(&scheduled, event.clone(), later()),
        Err(wrong_status(&event, Status::Scheduled))
    );
}

#[test]
fn the_send_time_recheck_suppresses_or_holds_a_scheduled_follow_up() {
    let scheduled = on(Channel::Sms, Status::Scheduled);
    let suppressed = apply(
        &scheduled,
        Event::Suppress {
            reason: Reason::Dnc,
        },
        later(),
    )
    .unwrap();
    assert_eq!(suppressed.status, Status::Suppressed);
    assert_eq!(suppressed.reason, Some(Reason::Dnc));
    assert_eq!(last(&suppressed).detail, "re-checked at send time");

    let chicago = TimeZone::parse("zone", "America/Chicago").unwrap();
    let facts = RecipientFacts {
        zone: Some(chicago),
        ..RecipientFacts::default()
    };
    let until = now() + Duration::hours(20);
    // (rules, trace reason, what the detail says)
    let table = [
        (Vec::new(), Reason::OutsideWindow, "next allowed instant"),
        (
            vec![Rule::ALLOWED_WINDOW],
            Reason::OutsideWindow,
            "held by allowed_window",
        ),
        (
            vec![Rule::ALLOWED_WINDOW, Rule::FEDERAL_HOURS],
            Reason::HeldByRule,
            "held by",
        ),
    ];
    for (rules, reason, detail) in table {
        let event = Event::Hold {
            until,
            rules: rules.clone(),
            facts: facts.clone(),
        };
        let held = apply(&scheduled, event, later()).unwrap();
        assert_eq!(held.status, Status::Scheduled);
        assert_eq!(
            held.reason, scheduled.reason,
            "only the trace says why it moved"
        );
        assert_eq!((held.due_at, held.time_zone), (until, chicago));
        assert_eq!(last(&held).reason, reason);
        assert!(last(&held).detail.contains(detail), "{held:#?}");
        assert_eq!(last(&held).rules, rules);
    }
}

#[test]
fn a_placed_call_without_its_completion_waits_or_ends_unknown() {
    let placed = call(Status::Placed);
    let until = later() + WAIT;
    let waiting = Event::StillInProgress {
        until,
        reason: Reason::CallInProgress,
        detail: "ringing".into(),
    };
    let waited = apply(&placed, waiting.clone(), later()).unwrap();
    assert_eq!((waited.status, waited.due_at), (Status::Placed, until));
    let unknown = Event::NoCompletion {
        reason: Reason::OutcomeUnknown,
        detail: "no lookup".into(),
    };
    let ended = apply(&placed, unknown.clone(), later()).unwrap();
    assert_eq!(ended.status, Status::Unknown);
    for event in [waiting, unknown] {
        assert_eq!(
            apply(&call(Status::Sending), event.clone(), later()),
            Err(wrong_status(&event, Status::Sending))
        );
    }
}

fn retry(attempt: u32) -> Decision {
    Decision::Retry {
        followup_id: FollowUpId::parse("followup_id", "fu-call").unwrap(),
        attempt,
        due_at: now() + Duration::hours(1),
        destination: None,
        time_zone: TimeZone::UTC,
        notes: Vec::new(),
        trace: TraceEntry::new(later(), Status::Scheduled, Reason::NotAnswered, "no answer"),
    }
}

fn finish(status: Status, reason: Reason) -> Decision {
    Decision::Finish {
        followup_id: FollowUpId::parse("followup_id", "fu-call").unwrap(),
        status,
        reason,
        notes: vec![
            TraceEntry::new(later(), Status::Suppressed, Reason::Dnc, "sms").about(Channel::Sms),
        ],
        trace: TraceEntry::new(later(), status, reason, "ended"),
    }
}

#[test]
fn a_calls_completion_retries_or_finishes_the_follow_up_call_in_flight() {
    for from in [Status::Placed, Status::Sending, Status::Unknown] {
        let retried = apply(&call(from), Event::Decided(Box::new(retry(2))), later()).unwrap();
        assert_eq!((retried.status, retried.attempt), (Status::Scheduled, 2));
        assert_eq!(retried.reason, Some(Reason::NotAnswered));
        assert_eq!(retried.due_at, now() + Duration::hours(1));
        assert_eq!(retried.time_zone, TimeZone::UTC);
        assert_eq!(
            retried.destination,
            call(from).destination,
            "kept when none is given"
        );

        let answered = finish(Status::Completed, Reason::Answered);
        let done = apply(&call(from), Event::Decided(Box::new(answered)), later()).unwrap();
        assert_eq!(done.status, Status::Completed);
        assert_eq!(
            done.trace.len(),
            call(from).trace.len() + 2,
            "the note and the end"
        );
        assert_eq!(last(&done).reason, Reason::Answered);
    }
    let scheduled = call(Status::Scheduled);
    let decided = Event::Decided(Box::new(retry(2)));
    assert_eq!(
        apply(&scheduled, decided.clone(), later()),
        Err(wrong_status(&decided, Status::Scheduled))
    );
    assert_eq!(
        apply(
            &call(Status::Placed),
            Event::Decided(Box::new(retry(3))),
            later()
        ),
        Err(Refused::WrongAttempt {
            event: "a retry",
            asked: 3,
            current: 1
        })
    );
}

#[test]
fn only_an_open_follow_up_is_cancelled_by_an_operator_or_an_opt_out() {
    let opt_out = Event::OptOut {
        source: DncSource::SmsReply,
    };
    for status in Status::ALL {
        let open = matches!(status, Status::Scheduled | Status::NeedsReview);
        for (event, reason) in [
            (Event::Cancel, Reason::Cancelled),
            (opt_out.clone(), Reason::OptedOut),
        ] {
            let result = apply(&on(Channel::Sms, status), event.clone(), later());
            match result {
                Ok(cancelled) => {
                    assert!(open, "{status}");
                    assert_eq!(cancelled.status, Status::Cancelled);
                    assert_eq!(cancelled.reason, Some(reason));
                }
                Err(refused) => {
                    assert!(!open, "{status}");
                    assert_eq!(refused, wrong_status(&event, status));
                }
            }
        }
    }
}

#[test]
fn an_operator_sends_a_needs_review_sms_by_hand() {
    let in_review = on(Channel::Sms, Status::NeedsReview);
    let event = Event::Review {
        destination: phone(),
    };
    let reviewed = apply(&in_review, event.clone(), later()).unwrap();
    assert_eq!(reviewed.status, Status::Scheduled);
    assert_eq!(reviewed.reason, Some(Reason::Reviewed));
    assert_eq!(reviewed.due_at, later());
    assert_eq!(
        reviewed.destination,
        Some(policy::Destination::Phone(phone()))
    );

    assert_eq!(
        apply(
            &on(Channel::Email, Status::NeedsReview),
            event.clone(),
            later()
        ),
        Err(Refused::WrongChannel {
            event: "a review",
            channel: Channel::Email
        })
    );
    assert_eq!(
        apply(&on(Channel::Sms, Status::Scheduled), event.clone(), later()),
        Err(wrong_status(&event, Status::Scheduled))
    );
}

#[test]
fn a_decision_that_creates_or_notes_changes_no_stored_follow_up() {
    let event = with(event_json(), "/analysis/followup_requests", json!([]));
    let decisions = decide_now(&settings(), event);
    let create = decisions.iter().next().expect("a decision").clone();
    assert!(matches!(create, Decision::Create(_)));
    assert_eq!(
        apply(
            &call(Status::Scheduled),
            Event::Decided(Box::new(create)),
            later()
        ),
        Err(Refused::NotAboutAFollowUp)
    );
}

const TERMINAL: [Status; 6] = [
    Status::Sent,
    Status::Completed,
    Status::Cancelled,
    Status::Suppressed,
    Status::Failed,
    Status::Exhausted,
];

fn any_status() -> impl Strategy<Value = Status> {
    prop::sample::select(Status::ALL.to_vec())
}

fn any_channel() -> impl Strategy<Value = Channel> {
    prop::sample::select(Channel::ALL.to_vec())
}

fn any_answer() -> impl Strategy<Value = ProviderAnswer> {
    prop_oneof![
        Just(ProviderAnswer::Accepted {
            provider_id: "p-1".into()
        }),
        Just(ProviderAnswer::OptedOut),
        Just(ProviderAnswer::MailboxDisconnected {
            reason: "gone".into()
        }),
        Just(ProviderAnswer::Rejected {
            code: "c".into(),
            reason: "r".into()
        }),
        Just(ProviderAnswer::Unknown {
            reason: "timeout".into()
        }),
        Just(ProviderAnswer::Unavailable {
            reason: "5xx".into()
        }),
    ]
}

fn any_event() -> impl Strategy<Value = Event> {
    let reason = prop::sample::select(Reason::ALL.to_vec());
    prop_oneof![
        (0u32..4).prop_map(|attempt| Event::Claim {
            attempt,
            token: "t".into()
        }),
        any_answer().prop_map(settle),
        reason.clone().prop_map(|reason| Event::Fail {
            reason,
            detail: "d".into()
        }),
        Just(Event::ClaimExpired),
        reason.clone().prop_map(|reason| Event::Suppress { reason }),
        (0i64..5_000).prop_map(|minutes| Event::Hold {
            until: now() + Duration::minutes(minutes),
            rules: Vec::new(),
            facts: RecipientFacts::default(),
        }),
        (0i64..500).prop_map(|minutes| Event::StillInProgress {
            until: now() + Duration::minutes(minutes),
            reason: Reason::CallInProgress,
            detail: "ringing".into()
        }),
        reason.prop_map(|reason| Event::NoCompletion {
            reason,
            detail: "d".into()
        }),
        (1u32..5).prop_map(|attempt| Event::Decided(Box::new(retry(attempt)))),
        Just(Event::Decided(Box::new(finish(
            Status::Exhausted,
            Reason::RetriesExhausted
        )))),
        Just(Event::Cancel),
        Just(Event::OptOut {
            source: DncSource::Complaint
        }),
        Just(Event::Review {
            destination: phone()
        }),
    ]
}

proptest! {
    #[test]
    fn every_step_keeps_the_follow_ups_invariants(
        status in any_status(),
        channel in any_channel(),
        attempt in 1u32..4,
        event in any_event(),
        after in 0i64..10_000,
    ) {
        let mut before = on(channel, status);
        before.attempt = attempt;
        let now = now() + Duration::seconds(after);
        let Ok(next) = apply(&before, event.clone(), now) else {
            return Ok(());
        };
        // A terminal follow-up never changes.
        prop_assert!(!TERMINAL.contains(&before.status), "{status} changed by {event:?}");
        // The trace grows by the event's entries, the last naming the new status.
        let added = match &event {
            Event::Decided(decision) => decision.trace().len(),
            _ => 1,
        };
        prop_assert_eq!(next.trace.len(), before.trace.len() + added);
        prop_assert_eq!(&next.trace[..before.trace.len()], &before.trace[..]);
        prop_assert_eq!(last(&next).status, next.status);
        prop_assert_eq!(next.updated_at, now);
        // What the follow-up is never changes.
        prop_assert_eq!(
            (&next.id, &next.account_id, &next.contact_id, next.channel, next.created_at),
            (&before.id, &before.account_id, &before.contact_id, before.channel, before.created_at)
        );
        // Only a retry moves to the next attempt, and only one attempt on.
        let retried = matches!(&event, Event::Decided(d) if matches!(**d, Decision::Retry { .. }));
        let expected = if retried { attempt + 1 } else { attempt };
        prop_assert_eq!(next.attempt, expected);
        // Only a provider's answer records a try at the provider.
        let settled = matches!(event, Event::Settle { .. });
        prop_assert_eq!(next.attempts.len(), before.attempts.len() + usize::from(settled));
    }
}
