//! The follow-up policy: every rule of the follow-ups engine, pure and synchronous.
//!
//! A finished call comes in as a [`CallCompleted`]; [`decide`] says which follow-ups it
//! deserves (a follow-up call, WhatsApp, SMS, email, missed-call email), when, and why
//! not when it deserves none; [`recheck`] looks again right before sending; the
//! `render` functions produce what each channel sends; [`lifecycle`] is the state machine
//! every later change of a stored follow-up goes through. No I/O and no clock: `now` is
//! always a parameter, ids are assigned by the caller, and the storage contract is
//! spelled out in [`history`].
//!
//! Reading order for a newcomer: `values` and `window` (the domain values), `settings`
//! and `event` (the inputs), `followup` (what is stored), `decide`, `lifecycle`, `recheck`,
//! `render`.

mod area_codes;
mod error;
mod fields;
mod json;
mod keys;
mod numbering;
mod phone_plan;
mod vocabulary;

pub mod decide;
pub mod delivery;
pub mod event;
pub mod followup;
pub mod history;
pub mod holidays;
pub mod ids;
pub mod legal;
pub mod lifecycle;
pub mod mailbox;
pub mod optout;
pub mod placed;
pub mod platform;
pub mod recheck;
pub mod recipient;
pub mod render;
pub mod settings;
pub mod template;
pub mod values;
pub mod wallclock;
pub mod window;
pub mod zone;

pub use decide::{
    DEFAULT_REQUEST_DELAY, Decision, Decisions, HORIZON, call_touch, decide, latest_facts,
};
pub use delivery::{Delivery, DeliveryState, parse_callback_data, whatsapp_callback_data};
pub use error::{Error, FieldError, ValidationErrors};
pub use event::{
    Analysis, AppointmentRequest, CALL_COMPLETED, Call, CallCompleted, Contact, EmailDestination,
    EventTime, FollowUpRequest, SmsDestination, WebhookEvent, parse_call_completed, parse_event,
};
pub use followup::{
    Appointment, Attempt, Channel, Content, FollowUp, GuardKind, NewFollowUp, Reason, Status,
    TraceEntry,
};
pub use history::{GuardKey, History, PendingKey, Precondition, SuppressionKey};
pub use ids::{AccountId, AgentId, CallId, CampaignId, ContactId, FollowUpId};
pub use legal::{Allowed, CallingRules, Constraint, Rule, earliest_allowed};
pub use mailbox::{EmailSender, MailboxId, MailboxStatus};
pub use optout::{DncSource, confirmation_due, confirmation_text, is_opt_out};
pub use placed::{CallLookup, MAX_IN_PROGRESS_LOOKUPS, PlacedStep, placed_call_id, settle_placed};
pub use recheck::{AtSend, SendCheck, recheck, rezone, whereabouts_now};
pub use recipient::{RecipientFacts, Touch, TouchKind, Whereabouts, ZoneSource, remember_touch};
pub use render::{
    CallRequest, EmailMessage, Encoding, SmsMessage, WhatsAppTemplate, call_request, render_email,
    render_sms, whatsapp_template,
};
pub use settings::{
    AccountSettings, AgentSettings, CallSettings, CampaignSettings, EmailSettings,
    MissedCallEmailSettings, Settings, SmsSettings, WhatsAppSettings, WhatsAppTemplateSettings,
};
pub use template::{TemplateText, Variable};
pub use values::{
    CallOutcome, ConfigurationSet, Consent, Destination, EmailAddress, MeetingLink, PhoneNumber,
    SenderName, SmsSenderId, SmsTemplate, TimeZone, UsState,
};
pub use window::{AllowedDays, AllowedHours, Window, next_allowed_instant};
