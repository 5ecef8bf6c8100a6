//! `EventBridgeSchedules` against moto's EventBridge Scheduler, and its direct dispatch
//! against a local stand-in for Lambda's Invoke API (moto's Lambda runs functions in
//! Docker, which these tests cannot assume).

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{TimeZone, Utc};
use scheduling::{
    EventBridgeSchedules, Executors, Job, ScheduleError, SchedulerSettings, Schedules,
    schedule_name,
};
use serde_json::{Value, json};
use testkit::{Moto, unique};

const ROLE: &str = "arn:aws:iam::123456789012:role/followups-scheduler";
const DLQ: &str = "arn:aws:sqs:us-east-1:123456789012:followups-dlq";

fn executors() -> Executors {
    let arn = |name: &str| format!("arn:aws:lambda:us-east-1:123456789012:function:{name}");
    Executors {
        sms: arn("executor-sms"),
        email: arn("executor-email"),
        whatsapp: arn("executor-whatsapp"),
        call: arn("executor-call"),
    }
}

fn job(channel: &str) -> Job {
    Job {
        account_id: "acme".into(),
        followup_id: unique("fu"),
        attempt: 1,
        channel: channel.into(),
    }
}

/// Schedules in a fresh group of moto's Scheduler; Lambda at `lambda_url` (unused when
/// nothing is dispatched).
async fn schedules_in_new_group(
    lambda_url: &str,
) -> (EventBridgeSchedules, aws_sdk_scheduler::Client, String) {
    let moto = Moto::shared();
    let scheduler = aws_sdk_scheduler::Client::new(&moto.sdk_config());
    let group = unique("followups");
    scheduler
        .create_schedule_group()
        .name(&group)
        .send()
        .await
        .unwrap();
    let lambda = aws_sdk_lambda::Client::new(&testkit::sdk_config_for(lambda_url));
    let settings = SchedulerSettings::new(&group, ROLE, executors(), Some(DLQ.into()));
    (
        EventBridgeSchedules::new(scheduler.clone(), lambda, settings),
        scheduler,
        group,
    )
}

