//! A world for the reliability and hostile-input tests, on the embedded store or on
//! DynamoDB in moto: the engine, the executor (the outbox as every channel) and the
//! HTTP router as the local runtime serves it, two tenants with their own tokens and
//! signing secrets, and a clock the test sets. [`World::snapshot`] reads every item of
//! the table (on the embedded store from a mirror built from its change feed; on moto
//! by a scan of the test's own table), so a test can say "the store did not change"
//! about the whole table, not just the records it thought of.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::Request;
use axum::middleware::from_fn;
use channels::Outbox;
use chrono::{DateTime, Duration, Utc};
use http_api::LocalTokens;
use http_api::auth::tenant_from_bearer;
use http_body_util::BodyExt;
use policy::AccountId;
use serde_json::{Value, json};
use service::cache::Cache;
use service::clock::Clock;
use service::execute::{Executor, SenderIdentity, Senders};
use service::signature::{SignedHeaders, WebhookSecret};
use service::{Engine, Repository};
use store::{EmbeddedTable, Key, Table};
use tower::ServiceExt;

/// The tests' clock: set by hand, shared by the engine, the executor and the table.
pub type TestClock = service::clock::ManualClock;

pub use testkit::fixtures::tuesday_morning_in_new_york;

/// Stores `account_settings`, and agent `agent-1` and campaign `camp-1` with the
/// fixtures' settings.
pub async fn configure(engine: &Engine, account: &AccountId, account_settings: &Value) {
    engine
        .put_account_settings(account, account_settings, None)
        .await
        .unwrap();
    engine
        .put_agent_settings(
            account,
            &policy::AgentId::parse("agent_id", "agent-1").unwrap(),
            policy::AgentSettings::from_json(&agent_json()).unwrap(),
            None,
        )
        .await
        .unwrap();
    engine
        .put_campaign_settings(
            account,
            &policy::CampaignId::parse("campaign_id", "camp-1").unwrap(),
            policy::CampaignSettings::from_json(&campaign_json()).unwrap(),
            None,
        )
        .await
        .unwrap();
}

pub const ACME: &str = "acme";
pub const GLOBEX: &str = "globex";
pub const ACME_TOKEN: &str = "token-acme-0123456789";
pub const GLOBEX_TOKEN: &str = "token-globex-0123456789";

pub use testkit::fixtures::account_json;

pub fn agent_json() -> Value {
    json!({
        "allowed_hours": {"start": "00:00", "end": "24:00"},
        "allowed_days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
        "time_zone": "America/New_York",
        "calls": {"enabled": true, "when_to_schedule": "When asked to call back.", "instructions": "Offer a demo.", "max_retries": 2, "retry_interval_minutes": 60},
        "whatsapp": {"enabled": false}
    })
}

pub fn campaign_json() -> Value {
    json!({
        "agent_id": "agent-1",
        "sms": {"enabled": true, "template": "conversation_summary"},
        "email": {"enabled": true, "ask_for_email": true, "from_name": "Ana at Acme",
                  "subject": "Great talking, {{contact_name}}",
                  "body": "Hi {{contact_name}},\n\nHere is what we discussed: {{summary}}\n\n**Book** a slot: {{meeting_link}}"},
        "missed_call_email": {"enabled": true, "subject": "Sorry we missed you", "body": "Hi {{contact_name}}, pick a better time: {{meeting_link}}"}
    })
}

/// An answered call with consent for SMS and email, to `phone` and `email`.
pub fn answered_call(
    call_id: &str,
    contact: &str,
    phone: &str,
    email: &str,
    now: DateTime<Utc>,
) -> Value {
    json!({
        "type": "call.completed",
        "call": {"id": call_id, "agent_id": "agent-1", "campaign_id": "camp-1", "outcome": "completed",
                 "started_at": (now - Duration::minutes(5)).to_rfc3339(), "ended_at": now.to_rfc3339()},
        "contact": {"id": contact, "phone": phone, "email": email, "name": "Ana", "timezone": "America/New_York"},
        "analysis": {
            "summary": "Ana wants a demo next week.",
            "consent": {"sms": true, "email": true, "whatsapp": false},
            "sms_destination": {"number": phone, "confirmed": true},
            "email_address": {"address": email, "confirmed": true},
            "followup_requests": []
        }
    })
}

