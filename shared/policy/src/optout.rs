//! Opt-outs: which replies revoke consent, where a do-not-call entry came from, and
//! when the one confirmation text the FCC allows (47 CFR § 64.1200(a)(12)) may go out.
//!
//! A do-not-call entry applies to every channel of its number or address, whatever its
//! source: a STOP to an SMS also stops WhatsApp messages and follow-up calls.

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use crate::values::SenderName;

/// Where a do-not-call entry came from. Entries stored before sources existed were all
/// added by operators, hence the default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DncSource {
    /// Added through the API (`PUT /v1/dnc/{phone_or_email}`).
    #[default]
    Operator,
    /// The contact replied an opt-out word to one of our texts.
    SmsReply,
    /// The contact asked our WhatsApp number to stop, or opted out of marketing there.
    WhatsappReply,
    /// The contact used the unsubscribe link or one-click button of an email.
    Unsubscribe,
    /// The contact's mailbox provider reported our email as spam.
    Complaint,
}

impl DncSource {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Operator => "operator",
            Self::SmsReply => "sms_reply",
            Self::WhatsappReply => "whatsapp_reply",
            Self::Unsubscribe => "unsubscribe",
            Self::Complaint => "complaint",
        }
    }
}

/// The words that revoke consent when they are the whole reply: the FCC's per-se
/// reasonable ones (STOP, QUIT, END, REVOKE, OPT OUT, CANCEL, UNSUBSCRIBE) and the
/// carriers' (STOPALL, ARRET, OPTOUT, REMOVE, TD). Written as [`normalize`] leaves
/// them: "OPT OUT", "OPT-OUT" and "OPTOUT" are one word.
pub const OPT_OUT_WORDS: [&str; 11] = [
    "STOP",
    "QUIT",
    "END",
    "REVOKE",
    "OPTOUT",
    "CANCEL",
    "UNSUBSCRIBE",
    "STOPALL",
    "ARRET",
    "REMOVE",
    "TD",
];

/// Longer replies are sentences, not keywords; they are not even normalized.
const MAX_KEYWORD_REPLY_CHARS: usize = 64;

/// Whether a reply is an opt-out word, in any case, with stray spaces or punctuation
/// around or inside it ("Stop.", " opt-out ", "ARRÊT!").
pub fn is_opt_out(reply: &str) -> bool {
    if reply.chars().count() > MAX_KEYWORD_REPLY_CHARS {
        return false;
    }
    let word = normalize(reply);
    OPT_OUT_WORDS.contains(&word.as_str())
}

/// Upper-case letters and digits only, French accents folded (ARRÊT is ARRET).
fn normalize(reply: &str) -> String {
    reply
        .chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_uppercase)
        .map(|c| match c {
            'À' | 'Â' => 'A',
            'É' | 'È' | 'Ê' | 'Ë' => 'E',
            'Î' | 'Ï' => 'I',
            'Ô' => 'O',
            'Ù' | 'Û' | 'Ü' => 'U',
            other => other,
        })
        .collect()
}

/// The FCC presumes a confirmation sent within five minutes of the opt-out compliant.
pub const CONFIRMATION_WINDOW: TimeDelta = TimeDelta::minutes(5);

/// Whether the one confirmation text is still to be sent: the account turned it on,
/// none went out for this entry yet, and the opt-out is at most five minutes old (a
/// late one is no longer presumed reasonable, so none is sent).
pub fn confirmation_due(
    enabled: bool,
    opted_out_at: DateTime<Utc>,
    confirmed_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> bool {
    enabled && confirmed_at.is_none() && now - opted_out_at <= CONFIRMATION_WINDOW
}

/// The confirmation text: it only confirms, nothing else (no marketing, no link).
pub fn confirmation_text(sender: Option<&SenderName>) -> String {
    match sender {
        Some(sender) => {
            format!("{sender}: you have opted out and will receive no further messages.")
        }
        None => "You have opted out and will receive no further messages.".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_names_match_their_json() {
        for source in [
            DncSource::Operator,
            DncSource::SmsReply,
            DncSource::WhatsappReply,
            DncSource::Unsubscribe,
            DncSource::Complaint,
        ] {
            assert_eq!(serde_json::to_value(source).unwrap(), source.as_str());
        }
    }
}
