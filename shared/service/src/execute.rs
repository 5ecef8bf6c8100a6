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

use channels::{Outbound, SendError, Sender};
use chrono::{DateTime, Duration, Utc};
use policy::{Attempt, Channel, FollowUp, Reason, SendCheck, Settings, Status};
use serde::{Deserialize, Serialize};
use store::StoreError;

use crate::clock::Clock;
use crate::error::ServiceError;
use crate::records::Versioned;
use crate::repository::Repository;

#[path = "execute_mailbox.rs"]
mod mailbox;
pub use mailbox::MailboxSending;

/// How long a claim may stay `sending` before a later invocation calls the outcome
/// unknown. A claim is taken after any wait for the due time, so it lives only as long as
/// a send (each sender gives up within about 40 s: 10 s timeouts, 3 tries); and it is
/// shorter than Lambda's two asynchronous retries (about 1 and 3 minutes after a failed
/// invocation), so a claim whose process died is surfaced by the last retry at the latest.
pub const CLAIM_TIMEOUT: Duration = Duration::seconds(90);
/// How often a provider that keeps failing temporarily is tried again for one attempt
/// before the follow-up is `failed`.
pub const MAX_PROVIDER_TRIES: usize = 3;
/// The wait before trying a temporarily failing provider again.
pub const PROVIDER_RETRY_DELAY: Duration = Duration::minutes(5);

/// The longest the executor waits for a follow-up that arrives before it is due (the
/// dispatcher's direct path takes anything due within two minutes).
pub const MAX_EARLY_WAIT: Duration = Duration::seconds(150);

/// The executor's input (DESIGN 3.3): the same from Scheduler and from direct invokes.
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

