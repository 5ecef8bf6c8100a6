//! Typed reads and writes of the engine's records over the [`Table`] port: the only
//! code that turns keys and items into settings, secrets, do-not-call entries and
//! follow-ups. Reads on the webhook path go through the per-process [`Cache`].

use std::sync::Arc;

use chrono::{DateTime, Utc};
use policy::{
    AccountId, AccountSettings, AgentId, AgentSettings, CampaignId, CampaignSettings, ContactId,
    Destination, DncSource, EmailAddress, FollowUp, FollowUpId, GuardKey, PendingKey, PhoneNumber,
    RecipientFacts, Settings, SuppressionKey, Touch,
};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use store::{Attrs, Cond, Index, Item, Key, Page, Query, StoreError, Table, Write};

use crate::cache::Cache;
use crate::error::ServiceError;
use crate::records::{self, Expect, Versioned};

/// A webhook signing secret as stored. `secret` is the `whsec_…` text; it is returned
/// to the operator once, at creation, and never again.
#[derive(Clone, Serialize, Deserialize)]
pub struct StoredSecret {
    pub id: String,
    pub secret: String,
    pub created_at: DateTime<Utc>,
    /// When a rotated-out secret stops verifying (epoch seconds; the table's TTL).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
}

impl std::fmt::Debug for StoredSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredSecret")
            .field("id", &self.id)
            .field("secret", &"<redacted>")
            .field("created_at", &self.created_at)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// One do-not-call entry: it applies to every channel of its number or address.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DncEntry {
    pub value: Destination,
    pub added_at: DateTime<Utc>,
    /// How it got there; entries stored before sources existed read as `operator`.
    #[serde(default)]
    pub source: DncSource,
}

/// One page of a list.
#[derive(Debug, Clone, Serialize)]
pub struct Listing<T> {
    pub items: Vec<T>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

pub struct Repository {
    table: Arc<dyn Table>,
    cache: Cache,
}

fn cache_key(key: &Key) -> String {
    format!("{}|{}", key.pk, key.sk)
}

impl Repository {
    pub fn new(table: Arc<dyn Table>, cache: Cache) -> Self {
        Self { table, cache }
    }

    /// The table itself, for tests that inspect or corrupt stored items; use cases go
    /// through the typed methods below.
    pub fn table(&self) -> &dyn Table {
        self.table.as_ref()
    }

    // ---- settings-like records (`data` + `version`) ----

    pub async fn get_record<T: DeserializeOwned>(
        &self,
        key: &Key,
    ) -> Result<Option<Versioned<T>>, ServiceError> {
        match self.table.get(key).await? {
            Some(item) => records::data_from_item(&item).map(Some),
            None => Ok(None),
        }
    }

    /// A settings record through the cache (webhook path).
    async fn cached_record<T: DeserializeOwned + Clone + Send + Sync + 'static>(
        &self,
        key: &Key,
    ) -> Result<Option<T>, ServiceError> {
        let ck = cache_key(key);
        if let Some(cached) = self.cache.get::<T>(&ck) {
            return Ok(cached);
        }
        let parsed = self
            .table
            .get(key)
            .await?
            .and_then(|item| item.attrs.get("data").cloned())
            .map(|data| {
                serde_json::from_value::<T>(data).map_err(|e| {
                    ServiceError::Internal(format!("stored settings {key:?} are unreadable: {e}"))
                })
            })
            .transpose()?;
        self.cache.put(ck, parsed.clone());
        Ok(parsed)
    }

