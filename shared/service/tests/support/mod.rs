//! A world for the use-case tests: the embedded store in a temp dir, a clock the test
//! sets, an account with a signing secret, agent and campaign settings, a recording
//! scheduler and the outbox as every channel's sender.

#![allow(dead_code)]

use std::sync::{Arc, Mutex};

use channels::Outbox;
use chrono::{DateTime, Utc};
use policy::{AccountId, FollowUp};
use scheduling::{Job, ScheduleError, Schedules};
use serde_json::Value;
use service::cache::Cache;
use service::clock::Clock;
use service::dispatch::Dispatcher;
use service::execute::{Executor, SenderIdentity, Senders};
use service::signature::{SignedHeaders, WebhookSecret};
use service::{Engine, Repository};
use store::EmbeddedTable;
pub use testkit::fixtures::{account_json, agent_json, answered_call, campaign_json};

/// The tests' clock: set by hand, shared by the engine, the executor and the table.
pub type TestClock = service::clock::ManualClock;

/// What a test's scheduler was asked to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Scheduled {
    At(Job, DateTime<Utc>, String),
    Now(Job),
    Removed(String),
}

#[derive(Default)]
pub struct RecordingSchedules(pub Mutex<Vec<Scheduled>>);

#[async_trait::async_trait]
impl Schedules for RecordingSchedules {
    async fn schedule(
        &self,
        job: &Job,
        due_at: DateTime<Utc>,
        tz: &str,
    ) -> Result<(), ScheduleError> {
        self.0
            .lock()
            .unwrap()
            .push(Scheduled::At(job.clone(), due_at, tz.into()));
        Ok(())
    }
    async fn unschedule(&self, _: &str, followup_id: &str) -> Result<(), ScheduleError> {
        self.0
            .lock()
            .unwrap()
            .push(Scheduled::Removed(followup_id.into()));
        Ok(())
    }
    async fn dispatch_now(&self, job: &Job) -> Result<(), ScheduleError> {
        self.0.lock().unwrap().push(Scheduled::Now(job.clone()));
        Ok(())
    }
}

pub struct World {
    pub engine: Arc<Engine>,
    pub table: Arc<EmbeddedTable>,
    pub clock: Arc<TestClock>,
    pub secret: WebhookSecret,
    pub account: AccountId,
    pub outbox: Arc<Outbox>,
    pub executor: Arc<Executor>,
    pub schedules: Arc<RecordingSchedules>,
    pub dispatcher: Dispatcher,
    pub changes: tokio::sync::Mutex<tokio::sync::mpsc::UnboundedReceiver<store::Change>>,
    _dir: tempfile::TempDir,
}

pub use testkit::fixtures::tuesday_morning_in_new_york;

impl World {
    pub async fn new() -> World {
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(TestClock::at(tuesday_morning_in_new_york()));
        let table = {
            let clock = clock.clone();
            EmbeddedTable::open(dir.path().join("t.redb"))
                .unwrap()
                .with_clock(move || clock.now().timestamp())
        };
        let changes = table.subscribe();
        let table = Arc::new(table);
        let repo = Arc::new(Repository::new(table.clone(), Cache::default()));
        let engine = Arc::new(Engine::new(repo.clone(), clock.clone()));
        let account = AccountId::parse("account_id", "acme").unwrap();
        let created = engine.create_webhook_secret(&account, None).await.unwrap();
        let outbox = {
            let clock = clock.clone();
            Arc::new(Outbox::new(None, Arc::new(move || clock.now())).unwrap())
        };
        let executor = Arc::new(Executor::new(
            repo,
            Senders::all(outbox.clone()),
            SenderIdentity::default(),
            clock.clone(),
        ));
        let schedules = Arc::new(RecordingSchedules::default());
        let dispatcher = Dispatcher::new(schedules.clone(), clock.clone());
        let world = World {
            engine,
            table,
            clock,
            secret: WebhookSecret::parse(&created.secret).unwrap(),
            account,
            outbox,
            executor,
            schedules,
            dispatcher,
            changes: tokio::sync::Mutex::new(changes),
            _dir: dir,
        };
        world
            .configure(account_json(), agent_json(), campaign_json())
            .await;
        world
    }

    pub async fn configure(&self, account: Value, agent: Value, campaign: Value) {
        let e = &self.engine;
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

    /// Posts a signed delivery as the voice platform would.
    pub async fn deliver(
        &self,
        webhook_id: &str,
        body: &Value,
    ) -> Result<Value, service::webhook::WebhookError> {
        let body = body.to_string();
        let ts = self.clock.now().timestamp();
        let signature = self.secret.sign(webhook_id, ts, body.as_bytes());
        let ts = ts.to_string();
        let headers = SignedHeaders {
            id: Some(webhook_id),
            timestamp: Some(&ts),
            signature: Some(&signature),
        };
        self.engine
            .accept_call_completed("acme", headers, body.as_bytes())
            .await
    }

    /// Every follow-up of the test contact, newest first.
    pub async fn followups_of(&self, contact: &str) -> Vec<FollowUp> {
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

    /// Feeds every pending change to the dispatcher, as the stream would.
    pub async fn dispatch_changes(&self) {
        let mut changes = self.changes.lock().await;
        while let Ok(change) = changes.try_recv() {
            let record = service::dispatch::StreamChange {
                id: "1".into(),
                old: change.old.map(Ok),
                new: change.new.map(Ok),
            };
            assert_eq!(self.dispatcher.on_stream([record]).await, None);
        }
    }

    pub fn scheduled(&self) -> Vec<Scheduled> {
        std::mem::take(&mut *self.schedules.0.lock().unwrap())
    }
}

/// `value` with the field at `pointer` set (created in its parent object if absent).
pub fn set(mut value: Value, pointer: &str, new: Value) -> Value {
    let (parent, field) = pointer.rsplit_once('/').unwrap();
    let parent = value
        .pointer_mut(parent)
        .and_then(Value::as_object_mut)
        .unwrap_or_else(|| panic!("no {parent}"));
    parent.insert(field.to_string(), new);
    value
}
