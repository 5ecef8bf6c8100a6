//! Turning a follow-up into what a channel sends. Templates and names are read from the
//! settings at send time; what came from the call is in the follow-up's `content`.
//! Every value from outside (contact name, summary, ...) is inserted as data: escaped
//! for HTML, flattened to one line where a line is expected.

pub mod email;
pub mod preview;
pub mod sms;

use chrono::DateTime;
use chrono::Utc;
use serde::Serialize;

use crate::error::Error;
use crate::followup::{Channel, FollowUp, Reason};
use crate::ids::{AgentId, FollowUpId};
use crate::settings::Settings;
use crate::template::{TemplateText, Variable};
use crate::values::{MeetingLink, PhoneNumber, SenderName, TimeZone, normalize_line};

pub use email::{EmailMessage, render_email};
pub use preview::{MessagesPreview, PreviewRequest, Sample, preview_messages};
pub use sms::{Encoding, SmsMessage, count_segments, render_sms};

/// Fails unless `followup` is for `channel`.
pub(crate) fn expect_channel(followup: &FollowUp, channels: &[Channel]) -> Result<(), Error> {
    if channels.contains(&followup.channel) {
        Ok(())
    } else {
        Err(Error::not_renderable(
            Reason::WrongChannel,
            format!(
                "follow-up {} is a {} follow-up",
                followup.id, followup.channel
            ),
        ))
    }
}

/// `Tue 14 May at 15:00 EDT`, in the follow-up's zone.
pub fn format_appointment(at: DateTime<Utc>, zone: TimeZone) -> String {
    at.with_timezone(&zone.tz())
        .format("%a %-d %b at %H:%M %Z")
        .to_string()
}

/// The values of the `{{variables}}` for one follow-up.
pub(crate) struct Values<'a> {
    pub followup: &'a FollowUp,
    pub sender_name: Option<&'a SenderName>,
    pub meeting_link: Option<&'a MeetingLink>,
}

impl Values<'_> {
    /// The raw value (may hold line breaks: the summary); empty when unknown.
    pub fn get(&self, variable: Variable) -> String {
        let content = &self.followup.content;
        match variable {
            Variable::ContactName => content.contact_name.clone().unwrap_or_default(),
            Variable::SenderName => self
                .sender_name
                .map(|s| s.as_str().to_owned())
                .unwrap_or_default(),
            Variable::MeetingLink => self
                .meeting_link
                .map(|l| l.as_str().to_owned())
                .unwrap_or_default(),
            Variable::Summary => content.summary.clone().unwrap_or_default(),
            Variable::Appointment => content
                .appointment
                .as_ref()
                .map(|a| {
                    let when = format_appointment(a.at, self.followup.time_zone);
                    match &a.location {
                        Some(location) => format!("{when}, {location}"),
                        None => when,
                    }
                })
                .unwrap_or_default(),
            Variable::Reason => content.request_reason.clone().unwrap_or_default(),
        }
    }

    /// Fails when `texts` use `{{meeting_link}}` and there is none.
    pub fn require_meeting_link<'t>(
        &self,
        texts: impl IntoIterator<Item = &'t TemplateText>,
    ) -> Result<(), Error> {
        let uses = texts.into_iter().any(|t| t.uses(Variable::MeetingLink));
        if uses && self.meeting_link.is_none() {
            return Err(Error::not_renderable(
                Reason::NoMeetingLink,
                "the text uses {{meeting_link}} but no meeting link is set",
            ));
        }
        Ok(())
    }
}

/// A WhatsApp template message: Meta's template name, language and body parameters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WhatsAppTemplate {
    pub name: String,
    pub language: String,
    pub parameters: Vec<String>,
}

/// The agent's WhatsApp template with its parameters filled. Meta refuses empty
/// parameters and line breaks in them, so values are flattened to one line and an empty
/// one becomes `-`.
pub fn whatsapp_template(
    followup: &FollowUp,
    settings: &Settings,
) -> Result<WhatsAppTemplate, Error> {
    expect_channel(followup, &[Channel::Whatsapp])?;
    let template = settings
        .agent
        .as_ref()
        .and_then(|a| a.whatsapp.template.as_ref())
        .ok_or_else(|| {
            Error::not_renderable(Reason::NoTemplate, "the agent has no WhatsApp template")
        })?;
    let values = Values {
        followup,
        sender_name: settings.sms_sender_name(),
        meeting_link: settings.sms_meeting_link(),
    };
    values.require_meeting_link(&template.parameters)?;
    let parameters = template
        .parameters
        .iter()
        .map(|p| {
            let filled = normalize_line(&p.fill(|v| values.get(v)));
            if filled.is_empty() {
                "-".to_owned()
            } else {
                filled
            }
        })
        .collect();
    Ok(WhatsAppTemplate {
        name: template.name.clone(),
        language: template.language.clone(),
        parameters,
    })
}

/// What the voice platform needs to place a follow-up call. The follow-up id and attempt
/// travel as call metadata so the completion webhook can be tied back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CallRequest {
    pub agent_id: AgentId,
    pub to: PhoneNumber,
    pub instructions: String,
    pub followup_id: FollowUpId,
    pub attempt: u32,
}

/// The agent's call instructions, followed by why this call was scheduled when known.
pub fn call_request(followup: &FollowUp, settings: &Settings) -> Result<CallRequest, Error> {
    expect_channel(followup, &[Channel::Call])?;
    let to = followup
        .destination
        .as_ref()
        .and_then(|d| d.phone())
        .ok_or_else(|| {
            Error::not_renderable(Reason::NoDestination, "the follow-up call has no number")
        })?;
    let agent = settings.agent.as_ref().ok_or_else(|| {
        Error::not_renderable(
            Reason::ChannelDisabled,
            "the agent has no follow-up settings",
        )
    })?;
    let mut instructions = agent.calls.instructions.clone();
    if let Some(reason) = &followup.content.request_reason {
        if !instructions.is_empty() {
            instructions.push_str("\n\n");
        }
        instructions.push_str("Why this follow-up call was scheduled: ");
        instructions.push_str(reason);
    }
    Ok(CallRequest {
        agent_id: followup.agent_id.clone(),
        to: to.clone(),
        instructions,
        followup_id: followup.id.clone(),
        attempt: followup.attempt,
    })
}
