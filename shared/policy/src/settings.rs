//! Follow-up settings of the account, of an agent (calls and WhatsApp: the Altur page)
//! and of a campaign (SMS and email: the AtllasX page).
//!
//! Each is read with `from_json`, which reports every invalid field at once (unknown
//! fields, wrong types, bad values, an unknown `{{variable}}`), and serializes back to
//! the same shape.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::fields::{FieldError, ValidationErrors};
use crate::ids::{AccountId, AgentId};
use crate::json::{Errors, FromJson, FromJsonLeaf, Obj};
use crate::legal::{CallingRules, Rule};
use crate::mailbox::EmailSender;
use crate::template::TemplateText;
use crate::values::{
    ConfigurationSet, EmailAddress, MeetingLink, PhoneNumber, SenderName, SmsSenderId, SmsTemplate,
    TimeZone, single_line,
};
use crate::vocabulary::{Channel, Reason};
use crate::window::{AllowedDays, AllowedHours, Window};

/// Longest "when to schedule" or "instructions" text.
pub const MAX_INSTRUCTIONS_CHARS: usize = 10_000;
/// Upper bound of `calls.max_retries`.
pub const MAX_RETRIES_LIMIT: u32 = 10;
/// Bounds of `calls.retry_interval_minutes` (5 minutes to 7 days).
pub const RETRY_INTERVAL_MINUTES: std::ops::RangeInclusive<u32> = 5..=7 * 24 * 60;
/// Longest email subject template.
pub const MAX_SUBJECT_CHARS: usize = 200;
/// Longest offer summary (it is shortened to fit the SMS if needed).
pub const MAX_OFFER_SUMMARY_CHARS: usize = 300;

/// Builds `from_json`, `TryFrom<Value>` and `Deserialize` from a `FromJson` impl.
macro_rules! json_document {
    ($name:ident) => {
        impl $name {
            /// Reads the settings, reporting every invalid field.
            pub fn from_json(value: &Value) -> Result<Self, ValidationErrors> {
                let mut errors = Errors::default();
                let parsed = <$name as FromJson>::from_json_at("", value, &mut errors);
                errors.finish(parsed)
            }
        }

        impl TryFrom<Value> for $name {
            type Error = ValidationErrors;
            fn try_from(value: Value) -> Result<Self, ValidationErrors> {
                Self::from_json(&value)
            }
        }
    };
}

fn check_text(path: String, text: &str, max_chars: usize, errors: &mut Errors) {
    if text.chars().count() > max_chars {
        errors.push(FieldError::new(
            path,
            format!("must be at most {max_chars} characters"),
        ));
    }
}

/// Account-wide defaults and channel identities.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Value")]
pub struct AccountSettings {
    pub default_sender_name: Option<SenderName>,
    pub default_meeting_link: Option<MeetingLink>,
    /// Used when neither the contact, the campaign nor the agent has a time zone.
    pub default_time_zone: TimeZone,
    /// A floor no agent window can leave: each agent's allowed hours are clamped inside
    /// it, and SMS are only sent inside it (see `decide`).
    pub quiet_hours: AllowedHours,
    pub sms_sender_id: Option<SmsSenderId>,
    /// Also the number SMS replies come back to: a reply sent to it belongs to this
    /// account (an origination number belongs to one account only).
    pub sms_origination_number: Option<PhoneNumber>,
    pub email_from_address: Option<EmailAddress>,
    pub email_configuration_set: Option<ConfigurationSet>,
    /// Whether an SMS opt-out gets the one confirmation text the FCC allows. Off by
    /// default: with End User Messaging's own opt-out handling, AWS answers STOP itself.
    pub sms_opt_out_confirmation: bool,
    /// The legal floor's switches: built-in rules turned off, stricter rules added.
    pub calling_rules: CallingRules,
}

impl AccountSettings {
    /// 08:00–21:00: the usual legal calling hours for telemarketing (the TCPA's 8am–9pm).
    pub fn default_quiet_hours() -> AllowedHours {
        crate::legal::federal_hours()
    }
}

impl Default for AccountSettings {
    /// An account that configured nothing: UTC, quiet hours 08:00–21:00, no names.
    fn default() -> Self {
        Self {
            default_sender_name: None,
            default_meeting_link: None,
            default_time_zone: TimeZone::UTC,
            quiet_hours: Self::default_quiet_hours(),
            sms_sender_id: None,
            sms_origination_number: None,
            email_from_address: None,
            email_configuration_set: None,
            sms_opt_out_confirmation: false,
            calling_rules: CallingRules::default(),
        }
    }
}

