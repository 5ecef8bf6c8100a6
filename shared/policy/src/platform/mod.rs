//! The voice platforms' own end-of-call webhooks (Vapi, Retell, Bland, ElevenLabs),
//! read into the provider-neutral [`CallCompleted`] so one policy decides them all.
//!
//! Reading a native body is two steps, both pure:
//! 1. [`read`] says whether the body is the end of a call ([`Native::Final`]) or an
//!    event to acknowledge and ignore, and pulls out the platform's facts: its call id
//!    (the idempotency key), the end reason mapped to a [`CallOutcome`] with the raw
//!    value kept, the contact's number, the metadata our follow-up calls carry, and the
//!    platform's structured analysis as a flat object.
//! 2. [`NativeCall::to_call_completed`] turns those facts into a `call.completed` through
//!    an [`AnalysisMapping`] (defaults documented in `docs/platforms/`, overridable per
//!    account and per agent), and validates it like the neutral webhook. A field the
//!    engine cannot do without (the call id, the contact's number) is a 400 naming the
//!    platform's own field; an analysis value that does not read (a consent of "maybe")
//!    is dropped and reported, since the platform would send it again unchanged.

pub mod bland;
mod connection;
pub mod elevenlabs;
mod lookup;
mod mapping;
mod outbound;
pub mod retell;
pub mod vapi;

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::event::{CALL_COMPLETED, CallCompleted, parse_call_completed};
use crate::fields::{FieldError, ValidationErrors};
use crate::values::CallOutcome;

pub use connection::{
    Connection, ConnectionInput, HmacAlgorithm, HmacPlan, SignatureEncoding, VapiAuth,
};
pub use lookup::{Lookup, read_lookup};
pub use mapping::{AnalysisMapping, MappingOverrides};
pub use outbound::CallPlatform;

/// A voice platform whose webhooks and call API the engine speaks natively.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    Vapi,
    Retell,
    Bland,
    #[serde(rename = "elevenlabs")]
    ElevenLabs,
}

impl Platform {
    pub const ALL: [Platform; 4] = [Self::Vapi, Self::Retell, Self::Bland, Self::ElevenLabs];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Vapi => "vapi",
            Self::Retell => "retell",
            Self::Bland => "bland",
            Self::ElevenLabs => "elevenlabs",
        }
    }

    /// Parses `vapi`, `retell`, `bland` or `elevenlabs`; `field` names the input.
    pub fn parse(field: &str, raw: &str) -> Result<Self, FieldError> {
        Self::ALL
            .into_iter()
            .find(|p| p.as_str() == raw)
            .ok_or_else(|| FieldError::new(field, "must be vapi, retell, bland or elevenlabs"))
    }
}

impl std::fmt::Display for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A native webhook body, read.
#[derive(Debug, Clone, PartialEq)]
// One value per request, matched right away.
#[allow(clippy::large_enum_variant)]
pub enum Native {
    /// The end of a call: decide on it.
    Final(NativeCall),
    /// Not the end of a call (a status update, Retell's `call_ended` of a call that
    /// connected, which `call_analyzed` follows): acknowledged and ignored.
    Ignored { event_type: String },
}

/// The platform's end reason, as sent and as mapped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EndReason {
    /// Where it was read, e.g. `message.endedReason`.
    pub field: &'static str,
    /// The raw value(s), e.g. `customer-busy` or `status=busy answered_by=null`.
    pub raw: Option<String>,
    pub outcome: CallOutcome,
    /// False when the raw value is not in the platform's table (it then maps to
    /// `failed`).
    pub known: bool,
}

impl EndReason {
    fn new(field: &'static str, raw: Option<String>, mapped: Option<CallOutcome>) -> Self {
        Self {
            field,
            raw,
            outcome: mapped.unwrap_or(CallOutcome::Failed),
            known: mapped.is_some(),
        }
    }

