use std::error::Error as StdError;
use std::fmt;

use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::InvocationType;
use aws_sdk_scheduler::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_scheduler::types::{
    ActionAfterCompletion, DeadLetterConfig, FlexibleTimeWindow, FlexibleTimeWindowMode,
    RetryPolicy, ScheduleState, Target,
};
use chrono::{DateTime, Utc};

use crate::{Job, ScheduleError, Schedules, at_expression, schedule_name};

/// The executor function for each channel (function ARNs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Executors {
    pub sms: String,
    /// Also runs missed-call emails.
    pub email: String,
    pub whatsapp: String,
    pub call: String,
}

impl Executors {
    /// The executor that runs jobs of `channel`, if there is one.
    pub fn for_channel(&self, channel: &str) -> Option<&str> {
        match channel {
            "sms" => Some(&self.sms),
            "email" | "missed_call_email" => Some(&self.email),
            "whatsapp" => Some(&self.whatsapp),
            "call" => Some(&self.call),
            _ => None,
        }
    }
}

/// Where and how follow-up schedules are made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchedulerSettings {
    /// The schedule group every follow-up schedule lives in.
    pub group_name: String,
    /// The role EventBridge Scheduler assumes to invoke the executors.
    pub role_arn: String,
    pub executors: Executors,
    /// The SQS queue that receives invocations Scheduler gave up on.
    pub dead_letter_arn: Option<String>,
    /// How many times Scheduler retries a failed invocation (3 unless set).
    pub maximum_retry_attempts: i32,
    /// How long, in seconds, Scheduler keeps retrying (one hour unless set).
    pub maximum_event_age_seconds: i32,
}

impl SchedulerSettings {
    pub fn new(
        group_name: impl Into<String>,
        role_arn: impl Into<String>,
        executors: Executors,
        dead_letter_arn: Option<String>,
    ) -> Self {
        SchedulerSettings {
            group_name: group_name.into(),
            role_arn: role_arn.into(),
            executors,
            dead_letter_arn,
            maximum_retry_attempts: 3,
            maximum_event_age_seconds: 3600,
        }
    }
}

/// Follow-ups scheduled with EventBridge Scheduler one-time `at(...)` schedules (deleted
/// by Scheduler once they fired) and dispatched directly with Lambda async invokes.
///
/// The SDK clients keep the SDK's standard retries (throttling, 5xx, timeouts): every
/// call here is safe to repeat. Creating a schedule is idempotent by name (a repeat
/// meets `ConflictException` and updates), deleting is, and a repeated async invoke
/// starts the executor twice, which the executor tolerates by design.
pub struct EventBridgeSchedules {
    scheduler: aws_sdk_scheduler::Client,
    lambda: aws_sdk_lambda::Client,
    settings: SchedulerSettings,
}

impl EventBridgeSchedules {
    pub fn new(
        scheduler: aws_sdk_scheduler::Client,
        lambda: aws_sdk_lambda::Client,
        settings: SchedulerSettings,
    ) -> Self {
        EventBridgeSchedules {
            scheduler,
            lambda,
            settings,
        }
    }

    fn executor(&self, job: &Job) -> Result<&str, ScheduleError> {
        self.settings
            .executors
            .for_channel(&job.channel)
            .ok_or_else(|| {
                ScheduleError::permanent(format!("no executor for channel {:?}", job.channel))
            })
    }

    fn target(&self, job: &Job) -> Result<Target, ScheduleError> {
        let retry = RetryPolicy::builder()
            .maximum_retry_attempts(self.settings.maximum_retry_attempts)
            .maximum_event_age_in_seconds(self.settings.maximum_event_age_seconds)
            .build();
        let mut target = Target::builder()
            .arn(self.executor(job)?)
            .role_arn(&self.settings.role_arn)
            .input(job.executor_input().to_string())
            .retry_policy(retry);
        if let Some(dlq) = &self.settings.dead_letter_arn {
            target = target.dead_letter_config(DeadLetterConfig::builder().arn(dlq).build());
        }
        target
            .build()
            .map_err(|e| ScheduleError::permanent(e.to_string()))
    }
}

impl fmt::Debug for EventBridgeSchedules {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventBridgeSchedules")
            .field("settings", &self.settings)
            .finish()
    }
}

fn off() -> Result<FlexibleTimeWindow, ScheduleError> {
    FlexibleTimeWindow::builder()
        .mode(FlexibleTimeWindowMode::Off)
        .build()
        .map_err(|e| ScheduleError::permanent(e.to_string()))
}

