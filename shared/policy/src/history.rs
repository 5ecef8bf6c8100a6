//! What the caller knows about the past, and what it must check when writing.
//!
//! The webhook's budget is one DynamoDB transaction, so the caller does not read before
//! deciding: it decides with an empty [`History`], writes the decisions with the
//! [`Precondition`]s as condition checks, and only when one fails learns the facts, fills
//! the history and decides again. Decisions made with a history never carry a
//! precondition that history contradicts (see [`Precondition::holds`]).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::followup::FollowUp;
use crate::ids::{CampaignId, ContactId, FollowUpId};
pub use crate::keys::{GuardKey, PendingKey, SuppressionKey};
use crate::recipient::{RecipientFacts, Touch};
use crate::values::Destination;
use crate::vocabulary::{Channel, GuardKind};

/// A fact the write of the decisions must check atomically.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "type", content = "value", rename_all = "snake_case")]
pub enum Precondition {
    /// The destination is not on the account's do-not-call list.
    NotOnDnc(Destination),
    /// The guard does not exist yet; the write creates it.
    NotYetSent {
        campaign_id: CampaignId,
        contact_id: ContactId,
        kind: GuardKind,
    },
    /// No follow-up is pending in that slot; the write points the slot at the new one.
    NoPending {
        campaign_id: CampaignId,
        contact_id: ContactId,
        channel: Channel,
    },
    /// This suppression is not stored yet; the write records it.
    NotYetSuppressed(SuppressionKey),
}

impl Precondition {
    /// The once-per-contact guard a `NotYetSent` is about.
    pub fn guard_key(&self) -> Option<GuardKey> {
        match self {
            Self::NotYetSent {
                campaign_id,
                contact_id,
                kind,
            } => Some(GuardKey {
                campaign_id: campaign_id.clone(),
                contact_id: contact_id.clone(),
                kind: *kind,
            }),
            _ => None,
        }
    }

    /// The pending slot a `NoPending` is about.
    pub fn pending_key(&self) -> Option<PendingKey> {
        match self {
            Self::NoPending {
                campaign_id,
                contact_id,
                channel,
            } => Some(PendingKey {
                campaign_id: campaign_id.clone(),
                contact_id: contact_id.clone(),
                channel: *channel,
            }),
            _ => None,
        }
    }

    /// Whether the precondition holds given what `history` knows.
    pub fn holds(&self, history: &History) -> bool {
        match self {
            Self::NotOnDnc(destination) => !history.dnc.contains(destination),
            Self::NotYetSent { .. } => self.guard_key().is_none_or(|key| {
                !history.already_sent.contains(&key) && !history.awaiting_review.contains_key(&key)
            }),
            Self::NoPending { .. } => self
                .pending_key()
                .is_none_or(|slot| !history.pending.contains_key(&slot)),
            Self::NotYetSuppressed(key) => !history.suppressed.contains_key(key),
        }
    }
}

/// What the caller learned about the contact from a failed write (or a prior read).
/// `History::default()` knows nothing, which is how the first decision is made.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct History {
    /// Destinations found on the do-not-call list.
    pub dnc: BTreeSet<Destination>,
    /// Guards held by a follow-up that was sent or is on its way (see
    /// [`crate::Status::holds_guard`]).
    pub already_sent: BTreeSet<GuardKey>,
    /// Guards held by a `needs_review` SMS: sent nothing yet, and a later call's
    /// confirmed number completes it.
    pub awaiting_review: BTreeMap<GuardKey, FollowUp>,
    /// Suppressions already stored, with the follow-up that records each.
    pub suppressed: BTreeMap<SuppressionKey, FollowUpId>,
    /// The follow-up pending in each slot (status `scheduled`).
    pub pending: BTreeMap<PendingKey, FollowUp>,
    /// For a call that was itself a follow-up call (`call.followup_id`): that follow-up.
    pub original_followup: Option<FollowUp>,
    /// What earlier calls reported about the contact (latest zone and state), read
    /// before deciding: a retry or a request uses the newest zone known.
    pub recipient: RecipientFacts,
    /// The calls and texts already made to the contact in this campaign (frequency caps).
    pub touches: Vec<Touch>,
}

impl History {
    /// A follow-up this history holds (the original call, a pending one, one in review).
    pub fn followup(&self, id: &FollowUpId) -> Option<&FollowUp> {
        self.original_followup
            .iter()
            .chain(self.pending.values())
            .chain(self.awaiting_review.values())
            .find(|f| &f.id == id)
    }

    /// Records everything a failed precondition says, for the next `decide`.
    pub fn learn_dnc(&mut self, destination: Destination) {
        self.dnc.insert(destination);
    }

    pub fn learn_already_sent(&mut self, key: GuardKey) {
        self.already_sent.insert(key);
    }

    /// The guard is held by `followup`, a `needs_review` follow-up.
    pub fn learn_awaiting_review(&mut self, followup: FollowUp) {
        if let Some(key) = followup.kind_guard() {
            self.awaiting_review.insert(key, followup);
        }
    }

    pub fn learn_suppressed(&mut self, key: SuppressionKey, recorded_as: FollowUpId) {
        self.suppressed.insert(key, recorded_as);
    }

    /// `followup` is the one pending in its slot (a call or WhatsApp follow-up).
    pub fn learn_pending(&mut self, followup: FollowUp) {
        if let Some(key) = followup.pending_key() {
            self.pending.insert(key, followup);
        }
    }
}