    fn trace_text(&self, platform: Platform) -> String {
        let raw = self.raw.as_deref().unwrap_or("absent");
        let unknown = if self.known {
            ""
        } else {
            ", not a known value"
        };
        format!("{platform} {} {raw}{unknown}", self.field)
    }
}

/// The facts of one finished call, read from a platform's body.
#[derive(Debug, Clone, PartialEq)]
pub struct NativeCall {
    pub platform: Platform,
    pub event_type: String,
    /// The platform's call id: the idempotency key.
    pub call_id: Option<String>,
    pub call_id_field: &'static str,
    /// The platform's assistant / agent id.
    pub agent_id: Option<String>,
    pub agent_id_field: &'static str,
    /// The platform's campaign or batch id, when it has one.
    pub campaign_id: Option<String>,
    pub end: EndReason,
    /// The contact's number as sent.
    pub phone: Option<String>,
    pub phone_field: &'static str,
    pub started_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    /// What our follow-up calls carry (`followup_id`, `attempt`, `agent_id`,
    /// `campaign_id`, `contact_id`, ...), merged from the platform's carriers.
    pub metadata: Map<String, Value>,
    pub metadata_field: &'static str,
    pub contact_name: Option<String>,
    pub contact_email: Option<String>,
    /// The platform's own call summary.
    pub summary: Option<String>,
    /// The structured analysis, one level of keys (ElevenLabs' `{value}` unwrapped).
    pub analysis: Map<String, Value>,
    pub analysis_field: &'static str,
}

/// A native call read into the neutral event.
#[derive(Debug, Clone, PartialEq)]
pub struct Mapped {
    pub event: CallCompleted,
    /// `"{platform}:{call id}"`: every delivery about one call shares it.
    pub idempotency_key: String,
    /// Analysis values that did not read and were left out (named by their native path).
    pub ignored: Vec<FieldError>,
}

/// Reads a native body of `platform`. Malformed JSON is one error on `body`.
pub fn read(platform: Platform, body: &[u8]) -> Result<Native, ValidationErrors> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| ValidationErrors::single("body", format!("malformed JSON: {e}")))?;
    if !value.is_object() {
        return Err(ValidationErrors::single("body", "must be a JSON object"));
    }
    match platform {
        Platform::Vapi => vapi::read(&value),
        Platform::Retell => retell::read(&value),
        Platform::Bland => bland::read(&value),
        Platform::ElevenLabs => elevenlabs::read(&value),
    }
}

impl NativeCall {
    /// The neutral `call.completed`, through `mapping`; `received_at` stands in for an
    /// end time the platform did not send.
    pub fn to_call_completed(
        &self,
        mapping: &AnalysisMapping,
        received_at: DateTime<Utc>,
    ) -> Result<Mapped, ValidationErrors> {
        let mut doc = Doc::default();
        self.identity(&mut doc, received_at)?;
        mapping.apply(self, &mut doc);
        match parse_call_completed(&doc.value) {
            Ok(event) => Ok(self.mapped(event, Vec::new())),
            Err(errors) => {
                // Drop the analysis fields that did not read, keep the rest.
                let (analysis, required): (Vec<_>, Vec<_>) = errors
                    .0
                    .into_iter()
                    .partition(|e| e.field.starts_with("analysis"));
                if !required.is_empty() {
                    return Err(ValidationErrors(
                        required.into_iter().map(|e| doc.translate(e)).collect(),
                    ));
                }
                for error in &analysis {
                    doc.remove_analysis(&error.field);
                }
                let event = parse_call_completed(&doc.value).map_err(|e| {
                    ValidationErrors(e.0.into_iter().map(|e| doc.translate(e)).collect())
                })?;
                let ignored = analysis.into_iter().map(|e| doc.translate(e)).collect();
                Ok(self.mapped(event, ignored))
            }
        }
    }

