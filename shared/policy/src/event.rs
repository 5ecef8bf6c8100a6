//! The `call.completed` webhook body (README, "The API"), parsed into values that are valid by
//! construction. Unknown fields are ignored here (unlike settings): providers add fields
//! over time and that must not break the webhook.

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::Serialize;
use serde_json::Value;

use crate::fields::{FieldError, ValidationErrors};
use crate::ids::{AgentId, CallId, CampaignId, ContactId, FollowUpId};
use crate::json::{Errors, FromJson, FromJsonLeaf, Obj, as_str};
use crate::values::{
    CallOutcome, Consent, EmailAddress, PhoneNumber, TimeZone, UsState, normalize_line,
};
use crate::vocabulary::Channel;
use crate::wallclock::local_to_utc;

/// The only event type acted upon.
pub const CALL_COMPLETED: &str = "call.completed";

pub const MAX_NAME_CHARS: usize = 200;
pub const MAX_SUMMARY_CHARS: usize = 20_000;
pub const MAX_REASON_CHARS: usize = 2_000;
pub const MAX_LOCATION_CHARS: usize = 300;
pub const MAX_END_REASON_CHARS: usize = 300;

/// A webhook body: a call that ended, or another event acknowledged and ignored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
// One value per request, matched right away: boxing the call would only make callers'
// patterns clumsier.
#[allow(clippy::large_enum_variant)]
pub enum WebhookEvent {
    CallCompleted(CallCompleted),
    Ignored { event_type: String },
}

/// Parses a webhook body. Malformed JSON is one error on `body`; otherwise every invalid
/// field is reported.
pub fn parse_event(body: &[u8]) -> Result<WebhookEvent, ValidationErrors> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| ValidationErrors::single("body", format!("malformed JSON: {e}")))?;
    let mut errors = Errors::default();
    let Some(obj) = Obj::new("", &value, &[], false, &mut errors) else {
        return errors.finish(None);
    };
    let event_type: Option<String> = obj.required("type", &mut errors);
    let Some(event_type) = event_type else {
        return errors.finish(None);
    };
    if event_type != CALL_COMPLETED {
        return Ok(WebhookEvent::Ignored { event_type });
    }
    let event = CallCompleted::from_json_at("", &value, &mut errors);
    errors.finish(event).map(WebhookEvent::CallCompleted)
}

/// Reads a `call.completed` body already parsed as JSON (the platform adapters build
/// one from a native body), reporting every invalid field.
pub fn parse_call_completed(value: &Value) -> Result<CallCompleted, ValidationErrors> {
    let mut errors = Errors::default();
    let event = CallCompleted::from_json_at("", value, &mut errors);
    errors.finish(event)
}

/// A time from the call analysis: an instant (RFC 3339) or a local date-time without an
/// offset, which means the contact's local time and is resolved when deciding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum EventTime {
    Instant(DateTime<Utc>),
    Local(NaiveDateTime),
}

impl EventTime {
    pub fn parse(field: &str, raw: &str) -> Result<Self, FieldError> {
        if let Ok(instant) = DateTime::parse_from_rfc3339(raw) {
            return Ok(Self::Instant(instant.with_timezone(&Utc)));
        }
        const LOCAL_FORMATS: [&str; 4] = [
            "%Y-%m-%dT%H:%M:%S%.f",
            "%Y-%m-%dT%H:%M",
            "%Y-%m-%d %H:%M:%S%.f",
            "%Y-%m-%d %H:%M",
        ];
        LOCAL_FORMATS
            .iter()
            .find_map(|format| NaiveDateTime::parse_from_str(raw, format).ok())
            .map(Self::Local)
            .ok_or_else(|| {
                FieldError::new(
                    field,
                    "must be an RFC 3339 date-time or a local date-time like 2024-05-14T15:00",
                )
            })
    }

    /// The instant, reading a local date-time in `zone` (DST gap: first instant after;
    /// fold: the earlier one).
    pub fn resolve(self, zone: TimeZone) -> DateTime<Utc> {
        match self {
            Self::Instant(instant) => instant,
            Self::Local(local) => local_to_utc(zone, local),
        }
    }
}

impl FromJsonLeaf for EventTime {
    fn from_leaf(path: &str, value: &Value) -> Result<Self, FieldError> {
        Self::parse(path, as_str(path, value)?)
    }
}

/// An RFC 3339 instant.
struct Instant(DateTime<Utc>);

impl FromJsonLeaf for Instant {
    fn from_leaf(path: &str, value: &Value) -> Result<Self, FieldError> {
        DateTime::parse_from_rfc3339(as_str(path, value)?)
            .map(|t| Instant(t.with_timezone(&Utc)))
            .map_err(|_| FieldError::new(path, "must be an RFC 3339 date-time"))
    }
}