/// Error codes that say "not now" (the SDK already retried them a few times).
const TEMPORARY_CODES: &[&str] = &[
    "ThrottlingException",
    "TooManyRequestsException",
    "ServiceQuotaExceededException",
    "InternalServerException",
    "ServiceException",
    "ResourceNotReadyException",
    "ResourceConflictException",
    "EC2ThrottledException",
];

fn classify<E>(what: &str, error: SdkError<E>) -> ScheduleError
where
    E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
{
    let reason = format!("{what}: {}", DisplayErrorContext(&error));
    match &error {
        SdkError::ConstructionFailure(_) => ScheduleError::permanent(reason),
        SdkError::ServiceError(service) => {
            let status = service.raw().status().as_u16();
            let code = service.err().code().unwrap_or("");
            if TEMPORARY_CODES.contains(&code) || status == 429 || status >= 500 {
                ScheduleError::retryable(reason)
            } else {
                ScheduleError::permanent(reason)
            }
        }
        _ => ScheduleError::retryable(reason),
    }
}

#[async_trait::async_trait]
impl Schedules for EventBridgeSchedules {
    async fn schedule(
        &self,
        job: &Job,
        due_at: DateTime<Utc>,
        time_zone: &str,
    ) -> Result<(), ScheduleError> {
        let name = schedule_name(&job.account_id, &job.followup_id);
        let (expression, zone) = at_expression(due_at, time_zone)?;
        let target = self.target(job)?;
        let created = self
            .scheduler
            .create_schedule()
            .name(&name)
            .group_name(&self.settings.group_name)
            .schedule_expression(&expression)
            .schedule_expression_timezone(&zone)
            .flexible_time_window(off()?)
            .action_after_completion(ActionAfterCompletion::Delete)
            .state(ScheduleState::Enabled)
            .target(target.clone())
            .send()
            .await;
        match created {
            Ok(_) => {}
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conflict_exception()) =>
            {
                self.scheduler
                    .update_schedule()
                    .name(&name)
                    .group_name(&self.settings.group_name)
                    .schedule_expression(&expression)
                    .schedule_expression_timezone(&zone)
                    .flexible_time_window(off()?)
                    .action_after_completion(ActionAfterCompletion::Delete)
                    .state(ScheduleState::Enabled)
                    .target(target)
                    .send()
                    .await
                    .map_err(|e| classify("UpdateSchedule", e))?;
            }
            Err(e) => return Err(classify("CreateSchedule", e)),
        }
        tracing::info!(
            schedule = name,
            expression,
            time_zone = zone,
            followup_id = job.followup_id,
            attempt = job.attempt,
            "follow-up scheduled"
        );
        Ok(())
    }

    async fn unschedule(&self, account_id: &str, followup_id: &str) -> Result<(), ScheduleError> {
        let name = schedule_name(account_id, followup_id);
        match self
            .scheduler
            .delete_schedule()
            .name(&name)
            .group_name(&self.settings.group_name)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_not_found_exception()) =>
            {
                Ok(())
            }
            Err(e) => Err(classify("DeleteSchedule", e)),
        }
    }

    async fn dispatch_now(&self, job: &Job) -> Result<(), ScheduleError> {
        let function = self.executor(job)?;
        self.lambda
            .invoke()
            .function_name(function)
            .invocation_type(InvocationType::Event)
            .payload(Blob::new(job.executor_input().to_string()))
            .send()
            .await
            .map_err(|e| classify("Invoke", e))?;
        tracing::info!(
            function,
            followup_id = job.followup_id,
            attempt = job.attempt,
            "follow-up dispatched now"
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missed_call_emails_run_on_the_email_executor() {
        let executors = Executors {
            sms: "arn:sms".into(),
            email: "arn:email".into(),
            whatsapp: "arn:whatsapp".into(),
            call: "arn:call".into(),
        };
        assert_eq!(executors.for_channel("sms"), Some("arn:sms"));
        assert_eq!(executors.for_channel("email"), Some("arn:email"));
        assert_eq!(
            executors.for_channel("missed_call_email"),
            Some("arn:email")
        );
        assert_eq!(executors.for_channel("whatsapp"), Some("arn:whatsapp"));
        assert_eq!(executors.for_channel("call"), Some("arn:call"));
        assert_eq!(executors.for_channel("fax"), None);
    }
}
