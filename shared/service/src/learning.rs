//! Decide, learn, decide again: the loop the webhook and the decision preview share.
//!
//! The policy decides with what the caller knows ([`History`]) and says which facts its
//! decisions rest on ([`policy::Precondition`]: not on the do-not-call list, not yet
//! sent, nothing pending, not yet suppressed). A [`Learner`] checks those facts against
//! the store — the webhook by writing the decisions in one conditional transaction
//! (`webhook`), the preview by reading ([`Reading`]) — learns what contradicts them,
//! and the call is decided again, a few rounds at most.

use chrono::{DateTime, Utc};
use policy::{
    AccountId, CallCompleted, Decisions, FollowUp, History, Precondition, RecipientFacts, Settings,
    Status, Touch,
};

use crate::Engine;
use crate::error::ServiceError;
use crate::records::Versioned;
use crate::repository::Repository;

/// How many times a call is decided before the learner gives up on learning.
pub(crate) const MAX_ROUNDS: usize = 5;

/// What checking one round of decisions came to.
pub(crate) enum Round<T> {
    /// They stand: this is the answer.
    Done(T),
    /// Facts they did not know were learned: decide again.
    Learned,
}

/// Checks decisions against what the store knows and learns what contradicts them.
pub(crate) trait Learner {
    type Answer;

    /// What is known so far; the next round is decided with it.
    fn history(&self) -> &History;

    /// Checks one round's decisions; learns into the history what they did not know.
    async fn check(&mut self, decisions: Decisions) -> Result<Round<Self::Answer>, ServiceError>;

    /// The answer when every round learned something: `last` is decided with all of it.
    fn out_of_rounds(&mut self, last: Decisions) -> Result<Self::Answer, ServiceError>;
}

/// Decides the call, lets the learner check and learn, and decides again until the
/// decisions stand or [`MAX_ROUNDS`] rounds have passed.
pub(crate) async fn decide_and_learn<L: Learner>(
    learner: &mut L,
    settings: &Settings,
    event: &CallCompleted,
    now: DateTime<Utc>,
) -> Result<L::Answer, ServiceError> {
    for _ in 0..MAX_ROUNDS {
        let decisions = policy::decide(settings, event, learner.history(), now);
        if let Round::Done(answer) = learner.check(decisions).await? {
            return Ok(answer);
        }
    }
    let last = policy::decide(settings, event, learner.history(), now);
    learner.out_of_rounds(last)
}

/// What earlier calls reported about the call's contact and the campaign's recent calls
/// and texts to them, with the versions read (both change only through versioned
/// writes): the webhook and the preview show the same zone and legal holds.
pub(crate) async fn recipient(
    repo: &Repository,
    account: &AccountId,
    event: &CallCompleted,
) -> Result<(Versioned<RecipientFacts>, Versioned<Vec<Touch>>), ServiceError> {
    tokio::try_join!(
        repo.recipient_facts(account, &event.contact.id),
        repo.touches(account, &event.call.campaign_id, &event.contact.id),
    )
}

/// What the holder of a once-per-contact guard says about its kind.
pub(crate) enum GuardHolder {
    /// A `needs_review` SMS: nothing sent yet, and this call may complete it.
    InReview(Box<Versioned<FollowUp>>),
    /// Sent or on its way: the once is spent.
    Spent,
    /// Ended without sending before guards were released (or gone): the guard is
    /// stale, and this call may take it over.
    Stale,
}

impl GuardHolder {
    pub(crate) fn of(holder: Option<Versioned<FollowUp>>) -> Self {
        match holder {
            Some(holder) if holder.value.status == Status::NeedsReview => {
                Self::InReview(Box::new(holder))
            }
            Some(holder) if holder.value.status.holds_guard() => Self::Spent,
            _ => Self::Stale,
        }
    }
}

/// The preview's learner: reads each fact a round's decisions rest on and changes
/// nothing. Its answer is the last decisions; `history` then holds the follow-ups they
/// are about.
pub(crate) struct Reading<'a> {
    pub(crate) engine: &'a Engine,
    pub(crate) account: &'a AccountId,
    pub(crate) history: History,
}

impl Learner for Reading<'_> {
    type Answer = Decisions;

    fn history(&self) -> &History {
        &self.history
    }

    async fn check(&mut self, decisions: Decisions) -> Result<Round<Decisions>, ServiceError> {
        let mut learned = false;
        for precondition in decisions.preconditions() {
            learned |= self.learn(&precondition).await?;
        }
        Ok(if learned {
            Round::Learned
        } else {
            Round::Done(decisions)
        })
    }

    fn out_of_rounds(&mut self, last: Decisions) -> Result<Decisions, ServiceError> {
        Ok(last)
    }
}

impl Reading<'_> {
    /// Reads whether `precondition` holds; learns and returns true when it does not.
    async fn learn(&mut self, precondition: &Precondition) -> Result<bool, ServiceError> {
        let (repo, account) = (&self.engine.repo, self.account);
        let history = &mut self.history;
        Ok(match precondition {
            Precondition::NotOnDnc(destination) => {
                let on = repo.is_on_dnc(account, destination).await?;
                if on {
                    history.learn_dnc(destination.clone());
                }
                on
            }
            Precondition::NotYetSent { .. } => {
                let Some(key) = precondition.guard_key() else {
                    return Ok(false);
                };
                let Some(id) = repo.guard_holder(account, &key).await? else {
                    return Ok(false);
                };
                match GuardHolder::of(repo.followup(account, &id).await?) {
                    GuardHolder::InReview(holder) => {
                        history.learn_awaiting_review(holder.value);
                        true
                    }
                    GuardHolder::Spent => {
                        history.learn_already_sent(key);
                        true
                    }
                    // Left by a follow-up that was not sent: the webhook takes it over.
                    GuardHolder::Stale => false,
                }
            }
            Precondition::NotYetSuppressed(key) => match repo.suppression(account, key).await? {
                Some(id) => {
                    history.learn_suppressed(key.clone(), id);
                    true
                }
                None => false,
            },
            Precondition::NoPending { .. } => {
                let Some(slot) = precondition.pending_key() else {
                    return Ok(false);
                };
                let Some(id) = repo.pending_holder(account, &slot).await? else {
                    return Ok(false);
                };
                match repo.followup(account, &id).await? {
                    Some(pending) if !history.pending.contains_key(&slot) => {
                        history.learn_pending(pending.value);
                        true
                    }
                    _ => false,
                }
            }
        })
    }
}
