//! Which platform places an agent's follow-up calls, and with which of its ids
//! (`calls.platform` in the agent's follow-up settings). Absent: the generic
//! outbound-call endpoint of the deployment.

use serde::Serialize;
use serde_json::Value;

use super::Platform;
use crate::fields::FieldError;
use crate::json::{Errors, FromJson, Obj};

const MAX_PLATFORM_ID_CHARS: usize = 200;

/// `{"name": "vapi", "agent_id": "...", "from_number_id": "...", "from_number": "+1..."}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CallPlatform {
    pub name: Platform,
    /// Vapi `assistantId`, Retell `override_agent_id`, Bland `pathway_id`,
    /// ElevenLabs `agent_id`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<String>,
    /// Vapi `phoneNumberId`, ElevenLabs `agent_phone_number_id`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from_number_id: Option<String>,
    /// Retell `from_number`, Bland `from` (E.164).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from_number: Option<String>,
}

impl CallPlatform {
    /// The ids each platform's create-call request cannot do without.
    fn required(name: Platform) -> &'static [&'static str] {
        match name {
            Platform::Vapi => &["agent_id", "from_number_id"],
            Platform::Retell => &["from_number"],
            Platform::Bland => &[],
            Platform::ElevenLabs => &["agent_id", "from_number_id"],
        }
    }
}

fn platform_id(obj: &Obj<'_>, key: &str, errors: &mut Errors) -> Option<String> {
    let raw: String = obj.optional(key, errors)?;
    let raw = raw.trim();
    if raw.is_empty()
        || raw.chars().count() > MAX_PLATFORM_ID_CHARS
        || raw.chars().any(|c| c.is_control() || c.is_whitespace())
    {
        errors.push(FieldError::new(
            obj.path(key),
            format!(
                "must be a non-empty id without spaces, at most {MAX_PLATFORM_ID_CHARS} characters"
            ),
        ));
        return None;
    }
    Some(raw.to_owned())
}

impl FromJson for CallPlatform {
    fn from_json_at(path: &str, value: &Value, errors: &mut Errors) -> Option<Self> {
        let obj = Obj::new(
            path,
            value,
            &["name", "agent_id", "from_number_id", "from_number"],
            true,
            errors,
        )?;
        let name = obj.required::<String>("name", errors).and_then(|raw| {
            Platform::parse(&obj.path("name"), &raw)
                .map_err(|e| errors.push(e))
                .ok()
        });
        let agent_id = platform_id(&obj, "agent_id", errors);
        let from_number_id = platform_id(&obj, "from_number_id", errors);
        let from_number = obj
            .optional::<crate::values::PhoneNumber>("from_number", errors)
            .map(|n| n.as_str().to_owned());
        let name = name?;
        let present = |key: &str| match key {
            "agent_id" => agent_id.is_some(),
            "from_number_id" => from_number_id.is_some(),
            _ => from_number.is_some(),
        };
        for key in Self::required(name).iter().filter(|k| !present(k)) {
            errors.push(FieldError::new(
                obj.path(key),
                format!("is required for {name}"),
            ));
        }
        Some(Self {
            name,
            agent_id,
            from_number_id,
            from_number,
        })
    }
}
