//! Getting a follow-up executed when it is due.
//!
//! The dispatcher decides *when*; this crate makes it happen. [`Schedules`] is the port:
//! a follow-up due later gets a one-time schedule, one due within
//! [`DIRECT_DISPATCH_WITHIN`] is handed to its executor at once ([`route`] says which).
//! [`EventBridgeSchedules`] implements it with EventBridge Scheduler `at(...)` schedules
//! and Lambda async invokes; [`LocalSchedules`] with an in-process timer driven by the
//! local runtime's movable clock.
//!
//! Either way the executor receives the same small input, [`Job::executor_input`], and
//! loads everything else itself; it must tolerate being started twice for one job.

mod error;
mod eventbridge;
mod expression;
mod local;

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

pub use error::ScheduleError;
pub use eventbridge::{EventBridgeSchedules, Executors, SchedulerSettings};
pub use expression::{at_expression, schedule_name};
pub use local::{Fire, LOCAL_TICK, LocalSchedules};

/// The time as the caller sees it: the wall clock in Lambda, the movable clock of the
/// local runtime.
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// One follow-up attempt to execute.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Job {
    pub account_id: String,
    pub followup_id: String,
    pub attempt: u32,
    /// `sms`, `email`, `missed_call_email`, `whatsapp` or `call`: picks the executor.
    pub channel: String,
}

impl Job {
    /// What the executor is started with, by a schedule or directly:
    /// `{"account_id", "followup_id", "attempt"}` and nothing else.
    pub fn executor_input(&self) -> serde_json::Value {
        serde_json::json!({
            "account_id": self.account_id,
            "followup_id": self.followup_id,
            "attempt": self.attempt,
        })
    }
}

/// Gets follow-ups executed when due.
#[async_trait::async_trait]
pub trait Schedules: Send + Sync {
    /// Arranges for `job` to run at `due_at` (`time_zone` is the follow-up's IANA zone).
    /// Idempotent: scheduling the same follow-up again replaces its schedule, whatever
    /// the new time.
    async fn schedule(
        &self,
        job: &Job,
        due_at: DateTime<Utc>,
        time_zone: &str,
    ) -> Result<(), ScheduleError>;

    /// Removes the follow-up's schedule; one that does not exist (already fired, never
    /// made) is fine.
    async fn unschedule(&self, account_id: &str, followup_id: &str) -> Result<(), ScheduleError>;

    /// Starts the job's executor now, without a schedule: for anything due within
    /// [`DIRECT_DISPATCH_WITHIN`].
    async fn dispatch_now(&self, job: &Job) -> Result<(), ScheduleError>;
}

/// Follow-ups due within this much time go straight to their executor: EventBridge
/// Scheduler fires within a one-minute window and may refuse times in the past, so a
/// schedule for "now" could run late or not at all.
pub const DIRECT_DISPATCH_WITHIN: TimeDelta = TimeDelta::minutes(2);

/// Which way a follow-up goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// [`Schedules::dispatch_now`].
    Now,
    /// [`Schedules::schedule`] at this time.
    At(DateTime<Utc>),
}

/// [`Route::Now`] for anything due within [`DIRECT_DISPATCH_WITHIN`] of `now` (or
/// overdue), otherwise [`Route::At`] its due time.
pub fn route(due_at: DateTime<Utc>, now: DateTime<Utc>) -> Route {
    if due_at - now <= DIRECT_DISPATCH_WITHIN {
        Route::Now
    } else {
        Route::At(due_at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn executor_input_is_exactly_account_follow_up_and_attempt() {
        let job = Job {
            account_id: "acme".into(),
            followup_id: "fu_1".into(),
            attempt: 2,
            channel: "call".into(),
        };
        assert_eq!(
            job.executor_input(),
            serde_json::json!({"account_id": "acme", "followup_id": "fu_1", "attempt": 2})
        );
    }

    #[test]
    fn follow_ups_due_within_two_minutes_go_direct_and_later_ones_are_scheduled() {
        let now = Utc.with_ymd_and_hms(2030, 1, 15, 14, 0, 0).unwrap();
        let cases = [
            (now - TimeDelta::hours(1), Route::Now),
            (now, Route::Now),
            (now + TimeDelta::seconds(119), Route::Now),
            (now + TimeDelta::minutes(2), Route::Now),
            (
                now + TimeDelta::seconds(121),
                Route::At(now + TimeDelta::seconds(121)),
            ),
            (
                now + TimeDelta::days(1),
                Route::At(now + TimeDelta::days(1)),
            ),
        ];
        for (due_at, expected) in cases {
            assert_eq!(route(due_at, now), expected, "due {due_at}");
        }
    }
}
