//! A finished call in, follow-ups stored: verify the signature, parse, decide, and
//! write everything the decision implies in ONE transaction — the delivery record
//! (idempotency), the follow-ups (suppressions included, with their reasons), the
//! once-per-contact guards, the pending slots, and do-not-call checks.
//!
//! Nothing is read before deciding except cached settings: the policy decides with an
//! empty history and the transaction checks its preconditions. When one fails, the
//! failure says which fact was wrong; the facts are learned and the call decided again
//! (a few rounds at most: the loop it shares with the preview, [`crate::learning`]). A redelivery (same `webhook-id`) fails on its delivery record
//! and gets the first answer back, changing nothing.

use chrono::{DateTime, Utc};
use policy::lifecycle::Event;
use policy::{
    AccountId, CallCompleted, Decision, Decisions, Destination, FollowUp, FollowUpId, GuardKey,
    History, PendingKey, Precondition, Status, SuppressionKey, WebhookEvent,
};
use serde_json::Value;
use store::{Cond, StoreError, Write};

use crate::answer::{CallAnswer, DecidedFollowUp};
use crate::error::ServiceError;
use crate::learning::{self, GuardHolder, Learner, Round};
use crate::records::{self, Expect, Versioned};
use crate::repository::Repository;
use crate::signature::{self, SignedHeaders, WebhookSecret};
use crate::{Engine, new_followup_id};

/// What a write in the transaction stands for, to learn from its failure.
#[derive(Debug, Clone)]
enum Meaning {
    Delivery,
    NewFollowUp,
    Guard(GuardKey),
    Suppression(SuppressionKey),
    Pending(PendingKey),
    Existing(FollowUpId),
    /// The recipient's facts or touches changed under us: read them again.
    Recipient,
    /// An open-follow-up lookup: unconditional, it never fails.
    Lookup,
}

/// What each of a follow-up's writes stands for: the follow-up itself first, then its
/// pending slot and lookups.
fn meanings_of(writes: &[Write], followup: &FollowUp, first: Meaning) -> Vec<Meaning> {
    let mut meanings = vec![first];
    for write in writes.iter().skip(1) {
        meanings.push(match followup.pending_key() {
            Some(slot) if records::is_pending_write(write, followup) => Meaning::Pending(slot),
            _ => Meaning::Lookup,
        });
    }
    meanings
}