    fn mapped(&self, mut event: CallCompleted, ignored: Vec<FieldError>) -> Mapped {
        event.call.end_reason = Some(self.end.trace_text(self.platform));
        Mapped {
            idempotency_key: format!("{}:{}", self.platform, event.call.id),
            event,
            ignored,
        }
    }

    /// Our agent id for this call: `agent_id` in the metadata, else the platform's.
    pub fn our_agent_id(&self) -> Option<String> {
        self.meta_str("agent_id").or_else(|| self.agent_id.clone())
    }

    fn meta_str(&self, key: &str) -> Option<String> {
        match self.metadata.get(key)? {
            Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    }

    /// The call and contact parts; a missing call id, agent or number is an error
    /// naming the platform's field.
    fn identity(&self, doc: &mut Doc, received_at: DateTime<Utc>) -> Result<(), ValidationErrors> {
        let mut missing = Vec::new();
        let meta = self.metadata_field;
        doc.set("type", json!(CALL_COMPLETED), "");
        match &self.call_id {
            Some(id) => doc.set("call.id", json!(id), self.call_id_field),
            None => missing.push(FieldError::new(self.call_id_field, "is required")),
        }
        let agent = self
            .meta_str("agent_id")
            .map(|a| (a, format!("{meta}.agent_id")));
        let agent = agent.or_else(|| {
            self.agent_id
                .clone()
                .map(|a| (a, self.agent_id_field.to_owned()))
        });
        match &agent {
            Some((id, field)) => doc.set("call.agent_id", json!(id), field),
            None => missing.push(FieldError::new(
                self.agent_id_field,
                format!("is required (or `agent_id` in {meta})"),
            )),
        }
        let campaign = self
            .meta_str("campaign_id")
            .map(|c| (c, format!("{meta}.campaign_id")))
            .or_else(|| self.campaign_id.clone().map(|c| (c, "campaign id".into())))
            .or(agent);
        if let Some((id, field)) = campaign {
            doc.set("call.campaign_id", json!(id), &field);
        }
        doc.set(
            "call.outcome",
            json!(self.end.outcome.as_str()),
            self.end.field,
        );
        if let Some(id) = self.meta_str("followup_id") {
            doc.set(
                "call.followup_id",
                json!(id),
                &format!("{meta}.followup_id"),
            );
        }
        let ended = self.ended_at.unwrap_or(received_at);
        doc.set("call.ended_at", json!(ended.to_rfc3339()), "end time");
        if let Some(start) = self.started_at.filter(|s| *s <= ended) {
            doc.set("call.started_at", json!(start.to_rfc3339()), "start time");
        }
        self.contact(doc, &mut missing);
        if missing.is_empty() {
            Ok(())
        } else {
            Err(ValidationErrors(missing))
        }
    }

    fn contact(&self, doc: &mut Doc, missing: &mut Vec<FieldError>) {
        let meta = self.metadata_field;
        let Some(phone) = self.phone.as_deref().filter(|p| !p.trim().is_empty()) else {
            missing.push(FieldError::new(
                self.phone_field,
                "is required: the contact's phone number",
            ));
            return;
        };
        doc.set("contact.phone", json!(phone), self.phone_field);
        match self.meta_str("contact_id") {
            Some(id) => doc.set("contact.id", json!(id), &format!("{meta}.contact_id")),
            None => {
                let digits: String = phone.chars().filter(char::is_ascii_digit).collect();
                doc.set(
                    "contact.id",
                    json!(format!("tel-{digits}")),
                    self.phone_field,
                );
            }
        }
        let name = self
            .meta_str("contact_name")
            .or_else(|| self.contact_name.clone());
        if let Some(name) = name {
            doc.set("contact.name", json!(name), "contact name");
        }
        let email = self
            .meta_str("contact_email")
            .or_else(|| self.contact_email.clone());
        if let Some(email) = email {
            doc.set("contact.email", json!(email), "contact email");
        }
        if let Some(zone) = self.meta_str("contact_timezone") {
            doc.set(
                "contact.timezone",
                json!(zone),
                &format!("{meta}.contact_timezone"),
            );
        }
    }
}

/// The neutral document under construction, with where each value came from.
#[derive(Default)]
pub(crate) struct Doc {
    value: Value,
    /// (neutral path, native path), for error messages.
    sources: Vec<(String, String)>,
}

impl Doc {
    pub(crate) fn set(&mut self, path: &str, value: Value, source: &str) {
        let mut node = &mut self.value;
        for key in path.split('.') {
            if !node.is_object() {
                *node = Value::Object(Map::new());
            }
            let Value::Object(map) = node else { return };
            node = map.entry(key.to_owned()).or_insert(Value::Null);
        }
        *node = value;
        self.sources.push((path.to_owned(), source.to_owned()));
    }

