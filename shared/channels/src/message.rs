use serde::{Deserialize, Serialize};

/// One message ready to leave through one channel: already rendered, addressed and
/// checked against the policy. Senders add nothing but the provider's envelope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "channel", rename_all = "snake_case")]
pub enum Outbound {
    Sms {
        /// E.164.
        to: String,
        text: String,
        sender_id: Option<String>,
        origination_number: Option<String>,
    },
    Email {
        /// Which follow-up it is: a consent-gated email or a missed-call email.
        #[serde(default)]
        kind: EmailKind,
        from_name: String,
        from_address: String,
        to: String,
        subject: String,
        html: String,
        text: String,
        configuration_set: Option<String>,
        /// Carried to SES as message tags, e.g. `followup_id`, `account_id`.
        tags: Vec<(String, String)>,
        /// Extra headers (`List-Unsubscribe`, `List-Unsubscribe-Post`).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        headers: Vec<(String, String)>,
    },
    #[serde(rename = "whatsapp")]
    WhatsApp {
        /// E.164.
        to: String,
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
        /// E.164.
        to: String,
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
            | Outbound::Email { to, .. }
            | Outbound::WhatsApp { to, .. }
            | Outbound::Call { to, .. } => to,
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
