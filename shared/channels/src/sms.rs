use std::fmt;

use aws_sdk_sns::types::MessageAttributeValue;

use crate::aws::{Repeat, classify, without_sdk_retries_sns};
use crate::{Outbound, RetryPolicy, SendError, Sender, Sent, SmsIdentity};

/// SMS through Amazon SNS `Publish` to a phone number, as a transactional message.
///
/// SNS silently drops messages to numbers on its opt-out list, so the number is checked
/// first (`CheckIfPhoneNumberIsOptedOut`) and an opted-out contact is reported as
/// [`SendError::OptedOut`] rather than as sent.
pub struct SnsSms {
    client: aws_sdk_sns::Client,
    retry: RetryPolicy,
}

impl SnsSms {
    /// Takes a client built the usual way; its SDK-level retries are turned off here
    /// because `Publish` is not idempotent (see the crate's `aws` module): throttling
    /// and refused connections are retried by [`RetryPolicy`] instead.
    pub fn new(client: &aws_sdk_sns::Client) -> Self {
        SnsSms {
            client: without_sdk_retries_sns(client),
            retry: RetryPolicy::default(),
        }
    }

    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    async fn opted_out(&self, to: &str) -> Result<bool, SendError> {
        self.retry
            .run("sns check opt-out", || async {
                self.client
                    .check_if_phone_number_is_opted_out()
                    .phone_number(to)
                    .send()
                    .await
                    .map(|o| o.is_opted_out())
                    .map_err(|e| classify(e, Repeat::Safe))
            })
            .await
    }
}

impl fmt::Debug for SnsSms {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SnsSms")
            .field("retry", &self.retry)
            .finish()
    }
}

fn string_attribute(value: &str) -> Result<MessageAttributeValue, SendError> {
    MessageAttributeValue::builder()
        .data_type("String")
        .string_value(value)
        .build()
        .map_err(|e| SendError::permanent("invalid_request", e.to_string()))
}

#[async_trait::async_trait]
impl Sender for SnsSms {
    async fn send(&self, message: &Outbound) -> Result<Sent, SendError> {
        let Outbound::Sms {
            to,
            text,
            sender:
                SmsIdentity {
                    sender_id,
                    origination_number,
                },
        } = message
        else {
            return Err(SendError::wrong_channel("SMS", message));
        };
        if self.opted_out(to.as_str()).await? {
            return Err(SendError::OptedOut);
        }
        let mut attributes = vec![("AWS.SNS.SMS.SMSType", string_attribute("Transactional")?)];
        if let Some(sender_id) = sender_id.as_deref().filter(|s| !s.is_empty()) {
            attributes.push(("AWS.SNS.SMS.SenderID", string_attribute(sender_id)?));
        }
        if let Some(number) = origination_number.as_deref().filter(|s| !s.is_empty()) {
            attributes.push(("AWS.MM.SMS.OriginationNumber", string_attribute(number)?));
        }
        let output = self
            .retry
            .run("sns publish", || async {
                let mut publish = self
                    .client
                    .publish()
                    .phone_number(to.as_str())
                    .message(text);
                for (name, value) in &attributes {
                    publish = publish.message_attributes(*name, value.clone());
                }
                publish
                    .send()
                    .await
                    .map_err(|e| classify(e, Repeat::MayDuplicate))
            })
            .await?;
        let provider_id = output.message_id().unwrap_or_default().to_owned();
        tracing::info!(channel = "sms", provider_id, "sent");
        Ok(Sent { provider_id })
    }
}
