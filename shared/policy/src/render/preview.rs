//! The preview of a campaign's messages: what its SMS, email and missed-call email would
//! say to a sample contact, rendered by the very functions the executors send with, and
//! where each sender name and meeting link comes from (the campaign or the account
//! default). The settings may be unsaved: an operator sees the message while typing.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

use crate::error::{Error, FieldError, ValidationErrors};
use crate::followup::{Appointment, Channel, Content, FollowUp, Reason, Status};
use crate::ids::{AgentId, CallId, CampaignId, ContactId, FollowUpId};
use crate::json::{Errors, FromJson, Obj, as_str};
use crate::render::email::{EmailMessage, render_email};
use crate::render::sms::{MAX_SEGMENTS, SmsMessage, render_sms};
use crate::settings::{CampaignSettings, Settings};
use crate::values::{MeetingLink, SenderName, TimeZone, normalize_line};

/// Longest sample name, summary or location.
const MAX_SAMPLE_CHARS: usize = 2_000;

/// What a call would have told about the contact, for the preview.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sample {
    pub contact_name: Option<String>,
    pub summary: Option<String>,
    pub appointment: Option<Appointment>,
    /// The contact's zone (the appointment is shown in it); else the campaign's chain.
    pub time_zone: Option<TimeZone>,
}

/// `POST /v1/campaigns/{id}/followup-settings/preview`: the campaign settings to try
/// (absent: the saved ones) and the sample contact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreviewRequest {
    pub settings: Option<CampaignSettings>,
    pub sample: Sample,
}

impl PreviewRequest {
    /// Reads the request, reporting every invalid field (settings fields under `settings.`).
    pub fn from_json(value: &Value) -> Result<Self, ValidationErrors> {
        let mut errors = Errors::default();
        let parsed = Self::from_json_at("", value, &mut errors);
        errors.finish(parsed)
    }
}

impl FromJson for PreviewRequest {
    fn from_json_at(path: &str, value: &Value, errors: &mut Errors) -> Option<Self> {
        let obj = Obj::new(path, value, &["settings", "sample"], true, errors)?;
        Some(Self {
            settings: obj.optional("settings", errors),
            sample: obj.or_default("sample", Sample::default(), errors),
        })
    }
}

impl FromJson for Sample {
    fn from_json_at(path: &str, value: &Value, errors: &mut Errors) -> Option<Self> {
        let obj = Obj::new(
            path,
            value,
            &["contact_name", "summary", "appointment", "time_zone"],
            true,
            errors,
        )?;
        Some(Self {
            contact_name: sample_text(&obj, "contact_name", errors),
            summary: sample_text(&obj, "summary", errors),
            appointment: obj.optional("appointment", errors),
            time_zone: obj.optional("time_zone", errors),
        })
    }
}

impl FromJson for Appointment {
    fn from_json_at(path: &str, value: &Value, errors: &mut Errors) -> Option<Self> {
        let obj = Obj::new(path, value, &["at", "location"], true, errors)?;
        let at = obj.get("at").map(|raw| {
            as_str(&obj.path("at"), raw).and_then(|s| {
                DateTime::parse_from_rfc3339(s)
                    .map(|t| t.with_timezone(&Utc))
                    .map_err(|_| FieldError::new(obj.path("at"), "must be an RFC 3339 date-time"))
            })
        });
        let location = sample_text(&obj, "location", errors);
        match at {
            Some(Ok(at)) => Some(Self { at, location }),
            Some(Err(e)) => {
                errors.push(e);
                None
            }
            None => {
                errors.push(FieldError::new(obj.path("at"), "is required"));
                None
            }
        }
    }
}

fn sample_text(obj: &Obj<'_>, key: &str, errors: &mut Errors) -> Option<String> {
    let text: String = obj.optional(key, errors)?;
    if text.chars().count() > MAX_SAMPLE_CHARS {
        errors.push(FieldError::new(
            obj.path(key),
            format!("must be at most {MAX_SAMPLE_CHARS} characters"),
        ));
        return None;
    }
    Some(text).filter(|t| !t.trim().is_empty())
}

/// Where a value used by a message comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// Set on the campaign.
    Campaign,
    /// The campaign leaves it blank: the account default applies.
    AccountDefault,
    /// Set nowhere.
    Unset,
}

/// A value with where it comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Resolved {
    pub value: Option<String>,
    pub source: Source,
}

fn resolve(campaign: Option<&str>, account: Option<&str>) -> Resolved {
    match (campaign, account) {
        (Some(value), _) => Resolved {
            value: Some(value.to_owned()),
            source: Source::Campaign,
        },
        (None, Some(value)) => Resolved {
            value: Some(value.to_owned()),
            source: Source::AccountDefault,
        },
        (None, None) => Resolved {
            value: None,
            source: Source::Unset,
        },
    }
}

fn name(value: Option<&SenderName>) -> Option<&str> {
    value.map(SenderName::as_str)
}

