//! The executor: a due follow-up leaves through its channel, exactly once.
//!
//! Invoked with `{account_id, followup_id, attempt}` by EventBridge Scheduler or the
//! dispatcher's direct path. It re-checks the follow-up at send time (policy
//! `recheck`: channel still enabled, not cancelled, not on do-not-call, inside the
//! window), claims it with a conditional write (`scheduled` at this attempt and this
//! version → `sending`; a second invocation loses the claim and does nothing), renders
//! it, sends it, and records the outcome. A process that dies after the provider
//! accepted leaves the follow-up `sending`; the next invocation for it marks it
//! `unknown` after [`CLAIM_TIMEOUT`] instead of sending again.

use std::sync::Arc;

use channels::{EmailContent, EmailIdentity, Outbound, SendError, Sender, Sent, SmsIdentity};
use chrono::{DateTime, Duration, Utc};
use policy::lifecycle::{Event, ProviderAnswer, Refused};
use policy::platform::Lookup;
use policy::values::{EmailAddress, PhoneNumber};
use policy::{CallLookup, Channel, FollowUp, PlacedStep, Reason, SendCheck, Settings, Status};
use serde::{Deserialize, Serialize};
use store::StoreError;

use crate::clock::Clock;
use crate::error::ServiceError;
use crate::records::Versioned;
use crate::repository::Repository;

#[path = "execute_mailbox.rs"]
mod mailbox;
pub use mailbox::MailboxSending;

// The claim timeout and the provider's retries are rules of the follow-up's life.
pub use policy::lifecycle::{CLAIM_TIMEOUT, MAX_PROVIDER_TRIES, PROVIDER_RETRY_DELAY};

/// How long a placed follow-up call waits for its completion webhook before it is
/// looked at again (and, with no completion, ends `unknown`), unless configured.
pub const DEFAULT_PLACED_CALL_WAIT: Duration = Duration::hours(2);

/// The longest the executor waits for a follow-up that arrives before it is due (the
/// dispatcher's direct path takes anything due within two minutes).
pub const MAX_EARLY_WAIT: Duration = Duration::seconds(150);

/// The executor's input (docs/architecture.md, "Contracts at the boundaries"): the same from Scheduler and from direct invokes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecutorInput {
    pub account_id: String,
    pub followup_id: String,
    pub attempt: u32,
}

/// Channel identities that come from the deployment rather than from settings.
#[derive(Debug, Clone, Default)]
pub struct SenderIdentity {
    /// The verified SES identity every email is sent from (`SES_FROM_ADDRESS`); an
    /// account's `email_from_address` wins when set.
    pub email_from_address: Option<String>,
    pub email_configuration_set: Option<String>,
    pub sms_sender_id: Option<String>,
    pub sms_origination_number: Option<String>,
    /// Where the API is reachable from the internet (`PUBLIC_BASE_URL`): emails'
    /// unsubscribe links point there.
    pub public_base_url: Option<String>,
}

/// The senders this executor may use: a Lambda deployment has only its channel's.
#[derive(Clone, Default)]
pub struct Senders {
    pub sms: Option<Arc<dyn Sender>>,
    pub email: Option<Arc<dyn Sender>>,
    pub whatsapp: Option<Arc<dyn Sender>>,
    pub call: Option<Arc<dyn Sender>>,
}

impl Senders {
    /// One sender for every channel (the local runtime's outbox).
    pub fn all(sender: Arc<dyn Sender>) -> Self {
        Self {
            sms: Some(sender.clone()),
            email: Some(sender.clone()),
            whatsapp: Some(sender.clone()),
            call: Some(sender),
        }
    }

    fn for_channel(&self, channel: Channel) -> Option<&Arc<dyn Sender>> {
        match channel {
            Channel::Sms => self.sms.as_ref(),
            Channel::Email | Channel::MissedCallEmail => self.email.as_ref(),
            Channel::Whatsapp => self.whatsapp.as_ref(),
            Channel::Call => self.call.as_ref(),
        }
    }
}

/// What one invocation did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    Sent {
        status: Status,
        provider_id: String,
    },
    Failed {
        reason: Reason,
        detail: String,
    },
    Unknown {
        detail: String,
    },
    Suppressed {
        reason: Reason,
    },
    Rescheduled {
        due_at: DateTime<Utc>,
    },
    /// A placed call's end, looked up on its platform, was recorded as its completion
    /// (`status`: the follow-up's status after it).
    Settled {
        status: Status,
        detail: String,
    },
    /// Nothing to do: not waiting to be sent, another attempt, claimed by someone else.
    Skipped {
        detail: String,
    },
    /// Another invocation holds a fresh claim: look again later (the Lambda adapter fails
    /// the invocation so it is retried, and a claim that outlives [`CLAIM_TIMEOUT`] is
    /// then reported `unknown`).
    InFlight {
        detail: String,
    },
}

