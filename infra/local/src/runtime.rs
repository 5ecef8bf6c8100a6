//! Starting the local system: the parts, the feeds between them, and the banner.

use std::path::Path;
use std::sync::Arc;

use axum::middleware::from_fn;
use channels::Outbox;
use chrono::{DateTime, Utc};
use http_api::LocalTokens;
use http_api::auth::tenant_from_bearer;
use policy::AccountId;
use scheduling::{Job, LocalSchedules};
use service::cache::Cache;
use service::clock::{Clock, MovableClock};
use service::dispatch::Dispatcher;
use service::execute::{Executor, ExecutorInput, Next, Senders};
use service::{Engine, Repository};
use store::EmbeddedTable;
use tokio::sync::mpsc;

use crate::local_routes::{self, Local};
use crate::options::{Options, SenderKind, StoreKind};

/// The address local email "comes from".
const LOCAL_FROM_ADDRESS: &str = "followups@localhost";

pub async fn run(options: Options) -> Result<(), String> {
    let dir = &options.data_dir;
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;

    let clock = restore_clock(&options)?;
    let now_fn = {
        let clock = clock.clone();
        move || clock.now()
    };

    // The change feed: the embedded table's own, or the DynamoDB stream polled.
    let (table, embedded, changes) = open_table(&options, &clock).await?;
    let repo = Arc::new(Repository::new(table, Cache::default()));
    let platform_secrets = platform_secrets(dir)?;
    let mut engine =
        Engine::new(repo.clone(), clock.clone()).with_platform_secrets(platform_secrets.clone());

    let account = AccountId::parse("account", &options.account).map_err(|e| e.to_string())?;
    let secret = ensure_webhook_secret(&engine, &account, dir).await?;
    let token = local_token(&options)?;

    let outbox = Arc::new(
        Outbox::new(Some(dir.join("outbox.jsonl")), Arc::new(now_fn.clone()))
            .map_err(|e| format!("cannot open the outbox: {e}"))?,
    );
    // Bound before the executor: emails' unsubscribe links point at this address.
    let (listener, address) = bind(options.port).await?;
    let identity = local_identity(address);
    // The OAuth redirect URI is made from the same public base URL (it names the bound
    // port unless PUBLIC_BASE_URL is set).
    let public_url = identity.public_base_url.clone().unwrap_or_default();
    let mailboxes =
        crate::mailboxes::local_mailboxes(dir, public_url, options.senders, outbox.clone()).await?;
    if let Some(connect) = mailboxes.connect {
        engine = engine.with_mailboxes(connect);
    }
    let engine = Arc::new(engine);
    let (senders, calls) = senders(options.senders, &outbox, &platform_secrets).await?;
    let inbound = Arc::new(service::inbound::Inbound::new(
        engine.clone(),
        senders.sms.clone(),
    ));
    let executor = Arc::new(
        Executor::new(repo.clone(), senders, identity, clock.clone())
            .with_placed_call_wait(service::config::placed_call_wait().map_err(|e| e.to_string())?)
            .with_call_lookups(calls)
            .with_mailboxes(mailboxes.sending),
    );

    start_scheduling(changes, embedded, executor, repo.clone(), clock.clone()).await?;

    let tokens = tenant_tokens(&options, &token, &account)?;
    let local = Local {
        outbox,
        clock: clock.clone(),
        data_dir: dir.to_path_buf(),
        inbound,
        engine: engine.clone(),
    };
    let app = local_app(engine, local, tokens);

    banner(
        &address.to_string(),
        &account,
        &token,
        &secret,
        dir,
        clock.now(),
        clock.offset(),
    );
    serve(listener, app).await
}

async fn bind(port: u16) -> Result<(tokio::net::TcpListener, std::net::SocketAddr), String> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .map_err(|e| format!("cannot listen on 127.0.0.1:{port}: {e}"))?;
    let address = listener.local_addr().map_err(|e| e.to_string())?;
    Ok((listener, address))
}

/// Serves until Ctrl-C.
async fn serve(listener: tokio::net::TcpListener, app: axum::Router) -> Result<(), String> {
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .map_err(|e| format!("server stopped: {e}"))
}

