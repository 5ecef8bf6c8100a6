//! What operators do through the API: configure accounts, agents and campaigns, keep
//! the do-not-call list and the webhook secrets, look at follow-ups, cancel them, send
//! a `needs_review` SMS by hand, and preview what a call would get. Every input is
//! parsed by the policy's types first; an invalid one stores nothing.

use policy::lifecycle::Event;
use policy::render::{MessagesPreview, PreviewRequest};
use policy::{
    AccountId, AccountSettings, AgentId, AgentSettings, CampaignId, CampaignSettings, Channel,
    ContactId, Decision, Destination, FollowUp, FollowUpId, History, PhoneNumber, Settings, Status,
    ValidationErrors, WebhookEvent,
};
use serde_json::{Value, json};
use store::StoreError;

use crate::answer::{CallAnswer, DecidedFollowUp};
use crate::error::ServiceError;
use crate::learning::{self, Reading};
use crate::records::{self, Versioned};
use crate::repository::{DncEntry, Listing, StoredSecret};
use crate::signature::WebhookSecret;
use crate::{Engine, new_followup_id};

/// Largest page a list returns.
pub const MAX_PAGE: u32 = 100;
/// Default page size.
pub const DEFAULT_PAGE: u32 = 25;
/// How long rotated-out secrets keep verifying unless the request says otherwise.
pub const DEFAULT_SECRET_OVERLAP_SECONDS: i64 = 24 * 3600;
/// At most this many active secrets per account.
pub const MAX_ACTIVE_SECRETS: usize = 5;

/// The page size asked for, bounded.
pub fn page_size(limit: Option<u32>) -> u32 {
    limit.unwrap_or(DEFAULT_PAGE).clamp(1, MAX_PAGE)
}

/// An agent's or a campaign's settings in a list.
#[derive(Debug, serde::Serialize)]
pub struct SettingsOf<T> {
    pub id: String,
    pub settings: T,
}

impl<T> SettingsOf<T> {
    fn listing(page: Listing<(String, T)>) -> Listing<Self> {
        Listing {
            items: page
                .items
                .into_iter()
                .map(|(id, settings)| Self { id, settings })
                .collect(),
            next_cursor: page.next_cursor,
        }
    }
}

/// A newly created secret: the only time its text is shown.
#[derive(Debug, serde::Serialize)]
pub struct CreatedSecret {
    pub id: String,
    pub secret: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

impl Engine {
    // ---- settings ----

    /// The account's settings; defaults (version 0) until it saves some.
    pub async fn account_settings(
        &self,
        account: &AccountId,
    ) -> Result<Versioned<AccountSettings>, ServiceError> {
        Ok(self
            .repo
            .account_settings(account)
            .await?
            .unwrap_or(Versioned {
                value: AccountSettings::default(),
                version: 0,
            }))
    }

    pub async fn put_account_settings(
        &self,
        account: &AccountId,
        body: &Value,
        if_match: Option<u64>,
    ) -> Result<Versioned<AccountSettings>, ServiceError> {
        let settings = AccountSettings::from_json(body)?;
        // Version 0 is the unsaved defaults: `If-Match` on them means "not saved yet".
        let version = self
            .repo
            .put_account_settings(account, &settings, if_match)
            .await?;
        let rules = &settings.calling_rules;
        if !rules.disabled.is_empty() {
            // Turning a legal rule off is a compliance decision: it is kept in the log.
            tracing::warn!(
                account = %account,
                version,
                disabled = %policy::legal::rule_list(&rules.disabled),
                "calling rules turned off by the account's settings"
            );
        }
        Ok(Versioned {
            value: settings,
            version,
        })
    }

    pub async fn agent_settings(
        &self,
        account: &AccountId,
        agent: &AgentId,
    ) -> Result<Versioned<AgentSettings>, ServiceError> {
        self.repo
            .agent_settings(account, agent)
            .await?
            .ok_or(ServiceError::NotFound("agent follow-up settings"))
    }

    pub async fn put_agent_settings(
        &self,
        account: &AccountId,
        agent: &AgentId,
        settings: AgentSettings,
        if_match: Option<u64>,
    ) -> Result<Versioned<AgentSettings>, ServiceError> {
        let version = self
            .repo
            .put_record(records::agent_key(account, agent), &settings, if_match)
            .await?;
        Ok(Versioned {
            value: settings,
            version,
        })
    }