/// A North American number for contact `n` (never ending in 99).
pub fn phone_of(n: usize) -> String {
    format!("+1202555{:04}", (n % 9_000) + 1_000)
}

/// One HTTP answer: status, content type and the body (JSON, or a string when not).
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub content_type: String,
    pub body: Value,
}

/// Which implementation of the table a world runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    Embedded,
    Moto,
}

enum Snapshots {
    /// Every item, kept up to date from the embedded table's change feed.
    Mirror(Arc<Mutex<BTreeMap<Key, Value>>>),
    /// A scan of the world's own table in moto.
    Scan {
        ddb: aws_sdk_dynamodb::Client,
        table: String,
    },
}

pub struct World {
    pub kind: StoreKind,
    pub engine: Arc<Engine>,
    pub table: Arc<dyn Table>,
    pub clock: Arc<TestClock>,
    pub acme: AccountId,
    pub globex: AccountId,
    pub acme_secret: WebhookSecret,
    pub globex_secret: WebhookSecret,
    pub outbox: Arc<Outbox>,
    pub executor: Arc<Executor>,
    pub router: axum::Router,
    snapshots: Snapshots,
    _dir: tempfile::TempDir,
}

impl World {
    pub async fn embedded() -> World {
        World::new(StoreKind::Embedded).await
    }

    pub async fn new(kind: StoreKind) -> World {
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(TestClock::at(tuesday_morning_in_new_york()));
        let ttl_clock = {
            let clock = clock.clone();
            move || clock.now().timestamp()
        };
        let (table, snapshots): (Arc<dyn Table>, Snapshots) = match kind {
            StoreKind::Embedded => {
                let table = EmbeddedTable::open(dir.path().join("t.redb"))
                    .unwrap()
                    .with_clock(ttl_clock);
                // Subscribed before the first write: the mirror holds every item.
                let mut changes = table.subscribe();
                let mirror = Arc::new(Mutex::new(BTreeMap::new()));
                let feed = mirror.clone();
                tokio::spawn(async move {
                    while let Some(change) = changes.recv().await {
                        let mut mirror = feed.lock().unwrap();
                        match (change.old, change.new) {
                            (_, Some(new)) => {
                                mirror.insert(new.key.clone(), Value::Object(new.attrs));
                            }
                            (Some(old), None) => {
                                mirror.remove(&old.key);
                            }
                            (None, None) => {}
                        }
                    }
                });
                (Arc::new(table), Snapshots::Mirror(mirror))
            }
            StoreKind::Moto => {
                let sdk = testkit::Moto::shared().sdk_config();
                let ddb = aws_sdk_dynamodb::Client::new(&sdk);
                let name = testkit::unique("hostile");
                store::create_table(&ddb, &name).await.unwrap();
                let table = store::DynamoTable::new(ddb.clone(), &name).with_clock(ttl_clock);
                (Arc::new(table), Snapshots::Scan { ddb, table: name })
            }
        };
        let repo = Arc::new(Repository::new(table.clone(), Cache::default()));
        let engine = Arc::new(Engine::new(repo.clone(), clock.clone()));
        let acme = AccountId::parse("account_id", ACME).unwrap();
        let globex = AccountId::parse("account_id", GLOBEX).unwrap();
        let acme_secret = engine.create_webhook_secret(&acme, None).await.unwrap();
        let globex_secret = engine.create_webhook_secret(&globex, None).await.unwrap();
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
        let tokens = LocalTokens(Arc::new(
            [
                (ACME_TOKEN.to_string(), acme.clone()),
                (GLOBEX_TOKEN.to_string(), globex.clone()),
            ]
            .into_iter()
            .collect(),
        ));
        // As the local runtime serves it (infra/local), minus its local-only routes.
        let router = http_api::with_fallback(
            http_api::api_router(engine.clone())
                .layer(from_fn(move |request, next| {
                    tenant_from_bearer(tokens.clone(), request, next)
                }))
                .merge(http_api::webhook_router(
                    engine.clone(),
                    http_api::extract::MAX_BODY_BYTES,
                )),
        );
        let world = World {
            kind,
            engine,
            table,
            clock,
            acme,
            globex,
            acme_secret: WebhookSecret::parse(&acme_secret.secret).unwrap(),
            globex_secret: WebhookSecret::parse(&globex_secret.secret).unwrap(),
            outbox,
            executor,
            router,
            snapshots,
            _dir: dir,
        };
        for account in [&world.acme, &world.globex] {
            world.configure(account).await;
        }
        world
    }

