//! Which sender an email follow-up leaves through: Amazon SES (the default) or a
//! mailbox the account connected (its own Gmail or Outlook address).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::FieldError;
use crate::json::{FromJsonLeaf, as_str};
use crate::values::string_value;

/// The id of a connected mailbox: `mb_` and 32 lowercase hex digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct MailboxId(String);

impl MailboxId {
    pub fn parse(field: &str, raw: &str) -> Result<Self, FieldError> {
        let ok = raw.strip_prefix("mb_").is_some_and(|hex| {
            hex.len() == 32
                && hex
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        });
        if !ok {
            return Err(FieldError::new(
                field,
                "must be a mailbox id (mb_ and 32 lowercase hex digits)",
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}
string_value!(MailboxId, "mailbox_id");

/// Who sends an email follow-up: `ses`, or the id of a connected mailbox.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum EmailSender {
    #[default]
    Ses,
    Mailbox(MailboxId),
}

impl EmailSender {
    pub fn parse(field: &str, raw: &str) -> Result<Self, FieldError> {
        if raw == "ses" {
            return Ok(Self::Ses);
        }
        MailboxId::parse(field, raw)
            .map(Self::Mailbox)
            .map_err(|_| FieldError::new(field, "must be \"ses\" or a connected mailbox id"))
    }

    pub fn as_str(&self) -> &str {
        match self {
            Self::Ses => "ses",
            Self::Mailbox(id) => id.as_str(),
        }
    }

    /// The mailbox, when the sender is one.
    pub fn mailbox(&self) -> Option<&MailboxId> {
        match self {
            Self::Ses => None,
            Self::Mailbox(id) => Some(id),
        }
    }
}
string_value!(EmailSender, "sender");

/// Whether a mailbox can send: a connected one can; one whose consent was revoked (or
/// whose refresh token was refused) cannot until it is connected again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MailboxStatus {
    Connected,
    Disconnected,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sender_is_ses_or_a_mailbox_id() {
        assert_eq!(EmailSender::parse("s", "ses").unwrap(), EmailSender::Ses);
        let id = format!("mb_{}", "0a".repeat(16));
        assert_eq!(EmailSender::parse("s", &id).unwrap().as_str(), id);
        for bad in [
            "",
            "SES",
            "mb_",
            "mb_XYZ",
            &format!("mb_{}", "A".repeat(32)),
            "gmail",
        ] {
            let error = EmailSender::parse("email.sender", bad).unwrap_err();
            assert_eq!(error.field, "email.sender", "{bad:?}");
        }
    }
}
