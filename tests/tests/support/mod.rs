//! The engine wired to AWS implementations on moto: DynamoDB (table, stream),
//! EventBridge Scheduler, SNS and SESv2, with the Lambda Invoke API on a loopback
//! stub. Each world has its own table, sender identity and phone numbers.

#![allow(dead_code)]

use std::sync::Arc;

use axum::body::Body;
use axum::http::Request;
use chrono::{DateTime, Utc};
use http_body_util::BodyExt;
use policy::AccountId;
use scheduling::{EventBridgeSchedules, Executors, SchedulerSettings};
use serde_json::{Value, json};
use service::cache::Cache;
use service::clock::{Clock, SystemClock};
use service::dispatch::{Dispatcher, StreamChange};
use service::execute::{Executor, ExecutorInput, Outcome, SenderIdentity, Senders};
use service::signature::WebhookSecret;
use service::{Engine, Repository};
use testkit::{LambdaStub, Moto, RequestCounter, unique, unique_phone};
use tower::ServiceExt;

pub const ROLE: &str = "arn:aws:iam::123456789012:role/scheduler";

pub fn executor_arn(channel: &str) -> String {
    format!("arn:aws:lambda:us-east-1:123456789012:function:followups-executor-{channel}")
}

pub struct AwsWorld {
    pub moto: &'static Moto,
    pub table: String,
    pub group: String,
    pub ddb: aws_sdk_dynamodb::Client,
    /// Counts the DynamoDB requests of the webhook and API path.
    pub webhook_requests: RequestCounter,
    /// Counts the requests of the executors (DynamoDB, SNS, SES).
    pub executor_requests: RequestCounter,
    pub scheduler: aws_sdk_scheduler::Client,
    pub lambda: LambdaStub,
    pub engine: Arc<Engine>,
    pub account: AccountId,
    pub secret: WebhookSecret,
    pub from_address: String,
    pub phone: String,
    pub outbox: Arc<channels::Outbox>,
    sms: Arc<dyn channels::Sender>,
    email: Arc<dyn channels::Sender>,
    executor_repo: Arc<Repository>,
}

impl AwsWorld {
    pub async fn new() -> AwsWorld {
        let moto = Moto::shared();
        let sdk = moto.sdk_config();
        let table = unique("followups");
        let ddb = aws_sdk_dynamodb::Client::new(&sdk);
        store::create_table(&ddb, &table).await.unwrap();

        let webhook_requests = RequestCounter::default();
        let counted = |counter: &RequestCounter| {
            aws_sdk_dynamodb::Client::from_conf(
                aws_sdk_dynamodb::config::Builder::from(&sdk)
                    .interceptor(counter.clone())
                    .build(),
            )
        };
        let repo = Arc::new(Repository::new(
            Arc::new(store::DynamoTable::new(counted(&webhook_requests), &table)),
            Cache::default(),
        ));
        let engine = Arc::new(Engine::new(repo, Arc::new(SystemClock)));
        let account = AccountId::parse("account_id", &unique("acct")).unwrap();
        let created = engine.create_webhook_secret(&account, None).await.unwrap();

        let executor_requests = RequestCounter::default();
        let executor_repo = Arc::new(Repository::new(
            Arc::new(store::DynamoTable::new(counted(&executor_requests), &table)),
            Cache::default(),
        ));
        let sns = aws_sdk_sns::Client::from_conf(
            aws_sdk_sns::config::Builder::from(&sdk)
                .interceptor(executor_requests.clone())
                .build(),
        );
        let ses = aws_sdk_sesv2::Client::from_conf(
            aws_sdk_sesv2::config::Builder::from(&sdk)
                .interceptor(executor_requests.clone())
                .build(),
        );
        let from_address = format!("{}@acme.example.com", unique("followups"));
        aws_sdk_sesv2::Client::new(&sdk)
            .create_email_identity()
            .email_identity(&from_address)
            .send()
            .await
            .unwrap();

        let outbox = Arc::new(channels::Outbox::new(None, channels::system_clock()).unwrap());
        let world = AwsWorld {
            moto,
            table,
            group: unique("group"),
            ddb,
            webhook_requests,
            executor_requests,
            scheduler: aws_sdk_scheduler::Client::new(&sdk),
            lambda: LambdaStub::start().await,
            engine,
            account,
            secret: WebhookSecret::parse(&created.secret).unwrap(),
            from_address,
            phone: unique_phone(),
            outbox,
            sms: Arc::new(channels::SnsSms::new(&sns)),
            email: Arc::new(channels::SesEmail::new(&ses)),
            executor_repo,
        };
        world
            .scheduler
            .create_schedule_group()
            .name(&world.group)
            .send()
            .await
            .unwrap();
        world.configure().await;
        world
    }