/// Why a delivery was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// Signature, timestamp or secret problems: 401. (An unknown account looks the same,
    /// so nobody can probe which accounts exist.)
    #[error(transparent)]
    Signature(#[from] signature::SignatureError),
    #[error(transparent)]
    Service(#[from] ServiceError),
}

impl Engine {
    /// Handles one `POST /v1/webhooks/{account_id}/call-completed` delivery and returns
    /// the answer (the same answer for every redelivery).
    pub async fn accept_call_completed(
        &self,
        account_raw: &str,
        headers: SignedHeaders<'_>,
        body: &[u8],
    ) -> Result<Value, WebhookError> {
        let now = self.clock.now();
        // An invalid account id cannot have secrets: same answer as a bad signature.
        let account = AccountId::parse("account_id", account_raw)
            .map_err(|_| signature::SignatureError::NoMatch)?;
        let webhook_id = self.verify(&account, headers, body, now).await?;
        let event = match policy::parse_event(body).map_err(ServiceError::from)? {
            WebhookEvent::CallCompleted(event) => event,
            WebhookEvent::Ignored { event_type } => {
                return Ok(to_json(&CallAnswer::ignored(Some(webhook_id), event_type))?);
            }
        };
        Ok(self.record_call(&account, &webhook_id, &event, now).await?)
    }

    async fn verify(
        &self,
        account: &AccountId,
        headers: SignedHeaders<'_>,
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Result<String, WebhookError> {
        let secrets = |stored: Vec<crate::StoredSecret>| -> Vec<WebhookSecret> {
            stored
                .iter()
                .filter(|s| s.expires_at.is_none_or(|t| t > now.timestamp()))
                .filter_map(|s| WebhookSecret::parse(&s.secret).ok())
                .collect()
        };
        // The headers are read once, and each secret hashes the body at most once.
        let delivery = signature::Delivery::parse(headers, now.timestamp())?;
        let cached = secrets(self.repo.webhook_secrets(account, false).await?);
        if delivery.signed_by_any(&cached, body) {
            return Ok(delivery.id().to_string());
        }
        // The cache may predate a secret created a moment ago: look once more, at the
        // secrets not tried yet.
        let fresh = secrets(self.repo.webhook_secrets(account, true).await?);
        let untried = fresh.iter().filter(|s| !cached.contains(s));
        if delivery.signed_by_any(untried, body) {
            Ok(delivery.id().to_string())
        } else {
            Err(signature::SignatureError::NoMatch.into())
        }
    }

    /// Decides and stores one call's follow-ups; idempotent on `webhook_id`.
    pub async fn record_call(
        &self,
        account: &AccountId,
        webhook_id: &str,
        event: &CallCompleted,
        now: DateTime<Utc>,
    ) -> Result<Value, ServiceError> {
        let mut known = Known::default();
        // The contact's latest zone and recent touches are read alongside the settings.
        let (settings, ()) = tokio::try_join!(
            self.repo
                .settings_for_call(account, &event.call.agent_id, &event.call.campaign_id),
            self.learn_recipient(account, event, &mut known),
        )?;
        if let Some(id) = event.followup_id() {
            // Retries need the follow-up call this call was made for. A stale or
            // foreign id is simply unknown: the call is then handled as a plain call.
            if let Some(original) = self.repo.followup(account, id).await? {
                known.remember(original.clone());
                known.history.original_followup = Some(original.value);
            }
        }
        let mut recording = Recording {
            engine: self,
            account,
            webhook_id,
            event,
            now,
            zone_before: known.history.recipient.zone,
            known,
        };
        learning::decide_and_learn(&mut recording, &settings, event, now).await
    }

    /// Reads what earlier calls reported about the contact and the campaign's recent
    /// calls and texts to them, with their versions.
    async fn learn_recipient(
        &self,
        account: &AccountId,
        event: &CallCompleted,
        known: &mut Known,
    ) -> Result<(), ServiceError> {
        let (facts, touches) = learning::recipient(&self.repo, account, event).await?;
        known.history.recipient = facts.value;
        known.facts_version = facts.version;
        known.history.touches = touches.value;
        known.touches_version = touches.version;
        Ok(())
    }

    /// A call reported a new zone for the contact: every pending follow-up of theirs
    /// moves into its window there. Best effort: a follow-up that changed meanwhile is
    /// left to the send-time check, which reads the same zone.
    async fn rezone_pending(
        &self,
        account: &AccountId,
        event: &CallCompleted,
        facts: &policy::RecipientFacts,
        now: DateTime<Utc>,
    ) {
        let result: Result<usize, ServiceError> = async {
            let mut moved = 0;
            // This call's own follow-ups were decided in the new zone already.
            let earlier = |f: &FollowUp| f.call_id != event.call.id;
            let pending = self
                .repo
                .pending_followups_of(account, &event.contact.id, earlier)
                .await?;
            for pending in pending {
                let f = &pending.value;
                let settings = self
                    .repo
                    .settings_for_call(account, &f.agent_id, &f.campaign_id)
                    .await?;
                let touches = self
                    .repo
                    .touches(account, &f.campaign_id, &f.contact_id)
                    .await?;
                let at_send = policy::AtSend {
                    on_dnc: false,
                    undeliverable: false,
                    facts,
                    touches: &touches.value,
                };
                if let Some(new) = policy::rezone(f, &settings, &at_send, now)
                    && self.repo.save_followup(&pending, &new).await.is_ok()
                {
                    moved += 1;
                }
            }
            Ok(moved)
        }
        .await;
        match result {
            Ok(moved) => tracing::info!(contact = %event.contact.id, moved, "contact zone updated"),
            Err(e) => {
                tracing::warn!(contact = %event.contact.id, error = %e, "moving pending follow-ups to the new zone failed; the send-time check will")
            }
        }
    }

    /// A stored follow-up changed under us (sent, cancelled, rescheduled): reload it.
    async fn reload(
        &self,
        account: &AccountId,
        id: &FollowUpId,
        known: &mut Known,
    ) -> Result<(), ServiceError> {
        known.forget(id);
        let Some(fresh) = self.repo.followup(account, id).await? else {
            return Ok(());
        };
        let history = &mut known.history;
        if history
            .original_followup
            .as_ref()
            .is_some_and(|o| &o.id == id)
        {
            history.original_followup = Some(fresh.value.clone());
        }
        known.remember(fresh.clone());
        match fresh.value.status {
            Status::Scheduled => known.history.learn_pending(fresh.value),
            Status::NeedsReview => known.history.learn_awaiting_review(fresh.value),
            _ => {}
        }
        Ok(())
    }

    /// A guard exists: its holder was sent or is on its way (the once is spent), waits
    /// for review (this call may complete it), or ended without sending before guards
    /// were released (stale: this call may take the guard over).
    async fn learn_guard(
        &self,
        account: &AccountId,
        key: &GuardKey,
        id: Option<FollowUpId>,
        known: &mut Known,
    ) -> Result<(), ServiceError> {
        let Some(id) = id else {
            return Ok(());
        };
        match GuardHolder::of(self.repo.followup(account, &id).await?) {
            GuardHolder::InReview(holder) => {
                known.remember((*holder).clone());
                known.history.learn_awaiting_review(holder.value);
            }
            GuardHolder::Spent => known.history.learn_already_sent(key.clone()),
            GuardHolder::Stale => {
                known.stale_guards.insert(key.clone(), id);
            }
        }
        Ok(())
    }

    async fn learn_pending(
        &self,
        account: &AccountId,
        slot: &PendingKey,
        id: Option<FollowUpId>,
        known: &mut Known,
    ) -> Result<(), ServiceError> {
        let Some(id) = id else { return Ok(()) };
        match self.repo.followup(account, &id).await? {
            Some(pending) if pending.value.status == policy::Status::Scheduled => {
                known.remember(pending.clone());
                known.history.learn_pending(pending.value);
                Ok(())
            }
            // A slot that points at a follow-up no longer pending is stale; only a bug
            // could leave one, and deciding again would loop on it.
            _ => Err(ServiceError::Internal(format!(
                "pending slot {slot:?} points at {id}, which is not scheduled"
            ))),
        }
    }
}

/// The webhook's learner: a round's decisions are written in one transaction, on
/// condition of the facts they rest on; a failed condition says which fact was wrong,
/// and that fact is read from the store.
struct Recording<'a> {
    engine: &'a Engine,
    account: &'a AccountId,
    webhook_id: &'a str,
    event: &'a CallCompleted,
    now: DateTime<Utc>,
    /// The contact's zone before this call: a new one moves their pending follow-ups.
    zone_before: Option<policy::TimeZone>,
    known: Known,
}

impl Learner for Recording<'_> {
    type Answer = Value;

    fn history(&self) -> &History {
        &self.known.history
    }

    async fn check(&mut self, decisions: Decisions) -> Result<Round<Value>, ServiceError> {
        if self.learn_dnc(&decisions).await? {
            return Ok(Round::Learned);
        }
        let (account, event, now) = (self.account, self.event, self.now);
        let plan = Plan::build(
            account,
            self.webhook_id,
            event,
            &decisions,
            &self.known,
            now,
        )?;
        match self.engine.repo.write_decisions(plan.writes).await {
            Ok(()) => {
                record_metrics(&plan.answer);
                let facts = policy::latest_facts(&self.known.history.recipient, event);
                if facts.zone.is_some() && facts.zone != self.zone_before {
                    self.engine
                        .rezone_pending(account, event, &facts, now)
                        .await;
                }
                Ok(Round::Done(to_json(&plan.answer)?))
            }
            Err(StoreError::ConditionFailed { failed }) => {
                for (index, current) in failed {
                    if let Some(answer) = self.learn(&plan.meanings[index], current).await? {
                        return Ok(Round::Done(answer));
                    }
                }
                Ok(Round::Learned)
            }
            Err(e) => Err(e.into()),
        }
    }

    fn out_of_rounds(&mut self, _last: Decisions) -> Result<Value, ServiceError> {
        Err(ServiceError::Conflict(
            "the contact's follow-ups kept changing while this call was decided; redeliver".into(),
        ))
    }
}

