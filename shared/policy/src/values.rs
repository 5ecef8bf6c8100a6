//! Domain values. Each one can only be built through a fallible constructor, so a value
//! that exists is valid; errors name the field the value came from.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::fields::FieldError;
use crate::json::{FromJsonLeaf, as_str};
use crate::zone::Zone;

/// Implements the serde and JSON-reader plumbing for a type with
/// `fn parse(field: &str, raw: &str) -> Result<Self, FieldError>` and `fn as_str(&self)`.
/// Serde reads through `parse` unless another reader is named (see [`PhoneNumber`]).
macro_rules! string_value {
    ($name:ident, $field:literal) => {
        string_value!($name, $field, $name::parse);
    };
    ($name:ident, $field:literal, $deserialize:path) => {
        impl TryFrom<String> for $name {
            type Error = FieldError;
            fn try_from(raw: String) -> Result<Self, FieldError> {
                $deserialize($field, &raw)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.as_str().to_owned()
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromJsonLeaf for $name {
            fn from_leaf(path: &str, value: &Value) -> Result<Self, FieldError> {
                Self::parse(path, as_str(path, value)?)
            }
        }
    };
}
pub(crate) use string_value;

/// A phone number in E.164 form (`+14155550123`), checked against the numbering plan.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PhoneNumber(String);

impl PhoneNumber {
    pub fn parse(field: &str, raw: &str) -> Result<Self, FieldError> {
        let invalid = || {
            FieldError::new(
                field,
                "must be a valid phone number in E.164 form, like +14155550123",
            )
        };
        // E.164 is exactly '+' and up to 15 digits; anything else (spaces, dashes, national
        // form) is refused rather than guessed, because a wrong guess texts a stranger.
        let digits = raw.strip_prefix('+').ok_or_else(invalid)?;
        if digits.is_empty() || digits.len() > 15 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid());
        }
        crate::numbering::e164(digits).map(Self).ok_or_else(invalid)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}
impl PhoneNumber {
    /// Serde's reader: the E.164 shape only (`+`, then 7 to 15 digits, not starting
    /// with 0). Numbers reach storage through [`PhoneNumber::parse`] (every JSON reader
    /// and operator input uses it); re-checking them against the numbering plan each
    /// time a stored follow-up is read back would be work for nothing.
    pub fn from_stored(field: &str, raw: &str) -> Result<Self, FieldError> {
        let digits = raw.strip_prefix('+').unwrap_or_default();
        let shaped = (7..=15).contains(&digits.len())
            && digits.bytes().all(|b| b.is_ascii_digit())
            && !digits.starts_with('0');
        if shaped {
            Ok(PhoneNumber(raw.to_owned()))
        } else {
            Err(FieldError::new(
                field,
                "must be a phone number in E.164 form, like +14155550123",
            ))
        }
    }
}

string_value!(PhoneNumber, "phone", PhoneNumber::from_stored);

/// An email address: one `@`, a plain local part and a domain with a dot. The domain is
/// lower-cased so the do-not-call list matches however it was typed.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EmailAddress(String);

impl EmailAddress {
    pub fn parse(field: &str, raw: &str) -> Result<Self, FieldError> {
        let invalid =
            |why: &str| FieldError::new(field, format!("must be an email address ({why})"));
        if raw.len() > 254 {
            return Err(invalid("at most 254 characters"));
        }
        let (local, domain) = raw.split_once('@').ok_or_else(|| invalid("missing '@'"))?;
        let local_ok = !local.is_empty()
            && local.len() <= 64
            && !local.starts_with('.')
            && !local.ends_with('.')
            && !local.contains("..")
            && local
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c));
        if !local_ok {
            return Err(invalid("the part before '@' is not valid"));
        }
        let labels: Vec<&str> = domain.split('.').collect();
        let domain_ok = labels.len() >= 2
            && labels.iter().all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && !label.starts_with('-')
                    && !label.ends_with('-')
                    && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            })
            && labels
                .last()
                .is_some_and(|tld| tld.len() >= 2 && tld.chars().all(|c| c.is_ascii_alphabetic()));
        if !domain_ok {
            return Err(invalid("the domain is not valid"));
        }
        Ok(Self(format!("{local}@{}", domain.to_ascii_lowercase())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}
string_value!(EmailAddress, "email");

/// An IANA time zone (`America/New_York`), from the database compiled into the binary
/// ([`crate::zone`]). Any letter case is accepted; the database's spelling is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TimeZone(Zone);

impl TimeZone {
    pub const UTC: TimeZone = TimeZone(Zone::UTC);

    pub fn parse(field: &str, raw: &str) -> Result<Self, FieldError> {
        Zone::get(raw)
            .map(Self)
            .ok_or_else(|| FieldError::new(field, format!("unknown IANA time zone {raw:?}")))
    }

    /// The zone chrono computes local times with.
    pub fn tz(&self) -> Zone {
        self.0
    }

    pub fn as_str(&self) -> &str {
        self.0.name()
    }
}
string_value!(TimeZone, "time_zone");

impl From<Zone> for TimeZone {
    fn from(zone: Zone) -> Self {
        Self(zone)
    }
}

impl Default for TimeZone {
    fn default() -> Self {
        Self::UTC
    }
}

/// USPS codes of the states, DC and the inhabited territories.
const US_STATES: [&str; 56] = [
    "AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "DC", "FL", "GA", "HI", "ID", "IL", "IN", "IA",
    "KS", "KY", "LA", "ME", "MD", "MA", "MI", "MN", "MS", "MO", "MT", "NE", "NV", "NH", "NJ", "NM",
    "NY", "NC", "ND", "OH", "OK", "OR", "PA", "RI", "SC", "SD", "TN", "TX", "UT", "VT", "VA", "WA",
    "WV", "WI", "WY", "PR", "VI", "GU", "AS", "MP",
];

/// A US state (or DC, or a territory) by its two-letter USPS code, upper case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct UsState(u8);

impl UsState {
    /// `"FL"` or `"fl"`; anything but a USPS state, DC or territory code is refused.
    pub fn parse(field: &str, raw: &str) -> Result<Self, FieldError> {
        let upper = raw.trim().to_ascii_uppercase();
        US_STATES
            .iter()
            .position(|code| *code == upper)
            .map(|index| Self(index as u8))
            .ok_or_else(|| {
                FieldError::new(
                    field,
                    format!("must be a two-letter US state code like FL, got {raw:?}"),
                )
            })
    }

    pub fn as_str(&self) -> &'static str {
        US_STATES[usize::from(self.0)]
    }
}
string_value!(UsState, "state");