    async fn configure(&self) {
        let e = &self.engine;
        let account = json!({
            "default_sender_name": "Ana at Acme",
            "default_meeting_link": "https://cal.example.com/acme",
            "default_time_zone": "America/New_York",
            "quiet_hours": {"start": "00:00", "end": "24:00"},
            // The tests run on the wall clock: the federal 08:00-21:00 floor is turned
            // off explicitly so nothing waits for morning (the numbers are DC's: no
            // state law applies).
            "calling_rules": {"disabled": ["federal_hours"]},
            "email_from_address": self.from_address,
        });
        let agent = json!({
            "allowed_hours": {"start": "00:00", "end": "24:00"},
            "allowed_days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
            "time_zone": "America/New_York",
            "calls": {"enabled": true, "when_to_schedule": "When asked to call back.", "instructions": "Offer a demo.", "max_retries": 2, "retry_interval_minutes": 60},
            "whatsapp": {"enabled": false}
        });
        let campaign = json!({
            "agent_id": "agent-1",
            "sms": {"enabled": true, "template": "meeting_request"},
            "email": {"enabled": true, "ask_for_email": true, "from_name": "Ana at Acme",
                      "subject": "Great talking, {{contact_name}}", "body": "Hi {{contact_name}},\n\n**Book** a slot: {{meeting_link}}"},
            "missed_call_email": {"enabled": true, "subject": "Sorry we missed you", "body": "Hi {{contact_name}}, pick a better time: {{meeting_link}}"}
        });
        e.put_account_settings(&self.account, &account, None)
            .await
            .unwrap();
        e.put_agent_settings(
            &self.account,
            &policy::AgentId::parse("agent_id", "agent-1").unwrap(),
            policy::AgentSettings::from_json(&agent).unwrap(),
            None,
        )
        .await
        .unwrap();
        e.put_campaign_settings(
            &self.account,
            &policy::CampaignId::parse("campaign_id", "camp-1").unwrap(),
            policy::CampaignSettings::from_json(&campaign).unwrap(),
            None,
        )
        .await
        .unwrap();
    }

    /// An answered call with SMS and email consent, and optionally a callback request.
    pub fn call(&self, call_id: &str, contact: &str, callback_at: Option<&str>) -> Value {
        let now = Utc::now();
        let requests = match callback_at {
            Some(at) => {
                json!([{"channel": "call", "at": at, "reason": "call me tomorrow afternoon"}])
            }
            None => json!([]),
        };
        json!({
            "type": "call.completed",
            "call": {"id": call_id, "agent_id": "agent-1", "campaign_id": "camp-1", "outcome": "completed",
                     "started_at": (now - chrono::Duration::minutes(4)).to_rfc3339(), "ended_at": now.to_rfc3339()},
            "contact": {"id": contact, "phone": self.phone, "email": format!("{contact}@example.org"), "name": "Ana", "timezone": "America/New_York"},
            "analysis": {"summary": "Ana wants a demo.", "consent": {"sms": true, "email": true, "whatsapp": false},
                         "sms_destination": {"number": self.phone, "confirmed": true},
                         "email_address": {"address": format!("{contact}@example.org"), "confirmed": true},
                         "followup_requests": requests}
        })
    }