    async fn configure(&self, account: &AccountId) {
        configure(&self.engine, account, &account_json()).await;
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Every item of the table.
    pub async fn snapshot(&self) -> BTreeMap<Key, Value> {
        match &self.snapshots {
            Snapshots::Mirror(mirror) => {
                // Changes are sent right after each commit; a moment lets the mirror
                // task apply everything committed so far.
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                mirror.lock().unwrap().clone()
            }
            Snapshots::Scan { ddb, table } => {
                let mut items = BTreeMap::new();
                let mut start = None;
                loop {
                    let page = ddb
                        .scan()
                        .table_name(table)
                        .consistent_read(true)
                        .set_exclusive_start_key(start)
                        .send()
                        .await
                        .unwrap();
                    for image in page.items.unwrap_or_default() {
                        let item = store::item_from_image(image).unwrap();
                        items.insert(item.key, Value::Object(item.attrs));
                    }
                    start = page.last_evaluated_key;
                    if start.is_none() {
                        return items;
                    }
                }
            }
        }
    }

    pub async fn item(&self, key: &Key) -> Option<store::Item> {
        self.table.get(key).await.unwrap()
    }

    /// Posts a delivery signed with `secret` for `account` through the router.
    pub async fn post_signed(
        &self,
        account: &str,
        secret: &WebhookSecret,
        webhook_id: &str,
        body: &[u8],
    ) -> Answer {
        let ts = self.now().timestamp();
        let signature = secret.sign(webhook_id, ts, body);
        self.send(
            Request::post(format!("/v1/webhooks/{account}/call-completed"))
                .header("content-type", "application/json")
                .header("webhook-id", webhook_id)
                .header("webhook-timestamp", ts.to_string())
                .header("webhook-signature", signature)
                .body(Body::from(body.to_vec()))
                .unwrap(),
        )
        .await
    }

    /// Delivers through the engine directly (no HTTP), signed with acme's secret.
    pub async fn deliver(
        &self,
        webhook_id: &str,
        body: &Value,
    ) -> Result<Value, service::webhook::WebhookError> {
        let body = body.to_string();
        let ts = self.now().timestamp();
        let signature = self.acme_secret.sign(webhook_id, ts, body.as_bytes());
        let ts = ts.to_string();
        let headers = SignedHeaders {
            id: Some(webhook_id),
            timestamp: Some(&ts),
            signature: Some(&signature),
        };
        self.engine
            .accept_call_completed(ACME, headers, body.as_bytes())
            .await
    }

    /// An API request as acme (`token`), or anyone.
    pub async fn api(
        &self,
        method: &str,
        uri: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Answer {
        let mut request = Request::builder().method(method).uri(uri);
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let body = match body {
            Some(body) => {
                request = request.header("content-type", "application/json");
                Body::from(body.to_string())
            }
            None => Body::empty(),
        };
        self.send(request.body(body).unwrap()).await
    }

    pub async fn send(&self, request: Request<Body>) -> Answer {
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let body = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        Answer {
            status,
            content_type,
            body,
        }
    }
}