/// A scheduling link (Calendly and the like): https only, no credentials, so it is safe
/// to put in an SMS or an email.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct MeetingLink(String);

impl MeetingLink {
    pub const MAX_LEN: usize = 256;

    pub fn parse(field: &str, raw: &str) -> Result<Self, FieldError> {
        if raw.len() > Self::MAX_LEN {
            return Err(FieldError::new(
                field,
                format!("must be at most {} characters", Self::MAX_LEN),
            ));
        }
        let url = url::Url::parse(raw)
            .map_err(|_| FieldError::new(field, "must be an absolute https:// URL"))?;
        if url.scheme() != "https" {
            return Err(FieldError::new(field, "must use https://"));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(FieldError::new(field, "must have a host"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(FieldError::new(field, "must not contain credentials"));
        }
        Ok(Self(url.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}
string_value!(MeetingLink, "meeting_link");

/// Rejects control characters (CR, LF, tabs, ...) in text that ends up on one line.
pub(crate) fn single_line(field: &str, raw: &str, max_chars: usize) -> Result<String, FieldError> {
    let text = raw.trim();
    if text.chars().any(char::is_control) {
        return Err(FieldError::new(
            field,
            "must not contain line breaks or control characters",
        ));
    }
    if text.chars().count() > max_chars {
        return Err(FieldError::new(
            field,
            format!("must be at most {max_chars} characters"),
        ));
    }
    Ok(text.to_owned())
}

/// A sender name shown in an SMS and in an email `From:` header: one line, no angle
/// brackets or quotes (which could forge an address in the header).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SenderName(String);

impl SenderName {
    pub const MAX_CHARS: usize = 64;

    pub fn parse(field: &str, raw: &str) -> Result<Self, FieldError> {
        let text = single_line(field, raw, Self::MAX_CHARS)?;
        if text.is_empty() {
            return Err(FieldError::new(field, "must not be empty"));
        }
        if text.contains(['<', '>', '"']) {
            return Err(FieldError::new(field, "must not contain '<', '>' or '\"'"));
        }
        Ok(Self(text))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}
string_value!(SenderName, "sender_name");

/// SMS sender id (alphanumeric, 1–11 characters with at least one letter), where the
/// destination country supports them.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SmsSenderId(String);

impl SmsSenderId {
    pub fn parse(field: &str, raw: &str) -> Result<Self, FieldError> {
        let ok = (1..=11).contains(&raw.len())
            && raw.chars().all(|c| c.is_ascii_alphanumeric())
            && raw.chars().any(|c| c.is_ascii_alphabetic());
        if !ok {
            return Err(FieldError::new(
                field,
                "must be 1 to 11 letters or digits, with at least one letter",
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}
string_value!(SmsSenderId, "sms_sender_id");

/// A name made of `[A-Za-z0-9_-]`, as SES configuration sets are.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ConfigurationSet(String);

impl ConfigurationSet {
    pub fn parse(field: &str, raw: &str) -> Result<Self, FieldError> {
        let ok = (1..=64).contains(&raw.len())
            && raw
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !ok {
            return Err(FieldError::new(
                field,
                "must be 1 to 64 letters, digits, '_' or '-'",
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}
string_value!(ConfigurationSet, "email_configuration_set");

/// Where a follow-up goes: a phone number (SMS, WhatsApp, call) or an email address.
/// Also what the do-not-call list holds. Written as the bare string: numbers start with
/// `+`, addresses contain `@`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Destination {
    Phone(PhoneNumber),
    Email(EmailAddress),
}

impl Destination {
    pub fn parse(field: &str, raw: &str) -> Result<Self, FieldError> {
        if raw.starts_with('+') {
            PhoneNumber::parse(field, raw).map(Self::Phone)
        } else if raw.contains('@') {
            EmailAddress::parse(field, raw).map(Self::Email)
        } else {
            Err(FieldError::new(
                field,
                "must be an E.164 phone number or an email address",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Self::Phone(phone) => phone.as_str(),
            Self::Email(email) => email.as_str(),
        }
    }

    /// How the do-not-call list matches this destination: a number as written (E.164
    /// is already canonical), an address case-insensitively, whole address. Two
    /// destinations with the same key are the same entry of the list.
    pub fn dnc_match_key(&self) -> String {
        match self {
            Self::Phone(phone) => phone.as_str().to_owned(),
            Self::Email(email) => email.as_str().to_ascii_lowercase(),
        }
    }

    pub fn phone(&self) -> Option<&PhoneNumber> {
        match self {
            Self::Phone(phone) => Some(phone),
            Self::Email(_) => None,
        }
    }

    pub fn email(&self) -> Option<&EmailAddress> {
        match self {
            Self::Email(email) => Some(email),
            Self::Phone(_) => None,
        }
    }
}
impl Destination {
    /// Serde's reader: a stored destination, numbers checked for shape only (see
    /// [`PhoneNumber::from_stored`]).
    pub fn from_stored(field: &str, raw: &str) -> Result<Self, FieldError> {
        if raw.starts_with('+') {
            PhoneNumber::from_stored(field, raw).map(Self::Phone)
        } else {
            Self::parse(field, raw)
        }
    }
}

string_value!(Destination, "destination", Destination::from_stored);

impl From<PhoneNumber> for Destination {
    fn from(phone: PhoneNumber) -> Self {
        Self::Phone(phone)
    }
}

impl From<EmailAddress> for Destination {
    fn from(email: EmailAddress) -> Self {
        Self::Email(email)
    }
}

/// How the call ended, as the voice platform reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallOutcome {
    /// Answered by the contact.
    Completed,
    NoAnswer,
    Busy,
    Voicemail,
    /// A transient failure (network, carrier): worth retrying.
    Failed,
    /// The contact rejected the call.
    Declined,
    InvalidNumber,
}

impl CallOutcome {
    pub const ALL: [CallOutcome; 7] = [
        Self::Completed,
        Self::NoAnswer,
        Self::Busy,
        Self::Voicemail,
        Self::Failed,
        Self::Declined,
        Self::InvalidNumber,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Completed => "completed",
            Self::NoAnswer => "no_answer",
            Self::Busy => "busy",
            Self::Voicemail => "voicemail",
            Self::Failed => "failed",
            Self::Declined => "declined",
            Self::InvalidNumber => "invalid_number",
        }
    }

    pub fn parse(field: &str, raw: &str) -> Result<Self, FieldError> {
        Self::ALL
            .into_iter()
            .find(|o| o.as_str() == raw)
            .ok_or_else(|| {
                FieldError::new(
                    field,
                    format!(
                        "unknown call outcome {raw:?}; expected one of {}",
                        names(&Self::ALL.map(Self::as_str))
                    ),
                )
            })
    }

    /// The contact picked up.
    pub fn answered(self) -> bool {
        self == Self::Completed
    }

    /// The phone rang and nobody (or only a voicemail) picked up: a "missed call".
    /// `failed` is a platform or carrier failure, `declined` a contact who refused the
    /// call, `invalid_number` nobody at all; none of those is a missed call.
    pub fn missed(self) -> bool {
        matches!(self, Self::NoAnswer | Self::Busy | Self::Voicemail)
    }

    /// Worth calling again later: missed, or a transient failure.
    pub fn retryable(self) -> bool {
        self.missed() || self == Self::Failed
    }
}

impl FromJsonLeaf for CallOutcome {
    fn from_leaf(path: &str, value: &Value) -> Result<Self, FieldError> {
        Self::parse(path, as_str(path, value)?)
    }
}

pub(crate) fn names(names: &[&str]) -> String {
    names.join(", ")
}

/// Consent heard on the call, per channel. Absent means no.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Consent {
    #[serde(default)]
    pub sms: bool,
    #[serde(default)]
    pub email: bool,
    #[serde(default)]
    pub whatsapp: bool,
}

/// The five fixed SMS templates. Their wording lives in `render::sms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SmsTemplate {
    MeetingRequest,
    NextStep,
    AppointmentConfirmation,
    ConversationSummary,
    OfferPromo,
}

impl SmsTemplate {
    pub const ALL: [SmsTemplate; 5] = [
        Self::MeetingRequest,
        Self::NextStep,
        Self::AppointmentConfirmation,
        Self::ConversationSummary,
        Self::OfferPromo,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::MeetingRequest => "meeting_request",
            Self::NextStep => "next_step",
            Self::AppointmentConfirmation => "appointment_confirmation",
            Self::ConversationSummary => "conversation_summary",
            Self::OfferPromo => "offer_promo",
        }
    }

    pub fn parse(field: &str, raw: &str) -> Result<Self, FieldError> {
        Self::ALL
            .into_iter()
            .find(|t| t.as_str() == raw)
            .ok_or_else(|| {
                FieldError::new(
                    field,
                    format!(
                        "unknown SMS template {raw:?}; expected one of {}",
                        names(&Self::ALL.map(Self::as_str))
                    ),
                )
            })
    }
}

impl FromJsonLeaf for SmsTemplate {
    fn from_leaf(path: &str, value: &Value) -> Result<Self, FieldError> {
        Self::parse(path, as_str(path, value)?)
    }
}

/// Control characters (CR, LF, tabs) become spaces and runs of whitespace collapse:
/// for text from the call that ends up on one line (a name in a subject, an SMS slot).
pub(crate) fn normalize_line(raw: &str) -> String {
    raw.split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_numbers_must_be_e164_and_real() {
        assert_eq!(
            PhoneNumber::parse("contact.phone", "+14155552671")
                .unwrap()
                .as_str(),
            "+14155552671"
        );
        assert!(PhoneNumber::parse("contact.phone", "+447911123456").is_ok());
        for bad in [
            "4155552671",
            "+1 415 555 2671",
            "+1",
            "+1415555267a",
            "+99912345678",
            "",
            "+",
        ] {
            let err = PhoneNumber::parse("contact.phone", bad).unwrap_err();
            assert_eq!(err.field, "contact.phone", "{bad}");
        }
    }

    #[test]
    fn email_addresses_are_checked_and_their_domain_lowercased() {
        assert_eq!(
            EmailAddress::parse("contact.email", "Ana.Diaz+x@Example.COM")
                .unwrap()
                .as_str(),
            "Ana.Diaz+x@example.com"
        );
        for bad in [
            "",
            "ana",
            "ana@",
            "@x.com",
            "ana@x",
            "ana@@x.com",
            "a na@x.com",
            "ana@x.com\r\nBcc: y@z.com",
            "ana@-x.com",
            ".a@x.com",
        ] {
            assert!(EmailAddress::parse("contact.email", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn time_zones_are_iana_names() {
        assert_eq!(
            TimeZone::parse("tz", "America/Santiago").unwrap().as_str(),
            "America/Santiago"
        );
        assert!(TimeZone::parse("tz", "Mars/Olympus").is_err());
        assert!(TimeZone::parse("tz", "").is_err());
    }

    #[test]
    fn meeting_links_must_be_https_without_credentials() {
        assert!(MeetingLink::parse("m", "https://cal.example.com/ana").is_ok());
        for bad in [
            "http://cal.example.com",
            "javascript:alert(1)",
            "https://u:p@cal.example.com",
            "cal.example.com",
            "data:text/html,x",
        ] {
            assert!(MeetingLink::parse("m", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn sender_names_are_header_safe() {
        assert_eq!(
            SenderName::parse("s", "  Ana from Acme ").unwrap().as_str(),
            "Ana from Acme"
        );
        for bad in [
            "",
            "Ana\r\nBcc: x@y.com",
            "Ana\nX",
            "Ana <a@b.com>",
            "\"Ana\"",
            &"a".repeat(65),
        ] {
            assert!(SenderName::parse("s", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn destinations_parse_from_their_string_form() {
        assert!(matches!(
            Destination::parse("d", "+14155552671"),
            Ok(Destination::Phone(_))
        ));
        assert!(matches!(
            Destination::parse("d", "a@b.co"),
            Ok(Destination::Email(_))
        ));
        assert!(Destination::parse("d", "hello").is_err());
        let json = serde_json::to_string(&Destination::parse("d", "a@b.co").unwrap()).unwrap();
        assert_eq!(json, "\"a@b.co\"");
    }

    #[test]
    fn missed_calls_are_no_answer_busy_and_voicemail() {
        let missed: Vec<_> = CallOutcome::ALL
            .into_iter()
            .filter(|o| o.missed())
            .collect();
        assert_eq!(
            missed,
            [
                CallOutcome::NoAnswer,
                CallOutcome::Busy,
                CallOutcome::Voicemail
            ]
        );
        assert!(CallOutcome::Failed.retryable());
        assert!(!CallOutcome::Declined.retryable());
    }
}