/// What the invoker of an execution does next: the one place that decides retryable
/// versus recorded, for the Lambda executor, the local runtime and the tests' model of
/// Lambda alike.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// Finished: the outcome (or a permanent error, logged) stands.
    Done,
    /// Try the same input again later: a fresh claim may still settle, or the error may
    /// pass (throttling, a timeout, a provider's 5xx). Lambda fails the invocation so it
    /// is retried; the local runtime waits as Lambda would.
    Again { why: String },
}

impl Next {
    pub fn after(result: &Result<Outcome, ServiceError>) -> Next {
        match result {
            Ok(Outcome::InFlight { detail }) => Next::Again {
                why: detail.clone(),
            },
            Ok(_) => Next::Done,
            Err(e) if e.is_retryable() => Next::Again { why: e.to_string() },
            Err(_) => Next::Done,
        }
    }
}

pub struct Executor {
    repo: Arc<Repository>,
    senders: Senders,
    identity: SenderIdentity,
    clock: Arc<dyn Clock>,
    mailboxes: Option<MailboxSending>,
    placed_call_wait: Duration,
    lookups: Option<Arc<dyn channels::PlatformLookup>>,
}

impl Executor {
    pub fn new(
        repo: Arc<Repository>,
        senders: Senders,
        identity: SenderIdentity,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            repo,
            senders,
            identity,
            clock,
            mailboxes: None,
            placed_call_wait: DEFAULT_PLACED_CALL_WAIT,
            lookups: None,
        }
    }

    /// Lets email follow-ups leave from the account's connected mailboxes.
    pub fn with_mailboxes(mut self, mailboxes: MailboxSending) -> Self {
        self.mailboxes = Some(mailboxes);
        self
    }

    /// How long a placed call waits for its completion (at least a minute).
    pub fn with_placed_call_wait(mut self, wait: Duration) -> Self {
        self.placed_call_wait = wait.max(Duration::minutes(1));
        self
    }

    /// Where a placed call beyond its wait is looked up (the platforms' get-call APIs);
    /// without it, such a call ends `unknown`.
    pub fn with_call_lookups(mut self, lookups: Arc<dyn channels::PlatformLookup>) -> Self {
        self.lookups = Some(lookups);
        self
    }

    pub async fn execute(&self, input: &ExecutorInput) -> Result<Outcome, ServiceError> {
        // A send to the same contact in the same campaign may land between our check of
        // the frequency caps and our claim: the claim then fails on the touches record
        // and the whole check runs again with the new count.
        for _ in 0..MAX_TOUCH_RACES {
            if let Some(outcome) = self.execute_once(input).await? {
                return Ok(outcome);
            }
        }
        Ok(Outcome::InFlight {
            detail: "other sends to this contact kept landing meanwhile; try again".into(),
        })
    }

    async fn execute_once(&self, input: &ExecutorInput) -> Result<Option<Outcome>, ServiceError> {
        let account = policy::AccountId::parse("account_id", &input.account_id)
            .map_err(policy::ValidationErrors::from)?;
        let id = policy::FollowUpId::parse("followup_id", &input.followup_id)
            .map_err(policy::ValidationErrors::from)?;
        let Some(stored) = self.repo.followup(&account, &id).await? else {
            return Ok(Some(skipped("no such follow-up")));
        };
        let now = self.wait_until_due(&stored.value).await;
        if stored.value.attempt != input.attempt {
            return Ok(Some(skipped(format!(
                "attempt {} was asked, the follow-up is at attempt {}",
                input.attempt, stored.value.attempt
            ))));
        }
        match stored.value.status {
            Status::Sending => settle_claim(&self.repo, &stored, now).await.map(Some),
            Status::Placed => self.settle_placed_call(stored, now).await.map(Some),
            _ => self.recheck_and_send(stored, now).await,
        }
    }

    /// The direct path invokes follow-ups due within a couple of minutes: wait for the
    /// due instant rather than send early (a window may open at that instant). Returns
    /// the time after the wait.
    async fn wait_until_due(&self, followup: &FollowUp) -> DateTime<Utc> {
        let now = self.clock.now();
        let early = followup.due_at - now;
        if early > Duration::zero() && early <= MAX_EARLY_WAIT {
            tokio::time::sleep(early.to_std().unwrap_or_default()).await;
            return self.clock.now();
        }
        now
    }

    /// What is known about the recipient right before sending (do-not-call, a bounced
    /// address, their latest zone and the campaign's touches), read fresh.
    async fn known_at_send(&self, followup: &FollowUp) -> Result<KnownAtSend, ServiceError> {
        let account = &followup.account_id;
        let (on_dnc, undeliverable) = match &followup.destination {
            Some(destination) => (
                self.repo.is_on_dnc(account, destination).await?,
                self.repo.is_undeliverable(account, destination).await?,
            ),
            None => (false, false),
        };
        let (contact, campaign) = (&followup.contact_id, &followup.campaign_id);
        let (facts, touches) = tokio::try_join!(
            self.repo.recipient_facts(account, contact),
            self.repo.touches(account, campaign, contact),
        )?;
        Ok(KnownAtSend {
            on_dnc,
            undeliverable,
            facts,
            touches,
        })
    }

    /// The send-time re-check, and what it says: send, hold, suppress or nothing.
    async fn recheck_and_send(
        &self,
        stored: Versioned<FollowUp>,
        now: DateTime<Utc>,
    ) -> Result<Option<Outcome>, ServiceError> {
        let followup = &stored.value;
        let settings = self
            .repo
            .settings_for_call(
                &followup.account_id,
                &followup.agent_id,
                &followup.campaign_id,
            )
            .await?;
        let known = self.known_at_send(followup).await?;
        let at_send = policy::AtSend {
            on_dnc: known.on_dnc,
            undeliverable: known.undeliverable,
            facts: &known.facts.value,
            touches: &known.touches.value,
        };
        let (event, outcome) = match policy::recheck(followup, &settings, &at_send, now) {
            SendCheck::Skip(status) => {
                return Ok(Some(skipped(format!("the follow-up is {status}"))));
            }
            // Invoked before its time (and beyond the wait): its schedule still stands.
            SendCheck::Reschedule(due_at) | SendCheck::Hold { at: due_at, .. }
                if due_at == followup.due_at =>
            {
                return Ok(Some(skipped(format!(
                    "not due until {due_at}; its schedule stands"
                ))));
            }
            SendCheck::Reschedule(until) => (
                Event::Hold {
                    until,
                    rules: Vec::new(),
                    facts: known.facts.value.clone(),
                },
                Outcome::Rescheduled { due_at: until },
            ),
            SendCheck::Hold { at, rules } => (
                Event::Hold {
                    until: at,
                    rules,
                    facts: known.facts.value.clone(),
                },
                Outcome::Rescheduled { due_at: at },
            ),
            SendCheck::Suppress(reason) => {
                (Event::Suppress { reason }, Outcome::Suppressed { reason })
            }
            SendCheck::Send => {
                // Before the claim: a store error here leaves nothing `sending`.
                let headers = self.unsubscribe_headers(followup).await?;
                return self
                    .claim_and_send(stored, &settings, headers, known.touches, now)
                    .await;
            }
        };
        self.save(&stored, &crate::step(followup, event, now)?)
            .await?;
        Ok(Some(outcome))
    }

    /// Claims the follow-up and sends it. `None`: the claim lost to a send to the same
    /// contact that changed the touches record; the caller checks everything again.
    async fn claim_and_send(
        &self,
        stored: Versioned<FollowUp>,
        settings: &Settings,
        email_headers: Vec<(String, String)>,
        touches: Versioned<Vec<policy::Touch>>,
        now: DateTime<Utc>,
    ) -> Result<Option<Outcome>, ServiceError> {
        let claimed = match self.claim(&stored, &touches, now).await? {
            Claim::Won(claimed) => *claimed,
            Claim::TouchesChanged => return Ok(None),
            Claim::Taken => return Ok(Some(skipped("another invocation claimed it first"))),
        };
        let mailbox = match self.sending_mailbox(&claimed, settings, now).await? {
            Ok(mailbox) => mailbox,
            Err(failed) => return Ok(Some(failed)),
        };
        let from_mailbox = mailbox.as_ref().map(|m| m.mailbox.address.as_str());
        let outbound = match self.render(&claimed.value, settings, from_mailbox, email_headers) {
            Ok(outbound) => outbound,
            Err(error) => {
                let (reason, detail) = match error {
                    policy::Error::NotRenderable { reason, detail } => (reason, detail),
                    other => (Reason::ProviderError, other.to_string()),
                };
                let event = Event::Fail {
                    reason,
                    detail: detail.clone(),
                };
                self.save(&claimed, &crate::step(&claimed.value, event, now)?)
                    .await?;
                return Ok(Some(Outcome::Failed { reason, detail }));
            }
        };
        let Some(sender) = self.senders.for_channel(claimed.value.channel) else {
            return Err(ServiceError::Internal(format!(
                "this executor has no sender for {}",
                claimed.value.channel
            )));
        };
        let result = match &mailbox {
            Some(opened) => {
                self.send_from_mailbox(&claimed.value, opened, &outbound)
                    .await
            }
            None => {
                sender
                    .send_for(claimed.value.account_id.as_str(), &outbound)
                    .await
            }
        };
        let settle = Event::Settle {
            answer: answer_of(result),
            placed_call_wait: self.placed_call_wait,
        };
        let done = crate::step(&claimed.value, settle, self.clock.now())?;
        let outcome = settled(&done);
        // This invocation knows the outcome: it keeps trying to record it. If every try
        // is lost, the follow-up stays `sending` and a later look (Lambda's retry, or the
        // failure queue's settler, `service::parked`) reports it `unknown`: it is never
        // sent twice.
        self.save_outcome(&claimed, &done).await?;
        count_outcome(&done, &outcome);
        Ok(Some(outcome))
    }

    /// Writes the claim (`sending`, with a token of this invocation) together with the
    /// contact's touches record when the channel counts towards frequency caps.
    async fn claim(
        &self,
        stored: &Versioned<FollowUp>,
        touches: &Versioned<Vec<policy::Touch>>,
        now: DateTime<Utc>,
    ) -> Result<Claim, ServiceError> {
        // The claim carries a token of this invocation, so a claim that was applied but
        // whose answer was lost is recognised as ours (and only ours) below.
        let token = uuid::Uuid::new_v4().simple().to_string();
        let event = Event::Claim {
            attempt: stored.value.attempt,
            token,
        };
        let claimed = crate::step(&stored.value, event, now)?;
        // A call or a text counts towards frequency caps from its claim on (a send that
        // then fails still counted: the cautious side).
        let also = match touch_kind(claimed.channel) {
            Some(kind) => {
                let mut recent = touches.value.clone();
                policy::remember_touch(&mut recent, policy::Touch { at: now, kind }, now);
                vec![Repository::touches_write(
                    &claimed.account_id,
                    &claimed.campaign_id,
                    &claimed.contact_id,
                    &recent,
                    touches.version,
                )?]
            }
            None => Vec::new(),
        };
        let guarded = also.len();
        let version = match self.repo.save_followup_with(stored, &claimed, also).await {
            Ok(version) => version,
            Err(StoreError::ConditionFailed { failed })
                if failed.iter().any(|(index, _)| *index < guarded) =>
            {
                return Ok(Claim::TouchesChanged);
            }
            Err(StoreError::ConditionFailed { .. }) => {
                // Either another invocation claimed it, or our own claim was applied and
                // its answer lost (the SDK then retried it): only then is the stored
                // follow-up exactly the one we wrote.
                match self.repo.followup(&claimed.account_id, &claimed.id).await? {
                    Some(current) if current.value == claimed => current.version,
                    _ => return Ok(Claim::Taken),
                }
            }
            Err(e) => return Err(e.into()),
        };
        Ok(Claim::Won(Box::new(Versioned {
            value: claimed,
            version,
        })))
    }

    /// A placed call invoked at its due time: its completion never came, so it is
    /// looked up on its platform and settled by the policy ([`policy::settle_placed`]):
    /// an ended call is recorded as its completion webhook would have been, one still
    /// in progress is looked at again later (a bounded number of times), and otherwise
    /// it ends `unknown` with the reason — never `placed` forever. (A completion that
    /// arrives later still drives retries, as for any `unknown` call.)
    async fn settle_placed_call(
        &self,
        stored: Versioned<FollowUp>,
        now: DateTime<Utc>,
    ) -> Result<Outcome, ServiceError> {
        if now < stored.value.due_at {
            return Ok(skipped(format!(
                "placed; waiting for its completion until {}",
                stored.value.due_at
            )));
        }
        let (lookup, mapped) = self.look_up_placed(&stored.value, now).await?;
        match (
            policy::settle_placed(&stored.value, &lookup, self.placed_call_wait, now),
            mapped,
        ) {
            (PlacedStep::Record, Some(mapped)) => self.record_looked_up(stored, mapped, now).await,
            (
                PlacedStep::Wait {
                    until,
                    reason,
                    detail,
                },
                _,
            ) => {
                let event = Event::StillInProgress {
                    until,
                    reason,
                    detail,
                };
                self.save(&stored, &crate::step(&stored.value, event, now)?)
                    .await?;
                crate::metrics::count("looked_up", "call", reason.as_str());
                Ok(Outcome::Rescheduled { due_at: until })
            }
            (PlacedStep::Unknown { reason, detail }, _) => {
                self.placed_unknown(&stored, reason, detail, now).await
            }
            (PlacedStep::Record, None) => {
                let detail = "the call ended but its end was not read".to_string();
                self.placed_unknown(&stored, Reason::OutcomeUnknown, detail, now)
                    .await
            }
        }
    }

    async fn placed_unknown(
        &self,
        stored: &Versioned<FollowUp>,
        reason: Reason,
        detail: String,
        now: DateTime<Utc>,
    ) -> Result<Outcome, ServiceError> {
        let event = Event::NoCompletion {
            reason,
            detail: detail.clone(),
        };
        self.save(stored, &crate::step(&stored.value, event, now)?)
            .await?;
        crate::metrics::count("unknown", "call", "no_completion");
        Ok(Outcome::Unknown { detail })
    }

    /// What the call's platform says about it, and its end read like its webhook.
    async fn look_up_placed(
        &self,
        call: &FollowUp,
        now: DateTime<Utc>,
    ) -> Result<(CallLookup, Option<policy::platform::Mapped>), ServiceError> {
        let settings = self
            .repo
            .settings_for_call(&call.account_id, &call.agent_id, &call.campaign_id)
            .await?;
        let Some(target) = crate::platforms::call_target(&settings) else {
            return Ok((CallLookup::Unsupported, None));
        };
        let name = target.name;
        let failed = |detail: String| {
            let lookup = CallLookup::Failed {
                platform: name.clone(),
                detail,
            };
            Ok((lookup, None))
        };
        let Ok(platform) = policy::platform::Platform::parse("platform", &name) else {
            return failed("not a platform with a call lookup".into());
        };
        let Some(lookups) = &self.lookups else {
            return failed("this executor has no platform lookup configured".into());
        };
        let Some(call_id) = policy::placed_call_id(call) else {
            return failed("no call id was recorded when it was placed".into());
        };
        let account = call.account_id.as_str();
        let body = match lookups.get_call(account, &name, call_id).await {
            Ok(body) => body,
            Err(e) => return failed(e.to_string()),
        };
        let native = match policy::platform::read_lookup(platform, &body) {
            Ok(Lookup::Ended(native)) => native,
            Ok(Lookup::InProgress { status }) => {
                return Ok((
                    CallLookup::InProgress {
                        platform: name,
                        status,
                    },
                    None,
                ));
            }
            Err(e) => return failed(format!("its answer did not read: {e}")),
        };
        let engine = crate::Engine::new(self.repo.clone(), self.clock.clone());
        match engine
            .map_native_call(&call.account_id, platform, &native, now)
            .await
        {
            Ok(mapped) => Ok((CallLookup::Ended, Some(mapped))),
            Err(ServiceError::Invalid(e)) => failed(format!("its answer did not read: {e}")),
            Err(e) => Err(e),
        }
    }

    /// Records a looked-up end as the call's completion webhook, under the same
    /// idempotency key (a webhook arriving later changes nothing). An end that does
    /// not tie back to this follow-up (another campaign or contact in its metadata)
    /// leaves it `unknown`, saying so.
    async fn record_looked_up(
        &self,
        stored: Versioned<FollowUp>,
        mut mapped: policy::platform::Mapped,
        now: DateTime<Utc>,
    ) -> Result<Outcome, ServiceError> {
        let call = &stored.value;
        // Looked up by this follow-up's call id: its end is this follow-up's.
        mapped.event.call.followup_id = Some(call.id.clone());
        let engine = crate::Engine::new(self.repo.clone(), self.clock.clone());
        engine
            .record_call(
                &call.account_id,
                &mapped.idempotency_key,
                &mapped.event,
                now,
            )
            .await?;
        let ended = mapped.event.call.end_reason.clone().unwrap_or_default();
        let current = self
            .repo
            .followup(&call.account_id, &call.id)
            .await?
            .ok_or(ServiceError::NotFound("follow-up"))?;
        let untouched = current.value.status == Status::Placed
            && current.value.attempt == call.attempt
            && current.value.due_at == call.due_at;
        if untouched {
            let detail = format!(
                "its platform reports it ended ({ended}), but that end names another campaign or contact"
            );
            return self
                .placed_unknown(&current, Reason::OutcomeUnknown, detail, now)
                .await;
        }
        crate::metrics::count("looked_up", "call", "ended");
        Ok(Outcome::Settled {
            status: current.value.status,
            detail: format!("looked up: {ended}"),
        })
    }

    /// Records the outcome of a send this invocation made, trying again (briefly) when
    /// the table is throttled or unreachable; a try whose answer was lost but which was
    /// applied is recognised by reading the follow-up back.
    async fn save_outcome(
        &self,
        claimed: &Versioned<FollowUp>,
        done: &FollowUp,
    ) -> Result<u64, ServiceError> {
        let mut delay = std::time::Duration::from_millis(100);
        for _ in 1..OUTCOME_WRITE_TRIES {
            match self.repo.save_followup(claimed, done).await {
                Ok(version) => return Ok(version),
                Err(e) if e.is_retryable() => {
                    tracing::warn!(followup_id = %done.id, error = %e, "the outcome was not recorded; trying again");
                    tokio::time::sleep(delay).await;
                    delay *= 2;
                }
                Err(StoreError::ConditionFailed { .. }) => {
                    return match self.repo.followup(&done.account_id, &done.id).await? {
                        Some(current) if current.value == *done => Ok(current.version),
                        _ => self.save(claimed, done).await,
                    };
                }
                Err(e) => return Err(e.into()),
            }
        }
        self.save(claimed, done).await
    }

    /// The one-click unsubscribe headers of an email follow-up (none for other
    /// channels, or without a public base URL to point them at).
    async fn unsubscribe_headers(
        &self,
        followup: &FollowUp,
    ) -> Result<Vec<(String, String)>, ServiceError> {
        let (Some(base), Some(address)) = (
            self.identity.public_base_url.as_deref(),
            followup.destination.as_ref().and_then(|d| d.email()),
        ) else {
            return Ok(Vec::new());
        };
        let key = self
            .repo
            .unsubscribe_key(&followup.account_id, true)
            .await?
            .ok_or_else(|| ServiceError::Internal("no unsubscribe key".into()))?;
        Ok(crate::unsubscribe::headers(base, &key, followup, address))
    }

    /// The message; `from_mailbox` is the connected mailbox's address when the email
    /// leaves from one (it is then the `From` address).
    fn render(
        &self,
        followup: &FollowUp,
        settings: &Settings,
        from_mailbox: Option<&str>,
        email_headers: Vec<(String, String)>,
    ) -> Result<Outbound, policy::Error> {
        match followup.channel {
            Channel::Sms => self.render_sms(followup, settings),
            Channel::Email | Channel::MissedCallEmail => {
                let from = EmailFrom {
                    mailbox: from_mailbox,
                    headers: email_headers,
                };
                self.render_email(followup, settings, from)
            }
            Channel::Whatsapp => render_whatsapp(followup, settings),
            Channel::Call => render_call(followup, settings),
        }
    }

    /// The text, from the account's sender id and number or else the deployment's.
    fn render_sms(
        &self,
        followup: &FollowUp,
        settings: &Settings,
    ) -> Result<Outbound, policy::Error> {
        let sms = policy::render_sms(followup, settings)?;
        let account = &settings.account;
        Ok(Outbound::Sms {
            to: phone_to(followup)?,
            sender: SmsIdentity {
                sender_id: account
                    .sms_sender_id
                    .as_ref()
                    .map(|s| s.as_str().to_string())
                    .or_else(|| self.identity.sms_sender_id.clone()),
                origination_number: account
                    .sms_origination_number
                    .as_ref()
                    .map(|n| n.as_str().to_string())
                    .or_else(|| self.identity.sms_origination_number.clone()),
            },
            text: sms.text,
        })
    }

    /// The email, from the connected mailbox, else the account's address, else the
    /// deployment's SES identity; tagged so SES events find their follow-up.
    fn render_email(
        &self,
        followup: &FollowUp,
        settings: &Settings,
        from: EmailFrom<'_>,
    ) -> Result<Outbound, policy::Error> {
        let email = policy::render_email(followup, settings)?;
        let account = &settings.account;
        let from_address = from
            .mailbox
            .map(str::to_string)
            .or_else(|| {
                account
                    .email_from_address
                    .as_ref()
                    .map(|a| a.as_str().to_string())
            })
            .or_else(|| self.identity.email_from_address.clone())
            .ok_or_else(|| policy::Error::NotRenderable {
                reason: Reason::NoSenderName,
                detail: "no email from address (account email_from_address or SES_FROM_ADDRESS)"
                    .into(),
            })?;
        Ok(Outbound::Email {
            kind: match followup.channel {
                Channel::MissedCallEmail => channels::EmailKind::MissedCallEmail,
                _ => channels::EmailKind::Email,
            },
            to: email_to(followup)?,
            sender: EmailIdentity {
                name: email.from_name.unwrap_or_default(),
                address: from_address,
                configuration_set: account
                    .email_configuration_set
                    .as_ref()
                    .map(|c| c.as_str().to_string())
                    .or_else(|| self.identity.email_configuration_set.clone()),
            },
            content: EmailContent {
                subject: email.subject,
                html: email.html,
                text: email.text,
            },
            tags: vec![
                ("account_id".into(), followup.account_id.to_string()),
                ("followup_id".into(), followup.id.to_string()),
                ("kind".into(), followup.channel.as_str().into()),
            ],
            headers: from.headers,
        })
    }

    async fn save(&self, old: &Versioned<FollowUp>, new: &FollowUp) -> Result<u64, ServiceError> {
        match self.repo.save_followup(old, new).await {
            Ok(version) => Ok(version),
            Err(StoreError::ConditionFailed { .. }) => Err(ServiceError::Conflict(format!(
                "follow-up {} changed while the executor held it",
                new.id
            ))),
            Err(e) => Err(e.into()),
        }
    }
}

