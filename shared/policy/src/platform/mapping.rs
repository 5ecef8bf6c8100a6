//! Where each analysis value the policy reads comes from in a platform's structured
//! analysis (Vapi `analysis.structuredData` and structured outputs, Retell
//! `call_analysis.custom_analysis_data`, Bland `analysis`, ElevenLabs
//! `analysis.data_collection_results`). The defaults are the keys of the schema the
//! docs ask users to paste into their assistant; an account (its platform connection)
//! or an agent (its follow-up settings) may point any of them elsewhere.

use serde::Serialize;
use serde_json::{Map, Value, json};

use super::{Doc, NativeCall};
use crate::fields::FieldError;
use crate::json::{Errors, FromJson, Obj};

const MAX_KEY_CHARS: usize = 200;

macro_rules! mapping {
    ($($field:ident = $default:literal),* $(,)?) => {
        /// The analysis key (a dotted path inside the structured analysis) of each value.
        #[derive(Debug, Clone, PartialEq, Eq, Serialize)]
        pub struct AnalysisMapping {
            /// `None`: the platform's own summary.
            pub summary: Option<String>,
            $(pub $field: String,)*
        }

        impl Default for AnalysisMapping {
            fn default() -> Self {
                Self { summary: None, $($field: $default.to_owned(),)* }
            }
        }

        /// Overrides of some keys, as stored for an account or an agent.
        #[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
        pub struct MappingOverrides {
            #[serde(skip_serializing_if = "Option::is_none")]
            pub summary: Option<String>,
            $(
                #[serde(skip_serializing_if = "Option::is_none")]
                pub $field: Option<String>,
            )*
        }

        impl MappingOverrides {
            const KEYS: &'static [&'static str] = &["summary", $(stringify!($field),)*];

            fn apply_to(&self, mapping: &mut AnalysisMapping) {
                if let Some(key) = &self.summary {
                    mapping.summary = Some(key.clone());
                }
                $(if let Some(key) = &self.$field {
                    mapping.$field = key.clone();
                })*
            }

            fn read(obj: &Obj<'_>, errors: &mut Errors) -> Self {
                Self {
                    summary: key(obj, "summary", errors),
                    $($field: key(obj, stringify!($field), errors),)*
                }
            }
        }
    };
}

mapping! {
    consent_sms = "consent_sms",
    consent_email = "consent_email",
    consent_whatsapp = "consent_whatsapp",
    sms_number = "sms_number",
    sms_number_confirmed = "sms_number_confirmed",
    email_address = "email_address",
    email_address_confirmed = "email_address_confirmed",
    appointment_at = "appointment_at",
    appointment_location = "appointment_location",
    followup_requests = "followup_requests",
    followup_call_at = "followup_call_at",
    followup_whatsapp_at = "followup_whatsapp_at",
    followup_reason = "followup_reason",
}

fn key(obj: &Obj<'_>, name: &str, errors: &mut Errors) -> Option<String> {
    let raw: String = obj.optional(name, errors)?;
    let raw = raw.trim();
    let valid = !raw.is_empty()
        && raw.chars().count() <= MAX_KEY_CHARS
        && !raw.chars().any(char::is_control)
        && raw.split('.').all(|segment| !segment.is_empty());
    if !valid {
        errors.push(FieldError::new(
            obj.path(name),
            format!(
                "must be a key of the analysis (dotted for nested keys), at most {MAX_KEY_CHARS} characters"
            ),
        ));
        return None;
    }
    Some(raw.to_owned())
}

impl FromJson for MappingOverrides {
    fn from_json_at(path: &str, value: &Value, errors: &mut Errors) -> Option<Self> {
        let obj = Obj::new(path, value, Self::KEYS, true, errors)?;
        Some(Self::read(&obj, errors))
    }
}

impl MappingOverrides {
    /// Reads overrides, reporting every invalid key.
    pub fn from_json(value: &Value) -> Result<Self, crate::ValidationErrors> {
        let mut errors = Errors::default();
        let overrides = Self::from_json_at("", value, &mut errors);
        errors.finish(overrides)
    }

    pub fn is_empty(&self) -> bool {
        self == &Self::default()
    }
}

impl AnalysisMapping {
    /// The defaults, then the account's overrides, then the agent's.
    pub fn resolve(account: Option<&MappingOverrides>, agent: Option<&MappingOverrides>) -> Self {
        let mut mapping = Self::default();
        for overrides in [account, agent].into_iter().flatten() {
            overrides.apply_to(&mut mapping);
        }
        mapping
    }

