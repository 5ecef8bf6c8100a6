//! The one "opt out" use case every channel shares: an SMS reply, a WhatsApp reply or
//! marketing opt-out, an email unsubscribe and an SES complaint all end here. The
//! number or address goes on the account's do-not-call list with its source and time
//! (the first entry wins: a later opt-out changes nothing), and its open follow-ups
//! are cancelled with reason `opted_out`, whatever their channel.

use policy::lifecycle::Event;
use policy::{AccountId, Destination, DncSource, FollowUpId};
use store::StoreError;

use crate::Engine;
use crate::error::ServiceError;
use crate::repository::DncEntry;

/// How often a follow-up that keeps changing under the cancellation is reloaded.
const MAX_CANCEL_TRIES: usize = 3;

/// What an opt-out did.
#[derive(Debug, Clone)]
pub struct OptedOut {
    /// The do-not-call entry as stored (an earlier one, when there was one).
    pub entry: DncEntry,
    /// The follow-ups this opt-out cancelled.
    pub cancelled: Vec<FollowUpId>,
}

impl Engine {
    /// Puts `destination` on the account's do-not-call list and cancels its open
    /// follow-ups. Safe to repeat: a redelivered opt-out finds the entry and nothing
    /// left open.
    pub async fn opt_out(
        &self,
        account: &AccountId,
        destination: &Destination,
        source: DncSource,
    ) -> Result<OptedOut, ServiceError> {
        let now = self.clock.now();
        let entry = DncEntry {
            value: destination.clone(),
            added_at: now,
            source,
        };
        let entry = self.repo.add_dnc(account, &entry).await?;
        let mut cancelled = Vec::new();
        for id in self.repo.open_followups_of(account, destination).await? {
            if self
                .cancel_opted_out(account, &id, destination, source)
                .await?
            {
                cancelled.push(id);
            }
        }
        tracing::info!(
            account = %account,
            source = source.as_str(),
            cancelled = cancelled.len(),
            "opt-out recorded"
        );
        Ok(OptedOut { entry, cancelled })
    }

    /// Cancels one open follow-up of the destination; false when it is no longer open
    /// (it left meanwhile: the send-time re-check sees the do-not-call entry anyway).
    async fn cancel_opted_out(
        &self,
        account: &AccountId,
        id: &FollowUpId,
        destination: &Destination,
        source: DncSource,
    ) -> Result<bool, ServiceError> {
        for _ in 0..MAX_CANCEL_TRIES {
            let Some(stored) = self.repo.followup(account, id).await? else {
                return Ok(false);
            };
            let same = stored
                .value
                .destination
                .as_ref()
                .map(Destination::dnc_match_key)
                == Some(destination.dnc_match_key());
            if !same {
                return Ok(false);
            }
            // One already on its way or done is refused and stays as it is.
            let event = Event::OptOut { source };
            let Ok(cancelled) = policy::lifecycle::apply(&stored.value, event, self.clock.now())
            else {
                return Ok(false);
            };
            match self.repo.save_followup(&stored, &cancelled).await {
                Ok(_) => return Ok(true),
                Err(StoreError::ConditionFailed { .. }) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(ServiceError::Conflict(format!(
            "follow-up {id} kept changing while the opt-out cancelled it; try again"
        )))
    }
}