/// A claim found still `sending`: in flight if recent, else the process that held it
/// died mid-send (or could not record the outcome) and the outcome is unknown:
/// surfaced, not resent.
pub(crate) async fn settle_claim(
    repo: &Repository,
    stored: &Versioned<FollowUp>,
    now: DateTime<Utc>,
) -> Result<Outcome, ServiceError> {
    let unknown = match policy::lifecycle::apply(&stored.value, Event::ClaimExpired, now) {
        Ok(unknown) => unknown,
        Err(fresh @ Refused::ClaimFresh { .. }) => {
            return Ok(Outcome::InFlight {
                detail: fresh.to_string(),
            });
        }
        Err(refused) => return Err(ServiceError::Internal(refused.to_string())),
    };
    let detail = last_detail(&unknown);
    match repo.save_followup(stored, &unknown).await {
        Ok(_) => {}
        Err(StoreError::ConditionFailed { .. }) => {
            return Ok(skipped("the claim was settled meanwhile"));
        }
        Err(e) => return Err(e.into()),
    }
    crate::metrics::count(
        "unknown",
        stored.value.channel.as_str(),
        "claim_never_settled",
    );
    Ok(Outcome::Unknown { detail })
}

/// How many times the executor tries to record the outcome of a send it made.
const OUTCOME_WRITE_TRIES: usize = 5;

