use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::task::JoinHandle;

use crate::{Clock, Job, ScheduleError, Schedules, at_expression};

/// What [`LocalSchedules`] calls with a job when it is due: in the local runtime, the
/// executor.
pub type Fire = Arc<dyn Fn(Job) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

/// How often [`LocalSchedules`] looks for due jobs unless told otherwise.
pub const LOCAL_TICK: Duration = Duration::from_millis(200);

/// The local runtime's scheduler: pending jobs in memory, one per follow-up, fired
/// through [`Fire`] once the supplied clock reaches their due time.
///
/// The clock can be moved forward (demos, tests), so due jobs are looked for on a short
/// tick instead of sleeping until a wall-clock time. Nothing is persisted: on start the
/// local runtime schedules its pending follow-ups again from its store.
pub struct LocalSchedules {
    inner: Arc<Inner>,
    ticker: JoinHandle<()>,
}

/// Pending jobs keyed by (account, follow-up): one per follow-up.
type Pending = HashMap<(String, String), (Job, DateTime<Utc>)>;

struct Inner {
    clock: Clock,
    fire: Fire,
    pending: Mutex<Pending>,
}

impl Inner {
    fn lock(&self) -> std::sync::MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn fire_due(&self) {
        let now = (self.clock)();
        let mut due: Vec<(Job, DateTime<Utc>)> = Vec::new();
        self.lock().retain(|_, (job, due_at)| {
            if *due_at <= now {
                due.push((job.clone(), *due_at));
                false
            } else {
                true
            }
        });
        due.sort_by_key(|(_, due_at)| *due_at);
        for (job, _) in due {
            tracing::info!(
                followup_id = job.followup_id,
                attempt = job.attempt,
                "local schedule fired"
            );
            tokio::spawn((self.fire)(job));
        }
    }
}

impl LocalSchedules {
    /// Starts the scheduler on the current tokio runtime, looking for due jobs every
    /// [`LOCAL_TICK`].
    pub fn start(clock: Clock, fire: Fire) -> Self {
        Self::start_with_tick(clock, fire, LOCAL_TICK)
    }

    pub fn start_with_tick(clock: Clock, fire: Fire, tick: Duration) -> Self {
        let inner = Arc::new(Inner {
            clock,
            fire,
            pending: Mutex::new(HashMap::new()),
        });
        let ticking = inner.clone();
        let ticker = tokio::spawn(async move {
            let mut interval = tokio::time::interval(tick);
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                interval.tick().await;
                ticking.fire_due();
            }
        });
        LocalSchedules { inner, ticker }
    }

    /// The jobs waiting, soonest first.
    pub fn pending(&self) -> Vec<(Job, DateTime<Utc>)> {
        let mut pending: Vec<_> = self.inner.lock().values().cloned().collect();
        pending.sort_by_key(|(_, due_at)| *due_at);
        pending
    }
}

impl Drop for LocalSchedules {
    fn drop(&mut self) {
        self.ticker.abort();
    }
}

impl fmt::Debug for LocalSchedules {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalSchedules")
            .field("pending", &self.inner.lock().len())
            .finish()
    }
}

#[async_trait::async_trait]
impl Schedules for LocalSchedules {
    async fn schedule(
        &self,
        job: &Job,
        due_at: DateTime<Utc>,
        time_zone: &str,
    ) -> Result<(), ScheduleError> {
        // Refuse what EventBridge would refuse, so the local runtime finds the same bugs.
        at_expression(due_at, time_zone)?;
        self.inner.lock().insert(
            (job.account_id.clone(), job.followup_id.clone()),
            (job.clone(), due_at),
        );
        Ok(())
    }

    async fn unschedule(&self, account_id: &str, followup_id: &str) -> Result<(), ScheduleError> {
        self.inner
            .lock()
            .remove(&(account_id.to_owned(), followup_id.to_owned()));
        Ok(())
    }

    async fn dispatch_now(&self, job: &Job) -> Result<(), ScheduleError> {
        tokio::spawn((self.inner.fire)(job.clone()));
        Ok(())
    }
}