fn link(value: Option<&MeetingLink>) -> Option<&str> {
    value.map(MeetingLink::as_str)
}

/// A message as it would be sent, or why it could not be.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome<T> {
    Rendered(T),
    NotRenderable { reason: Reason, detail: String },
}

impl<T> Outcome<T> {
    fn from_result(result: Result<T, Error>) -> Self {
        match result {
            Ok(message) => Self::Rendered(message),
            Err(Error::NotRenderable { reason, detail }) => Self::NotRenderable { reason, detail },
            Err(Error::Invalid(errors)) => Self::NotRenderable {
                reason: Reason::NoTemplate,
                detail: errors.to_string(),
            },
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SmsPreview {
    pub enabled: bool,
    #[serde(flatten)]
    pub message: SmsMessage,
    pub max_segments: u32,
    pub sender_name: Resolved,
    pub meeting_link: Resolved,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EmailPreview {
    pub enabled: bool,
    #[serde(flatten)]
    pub message: EmailMessage,
    /// The `From:` display name with its source (`message.from_name` is its value).
    pub from_name_source: Source,
    pub meeting_link: Resolved,
}

/// The three messages of a campaign for one sample contact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MessagesPreview {
    pub time_zone: TimeZone,
    pub sms: Outcome<SmsPreview>,
    pub email: Outcome<EmailPreview>,
    pub missed_call_email: Outcome<EmailPreview>,
}

/// Renders the campaign's messages (in `settings.campaign`, which must be set) for
/// `sample` as the executors would, whether or not each channel is enabled.
pub fn preview_messages(
    settings: &Settings,
    campaign_id: &CampaignId,
    sample: &Sample,
    now: DateTime<Utc>,
) -> MessagesPreview {
    let zone = settings.zone_for(sample.time_zone);
    let campaign = settings.campaign.clone().unwrap_or_default();
    let account = &settings.account;
    let followup = |channel| sample_followup(settings, campaign_id, sample, zone, channel, now);
    let sms = Outcome::from_result(render_sms(&followup(Channel::Sms), settings)).map(|message| {
        SmsPreview {
            enabled: campaign.sms.enabled,
            message,
            max_segments: MAX_SEGMENTS,
            sender_name: resolve(
                name(campaign.sms.sender_name.as_ref()),
                name(account.default_sender_name.as_ref()),
            ),
            meeting_link: resolve(
                link(campaign.sms.meeting_link.as_ref()),
                link(account.default_meeting_link.as_ref()),
            ),
        }
    });
    let email_preview = |channel, enabled| {
        Outcome::from_result(render_email(&followup(channel), settings)).map(|message| {
            EmailPreview {
                enabled,
                message,
                from_name_source: resolve(
                    name(campaign.email.from_name.as_ref()),
                    name(account.default_sender_name.as_ref()),
                )
                .source,
                meeting_link: resolve(
                    link(campaign.email.meeting_link.as_ref()),
                    link(account.default_meeting_link.as_ref()),
                ),
            }
        })
    };
    MessagesPreview {
        time_zone: zone,
        sms,
        email: email_preview(Channel::Email, campaign.email.enabled),
        missed_call_email: email_preview(
            Channel::MissedCallEmail,
            campaign.missed_call_email.enabled,
        ),
    }
}

impl<T> Outcome<T> {
    fn map<U>(self, f: impl FnOnce(T) -> U) -> Outcome<U> {
        match self {
            Self::Rendered(value) => Outcome::Rendered(f(value)),
            Self::NotRenderable { reason, detail } => Outcome::NotRenderable { reason, detail },
        }
    }
}

/// A follow-up of `channel` for the sample contact, as `decide` would have stored it.
fn sample_followup(
    settings: &Settings,
    campaign_id: &CampaignId,
    sample: &Sample,
    zone: TimeZone,
    channel: Channel,
    now: DateTime<Utc>,
) -> FollowUp {
    let agent_id = settings
        .campaign
        .as_ref()
        .and_then(|c| c.agent_id.clone())
        .unwrap_or_else(|| AgentId::fixed("preview"));
    FollowUp {
        id: FollowUpId::fixed("preview"),
        account_id: settings.account_id.clone(),
        campaign_id: campaign_id.clone(),
        agent_id,
        contact_id: ContactId::fixed("preview"),
        call_id: CallId::fixed("preview"),
        channel,
        status: Status::Scheduled,
        due_at: now,
        time_zone: zone,
        zone_source: None,
        attempt: 1,
        max_retries: None,
        retry_interval_minutes: None,
        destination: None,
        content: Content {
            contact_name: sample.contact_name.as_deref().map(normalize_line),
            summary: sample.summary.clone(),
            appointment: sample.appointment.clone(),
            request_reason: None,
            locale: None,
        },
        reason: None,
        trace: Vec::new(),
        attempts: Vec::new(),
        created_at: now,
        updated_at: now,
    }
}