/// Reads a free text, normalized to one line or kept with its lines, bounded.
fn text(
    obj: &Obj<'_>,
    key: &str,
    max_chars: usize,
    one_line: bool,
    errors: &mut Errors,
) -> Option<String> {
    let raw: String = obj.optional(key, errors)?;
    let text = if one_line {
        normalize_line(&raw)
    } else {
        raw.trim().to_owned()
    };
    if text.chars().count() > max_chars {
        errors.push(FieldError::new(
            obj.path(key),
            format!("must be at most {max_chars} characters"),
        ));
        return None;
    }
    (!text.is_empty()).then_some(text)
}

/// The call itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Call {
    pub id: CallId,
    pub agent_id: AgentId,
    pub campaign_id: CampaignId,
    pub outcome: CallOutcome,
    /// Set when this call was itself a follow-up call.
    pub followup_id: Option<FollowUpId>,
    pub started_at: Option<DateTime<Utc>>,
    pub ended_at: DateTime<Utc>,
    /// The voice platform's own end reason when it was mapped from a native body
    /// (`vapi endedReason customer-busy`), kept for the decision trace.
    pub end_reason: Option<String>,
}

impl Call {
    /// The outcome as a trace line reads it: `busy`, or `failed (vapi endedReason x)`.
    pub fn outcome_description(&self) -> String {
        match &self.end_reason {
            Some(raw) => format!("{} ({raw})", self.outcome.as_str()),
            None => self.outcome.as_str().to_owned(),
        }
    }
}

impl FromJson for Call {
    fn from_json_at(path: &str, value: &Value, errors: &mut Errors) -> Option<Self> {
        let obj = Obj::new(path, value, &[], false, errors)?;
        let id = obj.required("id", errors);
        let agent_id = obj.required("agent_id", errors);
        let campaign_id = obj.required("campaign_id", errors);
        let outcome = obj.required("outcome", errors);
        let followup_id = obj.optional("followup_id", errors);
        let started_at = obj.optional::<Instant>("started_at", errors).map(|t| t.0);
        let ended_at = obj.required::<Instant>("ended_at", errors).map(|t| t.0);
        let end_reason = text(&obj, "end_reason", MAX_END_REASON_CHARS, true, errors);
        if let (Some(start), Some(end)) = (started_at, ended_at)
            && end < start
        {
            errors.push(FieldError::new(
                obj.path("ended_at"),
                "must not be before started_at",
            ));
        }
        Some(Self {
            id: id?,
            agent_id: agent_id?,
            campaign_id: campaign_id?,
            outcome: outcome?,
            followup_id,
            started_at,
            ended_at: ended_at?,
            end_reason,
        })
    }
}

/// Who was called.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Contact {
    pub id: ContactId,
    /// The number that was called.
    pub phone: Option<PhoneNumber>,
    /// The address on file.
    pub email: Option<EmailAddress>,
    pub name: Option<String>,
    pub timezone: Option<TimeZone>,
    /// The US state the contact says they are in (USPS code); its calling law applies,
    /// as does the law of the number's area-code state.
    pub state: Option<UsState>,
    /// What `timezone` held when it was not a time zone (shortened): the call is then
    /// decided in the fallback zone and says so, rather than refused.
    pub invalid_timezone: Option<String>,
    pub locale: Option<String>,
}

/// Longest part of an invalid `contact.timezone` repeated in a trace.
const MAX_INVALID_ZONE_CHARS: usize = 64;

/// `contact.timezone`: a zone, nothing (absent, null or blank), or what it held instead.
fn contact_zone(obj: &Obj<'_>) -> (Option<TimeZone>, Option<String>) {
    let Some(value) = obj.get("timezone") else {
        return (None, None);
    };
    match value.as_str().map(str::trim) {
        Some("") => (None, None),
        Some(raw) => match TimeZone::parse(&obj.path("timezone"), raw) {
            Ok(zone) => (Some(zone), None),
            Err(_) => (
                None,
                Some(raw.chars().take(MAX_INVALID_ZONE_CHARS).collect()),
            ),
        },
        None => (
            None,
            Some(
                value
                    .to_string()
                    .chars()
                    .take(MAX_INVALID_ZONE_CHARS)
                    .collect(),
            ),
        ),
    }
}

impl FromJson for Contact {
    fn from_json_at(path: &str, value: &Value, errors: &mut Errors) -> Option<Self> {
        let obj = Obj::new(path, value, &[], false, errors)?;
        let id = obj.required("id", errors);
        let locale = text(&obj, "locale", 35, true, errors);
        let (timezone, invalid_timezone) = contact_zone(&obj);
        Some(Self {
            phone: obj.optional("phone", errors),
            email: obj.optional("email", errors),
            name: text(&obj, "name", MAX_NAME_CHARS, true, errors),
            timezone,
            invalid_timezone,
            state: obj.optional("state", errors),
            locale,
            id: id?,
        })
    }
}