    pub async fn delete_agent_settings(
        &self,
        account: &AccountId,
        agent: &AgentId,
        if_match: Option<u64>,
    ) -> Result<(), ServiceError> {
        self.repo
            .delete_record(records::agent_key(account, agent), if_match)
            .await
    }

    pub async fn campaign_settings(
        &self,
        account: &AccountId,
        campaign: &CampaignId,
    ) -> Result<Versioned<CampaignSettings>, ServiceError> {
        self.repo
            .campaign_settings(account, campaign)
            .await?
            .ok_or(ServiceError::NotFound("campaign follow-up settings"))
    }

    pub async fn put_campaign_settings(
        &self,
        account: &AccountId,
        campaign: &CampaignId,
        settings: CampaignSettings,
        if_match: Option<u64>,
    ) -> Result<Versioned<CampaignSettings>, ServiceError> {
        self.check_email_senders(account, &settings).await?;
        let version = self
            .repo
            .put_record(
                records::campaign_key(account, campaign),
                &settings,
                if_match,
            )
            .await?;
        Ok(Versioned {
            value: settings,
            version,
        })
    }

    pub async fn delete_campaign_settings(
        &self,
        account: &AccountId,
        campaign: &CampaignId,
        if_match: Option<u64>,
    ) -> Result<(), ServiceError> {
        self.repo
            .delete_record(records::campaign_key(account, campaign), if_match)
            .await
    }

    /// The campaign's SMS, email and missed-call email rendered for a sample contact by
    /// the policy's renderers, with the settings in the request (unsaved) or else the
    /// saved ones, and the account defaults. Changes nothing.
    pub async fn preview_messages(
        &self,
        account: &AccountId,
        campaign: &CampaignId,
        request: PreviewRequest,
    ) -> Result<MessagesPreview, ServiceError> {
        let campaign_settings = match request.settings {
            Some(settings) => settings,
            None => self.campaign_settings(account, campaign).await?.value,
        };
        let account_settings = self.account_settings(account).await?.value;
        let mut settings = Settings::new(account.clone(), account_settings);
        if let Some(agent) = &campaign_settings.agent_id {
            settings.agent = self
                .repo
                .agent_settings(account, agent)
                .await?
                .map(|v| v.value);
        }
        settings.campaign = Some(campaign_settings);
        Ok(policy::render::preview_messages(
            &settings,
            campaign,
            &request.sample,
            self.clock.now(),
        ))
    }

    /// The agents that have follow-up settings, by id.
    pub async fn agents(
        &self,
        account: &AccountId,
        cursor: Option<String>,
        limit: Option<u32>,
    ) -> Result<Listing<SettingsOf<AgentSettings>>, ServiceError> {
        let page = self
            .repo
            .settings_page(account, records::AGENT_PREFIX, cursor, page_size(limit))
            .await?;
        Ok(SettingsOf::listing(page))
    }

    /// The campaigns that have follow-up settings, by id.
    pub async fn campaigns(
        &self,
        account: &AccountId,
        cursor: Option<String>,
        limit: Option<u32>,
    ) -> Result<Listing<SettingsOf<CampaignSettings>>, ServiceError> {
        let page = self
            .repo
            .settings_page(account, records::CAMPAIGN_PREFIX, cursor, page_size(limit))
            .await?;
        Ok(SettingsOf::listing(page))
    }

    // ---- webhook secrets ----

    /// Creates a signing secret. The others keep verifying for `overlap_seconds`
    /// (a day by default) so the voice platform can switch without losing deliveries.
    pub async fn create_webhook_secret(
        &self,
        account: &AccountId,
        overlap_seconds: Option<i64>,
    ) -> Result<CreatedSecret, ServiceError> {
        let overlap = overlap_seconds.unwrap_or(DEFAULT_SECRET_OVERLAP_SECONDS);
        if !(0..=30 * 24 * 3600).contains(&overlap) {
            return Err(ValidationErrors::single(
                "previous_secrets_expire_in_seconds",
                "must be between 0 and 2592000 (30 days)",
            )
            .into());
        }
        let now = self.clock.now();
        let active = self.repo.webhook_secrets(account, true).await?;
        let still_active = active
            .iter()
            .filter(|s| s.expires_at.is_none_or(|t| t > now.timestamp()))
            .count();
        if still_active >= MAX_ACTIVE_SECRETS && overlap > 0 {
            return Err(ServiceError::Conflict(format!(
                "an account has at most {MAX_ACTIVE_SECRETS} active secrets; delete one or rotate with previous_secrets_expire_in_seconds = 0"
            )));
        }
        let (_, text) =
            WebhookSecret::generate().map_err(|e| ServiceError::Internal(e.to_string()))?;
        let id = format!("ws_{}", uuid::Uuid::now_v7().simple());
        let stored = StoredSecret {
            id: id.clone(),
            secret: text.clone(),
            created_at: now,
            expires_at: None,
        };
        self.repo
            .add_webhook_secret(account, &stored, now.timestamp() + overlap)
            .await?;
        Ok(CreatedSecret {
            id,
            secret: text,
            created_at: now,
        })
    }