/// How many times a send is checked again after losing its claim to another send to
/// the same contact.
const MAX_TOUCH_RACES: usize = 3;

/// What a send on `channel` counts as for frequency caps.
fn touch_kind(channel: Channel) -> Option<policy::TouchKind> {
    match channel {
        Channel::Call => Some(policy::TouchKind::Call),
        Channel::Sms | Channel::Whatsapp => Some(policy::TouchKind::Text),
        Channel::Email | Channel::MissedCallEmail => None,
    }
}

fn skipped(detail: impl Into<String>) -> Outcome {
    Outcome::Skipped {
        detail: detail.into(),
    }
}

/// The outcome of a claim.
enum Claim {
    /// The follow-up is ours to send, at this version.
    Won(Box<Versioned<FollowUp>>),
    /// A send to the same contact changed the touches record first.
    TouchesChanged,
    /// Another invocation claimed it first.
    Taken,
}

/// Where an email leaves from: the connected mailbox's address (none: SES), and its
/// one-click unsubscribe headers.
struct EmailFrom<'a> {
    mailbox: Option<&'a str>,
    headers: Vec<(String, String)>,
}

/// The WhatsApp template message; its callback data ties delivery statuses back to
/// this follow-up's attempt.
fn render_whatsapp(followup: &FollowUp, settings: &Settings) -> Result<Outbound, policy::Error> {
    let template = policy::whatsapp_template(followup, settings)?;
    Ok(Outbound::WhatsApp {
        to: phone_to(followup)?,
        template_name: template.name,
        language: template.language,
        parameters: template.parameters,
        callback_data: Some(policy::whatsapp_callback_data(
            &followup.id,
            followup.attempt,
        )),
    })
}