impl Recording<'_> {
    /// Reads the do-not-call entries of the destinations the decisions would contact
    /// (those that differ only in case share one entry) and learns those on the list;
    /// true if any was. Read before the transaction rather than checked inside it: a
    /// read costs a fraction of a condition check there (docs/performance.md, F4). An
    /// entry added after this read still stops the send: the executor reads the same
    /// entry when it sends.
    async fn learn_dnc(&mut self, decisions: &Decisions) -> Result<bool, ServiceError> {
        let mut seen = std::collections::BTreeSet::new();
        let destinations: Vec<Destination> = decisions
            .preconditions()
            .into_iter()
            .filter_map(|precondition| match precondition {
                Precondition::NotOnDnc(destination) if seen.insert(destination.dnc_match_key()) => {
                    Some(destination)
                }
                _ => None,
            })
            .collect();
        let repo = &self.engine.repo;
        let listed = futures_util::future::try_join_all(
            destinations
                .iter()
                .map(|destination| repo.is_on_dnc(self.account, destination)),
        )
        .await?;
        let mut learned = false;
        for (destination, on) in destinations.into_iter().zip(listed) {
            if on {
                self.known.history.learn_dnc(destination);
                learned = true;
            }
        }
        Ok(learned)
    }

    /// Learns what the failed write of `meaning` says (`current`: the item as stored).
    /// `Some`: the delivery was recorded before, and this is its first answer.
    async fn learn(
        &mut self,
        meaning: &Meaning,
        current: Option<store::Item>,
    ) -> Result<Option<Value>, ServiceError> {
        let (engine, account, known) = (self.engine, self.account, &mut self.known);
        let holder = || current.as_ref().and_then(records::pending_followup_id);
        match meaning {
            Meaning::Delivery => return self.earlier_answer(current).await.map(Some),
            Meaning::Guard(key) => engine.learn_guard(account, key, holder(), known).await?,
            Meaning::Suppression(key) => {
                if let Some(id) = holder() {
                    known.history.learn_suppressed(key.clone(), id);
                }
            }
            Meaning::Pending(slot) => engine.learn_pending(account, slot, holder(), known).await?,
            Meaning::Existing(id) => engine.reload(account, id, known).await?,
            Meaning::Recipient => engine.learn_recipient(account, self.event, known).await?,
            Meaning::NewFollowUp | Meaning::Lookup => {}
        }
        Ok(None)
    }

    /// The answer given to the first delivery of this webhook id.
    async fn earlier_answer(&self, current: Option<store::Item>) -> Result<Value, ServiceError> {
        if let Some(answer) = current.and_then(|i| i.attrs.get("response").cloned()) {
            return Ok(answer);
        }
        self.engine
            .repo
            .webhook_response(self.account, self.webhook_id)
            .await?
            .ok_or_else(|| ServiceError::Conflict("delivery in flight".into()))
    }
}