    /// The account's secrets without their values.
    pub async fn webhook_secrets(&self, account: &AccountId) -> Result<Value, ServiceError> {
        let now = self.clock.now().timestamp();
        let secrets = self.repo.webhook_secrets(account, true).await?;
        Ok(json!({
            "items": secrets
                .iter()
                .filter(|s| s.expires_at.is_none_or(|t| t > now))
                .map(|s| json!({ "id": s.id, "created_at": s.created_at, "expires_at": s.expires_at
                    .and_then(|t| chrono::DateTime::from_timestamp(t, 0)) }))
                .collect::<Vec<_>>()
        }))
    }

    pub async fn delete_webhook_secret(
        &self,
        account: &AccountId,
        id: &str,
    ) -> Result<(), ServiceError> {
        if id.is_empty()
            || id.len() > 64
            || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            return Err(ServiceError::NotFound("webhook secret"));
        }
        self.repo.delete_webhook_secret(account, id).await
    }

    // ---- do-not-call ----

    pub async fn dnc_list(
        &self,
        account: &AccountId,
        cursor: Option<String>,
        limit: Option<u32>,
    ) -> Result<Listing<DncEntry>, ServiceError> {
        self.repo.dnc_page(account, cursor, page_size(limit)).await
    }

    pub async fn add_dnc(
        &self,
        account: &AccountId,
        value: &Destination,
    ) -> Result<DncEntry, ServiceError> {
        let entry = DncEntry {
            value: value.clone(),
            added_at: self.clock.now(),
            source: policy::DncSource::Operator,
        };
        self.repo.add_dnc(account, &entry).await
    }

    pub async fn remove_dnc(
        &self,
        account: &AccountId,
        value: &Destination,
    ) -> Result<(), ServiceError> {
        self.repo.remove_dnc(account, value).await
    }

    // ---- follow-ups ----

    pub async fn campaign_followups(
        &self,
        account: &AccountId,
        campaign: &CampaignId,
        status: Option<Status>,
        channel: Option<Channel>,
        cursor: Option<String>,
        limit: Option<u32>,
    ) -> Result<Listing<FollowUp>, ServiceError> {
        self.repo
            .campaign_followups(
                account,
                campaign,
                |f| status.is_none_or(|s| f.status == s) && channel.is_none_or(|c| f.channel == c),
                cursor,
                page_size(limit),
            )
            .await
    }

    pub async fn contact_followups(
        &self,
        account: &AccountId,
        contact: &ContactId,
        cursor: Option<String>,
        limit: Option<u32>,
    ) -> Result<Listing<FollowUp>, ServiceError> {
        self.repo
            .contact_followups(account, contact, cursor, page_size(limit))
            .await
    }

    pub async fn followup(
        &self,
        account: &AccountId,
        id: &FollowUpId,
    ) -> Result<Versioned<FollowUp>, ServiceError> {
        self.repo
            .followup(account, id)
            .await?
            .ok_or(ServiceError::NotFound("follow-up"))
    }

    /// Cancels a follow-up that has not gone out yet; its schedule is removed by the
    /// dispatcher when it sees the change.
    pub async fn cancel_followup(
        &self,
        account: &AccountId,
        id: &FollowUpId,
    ) -> Result<FollowUp, ServiceError> {
        let stored = self.followup(account, id).await?;
        let cancelled = policy::lifecycle::apply(&stored.value, Event::Cancel, self.clock.now())
            .map_err(|_| {
                ServiceError::Conflict(format!(
                    "the follow-up is {}; only a scheduled or needs_review follow-up can be cancelled",
                    stored.value.status
                ))
            })?;
        self.save_operator_change(&stored, &cancelled).await?;
        Ok(cancelled)
    }

