//! How the engine's records sit in the one table: the key layout (every key starts
//! with the account, so one tenant can never address another's items) and the mapping
//! between domain values and items. Nothing here decides anything.
//!
//! | record | pk | sk | indexes |
//! |---|---|---|---|
//! | account settings | `A#{account}` | `SETTINGS` | |
//! | agent settings | `A#{account}` | `AGENT#{agent}` | |
//! | campaign settings | `A#{account}` | `CAMPAIGN#{campaign}` | |
//! | webhook secret | `A#{account}` | `SECRET#{id}` | |
//! | do-not-call entry | `A#{account}` | `DNC#{phone, or email lower-cased}` | |
//! | data migration done | `A#{account}` | `MIGRATION#{name}` | |
//! | opt-out confirmation sent | `A#{account}#OPTOUT#{phone}` | `CONFIRMED#{opted out at}` | (expires) |
//! | undeliverable address (hard bounce) | `A#{account}` | `UNDELIVERABLE#{email}` | |
//! | Meta webhook credentials | `A#{account}` | `META_WEBHOOK` | |
//! | unsubscribe token key | `A#{account}` | `UNSUBSCRIBE_KEY` | |
//! | origination number's account | `ORIGINATION#{phone}` | `ORIGINATION` | |
//! | open follow-up of a destination | `A#{account}#OPEN#{phone or email}` | `{follow-up id}` | (expires) |
//! | follow-up | `A#{account}#FU#{id}` | `FU` | gsi1: campaign by due time; gsi2: contact by creation |
//! | webhook delivery | `A#{account}#WEBHOOK#{webhook-id}` | `WEBHOOK` | (expires) |
//! | once-per-contact guard | `A#{account}#GUARD#{campaign}#{contact}#{kind}` | `GUARD` | |
//! | suppression stored | `A#{account}#SUPPRESSED#{campaign}#{contact}#{channel}#{reason}` | `SUPPRESSED` | |
//! | pending slot | `A#{account}#PENDING#{campaign}#{contact}#{channel}` | `PENDING` | |
//! | recipient facts (latest zone, state) | `A#{account}#RECIPIENT#{contact}` | `RECIPIENT` | |
//! | touches (calls and texts, last 24 h) | `A#{account}#TOUCHES#{campaign}#{contact}` | `TOUCHES` | (expires) |
//!
//! The origination-number item is the one key that does not start with an account: it
//! says which account an SMS reply sent to that number belongs to (one account per
//! number, enforced when account settings are saved).
//!
//! Follow-ups get a partition each so a busy campaign never makes a hot partition; the
//! settings of an account share one, read through a cache.

use chrono::{DateTime, SecondsFormat, Utc};
use policy::{
    AccountId, AgentId, CampaignId, ContactId, Destination, EmailAddress, FollowUp, FollowUpId,
    GuardKey, PendingKey, PhoneNumber, Status, SuppressionKey,
};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use store::{Attrs, Cond, Item, Key, Write};

use crate::error::ServiceError;

/// The sort key of follow-up items; the dispatcher's stream filter matches on it.
pub const FOLLOWUP_SK: &str = "FU";
/// How long a webhook delivery is remembered for deduplication. Senders retry for
/// hours at most; a week leaves room.
pub const WEBHOOK_MEMORY_SECONDS: i64 = 7 * 24 * 3600;

pub fn account_pk(account: &AccountId) -> String {
    format!("A#{account}")
}

pub fn account_settings_key(account: &AccountId) -> Key {
    Key::new(account_pk(account), "SETTINGS")
}

pub const AGENT_PREFIX: &str = "AGENT#";

pub fn agent_key(account: &AccountId, agent: &AgentId) -> Key {
    Key::new(account_pk(account), format!("{AGENT_PREFIX}{agent}"))
}

pub const CAMPAIGN_PREFIX: &str = "CAMPAIGN#";

pub fn campaign_key(account: &AccountId, campaign: &CampaignId) -> Key {
    Key::new(account_pk(account), format!("{CAMPAIGN_PREFIX}{campaign}"))
}

/// An address that bounced permanently: no more email goes to it.
pub fn undeliverable_key(account: &AccountId, address: &EmailAddress) -> Key {
    Key::new(
        account_pk(account),
        format!("UNDELIVERABLE#{}", address.as_str().to_ascii_lowercase()),
    )
}

/// The account's Meta (WhatsApp) webhook credentials: app secret and verify token.
pub fn meta_webhook_key(account: &AccountId) -> Key {
    Key::new(account_pk(account), "META_WEBHOOK")
}

