//! The life of a follow-up as one state machine. Every change of a stored follow-up's
//! status, and the rule that allows it, is here: [`apply`] takes the follow-up as
//! stored, what happened ([`Event`]) and the time, and returns the follow-up after it,
//! its trace saying why, or which precondition failed ([`Refused`]). The caller writes
//! the result on condition that the stored version is still the one it read; it never
//! sets a status itself.
//!
//! | event | from | to |
//! |---|---|---|
//! | [`Event::Claim`] | `scheduled`, at the attempt asked | `sending` |
//! | [`Event::Settle`] | `sending` | `sent`, `placed` (calls), `suppressed` (opted out with the provider), `failed`, `unknown`, or `scheduled` again (the provider failing temporarily, fewer than [`MAX_PROVIDER_TRIES`] tries) |
//! | [`Event::Fail`] | `sending` | `failed` (nothing left: not renderable, no mailbox) |
//! | [`Event::ClaimExpired`] | `sending`, claimed [`CLAIM_TIMEOUT`] ago or more | `unknown` |
//! | [`Event::Suppress`] | `scheduled`, `sending` | `suppressed` (the send-time re-check) |
//! | [`Event::Hold`] | `scheduled` | `scheduled`, later (window closed, legal rule, cap) |
//! | [`Event::StillInProgress`] | `placed` | `placed`, looked at again later |
//! | [`Event::NoCompletion`] | `placed` | `unknown` |
//! | [`Event::Decided`] retry, finish | `sending`, `placed`, `unknown` (a call's completion) | `scheduled` (retry), `completed`, `exhausted`, `failed`, `suppressed`, `cancelled` |
//! | [`Event::Decided`] reschedule | `scheduled` | `scheduled` (a later call's request) |
//! | [`Event::Decided`] complete | `needs_review` | `scheduled` (a later call's number) |
//! | [`Event::Cancel`], [`Event::OptOut`] | `scheduled`, `needs_review` | `cancelled` |
//! | [`Event::Review`] | `needs_review` SMS | `scheduled`, due now (sent by hand) |
//!
//! Every other pair is refused. `sent`, `completed`, `cancelled`, `suppressed`,
//! `failed` and `exhausted` are terminal: no event changes them.

use chrono::{DateTime, Duration, Utc};

use crate::decide::Decision;
use crate::followup::{Attempt, Channel, FollowUp, Reason, Status, TraceEntry};
use crate::legal::{Rule, rule_list};
use crate::optout::DncSource;
use crate::recheck::whereabouts_now;
use crate::recipient::RecipientFacts;
use crate::values::{Destination, PhoneNumber};

/// How long a claim may stay `sending` before it is settled `unknown`. A claim is taken
/// after any wait for the due time, so it lives only as long as a send (each sender
/// gives up within about 40 s: 10 s timeouts, 3 tries); and it is shorter than Lambda's
/// two asynchronous retries (about 1 and 3 minutes after a failed invocation), so a
/// claim whose process died is surfaced by the last retry at the latest.
pub const CLAIM_TIMEOUT: Duration = Duration::seconds(90);
/// How often a provider that keeps failing temporarily is tried again for one attempt
/// before the follow-up is `failed`.
pub const MAX_PROVIDER_TRIES: usize = 3;
/// The wait before trying a temporarily failing provider again.
pub const PROVIDER_RETRY_DELAY: Duration = Duration::minutes(5);

/// What happened to a follow-up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The executor takes a due follow-up the send-time re-check let through; `token`
    /// names this claim, so a claim whose answer was lost is recognised as its own.
    Claim { attempt: u32, token: String },
    /// What the provider answered to the claimed send. A placed call is looked at
    /// again `placed_call_wait` later when no completion came by then.
    Settle {
        answer: ProviderAnswer,
        placed_call_wait: Duration,
    },
    /// The claimed follow-up cannot leave at all (not renderable, its mailbox cannot
    /// send): `failed`, without a try at the provider.
    Fail { reason: Reason, detail: String },
    /// A claim found still `sending`: its process died mid-send or could not record
    /// the outcome. Surfaced as `unknown`, never resent.
    ClaimExpired,
    /// The send-time re-check says never (do-not-call, channel off, no window, ...).
    Suppress { reason: Reason },
    /// A window or a legal rule holds it back until `until` (`rules` say which; none:
    /// it was simply early), read in the recipient's zone as `facts` know it now.
    Hold {
        until: DateTime<Utc>,
        rules: Vec<Rule>,
        facts: RecipientFacts,
    },
    /// A placed call beyond its wait that its platform reports still going: looked at
    /// again at `until` (see [`crate::placed`]).
    StillInProgress {
        until: DateTime<Utc>,
        reason: Reason,
        detail: String,
    },
    /// A placed call whose end could not be learned: `unknown`, saying why.
    NoCompletion { reason: Reason, detail: String },
    /// A later call's decision about this follow-up (its completion: retry or finish; a
    /// new request: reschedule; a confirmed number: complete).
    Decided(Box<Decision>),
    /// An operator cancels it before it goes out.
    Cancel,
    /// The contact opted out (`source` says how).
    OptOut { source: DncSource },
    /// An operator sets the number of a `needs_review` SMS and sends it by hand.
    Review { destination: PhoneNumber },
}