impl FromJson for AccountSettings {
    fn from_json_at(path: &str, value: &Value, errors: &mut Errors) -> Option<Self> {
        let obj = Obj::new(
            path,
            value,
            &[
                "default_sender_name",
                "default_meeting_link",
                "default_time_zone",
                "quiet_hours",
                "sms_sender_id",
                "sms_origination_number",
                "email_from_address",
                "email_configuration_set",
                "sms_opt_out_confirmation",
                "calling_rules",
            ],
            true,
            errors,
        )?;
        Some(Self {
            calling_rules: obj.or_default("calling_rules", CallingRules::default(), errors),
            default_sender_name: obj.optional_setting("default_sender_name", errors),
            default_meeting_link: obj.optional_setting("default_meeting_link", errors),
            default_time_zone: obj.or_default("default_time_zone", TimeZone::UTC, errors),
            quiet_hours: obj.or_default("quiet_hours", Self::default_quiet_hours(), errors),
            sms_sender_id: obj.optional_setting("sms_sender_id", errors),
            sms_origination_number: obj.optional_setting("sms_origination_number", errors),
            email_from_address: obj.optional_setting("email_from_address", errors),
            email_configuration_set: obj.optional_setting("email_configuration_set", errors),
            sms_opt_out_confirmation: obj.or_default("sms_opt_out_confirmation", false, errors),
        })
    }
}
json_document!(AccountSettings);

/// Follow-up calls of an agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CallSettings {
    pub enabled: bool,
    /// Read by the voice agent, stored and served as is.
    pub when_to_schedule: String,
    /// The script of the follow-up call, sent with the call request.
    pub instructions: String,
    /// Calls after the first one when it goes unanswered.
    pub max_retries: u32,
    pub retry_interval_minutes: u32,
    /// The voice platform that places the calls; `None`: the generic endpoint.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub platform: Option<crate::platform::CallPlatform>,
}

impl Default for CallSettings {
    fn default() -> Self {
        Self {
            enabled: false,
            when_to_schedule: String::new(),
            instructions: String::new(),
            max_retries: 3,
            retry_interval_minutes: 60,
            platform: None,
        }
    }
}

impl FromJson for CallSettings {
    fn from_json_at(path: &str, value: &Value, errors: &mut Errors) -> Option<Self> {
        let obj = Obj::new(
            path,
            value,
            &[
                "enabled",
                "when_to_schedule",
                "instructions",
                "max_retries",
                "retry_interval_minutes",
                "platform",
            ],
            true,
            errors,
        )?;
        let default = Self::default();
        let settings = Self {
            enabled: obj.or_default("enabled", false, errors),
            when_to_schedule: obj.or_default("when_to_schedule", String::new(), errors),
            instructions: obj.or_default("instructions", String::new(), errors),
            max_retries: obj.or_default("max_retries", default.max_retries, errors),
            retry_interval_minutes: obj.or_default(
                "retry_interval_minutes",
                default.retry_interval_minutes,
                errors,
            ),
            platform: obj.optional("platform", errors),
        };
        check_text(
            obj.path("when_to_schedule"),
            &settings.when_to_schedule,
            MAX_INSTRUCTIONS_CHARS,
            errors,
        );
        check_text(
            obj.path("instructions"),
            &settings.instructions,
            MAX_INSTRUCTIONS_CHARS,
            errors,
        );
        if settings.max_retries > MAX_RETRIES_LIMIT {
            errors.push(FieldError::new(
                obj.path("max_retries"),
                format!("must be at most {MAX_RETRIES_LIMIT}"),
            ));
        }
        if !RETRY_INTERVAL_MINUTES.contains(&settings.retry_interval_minutes) {
            errors.push(FieldError::new(
                obj.path("retry_interval_minutes"),
                format!(
                    "must be between {} and {} minutes",
                    RETRY_INTERVAL_MINUTES.start(),
                    RETRY_INTERVAL_MINUTES.end()
                ),
            ));
        }
        Some(settings)
    }
}

/// The approved WhatsApp template that opens the conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WhatsAppTemplateSettings {
    /// Meta's template name (`[a-z0-9_]`).
    pub name: String,
    /// Meta's language code (`en`, `en_US`, `es_MX`).
    pub language: String,
    /// Body parameters in order, with `{{variables}}`.
    pub parameters: Vec<TemplateText>,
}