async fn names_in(scheduler: &aws_sdk_scheduler::Client, group: &str) -> Vec<String> {
    scheduler
        .list_schedules()
        .group_name(group)
        .send()
        .await
        .unwrap()
        .schedules()
        .iter()
        .filter_map(|s| s.name().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn a_follow_up_is_scheduled_at_its_local_time_for_its_executor() {
    let (schedules, scheduler, group) = schedules_in_new_group("http://127.0.0.1:1").await;
    let job = job("call");
    let due = Utc.with_ymd_and_hms(2030, 1, 15, 20, 0, 0).unwrap();

    schedules
        .schedule(&job, due, "America/New_York")
        .await
        .unwrap();

    let got = scheduler
        .get_schedule()
        .group_name(&group)
        .name(schedule_name(&job.account_id, &job.followup_id))
        .send()
        .await
        .unwrap();
    assert_eq!(got.schedule_expression(), Some("at(2030-01-15T15:00:00)"));
    assert_eq!(got.schedule_expression_timezone(), Some("America/New_York"));
    assert_eq!(
        got.action_after_completion().map(|a| a.as_str()),
        Some("DELETE")
    );
    assert_eq!(
        got.flexible_time_window().map(|w| w.mode().as_str()),
        Some("OFF")
    );
    let target = got.target().unwrap();
    assert_eq!(target.arn(), executors().call);
    assert_eq!(target.role_arn(), ROLE);
    let input: Value = serde_json::from_str(target.input().unwrap()).unwrap();
    assert_eq!(
        input,
        json!({"account_id": "acme", "followup_id": job.followup_id, "attempt": 1})
    );
    let retry = target.retry_policy().unwrap();
    assert_eq!(retry.maximum_retry_attempts(), Some(3));
    assert_eq!(retry.maximum_event_age_in_seconds(), Some(3600));
    assert_eq!(target.dead_letter_config().and_then(|d| d.arn()), Some(DLQ));
}

#[tokio::test]
async fn a_missed_call_email_is_scheduled_for_the_email_executor() {
    let (schedules, scheduler, group) = schedules_in_new_group("http://127.0.0.1:1").await;
    let job = job("missed_call_email");

    schedules
        .schedule(
            &job,
            Utc.with_ymd_and_hms(2030, 1, 15, 20, 0, 0).unwrap(),
            "UTC",
        )
        .await
        .unwrap();

    let got = scheduler
        .get_schedule()
        .group_name(&group)
        .name(schedule_name(&job.account_id, &job.followup_id))
        .send()
        .await
        .unwrap();
    assert_eq!(got.target().unwrap().arn(), executors().email);
}

#[tokio::test]
async fn scheduling_a_follow_up_twice_keeps_one_schedule_with_the_latest_time() {
    let (schedules, scheduler, group) = schedules_in_new_group("http://127.0.0.1:1").await;
    let first = job("sms");
    let mut retried = first.clone();
    retried.attempt = 2;

    let due = Utc.with_ymd_and_hms(2030, 1, 15, 20, 0, 0).unwrap();
    schedules
        .schedule(&first, due, "Europe/Madrid")
        .await
        .unwrap();
    schedules
        .schedule(&first, due, "Europe/Madrid")
        .await
        .unwrap();
    let later = Utc.with_ymd_and_hms(2030, 1, 16, 9, 30, 0).unwrap();
    schedules
        .schedule(&retried, later, "Europe/Madrid")
        .await
        .unwrap();

    let name = schedule_name(&first.account_id, &first.followup_id);
    assert_eq!(names_in(&scheduler, &group).await, vec![name.clone()]);
    let got = scheduler
        .get_schedule()
        .group_name(&group)
        .name(&name)
        .send()
        .await
        .unwrap();
    assert_eq!(got.schedule_expression(), Some("at(2030-01-16T10:30:00)"));
    let input: Value = serde_json::from_str(got.target().unwrap().input().unwrap()).unwrap();
    assert_eq!(input["attempt"], 2);
}

#[tokio::test]
async fn unscheduling_removes_the_schedule_and_a_missing_one_is_fine() {
    let (schedules, scheduler, group) = schedules_in_new_group("http://127.0.0.1:1").await;
    let job = job("whatsapp");
    schedules
        .schedule(
            &job,
            Utc.with_ymd_and_hms(2030, 1, 15, 20, 0, 0).unwrap(),
            "UTC",
        )
        .await
        .unwrap();

    schedules
        .unschedule(&job.account_id, &job.followup_id)
        .await
        .unwrap();
    schedules
        .unschedule(&job.account_id, &job.followup_id)
        .await
        .unwrap();
    schedules
        .unschedule("acme", &unique("never"))
        .await
        .unwrap();

    let gone = scheduler
        .get_schedule()
        .group_name(&group)
        .name(schedule_name(&job.account_id, &job.followup_id))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(gone.is_resource_not_found_exception(), "{gone:?}");
}

#[tokio::test]
async fn an_unknown_channel_or_time_zone_is_permanent_and_schedules_nothing() {
    let (schedules, scheduler, group) = schedules_in_new_group("http://127.0.0.1:1").await;
    let due = Utc.with_ymd_and_hms(2030, 1, 15, 20, 0, 0).unwrap();

    let fax = schedules.schedule(&job("fax"), due, "UTC").await;
    let mars = schedules.schedule(&job("sms"), due, "Mars/Base").await;

    assert!(
        matches!(fax, Err(ScheduleError::Permanent { .. })),
        "{fax:?}"
    );
    assert!(
        matches!(mars, Err(ScheduleError::Permanent { .. })),
        "{mars:?}"
    );
    assert!(names_in(&scheduler, &group).await.is_empty());
}

// --- Direct dispatch ------------------------------------------------------------

#[derive(Debug, Clone)]
struct Invocation {
    path: String,
    invocation_type: Option<String>,
    body: Value,
}

#[derive(Clone)]
struct LambdaStub {
    seen: Arc<Mutex<Vec<Invocation>>>,
    /// Answer 404 ResourceNotFoundException instead of 202.
    missing: bool,
}

async fn invoke(State(stub): State<LambdaStub>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, 1 << 20)
        .await
        .unwrap_or_default();
    stub.seen.lock().unwrap().push(Invocation {
        path: parts.uri.path().to_owned(),
        invocation_type: parts
            .headers
            .get("x-amz-invocation-type")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    });
    if stub.missing {
        return (
            StatusCode::NOT_FOUND,
            [("x-amzn-errortype", "ResourceNotFoundException")],
            r#"{"Type":"User","message":"Function not found"}"#,
        )
            .into_response();
    }
    StatusCode::ACCEPTED.into_response()
}

async fn lambda_stub(missing: bool) -> (LambdaStub, String) {
    let stub = LambdaStub {
        seen: Arc::default(),
        missing,
    };
    let app = Router::new().fallback(invoke).with_state(stub.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (stub, url)
}

#[tokio::test]
async fn dispatching_now_invokes_the_channel_executor_asynchronously_with_the_executor_input() {
    let (stub, url) = lambda_stub(false).await;
    let (schedules, scheduler, group) = schedules_in_new_group(&url).await;
    let job = job("whatsapp");

    schedules.dispatch_now(&job).await.unwrap();

    let seen = stub.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    assert_eq!(
        seen[0].path,
        format!(
            "/2015-03-31/functions/{}/invocations",
            executors().whatsapp.replace(':', "%3A")
        )
    );
    assert_eq!(seen[0].invocation_type.as_deref(), Some("Event"));
    assert_eq!(
        seen[0].body,
        json!({"account_id": "acme", "followup_id": job.followup_id, "attempt": 1})
    );
    assert!(
        names_in(&scheduler, &group).await.is_empty(),
        "no schedule is made"
    );
}

#[tokio::test]
async fn dispatching_to_a_missing_executor_is_permanent() {
    let (stub, url) = lambda_stub(true).await;
    let (schedules, _, _) = schedules_in_new_group(&url).await;

    let result = schedules.dispatch_now(&job("sms")).await;

    assert!(
        matches!(result, Err(ScheduleError::Permanent { .. })),
        "{result:?}"
    );
    assert_eq!(stub.seen.lock().unwrap().len(), 1, "a 404 is not retried");
}
