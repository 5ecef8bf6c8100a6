//! The dispatcher: scheduling derived from what is stored. Every change of a follow-up
//! (the DynamoDB stream in AWS, the embedded table's change feed locally) comes here
//! with its old and new image, and the follow-up's schedule is made to match:
//! a follow-up that became `scheduled` or moved is dispatched now (due within
//! [`scheduling::DIRECT_DISPATCH_WITHIN`]) or gets a one-time schedule; one that stopped being
//! `scheduled` before it was sent loses its schedule. Because the stream is durable and
//! retried, a follow-up that was written ends up scheduled even if the writer died
//! right after the write.

use std::sync::Arc;

use policy::{FollowUp, Status};
use scheduling::{Job, Route, Schedules};

use crate::clock::Clock;
use crate::error::ServiceError;

/// What the dispatcher did with one change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dispatched {
    Now,
    Scheduled,
    Unscheduled,
    Nothing,
}

pub struct Dispatcher {
    schedules: Arc<dyn Schedules>,
    clock: Arc<dyn Clock>,
}

impl Dispatcher {
    pub fn new(schedules: Arc<dyn Schedules>, clock: Arc<dyn Clock>) -> Self {
        Self { schedules, clock }
    }

    pub async fn on_change(
        &self,
        old: Option<&FollowUp>,
        new: Option<&FollowUp>,
    ) -> Result<Dispatched, ServiceError> {
        // A placed call is scheduled too, at the time it is looked at again if its
        // completion never comes.
        let waits = |f: &&FollowUp| matches!(f.status, Status::Scheduled | Status::Placed);
        let was_scheduled = old.filter(waits);
        match new {
            Some(new) if waits(&new) => {
                let unchanged = was_scheduled
                    .is_some_and(|o| o.due_at == new.due_at && o.attempt == new.attempt);
                if unchanged {
                    return Ok(Dispatched::Nothing);
                }
                let job = job(new);
                match scheduling::route(new.due_at, self.clock.now()) {
                    Route::Now => {
                        self.schedules.dispatch_now(&job).await?;
                        // A follow-up moved from later to now must not fire twice.
                        if was_scheduled.is_some() {
                            self.schedules
                                .unschedule(&job.account_id, &job.followup_id)
                                .await?;
                        }
                        crate::metrics::count("dispatched", new.channel.as_str(), "due_now");
                        Ok(Dispatched::Now)
                    }
                    Route::At(_) => {
                        self.schedules
                            .schedule(&job, new.due_at, new.time_zone.as_str())
                            .await?;
                        crate::metrics::count("scheduled", new.channel.as_str(), "due_later");
                        Ok(Dispatched::Scheduled)
                    }
                }
            }
            // Claimed by the executor (`sending`): its schedule already fired or it went
            // the direct path, and Scheduler deletes fired schedules itself.
            Some(new) if new.status == Status::Sending => Ok(Dispatched::Nothing),
            _ => match was_scheduled {
                Some(old) => {
                    self.schedules
                        .unschedule(old.account_id.as_str(), old.id.as_str())
                        .await?;
                    Ok(Dispatched::Unscheduled)
                }
                None => Ok(Dispatched::Nothing),
            },
        }
    }
}

/// The scheduling job of a follow-up (its executor input plus its channel).
pub fn job(followup: &FollowUp) -> Job {
    Job {
        account_id: followup.account_id.to_string(),
        followup_id: followup.id.to_string(),
        attempt: followup.attempt,
        channel: followup.channel.as_str().to_string(),
    }
}

/// One record of a change stream: its id (the stream sequence number) and the item
/// before and after.
pub struct StreamChange {
    pub id: String,
    pub old: Option<Result<store::Item, store::StoreError>>,
    pub new: Option<Result<store::Item, store::StoreError>>,
}

impl Dispatcher {
    /// Applies a batch of stream records in order and returns the id of the first one
    /// that failed (the stream redelivers from there; later records wait behind it so
    /// a follow-up's changes are never applied out of order). Items that are not
    /// follow-ups are skipped; an unreadable image is logged and skipped, never retried
    /// forever.
    pub async fn on_stream(
        &self,
        changes: impl IntoIterator<Item = StreamChange>,
    ) -> Option<String> {
        for change in changes {
            let old = followup_image(change.old, &change.id);
            let new = followup_image(change.new, &change.id);
            if old.is_none() && new.is_none() {
                continue;
            }
            match self.on_change(old.as_ref(), new.as_ref()).await {
                Ok(done) => tracing::debug!(id = %change.id, ?done, "dispatched"),
                Err(e) => {
                    tracing::error!(id = %change.id, error = %e, "dispatch failed; the stream will retry");
                    return Some(change.id);
                }
            }
        }
        None
    }
}

fn followup_image(
    image: Option<Result<store::Item, store::StoreError>>,
    id: &str,
) -> Option<FollowUp> {
    let item = match image? {
        Ok(item) => item,
        Err(e) => {
            tracing::error!(id, error = %e, "unreadable stream image skipped");
            return None;
        }
    };
    if item.key.sk != crate::records::FOLLOWUP_SK {
        return None;
    }
    match crate::records::followup_from_item(&item) {
        Ok(followup) => Some(followup.value),
        Err(e) => {
            tracing::error!(id, error = %e, "unreadable follow-up skipped");
            None
        }
    }
}