/// The senders of every channel, and the call sender that also looks up placed calls.
async fn senders(
    kind: SenderKind,
    outbox: &Arc<Outbox>,
    platform_secrets: &service::platforms::PlatformSecrets,
) -> Result<(Senders, Arc<channels::PlatformCalls>), String> {
    let mut senders = match kind {
        SenderKind::Outbox => Senders::all(outbox.clone()),
        SenderKind::Aws => aws_senders(outbox.clone()).await?,
    };
    // Agents that name a voice platform call through it (its API key from
    // `PUT /v1/platforms/{platform}`); the others as before.
    // The same sender looks up placed calls whose completion did not come.
    let calls = Arc::new(
        platform_secrets.call_sender(service::config::platform_apis(), senders.call.take()),
    );
    senders.call = Some(calls.clone());
    Ok((senders, calls))
}

/// Platform keys and secrets: files in the data directory, readable by its owner only.
fn platform_secrets(dir: &Path) -> Result<service::platforms::PlatformSecrets, String> {
    Ok(service::platforms::PlatformSecrets::new(
        Arc::new(
            channels::FileSecretStore::open(dir.join("platform-secrets"))
                .map_err(|e| format!("cannot open the platform secret store: {e}"))?,
        ),
        service::platforms::DEFAULT_SECRET_PREFIX,
    ))
}

/// The main account's bearer token: `--token`, or one made once and kept in DIR.
fn local_token(options: &Options) -> Result<String, String> {
    match options.token.clone() {
        Some(token) => Ok(token),
        None => remembered(&options.data_dir, "token", || {
            format!("local_{}", uuid::Uuid::new_v4().simple())
        }),
    }
}

/// The HTTP API behind bearer tokens, the local-only routes, the webhook, the mailbox
/// consent callback and the console.
fn local_app(engine: Arc<Engine>, local: Local, tokens: LocalTokens) -> axum::Router {
    let app = http_api::api_router(engine.clone())
        .merge(local_routes::router(local))
        .layer(from_fn(move |request, next| {
            tenant_from_bearer(tokens.clone(), request, next)
        }))
        .merge(http_api::webhook_router(
            engine.clone(),
            http_api::extract::MAX_BODY_BYTES,
        ))
        .merge(http_api::mailbox_callback_router(engine))
        .merge(crate::console::router());
    http_api::with_fallback(app)
}

/// The in-process scheduler: due jobs go to the executor, the change feed to the
/// dispatcher, and what the embedded table held at start is caught up on.
async fn start_scheduling(
    changes: mpsc::UnboundedReceiver<store::Change>,
    embedded: Option<Arc<EmbeddedTable>>,
    executor: Arc<Executor>,
    repo: Arc<Repository>,
    clock: Arc<MovableClock>,
) -> Result<(), String> {
    // A due job is executed in the task the scheduler spawns for it.
    let fire: scheduling::Fire = {
        let clock: Arc<dyn Clock> = clock.clone();
        Arc::new(move |job| {
            let (executor, repo, clock) = (executor.clone(), repo.clone(), clock.clone());
            Box::pin(async move { run_due_job(job, &executor, &repo, clock.as_ref()).await })
        })
    };
    let now_fn = {
        let clock = clock.clone();
        move || clock.now()
    };
    let schedules = Arc::new(LocalSchedules::start(Arc::new(now_fn), fire));
    let dispatcher = Arc::new(Dispatcher::new(schedules.clone(), clock.clone()));
    tokio::spawn(feed_dispatcher(changes, dispatcher.clone()));
    if let Some(table) = &embedded {
        catch_up(table, &dispatcher, schedules.as_ref()).await?;
    }
    Ok(())
}

/// The movable clock, its offset restored from DIR and moved by `--advance`: it never
/// runs backwards across restarts.
fn restore_clock(options: &Options) -> Result<Arc<MovableClock>, String> {
    let dir = &options.data_dir;
    let clock = Arc::new(MovableClock::new());
    clock
        .try_advance(local_routes::saved_offset(dir)?)
        .map_err(|e| format!("the saved clock offset: {e}"))?;
    clock
        .try_advance(options.advance)
        .map_err(|e| format!("--advance {}h: {e}", options.advance.num_hours()))?;
    local_routes::save_offset(dir, clock.offset());
    Ok(clock)
}

/// The table chosen by `--store` and its change feed; the embedded table is also
/// returned, to catch up on what it holds at start.
async fn open_table(
    options: &Options,
    clock: &Arc<MovableClock>,
) -> Result<
    (
        Arc<dyn store::Table>,
        Option<Arc<EmbeddedTable>>,
        mpsc::UnboundedReceiver<store::Change>,
    ),
    String,
