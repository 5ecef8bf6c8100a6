//! The executor's side of connected mailboxes: which mailbox an email leaves from,
//! sending through it, storing a rotated refresh token, and marking a mailbox whose
//! consent is gone as disconnected.

use std::sync::Arc;

use channels::mailbox::{MAILBOX_DISCONNECTED, Mailbox, MailboxSend};
use channels::{Outbound, SendError, Sent};
use chrono::{DateTime, Utc};
use policy::lifecycle::Event;
use policy::{Channel, FollowUp, MailboxStatus, Reason, Settings};

use super::{Executor, Outcome};
use crate::error::ServiceError;
use crate::mailboxes::{StoredMailbox, open_mailbox, token_context};
use crate::records::Versioned;
use crate::sealing::Sealer;

/// How this executor sends from mailboxes.
#[derive(Clone)]
pub struct MailboxSending {
    pub sender: Arc<dyn MailboxSend>,
    pub sealer: Arc<dyn Sealer>,
}

/// The mailbox an email follow-up leaves from, opened.
pub(super) struct Opened {
    stored: Versioned<StoredMailbox>,
    pub(super) mailbox: Mailbox,
}

impl Executor {
    /// `Ok(None)`: SES. `Ok(Some(Err(why)))`: the campaign names a mailbox that cannot
    /// send (gone, disconnected, or mailboxes not configured here).
    pub(super) async fn mailbox_for(
        &self,
        followup: &FollowUp,
        settings: &Settings,
    ) -> Result<Option<Result<Opened, String>>, ServiceError> {
        if !matches!(followup.channel, Channel::Email | Channel::MissedCallEmail) {
            return Ok(None);
        }
        let Some(id) = settings.email_sender(followup.channel).mailbox() else {
            return Ok(None);
        };
        let Some(sending) = &self.mailboxes else {
            return Ok(Some(Err(format!(
                "this executor cannot send from mailbox {id}: mailboxes are not configured"
            ))));
        };
        let opened = open_mailbox(
            &self.repo,
            sending.sealer.as_ref(),
            &followup.account_id,
            id,
        )
        .await?
        .map(|(stored, mailbox)| Opened { stored, mailbox });
        Ok(Some(opened))
    }

    /// The mailbox the claimed email leaves from (`None`: SES), or, when the campaign
    /// names one that cannot send, the follow-up recorded `failed` with reason
    /// `mailbox_disconnected`.
    pub(super) async fn sending_mailbox(
        &self,
        claimed: &Versioned<FollowUp>,
        settings: &Settings,
        now: DateTime<Utc>,
    ) -> Result<Result<Option<Opened>, Outcome>, ServiceError> {
        match self.mailbox_for(&claimed.value, settings).await? {
            None => Ok(Ok(None)),
            Some(Ok(opened)) => Ok(Ok(Some(opened))),
            Some(Err(detail)) => {
                let reason = Reason::MailboxDisconnected;
                let event = Event::Fail {
                    reason,
                    detail: detail.clone(),
                };
                self.save(claimed, &crate::step(&claimed.value, event, now)?)
                    .await?;
                crate::metrics::count("failed", claimed.value.channel.as_str(), reason.as_str());
                Ok(Err(Outcome::Failed { reason, detail }))
            }
        }
    }

    /// Sends from the mailbox; keeps a rotated refresh token and marks the mailbox
    /// disconnected when the provider says its consent is gone.
    pub(super) async fn send_from_mailbox(
        &self,
        followup: &FollowUp,
        opened: &Opened,
        outbound: &Outbound,
    ) -> Result<Sent, SendError> {
        let Some(sending) = &self.mailboxes else {
            return Err(SendError::Permanent {
                code: "invalid_configuration".into(),
                reason: "mailboxes are not configured".into(),
            });
        };
        let result = sending.sender.send_from(&opened.mailbox, outbound).await;
        let account = &followup.account_id;
        let mut changed = opened.stored.value.clone();
        match &result {
            Ok(sent) => {
                let Some(rotated) = &sent.rotated_refresh_token else {
                    return Ok(Sent {
                        provider_id: sent.provider_id.clone(),
                    });
                };
                let context = token_context(account, &changed.id);
                match sending
                    .sealer
                    .seal(rotated.expose().as_bytes(), &context)
                    .await
                {
                    Ok(sealed) => changed.refresh_token = sealed,
                    Err(e) => tracing::error!(error = %e, "cannot seal a rotated refresh token"),
                }
            }
            Err(SendError::Permanent { code, reason }) if code == MAILBOX_DISCONNECTED => {
                changed.status = MailboxStatus::Disconnected;
                changed.disconnected_at = Some(self.clock.now());
                changed.status_detail = Some(reason.clone());
                tracing::warn!(mailbox_id = %changed.id, %reason, "mailbox disconnected");
            }
            Err(_) => {
                return result.map(|s| Sent {
                    provider_id: s.provider_id,
                });
            }
        }
        if let Err(e) = self
            .repo
            .save_mailbox(account, &opened.stored, &changed)
            .await
        {
            tracing::error!(mailbox_id = %changed.id, error = %e, "cannot save the mailbox");
        }
        result.map(|s| Sent {
            provider_id: s.provider_id,
        })
    }
}