    /// The native path of a neutral error (`contact.phone` → `message.customer.number`).
    fn translate(&self, error: FieldError) -> FieldError {
        let best = self
            .sources
            .iter()
            .filter(|(neutral, native)| {
                !native.is_empty()
                    && (error.field == *neutral
                        || error.field.starts_with(&format!("{neutral}."))
                        || error.field.starts_with(&format!("{neutral}[")))
            })
            .max_by_key(|(neutral, _)| neutral.len());
        match best {
            Some((neutral, native)) => FieldError::new(
                format!("{native}{}", &error.field[neutral.len()..]),
                error.message,
            ),
            None => error,
        }
    }

    /// Removes the analysis entry an error points at (its top-level key).
    fn remove_analysis(&mut self, field: &str) {
        let key = field
            .strip_prefix("analysis.")
            .and_then(|rest| rest.split(['.', '[']).next());
        if let (Some(key), Some(Value::Object(analysis))) = (key, self.value.get_mut("analysis")) {
            analysis.remove(key);
        }
    }
}

// ---- helpers shared by the readers ----

/// The value at a dotted path, if present and not null.
pub(crate) fn at<'a>(value: &'a Value, path: &str) -> Option<&'a Value> {
    let mut node = value;
    for key in path.split('.') {
        node = node.get(key)?;
    }
    (!node.is_null()).then_some(node)
}

/// A non-empty string at `path`; a number is read as its decimal text.
pub(crate) fn text_at(value: &Value, path: &str) -> Option<String> {
    match at(value, path)? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A required string at `path` (its absence is reported under `path`).
pub(crate) fn required_text(value: &Value, path: &'static str) -> Result<String, ValidationErrors> {
    text_at(value, path).ok_or_else(|| ValidationErrors::single(path, "is required"))
}

/// An object at `path`, cloned, or empty.
pub(crate) fn object_at(value: &Value, path: &str) -> Map<String, Value> {
    match at(value, path) {
        Some(Value::Object(map)) => map.clone(),
        _ => Map::new(),
    }
}

/// Merges `from` into `into`, keeping what `into` already has.
pub(crate) fn merge_missing(into: &mut Map<String, Value>, from: Map<String, Value>) {
    for (key, value) in from {
        into.entry(key).or_insert(value);
    }
}

/// An RFC 3339 instant, or a date-time without offset read as UTC.
pub(crate) fn instant_at(value: &Value, path: &str) -> Option<DateTime<Utc>> {
    let raw = text_at(value, path)?;
    if let Ok(t) = DateTime::parse_from_rfc3339(&raw) {
        return Some(t.with_timezone(&Utc));
    }
    ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(&raw, f).ok())
        .map(|t| t.and_utc())
}

/// Milliseconds since the epoch at `path` (out-of-range values read as absent).
pub(crate) fn millis_at(value: &Value, path: &str) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp_millis(at(value, path)?.as_i64()?)
}

/// Seconds since the epoch at `path`.
pub(crate) fn seconds_at(value: &Value, path: &str) -> Option<i64> {
    at(value, path)?.as_i64()
}
