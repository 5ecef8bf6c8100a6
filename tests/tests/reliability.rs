//! Nothing lost, nothing sent twice: the engine under duplicate and concurrent
//! deliveries, racing executors, throttling, dropped connections and killed processes.
//!
//! - One webhook delivered 10 times at once and then in a burst (1,000 on the embedded
//!   store; 100 on moto, `RELIABILITY_MOTO_BURST=1000` for the full size) stores one set
//!   of follow-ups and gives every delivery the same answer.
//! - A campaign whose every follow-up's executor is invoked twice at once sends each
//!   message exactly once, counted where it lands: the outbox, or moto's record of SNS
//!   and SES (`/moto-api/data.json`). 1,000 contacts on the embedded store, 25 on moto
//!   (`RELIABILITY_MOTO_CONTACTS=1000` for the full size: moto's transactions copy the
//!   whole table, so its cost grows with the square of the size).
//! - The whole path (webhook → stream → dispatcher → executors) through a proxy that
//!   throttles, delays and drops AWS requests, with processes killed between the steps
//!   and fresh instances resuming from what is stored: no message is sent twice and
//!   every follow-up ends sent, failed, unknown or, still `scheduled`, parked for an
//!   operator; never left `sending`: a claim the last of Lambda's retries left behind is
//!   settled by the failure queue's consumer (`service::parked`) (`FAULT_CALLS`,
//!   `FAULT_SEED` to vary it). The two ways
//!   a claim used to be left `sending` for good (fixed in b57628b) are pinned down one at
//!   a time by the tests at the end.
//!
//! moto's conditional writes are not atomic under concurrent requests, so every moto
//! test here goes through the proxy of `faults`, which hands moto one request at a time.

mod faults;
mod harness;
mod support;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use faults::{FaultPlan, FaultProxy};
use policy::{AccountId, Channel, FollowUp, Status};
use scheduling::{EventBridgeSchedules, Executors, SchedulerSettings};
use serde_json::{Value, json};
use service::cache::Cache;
use service::clock::{Clock, MovableClock};
use service::dispatch::{Dispatcher, StreamChange};
use service::execute::{Executor, ExecutorInput, Next, Outcome, SenderIdentity, Senders};
use service::signature::WebhookSecret;
use service::{Engine, Repository};
use testkit::{LambdaStub, Moto, unique, unique_phone};
use tokio::task::JoinSet;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn kind_of(item_key: &store::Key) -> &'static str {
    if item_key.sk == service::records::FOLLOWUP_SK {
        "followup"
    } else if item_key.pk.contains("#GUARD#") {
        "guard"
    } else if item_key.pk.contains("#WEBHOOK#") {
        "delivery"
    } else if item_key.pk.contains("#PENDING#") {
        "pending"
    } else {
        "other"
    }
}

/// Every string inside `value` (moto's `destinations` of an email, whatever its shape).
fn strings(value: &Value) -> Vec<String> {
    match value {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items.iter().flat_map(strings).collect(),
        Value::Object(map) => map.values().flat_map(strings).collect(),
        _ => Vec::new(),
    }
}

fn count_kinds(items: &BTreeMap<store::Key, Value>) -> BTreeMap<&'static str, usize> {
    let mut counts = BTreeMap::new();
    for key in items.keys() {
        *counts.entry(kind_of(key)).or_default() += 1;
    }
    counts.remove("other");
    counts
}