> {
    let dir = &options.data_dir;
    match options.store {
        StoreKind::Embedded => {
            let table = EmbeddedTable::open(dir.join("followups.redb"))
                .map_err(|e| format!("cannot open the store in {}: {e}", dir.display()))?
                .with_clock({
                    let clock = clock.clone();
                    move || clock.now().timestamp()
                });
            // Subscribed before catching up, so no change falls between the two.
            let changes = table.subscribe();
            let table = Arc::new(table);
            Ok((table.clone(), Some(table), changes))
        }
        StoreKind::Dynamodb => {
            let (changes_tx, changes) = mpsc::unbounded_channel();
            Ok((dynamodb_table(changes_tx).await?, None, changes))
        }
    }
}

/// The sender identity from the environment, with local defaults: email from
/// `followups@localhost`, links pointing at this runtime's address.
fn local_identity(address: std::net::SocketAddr) -> service::execute::SenderIdentity {
    let mut identity = service::config::sender_identity();
    identity
        .email_from_address
        .get_or_insert_with(|| LOCAL_FROM_ADDRESS.into());
    identity
        .public_base_url
        .get_or_insert_with(|| format!("http://{address}"));
    identity
}

/// The bearer tokens this runtime accepts: the main account's and each `--tenant`'s.
fn tenant_tokens(
    options: &Options,
    token: &str,
    account: &AccountId,
) -> Result<LocalTokens, String> {
    let mut tenants = vec![(token.to_string(), account.clone())];
    for (other_token, other_account) in &options.tenants {
        let other = AccountId::parse("tenant", other_account).map_err(|e| e.to_string())?;
        tenants.push((other_token.clone(), other));
    }
    Ok(LocalTokens(Arc::new(tenants.into_iter().collect())))
}