/// The follow-up call, for the agent's voice platform.
fn render_call(followup: &FollowUp, settings: &Settings) -> Result<Outbound, policy::Error> {
    let call = policy::call_request(followup, settings)?;
    Ok(Outbound::Call {
        to: call.to,
        agent_id: call.agent_id.to_string(),
        instructions: call.instructions,
        account_id: followup.account_id.to_string(),
        followup_id: call.followup_id.to_string(),
        attempt: call.attempt,
        platform: crate::platforms::call_target(settings),
        variables: crate::platforms::call_variables(followup),
    })
}

/// The number an SMS or WhatsApp message goes to. The send-time re-check suppresses a
/// follow-up without a destination before it is rendered, and `decide` gives each
/// channel its kind of destination, so this fails only for a stored follow-up that
/// contradicts itself: it fails as a call without a number does.
fn phone_to(followup: &FollowUp) -> Result<PhoneNumber, policy::Error> {
    let phone = followup.destination.as_ref().and_then(|d| d.phone());
    phone
        .cloned()
        .ok_or_else(|| no_destination(followup, "phone number"))
}

/// The address an email goes to; see [`phone_to`] for when it can be missing.
fn email_to(followup: &FollowUp) -> Result<EmailAddress, policy::Error> {
    let email = followup.destination.as_ref().and_then(|d| d.email());
    email
        .cloned()
        .ok_or_else(|| no_destination(followup, "email address"))
}