/// The account's random key for unsubscribe tokens (attribute `key`, base64).
pub fn unsubscribe_key(account: &AccountId) -> Key {
    Key::new(account_pk(account), "UNSUBSCRIBE_KEY")
}

/// Which account owns an origination number (attribute `account_id`).
pub fn origination_key(number: &PhoneNumber) -> Key {
    Key::new(format!("ORIGINATION#{number}"), "ORIGINATION")
}

/// An account's connection to a voice platform (its non-secret part).
pub fn platform_key(account: &AccountId, platform: policy::platform::Platform) -> Key {
    Key::new(account_pk(account), format!("PLATFORM#{platform}"))
}

pub const SECRET_PREFIX: &str = "SECRET#";

pub fn secret_key(account: &AccountId, id: &str) -> Key {
    Key::new(account_pk(account), format!("{SECRET_PREFIX}{id}"))
}

pub const DNC_PREFIX: &str = "DNC#";

/// Keyed by [`Destination::dnc_match_key`], so an address matches however it is cased.
/// Entries stored before that (keyed as typed) are re-keyed once per account: see
/// [`DNC_KEYS_MIGRATION`].
pub fn dnc_key(account: &AccountId, destination: &Destination) -> Key {
    Key::new(
        account_pk(account),
        format!("{DNC_PREFIX}{}", destination.dnc_match_key()),
    )
}

/// Marks the one confirmation text of an opt-out as sent (claimed before sending, so
/// a redelivered reply does not send a second one).
pub fn optout_confirmation_key(
    account: &AccountId,
    destination: &Destination,
    opted_out_at: DateTime<Utc>,
) -> Key {
    Key::new(
        format!("A#{account}#OPTOUT#{}", destination.dnc_match_key()),
        format!("CONFIRMED#{}", sortable(opted_out_at)),
    )
}

/// The partition listing a destination's open follow-ups (`scheduled` or
/// `needs_review` with that destination), so an opt-out finds them without a scan.
pub fn open_pk(account: &AccountId, destination: &Destination) -> String {
    format!("A#{account}#OPEN#{}", destination.dnc_match_key())
}

fn open_key(followup: &FollowUp) -> Option<Key> {
    let destination = followup
        .destination
        .as_ref()
        .filter(|_| followup.is_open())?;
    Some(Key::new(
        open_pk(&followup.account_id, destination),
        followup.id.as_str(),
    ))
}

/// The migration that re-keys do-not-call addresses stored with upper-case letters.
pub const DNC_KEYS_MIGRATION: &str = "dnc_email_case";

pub fn migration_key(account: &AccountId, name: &str) -> Key {
    Key::new(account_pk(account), format!("MIGRATION#{name}"))
}

pub fn followup_key(account: &AccountId, id: &FollowUpId) -> Key {
    Key::new(format!("A#{account}#FU#{id}"), FOLLOWUP_SK)
}

pub fn campaign_view_pk(account: &AccountId, campaign: &CampaignId) -> String {
    format!("A#{account}#CAMPAIGN#{campaign}")
}

pub fn contact_view_pk(account: &AccountId, contact: &ContactId) -> String {
    format!("A#{account}#CONTACT#{contact}")
}

pub fn webhook_key(account: &AccountId, webhook_id: &str) -> Key {
    Key::new(format!("A#{account}#WEBHOOK#{webhook_id}"), "WEBHOOK")
}

pub fn guard_key(account: &AccountId, guard: &GuardKey) -> Key {
    Key::new(
        format!(
            "A#{account}#GUARD#{}#{}#{}",
            guard.campaign_id,
            guard.contact_id,
            guard.kind.as_str()
        ),
        "GUARD",
    )
}

pub fn pending_key(account: &AccountId, slot: &PendingKey) -> Key {
    Key::new(
        format!(
            "A#{account}#PENDING#{}#{}#{}",
            slot.campaign_id,
            slot.contact_id,
            slot.channel.as_str()
        ),
        "PENDING",
    )
}

pub fn recipient_key(account: &AccountId, contact: &ContactId) -> Key {
    Key::new(format!("A#{account}#RECIPIENT#{contact}"), "RECIPIENT")
}

pub fn touches_key(account: &AccountId, campaign: &CampaignId, contact: &ContactId) -> Key {
    Key::new(
        format!("A#{account}#TOUCHES#{campaign}#{contact}"),
        "TOUCHES",
    )
}