/// The DynamoDB table `TABLE_NAME` (created if missing) and its stream, polled every
/// half second into `changes`. The stream is read from its start (24 h back): the
/// in-process scheduler keeps nothing across restarts, and the dispatcher is idempotent.
async fn dynamodb_table(
    changes: mpsc::UnboundedSender<store::Change>,
) -> Result<Arc<dyn store::Table>, String> {
    let sdk = service::aws::load().await;
    let name = service::config::env("TABLE_NAME").unwrap_or_else(|| "followups-local".into());
    let client = aws_sdk_dynamodb::Client::new(&sdk);
    store::create_table(&client, &name)
        .await
        .map_err(|e| format!("cannot create or open the DynamoDB table {name}: {e}"))?;
    let streams = aws_sdk_dynamodbstreams::Client::new(&sdk);
    let mut stream = store::DynamoStream::open(&client, streams, &name, true)
        .await
        .map_err(|e| format!("cannot read the stream of {name}: {e}"))?;
    tokio::spawn(async move {
        loop {
            match stream.poll().await {
                Ok(batch) => {
                    for change in batch {
                        if changes.send(change).is_err() {
                            return;
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, "stream poll failed; retrying"),
            }
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        }
    });
    tracing::info!(table = %name, "using DynamoDB");
    Ok(Arc::new(store::DynamoTable::new(client, name)))
}

/// SNS and SESv2 through the SDK; WhatsApp and calls through their real senders when
/// configured, else the outbox.
async fn aws_senders(outbox: Arc<Outbox>) -> Result<Senders, String> {
    let sdk = service::aws::load().await;
    let real = |channel: &str| service::config::sender_for(channel, &sdk);
    let or_outbox = |channel: &str| match real(channel) {
        Ok(sender) => sender,
        Err(e) => {
            tracing::info!(channel, reason = %e, "not configured: using the outbox");
            outbox.clone() as Arc<dyn channels::Sender>
        }
    };
    Ok(Senders {
        sms: Some(real("sms").map_err(|e| e.to_string())?),
        email: Some(real("email").map_err(|e| e.to_string())?),
        whatsapp: Some(or_outbox("whatsapp")),
        // The generic endpoint when configured (platform calls are routed above it).
        call: Some(match service::config::env("VOICE_API_URL") {
            Some(_) => or_outbox("call"),
            None => outbox.clone(),
        }),
    })
}

/// When Lambda tries a failed asynchronous invocation again: about a minute after the
/// first failure, then two minutes after the second. An execution that fails here, or
/// finds the follow-up's claim in flight, is tried again on the same spacing (on the
/// local clock, so a moved clock moves it too). [`service::execute::CLAIM_TIMEOUT`] is
/// shorter than the sum, so a claim left `sending` by a process that died is settled by
/// the last try at the latest: `unknown` (never sent again), within three minutes of the
/// restart.
const RETRY_DELAYS: [chrono::Duration; 2] =
    [chrono::Duration::minutes(1), chrono::Duration::minutes(2)];

/// How often, and how far apart, a parked execution is looked at (the failure queue's
/// receives on AWS: its visibility timeout is longer than the claim timeout).
const PARKED_LOOKS: usize = 4;
const PARKED_LOOK_DELAY: chrono::Duration = chrono::Duration::minutes(2);

/// How often a waiting retry looks at the (movable) clock.
const RETRY_TICK: std::time::Duration = std::time::Duration::from_millis(200);

/// Executes a job the in-process scheduler fired (each in its own task, so
/// concurrently), settling it like the failure queue would when every try failed.
async fn run_due_job(job: Job, executor: &Executor, repo: &Repository, clock: &dyn Clock) {
    let input = ExecutorInput {
        account_id: job.account_id,
        followup_id: job.followup_id,
        attempt: job.attempt,
    };
    if !execute_with_retries(executor, clock, &input).await {
        settle_parked(repo, clock, &input).await;
    }
}

/// One job, tried again like a Lambda invocation while it fails or its claim is in
/// flight; false when every try failed (where Lambda would park the invocation in the
/// executors' failure queue).
async fn execute_with_retries(
    executor: &Executor,
    clock: &dyn Clock,
    input: &ExecutorInput,
) -> bool {
    let id = &input.followup_id;
    for (index, delay) in std::iter::once(None)
        .chain(RETRY_DELAYS.into_iter().map(Some))
        .enumerate()
    {
        if let Some(delay) = delay {
            wait_on_clock(clock, delay).await;
        }
        let last = index == RETRY_DELAYS.len();
        let result = executor.execute(input).await;
        match Next::after(&result) {
            Next::Done => {
                match result {
                    Ok(outcome) => tracing::info!(followup_id = %id, ?outcome, "executed"),
                    Err(e) => {
                        tracing::error!(followup_id = %id, error = %e, "could not be executed")
                    }
                }
                return true;
            }
            Next::Again { why } => {
                tracing::info!(followup_id = %id, %why, last, "to be tried again")
            }
        }
    }
    false
}

/// What the dispatcher does with the executors' failure queue on AWS
/// (`service::parked`): a claim the last try left `sending` is settled `unknown` once
/// stale; a follow-up still waiting to be sent is left for an operator (logged).
async fn settle_parked(repo: &Repository, clock: &dyn Clock, input: &ExecutorInput) {
    let id = &input.followup_id;
    for _ in 0..PARKED_LOOKS {
        wait_on_clock(clock, PARKED_LOOK_DELAY).await;
        match service::parked::settle_parked(repo, input, clock.now()).await {
            Ok(outcome) if outcome.is_finished() => {
                tracing::info!(followup_id = %id, ?outcome, "parked execution settled");
                return;
            }
            Ok(outcome @ service::parked::Parked::ForOperator { .. }) => {
                tracing::error!(followup_id = %id, ?outcome, "execution failed after the retries; left for an operator");
                return;
            }
            Ok(outcome) => {
                tracing::info!(followup_id = %id, ?outcome, "parked execution not settled yet")
            }
            Err(e) => {
                tracing::warn!(followup_id = %id, error = ?e, "parked execution not settled yet")
            }
        }
    }
    tracing::error!(followup_id = %id, "parked execution could not be settled; left for an operator");
}

/// Sleeps until the (movable) local clock has moved on by `delay`.
async fn wait_on_clock(clock: &dyn Clock, delay: chrono::Duration) {
    let at = clock.now() + delay;
    while clock.now() < at {
        tokio::time::sleep(RETRY_TICK).await;
    }
}

/// The embedded store's change feed is the local DynamoDB stream.
async fn feed_dispatcher(
    mut changes: mpsc::UnboundedReceiver<store::Change>,
    dispatcher: Arc<Dispatcher>,
) {
    let mut sequence = 0u64;
    while let Some(change) = changes.recv().await {
        sequence += 1;
        let record = service::dispatch::StreamChange {
            id: sequence.to_string(),
            old: change.old.map(Ok),
            new: change.new.map(Ok),
        };
        if let Some(failed) = dispatcher.on_stream([record]).await {
            tracing::error!(change = %failed, "a follow-up change could not be dispatched");
        }
    }
}

/// After a restart: every follow-up still `scheduled` is scheduled again (the
/// in-process scheduler keeps nothing across restarts; the store does).
/// A follow-up left `sending` by a process that stopped mid-send goes back to its
/// executor, which is tried again until its claim is stale and then reports it
/// `unknown` (never resends it): see [`RETRY_DELAYS`].
async fn catch_up(
    table: &EmbeddedTable,
    dispatcher: &Dispatcher,
    schedules: &dyn scheduling::Schedules,
) -> Result<(), String> {
    let items = table
        .items_with_sort_key(service::records::FOLLOWUP_SK)
        .await
        .map_err(|e| format!("cannot read the store: {e}"))?;
    let mut pending = 0;
    for item in items {
        let followup = match service::records::followup_from_item(&item) {
            Ok(followup) => followup,
            Err(e) => {
                tracing::error!(pk = %item.key.pk, error = %e, "unreadable follow-up left as it is; nothing will send it");
                continue;
            }
        };
        let result = match followup.value.status {
            // A placed call is scheduled at the end of its wait, when it is looked up
            // on its platform if its completion has not come by then.
            policy::Status::Scheduled | policy::Status::Placed => dispatcher
                .on_change(None, Some(&followup.value))
                .await
                .map(|_| ()),
            policy::Status::Sending => schedules
                .dispatch_now(&service::dispatch::job(&followup.value))
                .await
                .map_err(Into::into),
            _ => continue,
        };
        pending += 1;
        if let Err(e) = result {
            tracing::error!(followup_id = %followup.value.id, error = %e, "cannot pick it up again");
        }
    }
    if pending > 0 {
        tracing::info!(
            pending,
            "scheduled, placed and unsettled follow-ups picked up from the store"
        );
    }
    Ok(())
}

/// The local account's signing secret: the one made on first start, kept in the data
/// directory so it can be shown again (this is a local development secret).
async fn ensure_webhook_secret(
    engine: &Engine,
    account: &AccountId,
    dir: &Path,
) -> Result<String, String> {
    let path = dir.join("webhook-secret");
    if let Ok(text) = std::fs::read_to_string(&path) {
        let active = engine
            .repo
            .webhook_secrets(account, true)
            .await
            .map_err(|e| e.to_string())?;
        if active.iter().any(|s| s.secret == text.trim()) {
            return Ok(text.trim().to_string());
        }
    }
    let created = engine
        .create_webhook_secret(account, Some(0))
        .await
        .map_err(|e| e.to_string())?;
    std::fs::write(&path, &created.secret)
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(created.secret)
}

/// A value made once and kept in `dir/name`.
pub(crate) fn remembered(
    dir: &Path,
    name: &str,
    make: impl FnOnce() -> String,
) -> Result<String, String> {
    let path = dir.join(name);
    if let Ok(text) = std::fs::read_to_string(&path) {
        return Ok(text.trim().to_string());
    }
    let value = make();
    std::fs::write(&path, &value).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(value)
}

fn banner(
    address: &str,
    account: &AccountId,
    token: &str,
    secret: &str,
    dir: &Path,
    now: DateTime<Utc>,
    offset: chrono::Duration,
) {
    println!(
        "\nfollow-ups engine, local runtime\n\
         \n  console        http://{address}/  (sign in with the bearer token)\
         \n  API            http://{address}/v1  (OpenAPI: /v1/openapi.json)\
         \n  account        {account}\
         \n  bearer token   {token}\
         \n  webhook        POST http://{address}/v1/webhooks/{account}/call-completed\
         \n  webhook secret {secret}\
         \n  outbox         GET http://{address}/v1/outbox\
         \n  clock          {now} ({} ahead; POST /v1/local/clock {{\"advance\":\"26h\"}} moves it)\
         \n  data           {}\n",
        describe(offset),
        dir.display()
    );
}

fn describe(offset: chrono::Duration) -> String {
    let minutes = offset.num_minutes();
    if minutes == 0 {
        "0m".into()
    } else {
        format!("{}h{:02}m", minutes / 60, minutes % 60)
    }
}
