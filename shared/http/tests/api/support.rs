//! A world for the HTTP tests: the router built exactly as the local runtime builds it
//! (operator API behind the bearer layer, the signed webhook beside it, the problem+json
//! fallback around both) with two accounts, acme and globex, over either store, and a
//! clock the test sets. Requests go through `tower::ServiceExt::oneshot`, no socket.

#![allow(dead_code)]

use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderValue, Method, Request, StatusCode, header};
use axum::middleware::from_fn;
use chrono::{DateTime, Utc};
use http_api::LocalTokens;
use http_api::auth::tenant_from_bearer;
use http_body_util::BodyExt;
use policy::AccountId;
use serde_json::{Value, json};
use service::cache::Cache;
pub use service::clock::Clock;
use service::signature::WebhookSecret;
use service::{Engine, Repository};
use store::Table;
pub use testkit::fixtures::{account_json, agent_json, answered_call, campaign_json};
use tower::ServiceExt;

/// Where the emails' unsubscribe links point.
pub const PUBLIC_BASE_URL: &str = "https://followups.example";

/// Acme's bearer token.
pub const ACME: &str = "tok_acme_0123456789";
/// Globex's bearer token.
pub const GLOBEX: &str = "tok_globex_0123456789";

/// Runs each listed test once per store: `mod embedded` and `mod dynamo` (moto) get a
/// `#[tokio::test]` per name that calls `async fn name(world: World)` of the module
/// with a fresh world, so a test is written once and its path names the store.
macro_rules! for_each_store {
    ($( $(#[$meta:meta])* $name:ident ),* $(,)?) => {
        for_each_store!(@store embedded, Embedded, $( $(#[$meta])* $name ),*);
        for_each_store!(@store dynamo, Dynamo, $( $(#[$meta])* $name ),*);
    };
    (@store $module:ident, $store:ident, $( $(#[$meta:meta])* $name:ident ),*) => {
        mod $module {
            $(
                $(#[$meta])*
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let world = crate::support::World::new(crate::support::Store::$store).await;
                    super::$name(world).await
                }
            )*
        }
    };
}

/// The tests' clock: set by hand, shared by the engine, the executor and the table.
pub type TestClock = service::clock::ManualClock;

pub use testkit::fixtures::tuesday_morning_in_new_york;

#[derive(Debug, Clone, Copy)]
pub enum Store {
    /// `store::EmbeddedTable` in a temp dir.
    Embedded,
    /// `store::DynamoTable` on the process's moto server, a fresh table per test.
    Dynamo,
}

/// moto serves requests on threads and does not isolate transactions: its
/// `TransactWriteItems` checks conditions without a lock and, when one fails, puts back
/// a copy of the whole table taken when it started, undoing what other requests wrote
/// meanwhile. DynamoDB serializes conflicting transactions; this wrapper does too, by
/// letting one write at a time leave this process. Reads and decisions stay concurrent.
struct OneWriteAtATime {
    table: store::DynamoTable,
    writing: tokio::sync::Mutex<()>,
}

impl OneWriteAtATime {
    fn new(table: store::DynamoTable) -> Self {
        Self {
            table,
            writing: tokio::sync::Mutex::new(()),
        }
    }
}

#[async_trait::async_trait]
impl Table for OneWriteAtATime {
    async fn get(&self, key: &store::Key) -> Result<Option<store::Item>, store::StoreError> {
        self.table.get(key).await
    }

    async fn write(&self, writes: Vec<store::Write>) -> Result<(), store::StoreError> {
        let _one_at_a_time = self.writing.lock().await;
        self.table.write(writes).await
    }

    async fn query(&self, query: &store::Query) -> Result<store::Page, store::StoreError> {
        self.table.query(query).await
    }
}

pub struct World {
    pub app: Router,
    pub engine: Arc<Engine>,
    pub clock: Arc<TestClock>,
    /// Every channel's sender: what the executor sent.
    pub outbox: Arc<channels::Outbox>,
    pub executor: service::execute::Executor,
    /// Google's and Microsoft's OAuth endpoints, Gmail and Graph, on loopback.
    pub google: testkit::MailProviderStub,
    pub microsoft: testkit::MailProviderStub,
    /// Where `/v1/platforms` keeps keys and secrets.
    pub platform_secrets: Arc<channels::MemorySecretStore>,
    _dir: Option<tempfile::TempDir>,
}

/// The connect flow and mailbox sending wired to the stubs.
async fn mailboxes() -> (
    testkit::MailProviderStub,
    testkit::MailProviderStub,
    Arc<service::mailboxes::Mailboxes>,
    service::execute::MailboxSending,
) {
    use channels::mailbox::{Endpoints, OAuthApp, Provider};
    let google =
        testkit::MailProviderStub::start(testkit::Flavor::Google, "maria@acme.example").await;
    let microsoft = testkit::MailProviderStub::start(
        testkit::Flavor::Microsoft,
        "maria@acme.onmicrosoft.example",
    )
    .await;
    let app = |provider, stub: &testkit::MailProviderStub| OAuthApp {
        provider,
        client_id: stub.client_id.clone(),
        client_secret: channels::Secret::new(stub.client_secret.clone()),
        endpoints: Endpoints::under(&stub.base_url),
    };
    let apps = [
        app(Provider::Google, &google),
        app(Provider::Microsoft, &microsoft),
    ];
    let sealer: Arc<dyn service::sealing::Sealer> =
        Arc::new(service::sealing::LocalSealer::with_key([42; 32]));
    let config = service::mailboxes::MailboxConfig {
        apps: apps.iter().map(|a| (a.provider, a.clone())).collect(),
        public_url: PUBLIC_BASE_URL.into(),
        state_key: channels::Secret::new("test-state-key-0123456789abcdef"),
    };
    let sending = service::execute::MailboxSending {
        sender: Arc::new(
            channels::mailbox::MailboxApi::new(apps).with_sleep(Arc::new(|_| Box::pin(async {}))),
        ),
        sealer: sealer.clone(),
    };
    (
        google,
        microsoft,
        Arc::new(service::mailboxes::Mailboxes::new(config, sealer)),
        sending,
    )
}

/// A webhook signing secret as `POST /v1/webhook-secrets` returned it.
pub struct Secret {
    pub id: String,
    pub text: String,
    pub key: WebhookSecret,
}

impl World {
    pub async fn new(store: Store) -> World {
        let clock = Arc::new(TestClock::at(tuesday_morning_in_new_york()));
        let now = {
            let clock = clock.clone();
            move || clock.now().timestamp()
        };
        let (table, dir): (Arc<dyn Table>, _) = match store {
            Store::Embedded => {
                let dir = tempfile::tempdir().unwrap();
                let table = store::EmbeddedTable::open(dir.path().join("t.redb"))
                    .unwrap()
                    .with_clock(now);
                (Arc::new(table), Some(dir))
            }
            Store::Dynamo => {
                // Panics when moto cannot start: these tests must not pass without it.
                let client = aws_sdk_dynamodb::Client::new(&testkit::Moto::shared().sdk_config());
                let name = testkit::unique("t");
                store::create_table(&client, &name)
                    .await
                    .unwrap_or_else(|e| panic!("cannot create table {name} on moto: {e}"));
                let table = store::DynamoTable::new(client, name).with_clock(now);
                (Arc::new(OneWriteAtATime::new(table)), None)
            }
        };
        let repo = Arc::new(Repository::new(table, Cache::default()));
        let (google, microsoft, connect, sending) = mailboxes().await;
        let platform_secrets = Arc::new(channels::MemorySecretStore::default());
        let engine = Arc::new(
            Engine::new(repo.clone(), clock.clone())
                .with_mailboxes(connect)
                .with_platform_secrets(service::platforms::PlatformSecrets::new(
                    platform_secrets.clone(),
                    service::platforms::DEFAULT_SECRET_PREFIX,
                )),
        );
        let outbox = {
            let clock = clock.clone();
            Arc::new(channels::Outbox::new(None, Arc::new(move || clock.now())).unwrap())
        };
        let executor = service::execute::Executor::new(
            repo,
            service::execute::Senders::all(outbox.clone()),
            service::execute::SenderIdentity {
                public_base_url: Some(PUBLIC_BASE_URL.into()),
                ..Default::default()
            },
            clock.clone(),
        )
        .with_mailboxes(sending);
        let tokens = LocalTokens(Arc::new(
            [
                (ACME.to_string(), account("acme")),
                (GLOBEX.to_string(), account("globex")),
            ]
            .into_iter()
            .collect(),
        ));
        let app = http_api::with_fallback(
            http_api::api_router(engine.clone())
                .layer(from_fn(move |request, next| {
                    tenant_from_bearer(tokens.clone(), request, next)
                }))
                .merge(http_api::webhook_router(
                    engine.clone(),
                    http_api::extract::MAX_BODY_BYTES,
                ))
                .merge(http_api::mailbox_callback_router(engine.clone())),
        );
        World {
            app,
            engine,
            clock,
            outbox,
            executor,
            google,
            microsoft,
            platform_secrets,
            _dir: dir,
        }
    }

    pub fn get(&self, path: &str) -> Call<'_> {
        self.call(Method::GET, path)
    }
    pub fn put(&self, path: &str) -> Call<'_> {
        self.call(Method::PUT, path)
    }
    pub fn post(&self, path: &str) -> Call<'_> {
        self.call(Method::POST, path)
    }
    pub fn delete(&self, path: &str) -> Call<'_> {
        self.call(Method::DELETE, path)
    }

    /// A request as acme unless told otherwise.
    pub fn call(&self, method: Method, path: &str) -> Call<'_> {
        Call {
            world: self,
            request: Request::builder().method(method).uri(path),
            bearer: Some(ACME.to_string()),
            body: Body::empty(),
        }
    }

    pub async fn send(&self, request: Request<Body>) -> Reply {
        let response = self.app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        Reply {
            status,
            headers,
            body,
        }
    }

    /// Acme as the fixtures configure it (account, `agent-1`, `camp-1`) plus a webhook
    /// secret, all through the API.
    pub async fn configure_acme(&self) -> Secret {
        self.put("/v1/settings")
            .json(&account_json())
            .send()
            .await
            .ok();
        self.put("/v1/agents/agent-1/followup-settings")
            .json(&agent_json())
            .send()
            .await
            .ok();
        self.put("/v1/campaigns/camp-1/followup-settings")
            .json(&campaign_json())
            .send()
            .await
            .ok();
        self.create_secret(ACME).await
    }

    pub async fn create_secret(&self, token: &str) -> Secret {
        let reply = self.post("/v1/webhook-secrets").by(token).send().await;
        assert_eq!(reply.status, StatusCode::CREATED, "{reply}");
        let body = reply.json();
        let text = body["secret"].as_str().unwrap().to_string();
        Secret {
            id: body["id"].as_str().unwrap().to_string(),
            key: WebhookSecret::parse(&text).unwrap(),
            text,
        }
    }

    /// Posts a delivery to acme's webhook signed with `secret` at the clock's now.
    pub async fn deliver(&self, secret: &Secret, webhook_id: &str, body: &Value) -> Reply {
        let body = body.to_string();
        let ts = self.clock.now().timestamp();
        let signature = secret.key.sign(webhook_id, ts, body.as_bytes());
        self.deliver_raw(
            "acme",
            &[
                ("webhook-id", webhook_id),
                ("webhook-timestamp", &ts.to_string()),
                ("webhook-signature", &signature),
            ],
            body.into_bytes(),
        )
        .await
    }

    /// Posts to `account`'s webhook with exactly these headers and body.
    pub async fn deliver_raw(
        &self,
        account: &str,
        headers: &[(&str, &str)],
        body: impl Into<Body>,
    ) -> Reply {
        let mut request = Request::builder()
            .method(Method::POST)
            .uri(format!("/v1/webhooks/{account}/call-completed"))
            .header(header::CONTENT_TYPE, "application/json");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        self.send(request.body(body.into()).unwrap()).await
    }

    /// Runs the executor on a follow-up of acme, as its schedule would.
    pub async fn execute(&self, followup: &Value) -> service::execute::Outcome {
        let input = service::execute::ExecutorInput {
            account_id: "acme".into(),
            followup_id: followup["id"].as_str().unwrap().into(),
            attempt: followup["attempt"].as_u64().unwrap() as u32,
        };
        self.executor.execute(&input).await.unwrap()
    }

    /// What a mail client posts to an email's `List-Unsubscribe` link (RFC 8058).
    pub async fn one_click_unsubscribe(&self, path: &str) -> Reply {
        self.post(path)
            .anonymous()
            .header("content-type", "application/x-www-form-urlencoded")
            .raw("List-Unsubscribe=One-Click")
            .send()
            .await
            .ok()
    }

    /// Acme's do-not-call entries (first page of 25).
    pub async fn dnc_entries(&self) -> Vec<Value> {
        self.get("/v1/dnc").send().await.ok().json()["items"]
            .as_array()
            .unwrap()
            .clone()
    }

    /// Every follow-up of a contact as `token` sees them, newest first.
    pub async fn followups_of(&self, token: &str, contact: &str) -> Vec<Value> {
        let reply = self
            .get(&format!("/v1/contacts/{contact}/followups?limit=100"))
            .by(token)
            .send()
            .await
            .ok();
        reply.json()["items"].as_array().unwrap().clone()
    }

    /// The one follow-up of `contact` on `channel` (as acme).
    pub async fn one_followup(&self, contact: &str, channel: &str) -> Value {
        let all: Vec<Value> = self
            .followups_of(ACME, contact)
            .await
            .into_iter()
            .filter(|f| f["channel"] == channel)
            .collect();
        assert_eq!(
            all.len(),
            1,
            "one {channel} follow-up of {contact}: {all:#?}"
        );
        all.into_iter().next().unwrap()
    }
}

pub fn account(id: &str) -> AccountId {
    AccountId::parse("account_id", id).unwrap()
}

/// One request being built.
pub struct Call<'w> {
    world: &'w World,
    request: axum::http::request::Builder,
    bearer: Option<String>,
    body: Body,
}

impl Call<'_> {
    /// As the account of this bearer token.
    pub fn by(mut self, token: &str) -> Self {
        self.bearer = Some(token.to_string());
        self
    }

    /// Without an `Authorization` header.
    pub fn anonymous(mut self) -> Self {
        self.bearer = None;
        self
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.request = self.request.header(name, value);
        self
    }

    pub fn if_match(self, etag: &str) -> Self {
        self.header("if-match", etag)
    }

    pub fn json(mut self, body: &Value) -> Self {
        self.request = self
            .request
            .header(header::CONTENT_TYPE, "application/json");
        self.body = Body::from(body.to_string());
        self
    }

    pub fn raw(mut self, body: impl Into<Body>) -> Self {
        self.request = self
            .request
            .header(header::CONTENT_TYPE, "application/json");
        self.body = body.into();
        self
    }

    pub async fn send(self) -> Reply {
        let mut request = self.request;
        if let Some(token) = self.bearer {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        self.world.send(request.body(self.body).unwrap()).await
    }
}

/// A response, read whole.
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl std::fmt::Display for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {:?} {}",
            self.status,
            self.headers,
            String::from_utf8_lossy(&self.body)
        )
    }
}

impl Reply {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {self}"))
    }

    pub fn etag(&self) -> Option<&str> {
        self.headers
            .get(header::ETAG)
            .and_then(|v: &HeaderValue| v.to_str().ok())
    }

    pub fn content_type(&self) -> Option<&str> {
        self.headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
    }

    /// Asserts a 2xx and returns the reply.
    #[track_caller]
    pub fn ok(self) -> Self {
        assert!(self.status.is_success(), "expected 2xx, got {self}");
        self
    }

    #[track_caller]
    pub fn expect(self, status: StatusCode) -> Self {
        assert_eq!(self.status, status, "{self}");
        self
    }

    /// Asserts an RFC 9457 problem with this status and returns it.
    #[track_caller]
    pub fn problem(&self, status: StatusCode) -> Value {
        assert_eq!(self.status, status, "{self}");
        assert_eq!(
            self.content_type(),
            Some("application/problem+json"),
            "{self}"
        );
        let body = self.json();
        assert_eq!(body["status"], status.as_u16(), "{self}");
        assert!(
            body["title"].is_string() && body["type"].is_string(),
            "{self}"
        );
        body
    }

    /// Asserts a 400 problem and returns the fields its `errors` name.
    #[track_caller]
    pub fn invalid_fields(&self) -> Vec<String> {
        let body = self.problem(StatusCode::BAD_REQUEST);
        let errors = body["errors"]
            .as_array()
            .unwrap_or_else(|| panic!("a 400 lists `errors`: {self}"));
        errors
            .iter()
            .map(|e| {
                assert!(
                    e["message"].as_str().is_some_and(|m| !m.is_empty()),
                    "{self}"
                );
                e["field"].as_str().unwrap().to_string()
            })
            .collect()
    }
}

// ---- fixtures (the shapes of shared/service/tests/support) ----

/// An answered call whose agent booked a follow-up call at `at`.
pub fn callback_call(call_id: &str, contact: &str, now: DateTime<Utc>, at: &str) -> Value {
    set(
        answered_call(call_id, contact, now),
        "/analysis/followup_requests",
        json!([{"channel": "call", "at": at, "reason": "asked for a callback"}]),
    )
}

/// A call nobody answered: the missed-call email goes out.
pub fn missed_call(call_id: &str, contact: &str, now: DateTime<Utc>) -> Value {
    let call = set(
        answered_call(call_id, contact, now),
        "/call/outcome",
        json!("no_answer"),
    );
    set(call, "/analysis", json!({}))
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

/// PUTs `body` at `path` (no `If-Match`) and expects it saved.
pub async fn saved(world: &World, path: &str, body: &Value) -> Value {
    world
        .put(path)
        .json(body)
        .send()
        .await
        .expect(StatusCode::OK)
        .json()
}