/// Sortable, fixed-width UTC time for sort keys.
pub fn sortable(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// A record and the version that guards its updates (`ETag: "v{version}"`).
#[derive(Debug, Clone, PartialEq)]
pub struct Versioned<T> {
    pub value: T,
    pub version: u64,
}

/// How a write expects the record to be now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// It must not exist.
    Absent,
    /// It must exist at this version.
    Version(u64),
}

impl Expect {
    pub fn cond(self) -> Cond {
        match self {
            Expect::Absent => Cond::NotExists,
            Expect::Version(v) => Cond::Equals(vec![("version".into(), json!(v))]),
        }
    }
}

fn to_attrs<T: Serialize>(value: &T) -> Result<Attrs, ServiceError> {
    match serde_json::to_value(value) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(ServiceError::Internal(
            "a record must serialize to an object".into(),
        )),
        Err(e) => Err(ServiceError::Internal(format!(
            "cannot serialize a record: {e}"
        ))),
    }
}

pub fn version_of(item: &Item) -> u64 {
    item.attrs
        .get("version")
        .and_then(Value::as_u64)
        .unwrap_or(0)
}

/// A settings-like record: the value under `data`, plus its version.
pub fn data_item<T: Serialize>(key: Key, value: &T, version: u64) -> Result<Item, ServiceError> {
    let mut attrs = Attrs::new();
    attrs.insert("data".into(), Value::Object(to_attrs(value)?));
    attrs.insert("version".into(), json!(version));
    Ok(Item::new(key, attrs))
}

pub fn data_from_item<T: DeserializeOwned>(item: &Item) -> Result<Versioned<T>, ServiceError> {
    let value = T::deserialize(item.attrs.get("data").unwrap_or(&Value::Null)).map_err(|e| {
        ServiceError::Internal(format!("stored record {:?} is unreadable: {e}", item.key))
    })?;
    Ok(Versioned {
        value,
        version: version_of(item),
    })
}

/// A follow-up as an item: its fields at the top level (so conditions can name
/// `status`, `attempt` and `version`), plus its index keys.
pub fn followup_item(followup: &FollowUp, version: u64) -> Result<Item, ServiceError> {
    let mut attrs = to_attrs(followup)?;
    let account = &followup.account_id;
    attrs.insert("version".into(), json!(version));
    attrs.insert(
        "gsi1pk".into(),
        json!(campaign_view_pk(account, &followup.campaign_id)),
    );
    attrs.insert(
        "gsi1sk".into(),
        json!(format!("{}#{}", sortable(followup.due_at), followup.id)),
    );
    attrs.insert(
        "gsi2pk".into(),
        json!(contact_view_pk(account, &followup.contact_id)),
    );
    attrs.insert(
        "gsi2sk".into(),
        json!(format!("{}#{}", sortable(followup.created_at), followup.id)),
    );
    Ok(Item::new(followup_key(account, &followup.id), attrs))
}

/// A stored follow-up. Its `reason` is its latest own trace entry's, also for items
/// written when a send-time move did not update it.
pub fn followup_from_item(item: &Item) -> Result<Versioned<FollowUp>, ServiceError> {
    // Read from the attributes in place (every stream image and read passes here).
    let mut value = FollowUp::deserialize(&item.attrs).map_err(|e| {
        ServiceError::Internal(format!(
            "stored follow-up {:?} is unreadable: {e}",
            item.key
        ))
    })?;
    if let Some(last) = value.trace.iter().rev().find(|t| t.channel.is_none()) {
        value.reason = Some(last.reason);
    }
    Ok(Versioned {
        value,
        version: version_of(item),
    })
}