    /// Sends a `needs_review` SMS to the number the operator confirmed. Consent was
    /// heard on the call (a `needs_review` SMS exists only then); the number must not
    /// be on the do-not-call list. It becomes `scheduled`, due now, and leaves through
    /// the normal executor path, once: a second request finds it no longer in review.
    pub async fn send_reviewed(
        &self,
        account: &AccountId,
        id: &FollowUpId,
        phone: PhoneNumber,
    ) -> Result<FollowUp, ServiceError> {
        let stored = self.followup(account, id).await?;
        if self
            .repo
            .is_on_dnc(account, &Destination::Phone(phone.clone()))
            .await?
        {
            return Err(ServiceError::Conflict(format!(
                "{phone} is on the do-not-call list"
            )));
        }
        // The review is a step of the policy's state machine (`policy::lifecycle`).
        let mut reviewed = stored.value.clone();
        reviewed
            .review(phone, self.clock.now())
            .map_err(|e| ServiceError::Conflict(e.to_string()))?;
        self.save_operator_change(&stored, &reviewed).await?;
        Ok(reviewed)
    }

    async fn save_operator_change(
        &self,
        old: &Versioned<FollowUp>,
        new: &FollowUp,
    ) -> Result<(), ServiceError> {
        match self.repo.save_followup(old, new).await {
            Ok(_) => Ok(()),
            Err(StoreError::ConditionFailed { .. }) => Err(ServiceError::Conflict(
                "the follow-up changed meanwhile (it may be sending); reload it".into(),
            )),
            Err(e) => Err(e.into()),
        }
    }

    /// What a `call.completed` body would get, with the reasons, changing nothing: the
    /// webhook's own answer ([`CallAnswer`]) without the ids of follow-ups it would
    /// create. Facts the webhook would learn from its transaction (do-not-call entries,
    /// follow-ups already sent or in review, pending follow-ups, suppressions already
    /// stored) are read here instead, so the preview matches what the webhook then does.
    pub async fn preview(
        &self,
        account: &AccountId,
        body: &[u8],
    ) -> Result<CallAnswer, ServiceError> {
        let event = match policy::parse_event(body)? {
            WebhookEvent::CallCompleted(event) => event,
            WebhookEvent::Ignored { event_type } => {
                return Ok(CallAnswer::ignored(None, event_type));
            }
        };
        self.preview_event(account, &event).await
    }

    /// What a parsed call would get, changing nothing.
    pub async fn preview_event(
        &self,
        account: &AccountId,
        event: &policy::CallCompleted,
    ) -> Result<CallAnswer, ServiceError> {
        let now = self.clock.now();
        let settings = self
            .repo
            .settings_for_call(account, &event.call.agent_id, &event.call.campaign_id)
            .await?;
        let mut history = History::default();
        if let Some(id) = event.followup_id() {
            history.original_followup = self.repo.followup(account, id).await?.map(|v| v.value);
        }
        let (facts, touches) = learning::recipient(&self.repo, account, event).await?;
        history.recipient = facts.value;
        history.touches = touches.value;
        let mut reading = Reading {
            engine: self,
            account,
            history,
        };
        let decisions = learning::decide_and_learn(&mut reading, &settings, event, now).await?;
        let history = reading.history;
        let mut followups = Vec::new();
        for decision in decisions.iter() {
            followups.push(match decision {
                Decision::Create(new) => {
                    let f = new.clone().into_followup(new_followup_id(), now);
                    DecidedFollowUp::new(decision, &f, None)
                }
                Decision::Noted {
                    channel,
                    recorded_as,
                    trace,
                } => DecidedFollowUp::noted(*channel, recorded_as, trace),
                other => {
                    let Some((id, f)) = other
                        .followup_id()
                        .and_then(|id| Some((id, history.followup(id)?)))
                    else {
                        continue;
                    };
                    let f = crate::step(f, Event::Decided(Box::new(other.clone())), now)?;
                    DecidedFollowUp::new(other, &f, Some(id.clone()))
                }
            });
        }
        Ok(CallAnswer {
            webhook_id: None,
            call_id: Some(event.call.id.clone()),
            ignored: None,
            followups,
        })
    }
}