/// Longest WhatsApp body parameter (Meta's limit is larger; this keeps messages sane).
pub const MAX_WHATSAPP_PARAMETER_CHARS: usize = 1024;

impl FromJson for WhatsAppTemplateSettings {
    fn from_json_at(path: &str, value: &Value, errors: &mut Errors) -> Option<Self> {
        let obj = Obj::new(
            path,
            value,
            &["name", "language", "parameters"],
            true,
            errors,
        )?;
        let name: Option<String> = obj.required("name", errors);
        let language: Option<String> = obj.required("language", errors);
        if let Some(name) = &name
            && !valid_template_name(name)
        {
            errors.push(FieldError::new(
                obj.path("name"),
                "must be 1 to 512 lowercase letters, digits or '_'",
            ));
        }
        if let Some(language) = &language
            && !valid_language(language)
        {
            errors.push(FieldError::new(
                obj.path("language"),
                "must be a language code like en or en_US",
            ));
        }
        let mut parameters = Vec::new();
        match obj.get("parameters") {
            None => {}
            Some(Value::Array(items)) => {
                for (i, item) in items.iter().enumerate() {
                    let field = format!("{}[{i}]", obj.path("parameters"));
                    let parsed = crate::json::as_str(&field, item).and_then(|raw| {
                        TemplateText::parse_single_line(&field, raw, MAX_WHATSAPP_PARAMETER_CHARS)
                    });
                    match parsed {
                        Ok(text) => parameters.push(text),
                        Err(e) => errors.push(e),
                    }
                }
            }
            Some(_) => errors.push(FieldError::new(
                obj.path("parameters"),
                "expected an array of strings",
            )),
        }
        Some(Self {
            name: name?,
            language: language?,
            parameters,
        })
    }
}

fn valid_template_name(name: &str) -> bool {
    (1..=512).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

fn valid_language(code: &str) -> bool {
    let (lang, region) = match code.split_once('_') {
        Some((lang, region)) => (lang, Some(region)),
        None => (code, None),
    };
    (2..=3).contains(&lang.len())
        && lang.chars().all(|c| c.is_ascii_lowercase())
        && region.is_none_or(|r| {
            (2..=4).contains(&r.len()) && r.chars().all(|c| c.is_ascii_alphanumeric())
        })
}

/// WhatsApp follow-ups of an agent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct WhatsAppSettings {
    pub enabled: bool,
    pub when_to_schedule: String,
    /// Tone and structure of the WhatsApp conversation (read by the agent).
    pub instructions: String,
    /// Without a template, WhatsApp follow-ups are suppressed with `no_template`.
    pub template: Option<WhatsAppTemplateSettings>,
}

impl FromJson for WhatsAppSettings {
    fn from_json_at(path: &str, value: &Value, errors: &mut Errors) -> Option<Self> {
        let obj = Obj::new(
            path,
            value,
            &["enabled", "when_to_schedule", "instructions", "template"],
            true,
            errors,
        )?;
        let settings = Self {
            enabled: obj.or_default("enabled", false, errors),
            when_to_schedule: obj.or_default("when_to_schedule", String::new(), errors),
            instructions: obj.or_default("instructions", String::new(), errors),
            template: obj.optional("template", errors),
        };
        check_text(
            obj.path("when_to_schedule"),
            &settings.when_to_schedule,
            MAX_INSTRUCTIONS_CHARS,
            errors,
        );
        check_text(
            obj.path("instructions"),
            &settings.instructions,
            MAX_INSTRUCTIONS_CHARS,
            errors,
        );
        Some(settings)
    }
}

/// Follow-up settings of one agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Value")]
pub struct AgentSettings {
    /// Clamped inside the account's quiet hours.
    pub allowed_hours: AllowedHours,
    pub allowed_days: AllowedDays,
    /// The agent's zone, used when the contact's is unknown.
    pub time_zone: Option<TimeZone>,
    pub calls: CallSettings,
    pub whatsapp: WhatsAppSettings,
    /// Where this agent's platform analysis puts each value (over the account's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub analysis_mapping: Option<crate::platform::MappingOverrides>,
}