impl Event {
    /// What the event is called in a refusal.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Claim { .. } => "a claim",
            Self::Settle { .. } => "a provider's answer",
            Self::Fail { .. } => "a failure before sending",
            Self::ClaimExpired => "an expired claim",
            Self::Suppress { .. } => "a suppression at send time",
            Self::Hold { .. } => "a hold",
            Self::StillInProgress { .. } => "a call still in progress",
            Self::NoCompletion { .. } => "a call without completion",
            Self::Decided(_) => "a later call's decision",
            Self::Cancel => "a cancellation",
            Self::OptOut { .. } => "an opt-out",
            Self::Review { .. } => "a review",
        }
    }
}

/// What a provider answered to a send, as the policy reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProviderAnswer {
    /// Accepted under this id (a message is `sent`, a call `placed`).
    Accepted { provider_id: String },
    /// The recipient opted out with the provider.
    OptedOut,
    /// The connected mailbox lost its consent.
    MailboxDisconnected { reason: String },
    /// Refused for good.
    Rejected { code: String, reason: String },
    /// It may or may not have it (a timeout after the request left).
    Unknown { reason: String },
    /// Unavailable for now (throttled, a 5xx): tried again later, a few times.
    Unavailable { reason: String },
}

/// Why an event does not apply to a follow-up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("{event} does not apply to a {status} follow-up")]
    WrongStatus { event: &'static str, status: Status },
    #[error("{event} is for attempt {asked}; the follow-up is at attempt {current}")]
    WrongAttempt {
        event: &'static str,
        asked: u32,
        current: u32,
    },
    #[error("{event} does not apply to a {channel} follow-up")]
    WrongChannel {
        event: &'static str,
        channel: Channel,
    },
    /// The claim is recent: another invocation may still be sending it.
    #[error("claimed at {claimed_at}; another invocation is sending it")]
    ClaimFresh { claimed_at: DateTime<Utc> },
    /// The decision creates or notes a follow-up: it changes no stored one.
    #[error("the decision is not about a stored follow-up")]
    NotAboutAFollowUp,
}

/// The follow-up after `event`, at `now`, with its trace saying why; or why the event
/// does not apply.
pub fn apply(followup: &FollowUp, event: Event, now: DateTime<Utc>) -> Result<FollowUp, Refused> {
    check(followup, &event)?;
    let next = followup.clone();
    let (status, reason, detail) = match event {
        Event::Claim { attempt, token } => return claim(next, attempt, token, now),
        Event::Settle {
            answer,
            placed_call_wait,
        } => return Ok(settle(next, answer, placed_call_wait, now)),
        Event::ClaimExpired => return claim_expired(next, now),
        Event::Hold {
            until,
            rules,
            facts,
        } => return Ok(hold(next, until, rules, &facts, now)),
        Event::Decided(decision) => return decided(next, *decision, now),
        Event::Review { destination } => return Ok(review(next, destination, now)),
        Event::StillInProgress {
            until,
            reason,
            detail,
        } => {
            let waiting = FollowUp {
                due_at: until,
                ..next
            };
            return Ok(recorded(waiting, now, Status::Placed, reason, detail));
        }
        Event::Fail { reason, detail } => (Status::Failed, reason, detail),
        Event::Suppress { reason } => {
            (Status::Suppressed, reason, "re-checked at send time".into())
        }
        Event::NoCompletion { reason, detail } => (Status::Unknown, reason, detail),
        Event::Cancel => (
            Status::Cancelled,
            Reason::Cancelled,
            "cancelled by an operator".into(),
        ),
        Event::OptOut { source } => {
            let detail = format!("the contact opted out ({})", source.as_str());
            (Status::Cancelled, Reason::OptedOut, detail)
        }
    };
    Ok(recorded(next, now, status, reason, detail))
}