    /// Writes the `analysis` part of the neutral document.
    pub(crate) fn apply(&self, call: &NativeCall, doc: &mut Doc) {
        let source = |key: &str| format!("{}.{key}", call.analysis_field);
        let get = |key: &str| lookup(&call.analysis, key);
        let summary = match &self.summary {
            Some(key) => get(key).and_then(as_text).map(|s| (s, source(key))),
            None => call.summary.clone().map(|s| (s, "summary".to_owned())),
        };
        if let Some((summary, from)) = summary {
            doc.set("analysis.summary", json!(summary), &from);
        }
        for (channel, key) in [
            ("sms", &self.consent_sms),
            ("email", &self.consent_email),
            ("whatsapp", &self.consent_whatsapp),
        ] {
            if let Some(value) = get(key) {
                doc.set(
                    &format!("analysis.consent.{channel}"),
                    as_bool(value),
                    &source(key),
                );
            }
        }
        self.destinations(call, doc);
        if let Some(at) = get(&self.appointment_at).and_then(as_text) {
            let mut appointment = Map::new();
            appointment.insert("at".into(), json!(at));
            if let Some(location) = get(&self.appointment_location).and_then(as_text) {
                appointment.insert("location".into(), json!(location));
            }
            doc.set(
                "analysis.appointment",
                Value::Object(appointment),
                &source(&self.appointment_at),
            );
        }
        self.requests(call, doc);
    }

    fn destinations(&self, call: &NativeCall, doc: &mut Doc) {
        let source = |key: &str| format!("{}.{key}", call.analysis_field);
        let get = |key: &str| lookup(&call.analysis, key);
        if let Some(number) = get(&self.sms_number).and_then(as_text) {
            let confirmed = get(&self.sms_number_confirmed).map_or(json!(false), as_bool);
            doc.set(
                "analysis.sms_destination",
                json!({ "number": number, "confirmed": confirmed }),
                &source(&self.sms_number),
            );
        }
        if let Some(address) = get(&self.email_address).and_then(as_text) {
            let confirmed = get(&self.email_address_confirmed).map_or(json!(false), as_bool);
            doc.set(
                "analysis.email_address",
                json!({ "address": address, "confirmed": confirmed }),
                &source(&self.email_address),
            );
        }
    }

    fn requests(&self, call: &NativeCall, doc: &mut Doc) {
        let get = |key: &str| lookup(&call.analysis, key);
        let mut requests: Vec<Value> = match get(&self.followup_requests) {
            Some(Value::Array(items)) => items.clone(),
            // Some platforms only return strings: accept a JSON array in one.
            Some(Value::String(s)) => match serde_json::from_str(s) {
                Ok(Value::Array(items)) => items,
                _ => vec![json!(s)],
            },
            Some(other) => vec![other.clone()],
            None => Vec::new(),
        };
        let reason = get(&self.followup_reason).and_then(as_text);
        for (channel, key) in [
            ("call", &self.followup_call_at),
            ("whatsapp", &self.followup_whatsapp_at),
        ] {
            let Some(value) = get(key) else { continue };
            let mut request = Map::new();
            request.insert("channel".into(), json!(channel));
            match as_bool(value) {
                Value::Bool(false) => continue,
                Value::Bool(true) => {}
                _ => match as_text(value) {
                    Some(at) => {
                        request.insert("at".into(), json!(at));
                    }
                    None => continue,
                },
            }
            if let Some(reason) = &reason {
                request.insert("reason".into(), json!(reason));
            }
            requests.push(Value::Object(request));
        }
        if !requests.is_empty() {
            doc.set(
                "analysis.followup_requests",
                Value::Array(requests),
                &format!("{}.{}", call.analysis_field, self.followup_requests),
            );
        }
    }
}

/// The value at a dotted key of the analysis, if present and meaningful.
fn lookup<'a>(analysis: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    let (first, rest) = key.split_once('.').unwrap_or((key, ""));
    let mut node = analysis.get(first)?;
    for segment in rest.split('.').filter(|s| !s.is_empty()) {
        node = node.get(segment)?;
    }
    match node {
        Value::Null => None,
        Value::String(s) if s.trim().is_empty() => None,
        _ => Some(node),
    }
}

fn as_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.trim().to_owned()).filter(|s| !s.is_empty()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Booleans as language models write them; anything else is passed on (and then
/// reported as not a boolean).
fn as_bool(value: &Value) -> Value {
    match value {
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "yes" | "y" | "1" => json!(true),
            "false" | "no" | "n" | "0" => json!(false),
            _ => value.clone(),
        },
        Value::Number(n) if n.as_u64() == Some(1) => json!(true),
        Value::Number(n) if n.as_u64() == Some(0) => json!(false),
        _ => value.clone(),
    }
}
