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
        if !may_dispatch(old.map(|f| f.status), new.map(|f| f.status)) {
            return Ok(Dispatched::Nothing);
        }
        let was_scheduled = old.filter(|f| waits(f.status));
        match new {
            Some(new) if waits(new.status) => {
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

/// Whether a follow-up in this status waits for a time: `scheduled`, or a placed call,
/// looked at again at the end of its wait if its completion never comes.
fn waits(status: Status) -> bool {
    matches!(status, Status::Scheduled | Status::Placed)
}

/// Whether a change from `old` to `new` (absent: no item) can change a schedule: the
/// follow-up waits now (it may be new or have moved), or it stopped waiting other than
/// by the executor's claim (`sending`: its schedule already fired or it went the direct
/// path, and Scheduler deletes fired schedules itself). Claims and outcomes cannot.
/// The same rule as the stream filter in `template.yaml`, so the local feed skips what
/// AWS never delivers, without decoding the follow-ups.
fn may_dispatch(old: Option<Status>, new: Option<Status>) -> bool {
    match new {
        Some(new) if waits(new) => true,
        Some(Status::Sending) => false,
        _ => old.is_some_and(waits),
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
            if let (Ok(old), Ok(new)) = (status_of(&change.old), status_of(&change.new))
                && !may_dispatch(old, new)
            {
                continue;
            }
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

/// The status of a follow-up image read without decoding the follow-up (`None`: no
/// image, or not a follow-up); an error when only decoding can tell.
fn status_of(image: &Option<Result<store::Item, store::StoreError>>) -> Result<Option<Status>, ()> {
    match image {
        None => Ok(None),
        Some(Ok(item)) if item.key.sk != crate::records::FOLLOWUP_SK => Ok(None),
        Some(Ok(item)) => item
            .attrs
            .get("status")
            .and_then(serde_json::Value::as_str)
            .and_then(|raw| Status::parse("status", raw).ok())
            .map(Some)
            .ok_or(()),
        Some(Err(_)) => Err(()),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_changes_that_can_move_a_schedule_reach_the_dispatcher() {
        use Status::*;
        let rows = [
            (None, Some(Scheduled), true),
            (Some(Scheduled), Some(Scheduled), true),
            (Some(Scheduled), Some(Cancelled), true),
            (Some(Scheduled), None, true),
            (Some(Placed), Some(Sent), true),
            (Some(Sending), Some(Placed), true),
            (Some(Scheduled), Some(Sending), false),
            (Some(Placed), Some(Sending), false),
            (Some(Sending), Some(Sent), false),
            (Some(Sending), Some(Unknown), false),
            (None, Some(Sent), false),
            (Some(Sent), None, false),
            (None, None, false),
        ];
        for (old, new, expected) in rows {
            assert_eq!(may_dispatch(old, new), expected, "{old:?} -> {new:?}");
        }
    }
}