/// The statuses `event` may find the follow-up in: the "from" column of the table above.
fn allowed_from(event: &Event) -> &'static [Status] {
    match event {
        Event::Claim { .. } | Event::Hold { .. } => &[Status::Scheduled],
        Event::Settle { .. } | Event::Fail { .. } | Event::ClaimExpired => &[Status::Sending],
        // The re-check also runs after a claim.
        Event::Suppress { .. } => &[Status::Scheduled, Status::Sending],
        Event::StillInProgress { .. } | Event::NoCompletion { .. } => &[Status::Placed],
        Event::Decided(decision) => match **decision {
            Decision::Create(_) | Decision::Noted { .. } => &[],
            Decision::Reschedule { .. } => &[Status::Scheduled],
            Decision::Complete { .. } => &[Status::NeedsReview],
            // A later call's completion finds the follow-up call it was made for on its
            // way, placed, or with its outcome unknown.
            Decision::Retry { .. } | Decision::Finish { .. } => {
                &[Status::Sending, Status::Placed, Status::Unknown]
            }
        },
        Event::Cancel | Event::OptOut { .. } => &Status::OPEN,
        Event::Review { .. } => &[Status::NeedsReview],
    }
}

/// The event's preconditions other than the attempt: what it is about, then the status.
fn check(followup: &FollowUp, event: &Event) -> Result<(), Refused> {
    match event {
        Event::Decided(decision)
            if matches!(**decision, Decision::Create(_) | Decision::Noted { .. }) =>
        {
            return Err(Refused::NotAboutAFollowUp);
        }
        Event::Review { .. } if followup.channel != Channel::Sms => {
            return Err(Refused::WrongChannel {
                event: event.name(),
                channel: followup.channel,
            });
        }
        _ => {}
    }
    if allowed_from(event).contains(&followup.status) {
        Ok(())
    } else {
        Err(Refused::WrongStatus {
            event: event.name(),
            status: followup.status,
        })
    }
}

fn recorded(
    mut followup: FollowUp,
    at: DateTime<Utc>,
    status: Status,
    reason: Reason,
    detail: impl Into<String>,
) -> FollowUp {
    followup.record(at, status, reason, detail);
    followup
}

fn claim(
    followup: FollowUp,
    attempt: u32,
    token: String,
    now: DateTime<Utc>,
) -> Result<FollowUp, Refused> {
    if followup.attempt != attempt {
        return Err(Refused::WrongAttempt {
            event: "a claim",
            asked: attempt,
            current: followup.attempt,
        });
    }
    let detail = format!("claimed by the executor (claim {token})");
    Ok(recorded(
        followup,
        now,
        Status::Sending,
        Reason::Due,
        detail,
    ))
}

fn claim_expired(followup: FollowUp, now: DateTime<Utc>) -> Result<FollowUp, Refused> {
    let claimed_at = followup.updated_at;
    if now - claimed_at < CLAIM_TIMEOUT {
        return Err(Refused::ClaimFresh { claimed_at });
    }
    let detail =
        format!("claimed at {claimed_at} and never settled: the provider may or may not have it");
    Ok(recorded(
        followup,
        now,
        Status::Unknown,
        Reason::OutcomeUnknown,
        detail,
    ))
}

/// Records the provider's answer: the attempt, then the new status and its reason.
fn settle(
    mut done: FollowUp,
    answer: ProviderAnswer,
    placed_call_wait: Duration,
    at: DateTime<Utc>,
) -> FollowUp {
    let (status, reason, detail) = match answer {
        ProviderAnswer::Accepted { provider_id } => {
            return accepted(done, provider_id, placed_call_wait, at);
        }
        ProviderAnswer::Unavailable { reason } => return unavailable(done, reason, at),
        ProviderAnswer::OptedOut => (
            Status::Suppressed,
            Reason::OptedOut,
            "the recipient opted out with the provider".to_string(),
        ),
        ProviderAnswer::MailboxDisconnected { reason } => (
            Status::Failed,
            Reason::MailboxDisconnected,
            format!("the mailbox lost its consent: {reason}"),
        ),
        ProviderAnswer::Rejected { code, reason } => (
            Status::Failed,
            Reason::ProviderError,
            format!("{code}: {reason}"),
        ),
        ProviderAnswer::Unknown { reason } => (Status::Unknown, Reason::OutcomeUnknown, reason),
    };
    done.attempts
        .push(failed_attempt(done.attempt, at, status, &detail));
    recorded(done, at, status, reason, detail)
}

/// A message is `sent`; a call is `placed` and looked at again after the wait when no
/// completion came by then (the dispatcher schedules a placed call at its due time).
fn accepted(
    mut done: FollowUp,
    provider_id: String,
    placed_call_wait: Duration,
    at: DateTime<Utc>,
) -> FollowUp {
    let status = if done.channel == Channel::Call {
        done.due_at = at + placed_call_wait;
        Status::Placed
    } else {
        Status::Sent
    };
    done.attempts.push(Attempt {
        attempt: done.attempt,
        at,
        status,
        provider_id: Some(provider_id.clone()),
        error: None,
        deliveries: Vec::new(),
    });
    let detail = format!("accepted as {provider_id}");
    recorded(done, at, status, Reason::ProviderAccepted, detail)
}