    /// Creates or replaces a record. With `if_match`, only over that version (412
    /// otherwise); without, over whatever is there. Returns the new version.
    pub async fn put_record<T: Serialize>(
        &self,
        key: Key,
        value: &T,
        if_match: Option<u64>,
    ) -> Result<u64, ServiceError> {
        loop {
            let expect = match if_match {
                Some(v) => Expect::Version(v),
                None => match self.table.get(&key).await? {
                    Some(item) => Expect::Version(records::version_of(&item)),
                    None => Expect::Absent,
                },
            };
            let version = match expect {
                Expect::Version(v) => v + 1,
                _ => 1,
            };
            let item = records::data_item(key.clone(), value, version)?;
            let put = Write::Put {
                item,
                cond: expect.cond(),
            };
            match self.table.write(vec![put]).await {
                Ok(()) => {
                    self.cache.forget(&cache_key(&key));
                    return Ok(version);
                }
                Err(StoreError::ConditionFailed { failed }) => {
                    let current = failed.into_iter().next().and_then(|(_, item)| item);
                    match (if_match, current) {
                        (Some(_), None) => return Err(ServiceError::NotFound("record")),
                        (Some(_), Some(item)) => {
                            return Err(ServiceError::VersionMismatch {
                                current: records::version_of(&item),
                            });
                        }
                        // A concurrent writer got there first: read again and retry.
                        (None, _) => continue,
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    pub async fn delete_record(&self, key: Key, if_match: Option<u64>) -> Result<(), ServiceError> {
        let cond = match if_match {
            Some(v) => Expect::Version(v).cond(),
            None => Cond::Exists,
        };
        let result = self
            .table
            .write(vec![Write::Delete {
                key: key.clone(),
                cond,
            }])
            .await;
        self.cache.forget(&cache_key(&key));
        match result {
            Ok(()) => Ok(()),
            Err(StoreError::ConditionFailed { failed }) => {
                match failed.into_iter().next().and_then(|(_, item)| item) {
                    Some(item) => Err(ServiceError::VersionMismatch {
                        current: records::version_of(&item),
                    }),
                    None => Err(ServiceError::NotFound("record")),
                }
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Everything `decide` needs to know about an account, agent and campaign, through
    /// the cache. Missing agent or campaign settings are `None` (the policy then
    /// suppresses with `channel_disabled`).
    pub async fn settings_for_call(
        &self,
        account: &AccountId,
        agent: &AgentId,
        campaign: &CampaignId,
    ) -> Result<Settings, ServiceError> {
        // Three independent reads: one round trip's wait, not three, on a cold cache.
        let keys = (
            records::account_settings_key(account),
            records::agent_key(account, agent),
            records::campaign_key(account, campaign),
        );
        // The do-not-call list is consulted with these settings: its keys must be the
        // current ones first (a cached no-op once done).
        let (account_settings, agent, campaign, dnc) = tokio::join!(
            self.cached_record::<AccountSettings>(&keys.0),
            self.cached_record::<AgentSettings>(&keys.1),
            self.cached_record::<CampaignSettings>(&keys.2),
            self.dnc_keys_current(account),
        );
        dnc?;
        let mut settings = Settings::new(account.clone(), account_settings?.unwrap_or_default());
        settings.agent = agent?;
        settings.campaign = campaign?;
        Ok(settings)
    }

    pub async fn account_settings(
        &self,
        account: &AccountId,
    ) -> Result<Option<Versioned<AccountSettings>>, ServiceError> {
        self.get_record(&records::account_settings_key(account))
            .await
    }

    /// Saves the account's settings and keeps its origination number's item true (the
    /// number → account lookup SMS replies are attributed by), in one transaction.
    /// `if_match`: `Some(0)` creates, `Some(v)` replaces version `v`, `None` replaces
    /// whatever is there. 409 when another account owns the number.
    pub async fn put_account_settings(
        &self,
        account: &AccountId,
        settings: &AccountSettings,
        if_match: Option<u64>,
    ) -> Result<u64, ServiceError> {
        let key = records::account_settings_key(account);
        loop {
            let current = self.account_settings(account).await?;
            let expect = match (if_match, &current) {
                (Some(0), _) | (None, None) => Expect::Absent,
                (Some(v), _) => Expect::Version(v),
                (None, Some(current)) => Expect::Version(current.version),
            };
            let version = match expect {
                Expect::Version(v) => v + 1,
                Expect::Absent => 1,
            };
            let mut writes = vec![Write::Put {
                item: records::data_item(key.clone(), settings, version)?,
                cond: expect.cond(),
            }];
            let old_number = current.and_then(|c| c.value.sms_origination_number);
            writes.extend(
                self.origination_writes(account, old_number, &settings.sms_origination_number)
                    .await?,
            );
            match self.table.write(writes).await {
                Ok(()) => {
                    self.cache.forget(&cache_key(&key));
                    return Ok(version);
                }
                Err(StoreError::ConditionFailed { failed }) => {
                    let Some((0, stored)) = failed.into_iter().find(|(i, _)| *i == 0) else {
                        return Err(ServiceError::Conflict(
                            "sms_origination_number belongs to another account".into(),
                        ));
                    };
                    match (if_match, stored) {
                        (Some(_), Some(item)) => {
                            return Err(ServiceError::VersionMismatch {
                                current: records::version_of(&item),
                            });
                        }
                        (Some(_), None) => return Err(ServiceError::NotFound("record")),
                        // A concurrent writer got there first: read again and retry.
                        (None, _) => continue,
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// The writes that move the origination-number item from `old` to `new`.
    async fn origination_writes(
        &self,
        account: &AccountId,
        old: Option<PhoneNumber>,
        new: &Option<PhoneNumber>,
    ) -> Result<Vec<Write>, ServiceError> {
        let owned_by_us = Cond::Equals(vec![("account_id".into(), json!(account.as_str()))]);
        let mut writes = Vec::new();
        if let Some(number) = new {
            match self.origination_owner(number).await? {
                Some(owner) if &owner != account => {
                    return Err(ServiceError::Conflict(format!(
                        "sms_origination_number {number} belongs to another account"
                    )));
                }
                Some(_) => {}
                None => {
                    let mut attrs = Attrs::new();
                    attrs.insert("account_id".into(), json!(account.as_str()));
                    writes.push(Write::Put {
                        item: Item::new(records::origination_key(number), attrs),
                        cond: Cond::NotExists,
                    });
                }
            }
        }
        if let Some(old) = old.filter(|old| Some(old) != new.as_ref()) {
            writes.push(Write::Delete {
                key: records::origination_key(&old),
                cond: owned_by_us,
            });
        }
        Ok(writes)
    }

    /// The account's Meta webhook credentials (read fresh: a secret just set works).
    pub async fn meta_webhook(
        &self,
        account: &AccountId,
    ) -> Result<Option<crate::meta_webhook::MetaWebhookConfig>, ServiceError> {
        Ok(self
            .get_record(&records::meta_webhook_key(account))
            .await?
            .map(|v| v.value))
    }

    /// The account's unsubscribe-token key; with `create`, made on first use (a
    /// concurrent creator's key wins, so every token verifies).
    pub async fn unsubscribe_key(
        &self,
        account: &AccountId,
        create: bool,
    ) -> Result<Option<Vec<u8>>, ServiceError> {
        use base64::Engine as _;
        let codec = base64::engine::general_purpose::STANDARD;
        let key = records::unsubscribe_key(account);
        for _ in 0..2 {
            if let Some(item) = self.table.get(&key).await? {
                let stored = item.attrs.get("key").and_then(Value::as_str).unwrap_or("");
                return codec.decode(stored).map(Some).map_err(|_| {
                    ServiceError::Internal(format!(
                        "the unsubscribe key of {account} is unreadable"
                    ))
                });
            }
            if !create {
                return Ok(None);
            }
            let mut bytes = vec![0u8; crate::unsubscribe::KEY_BYTES];
            getrandom::fill(&mut bytes)
                .map_err(|_| ServiceError::Internal("no randomness for a key".into()))?;
            let mut attrs = Attrs::new();
            attrs.insert("key".into(), json!(codec.encode(&bytes)));
            let put = Write::Put {
                item: Item::new(key.clone(), attrs),
                cond: Cond::NotExists,
            };
            match self.table.write(vec![put]).await {
                Ok(()) => return Ok(Some(bytes)),
                Err(StoreError::ConditionFailed { .. }) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(ServiceError::Internal(
            "the unsubscribe key could not be read".into(),
        ))
    }

    /// The account an origination number belongs to, if any.
    pub async fn origination_owner(
        &self,
        number: &PhoneNumber,
    ) -> Result<Option<AccountId>, ServiceError> {
        let Some(item) = self.table.get(&records::origination_key(number)).await? else {
            return Ok(None);
        };
        let owner = item
            .attrs
            .get("account_id")
            .and_then(Value::as_str)
            .and_then(|raw| AccountId::parse("account_id", raw).ok())
            .ok_or_else(|| {
                ServiceError::Internal(format!("origination item {number} is unreadable"))
            })?;
        Ok(Some(owner))
    }

    pub async fn agent_settings(
        &self,
        account: &AccountId,
        agent: &AgentId,
    ) -> Result<Option<Versioned<AgentSettings>>, ServiceError> {
        self.get_record(&records::agent_key(account, agent)).await
    }

    pub async fn campaign_settings(
        &self,
        account: &AccountId,
        campaign: &CampaignId,
    ) -> Result<Option<Versioned<CampaignSettings>>, ServiceError> {
        self.get_record(&records::campaign_key(account, campaign))
            .await
    }

    // ---- webhook signing secrets ----

    /// The account's active secrets, newest first. `fresh` skips the cache (after a
    /// signature failure, so a secret created a moment ago already works).
    pub async fn webhook_secrets(
        &self,
        account: &AccountId,
        fresh: bool,
    ) -> Result<Vec<StoredSecret>, ServiceError> {
        let ck = format!(
            "{}|{}",
            records::account_pk(account),
            records::SECRET_PREFIX
        );
        if !fresh && let Some(Some(cached)) = self.cache.get::<Vec<StoredSecret>>(&ck) {
            return Ok(cached);
        }
        let mut query = Query::new(Index::Primary, records::account_pk(account));
        query.sk_prefix = Some(records::SECRET_PREFIX.into());
        query.newest_first = true;
        let items = store::query_all_pages(self.table.as_ref(), &query).await?;
        let secrets: Vec<StoredSecret> = items
            .into_iter()
            .filter_map(|item| serde_json::from_value(Value::Object(item.attrs)).ok())
            .collect();
        self.cache.put(ck, Some(secrets.clone()));
        Ok(secrets)
    }

    fn forget_secrets(&self, account: &AccountId) {
        self.cache.forget(&format!(
            "{}|{}",
            records::account_pk(account),
            records::SECRET_PREFIX
        ));
    }

    /// Stores a new secret and gives every other active secret `retire_others_at` as
    /// its end (when sooner than the end it has), all in one transaction.
    pub async fn add_webhook_secret(
        &self,
        account: &AccountId,
        secret: &StoredSecret,
        retire_others_at: i64,
    ) -> Result<(), ServiceError> {
        let others = self.webhook_secrets(account, true).await?;
        let mut writes = Vec::new();
        for mut other in others {
            if other.expires_at.is_none_or(|t| t > retire_others_at) {
                other.expires_at = Some(retire_others_at);
                writes.push(Write::Put {
                    item: secret_item(account, &other)?,
                    cond: Cond::Exists,
                });
            }
        }
        writes.push(Write::Put {
            item: secret_item(account, secret)?,
            cond: Cond::NotExists,
        });
        let result = self.table.write(writes).await;
        self.forget_secrets(account);
        result.map_err(|e| match e {
            StoreError::ConditionFailed { .. } => {
                ServiceError::Conflict("the secrets changed meanwhile; try again".into())
            }
            e => e.into(),
        })
    }

    pub async fn delete_webhook_secret(
        &self,
        account: &AccountId,
        id: &str,
    ) -> Result<(), ServiceError> {
        let key = records::secret_key(account, id);
        let result = self
            .table
            .write(vec![Write::Delete {
                key,
                cond: Cond::Exists,
            }])
            .await;
        self.forget_secrets(account);
        match result {
            Err(StoreError::ConditionFailed { .. }) => {
                Err(ServiceError::NotFound("webhook secret"))
            }
            other => other.map_err(Into::into),
        }
    }

    // ---- do-not-call ----

    /// Makes sure every do-not-call entry of the account is under its current key
    /// ([`records::dnc_key`]): addresses stored before the list matched them
    /// case-insensitively were keyed as typed (`DNC#Pat.Case@example.com`) and are
    /// moved once to the lower-cased key, every attribute kept. A marker record says it
    /// is done; it is cached like settings, so a warm process pays nothing.
    pub async fn dnc_keys_current(&self, account: &AccountId) -> Result<(), ServiceError> {
        let marker = records::migration_key(account, records::DNC_KEYS_MIGRATION);
        if self.cached_record::<Value>(&marker).await?.is_some() {
            return Ok(());
        }
        self.rekey_dnc_entries(account).await?;
        let done = json!({ "done": true });
        let mut attrs = Attrs::new();
        attrs.insert("data".into(), done.clone());
        self.table
            .write(vec![Write::Put {
                item: Item::new(marker.clone(), attrs),
                cond: Cond::Always,
            }])
            .await?;
        self.cache.put(cache_key(&marker), Some(done));
        Ok(())
    }

    async fn rekey_dnc_entries(&self, account: &AccountId) -> Result<(), ServiceError> {
        let mut query = Query::new(Index::Primary, records::account_pk(account));
        query.sk_prefix = Some(records::DNC_PREFIX.into());
        loop {
            let page = self.table.query(&query).await?;
            for item in page.items {
                let Some(value) = item.attrs.get("value").and_then(Value::as_str) else {
                    continue;
                };
                let Ok(destination) = Destination::from_stored("value", value) else {
                    continue;
                };
                let key = records::dnc_key(account, &destination);
                if key == item.key {
                    continue;
                }
                let moved = vec![
                    Write::Put {
                        item: Item::new(key, item.attrs.clone()),
                        cond: Cond::NotExists,
                    },
                    Write::Delete {
                        key: item.key.clone(),
                        cond: Cond::Always,
                    },
                ];
                match self.table.write(moved).await {
                    Ok(()) => {}
                    // The address is already under its key (another casing, another
                    // process): the first entry stays, this copy goes.
                    Err(StoreError::ConditionFailed { .. }) => {
                        self.table
                            .write(vec![Write::Delete {
                                key: item.key,
                                cond: Cond::Always,
                            }])
                            .await?;
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            match page.cursor {
                Some(cursor) => query.cursor = Some(cursor),
                None => return Ok(()),
            }
        }
    }

    /// Adds an entry; adding one that exists keeps (and returns) the first.
    pub async fn add_dnc(
        &self,
        account: &AccountId,
        entry: &DncEntry,
    ) -> Result<DncEntry, ServiceError> {
        self.dnc_keys_current(account).await?;
        let mut attrs = Attrs::new();
        attrs.insert("value".into(), json!(entry.value.as_str()));
        attrs.insert("added_at".into(), json!(entry.added_at));
        attrs.insert("source".into(), json!(entry.source));
        let item = Item::new(records::dnc_key(account, &entry.value), attrs);
        match self
            .table
            .write(vec![Write::Put {
                item,
                cond: Cond::NotExists,
            }])
            .await
        {
            Ok(()) => Ok(entry.clone()),
            Err(StoreError::ConditionFailed { failed }) => Ok(failed
                .into_iter()
                .next()
                .and_then(|(_, item)| item)
                .and_then(|item| serde_json::from_value(Value::Object(item.attrs)).ok())
                .unwrap_or_else(|| entry.clone())),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn remove_dnc(
        &self,
        account: &AccountId,
        value: &Destination,
    ) -> Result<(), ServiceError> {
        self.dnc_keys_current(account).await?;
        let key = records::dnc_key(account, value);
        match self
            .table
            .write(vec![Write::Delete {
                key,
                cond: Cond::Exists,
            }])
            .await
        {
            Err(StoreError::ConditionFailed { .. }) => {
                Err(ServiceError::NotFound("do-not-call entry"))
            }
            other => other.map_err(Into::into),
        }
    }

    pub async fn is_on_dnc(
        &self,
        account: &AccountId,
        value: &Destination,
    ) -> Result<bool, ServiceError> {
        self.dnc_keys_current(account).await?;
        Ok(self
            .table
            .get(&records::dnc_key(account, value))
            .await?
            .is_some())
    }

    /// Claims the one confirmation text of an opt-out: true for the first caller only.
    /// The claim outlives the five minutes in which a confirmation may go out.
    pub async fn claim_optout_confirmation(
        &self,
        account: &AccountId,
        entry: &DncEntry,
        now: DateTime<Utc>,
    ) -> Result<bool, ServiceError> {
        let mut attrs = Attrs::new();
        attrs.insert("claimed_at".into(), json!(now));
        attrs.insert(store::EXPIRES_AT.into(), json!(now.timestamp() + 24 * 3600));
        let key = records::optout_confirmation_key(account, &entry.value, entry.added_at);
        let put = Write::Put {
            item: Item::new(key, attrs),
            cond: Cond::NotExists,
        };
        match self.table.write(vec![put]).await {
            Ok(()) => Ok(true),
            Err(StoreError::ConditionFailed { .. }) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Gives a claim back after the confirmation could not be sent, so a retry sends it.
    pub async fn release_optout_confirmation(
        &self,
        account: &AccountId,
        entry: &DncEntry,
    ) -> Result<(), ServiceError> {
        let key = records::optout_confirmation_key(account, &entry.value, entry.added_at);
        self.table
            .write(vec![Write::Delete {
                key,
                cond: Cond::Always,
            }])
            .await
            .map_err(Into::into)
    }

    /// Marks an address undeliverable (a permanent bounce); the first mark stays.
    pub async fn mark_undeliverable(
        &self,
        account: &AccountId,
        address: &EmailAddress,
        at: DateTime<Utc>,
    ) -> Result<(), ServiceError> {
        let mut attrs = Attrs::new();
        attrs.insert("value".into(), json!(address.as_str()));
        attrs.insert("bounced_at".into(), json!(at));
        let put = Write::Put {
            item: Item::new(records::undeliverable_key(account, address), attrs),
            cond: Cond::NotExists,
        };
        match self.table.write(vec![put]).await {
            Ok(()) | Err(StoreError::ConditionFailed { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn is_undeliverable(
        &self,
        account: &AccountId,
        destination: &Destination,
    ) -> Result<bool, ServiceError> {
        let Some(address) = destination.email() else {
            return Ok(false);
        };
        Ok(self
            .table
            .get(&records::undeliverable_key(account, address))
            .await?
            .is_some())
    }

    /// The ids of the destination's open follow-ups (`scheduled`, `needs_review`).
    pub async fn open_followups_of(
        &self,
        account: &AccountId,
        destination: &Destination,
    ) -> Result<Vec<FollowUpId>, ServiceError> {
        let query = Query::new(Index::Primary, records::open_pk(account, destination));
        let items = store::query_all_pages(self.table.as_ref(), &query).await?;
        Ok(items
            .iter()
            .filter_map(records::pending_followup_id)
            .collect())
    }

    pub async fn dnc_page(
        &self,
        account: &AccountId,
        cursor: Option<String>,
        limit: u32,
    ) -> Result<Listing<DncEntry>, ServiceError> {
        let mut query = Query::new(Index::Primary, records::account_pk(account));
        query.sk_prefix = Some(records::DNC_PREFIX.into());
        query.limit = limit;
        query.cursor = cursor;
        let Page { items, cursor } = self.query(&query).await?;
        let items = items
            .into_iter()
            .filter_map(|item| serde_json::from_value(Value::Object(item.attrs)).ok())
            .collect();
        Ok(Listing {
            items,
            next_cursor: cursor,
        })
    }

    /// One page of the account's settings records whose sort key starts with `prefix`
    /// (`AGENT#`, `CAMPAIGN#`), as `(id, settings)` by id.
    pub async fn settings_page<T: DeserializeOwned>(
        &self,
        account: &AccountId,
        prefix: &str,
        cursor: Option<String>,
        limit: u32,
    ) -> Result<Listing<(String, T)>, ServiceError> {
        let mut query = Query::new(Index::Primary, records::account_pk(account));
        query.sk_prefix = Some(prefix.into());
        query.limit = limit;
        query.cursor = cursor;
        let Page { items, cursor } = self.query(&query).await?;
        let items = items
            .iter()
            .map(|item| {
                let id = item.key.sk.strip_prefix(prefix).unwrap_or(&item.key.sk);
                records::data_from_item::<T>(item).map(|v| (id.to_owned(), v.value))
            })
            .collect::<Result<_, _>>()?;
        Ok(Listing {
            items,
            next_cursor: cursor,
        })
    }

    // ---- follow-ups ----

    pub async fn followup(
        &self,
        account: &AccountId,
        id: &FollowUpId,
    ) -> Result<Option<Versioned<FollowUp>>, ServiceError> {
        match self.table.get(&records::followup_key(account, id)).await? {
            Some(item) => records::followup_from_item(&item).map(Some),
            None => Ok(None),
        }
    }

    /// Stores a follow-up change made from `old` (at `old_version`) to `new`, keeping
    /// its pending slot true. `ConditionFailed` means someone else changed it first.
    pub async fn save_followup(
        &self,
        old: &Versioned<FollowUp>,
        new: &FollowUp,
    ) -> Result<u64, StoreError> {
        let version = old.version + 1;
        let writes =
            records::followup_writes(Some(&old.value), new, version, Expect::Version(old.version))
                .map_err(|e| StoreError::Invalid(e.to_string()))?;
        self.table.write(writes).await.map(|()| version)
    }

    /// Like [`Self::save_followup`], with `also` written first in the same transaction
    /// (a failure at an index below `also.len()` is one of those).
    pub async fn save_followup_with(
        &self,
        old: &Versioned<FollowUp>,
        new: &FollowUp,
        also: Vec<Write>,
    ) -> Result<u64, StoreError> {
        let version = old.version + 1;
        let mut writes = also;
        writes.extend(
            records::followup_writes(Some(&old.value), new, version, Expect::Version(old.version))
                .map_err(|e| StoreError::Invalid(e.to_string()))?,
        );
        self.table.write(writes).await.map(|()| version)
    }

    /// A campaign's follow-ups by due time, optionally of one status and channel.
    /// Filtering happens after the index read, so a page may hold fewer than `limit`
    /// items while `next_cursor` says more may follow; at most a few index pages are
    /// read per request.
    pub async fn campaign_followups(
        &self,
        account: &AccountId,
        campaign: &CampaignId,
        filter: impl Fn(&FollowUp) -> bool,
        cursor: Option<String>,
        limit: u32,
    ) -> Result<Listing<FollowUp>, ServiceError> {
        let mut query = Query::new(Index::Gsi1, records::campaign_view_pk(account, campaign));
        query.limit = limit;
        query.cursor = cursor;
        self.filtered(query, filter, limit).await
    }

    /// A contact's follow-ups, newest first (the inbox view), suppressions included.
    pub async fn contact_followups(
        &self,
        account: &AccountId,
        contact: &ContactId,
        cursor: Option<String>,
        limit: u32,
    ) -> Result<Listing<FollowUp>, ServiceError> {
        let mut query = Query::new(Index::Gsi2, records::contact_view_pk(account, contact));
        query.newest_first = true;
        query.limit = limit;
        query.cursor = cursor;
        self.filtered(query, |_| true, limit).await
    }

    async fn filtered(
        &self,
        mut query: Query,
        keep: impl Fn(&FollowUp) -> bool,
        limit: u32,
    ) -> Result<Listing<FollowUp>, ServiceError> {
        const MAX_INDEX_PAGES: usize = 5;
        let mut items = Vec::new();
        for _ in 0..MAX_INDEX_PAGES {
            let page = self.query(&query).await?;
            for item in &page.items {
                let followup = records::followup_from_item(item)?.value;
                if keep(&followup) {
                    items.push(followup);
                }
            }
            query.cursor = page.cursor;
            if query.cursor.is_none() || items.len() >= limit as usize {
                break;
            }
        }
        Ok(Listing {
            items,
            next_cursor: query.cursor,
        })
    }

    async fn query(&self, query: &Query) -> Result<Page, ServiceError> {
        self.table.query(query).await.map_err(|e| match e {
            StoreError::BadCursor => ServiceError::Invalid(policy::ValidationErrors::single(
                "cursor",
                "is not a cursor this list gave out",
            )),
            e => e.into(),
        })
    }

    // ---- the recipient: latest zone and state, recent touches ----

    /// What calls reported about a contact (latest zone and state), with its version
    /// (0 when nothing was stored yet).
    pub async fn recipient_facts(
        &self,
        account: &AccountId,
        contact: &ContactId,
    ) -> Result<Versioned<RecipientFacts>, ServiceError> {
        Ok(self
            .get_record(&records::recipient_key(account, contact))
            .await?
            .unwrap_or(Versioned {
                value: RecipientFacts::default(),
                version: 0,
            }))
    }

    /// The calls and texts made to a contact in a campaign in the last 24 hours, with
    /// the version of their record (0 when none).
    pub async fn touches(
        &self,
        account: &AccountId,
        campaign: &CampaignId,
        contact: &ContactId,
    ) -> Result<Versioned<Vec<Touch>>, ServiceError> {
        let record: Option<Versioned<Touches>> = self
            .get_record(&records::touches_key(account, campaign, contact))
            .await?;
        Ok(record.map_or(
            Versioned {
                value: Vec::new(),
                version: 0,
            },
            |r| Versioned {
                value: r.value.touches,
                version: r.version,
            },
        ))
    }

    /// The write that stores `facts` over version `old` (0: none yet).
    pub fn recipient_write(
        account: &AccountId,
        contact: &ContactId,
        facts: &RecipientFacts,
        old: u64,
    ) -> Result<Write, ServiceError> {
        let item = records::data_item(records::recipient_key(account, contact), facts, old + 1)?;
        Ok(Write::Put {
            item,
            cond: expect_version(old).cond(),
        })
    }

    /// The write that stores `touches` over version `old` (0: none yet); the record
    /// expires a day after its newest touch, when no cap can count it any more.
    pub fn touches_write(
        account: &AccountId,
        campaign: &CampaignId,
        contact: &ContactId,
        touches: &[Touch],
        old: u64,
    ) -> Result<Write, ServiceError> {
        let key = records::touches_key(account, campaign, contact);
        let value = Touches {
            touches: touches.to_vec(),
        };
        let mut item = records::data_item(key, &value, old + 1)?;
        if let Some(last) = touches.iter().map(|t| t.at).max() {
            let expires = (last + policy::recipient::TOUCH_MEMORY).timestamp() + 3600;
            item.attrs.insert(store::EXPIRES_AT.into(), json!(expires));
        }
        Ok(Write::Put {
            item,
            cond: expect_version(old).cond(),
        })
    }

    /// The scheduled follow-ups of a contact (every campaign), at most a few pages.
    pub async fn pending_followups_of(
        &self,
        account: &AccountId,
        contact: &ContactId,
        keep: impl Fn(&FollowUp) -> bool,
    ) -> Result<Vec<Versioned<FollowUp>>, ServiceError> {
        const MAX_PAGES: usize = 5;
        let mut query = Query::new(Index::Gsi2, records::contact_view_pk(account, contact));
        query.newest_first = true;
        let mut found = Vec::new();
        for _ in 0..MAX_PAGES {
            let page = self.query(&query).await?;
            for item in &page.items {
                let followup = records::followup_from_item(item)?;
                if followup.value.status == policy::Status::Scheduled && keep(&followup.value) {
                    found.push(followup);
                }
            }
            query.cursor = page.cursor;
            if query.cursor.is_none() {
                break;
            }
        }
        // The index is eventually consistent: read each one again for its version.
        let mut fresh = Vec::new();
        for followup in found {
            if let Some(current) = self.followup(account, &followup.value.id).await?
                && current.value.status == policy::Status::Scheduled
            {
                fresh.push(current);
            }
        }
        Ok(fresh)
    }

    /// Writes an item that must not exist yet.
    pub async fn put_new_item(&self, item: Item) -> Result<(), ServiceError> {
        let put = Write::Put {
            item,
            cond: Cond::NotExists,
        };
        Ok(self.table.write(vec![put]).await?)
    }

    /// Reads an item and deletes it, once: `None` when it is absent or another caller
    /// took it between the two.
    pub async fn take_item(&self, key: Key) -> Result<Option<Item>, ServiceError> {
        let Some(item) = self.table.get(&key).await? else {
            return Ok(None);
        };
        let delete = Write::Delete {
            key,
            cond: Cond::Exists,
        };
        match self.table.write(vec![delete]).await {
            Ok(()) => Ok(Some(item)),
            Err(StoreError::ConditionFailed { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// The follow-up a pointer item (guard, pending slot, suppression) names, when the
    /// item exists.
    async fn pointed_followup(&self, key: Key) -> Result<Option<FollowUpId>, ServiceError> {
        let item = self.table.get(&key).await?;
        Ok(item.as_ref().and_then(records::pending_followup_id))
    }

    /// The follow-up a once-per-contact guard points at, when the guard exists.
    pub async fn guard_holder(
        &self,
        account: &AccountId,
        guard: &GuardKey,
    ) -> Result<Option<FollowUpId>, ServiceError> {
        self.pointed_followup(records::guard_key(account, guard))
            .await
    }

    /// The follow-up holding a one-pending-per-(campaign, contact, channel) slot, when
    /// one does.
    pub async fn pending_holder(
        &self,
        account: &AccountId,
        slot: &PendingKey,
    ) -> Result<Option<FollowUpId>, ServiceError> {
        self.pointed_followup(records::pending_key(account, slot))
            .await
    }

    /// Writes a webhook's decisions as one transaction: all of them, or none when a
    /// condition fails ([`StoreError::ConditionFailed`] names which, by index).
    pub async fn write_decisions(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        self.table.write(writes).await
    }

    /// The follow-up that stores this suppression, when one does.
    pub async fn suppression(
        &self,
        account: &AccountId,
        key: &SuppressionKey,
    ) -> Result<Option<FollowUpId>, ServiceError> {
        self.pointed_followup(records::suppression_key(account, key))
            .await
    }

    /// The answer stored for a webhook delivery, if it was already processed.
    pub async fn webhook_response(
        &self,
        account: &AccountId,
        webhook_id: &str,
    ) -> Result<Option<Value>, ServiceError> {
        Ok(self
            .table
            .get(&records::webhook_key(account, webhook_id))
            .await?
            .and_then(|item| item.attrs.get("response").cloned()))
    }
}

/// The touches record's shape.
#[derive(Serialize, Deserialize)]
struct Touches {
    touches: Vec<Touch>,
}

fn expect_version(old: u64) -> Expect {
    if old == 0 {
        Expect::Absent
    } else {
        Expect::Version(old)
    }
}

fn secret_item(account: &AccountId, secret: &StoredSecret) -> Result<Item, ServiceError> {
    let Value::Object(attrs) = serde_json::to_value(secret)
        .map_err(|e| ServiceError::Internal(format!("cannot store a secret: {e}")))?
    else {
        return Err(ServiceError::Internal(
            "a secret must serialize to an object".into(),
        ));
    };
    Ok(Item::new(records::secret_key(account, &secret.id), attrs))
}