/// What the webhook knows: the policy's history plus the stored versions of the
/// follow-ups in it (updates are conditional on them).
#[derive(Default)]
struct Known {
    history: History,
    versions: std::collections::HashMap<FollowUpId, Versioned<FollowUp>>,
    /// Versions of the recipient's facts and touches records (0: none stored).
    facts_version: u64,
    touches_version: u64,
    /// Guards left by a follow-up that was not sent (stored before cancelling released
    /// them): taken over, on condition they still point there.
    stale_guards: std::collections::HashMap<GuardKey, FollowUpId>,
}

impl Known {
    fn remember(&mut self, followup: Versioned<FollowUp>) {
        self.versions.insert(followup.value.id.clone(), followup);
    }

    fn forget(&mut self, id: &FollowUpId) {
        self.versions.remove(id);
        self.history.pending.retain(|_, f| &f.id != id);
        self.history.awaiting_review.retain(|_, f| &f.id != id);
    }
}

/// The transaction for one round of decisions, and the answer it stands for.
struct Plan {
    writes: Vec<Write>,
    meanings: Vec<Meaning>,
    answer: CallAnswer,
}

impl Plan {
    fn build(
        account: &AccountId,
        webhook_id: &str,
        event: &CallCompleted,
        decisions: &Decisions,
        known: &Known,
        now: DateTime<Utc>,
    ) -> Result<Plan, ServiceError> {
        let mut plan = Plan {
            writes: Vec::new(),
            meanings: Vec::new(),
            answer: CallAnswer {
                webhook_id: Some(webhook_id.to_owned()),
                call_id: Some(event.call.id.clone()),
                ignored: None,
                followups: Vec::new(),
            },
        };
        for decision in decisions.iter() {
            let decided = match decision {
                Decision::Create(new) => plan.create(account, decision, new, known, now)?,
                Decision::Noted {
                    channel,
                    recorded_as,
                    trace,
                } => DecidedFollowUp::noted(*channel, recorded_as, trace),
                Decision::Reschedule { followup_id, .. }
                | Decision::Complete { followup_id, .. }
                | Decision::Retry { followup_id, .. }
                | Decision::Finish { followup_id, .. } => {
                    plan.update(decision, followup_id, known, now)?
                }
            };
            plan.answer.followups.push(decided);
        }
        plan.push_recipient(account, event, known, now)?;
        let response = to_json(&plan.answer)?;
        plan.push(
            Write::Put {
                item: records::webhook_item(account, webhook_id, &response, now),
                cond: Cond::NotExists,
            },
            Meaning::Delivery,
        );
        Ok(plan)
    }