/// The writes that store `new` (at `version`, replacing what `expect` says, first) and
/// keep its pending slot and its open-follow-up lookup true: a call or WhatsApp follow-up holds its slot exactly while it
/// is `scheduled`, so a new request finds it there and reschedules it.
pub fn followup_writes(
    old: Option<&FollowUp>,
    new: &FollowUp,
    version: u64,
    expect: Expect,
) -> Result<Vec<Write>, ServiceError> {
    let mut writes = vec![Write::Put {
        item: followup_item(new, version)?,
        cond: expect.cond(),
    }];
    if let (Some(old), Some(guard)) = (old, new.kind_guard())
        && old.status.holds_guard()
        && !new.status.holds_guard()
    {
        // Not sent after all (cancelled, suppressed at send time, failed): the contact's
        // once is released for a later call.
        writes.push(Write::Delete {
            key: guard_key(&new.account_id, &guard),
            cond: Cond::Equals(vec![("followup_id".into(), json!(new.id.as_str()))]),
        });
    }
    let was_pending = old.is_some_and(|o| o.status == Status::Scheduled);
    let is_pending = new.status == Status::Scheduled;
    if let Some(slot) = new.pending_key() {
        let key = pending_key(&new.account_id, &slot);
        if is_pending && !was_pending {
            let mut attrs = Attrs::new();
            attrs.insert("followup_id".into(), json!(new.id.as_str()));
            writes.push(Write::Put {
                item: Item::new(key, attrs),
                cond: Cond::NotExists,
            });
        } else if was_pending && !is_pending {
            writes.push(Write::Delete {
                key,
                cond: Cond::Equals(vec![("followup_id".into(), json!(new.id.as_str()))]),
            });
        }
    }
    writes.extend(open_lookup_writes(old, new));
    Ok(writes)
}

/// How long after its due time an open-follow-up lookup is kept (the table's TTL).
pub const OPEN_LOOKUP_GRACE_SECONDS: i64 = 30 * 24 * 3600;

/// The open-follow-up lookup a write of `new` needs: one each time it becomes open, or
/// stays open with another destination or due time. A lookup is never deleted (so the
/// executor's claim and outcome stay single writes): one that outlived its follow-up's
/// open life is skipped by the opt-out, which reads the follow-up, and expires
/// [`OPEN_LOOKUP_GRACE_SECONDS`] after the due time it was written for.
fn open_lookup_writes(old: Option<&FollowUp>, new: &FollowUp) -> Vec<Write> {
    let Some(key) = open_key(new) else {
        return Vec::new();
    };
    let unchanged = old.is_some_and(|old| {
        old.is_open() && old.destination == new.destination && old.due_at == new.due_at
    });
    if unchanged {
        return Vec::new();
    }
    let mut attrs = Attrs::new();
    attrs.insert("followup_id".into(), json!(new.id.as_str()));
    attrs.insert(
        store::EXPIRES_AT.into(),
        json!(new.due_at.timestamp() + OPEN_LOOKUP_GRACE_SECONDS),
    );
    vec![Write::Put {
        item: Item::new(key, attrs),
        cond: Cond::Always,
    }]
}

/// Whether `write` is the pending-slot write of `followup` (the other writes
/// [`followup_writes`] returns besides the follow-up's own are lookups).
pub fn is_pending_write(write: &Write, followup: &FollowUp) -> bool {
    followup
        .pending_key()
        .is_some_and(|slot| write.key() == &pending_key(&followup.account_id, &slot))
}

/// The follow-up id a pending slot, guard or suppression record points at.
pub fn pending_followup_id(item: &Item) -> Option<FollowUpId> {
    item.attrs
        .get("followup_id")
        .and_then(Value::as_str)
        .and_then(|id| FollowUpId::parse("followup_id", id).ok())
}

pub fn guard_item(account: &AccountId, guard: &GuardKey, followup: &FollowUpId) -> Item {
    Item::new(guard_key(account, guard), followup_pointer(followup))
}

pub fn suppression_key(account: &AccountId, key: &SuppressionKey) -> Key {
    Key::new(
        format!(
            "A#{account}#SUPPRESSED#{}#{}#{}#{}",
            key.campaign_id,
            key.contact_id,
            key.channel.as_str(),
            key.reason.as_str()
        ),
        "SUPPRESSED",
    )
}

/// The record that a suppression is stored, pointing at the follow-up that stores it.
pub fn suppression_item(account: &AccountId, key: &SuppressionKey, followup: &FollowUpId) -> Item {
    Item::new(suppression_key(account, key), followup_pointer(followup))
}

fn followup_pointer(followup: &FollowUpId) -> Attrs {
    let mut attrs = Attrs::new();
    attrs.insert("followup_id".into(), json!(followup.as_str()));
    attrs
}

pub fn webhook_item(
    account: &AccountId,
    webhook_id: &str,
    response: &Value,
    now: DateTime<Utc>,
) -> Item {
    let mut attrs = Attrs::new();
    attrs.insert("response".into(), response.clone());
    attrs.insert(
        store::EXPIRES_AT.into(),
        json!(now.timestamp() + WEBHOOK_MEMORY_SECONDS),
    );
    Item::new(webhook_key(account, webhook_id), attrs)
}