impl FromJson for AgentSettings {
    fn from_json_at(path: &str, value: &Value, errors: &mut Errors) -> Option<Self> {
        let obj = Obj::new(
            path,
            value,
            &[
                "allowed_hours",
                "allowed_days",
                "time_zone",
                "calls",
                "whatsapp",
                "analysis_mapping",
            ],
            true,
            errors,
        )?;
        let allowed_hours = obj.required("allowed_hours", errors);
        let allowed_days = obj.required("allowed_days", errors);
        let time_zone = obj.optional_setting("time_zone", errors);
        let calls = obj.or_default("calls", CallSettings::default(), errors);
        let whatsapp = obj.or_default("whatsapp", WhatsAppSettings::default(), errors);
        let analysis_mapping = obj.optional("analysis_mapping", errors);
        Some(Self {
            allowed_hours: allowed_hours?,
            allowed_days: allowed_days?,
            time_zone,
            calls,
            whatsapp,
            analysis_mapping,
        })
    }
}
json_document!(AgentSettings);

/// SMS follow-ups of a campaign.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SmsSettings {
    pub enabled: bool,
    /// Required when enabled: there is no free-text SMS.
    pub template: Option<SmsTemplate>,
    /// Overrides the account's default sender name.
    pub sender_name: Option<SenderName>,
    /// Overrides the account's default meeting link.
    pub meeting_link: Option<MeetingLink>,
    /// Offer / promo template only.
    pub offer_summary: Option<String>,
    pub promo_code: Option<String>,
}

impl FromJson for SmsSettings {
    fn from_json_at(path: &str, value: &Value, errors: &mut Errors) -> Option<Self> {
        let obj = Obj::new(
            path,
            value,
            &[
                "enabled",
                "template",
                "sender_name",
                "meeting_link",
                "offer_summary",
                "promo_code",
            ],
            true,
            errors,
        )?;
        let enabled = obj.or_default("enabled", false, errors);
        let template: Option<SmsTemplate> = obj.optional_setting("template", errors);
        let offer_summary = obj
            .optional_setting::<String>("offer_summary", errors)
            .and_then(|raw| {
                single_line(&obj.path("offer_summary"), &raw, MAX_OFFER_SUMMARY_CHARS)
                    .map_err(|e| errors.push(e))
                    .ok()
            })
            .filter(|s| !s.is_empty());
        let promo_code = obj
            .optional_setting::<String>("promo_code", errors)
            .and_then(|raw| {
                let ok = (1..=32).contains(&raw.len())
                    && raw
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
                if !ok {
                    errors.push(FieldError::new(
                        obj.path("promo_code"),
                        "must be 1 to 32 letters, digits, '-' or '_'",
                    ));
                }
                ok.then_some(raw)
            });
        if enabled && template.is_none() && obj.get_setting("template").is_none() {
            errors.push(FieldError::new(
                obj.path("template"),
                "is required when SMS is enabled",
            ));
        }
        if enabled && template == Some(SmsTemplate::OfferPromo) {
            if obj.get_setting("offer_summary").is_none() {
                errors.push(FieldError::new(
                    obj.path("offer_summary"),
                    "is required by the offer_promo template",
                ));
            }
            if obj.get_setting("promo_code").is_none() {
                errors.push(FieldError::new(
                    obj.path("promo_code"),
                    "is required by the offer_promo template",
                ));
            }
        }
        Some(Self {
            enabled,
            template,
            sender_name: obj.optional_setting("sender_name", errors),
            meeting_link: obj.optional_setting("meeting_link", errors),
            offer_summary,
            promo_code,
        })
    }
}

/// Reads an optional subject (one line) and body; both required when `enabled`.
fn subject_and_body(
    obj: &Obj<'_>,
    enabled: bool,
    what: &str,
    errors: &mut Errors,
) -> (Option<TemplateText>, Option<TemplateText>) {
    let subject = obj.optional::<String>("subject", errors).and_then(|raw| {
        TemplateText::parse_single_line(&obj.path("subject"), &raw, MAX_SUBJECT_CHARS)
            .map_err(|e| errors.push(e))
            .ok()
    });
    let body: Option<TemplateText> = obj.optional("body", errors);
    for key in ["subject", "body"] {
        if enabled
            && obj
                .get(key)
                .is_none_or(|v| v.as_str().is_some_and(|s| s.trim().is_empty()))
        {
            errors.push(FieldError::new(
                obj.path(key),
                format!("is required when {what} is enabled"),
            ));
        }
    }
    (subject, body)
}

/// Consent-gated email follow-ups of a campaign.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct EmailSettings {
    pub enabled: bool,
    /// The agent asks for the address and for consent on the call; without it no
    /// consent can exist and no email is sent.
    pub ask_for_email: bool,
    /// Overrides the account's default sender name in the `From:` header.
    pub from_name: Option<SenderName>,
    pub subject: Option<TemplateText>,
    /// Basic formatting (Markdown: paragraphs, bold, italics, links, lists).
    pub body: Option<TemplateText>,
    /// Overrides the account's default meeting link for `{{meeting_link}}`.
    pub meeting_link: Option<MeetingLink>,
    /// `ses` (the default) or the id of a connected mailbox.
    pub sender: EmailSender,
}