    /// What this call reports about the contact (zone, state) and the call itself as a
    /// touch of the campaign, each over the version read.
    fn push_recipient(
        &mut self,
        account: &AccountId,
        event: &CallCompleted,
        known: &Known,
        now: DateTime<Utc>,
    ) -> Result<(), ServiceError> {
        let contact = &event.contact.id;
        let facts = policy::latest_facts(&known.history.recipient, event);
        if facts != known.history.recipient {
            let write = Repository::recipient_write(account, contact, &facts, known.facts_version)?;
            self.push(write, Meaning::Recipient);
        }
        if let Some(touch) = policy::call_touch(event) {
            let mut touches = known.history.touches.clone();
            policy::remember_touch(&mut touches, touch, now);
            let campaign = &event.call.campaign_id;
            let write = Repository::touches_write(
                account,
                campaign,
                contact,
                &touches,
                known.touches_version,
            )?;
            self.push(write, Meaning::Recipient);
        }
        Ok(())
    }

    /// A new follow-up, with its guard (SMS and emails that may send) or its
    /// suppression record (suppressions).
    fn create(
        &mut self,
        account: &AccountId,
        decision: &Decision,
        new: &policy::NewFollowUp,
        known: &Known,
        now: DateTime<Utc>,
    ) -> Result<DecidedFollowUp, ServiceError> {
        let followup = new.clone().into_followup(new_followup_id(), now);
        let writes = records::followup_writes(None, &followup, 1, Expect::Absent)?;
        let meanings = meanings_of(&writes, &followup, Meaning::NewFollowUp);
        self.push_all(writes, meanings);
        if let Some(key) = new.suppression_key() {
            self.push(
                Write::Put {
                    item: records::suppression_item(account, &key, &followup.id),
                    cond: Cond::NotExists,
                },
                Meaning::Suppression(key),
            );
        } else if let Some(guard) = followup.kind_guard() {
            let cond = match known.stale_guards.get(&guard) {
                Some(stale) => Cond::Equals(vec![("followup_id".into(), stale.as_str().into())]),
                None => Cond::NotExists,
            };
            self.push(
                Write::Put {
                    item: records::guard_item(account, &guard, &followup.id),
                    cond,
                },
                Meaning::Guard(guard),
            );
        }
        Ok(DecidedFollowUp::new(
            decision,
            &followup,
            Some(followup.id.clone()),
        ))
    }