fn no_destination(followup: &FollowUp, what: &str) -> policy::Error {
    policy::Error::NotRenderable {
        reason: Reason::NoDestination,
        detail: format!("the follow-up {} has no {what}", followup.channel),
    }
}

/// What is known about the recipient right before sending.
struct KnownAtSend {
    on_dnc: bool,
    undeliverable: bool,
    facts: Versioned<policy::RecipientFacts>,
    touches: Versioned<Vec<policy::Touch>>,
}

/// The provider's answer as the policy reads it: a mailbox that lost its consent is
/// told apart from other permanent refusals.
fn answer_of(result: Result<Sent, SendError>) -> ProviderAnswer {
    match result {
        Ok(sent) => ProviderAnswer::Accepted {
            provider_id: sent.provider_id,
        },
        Err(SendError::OptedOut) => ProviderAnswer::OptedOut,
        Err(SendError::Permanent { code, reason })
            if code == channels::mailbox::MAILBOX_DISCONNECTED =>
        {
            ProviderAnswer::MailboxDisconnected { reason }
        }
        Err(SendError::Permanent { code, reason }) => ProviderAnswer::Rejected { code, reason },
        Err(SendError::Unknown { reason }) => ProviderAnswer::Unknown { reason },
        Err(SendError::Retryable { reason }) => ProviderAnswer::Unavailable { reason },
    }
}

