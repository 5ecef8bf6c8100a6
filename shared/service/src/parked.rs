//! Executor invocations Lambda gave up on: nothing is left `sending` for good.
//!
//! An asynchronous executor invocation that fails three times (Lambda's two retries) is
//! recorded in the executors' failure queue (`ExecutorFailureQueue` in template.yaml).
//! If the last of those invocations had claimed its follow-up and then could not record
//! the outcome, no later invocation would ever look at it again: the dispatcher consumes
//! that queue and settles such claims here, once they are older than
//! [`CLAIM_TIMEOUT`](crate::execute::CLAIM_TIMEOUT), as `unknown` — never resent.
//! Anything else (a follow-up still `scheduled` whose executor kept failing) is left in
//! the queue, which hands it after a few receives to the alarmed parked queue for an
//! operator to look at.

use chrono::{DateTime, Utc};
use policy::{AccountId, FollowUpId, Status};
use serde::Deserialize;

use crate::error::ServiceError;
use crate::execute::{ExecutorInput, Outcome, settle_claim};
use crate::repository::Repository;

/// What became of one parked invocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parked {
    /// The follow-up was settled by its executor or otherwise since: nothing to do.
    Done,
    /// A claim left `sending` is now `unknown` (the provider may or may not have it).
    SettledUnknown { detail: String },
    /// Its claim is still fresh: look again later (the message stays in the queue).
    ClaimFresh,
    /// Still waiting to be sent (or a placed call waiting to be looked at) after its
    /// executor failed repeatedly: for an operator (the message stays in the queue, then
    /// moves to the alarmed parked queue).
    ForOperator { status: Status },
}

impl Parked {
    /// Whether the queue message is finished with (deleted) or must stay.
    pub fn is_finished(&self) -> bool {
        matches!(self, Parked::Done | Parked::SettledUnknown { .. })
    }
}

/// Settles the follow-up of one invocation Lambda gave up on.
pub async fn settle_parked(
    repo: &Repository,
    input: &ExecutorInput,
    now: DateTime<Utc>,
) -> Result<Parked, ServiceError> {
    let account = AccountId::parse("account_id", &input.account_id)
        .map_err(policy::ValidationErrors::from)?;
    let id = FollowUpId::parse("followup_id", &input.followup_id)
        .map_err(policy::ValidationErrors::from)?;
    let Some(stored) = repo.followup(&account, &id).await? else {
        return Ok(Parked::Done);
    };
    if stored.value.attempt != input.attempt {
        return Ok(Parked::Done);
    }
    Ok(match stored.value.status {
        Status::Sending => match settle_claim(repo, &stored, now).await? {
            Outcome::InFlight { .. } => Parked::ClaimFresh,
            Outcome::Unknown { detail } => Parked::SettledUnknown { detail },
            _ => Parked::Done,
        },
        status @ (Status::Scheduled | Status::Placed) => Parked::ForOperator { status },
        _ => Parked::Done,
    })
}

/// The executor input of a failure-queue message: a Lambda on-failure destination
/// record (`requestPayload` is the invocation's input) or, redriven by hand, the bare
/// input. `None` for anything else.
pub fn input_of(body: &str) -> Option<ExecutorInput> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct DestinationRecord {
        request_payload: ExecutorInput,
    }
    serde_json::from_str::<DestinationRecord>(body)
        .map(|record| record.request_payload)
        .or_else(|_| serde_json::from_str::<ExecutorInput>(body))
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lambda_on_failure_record_yields_the_invocations_input() {
        // The shape of Lambda's invocation record for asynchronous invocations.
        let body = r#"{
            "version": "1.0",
            "timestamp": "2026-12-01T10:00:00.000Z",
            "requestContext": {
                "requestId": "e4b46cbf-b738-xmpl-8880-a18cdf61200e",
                "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:executor-sms:$LATEST",
                "condition": "RetriesExhausted",
                "approximateInvokeCount": 3
            },
            "requestPayload": {"account_id": "acme", "followup_id": "fu_1", "attempt": 2},
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
            "responsePayload": {"errorMessage": "throttled"}
        }"#;
        assert_eq!(
            input_of(body),
            Some(ExecutorInput {
                account_id: "acme".into(),
                followup_id: "fu_1".into(),
                attempt: 2
            })
        );
    }

    #[test]
    fn a_bare_input_redriven_by_hand_is_read_and_anything_else_is_not() {
        let input = input_of(r#"{"account_id":"acme","followup_id":"fu_1","attempt":0}"#);
        assert_eq!(input.map(|i| i.attempt), Some(0));
        assert_eq!(input_of("not json"), None);
        assert_eq!(
            input_of(r#"{"requestPayload":{"account_id":"acme"}}"#),
            None
        );
    }
}
