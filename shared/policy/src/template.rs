//! Operator-written texts with `{{variables}}` (email subject and body, WhatsApp
//! template parameters). Variables are checked when settings are parsed, so an unknown
//! one is a settings error, never a surprise at send time.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::fields::FieldError;
use crate::json::{FromJsonLeaf, as_str};

/// A value that can be inserted into an operator-written text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Variable {
    /// The contact's name (empty when unknown).
    ContactName,
    /// The campaign's sender name, else the account default.
    SenderName,
    /// The campaign's meeting link, else the account default.
    MeetingLink,
    /// The call summary from the analysis.
    Summary,
    /// The booked appointment, in the contact's time zone.
    Appointment,
    /// Why the agent asked for this follow-up.
    Reason,
}

impl Variable {
    pub const ALL: [Variable; 6] = [
        Self::ContactName,
        Self::SenderName,
        Self::MeetingLink,
        Self::Summary,
        Self::Appointment,
        Self::Reason,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::ContactName => "contact_name",
            Self::SenderName => "sender_name",
            Self::MeetingLink => "meeting_link",
            Self::Summary => "summary",
            Self::Appointment => "appointment",
            Self::Reason => "reason",
        }
    }
}

/// One piece of a parsed text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    Text(String),
    Variable(Variable),
}

/// A text with `{{variable}}` placeholders, parsed. Serializes back to its source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TemplateText {
    source: String,
    segments: Vec<Segment>,
}

impl TemplateText {
    pub const MAX_CHARS: usize = 20_000;

    /// Parses `raw`. `{{ name }}` (spaces allowed) must name a known [`Variable`].
    pub fn parse(field: &str, raw: &str) -> Result<Self, FieldError> {
        if raw.chars().count() > Self::MAX_CHARS {
            return Err(FieldError::new(
                field,
                format!("must be at most {} characters", Self::MAX_CHARS),
            ));
        }
        // Private-use characters are reserved by the email renderer as placeholders.
        if raw.chars().any(is_private_use) {
            return Err(FieldError::new(
                field,
                "must not contain private-use characters",
            ));
        }
        let mut segments = Vec::new();
        let mut rest = raw;
        while let Some(open) = rest.find("{{") {
            if open > 0 {
                segments.push(Segment::Text(rest[..open].to_owned()));
            }
            let after = &rest[open + 2..];
            let close = after
                .find("}}")
                .ok_or_else(|| FieldError::new(field, "has a '{{' without a matching '}}'"))?;
            let name = after[..close].trim();
            let variable = Variable::ALL
                .into_iter()
                .find(|v| v.name() == name)
                .ok_or_else(|| {
                    let known: Vec<_> = Variable::ALL
                        .iter()
                        .map(|v| format!("{{{{{}}}}}", v.name()))
                        .collect();
                    FieldError::new(
                        field,
                        format!(
                            "unknown variable {{{{{name}}}}}; known variables are {}",
                            known.join(", ")
                        ),
                    )
                })?;
            segments.push(Segment::Variable(variable));
            rest = &after[close + 2..];
        }
        if !rest.is_empty() {
            segments.push(Segment::Text(rest.to_owned()));
        }
        Ok(Self {
            source: raw.to_owned(),
            segments,
        })
    }

    /// Like [`TemplateText::parse`], for texts that go on one line (a subject header, a
    /// WhatsApp parameter): no CR, LF or other control characters.
    pub fn parse_single_line(field: &str, raw: &str, max_chars: usize) -> Result<Self, FieldError> {
        if raw.chars().any(char::is_control) {
            return Err(FieldError::new(
                field,
                "must not contain line breaks or control characters",
            ));
        }
        if raw.chars().count() > max_chars {
            return Err(FieldError::new(
                field,
                format!("must be at most {max_chars} characters"),
            ));
        }
        Self::parse(field, raw)
    }

    pub fn as_str(&self) -> &str {
        &self.source
    }

    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    pub fn uses(&self, variable: Variable) -> bool {
        self.segments.contains(&Segment::Variable(variable))
    }

    /// The text with each variable replaced by `value(variable)`, inserted as is: callers
    /// escape for their medium.
    pub fn fill(&self, value: impl Fn(Variable) -> String) -> String {
        self.segments
            .iter()
            .map(|segment| match segment {
                Segment::Text(text) => text.clone(),
                Segment::Variable(v) => value(*v),
            })
            .collect()
    }
}

pub(crate) fn is_private_use(c: char) -> bool {
    ('\u{E000}'..='\u{F8FF}').contains(&c)
}

impl TryFrom<String> for TemplateText {
    type Error = FieldError;
    fn try_from(raw: String) -> Result<Self, FieldError> {
        Self::parse("text", &raw)
    }
}

impl From<TemplateText> for String {
    fn from(text: TemplateText) -> String {
        text.source
    }
}

impl FromJsonLeaf for TemplateText {
    fn from_leaf(path: &str, value: &Value) -> Result<Self, FieldError> {
        Self::parse(path, as_str(path, value)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_variables_are_parsed() {
        let t = TemplateText::parse(
            "email.body",
            "Hi {{contact_name}}, book: {{ meeting_link }}",
        )
        .unwrap();
        assert!(t.uses(Variable::MeetingLink));
        assert_eq!(
            t.fill(|v| v.name().to_uppercase()),
            "Hi CONTACT_NAME, book: MEETING_LINK"
        );
    }

    #[test]
    fn an_unknown_variable_is_a_settings_error() {
        let err = TemplateText::parse("email.body", "Hi {{first_name}}").unwrap_err();
        assert_eq!(err.field, "email.body");
        assert!(err.message.contains("first_name"), "{}", err.message);
        assert!(TemplateText::parse("email.body", "Hi {{contact_name").is_err());
    }

    #[test]
    fn single_line_texts_refuse_line_breaks() {
        assert!(TemplateText::parse_single_line("email.subject", "Hi\r\nBcc: x", 200).is_err());
        assert!(
            TemplateText::parse_single_line("email.subject", "Hi {{contact_name}}", 200).is_ok()
        );
    }
}
