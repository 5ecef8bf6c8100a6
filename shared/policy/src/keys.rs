//! The keys a follow-up is guarded, held pending and suppressed under, once per
//! (campaign, contact, kind or channel).

use serde::{Deserialize, Serialize};

use crate::ids::{CampaignId, ContactId};
use crate::vocabulary::{Channel, GuardKind, Reason};

/// The once-per-(campaign, contact, kind) guard of SMS and emails.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct GuardKey {
    pub campaign_id: CampaignId,
    pub contact_id: ContactId,
    pub kind: GuardKind,
}

/// The one-pending-follow-up-per-(campaign, contact, channel) slot of calls and WhatsApp.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct PendingKey {
    pub campaign_id: CampaignId,
    pub contact_id: ContactId,
    pub channel: Channel,
}

/// A suppression is stored once per (campaign, contact, channel, reason): a call that
/// decides the same suppression again (every completion of a follow-up call re-decides
/// SMS and emails) adds nothing to the contact's follow-ups.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct SuppressionKey {
    pub campaign_id: CampaignId,
    pub contact_id: ContactId,
    pub channel: Channel,
    pub reason: Reason,
}
