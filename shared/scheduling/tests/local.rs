//! `LocalSchedules`: the local runtime's scheduler fires on its movable clock.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use scheduling::{Clock, Fire, Job, LocalSchedules, ScheduleError, Schedules};
use tokio::sync::mpsc;

const TICK: Duration = Duration::from_millis(20);

struct Harness {
    schedules: LocalSchedules,
    now: Arc<Mutex<DateTime<Utc>>>,
    fired: mpsc::UnboundedReceiver<Job>,
}

impl Harness {
    fn start() -> Harness {
        let now = Arc::new(Mutex::new(
            Utc.with_ymd_and_hms(2030, 1, 15, 14, 0, 0).unwrap(),
        ));
        let read = now.clone();
        let clock: Clock = Arc::new(move || *read.lock().unwrap());
        let (tx, fired) = mpsc::unbounded_channel();
        let fire: Fire = Arc::new(move |job| {
            let tx = tx.clone();
            Box::pin(async move {
                let _ = tx.send(job);
            })
        });
        Harness {
            schedules: LocalSchedules::start_with_tick(clock, fire, TICK),
            now,
            fired,
        }
    }

    fn now(&self) -> DateTime<Utc> {
        *self.now.lock().unwrap()
    }

    fn advance(&self, by: TimeDelta) {
        *self.now.lock().unwrap() += by;
    }

    /// The next job fired within a few ticks, if any.
    async fn next_fired(&mut self) -> Option<Job> {
        tokio::time::timeout(TICK * 10, self.fired.recv())
            .await
            .ok()
            .flatten()
    }
}

fn job(followup_id: &str, attempt: u32) -> Job {
    Job {
        account_id: "acme".into(),
        followup_id: followup_id.into(),
        attempt,
        channel: "call".into(),
    }
}

#[tokio::test]
async fn a_job_due_in_an_hour_fires_when_the_clock_is_moved_forward_and_not_before() {
    let mut local = Harness::start();
    let due = local.now() + TimeDelta::hours(1);
    local
        .schedules
        .schedule(&job("fu_1", 1), due, "America/New_York")
        .await
        .unwrap();

    assert_eq!(local.next_fired().await, None);
    local.advance(TimeDelta::minutes(59));
    assert_eq!(local.next_fired().await, None);
    local.advance(TimeDelta::minutes(1));

    assert_eq!(local.next_fired().await, Some(job("fu_1", 1)));
    assert!(local.schedules.pending().is_empty());
    local.advance(TimeDelta::hours(1));
    assert_eq!(local.next_fired().await, None, "fires once");
}

#[tokio::test]
async fn an_unscheduled_job_never_fires() {
    let mut local = Harness::start();
    let due = local.now() + TimeDelta::hours(1);
    local
        .schedules
        .schedule(&job("fu_1", 1), due, "UTC")
        .await
        .unwrap();

    local.schedules.unschedule("acme", "fu_1").await.unwrap();
    local
        .schedules
        .unschedule("acme", "fu_never")
        .await
        .unwrap();
    local.advance(TimeDelta::days(1));

    assert_eq!(local.next_fired().await, None);
}

#[tokio::test]
async fn rescheduling_a_follow_up_replaces_its_job() {
    let mut local = Harness::start();
    let now = local.now();
    local
        .schedules
        .schedule(&job("fu_1", 1), now + TimeDelta::hours(1), "UTC")
        .await
        .unwrap();
    local
        .schedules
        .schedule(&job("fu_1", 2), now + TimeDelta::hours(3), "UTC")
        .await
        .unwrap();
    assert_eq!(local.schedules.pending().len(), 1);

    local.advance(TimeDelta::hours(2));
    assert_eq!(
        local.next_fired().await,
        None,
        "the earlier time was replaced"
    );
    local.advance(TimeDelta::hours(1));

    assert_eq!(local.next_fired().await, Some(job("fu_1", 2)));
    assert_eq!(local.next_fired().await, None);
}

#[tokio::test]
async fn due_jobs_fire_soonest_first_and_others_wait() {
    let mut local = Harness::start();
    let now = local.now();
    for (id, hours) in [("fu_c", 3), ("fu_a", 1), ("fu_b", 2), ("fu_later", 30)] {
        local
            .schedules
            .schedule(&job(id, 1), now + TimeDelta::hours(hours), "UTC")
            .await
            .unwrap();
    }

    local.advance(TimeDelta::hours(4));

    let mut fired = Vec::new();
    for _ in 0..3 {
        fired.push(local.next_fired().await.unwrap().followup_id);
    }
    fired.sort();
    assert_eq!(fired, ["fu_a", "fu_b", "fu_c"]);
    assert_eq!(local.next_fired().await, None);
    assert_eq!(local.schedules.pending().len(), 1);
}

#[tokio::test]
async fn dispatch_now_fires_at_once() {
    let mut local = Harness::start();

    local
        .schedules
        .dispatch_now(&job("fu_now", 1))
        .await
        .unwrap();

    assert_eq!(local.next_fired().await, Some(job("fu_now", 1)));
}

#[tokio::test]
async fn an_unknown_time_zone_is_refused_as_eventbridge_would() {
    let local = Harness::start();
    let result = local
        .schedules
        .schedule(&job("fu_1", 1), local.now(), "Mars/Base")
        .await;
    assert!(matches!(result, Err(ScheduleError::Permanent { .. })));
    assert!(local.schedules.pending().is_empty());
}
