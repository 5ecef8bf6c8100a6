//! Identifiers. They end up in storage keys and URL paths, so only a conservative
//! alphabet is accepted: no `/`, `#`, spaces or anything a key or a path would need to
//! escape.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::fields::FieldError;
use crate::json::{FromJsonLeaf, as_str};

const MAX_ID_LEN: usize = 128;

fn check_id(field: &str, raw: &str) -> Result<(), FieldError> {
    if raw.is_empty() {
        return Err(FieldError::new(field, "must not be empty"));
    }
    if raw.chars().count() > MAX_ID_LEN {
        return Err(FieldError::new(
            field,
            format!("must be at most {MAX_ID_LEN} characters"),
        ));
    }
    // `.` and `..` would be path segments, not ids, once in a URL.
    if raw.contains("..") || raw == "." {
        return Err(FieldError::new(field, "must not be `.` or contain `..`"));
    }
    if let Some(bad) = raw
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '-')))
    {
        return Err(FieldError::new(
            field,
            format!("contains {bad:?}; only letters, digits, '.', '_', ':' and '-' are allowed"),
        ));
    }
    Ok(())
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $field:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Parses an id; `field` names the input it came from in the error.
            pub fn parse(field: &str, raw: &str) -> Result<Self, FieldError> {
                check_id(field, raw)?;
                Ok(Self(raw.to_owned()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// A constant id known to be valid (previews use some of these).
            #[allow(dead_code)]
            pub(crate) fn fixed(raw: &'static str) -> Self {
                debug_assert!(check_id($field, raw).is_ok());
                Self(raw.to_owned())
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl TryFrom<String> for $name {
            type Error = FieldError;
            fn try_from(raw: String) -> Result<Self, FieldError> {
                check_id($field, &raw)?;
                Ok(Self(raw))
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl FromJsonLeaf for $name {
            fn from_leaf(path: &str, value: &Value) -> Result<Self, FieldError> {
                Self::parse(path, as_str(path, value)?)
            }
        }
    };
}

id_type!(
    /// The tenant. Every stored key starts with it.
    AccountId,
    "account_id"
);
id_type!(
    /// A voice agent on the voice platform (owns the call and WhatsApp follow-up settings).
    AgentId,
    "agent_id"
);
id_type!(
    /// A campaign (owns the SMS and email follow-up settings).
    CampaignId,
    "campaign_id"
);
id_type!(
    /// A contact of a campaign, as the voice platform names it.
    ContactId,
    "contact_id"
);
id_type!(
    /// One call on the voice platform.
    CallId,
    "call_id"
);
id_type!(
    /// A stored follow-up. Assigned by the caller of `decide`: the policy never makes ids.
    FollowUpId,
    "followup_id"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_accept_the_safe_alphabet() {
        for ok in ["a", "acct_1", "call-2024.05:x", &"x".repeat(128)] {
            assert!(CallId::parse("call.id", ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn ids_reject_what_would_break_a_key_or_a_path() {
        for bad in [
            "",
            "a/b",
            "a#b",
            "a b",
            "é",
            "a\nb",
            "a%2F",
            &"x".repeat(129),
        ] {
            let err = CampaignId::parse("call.campaign_id", bad).unwrap_err();
            assert_eq!(err.field, "call.campaign_id");
        }
    }

    #[test]
    fn deserializing_an_id_validates_it() {
        assert!(serde_json::from_str::<ContactId>("\"c-1\"").is_ok());
        assert!(serde_json::from_str::<ContactId>("\"c/1\"").is_err());
    }
}