impl FromJson for EmailSettings {
    fn from_json_at(path: &str, value: &Value, errors: &mut Errors) -> Option<Self> {
        let obj = Obj::new(
            path,
            value,
            &[
                "enabled",
                "ask_for_email",
                "from_name",
                "subject",
                "body",
                "meeting_link",
                "sender",
            ],
            true,
            errors,
        )?;
        let enabled = obj.or_default("enabled", false, errors);
        let (subject, body) = subject_and_body(&obj, enabled, "email", errors);
        Some(Self {
            enabled,
            ask_for_email: obj.or_default("ask_for_email", false, errors),
            from_name: obj.optional_setting("from_name", errors),
            subject,
            body,
            meeting_link: obj.optional_setting("meeting_link", errors),
            sender: obj.or_default("sender", EmailSender::Ses, errors),
        })
    }
}

/// The email sent, without consent, to contacts whose call was missed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct MissedCallEmailSettings {
    pub enabled: bool,
    pub subject: Option<TemplateText>,
    pub body: Option<TemplateText>,
    /// `ses` (the default) or the id of a connected mailbox.
    pub sender: EmailSender,
}

impl FromJson for MissedCallEmailSettings {
    fn from_json_at(path: &str, value: &Value, errors: &mut Errors) -> Option<Self> {
        let obj = Obj::new(
            path,
            value,
            &["enabled", "subject", "body", "sender"],
            true,
            errors,
        )?;
        let enabled = obj.or_default("enabled", false, errors);
        let (subject, body) = subject_and_body(&obj, enabled, "missed_call_email", errors);
        Some(Self {
            enabled,
            subject,
            body,
            sender: obj.or_default("sender", EmailSender::Ses, errors),
        })
    }
}

/// Follow-up settings of one campaign.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Value")]
pub struct CampaignSettings {
    /// The agent calling for this campaign (informational: calls name their agent).
    pub agent_id: Option<AgentId>,
    /// The campaign's zone, used when the contact's is unknown (before the agent's).
    pub time_zone: Option<TimeZone>,
    pub sms: SmsSettings,
    pub email: EmailSettings,
    pub missed_call_email: MissedCallEmailSettings,
}

impl FromJson for CampaignSettings {
    fn from_json_at(path: &str, value: &Value, errors: &mut Errors) -> Option<Self> {
        let obj = Obj::new(
            path,
            value,
            &["agent_id", "time_zone", "sms", "email", "missed_call_email"],
            true,
            errors,
        )?;
        Some(Self {
            agent_id: obj.optional_setting("agent_id", errors),
            time_zone: obj.optional_setting("time_zone", errors),
            sms: obj.or_default("sms", SmsSettings::default(), errors),
            email: obj.or_default("email", EmailSettings::default(), errors),
            missed_call_email: obj.or_default(
                "missed_call_email",
                MissedCallEmailSettings::default(),
                errors,
            ),
        })
    }
}
json_document!(CampaignSettings);

/// Everything `decide`, `recheck` and the renderers read: the account's settings and,
/// when configured, the agent's and the campaign's of the call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub account_id: AccountId,
    pub account: AccountSettings,
    pub agent: Option<AgentSettings>,
    pub campaign: Option<CampaignSettings>,
}

impl Settings {
    /// Settings of an account that configured nothing but its defaults.
    pub fn new(account_id: AccountId, account: AccountSettings) -> Self {
        Self {
            account_id,
            account,
            agent: None,
            campaign: None,
        }
    }

    /// SMS sender name: the campaign's, else the account default.
    pub fn sms_sender_name(&self) -> Option<&SenderName> {
        self.campaign
            .as_ref()
            .and_then(|c| c.sms.sender_name.as_ref())
            .or(self.account.default_sender_name.as_ref())
    }

    /// SMS meeting link: the campaign's, else the account default.
    pub fn sms_meeting_link(&self) -> Option<&MeetingLink> {
        self.campaign
            .as_ref()
            .and_then(|c| c.sms.meeting_link.as_ref())
            .or(self.account.default_meeting_link.as_ref())
    }