pub struct Executor {
    repo: Arc<Repository>,
    senders: Senders,
    identity: SenderIdentity,
    clock: Arc<dyn Clock>,
    mailboxes: Option<MailboxSending>,
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
        }
    }

    /// Lets email follow-ups leave from the account's connected mailboxes.
    pub fn with_mailboxes(mut self, mailboxes: MailboxSending) -> Self {
        self.mailboxes = Some(mailboxes);
        self
    }

    pub async fn execute(&self, input: &ExecutorInput) -> Result<Outcome, ServiceError> {
        let account = policy::AccountId::parse("account_id", &input.account_id)
            .map_err(policy::ValidationErrors::from)?;
        let id = policy::FollowUpId::parse("followup_id", &input.followup_id)
            .map_err(policy::ValidationErrors::from)?;
        let Some(stored) = self.repo.followup(&account, &id).await? else {
            return Ok(skipped("no such follow-up"));
        };
        let mut now = self.clock.now();
        // The direct path invokes follow-ups due within a couple of minutes: wait for
        // the due instant rather than send early (a window may open at that instant).
        let early = stored.value.due_at - now;
        if early > Duration::zero() && early <= MAX_EARLY_WAIT {
            tokio::time::sleep(early.to_std().unwrap_or_default()).await;
            now = self.clock.now();
        }
        if stored.value.attempt != input.attempt {
            return Ok(skipped(format!(
                "attempt {} was asked, the follow-up is at attempt {}",
                input.attempt, stored.value.attempt
            )));
        }
        if stored.value.status == Status::Sending {
            return self.settle_stale_claim(stored, now).await;
        }
        let settings = self
            .repo
            .settings_for_call(&account, &stored.value.agent_id, &stored.value.campaign_id)
            .await?;
        let on_dnc = match &stored.value.destination {
            Some(destination) => self.repo.is_on_dnc(&account, destination).await?,
            None => false,
        };
        match policy::recheck(&stored.value, &settings, on_dnc, now) {
            SendCheck::Skip(status) => Ok(skipped(format!("the follow-up is {status}"))),
            // Invoked before its time (and beyond the wait): its schedule still stands.
            SendCheck::Reschedule(due_at) if due_at == stored.value.due_at => Ok(skipped(format!(
                "not due until {due_at}; its schedule stands"
            ))),
            SendCheck::Reschedule(due_at) => {
                let mut moved = stored.value.clone();
                moved.due_at = due_at;
                moved.record(
                    now,
                    Status::Scheduled,
                    Reason::OutsideWindow,
                    format!("outside its window at send time; moved to {due_at}"),
                );
                self.save(&stored, &moved).await?;
                Ok(Outcome::Rescheduled { due_at })
            }
            SendCheck::Suppress(reason) => {
                let mut suppressed = stored.value.clone();
                suppressed.record(now, Status::Suppressed, reason, "re-checked at send time");
                self.save(&stored, &suppressed).await?;
                Ok(Outcome::Suppressed { reason })
            }
            SendCheck::Send => self.claim_and_send(stored, &settings, now).await,
        }
    }

    async fn claim_and_send(
        &self,
        stored: Versioned<FollowUp>,
        settings: &Settings,
        now: DateTime<Utc>,
    ) -> Result<Outcome, ServiceError> {
        let mut claimed = stored.value.clone();
        // The claim carries a token of this invocation, so a claim that was applied but
        // whose answer was lost is recognised as ours (and only ours) below.
        let token = uuid::Uuid::new_v4().simple();
        claimed.record(
            now,
            Status::Sending,
            Reason::Due,
            format!("claimed by the executor (claim {token})"),
        );
        let claim_version = match self.repo.save_followup(&stored, &claimed).await {
            Ok(version) => version,
            Err(StoreError::ConditionFailed { .. }) => {
                // Either another invocation claimed it, or our own claim was applied and
                // its answer lost (the SDK then retried it): only then is the stored
                // follow-up exactly the one we wrote.
                match self.repo.followup(&claimed.account_id, &claimed.id).await? {
                    Some(current) if current.value == claimed => current.version,
                    _ => return Ok(skipped("another invocation claimed it first")),
                }
            }
            Err(e) => return Err(e.into()),
        };
        let claimed = Versioned {
            value: claimed,
            version: claim_version,
        };
        let mut done = claimed.value.clone();
        let attempt = done.attempt;

        let mailbox = match self.mailbox_for(&claimed.value, settings).await? {
            None => None,
            Some(Ok(opened)) => Some(opened),
            Some(Err(detail)) => {
                let reason = Reason::MailboxDisconnected;
                done.record(now, Status::Failed, reason, detail.clone());
                self.save(&claimed, &done).await?;
                crate::metrics::count("failed", done.channel.as_str(), reason.as_str());
                return Ok(Outcome::Failed { reason, detail });
            }
        };
        let from_mailbox = mailbox.as_ref().map(|m| m.mailbox.address.as_str());
        let outbound = match self.render(&claimed.value, settings, from_mailbox) {
            Ok(outbound) => outbound,
            Err(error) => {
                let (reason, detail) = match error {
                    policy::Error::NotRenderable { reason, detail } => (reason, detail),
                    other => (Reason::ProviderError, other.to_string()),
                };
                done.record(now, Status::Failed, reason, detail.clone());
                self.save(&claimed, &done).await?;
                return Ok(Outcome::Failed { reason, detail });
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
        let at = self.clock.now();
        let outcome = match result {
            Ok(sent) => {
                let status = if done.channel == Channel::Call {
                    Status::Placed
                } else {
                    Status::Sent
                };
                done.attempts.push(Attempt {
                    attempt,
                    at,
                    status,
                    provider_id: Some(sent.provider_id.clone()),
                    error: None,
                });
                done.record(
                    at,
                    status,
                    Reason::ProviderAccepted,
                    format!("accepted as {}", sent.provider_id),
                );
                Outcome::Sent {
                    status,
                    provider_id: sent.provider_id,
                }
            }
            Err(SendError::OptedOut) => {
                let detail = "the recipient opted out with the provider".to_string();
                done.attempts
                    .push(failed_attempt(attempt, at, Status::Suppressed, &detail));
                done.record(at, Status::Suppressed, Reason::OptedOut, detail);
                Outcome::Suppressed {
                    reason: Reason::OptedOut,
                }
            }
            Err(SendError::Permanent { code, reason })
                if code == channels::mailbox::MAILBOX_DISCONNECTED =>
            {
                let detail = format!("the mailbox lost its consent: {reason}");
                done.attempts
                    .push(failed_attempt(attempt, at, Status::Failed, &detail));
                done.record(
                    at,
                    Status::Failed,
                    Reason::MailboxDisconnected,
                    detail.clone(),
                );
                Outcome::Failed {
                    reason: Reason::MailboxDisconnected,
                    detail,
                }
            }
            Err(SendError::Permanent { code, reason }) => {
                let detail = format!("{code}: {reason}");
                done.attempts
                    .push(failed_attempt(attempt, at, Status::Failed, &detail));
                done.record(at, Status::Failed, Reason::ProviderError, detail.clone());
                Outcome::Failed {
                    reason: Reason::ProviderError,
                    detail,
                }
            }
            Err(SendError::Unknown { reason }) => {
                done.attempts
                    .push(failed_attempt(attempt, at, Status::Unknown, &reason));
                done.record(at, Status::Unknown, Reason::OutcomeUnknown, reason.clone());
                Outcome::Unknown { detail: reason }
            }
            Err(SendError::Retryable { reason }) => {
                done.attempts
                    .push(failed_attempt(attempt, at, Status::Failed, &reason));
                let tries = done
                    .attempts
                    .iter()
                    .filter(|a| a.attempt == attempt && a.error.is_some())
                    .count();
                if tries < MAX_PROVIDER_TRIES {
                    let due_at = at + PROVIDER_RETRY_DELAY;
                    done.due_at = due_at;
                    done.record(
                        at,
                        Status::Scheduled,
                        Reason::ProviderError,
                        format!("provider unavailable ({reason}); trying again at {due_at}"),
                    );
                    Outcome::Rescheduled { due_at }
                } else {
                    let detail = format!("provider unavailable after {tries} tries: {reason}");
                    done.record(at, Status::Failed, Reason::ProviderError, detail.clone());
                    Outcome::Failed {
                        reason: Reason::ProviderError,
                        detail,
                    }
                }
            }
        };
        // If this write is lost, the follow-up stays `sending` and the next invocation
        // reports it `unknown`: it is never sent twice.
        self.save(&claimed, &done).await?;
        let channel = done.channel.as_str();
        let reason = done.reason.map(|r| r.as_str()).unwrap_or("none");
        match &outcome {
            Outcome::Sent { .. } => crate::metrics::count("sent", channel, reason),
            Outcome::Failed { .. } => crate::metrics::count("failed", channel, reason),
            Outcome::Suppressed { .. } => crate::metrics::count("suppressed", channel, reason),
            Outcome::Unknown { .. } => crate::metrics::count("unknown", channel, reason),
            Outcome::Rescheduled { .. } | Outcome::Skipped { .. } | Outcome::InFlight { .. } => {}
        }
        Ok(outcome)
    }

    /// A claim found still `sending`: in flight if recent, else the process that held
    /// it died mid-send and the outcome is unknown (surfaced, not resent).
    async fn settle_stale_claim(
        &self,
        stored: Versioned<FollowUp>,
        now: DateTime<Utc>,
    ) -> Result<Outcome, ServiceError> {
        if now - stored.value.updated_at < CLAIM_TIMEOUT {
            return Ok(Outcome::InFlight {
                detail: format!(
                    "claimed at {}; another invocation is sending it",
                    stored.value.updated_at
                ),
            });
        }
        let detail = format!(
            "claimed at {} and never settled: the provider may or may not have it",
            stored.value.updated_at
        );
        let mut unknown = stored.value.clone();
        unknown.record(now, Status::Unknown, Reason::OutcomeUnknown, detail.clone());
        self.save(&stored, &unknown).await?;
        Ok(Outcome::Unknown { detail })
    }

    /// The message; `from_mailbox` is the connected mailbox's address when the email
    /// leaves from one (it is then the `From` address).
    fn render(
        &self,
        followup: &FollowUp,
        settings: &Settings,
        from_mailbox: Option<&str>,
    ) -> Result<Outbound, policy::Error> {
        let to = followup
            .destination
            .as_ref()
            .map(|d| d.as_str().to_string())
            .unwrap_or_default();
        Ok(match followup.channel {
            Channel::Sms => {
                let sms = policy::render_sms(followup, settings)?;
                let account = &settings.account;
                Outbound::Sms {
                    to,
                    text: sms.text,
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
                }
            }
            Channel::Email | Channel::MissedCallEmail => {
                let email = policy::render_email(followup, settings)?;
                let account = &settings.account;
                let from_address = from_mailbox
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
                        detail:
                            "no email from address (account email_from_address or SES_FROM_ADDRESS)"
                                .into(),
                    })?;
                Outbound::Email {
                    kind: match followup.channel {
                        Channel::MissedCallEmail => channels::EmailKind::MissedCallEmail,
                        _ => channels::EmailKind::Email,
                    },
                    from_name: email.from_name.unwrap_or_default(),
                    from_address,
                    to,
                    subject: email.subject,
                    html: email.html,
                    text: email.text,
                    configuration_set: account
                        .email_configuration_set
                        .as_ref()
                        .map(|c| c.as_str().to_string())
                        .or_else(|| self.identity.email_configuration_set.clone()),
                    tags: vec![
                        ("account_id".into(), followup.account_id.to_string()),
                        ("followup_id".into(), followup.id.to_string()),
                        ("kind".into(), followup.channel.as_str().into()),
                    ],
                }
            }
            Channel::Whatsapp => {
                let template = policy::whatsapp_template(followup, settings)?;
                Outbound::WhatsApp {
                    to,
                    template_name: template.name,
                    language: template.language,
                    parameters: template.parameters,
                }
            }
            Channel::Call => {
                let call = policy::call_request(followup, settings)?;
                Outbound::Call {
                    to: call.to.as_str().to_string(),
                    agent_id: call.agent_id.to_string(),
                    instructions: call.instructions,
                    account_id: followup.account_id.to_string(),
                    followup_id: call.followup_id.to_string(),
                    attempt: call.attempt,
                }
            }
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

fn skipped(detail: impl Into<String>) -> Outcome {
    Outcome::Skipped {
        detail: detail.into(),
    }
}

fn failed_attempt(attempt: u32, at: DateTime<Utc>, status: Status, error: &str) -> Attempt {
    Attempt {
        attempt,
        at,
        status,
        provider_id: None,
        error: Some(error.to_string()),
    }
}
