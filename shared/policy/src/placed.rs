//! A follow-up call left `placed` beyond the wait for its completion webhook: what to
//! do with what its voice platform says about it. Never `placed` forever:
//!
//! | the platform's get-call answer | step |
//! |---|---|
//! | the call ended | record that end as its completion webhook would have been (its outcome then drives retry, completion or exhaustion) |
//! | still in progress, fewer than [`MAX_IN_PROGRESS_LOOKUPS`] times so far | stay `placed`, look again after the wait (`call_in_progress`) |
//! | still in progress, that many times already | `unknown` (`outcome_unknown`), with the platform's status |
//! | the lookup failed, or its answer did not read | `unknown`, with why |
//! | no platform to ask (the generic endpoint) | `unknown`, with why |

use chrono::{DateTime, Duration, Utc};

use crate::followup::{FollowUp, Reason, Status};

/// How many times a call still in progress is looked up again before its end is
/// called unknown.
pub const MAX_IN_PROGRESS_LOOKUPS: usize = 3;

/// What the lookup of a placed call found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallLookup {
    /// The call ended and its end reads: record it.
    Ended,
    /// The platform reports the call still going (`status` as it says it).
    InProgress { platform: String, status: String },
    /// The platform did not answer, refused, or its answer did not read.
    Failed { platform: String, detail: String },
    /// Nothing to ask: the call went through the generic endpoint.
    Unsupported,
}

/// What to do with a placed call whose wait is over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlacedStep {
    /// Record the call's end as its completion webhook.
    Record,
    /// Stay `placed`; look again at `until`.
    Wait {
        until: DateTime<Utc>,
        reason: Reason,
        detail: String,
    },
    /// End `unknown`, saying why.
    Unknown { reason: Reason, detail: String },
}

/// The step for `call`, placed and due (its wait over), given what the lookup found.
pub fn settle_placed(
    call: &FollowUp,
    lookup: &CallLookup,
    wait: Duration,
    now: DateTime<Utc>,
) -> PlacedStep {
    let unknown = |why: String| PlacedStep::Unknown {
        reason: Reason::OutcomeUnknown,
        detail: format!("{}; {why}", no_completion(call)),
    };
    match lookup {
        CallLookup::Ended => PlacedStep::Record,
        CallLookup::Unsupported => {
            unknown("it went through the generic voice endpoint, which has no call lookup".into())
        }
        CallLookup::Failed { platform, detail } => {
            unknown(format!("looking it up on {platform} failed: {detail}"))
        }
        CallLookup::InProgress { platform, status } => {
            let asked = in_progress_lookups(call) + 1;
            if asked >= MAX_IN_PROGRESS_LOOKUPS {
                return unknown(format!(
                    "{platform} still reports it {status} after {asked} lookups"
                ));
            }
            let until = now + wait;
            PlacedStep::Wait {
                until,
                reason: Reason::CallInProgress,
                detail: format!("{platform} reports the call {status}; looked up again at {until}"),
            }
        }
    }
}

/// How many lookups of the current attempt found the call still in progress.
pub fn in_progress_lookups(call: &FollowUp) -> usize {
    call.trace
        .iter()
        .rev()
        .take_while(|e| e.reason != Reason::ProviderAccepted)
        .filter(|e| e.channel.is_none() && e.reason == Reason::CallInProgress)
        .count()
}

/// "placed at … (call …) and no completion webhook arrived by …"
fn no_completion(call: &FollowUp) -> String {
    let placed = call
        .attempts
        .iter()
        .rev()
        .find(|a| a.attempt == call.attempt && a.status == Status::Placed);
    let placed_at = placed.map(|a| a.at).unwrap_or(call.updated_at);
    let provider = placed
        .and_then(|a| a.provider_id.as_deref())
        .unwrap_or("no id");
    format!(
        "placed at {placed_at} (call {provider}) and no completion webhook arrived by {}",
        call.due_at
    )
}

/// The platform's call id of the current attempt, to look it up by.
pub fn placed_call_id(call: &FollowUp) -> Option<&str> {
    call.attempts
        .iter()
        .rev()
        .find(|a| a.attempt == call.attempt && a.status == Status::Placed)
        .and_then(|a| a.provider_id.as_deref())
}
