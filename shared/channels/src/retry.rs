use std::future::Future;
use std::time::Duration;

use crate::SendError;

/// Bounded exponential backoff with jitter, applied by every sender to
/// [`SendError::Retryable`] failures only: nothing that may have been accepted is ever
/// sent twice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Tries in all, the first included. 1 disables retries.
    pub attempts: u32,
    /// The wait before the second try; it doubles for each further try.
    pub first_delay: Duration,
    /// The longest wait between two tries.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    /// 3 tries, waiting about 100 ms then about 200 ms (never more than 400 ms): short
    /// enough to stay well inside an executor's Lambda timeout.
    fn default() -> Self {
        RetryPolicy {
            attempts: 3,
            first_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(400),
        }
    }
}

impl RetryPolicy {
    /// No retries: the first failure is returned as it is.
    pub fn none() -> Self {
        RetryPolicy {
            attempts: 1,
            ..RetryPolicy::default()
        }
    }

    /// The wait after failed try number `tried` (1-based): half the exponential delay
    /// plus a random share of the other half, so callers that failed together do not
    /// retry together.
    pub(crate) fn delay(&self, tried: u32) -> Duration {
        let exponential = self
            .first_delay
            .saturating_mul(
                1u32.checked_shl(tried.saturating_sub(1))
                    .unwrap_or(u32::MAX),
            )
            .min(self.max_delay);
        let half = exponential / 2;
        let jitter_ms = u64::try_from(half.as_millis()).unwrap_or(u64::MAX);
        let random = getrandom::u64().unwrap_or(0);
        let extra = if jitter_ms == 0 {
            0
        } else {
            random % (jitter_ms + 1)
        };
        half + Duration::from_millis(extra)
    }

    /// Runs `attempt` until it succeeds, fails with anything but `Retryable`, or the
    /// tries are used up (the last failure is returned).
    pub(crate) async fn run<T, F, Fut>(&self, what: &str, mut attempt: F) -> Result<T, SendError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, SendError>>,
    {
        let mut tried = 0;
        loop {
            tried += 1;
            match attempt().await {
                Err(e @ SendError::Retryable { .. }) if tried < self.attempts.max(1) => {
                    let wait = self.delay(tried);
                    tracing::warn!(what, tried, ?wait, error = %e, "retrying a send");
                    tokio::time::sleep(wait).await;
                }
                other => return other,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_and_stay_under_the_cap() {
        let policy = RetryPolicy::default();
        for _ in 0..100 {
            let first = policy.delay(1);
            assert!(first >= Duration::from_millis(50) && first <= Duration::from_millis(100));
            let second = policy.delay(2);
            assert!(second >= Duration::from_millis(100) && second <= Duration::from_millis(200));
            let late = policy.delay(30);
            assert!(late >= Duration::from_millis(200) && late <= Duration::from_millis(400));
        }
    }

    #[tokio::test]
    async fn only_retryable_failures_are_tried_again() {
        let policy = RetryPolicy {
            attempts: 3,
            first_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(2),
        };
        let mut calls = 0;
        let result: Result<(), _> = policy
            .run("test", || {
                calls += 1;
                async { Err(SendError::unknown("timed out")) }
            })
            .await;
        assert_eq!(calls, 1);
        assert!(matches!(result, Err(SendError::Unknown { .. })));

        let mut calls = 0;
        let result: Result<(), _> = policy
            .run("test", || {
                calls += 1;
                async { Err(SendError::retryable("throttled")) }
            })
            .await;
        assert_eq!(calls, 3);
        assert!(result.unwrap_err().is_retryable());

        let mut calls = 0;
        let result = policy
            .run("test", || {
                calls += 1;
                let n = calls;
                async move {
                    if n < 2 {
                        Err(SendError::retryable("throttled"))
                    } else {
                        Ok(n)
                    }
                }
            })
            .await;
        assert_eq!(result, Ok(2));
    }
}