// ---------------------------------------------------------------------------------
// The same webhook, many times at once
// ---------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_webhook_ten_times_at_once_and_a_thousand_times_in_a_burst_stores_one_set_of_followups_on_the_embedded_store()
 {
    let world = Arc::new(harness::World::embedded().await);
    let before = count_kinds(&world.snapshot().await);
    let body = harness::answered_call(
        "call-1",
        "contact-1",
        "+14155552671",
        "ana@example.com",
        world.now(),
    )
    .to_string();

    // Ten at once through the HTTP router, as API Gateway would deliver them.
    let mut tasks = JoinSet::new();
    for _ in 0..10 {
        let (world, body) = (world.clone(), body.clone());
        tasks.spawn(async move {
            world
                .post_signed(
                    harness::ACME,
                    &world.acme_secret,
                    "msg_race",
                    body.as_bytes(),
                )
                .await
        });
    }
    let answers: Vec<_> = tasks.join_all().await;
    assert!(answers.iter().all(|a| a.status == 200), "{answers:?}");
    assert!(
        answers.windows(2).all(|w| w[0].body == w[1].body),
        "{answers:?}"
    );
    let first = answers[0].body.clone();
    assert_eq!(first["followups"].as_array().unwrap().len(), 2, "{first}");

    // A thousand in a burst through the engine (as many Lambda containers would).
    let started = Instant::now();
    let mut tasks = JoinSet::new();
    for _ in 0..1000 {
        let (world, body) = (world.clone(), body.clone());
        tasks.spawn(async move {
            world
                .deliver("msg_race", &serde_json::from_str::<Value>(&body).unwrap())
                .await
        });
    }
    let burst: Vec<_> = tasks.join_all().await;
    let elapsed = started.elapsed();
    assert!(
        burst.iter().all(|a| a.as_ref().is_ok_and(|a| *a == first)),
        "every redelivery gets the first answer"
    );

    let after = count_kinds(&world.snapshot().await);
    let added: BTreeMap<_, _> = after
        .iter()
        .map(|(k, n)| (*k, n - before.get(k).copied().unwrap_or(0)))
        .filter(|(_, n)| *n > 0)
        .collect();
    println!("embedded: 1,010 deliveries of one webhook in ~{elapsed:?} (burst) added {added:?}");
    assert_eq!(
        added,
        BTreeMap::from([("delivery", 1), ("followup", 2), ("guard", 2)])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_webhook_ten_times_at_once_and_a_thousand_times_in_a_burst_stores_one_set_of_followups_on_dynamodb()
 {
    // Through the proxy that hands moto one request at a time (see `faults`): the
    // deliveries race each other as they would on DynamoDB.
    let world = Arc::new(FaultWorld::new(FaultPlan::serialized(), 1).await);
    let body = harness::answered_call(
        "call-1",
        "contact-1",
        &unique_phone(),
        "ana@example.com",
        world.clock.now(),
    )
    .to_string();

    // Ten at once, each in a fresh container.
    let mut tasks = JoinSet::new();
    for _ in 0..10 {
        let (world, body) = (world.clone(), body.clone());
        tasks.spawn(async move { world.deliver_with(&world.engine(), "msg_race", &body).await });
    }
    let answers = tasks.join_all().await;
    assert!(answers.iter().all(|(s, _)| *s == 200), "{answers:?}");
    assert!(answers.windows(2).all(|w| w[0].1 == w[1].1), "{answers:?}");
    let first = answers[0].1.clone();
    assert_eq!(first["followups"].as_array().unwrap().len(), 2, "{first}");

    // A burst, spread over ten warm containers.
    let burst_size = env_usize("RELIABILITY_MOTO_BURST", 100);
    let containers: Vec<Arc<Engine>> = (0..10).map(|_| world.engine()).collect();
    let started = Instant::now();
    let mut tasks = JoinSet::new();
    for n in 0..burst_size {
        let (world, body) = (world.clone(), body.clone());
        let engine = containers[n % containers.len()].clone();
        tasks.spawn(async move { world.deliver_with(&engine, "msg_race", &body).await });
    }
    let burst = tasks.join_all().await;
    let elapsed = started.elapsed();
    let mut statuses: BTreeMap<u16, usize> = BTreeMap::new();
    for (status, _) in &burst {
        *statuses.entry(*status).or_default() += 1;
    }
    let counts = world.count_items().await;
    println!(
        "moto: {burst_size} deliveries of one webhook in a burst took {elapsed:?}, statuses {statuses:?}; the table holds {counts:?}"
    );
    assert!(
        burst.iter().all(|(s, a)| *s == 200 && *a == first),
        "every redelivery gets the first answer: {statuses:?}"
    );
    assert_eq!(
        counts,
        BTreeMap::from([("delivery", 1), ("followup", 2), ("guard", 2)])
    );
}

// ---------------------------------------------------------------------------------
// Every executor invoked twice at once
// ---------------------------------------------------------------------------------

/// Every follow-up of `camp-1`, through the pages of the campaign view.
async fn campaign_followups(engine: &Engine, account: &AccountId) -> Vec<FollowUp> {
    let mut all = Vec::new();
    let mut cursor = None;
    loop {
        let page = engine
            .campaign_followups(
                account,
                &policy::CampaignId::parse("campaign_id", "camp-1").unwrap(),
                None,
                None,
                cursor,
                Some(100),
            )
            .await
            .unwrap();
        all.extend(page.items);
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return all,
        }
    }
}

#[derive(Debug, Default)]
struct Outcomes {
    sent: usize,
    skipped: usize,
    other: Vec<String>,
}

impl Outcomes {
    fn add(&mut self, outcome: Result<Outcome, service::ServiceError>) {
        match outcome {
            Ok(Outcome::Sent { .. }) => self.sent += 1,
            Ok(Outcome::Skipped { detail })
                if detail.contains("claimed it first")
                    || detail.contains("the follow-up is sent") =>
            {
                self.skipped += 1
            }
            Ok(Outcome::InFlight { .. }) => self.skipped += 1,
            other => self.other.push(format!("{other:?}")),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_campaign_of_a_thousand_contacts_each_executor_invoked_twice_at_once_sends_every_message_once_on_the_embedded_store()
 {
    let contacts = env_usize("RELIABILITY_EMBEDDED_CONTACTS", 1000);
    let world = Arc::new(harness::World::embedded().await);
    let started = Instant::now();
    let mut tasks = JoinSet::new();
    for n in 0..contacts {
        let world = world.clone();
        tasks.spawn(async move {
            let body = harness::answered_call(
                &format!("call-{n}"),
                &format!("contact-{n}"),
                &harness::phone_of(n),
                &format!("contact-{n}@example.com"),
                world.now(),
            );
            world.deliver(&format!("msg_{n}"), &body).await.unwrap()
        });
        if tasks.len() >= 16 {
            tasks.join_next().await.unwrap().unwrap();
        }
    }
    tasks.join_all().await;
    let delivered = started.elapsed();

    let followups = campaign_followups(&world.engine, &world.acme).await;
    assert_eq!(followups.len(), 2 * contacts);
    let started = Instant::now();
    let mut outcomes = Outcomes::default();
    let mut tasks = JoinSet::new();
    for followup in followups {
        let input = ExecutorInput {
            account_id: world.acme.to_string(),
            followup_id: followup.id.to_string(),
            attempt: followup.attempt,
        };
        let world = world.clone();
        tasks.spawn(async move {
            let (a, b) = tokio::join!(
                world.executor.execute(&input),
                world.executor.execute(&input)
            );
            [a, b]
        });
        while tasks.len() >= 16 {
            for outcome in tasks.join_next().await.unwrap().unwrap() {
                outcomes.add(outcome);
            }
        }
    }
    for pair in tasks.join_all().await {
        for outcome in pair {
            outcomes.add(outcome);
        }
    }
    let executed = started.elapsed();

    let mut per_destination: HashMap<(String, String), usize> = HashMap::new();
    for entry in world.outbox.list() {
        *per_destination
            .entry((entry.channel.clone(), entry.destination.clone()))
            .or_default() += 1;
    }
    println!(
        "embedded: {contacts} contacts delivered in {delivered:?}; {} executions in {executed:?}: {} sent, {} skipped, other {:?}",
        4 * contacts,
        outcomes.sent,
        outcomes.skipped,
        outcomes.other
    );
    assert!(outcomes.other.is_empty(), "{:?}", outcomes.other);
    assert_eq!(
        (outcomes.sent, outcomes.skipped),
        (2 * contacts, 2 * contacts)
    );
    assert_eq!(per_destination.len(), 2 * contacts);
    assert!(per_destination.values().all(|n| *n == 1));
    for n in 0..contacts {
        assert_eq!(
            per_destination.get(&("sms".into(), harness::phone_of(n))),
            Some(&1)
        );
        assert_eq!(
            per_destination.get(&("email".into(), format!("contact-{n}@example.com"))),
            Some(&1)
        );
    }
    let after = campaign_followups(&world.engine, &world.acme).await;
    assert!(after.iter().all(|f| f.status == Status::Sent));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_campaign_with_each_executor_invoked_twice_at_once_sends_every_sms_and_email_once_in_the_emulator()
 {
    let contacts = env_usize("RELIABILITY_MOTO_CONTACTS", 25);
    let world = Arc::new(FaultWorld::new(FaultPlan::serialized(), 1).await);
    let phones: Vec<String> = (0..contacts).map(|_| unique_phone()).collect();
    let webhook = world.engine();
    let started = Instant::now();
    let mut tasks = JoinSet::new();
    for (n, phone) in phones.iter().enumerate() {
        let (world, webhook) = (world.clone(), webhook.clone());
        let body = harness::answered_call(
            &format!("call-{n}"),
            &format!("contact-{n}"),
            phone,
            &world.email_of(n),
            world.clock.now(),
        )
        .to_string();
        tasks.spawn(async move {
            world
                .deliver_with(&webhook, &format!("msg_{n}"), &body)
                .await
        });
        while tasks.len() >= 8 {
            let (status, answer) = tasks.join_next().await.unwrap().unwrap();
            assert_eq!(status, 200, "{answer}");
        }
    }
    for (status, answer) in tasks.join_all().await {
        assert_eq!(status, 200, "{answer}");
    }
    let delivered = started.elapsed();

    let followups = campaign_followups(&world.direct, &world.account).await;
    assert_eq!(followups.len(), 2 * contacts);
    // Two warm Lambda containers, each with its own clients and caches, both invoked
    // for every follow-up at once.
    let (a, b) = (Arc::new(world.executor()), Arc::new(world.executor()));
    let started = Instant::now();
    let mut outcomes = Outcomes::default();
    let mut tasks = JoinSet::new();
    for followup in followups {
        let input = ExecutorInput {
            account_id: world.account.to_string(),
            followup_id: followup.id.to_string(),
            attempt: followup.attempt,
        };
        let (a, b) = (a.clone(), b.clone());
        tasks.spawn(async move {
            let (first, second) = tokio::join!(a.execute(&input), b.execute(&input));
            [first, second]
        });
        while tasks.len() >= 8 {
            for outcome in tasks.join_next().await.unwrap().unwrap() {
                outcomes.add(outcome);
            }
        }
    }
    for pair in tasks.join_all().await {
        for outcome in pair {
            outcomes.add(outcome);
        }
    }
    let executed = started.elapsed();

    let (sms_per_phone, email_per_address) = world.landed().await;
    println!(
        "moto: {contacts} contacts delivered in {delivered:?}; {} executions in {executed:?}: {} sent, {} skipped, other {:?}; moto holds {} SMS and {} emails for them",
        4 * contacts,
        outcomes.sent,
        outcomes.skipped,
        outcomes.other,
        sms_per_phone.values().sum::<usize>(),
        email_per_address.values().sum::<usize>()
    );
    assert!(outcomes.other.is_empty(), "{:?}", outcomes.other);
    assert_eq!(
        (outcomes.sent, outcomes.skipped),
        (2 * contacts, 2 * contacts)
    );
    for phone in &phones {
        assert_eq!(sms_per_phone.get(phone), Some(&1), "one SMS to {phone}");
    }
    for n in 0..contacts {
        assert_eq!(email_per_address.get(&world.email_of(n)), Some(&1));
    }
    assert_eq!(sms_per_phone.len(), contacts);
    assert_eq!(email_per_address.len(), contacts);
}

// ---------------------------------------------------------------------------------
// Faults: throttling, dropped connections and killed processes
// ---------------------------------------------------------------------------------

/// The engine on moto behind the fault proxy. Every `engine()`, `dispatcher()` and
/// `executor()` is a fresh instance (a new Lambda container: cold caches, new
/// clients); the test's setup and its final count go around the proxy.
struct FaultWorld {
    moto: &'static Moto,
    proxy: FaultProxy,
    faulty: aws_config::SdkConfig,
    table: String,
    group: String,
    lambda: LambdaStub,
    clock: Arc<MovableClock>,
    account: AccountId,
    secret: WebhookSecret,
    from_address: String,
    direct: Arc<Engine>,
    ddb: aws_sdk_dynamodb::Client,
}

impl FaultWorld {
    async fn new(plan: FaultPlan, seed: u64) -> FaultWorld {
        let moto = Moto::shared();
        let sdk = moto.sdk_config();
        let proxy = FaultProxy::start(moto.endpoint(), plan, seed).await;
        // The SDK's standard retries (3 attempts) as in production, with a shorter
        // first backoff so the test spends its time on faults, not on sleeping.
        let faulty = testkit::sdk_config_for(&proxy.endpoint)
            .to_builder()
            .retry_config(
                aws_config::retry::RetryConfig::standard()
                    .with_max_attempts(3)
                    .with_initial_backoff(Duration::from_millis(20)),
            )
            .build();
        let table = unique("faults");
        let ddb = aws_sdk_dynamodb::Client::new(&sdk);
        store::create_table(&ddb, &table).await.unwrap();
        let clock = Arc::new(MovableClock::new());
        let direct = Arc::new(Engine::new(
            Arc::new(Repository::new(
                Arc::new(store::DynamoTable::new(ddb.clone(), &table)),
                Cache::new(Duration::ZERO),
            )),
            clock.clone(),
        ));
        let account = AccountId::parse("account_id", &unique("acct")).unwrap();
        let created = direct.create_webhook_secret(&account, None).await.unwrap();
        let from_address = format!("{}@acme.example.com", unique("faults"));
        aws_sdk_sesv2::Client::new(&sdk)
            .create_email_identity()
            .email_identity(&from_address)
            .send()
            .await
            .unwrap();
        let group = unique("group");
        aws_sdk_scheduler::Client::new(&sdk)
            .create_schedule_group()
            .name(&group)
            .send()
            .await
            .unwrap();
        let world = FaultWorld {
            moto,
            proxy,
            faulty,
            table,
            group,
            lambda: LambdaStub::start().await,
            clock,
            account,
            secret: WebhookSecret::parse(&created.secret).unwrap(),
            from_address,
            direct,
            ddb,
        };
        let e = &world.direct;
        let mut account_settings = harness::account_json();
        account_settings["email_from_address"] = json!(world.from_address);
        // The test runs on the wall clock: no quiet hours, so nothing waits for morning.
        account_settings["quiet_hours"] = json!({"start": "00:00", "end": "24:00"});
        account_settings["calling_rules"] = json!({"disabled": ["federal_hours"]});
        harness::configure(e, &world.account, &account_settings).await;
        world
    }

    fn repo(&self) -> Arc<Repository> {
        Arc::new(Repository::new(
            Arc::new(store::DynamoTable::new(
                aws_sdk_dynamodb::Client::new(&self.faulty),
                &self.table,
            )),
            Cache::default(),
        ))
    }

    fn engine(&self) -> Arc<Engine> {
        Arc::new(Engine::new(self.repo(), self.clock.clone()))
    }

    fn dispatcher(&self) -> Dispatcher {
        let lambda = aws_sdk_lambda::Client::new(&testkit::sdk_config_for(&self.lambda.endpoint));
        let executors = Executors {
            sms: support::executor_arn("sms"),
            email: support::executor_arn("email"),
            whatsapp: support::executor_arn("whatsapp"),
            call: support::executor_arn("call"),
        };
        let settings = SchedulerSettings::new(&self.group, support::ROLE, executors, None);
        let schedules = EventBridgeSchedules::new(
            aws_sdk_scheduler::Client::new(&self.faulty),
            lambda,
            settings,
        );
        Dispatcher::new(Arc::new(schedules), self.clock.clone())
    }

    fn executor(&self) -> Executor {
        let senders = Senders {
            sms: Some(Arc::new(channels::SnsSms::new(&aws_sdk_sns::Client::new(
                &self.faulty,
            )))),
            email: Some(Arc::new(channels::SesEmail::new(
                &aws_sdk_sesv2::Client::new(&self.faulty),
            ))),
            ..Senders::default()
        };
        Executor::new(
            self.repo(),
            senders,
            SenderIdentity::default(),
            self.clock.clone(),
        )
    }

    /// A delivery through the webhook router of a fresh instance, signed now.
    async fn deliver(&self, webhook_id: &str, body: &str) -> (u16, Value) {
        self.deliver_with(&self.engine(), webhook_id, body).await
    }

    /// Contact `n`'s email address, unique to this world.
    fn email_of(&self, n: usize) -> String {
        let tag = self.from_address.split('@').next().unwrap_or_default();
        format!("c{n}.{tag}@example.org")
    }

    /// How many items of each kind the table holds (a scan of the world's own table).
    async fn count_items(&self) -> BTreeMap<&'static str, usize> {
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        let mut start = None;
        loop {
            let page = self
                .ddb
                .scan()
                .table_name(&self.table)
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .unwrap();
            for image in page.items.unwrap_or_default() {
                let item = store::item_from_image(image).unwrap();
                *counts.entry(kind_of(&item.key)).or_default() += 1;
            }
            start = page.last_evaluated_key;
            if start.is_none() {
                break;
            }
        }
        counts.remove("other");
        counts
    }

    /// What reached the emulator from this world: SMS per phone number (all numbers
    /// are unique to the world) and emails from its sender per recipient.
    async fn landed(&self) -> (HashMap<String, usize>, HashMap<String, usize>) {
        let data = self.moto.data().await;
        let mut sms_per_phone: HashMap<String, usize> = HashMap::new();
        for sms in data["sns"]["SMS"].as_array().into_iter().flatten() {
            let phone = sms["phone_number"].as_str().unwrap_or_default();
            *sms_per_phone.entry(phone.to_string()).or_default() += 1;
        }
        let mut email_per_address: HashMap<String, usize> = HashMap::new();
        for email in data["ses"]["Message"].as_array().into_iter().flatten() {
            if !email["source"]
                .as_str()
                .is_some_and(|s| s.contains(&self.from_address))
            {
                continue;
            }
            for to in strings(&email["destinations"]) {
                *email_per_address.entry(to).or_default() += 1;
            }
        }
        (sms_per_phone, email_per_address)
    }

    async fn deliver_with(
        &self,
        engine: &Arc<Engine>,
        webhook_id: &str,
        body: &str,
    ) -> (u16, Value) {
        use axum::body::Body;
        use http_body_util::BodyExt;
        use tower::ServiceExt;
        let ts = self.clock.now().timestamp();
        let request =
            axum::http::Request::post(format!("/v1/webhooks/{}/call-completed", self.account))
                .header("content-type", "application/json")
                .header("webhook-id", webhook_id)
                .header("webhook-timestamp", ts.to_string())
                .header(
                    "webhook-signature",
                    self.secret.sign(webhook_id, ts, body.as_bytes()),
                )
                .body(Body::from(body.to_string()))
                .unwrap();
        let router = http_api::with_fallback(http_api::webhook_router(engine.clone(), 256 * 1024));
        let response = router.oneshot(request).await.unwrap();
        let status = response.status().as_u16();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    /// Every record of the table's stream from TRIM_HORIZON, page by page (the event
    /// source mapping's view; read around the proxy: it is not the engine's code).
    async fn stream(&self) -> Vec<StreamChange> {
        let sdk = self.moto.sdk_config();
        let streams = aws_sdk_dynamodbstreams::Client::new(&sdk);
        let arn = aws_sdk_dynamodb::Client::new(&sdk)
            .describe_table()
            .table_name(&self.table)
            .send()
            .await
            .unwrap()
            .table
            .unwrap()
            .latest_stream_arn
            .unwrap();
        let shards = streams
            .describe_stream()
            .stream_arn(&arn)
            .send()
            .await
            .unwrap()
            .stream_description
            .unwrap()
            .shards
            .unwrap_or_default();
        let mut changes = Vec::new();
        for shard in shards {
            let mut iterator = streams
                .get_shard_iterator()
                .stream_arn(&arn)
                .shard_id(shard.shard_id.unwrap())
                .shard_iterator_type(aws_sdk_dynamodbstreams::types::ShardIteratorType::TrimHorizon)
                .send()
                .await
                .unwrap()
                .shard_iterator;
            while let Some(current) = iterator {
                let page = streams
                    .get_records()
                    .shard_iterator(current)
                    .limit(1000)
                    .send()
                    .await
                    .unwrap();
                let records = page.records.unwrap_or_default();
                if records.is_empty() {
                    break;
                }
                for record in records {
                    let data = record.dynamodb.unwrap();
                    let image = |image: Option<
                        HashMap<String, aws_sdk_dynamodbstreams::types::AttributeValue>,
                    >| {
                        image.map(|i| store::item_from_stream_image(serde_dynamo::Item::from(i)))
                    };
                    changes.push(StreamChange {
                        id: data.sequence_number.clone().unwrap_or_default(),
                        old: image(data.old_image),
                        new: image(data.new_image),
                    });
                }
                iterator = page.next_shard_iterator;
            }
        }
        changes
    }

    /// The schedules the dispatcher left in moto: (name, executor input).
    async fn schedules(&self) -> Vec<(String, ExecutorInput)> {
        let scheduler = aws_sdk_scheduler::Client::new(&self.moto.sdk_config());
        let listed = scheduler
            .list_schedules()
            .group_name(&self.group)
            .send()
            .await
            .unwrap();
        let mut found = Vec::new();
        for summary in listed.schedules {
            let name = summary.name.unwrap_or_default();
            let schedule = scheduler
                .get_schedule()
                .group_name(&self.group)
                .name(&name)
                .send()
                .await
                .unwrap();
            let input = schedule.target().and_then(|t| t.input()).unwrap_or("{}");
            found.push((name, serde_json::from_str(input).unwrap()));
        }
        found
    }

    /// Scheduler fired a one-time schedule: with `ActionAfterCompletion: DELETE` it
    /// is gone afterwards.
    async fn fired(&self, name: &str) {
        aws_sdk_scheduler::Client::new(&self.moto.sdk_config())
            .delete_schedule()
            .group_name(&self.group)
            .name(name)
            .send()
            .await
            .unwrap();
    }
}

/// What the run did besides succeeding.
#[derive(Debug, Default)]
struct Retried {
    webhook_redeliveries: usize,
    webhook_kills: usize,
    dispatcher_batches_failed: usize,
    dispatcher_kills: usize,
    executor_errors: usize,
    executor_kills: usize,
    lambda_retries: usize,
    lambda_gave_up: usize,
    schedules_fired: usize,
    /// Follow-ups whose invocation Lambda gave up on and the failure queue's consumer
    /// left for an operator (`ExecutorParkedQueue` in template.yaml, alarmed).
    parked: Vec<String>,
    /// Parked invocations the failure queue's consumer settled (`service::parked`).
    parked_settled: usize,
}

/// Where the run killed processes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kills {
    /// Only between steps: a webhook answered but never heard by the platform, a
    /// dispatcher gone after a batch before its checkpoint, an executor gone before it
    /// started or after it finished.
    BetweenSteps,
    /// Anywhere: the futures are dropped at a random instant, inside a step too.
    Anywhere,
}

/// A tiny seeded generator for the driver's own choices (which process dies when).
struct Dice(u64);

impl Dice {
    fn roll(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
    fn chance(&mut self, p: f64) -> bool {
        self.roll() < p
    }
    fn millis(&mut self, max: u64) -> Duration {
        Duration::from_millis((self.roll() * max as f64) as u64)
    }
}

/// Lambda's asynchronous invocation retries a failed event twice, then gives up (to an
/// on-failure destination, where one is configured).
const LAMBDA_RETRIES: usize = 2;
/// How often the failure queue hands a message to its consumer before moving it to the
/// parked queue (`maxReceiveCount` in template.yaml).
const PARKED_RECEIVES: usize = 4;

struct Report {
    followups: Vec<FollowUp>,
    sms_per_phone: HashMap<String, usize>,
    email_per_address: HashMap<String, usize>,
    retried: Retried,
    calls: usize,
}

async fn run_with_faults(calls: usize, seed: u64, kills: Kills) -> (FaultWorld, Report) {
    let world = FaultWorld::new(FaultPlan::default_plan(), seed).await;
    let mut dice = Dice(seed ^ 0x9E37_79B9_7F4A_7C15);
    let mut retried = Retried::default();
    let kill_chance = 0.10;

    // 1. The voice platform delivers every call and redelivers until it hears a 2xx.
    let mut bodies = Vec::new();
    for n in 0..calls {
        let phone = unique_phone();
        let email = world.email_of(n);
        let body = harness::answered_call(
            &format!("call-{n}"),
            &format!("contact-{n}"),
            &phone,
            &email,
            world.clock.now(),
        );
        bodies.push((format!("msg_{n}"), body.to_string()));
    }
    for (id, body) in &bodies {
        let mut tries = 0;
        loop {
            tries += 1;
            assert!(tries <= 30, "{id} never accepted");
            let kill = dice.chance(kill_chance);
            let answer = if kill && kills == Kills::Anywhere {
                tokio::time::timeout(dice.millis(40), world.deliver(id, body))
                    .await
                    .ok()
            } else {
                Some(world.deliver(id, body).await)
            };
            match answer {
                // Accepted, but the process died before the platform heard it: again.
                Some((200, _)) if kill => retried.webhook_kills += 1,
                Some((200, _)) => break,
                Some((status, answer)) if status >= 500 => {
                    assert!(status == 503, "{status} {answer}");
                    retried.webhook_redeliveries += 1;
                }
                Some((status, answer)) => panic!("{id}: {status} {answer}"),
                None => retried.webhook_kills += 1,
            }
        }
    }

    // 2. Stream → dispatcher → executors, until nothing is left to do. Each round
    //    starts fresh instances that know only what is stored.
    let mut checkpoint = 0usize;
    let mut queue: Vec<(ExecutorInput, usize)> = Vec::new();
    let mut gave_up: Vec<ExecutorInput> = Vec::new();
    for round in 0.. {
        assert!(round < 60, "no quiescence after 60 rounds");
        // Lambda's retries and Scheduler's firings come later in time.
        world.clock.advance(chrono::Duration::minutes(1));

        let records = world.stream().await;
        let dispatcher = world.dispatcher();
        let mut pending: Vec<StreamChange> = records.into_iter().skip(checkpoint).collect();
        while !pending.is_empty() {
            let rest = pending.split_off(pending.len().min(10));
            let batch = std::mem::replace(&mut pending, rest);
            let size = batch.len();
            let ids: Vec<String> = batch.iter().map(|c| c.id.clone()).collect();
            let kill = dice.chance(kill_chance);
            let failed = if kill && kills == Kills::Anywhere {
                match tokio::time::timeout(dice.millis(30), dispatcher.on_stream(batch)).await {
                    Ok(failed) => failed,
                    Err(_) => {
                        retried.dispatcher_kills += 1;
                        break;
                    }
                }
            } else {
                dispatcher.on_stream(batch).await
            };
            match failed {
                // Done, but the process died before the checkpoint: replayed later.
                None if kill => {
                    retried.dispatcher_kills += 1;
                    break;
                }
                None => checkpoint += size,
                Some(id) => {
                    retried.dispatcher_batches_failed += 1;
                    checkpoint += ids.iter().position(|i| *i == id).unwrap();
                    break;
                }
            }
        }

        for invocation in world.lambda.take() {
            let input: ExecutorInput = serde_json::from_value(invocation.payload).unwrap();
            queue.push((input, 0));
        }
        let stream_done = checkpoint == world.stream().await.len();
        if queue.is_empty() && stream_done {
            let schedules = world.schedules().await;
            if schedules.is_empty() {
                break;
            }
            // Nothing else to do: time passes until the schedules are due and fire.
            world.clock.advance(chrono::Duration::minutes(6));
            for (name, input) in schedules {
                world.fired(&name).await;
                retried.schedules_fired += 1;
                queue.push((input, 0));
            }
        }

        let mut running = JoinSet::new();
        for (input, tries) in std::mem::take(&mut queue) {
            let executor = world.executor();
            let kill = dice.chance(kill_chance);
            let deadline = dice.millis(60);
            let before_start = dice.chance(0.5);
            running.spawn(async move {
                let result = match (kill, kills) {
                    (true, Kills::Anywhere) => {
                        tokio::time::timeout(deadline, executor.execute(&input))
                            .await
                            .ok()
                    }
                    // Died before it started: nothing ran.
                    (true, Kills::BetweenSteps) if before_start => None,
                    // Died after it finished, before Lambda heard: it ran.
                    (true, Kills::BetweenSteps) => {
                        let _ = executor.execute(&input).await;
                        None
                    }
                    (false, _) => Some(executor.execute(&input).await),
                };
                (input, tries, result)
            });
        }
        while let Some(done) = running.join_next().await {
            let (input, tries, result) = done.unwrap();
            // What the Lambda adapter does with the result (functions/executor).
            let failed = match result.as_ref().map(Next::after) {
                Some(Next::Again { .. }) => {
                    retried.executor_errors += 1;
                    true
                }
                Some(Next::Done) => false,
                None => {
                    retried.executor_kills += 1;
                    true
                }
            };
            if failed {
                if tries < LAMBDA_RETRIES {
                    retried.lambda_retries += 1;
                    queue.push((input, tries + 1));
                } else {
                    retried.lambda_gave_up += 1;
                    gave_up.push(input);
                }
            }
        }
    }

    // 3. The executors' failure queue, consumed by the dispatcher (`service::parked`):
    //    each receive comes after the queue's visibility timeout (longer than the claim
    //    timeout); a message stays while its claim is fresh, its follow-up needs an
    //    operator or the table could not be reached, and then moves to the parked queue.
    for _ in 0..PARKED_RECEIVES {
        if gave_up.is_empty() {
            break;
        }
        world.clock.advance(chrono::Duration::minutes(2));
        let repo = world.repo();
        let mut kept = Vec::new();
        for input in gave_up {
            match service::parked::settle_parked(&repo, &input, world.clock.now()).await {
                Ok(outcome) if outcome.is_finished() => retried.parked_settled += 1,
                _ => kept.push(input),
            }
        }
        gave_up = kept;
    }
    retried.parked = gave_up.into_iter().map(|i| i.followup_id).collect();

    // 4. What is stored, and what reached the emulator.
    let followups = campaign_followups(&world.direct, &world.account).await;
    let (sms_per_phone, email_per_address) = world.landed().await;
    let report = Report {
        followups,
        sms_per_phone,
        email_per_address,
        retried,
        calls,
    };
    (world, report)
}

/// What a run left behind that it should not have.
struct Verdict {
    /// Sent twice, sent but not recorded, recorded sent but not sent, left
    /// `scheduled` without its invocation parked in the failure queue, lost calls.
    problems: Vec<String>,
    /// Left `sending` for good: claimed, then nothing settles it (see the tests at the
    /// end for the two ways this happened before b57628b).
    stuck: Vec<String>,
}

/// Checks the run and prints its counts.
fn judge(world: &FaultWorld, report: &Report, label: &str) -> Verdict {
    let mut by_status: BTreeMap<String, usize> = BTreeMap::new();
    let mut unknown_delivered = 0;
    let mut problems = Vec::new();
    let mut stuck = Vec::new();
    for f in &report.followups {
        *by_status.entry(f.status.to_string()).or_default() += 1;
        let destination = f
            .destination
            .as_ref()
            .map(|d| d.as_str().to_string())
            .unwrap_or_default();
        let landed = match f.channel {
            Channel::Sms => report.sms_per_phone.get(&destination),
            _ => report.email_per_address.get(&destination),
        }
        .copied()
        .unwrap_or(0);
        if landed > 1 {
            problems.push(format!("{} {} sent {landed} times", f.channel, f.id));
        }
        let line = || {
            format!(
                "{} {} left {} ({landed} landed): {:?}",
                f.channel,
                f.id,
                f.status,
                f.trace.last().map(|t| &t.detail)
            )
        };
        match f.status {
            Status::Sent if landed != 1 => problems.push(line()),
            Status::Failed if landed != 0 => problems.push(line()),
            Status::Sent | Status::Failed => {}
            Status::Unknown => unknown_delivered += landed,
            Status::Sending => stuck.push(line()),
            Status::Scheduled if report.retried.parked.contains(&f.id.to_string()) => {}
            _ => problems.push(line()),
        }
    }
    let tally = world.proxy.total();
    println!(
        "{label}: {} calls → {} follow-ups: {by_status:?} (of the unknown, {unknown_delivered} did reach the emulator; {} parked in the executors' failure queue; {} stuck in sending); retried: {:?}; proxy (seed {}): {} forwarded, {} throttled, {} dropped before moto, {} dropped after moto answered",
        report.calls,
        report.followups.len(),
        report.retried.parked.len(),
        stuck.len(),
        report.retried,
        world.proxy.seed,
        tally.forwarded,
        tally.throttled,
        tally.dropped_before,
        tally.dropped_after,
    );
    for (op, t) in world.proxy.tallies() {
        if t.throttled + t.dropped_before + t.dropped_after > 0 {
            println!("  {op}: {t:?}");
        }
    }
    for line in &stuck {
        println!("  STUCK in sending: {line}");
    }
    if report.followups.len() != 2 * report.calls {
        problems.push(format!(
            "{} follow-ups for {} calls",
            report.followups.len(),
            report.calls
        ));
    }
    Verdict { problems, stuck }
}

fn seed() -> u64 {
    std::env::var("FAULT_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| Utc::now().timestamp_millis() as u64)
}

/// Runs in CI: never sent twice, and every follow-up accounted for: sent and landed,
/// failed and not landed, unknown, or parked in the executors' failure queue; none left
/// `scheduled` or `sending` for good.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn through_throttling_dropped_connections_and_processes_killed_between_steps_no_message_is_sent_twice_and_none_is_silently_lost()
 {
    let calls = env_usize("FAULT_CALLS", 15);
    let (world, report) = run_with_faults(calls, seed(), Kills::BetweenSteps).await;
    let verdict = judge(&world, &report, "faults, kills between steps");
    assert!(
        verdict.problems.is_empty(),
        "{}",
        verdict.problems.join("\n")
    );
    assert!(verdict.stuck.is_empty(), "{}", verdict.stuck.join("\n"));
}

/// The same with processes killed at any instant, inside a step too. Slower; run with
/// `cargo test -p integration-tests --test reliability -- --ignored killed_anywhere`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "long (about a minute): run on demand, see docs/reliability.md"]
async fn through_throttling_dropped_connections_and_processes_killed_anywhere_no_message_is_sent_twice_and_none_is_silently_lost()
 {
    let calls = env_usize("FAULT_CALLS", 15);
    let (world, report) = run_with_faults(calls, seed(), Kills::Anywhere).await;
    let verdict = judge(&world, &report, "faults, kills anywhere");
    assert!(
        verdict.problems.is_empty(),
        "{}",
        verdict.problems.join("\n")
    );
}

// ---------------------------------------------------------------------------------
// The two ways a claim was left `sending` for good (before b57628b), one at a time
// ---------------------------------------------------------------------------------

/// How the table misbehaves on the first write `pick` chooses (or on every one).
#[derive(Clone, Copy, PartialEq)]
enum Misbehave {
    /// Nothing is written; the caller hears "unavailable" (throttled past the SDK's
    /// retries, or the process died before the write).
    FailBefore,
    /// The same on every write `pick` chooses: the table stays unreachable for it.
    FailAlways,
    /// The write is applied, its answer is lost, and the SDK sends it again: the
    /// caller hears the second answer (the condition no longer holds).
    RetriedAfterLostAnswer,
}

struct FlakyTable {
    inner: Arc<dyn store::Table>,
    pick: fn(&[store::Write]) -> bool,
    how: Misbehave,
    done: std::sync::atomic::AtomicBool,
}

#[async_trait::async_trait]
impl store::Table for FlakyTable {
    async fn get(&self, key: &store::Key) -> Result<Option<store::Item>, store::StoreError> {
        self.inner.get(key).await
    }
    async fn query(&self, query: &store::Query) -> Result<store::Page, store::StoreError> {
        self.inner.query(query).await
    }
    async fn write(&self, writes: Vec<store::Write>) -> Result<(), store::StoreError> {
        use std::sync::atomic::Ordering;
        if !(self.pick)(&writes) {
            return self.inner.write(writes).await;
        }
        let first = !self.done.swap(true, Ordering::SeqCst);
        if !first && self.how != Misbehave::FailAlways {
            return self.inner.write(writes).await;
        }
        match self.how {
            Misbehave::FailBefore | Misbehave::FailAlways => Err(store::StoreError::Unavailable(
                "injected: the write never happened".into(),
            )),
            Misbehave::RetriedAfterLostAnswer => {
                self.inner.write(writes.clone()).await?;
                self.inner.write(writes).await
            }
        }
    }
}

/// The write that puts a follow-up in `status`.
fn puts_status(writes: &[store::Write], status: &str) -> bool {
    writes.iter().any(|w| match w {
        store::Write::Put { item, .. } => {
            item.key.sk == service::records::FOLLOWUP_SK && item.attrs["status"] == status
        }
        _ => false,
    })
}

/// The follow-up `input` names, as stored now.
async fn stored(engine: &Engine, input: &ExecutorInput) -> service::records::Versioned<FollowUp> {
    let account = AccountId::parse("account_id", harness::ACME).unwrap();
    let id = policy::FollowUpId::parse("followup_id", &input.followup_id).unwrap();
    engine.followup(&account, &id).await.unwrap()
}

/// An embedded engine whose executor's table misbehaves once, a delivered call, and
/// its SMS follow-up's executor input.
async fn flaky_executor(
    pick: fn(&[store::Write]) -> bool,
    how: Misbehave,
) -> (
    Executor,
    Arc<harness::TestClock>,
    Arc<channels::Outbox>,
    Arc<Engine>,
    ExecutorInput,
    tempfile::TempDir,
) {
    let dir = tempfile::tempdir().unwrap();
    let clock = std::sync::Arc::new(harness::TestClock::at(
        harness::tuesday_morning_in_new_york(),
    ));
    let ttl = clock.clone();
    let table: Arc<dyn store::Table> = Arc::new(
        store::EmbeddedTable::open(dir.path().join("t.redb"))
            .unwrap()
            .with_clock(move || ttl.now().timestamp()),
    );
    let engine = Arc::new(Engine::new(
        Arc::new(Repository::new(table.clone(), Cache::default())),
        clock.clone(),
    ));
    let account = AccountId::parse("account_id", harness::ACME).unwrap();
    let secret = engine.create_webhook_secret(&account, None).await.unwrap();
    harness::configure(&engine, &account, &harness::account_json()).await;
    let body = harness::answered_call(
        "call-1",
        "contact-1",
        "+14155552671",
        "ana@example.com",
        clock.now(),
    )
    .to_string();
    let ts = clock.now().timestamp();
    let signature =
        WebhookSecret::parse(&secret.secret)
            .unwrap()
            .sign("msg_1", ts, body.as_bytes());
    let ts = ts.to_string();
    let answer = engine
        .accept_call_completed(
            harness::ACME,
            service::signature::SignedHeaders {
                id: Some("msg_1"),
                timestamp: Some(&ts),
                signature: Some(&signature),
            },
            body.as_bytes(),
        )
        .await
        .unwrap();
    let sms = answer["followups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["channel"] == "sms")
        .unwrap();
    let input = ExecutorInput {
        account_id: harness::ACME.into(),
        followup_id: sms["id"].as_str().unwrap().into(),
        attempt: 1,
    };
    let outbox = {
        let clock = clock.clone();
        Arc::new(channels::Outbox::new(None, Arc::new(move || clock.now())).unwrap())
    };
    let flaky = Arc::new(FlakyTable {
        inner: table,
        pick,
        how,
        done: Default::default(),
    });
    let executor = Executor::new(
        Arc::new(Repository::new(flaky, Cache::default())),
        Senders::all(outbox.clone()),
        SenderIdentity::default(),
        clock.clone(),
    );
    (executor, clock, outbox, engine, input, dir)
}

/// Lambda's asynchronous retries of a failed invocation: about a minute, then about two
/// minutes later.
async fn lambda_retries(
    executor: &Executor,
    clock: &harness::TestClock,
    input: &ExecutorInput,
) -> Vec<String> {
    let mut outcomes = Vec::new();
    for wait in [1, 2] {
        clock.advance(chrono::Duration::minutes(wait));
        outcomes.push(format!("{:?}", executor.execute(input).await));
    }
    outcomes
}

#[tokio::test]
async fn a_message_whose_outcome_write_failed_once_after_the_send_is_recorded_sent_by_the_executor_itself()
 {
    let (executor, _clock, outbox, engine, input, _dir) =
        flaky_executor(|w| puts_status(w, "sent"), Misbehave::FailBefore).await;
    let first = executor.execute(&input).await;
    assert!(
        matches!(first, Ok(Outcome::Sent { .. })),
        "the outcome is written again: {first:?}"
    );
    let followup = stored(&engine, &input).await;
    assert_eq!(followup.value.status, Status::Sent);
    assert_eq!(outbox.list().len(), 1, "sent once");
}

#[tokio::test]
async fn a_message_whose_outcome_write_failed_after_the_send_is_surfaced_as_unknown_within_lambdas_retries()
 {
    let (executor, clock, outbox, engine, input, _dir) =
        flaky_executor(|w| puts_status(w, "sent"), Misbehave::FailAlways).await;
    let first = executor.execute(&input).await;
    assert!(first.is_err(), "the invocation fails: {first:?}");
    assert_eq!(outbox.list().len(), 1, "the provider has the SMS");
    let retries = lambda_retries(&executor, &clock, &input).await;
    let followup = stored(&engine, &input).await;
    assert_eq!(outbox.list().len(), 1, "never sent twice");
    assert_eq!(
        followup.value.status,
        Status::Unknown,
        "after Lambda's retries ({retries:?}) the outcome must be surfaced, not left {}",
        followup.value.status
    );
}

#[tokio::test]
async fn a_claim_whose_answer_was_lost_and_retried_by_the_sdk_still_sends_the_message_or_surfaces_it()
 {
    let (executor, clock, outbox, engine, input, _dir) = flaky_executor(
        |w| puts_status(w, "sending"),
        Misbehave::RetriedAfterLostAnswer,
    )
    .await;
    let first = executor.execute(&input).await;
    let retries = lambda_retries(&executor, &clock, &input).await;
    let followup = stored(&engine, &input).await;
    assert!(
        outbox.list().len() == 1 || followup.value.status != Status::Sending,
        "first {first:?}, then {retries:?}: {} sent, the follow-up is {}",
        outbox.list().len(),
        followup.value.status
    );
}