    /// POSTs a signed delivery through the HTTP router, as API Gateway would.
    pub async fn post_webhook(&self, webhook_id: &str, body: &Value) -> (u16, Value) {
        let body = body.to_string();
        let ts = Utc::now().timestamp();
        let request = Request::post(format!("/v1/webhooks/{}/call-completed", self.account))
            .header("content-type", "application/json")
            .header("webhook-id", webhook_id)
            .header("webhook-timestamp", ts.to_string())
            .header(
                "webhook-signature",
                self.secret.sign(webhook_id, ts, body.as_bytes()),
            )
            .body(Body::from(body))
            .unwrap();
        let router =
            http_api::with_fallback(http_api::webhook_router(self.engine.clone(), 256 * 1024));
        let response = router.oneshot(request).await.unwrap();
        let status = response.status().as_u16();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    /// A dispatcher as deployed: EventBridge Scheduler on moto, Lambda on the stub.
    pub fn dispatcher(&self) -> Dispatcher {
        let sdk = self.moto.sdk_config();
        let lambda = aws_sdk_lambda::Client::new(&testkit::sdk_config_for(&self.lambda.endpoint));
        let executors = Executors {
            sms: executor_arn("sms"),
            email: executor_arn("email"),
            whatsapp: executor_arn("whatsapp"),
            call: executor_arn("call"),
        };
        let settings = SchedulerSettings::new(&self.group, ROLE, executors, None);
        let schedules =
            EventBridgeSchedules::new(aws_sdk_scheduler::Client::new(&sdk), lambda, settings);
        Dispatcher::new(Arc::new(schedules), Arc::new(SystemClock))
    }

    /// Every record of the table's stream from its start, as the Lambda event source
    /// mapping would deliver them.
    pub async fn stream(&self) -> Vec<StreamChange> {
        let streams = aws_sdk_dynamodbstreams::Client::new(&self.moto.sdk_config());
        let mut stream = store::DynamoStream::open(&self.ddb, streams, &self.table, true)
            .await
            .unwrap();
        let changes = stream.poll().await.unwrap();
        changes
            .into_iter()
            .enumerate()
            .map(|(i, change)| StreamChange {
                id: i.to_string(),
                old: change.old.map(Ok),
                new: change.new.map(Ok),
            })
            .collect()
    }

    /// The executor deployed for `channel`: SNS or SES on moto, the outbox for calls.
    pub fn executor(&self, channel: &str) -> Executor {
        self.executor_with_clock(channel, Arc::new(SystemClock))
    }

    pub fn executor_with_clock(&self, channel: &str, clock: Arc<dyn Clock>) -> Executor {
        let mut senders = Senders::default();
        match channel {
            "sms" => senders.sms = Some(self.sms.clone()),
            "email" => senders.email = Some(self.email.clone()),
            _ => {
                senders.call = Some(self.outbox.clone());
                senders.whatsapp = Some(self.outbox.clone());
            }
        }
        Executor::new(
            self.executor_repo.clone(),
            senders,
            SenderIdentity::default(),
            clock,
        )
    }

    /// Runs the executor an invocation was meant for, as Lambda would.
    pub async fn run_invocation(&self, invocation: &testkit::Invocation) -> Outcome {
        let channel = invocation.function.rsplit('-').next().unwrap().to_string();
        let input: ExecutorInput = serde_json::from_value(invocation.payload.clone()).unwrap();
        self.executor(&channel).execute(&input).await.unwrap()
    }

    pub async fn sms_to(&self, phone: &str) -> Vec<Value> {
        let data = self.moto.data().await;
        data["sns"]["SMS"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|m| m["phone_number"] == phone)
            .cloned()
            .collect()
    }

    /// Emails this world's sender sent to `address`.
    pub async fn email_to(&self, address: &str) -> Vec<Value> {
        let data = self.moto.data().await;
        data["ses"]["Message"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|m| m["destinations"].to_string().contains(address))
            .filter(|m| {
                m["source"]
                    .as_str()
                    .is_some_and(|s| s.contains(&self.from_address))
            })
            .cloned()
            .collect()
    }

    pub async fn followups(&self, contact: &str) -> Vec<policy::FollowUp> {
        self.engine
            .contact_followups(
                &self.account,
                &policy::ContactId::parse("contact_id", contact).unwrap(),
                None,
                Some(100),
            )
            .await
            .unwrap()
            .items
    }

    pub fn now(&self) -> DateTime<Utc> {
        SystemClock.now()
    }
}
