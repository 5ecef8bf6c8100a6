use policy::values::{EmailAddress, PhoneNumber};
use serde::{Deserialize, Serialize};

/// One message ready to leave through one channel: already rendered, addressed and
/// checked against the policy. Senders add nothing but the provider's envelope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "channel", rename_all = "snake_case")]
pub enum Outbound {
    Sms {
        to: PhoneNumber,
        #[serde(flatten)]
        sender: SmsIdentity,
        text: String,
    },
    Email {
        /// Which follow-up it is: a consent-gated email or a missed-call email.
        #[serde(default)]
        kind: EmailKind,
        to: EmailAddress,
        #[serde(flatten)]
        sender: EmailIdentity,
        #[serde(flatten)]
        content: EmailContent,
        /// Carried to SES as message tags, e.g. `followup_id`, `account_id`.
        tags: Vec<(String, String)>,
        /// Extra headers (`List-Unsubscribe`, `List-Unsubscribe-Post`).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        headers: Vec<(String, String)>,
    },
    #[serde(rename = "whatsapp")]
    WhatsApp {
        to: PhoneNumber,
        template_name: String,
        language: String,
        /// The template's body parameters, in order.
        parameters: Vec<String>,
        /// Echoed by Meta in the message's status webhooks (`biz_opaque_callback_data`):
        /// which follow-up and attempt a status belongs to.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        callback_data: Option<String>,
    },
    Call {
        to: PhoneNumber,
        agent_id: String,
        instructions: String,
        account_id: String,
        followup_id: String,
        attempt: u32,
        /// The voice platform that places the call; `None`: the generic endpoint.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        platform: Option<PlatformTarget>,
        /// Contact variables for the platform's overrides / dynamic variables
        /// (`contact_id`, `contact_name`, `campaign_id`, ...).
        #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
        variables: std::collections::BTreeMap<String, String>,
    },
}

/// Who an SMS is from. Each part may come from the deployment's environment, which is
/// not checked the way settings are, so SNS is the judge of them; empty means unset.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SmsIdentity {
    pub sender_id: Option<String>,
    pub origination_number: Option<String>,
}

/// Who an email is from. The name and address are checked by the sender, not here: they
/// may come from the deployment's environment, and a CR/LF in them must fail the send.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmailIdentity {
    #[serde(rename = "from_name")]
    pub name: String,
    #[serde(rename = "from_address")]
    pub address: String,
    pub configuration_set: Option<String>,
}

/// What an email says: its subject and both bodies (either may be empty).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmailContent {
    pub subject: String,
    pub html: String,
    pub text: String,
}

/// The two kinds of email follow-up, told apart wherever a message is shown.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EmailKind {
    #[default]
    Email,
    MissedCallEmail,
}

/// Which platform places a follow-up call, with its ids (see
/// `policy::platform::CallPlatform`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlatformTarget {
    /// `vapi`, `retell`, `bland` or `elevenlabs`.
    pub name: String,
    pub agent_id: Option<String>,
    pub from_number_id: Option<String>,
    pub from_number: Option<String>,
}

impl Outbound {
    /// `sms`, `email`, `missed_call_email`, `whatsapp` or `call`.
    pub fn channel(&self) -> &'static str {
        match self {
            Outbound::Sms { .. } => "sms",
            Outbound::Email {
                kind: EmailKind::Email,
                ..
            } => "email",
            Outbound::Email {
                kind: EmailKind::MissedCallEmail,
                ..
            } => "missed_call_email",
            Outbound::WhatsApp { .. } => "whatsapp",
            Outbound::Call { .. } => "call",
        }
    }

    /// The phone number or email address the message goes to.
    pub fn destination(&self) -> &str {
        match self {
            Outbound::Sms { to, .. }
            | Outbound::WhatsApp { to, .. }
            | Outbound::Call { to, .. } => to.as_str(),
            Outbound::Email { to, .. } => to.as_str(),
        }
    }
}

/// What the provider said it accepted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sent {
    /// The provider's id for the message or call (SNS message id, SES message id, Meta
    /// message id, the voice platform's call id, `outbox-<n>`).
    pub provider_id: String,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// The outbox and the local runtime's API show messages as this JSON: grouping the
    /// fields in Rust must not move them.
    #[test]
    fn sms_and_email_keep_their_flat_json_shape() {
        let sms = Outbound::Sms {
            to: PhoneNumber::parse("to", "+14155550123").unwrap(),
            sender: SmsIdentity {
                sender_id: Some("Acme".into()),
                origination_number: None,
            },
            text: "Hi".into(),
        };
        let email = Outbound::Email {
            kind: EmailKind::MissedCallEmail,
            to: EmailAddress::parse("to", "ana@contact.example").unwrap(),
            sender: EmailIdentity {
                name: "Acme".into(),
                address: "hello@acme.example".into(),
                configuration_set: None,
            },
            content: EmailContent {
                subject: "We missed you".into(),
                html: "<p>Sorry</p>".into(),
                text: "Sorry".into(),
            },
            tags: vec![("followup_id".into(), "fu_1".into())],
            headers: vec![],
        };
        let sms_json = json!({"channel": "sms", "to": "+14155550123", "text": "Hi",
            "sender_id": "Acme", "origination_number": null});
        let email_json = json!({"channel": "email", "kind": "missed_call_email",
            "from_name": "Acme", "from_address": "hello@acme.example",
            "to": "ana@contact.example", "subject": "We missed you", "html": "<p>Sorry</p>",
            "text": "Sorry", "configuration_set": null, "tags": [["followup_id", "fu_1"]]});

        assert_eq!(serde_json::to_value(&sms).unwrap(), sms_json);
        assert_eq!(serde_json::to_value(&email).unwrap(), email_json);
        assert_eq!(serde_json::from_value::<Outbound>(sms_json).unwrap(), sms);
        assert_eq!(
            serde_json::from_value::<Outbound>(email_json).unwrap(),
            email
        );
    }

    #[test]
    fn a_phone_number_is_not_read_where_an_email_address_belongs() {
        let email = json!({"channel": "email", "from_name": "Acme",
            "from_address": "hello@acme.example", "to": "+14155550123", "subject": "s",
            "html": "", "text": "t", "configuration_set": null, "tags": []});

        assert!(serde_json::from_value::<Outbound>(email).is_err());
    }
}