    /// A decision about a follow-up already stored, conditional on its version.
    fn update(
        &mut self,
        decision: &Decision,
        followup_id: &FollowUpId,
        known: &Known,
        now: DateTime<Utc>,
    ) -> Result<DecidedFollowUp, ServiceError> {
        let old = known.versions.get(followup_id).ok_or_else(|| {
            ServiceError::Internal(format!("decision on {followup_id}, which was not loaded"))
        })?;
        let new = crate::step(&old.value, Event::Decided(Box::new(decision.clone())), now)?;
        let writes = records::followup_writes(
            Some(&old.value),
            &new,
            old.version + 1,
            Expect::Version(old.version),
        )?;
        let meanings = meanings_of(&writes, &new, Meaning::Existing(followup_id.clone()));
        self.push_all(writes, meanings);
        Ok(DecidedFollowUp::new(decision, &new, Some(new.id.clone())))
    }

    fn push(&mut self, write: Write, meaning: Meaning) {
        self.writes.push(write);
        self.meanings.push(meaning);
    }

    fn push_all(&mut self, writes: Vec<Write>, meanings: Vec<Meaning>) {
        debug_assert_eq!(writes.len(), meanings.len());
        self.writes.extend(writes);
        self.meanings.extend(meanings);
    }
}

/// `decided` for every follow-up of the answer, plus `suppressed` / `needs_review`.
fn record_metrics(answer: &CallAnswer) {
    for followup in &answer.followups {
        let channel = followup.channel.as_str();
        let reason = followup.reason.as_str();
        crate::metrics::count("decided", channel, reason);
        match followup.status {
            Status::Suppressed => crate::metrics::count("suppressed", channel, reason),
            Status::NeedsReview => crate::metrics::count("needs_review", channel, reason),
            _ => {}
        }
    }
}

pub(crate) fn to_json(answer: &CallAnswer) -> Result<Value, ServiceError> {
    serde_json::to_value(answer)
        .map_err(|e| ServiceError::Internal(format!("cannot serialize an answer: {e}")))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use base64::Engine as _;

    use super::*;
    use crate::Repository;
    use crate::cache::Cache;
    use crate::clock::SystemClock;
    use crate::signature::tests::BODY_HASHES;

    #[tokio::test]
    async fn a_delivery_with_a_thousand_bogus_signatures_hashes_the_body_once_per_secret() {
        let dir = tempfile::tempdir().unwrap();
        let table = store::EmbeddedTable::open(dir.path().join("t.redb")).unwrap();
        let repo = Arc::new(Repository::new(Arc::new(table), Cache::default()));
        let engine = Engine::new(repo, Arc::new(SystemClock));
        let account = AccountId::parse("account_id", "acme").unwrap();
        engine.create_webhook_secret(&account, None).await.unwrap();
        engine.create_webhook_secret(&account, None).await.unwrap();

        let body = vec![b' '; 250 * 1024];
        let bogus = format!(
            "v1,{}",
            base64::engine::general_purpose::STANDARD.encode([7u8; 32])
        );
        let signatures = vec![bogus.as_str(); 1_000].join(" ");
        let timestamp = chrono::Utc::now().timestamp().to_string();
        let headers = SignedHeaders {
            id: Some("msg_hostile"),
            timestamp: Some(&timestamp),
            signature: Some(&signatures),
        };
        // The verification runs on this (current-thread) runtime's thread, so the
        // thread-local count sees every body hash of the request.
        let before = BODY_HASHES.with(std::cell::Cell::get);
        let refused = engine
            .accept_call_completed("acme", headers, &body)
            .await
            .unwrap_err();
        let hashes = BODY_HASHES.with(std::cell::Cell::get) - before;
        assert!(
            matches!(
                refused,
                WebhookError::Signature(signature::SignatureError::NoMatch)
            ),
            "{refused:?}"
        );
        // Two active secrets: two hashes, although the secrets were read twice (cached,
        // then fresh) and the header holds a thousand candidates.
        assert_eq!(hashes, 2);
    }
}