/// An appointment booked on the call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AppointmentRequest {
    pub at: EventTime,
    pub location: Option<String>,
}

impl FromJson for AppointmentRequest {
    fn from_json_at(path: &str, value: &Value, errors: &mut Errors) -> Option<Self> {
        let obj = Obj::new(path, value, &[], false, errors)?;
        let at = obj.required("at", errors);
        let location = text(&obj, "location", MAX_LOCATION_CHARS, true, errors);
        Some(Self { at: at?, location })
    }
}

/// The number the contact confirmed for SMS (read back on the call).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SmsDestination {
    pub number: PhoneNumber,
    pub confirmed: bool,
}

impl FromJson for SmsDestination {
    fn from_json_at(path: &str, value: &Value, errors: &mut Errors) -> Option<Self> {
        let obj = Obj::new(path, value, &[], false, errors)?;
        let number = obj.required("number", errors);
        let confirmed = obj.or_default("confirmed", false, errors);
        Some(Self {
            number: number?,
            confirmed,
        })
    }
}

/// The address the contact gave for email.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EmailDestination {
    pub address: EmailAddress,
    pub confirmed: bool,
}

impl FromJson for EmailDestination {
    fn from_json_at(path: &str, value: &Value, errors: &mut Errors) -> Option<Self> {
        let obj = Obj::new(path, value, &[], false, errors)?;
        let address = obj.required("address", errors);
        let confirmed = obj.or_default("confirmed", false, errors);
        Some(Self {
            address: address?,
            confirmed,
        })
    }
}

impl FromJson for Consent {
    fn from_json_at(path: &str, value: &Value, errors: &mut Errors) -> Option<Self> {
        let obj = Obj::new(path, value, &[], false, errors)?;
        Some(Self {
            sms: obj.or_default("sms", false, errors),
            email: obj.or_default("email", false, errors),
            whatsapp: obj.or_default("whatsapp", false, errors),
        })
    }
}

/// The agent's decision to follow up on a channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FollowUpRequest {
    /// `call` or `whatsapp`.
    pub channel: Channel,
    /// When; absent means after [`crate::DEFAULT_REQUEST_DELAY`].
    pub at: Option<EventTime>,
    pub reason: Option<String>,
}

impl FromJson for FollowUpRequest {
    fn from_json_at(path: &str, value: &Value, errors: &mut Errors) -> Option<Self> {
        let obj = Obj::new(path, value, &[], false, errors)?;
        let channel =
            obj.required::<String>("channel", errors)
                .and_then(|raw| match raw.as_str() {
                    "call" => Some(Channel::Call),
                    "whatsapp" => Some(Channel::Whatsapp),
                    _ => {
                        errors.push(FieldError::new(
                            obj.path("channel"),
                            "must be call or whatsapp",
                        ));
                        None
                    }
                });
        let at = obj.optional("at", errors);
        let reason = text(&obj, "reason", MAX_REASON_CHARS, false, errors);
        Some(Self {
            channel: channel?,
            at,
            reason,
        })
    }
}

/// What the voice platform understood from the call. Absent for calls nobody answered.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Analysis {
    pub summary: Option<String>,
    pub appointment: Option<AppointmentRequest>,
    pub consent: Consent,
    pub sms_destination: Option<SmsDestination>,
    pub email_address: Option<EmailDestination>,
    pub followup_requests: Vec<FollowUpRequest>,
}

impl FromJson for Analysis {
    fn from_json_at(path: &str, value: &Value, errors: &mut Errors) -> Option<Self> {
        let obj = Obj::new(path, value, &[], false, errors)?;
        Some(Self {
            summary: text(&obj, "summary", MAX_SUMMARY_CHARS, false, errors),
            appointment: obj.optional("appointment", errors),
            consent: obj.or_default("consent", Consent::default(), errors),
            sms_destination: obj.optional("sms_destination", errors),
            email_address: obj.optional("email_address", errors),
            followup_requests: obj.or_default("followup_requests", Vec::new(), errors),
        })
    }
}

/// A `call.completed` event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CallCompleted {
    pub call: Call,
    pub contact: Contact,
    pub analysis: Analysis,
}

impl CallCompleted {
    /// The follow-up this call was placed for. The caller must load it into
    /// `History::original_followup` before deciding, so retries can be decided.
    pub fn followup_id(&self) -> Option<&FollowUpId> {
        self.call.followup_id.as_ref()
    }
}

impl FromJson for CallCompleted {
    fn from_json_at(path: &str, value: &Value, errors: &mut Errors) -> Option<Self> {
        let obj = Obj::new(path, value, &[], false, errors)?;
        let call = obj.required("call", errors);
        let contact = obj.required("contact", errors);
        let analysis = obj.or_default("analysis", Analysis::default(), errors);
        Some(Self {
            call: call?,
            contact: contact?,
            analysis,
        })
    }
}