/// The provider is unavailable for now: tried again after [`PROVIDER_RETRY_DELAY`],
/// until this attempt has failed [`MAX_PROVIDER_TRIES`] times.
fn unavailable(mut done: FollowUp, reason: String, at: DateTime<Utc>) -> FollowUp {
    let attempt = done.attempt;
    done.attempts
        .push(failed_attempt(attempt, at, Status::Failed, &reason));
    let tries = done
        .attempts
        .iter()
        .filter(|a| a.attempt == attempt && a.error.is_some())
        .count();
    if tries < MAX_PROVIDER_TRIES {
        let due_at = at + PROVIDER_RETRY_DELAY;
        done.due_at = due_at;
        let detail = format!("provider unavailable ({reason}); trying again at {due_at}");
        recorded(done, at, Status::Scheduled, Reason::ProviderError, detail)
    } else {
        let detail = format!("provider unavailable after {tries} tries: {reason}");
        recorded(done, at, Status::Failed, Reason::ProviderError, detail)
    }
}

fn failed_attempt(attempt: u32, at: DateTime<Utc>, status: Status, error: &str) -> Attempt {
    Attempt {
        attempt,
        at,
        status,
        provider_id: None,
        error: Some(error.to_string()),
        deliveries: Vec::new(),
    }
}

/// Moves a follow-up a window or a legal rule holds back to the instant it allows, in
/// the recipient's zone as known now, naming the rules in the trace. Its status and
/// reason stay: only the trace tells why it moved.
fn hold(
    mut moved: FollowUp,
    until: DateTime<Utc>,
    rules: Vec<Rule>,
    facts: &RecipientFacts,
    now: DateTime<Utc>,
) -> FollowUp {
    let place = whereabouts_now(&moved, facts);
    moved.due_at = until;
    moved.time_zone = place.primary_zone();
    moved.zone_source = Some(place.source);
    moved.updated_at = now;
    let legal = rules.iter().any(|r| *r != Rule::ALLOWED_WINDOW);
    let reason = if legal {
        Reason::HeldByRule
    } else {
        Reason::OutsideWindow
    };
    let detail = if rules.is_empty() {
        format!("moved to the next allowed instant, {until}")
    } else {
        format!("held by {} until {until}", rule_list(&rules))
    };
    moved
        .trace
        .push(TraceEntry::new(now, Status::Scheduled, reason, detail).held_by(rules));
    moved
}

/// A later call's decision about a stored follow-up: its fields, then the trace
/// entries the decision adds (the last one sets the status and the reason).
fn decided(
    mut next: FollowUp,
    decision: Decision,
    now: DateTime<Utc>,
) -> Result<FollowUp, Refused> {
    let trace = decision.trace();
    match decision {
        Decision::Reschedule {
            due_at,
            destination,
            content,
            ..
        }
        | Decision::Complete {
            due_at,
            destination,
            content,
            ..
        } => {
            next.due_at = due_at;
            next.destination = Some(destination);
            next.content = content;
        }
        Decision::Retry {
            attempt,
            due_at,
            destination,
            time_zone,
            ..
        } => {
            if attempt != next.attempt + 1 {
                return Err(Refused::WrongAttempt {
                    event: "a retry",
                    asked: attempt,
                    current: next.attempt,
                });
            }
            next.attempt = attempt;
            next.due_at = due_at;
            next.time_zone = time_zone;
            if destination.is_some() {
                next.destination = destination;
            }
        }
        Decision::Finish { .. } | Decision::Create(_) | Decision::Noted { .. } => {}
    }
    if let Some(last) = trace.last() {
        next.status = last.status;
        next.reason = Some(last.reason);
    }
    next.updated_at = now;
    next.trace.extend(trace);
    Ok(next)
}

/// An operator sets the number of a `needs_review` SMS and sends it: `scheduled`, due
/// now. The caller still runs [`crate::recheck`] (do-not-call, channel) before sending.
fn review(mut reviewed: FollowUp, destination: PhoneNumber, now: DateTime<Utc>) -> FollowUp {
    let detail = format!("destination set to {destination} by an operator");
    reviewed.destination = Some(Destination::Phone(destination));
    reviewed.due_at = now;
    recorded(reviewed, now, Status::Scheduled, Reason::Reviewed, detail)
}