    /// Who sends the campaign's email of this kind: `ses` unless the campaign names a
    /// connected mailbox (email and missed-call email choose separately).
    pub fn email_sender(&self, channel: Channel) -> &EmailSender {
        static SES: EmailSender = EmailSender::Ses;
        match (self.campaign.as_ref(), channel) {
            (Some(c), Channel::Email) => &c.email.sender,
            (Some(c), Channel::MissedCallEmail) => &c.missed_call_email.sender,
            _ => &SES,
        }
    }

    /// Email `From:` name (both email kinds): the campaign's, else the account default.
    pub fn email_from_name(&self) -> Option<&SenderName> {
        self.campaign
            .as_ref()
            .and_then(|c| c.email.from_name.as_ref())
            .or(self.account.default_sender_name.as_ref())
    }

    /// Email meeting link (both email kinds): the campaign's, else the account default.
    pub fn email_meeting_link(&self) -> Option<&MeetingLink> {
        self.campaign
            .as_ref()
            .and_then(|c| c.email.meeting_link.as_ref())
            .or(self.account.default_meeting_link.as_ref())
    }

    /// The zone a contact's follow-ups are read in: the contact's, else the campaign's,
    /// else the agent's, else the account default.
    pub fn zone_for(&self, contact_zone: Option<TimeZone>) -> TimeZone {
        contact_zone
            .or_else(|| self.campaign.as_ref().and_then(|c| c.time_zone))
            .or_else(|| self.agent.as_ref().and_then(|a| a.time_zone))
            .unwrap_or(self.account.default_time_zone)
    }

    /// The window of calls and WhatsApp: the agent's hours clamped inside the account's
    /// quiet hours, on the agent's days. `None` without agent settings or when the two
    /// do not overlap.
    pub fn agent_window(&self, zone: TimeZone) -> Option<Window> {
        let agent = self.agent.as_ref()?;
        Some(Window {
            hours: agent.allowed_hours.intersect(&self.account.quiet_hours)?,
            days: agent.allowed_days,
            zone,
        })
    }

    /// The window of SMS: the account's quiet hours, every day.
    pub fn quiet_window(&self, zone: TimeZone) -> Window {
        Window {
            hours: self.account.quiet_hours,
            days: AllowedDays::EVERY_DAY,
            zone,
        }
    }

    /// `Ok` when `channel` is switched on for this campaign / agent, else the reason.
    pub fn channel_enabled(&self, channel: Channel) -> Result<(), Reason> {
        let campaign = self.campaign.as_ref();
        let agent = self.agent.as_ref();
        let enabled = match channel {
            Channel::Sms => campaign.is_some_and(|c| c.sms.enabled),
            Channel::Email => {
                let email = campaign.map(|c| &c.email);
                if email.is_some_and(|e| e.enabled && !e.ask_for_email) {
                    return Err(Reason::AskForEmailOff);
                }
                email.is_some_and(|e| e.enabled)
            }
            Channel::MissedCallEmail => campaign.is_some_and(|c| c.missed_call_email.enabled),
            Channel::Call => agent.is_some_and(|a| a.calls.enabled),
            Channel::Whatsapp => {
                if agent.is_some_and(|a| a.whatsapp.enabled && a.whatsapp.template.is_none()) {
                    return Err(Reason::NoTemplate);
                }
                agent.is_some_and(|a| a.whatsapp.enabled)
            }
        };
        if enabled {
            Ok(())
        } else {
            Err(Reason::ChannelDisabled)
        }
    }
}

impl FromJsonLeaf for CallingRules {
    /// `{"disabled": ["state_hours:FL"], "states": {"CA": {"hours": …, "days": …,
    /// "dates_off": […], "max_per_24h": 2}}}`; only built-in rules can be turned off.
    fn from_leaf(path: &str, value: &Value) -> Result<Self, FieldError> {
        let rules: CallingRules = serde_json::from_value(value.clone())
            .map_err(|e| FieldError::new(path, e.to_string()))?;
        if let Some(rule) = rules
            .disabled
            .iter()
            .find(|r| Rule::parse_built_in(&r.to_string()).is_none())
        {
            return Err(FieldError::new(
                format!("{path}.disabled"),
                format!("{rule} is not a built-in rule that can be turned off"),
            ));
        }
        if let Some((state, _)) = rules
            .states
            .iter()
            .find(|(_, r)| r.max_per_24h == Some(0) || r.dates_off.len() > 366)
        {
            return Err(FieldError::new(
                format!("{path}.states.{state}"),
                "max_per_24h must be at least 1 and dates_off at most 366 dates",
            ));
        }
        Ok(rules)
    }
}
