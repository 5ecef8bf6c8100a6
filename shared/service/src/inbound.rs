//! What contacts and mailbox providers send back, delivered by SNS to the `inbound`
//! function: two-way SMS replies (AWS End User Messaging SMS publishes each reply to
//! an SNS topic) and SES events of the configuration set (bounces, complaints).
//!
//! - A reply that is an opt-out word puts the sender on the do-not-call list of the
//!   account that owns the number it was sent to (`sms_origination_number` in the
//!   account's settings; the `ORIGINATION#{number}` item maps it back), cancels the
//!   sender's open follow-ups, and, when the account turns it on, sends the one
//!   confirmation text within five minutes. A reply to a number no account owns is
//!   acknowledged and ignored.
//! - An SES complaint puts the address on the list of the account named by the email's
//!   `account_id` tag; a permanent bounce marks the address undeliverable (no more
//!   email to it, other channels unaffected).
//!
//! Parsing is strict: a record that is not one of these shapes is an error, so the
//! invocation fails, Lambda retries it twice and then leaves it in the dead-letter
//! queue; nothing panics on any input.

use std::sync::Arc;

use channels::{Outbound, SendError, Sender, SmsIdentity};
use policy::{AccountId, Destination, DncSource, EmailAddress, PhoneNumber};
use serde::Deserialize;
use serde_json::Value;

use crate::Engine;
use crate::error::ServiceError;
use crate::repository::DncEntry;

/// Lambda's SNS event: the records SNS delivered in one invocation.
#[derive(Debug, Deserialize)]
pub struct SnsEvent {
    #[serde(rename = "Records")]
    pub records: Vec<SnsRecord>,
}

#[derive(Debug, Deserialize)]
pub struct SnsRecord {
    #[serde(rename = "Sns")]
    pub sns: SnsNotification,
}

/// The SNS notification; `message` is the publisher's text (JSON for both sources).
#[derive(Debug, Deserialize)]
pub struct SnsNotification {
    #[serde(rename = "Type")]
    pub kind: String,
    #[serde(rename = "MessageId")]
    pub message_id: String,
    #[serde(rename = "TopicArn")]
    pub topic_arn: String,
    #[serde(rename = "Message")]
    pub message: String,
}

/// A two-way SMS reply as End User Messaging SMS publishes it.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TwoWaySms {
    /// The contact's number (the reply's sender).
    pub origination_number: String,
    /// Our number, which the reply was sent to.
    pub destination_number: String,
    pub message_body: String,
    pub inbound_message_id: String,
    #[serde(default)]
    pub message_keyword: Option<String>,
    #[serde(default)]
    pub previous_published_message_id: Option<String>,
}