/// What the invocation reports once the provider's answer is recorded on `done`.
fn settled(done: &FollowUp) -> Outcome {
    let reason = done.reason.unwrap_or(Reason::ProviderError);
    match done.status {
        Status::Sent | Status::Placed => Outcome::Sent {
            status: done.status,
            provider_id: done
                .attempts
                .last()
                .and_then(|a| a.provider_id.clone())
                .unwrap_or_default(),
        },
        Status::Suppressed => Outcome::Suppressed { reason },
        Status::Scheduled => Outcome::Rescheduled {
            due_at: done.due_at,
        },
        Status::Unknown => Outcome::Unknown {
            detail: last_detail(done),
        },
        _ => Outcome::Failed {
            reason,
            detail: last_detail(done),
        },
    }
}

/// Why the follow-up is in its status: its last trace entry's detail.
fn last_detail(followup: &FollowUp) -> String {
    followup
        .trace
        .last()
        .map(|entry| entry.detail.clone())
        .unwrap_or_default()
}

/// Counts a send's outcome in the metrics.
fn count_outcome(done: &FollowUp, outcome: &Outcome) {
    let channel = done.channel.as_str();
    let reason = done.reason.map(|r| r.as_str()).unwrap_or("none");
    match outcome {
        Outcome::Sent { .. } => crate::metrics::count("sent", channel, reason),
        Outcome::Failed { .. } => crate::metrics::count("failed", channel, reason),
        Outcome::Suppressed { .. } => crate::metrics::count("suppressed", channel, reason),
        Outcome::Unknown { .. } => crate::metrics::count("unknown", channel, reason),
        Outcome::Rescheduled { .. }
        | Outcome::Settled { .. }
        | Outcome::Skipped { .. }
        | Outcome::InFlight { .. } => {}
    }
}

#[cfg(test)]
mod next_tests {
    use super::*;

    #[test]
    fn only_a_fresh_claim_or_a_passing_error_is_tried_again() {
        let again =
            |r: &Result<Outcome, ServiceError>| matches!(Next::after(r), Next::Again { .. });
        let in_flight = Ok(Outcome::InFlight {
            detail: "claimed".into(),
        });
        let throttled = Err(ServiceError::Store(StoreError::Throttled(
            "slow down".into(),
        )));
        let unreachable = Err(ServiceError::Store(StoreError::Unavailable(
            "timeout".into(),
        )));
        let sent = Ok(Outcome::Sent {
            status: Status::Sent,
            provider_id: "m-1".into(),
        });
        let unknown = Ok(Outcome::Unknown {
            detail: "died".into(),
        });
        let corrupt = Err(ServiceError::Store(StoreError::Corrupt("bad item".into())));
        let conflict = Err(ServiceError::Conflict("changed".into()));
        for (result, expected) in [
            (in_flight, true),
            (throttled, true),
            (unreachable, true),
            (sent, false),
            (unknown, false),
            (corrupt, false),
            (conflict, false),
        ] {
            assert_eq!(again(&result), expected, "{result:?}");
        }
    }
}