/// An SES event published by a configuration set's SNS event destination.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SesEvent {
    pub event_type: String,
    pub mail: SesMail,
    #[serde(default)]
    pub bounce: Option<SesBounce>,
    #[serde(default)]
    pub complaint: Option<SesComplaint>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SesMail {
    pub message_id: String,
    /// The email's tags: `account_id` is set by the executor on every email.
    #[serde(default)]
    pub tags: std::collections::BTreeMap<String, Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SesBounce {
    pub bounce_type: String,
    pub bounced_recipients: Vec<SesRecipient>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SesComplaint {
    pub complained_recipients: Vec<SesRecipient>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SesRecipient {
    pub email_address: String,
}

/// One SNS message, parsed.
#[derive(Debug)]
pub enum InboundMessage {
    Sms(TwoWaySms),
    Ses(SesEvent),
}

/// Why a record could not be handled.
#[derive(Debug, thiserror::Error)]
pub enum InboundError {
    /// Not a shape we know: retried by Lambda, then kept in the dead-letter queue.
    #[error("malformed inbound message: {0}")]
    Malformed(String),
    #[error(transparent)]
    Service(#[from] ServiceError),
    /// The confirmation text could not be sent yet; retrying may succeed.
    #[error("confirmation text not sent: {0}")]
    Confirmation(String),
}

/// What handling one message did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Handled {
    /// Acknowledged, nothing to do (not an opt-out, unknown number, untagged email,
    /// an event we do not act on).
    Ignored(&'static str),
    /// On the do-not-call list now; `cancelled` follow-ups; whether a confirmation
    /// text went out.
    OptedOut { cancelled: usize, confirmed: bool },
    /// Addresses marked undeliverable after a permanent bounce.
    Undeliverable(usize),
}

/// The largest SNS message we read (SNS allows 256 KiB).
const MAX_MESSAGE_BYTES: usize = 256 * 1024;

/// Parses the publisher's text of one notification.
pub fn parse_message(notification: &SnsNotification) -> Result<InboundMessage, InboundError> {
    if notification.kind != "Notification" {
        return Err(InboundError::Malformed(format!(
            "SNS record of type {:?}",
            notification.kind
        )));
    }
    if notification.message.len() > MAX_MESSAGE_BYTES {
        return Err(InboundError::Malformed("message over 256 KiB".into()));
    }
    let value: Value = serde_json::from_str(&notification.message)
        .map_err(|e| InboundError::Malformed(format!("message is not JSON: {e}")))?;
    let shape = |e: serde_json::Error| InboundError::Malformed(e.to_string());
    if value.get("inboundMessageId").is_some() {
        serde_json::from_value(value)
            .map(InboundMessage::Sms)
            .map_err(shape)
    } else if value.get("eventType").is_some() {
        serde_json::from_value(value)
            .map(InboundMessage::Ses)
            .map_err(shape)
    } else {
        Err(InboundError::Malformed(
            "neither a two-way SMS nor an SES event".into(),
        ))
    }
}

/// The `inbound` use case: the engine plus the SMS sender for confirmation texts.
pub struct Inbound {
    engine: Arc<Engine>,
    sms: Option<Arc<dyn Sender>>,
}

impl Inbound {
    pub fn new(engine: Arc<Engine>, sms: Option<Arc<dyn Sender>>) -> Self {
        Self { engine, sms }
    }

    /// Handles every record of one Lambda invocation; the first failure fails it (SNS
    /// delivers one record per invocation, so nothing else is held back).
    pub async fn on_event(&self, event: &SnsEvent) -> Result<Vec<Handled>, InboundError> {
        let mut handled = Vec::new();
        for record in &event.records {
            let outcome = match parse_message(&record.sns) {
                Ok(message) => self.handle(message).await,
                Err(e) => Err(e),
            };
            match outcome {
                Ok(done) => {
                    tracing::info!(message_id = %record.sns.message_id, outcome = ?done, "inbound message handled");
                    handled.push(done);
                }
                Err(e) => {
                    tracing::error!(message_id = %record.sns.message_id, topic = %record.sns.topic_arn, error = %e, "inbound message failed");
                    return Err(e);
                }
            }
        }
        Ok(handled)
    }

    pub async fn handle(&self, message: InboundMessage) -> Result<Handled, InboundError> {
        match message {
            InboundMessage::Sms(sms) => self.on_sms_reply(&sms).await,
            InboundMessage::Ses(event) => self.on_ses_event(&event).await,
        }
    }

    async fn on_sms_reply(&self, sms: &TwoWaySms) -> Result<Handled, InboundError> {
        let malformed = |e: policy::FieldError| InboundError::Malformed(e.to_string());
        let contact =
            PhoneNumber::parse("originationNumber", &sms.origination_number).map_err(malformed)?;
        let ours =
            PhoneNumber::parse("destinationNumber", &sms.destination_number).map_err(malformed)?;
        let Some(account) = self.engine.repo.origination_owner(&ours).await? else {
            return Ok(Handled::Ignored("a reply to a number no account owns"));
        };
        self.sms_reply_for(&account, contact, Some(ours), &sms.message_body)
            .await
    }

    /// A reply already attributed to `account` (the local runtime's simulated replies
    /// come in here too). `ours` is the number it was sent to, the confirmation's sender.
    pub async fn sms_reply_for(
        &self,
        account: &AccountId,
        contact: PhoneNumber,
        ours: Option<PhoneNumber>,
        body: &str,
    ) -> Result<Handled, InboundError> {
        if !policy::is_opt_out(body) {
            return Ok(Handled::Ignored("not an opt-out word"));
        }
        let destination = Destination::Phone(contact.clone());
        let done = self
            .engine
            .opt_out(account, &destination, DncSource::SmsReply)
            .await?;
        let confirmed = self.confirm(account, &done.entry, contact, ours).await?;
        Ok(Handled::OptedOut {
            cancelled: done.cancelled.len(),
            confirmed,
        })
    }

    /// Sends the one confirmation text when it is due, claiming it first so a
    /// redelivered reply does not send another.
    async fn confirm(
        &self,
        account: &AccountId,
        entry: &DncEntry,
        contact: PhoneNumber,
        ours: Option<PhoneNumber>,
    ) -> Result<bool, InboundError> {
        let now = self.engine.clock.now();
        let settings = self.engine.account_settings(account).await?.value;
        let due =
            policy::confirmation_due(settings.sms_opt_out_confirmation, entry.added_at, None, now);
        let Some(sender) = self.sms.as_ref().filter(|_| due) else {
            return Ok(false);
        };
        if !self
            .engine
            .repo
            .claim_optout_confirmation(account, entry, now)
            .await?
        {
            return Ok(false);
        }
        let message = Outbound::Sms {
            to: contact.clone(),
            sender: SmsIdentity {
                sender_id: settings.sms_sender_id.map(|s| s.as_str().to_string()),
                origination_number: ours
                    .or(settings.sms_origination_number)
                    .map(|n| n.as_str().to_string()),
            },
            text: policy::confirmation_text(settings.default_sender_name.as_ref()),
        };
        match sender.send_for(account.as_str(), &message).await {
            Ok(_) => Ok(true),
            Err(SendError::Retryable { reason }) => {
                self.engine
                    .repo
                    .release_optout_confirmation(account, entry)
                    .await?;
                Err(InboundError::Confirmation(reason))
            }
            // Never resent: the provider refused it for good or may have sent it.
            Err(e) => {
                tracing::warn!(account = %account, error = %e, "opt-out confirmation not sent");
                Ok(false)
            }
        }
    }

    async fn on_ses_event(&self, event: &SesEvent) -> Result<Handled, InboundError> {
        let Some(account) = event
            .mail
            .tags
            .get("account_id")
            .and_then(|values| values.first())
            .and_then(|raw| AccountId::parse("account_id", raw).ok())
        else {
            return Ok(Handled::Ignored("an email without our account_id tag"));
        };
        match (event.event_type.as_str(), &event.complaint, &event.bounce) {
            ("Complaint", Some(complaint), _) => {
                let mut cancelled = 0;
                for recipient in &complaint.complained_recipients {
                    let address = parse_address(&recipient.email_address)?;
                    let done = self
                        .engine
                        .opt_out(&account, &Destination::Email(address), DncSource::Complaint)
                        .await?;
                    cancelled += done.cancelled.len();
                }
                Ok(Handled::OptedOut {
                    cancelled,
                    confirmed: false,
                })
            }
            ("Bounce", _, Some(bounce)) if bounce.bounce_type == "Permanent" => {
                let now = self.engine.clock.now();
                for recipient in &bounce.bounced_recipients {
                    let address = parse_address(&recipient.email_address)?;
                    self.engine
                        .repo
                        .mark_undeliverable(&account, &address, now)
                        .await?;
                }
                Ok(Handled::Undeliverable(bounce.bounced_recipients.len()))
            }
            ("Bounce", _, Some(_)) => Ok(Handled::Ignored("a transient bounce")),
            ("Complaint" | "Bounce", _, _) => Err(InboundError::Malformed(format!(
                "{} event without its {} object",
                event.event_type,
                event.event_type.to_lowercase()
            ))),
            _ => Ok(Handled::Ignored("an SES event we do not act on")),
        }
    }
}

fn parse_address(raw: &str) -> Result<EmailAddress, InboundError> {
    EmailAddress::parse("emailAddress", raw).map_err(|e| InboundError::Malformed(e.to_string()))
}
