//! The five SMS templates, in the project's own fixed wording, and segment counting.
//!
//! Only the slots vary. The sender name and the opt-out wording are always there; when
//! the message would exceed [`MAX_SEGMENTS`], the free-text slots (summary, offer,
//! location, contact name, in that order) are shortened with `...`, never the link,
//! the sender, the code or the opt-out.

use serde::Serialize;

use crate::error::Error;
use crate::followup::{Appointment, Channel, FollowUp, Reason};
use crate::render::{expect_channel, format_appointment};
use crate::settings::Settings;
use crate::values::{MeetingLink, SenderName, SmsTemplate, TimeZone, normalize_line};

/// Every SMS ends with this.
pub const OPT_OUT: &str = "Reply STOP to opt out.";
/// The longest SMS sent, in segments (concatenated SMS are billed per segment).
pub const MAX_SEGMENTS: u32 = 4;
const ELLIPSIS: &str = "...";

/// How an SMS is encoded on the air.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Encoding {
    /// GSM 03.38 7-bit: 160 septets in one segment, 153 per segment when split.
    Gsm7,
    /// UTF-16: 70 code units in one segment, 67 per segment when split.
    Ucs2,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SmsMessage {
    pub text: String,
    pub encoding: Encoding,
    pub segments: u32,
}

/// GSM 03.38 basic character set (the escape code itself excluded).
const GSM7_BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
/// GSM 03.38 extension table: each costs two septets (escape + code).
const GSM7_EXTENSION: &str = "\u{c}^{}\\[~]|€";

/// Septets a character takes in GSM-7, or `None` when it needs UCS-2.
fn gsm7_septets(c: char) -> Option<usize> {
    if GSM7_BASIC.contains(c) {
        Some(1)
    } else if GSM7_EXTENSION.contains(c) {
        Some(2)
    } else {
        None
    }
}

/// The encoding and number of segments of `text`. A character is never split across
/// two segments (an escaped GSM-7 character or a UTF-16 surrogate pair moves whole to
/// the next one), as handsets do.
pub fn count_segments(text: &str) -> (Encoding, u32) {
    let gsm: Option<Vec<usize>> = text.chars().map(gsm7_septets).collect();
    let (encoding, units, single, per_part) = match gsm {
        Some(units) => (Encoding::Gsm7, units, 160, 153),
        None => (
            Encoding::Ucs2,
            text.chars().map(char::len_utf16).collect(),
            70,
            67,
        ),
    };
    let total: usize = units.iter().sum();
    if total <= single {
        return (encoding, 1);
    }
    let (mut segments, mut used) = (1u32, 0usize);
    for unit in units {
        if used + unit > per_part {
            segments += 1;
            used = 0;
        }
        used += unit;
    }
    (encoding, segments)
}

fn fits(text: &str) -> bool {
    count_segments(text).1 <= MAX_SEGMENTS
}

/// A piece of the message; `shorten` ranks free-text slots (lower shortens first).
struct Part {
    text: String,
    shorten: Option<u8>,
}

fn fixed(text: impl Into<String>) -> Part {
    Part {
        text: text.into(),
        shorten: None,
    }
}

fn slot(text: impl Into<String>, rank: u8) -> Part {
    Part {
        text: text.into(),
        shorten: Some(rank),
    }
}

fn compose(parts: &[Part]) -> String {
    parts.iter().map(|p| p.text.as_str()).collect()
}

/// Shortens slots, lowest rank first, until the message fits.
fn fit(mut parts: Vec<Part>) -> Result<String, Error> {
    let mut order: Vec<usize> = (0..parts.len())
        .filter(|&i| parts[i].shorten.is_some())
        .collect();
    order.sort_by_key(|&i| parts[i].shorten);
    for index in order {
        if fits(&compose(&parts)) {
            break;
        }
        let original: Vec<char> = parts[index].text.chars().collect();
        let with_prefix = |parts: &mut Vec<Part>, keep: usize| {
            parts[index].text = if keep == 0 {
                String::new()
            } else {
                let prefix: String = original[..keep].iter().collect();
                format!("{}{ELLIPSIS}", prefix.trim_end())
            };
        };
        // Bisection for the longest prefix that fits (`lo` always fits or is 0).
        let (mut lo, mut hi) = (0usize, original.len());
        while lo < hi {
            let mid = lo + (hi - lo).div_ceil(2);
            with_prefix(&mut parts, mid);
            if fits(&compose(&parts)) {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        with_prefix(&mut parts, lo);
    }
    let text = compose(&parts);
    if fits(&text) {
        Ok(text)
    } else {
        Err(Error::not_renderable(
            Reason::MessageTooLong,
            format!("the SMS does not fit in {MAX_SEGMENTS} segments"),
        ))
    }
}

/// What a template needs and the caller lacks. The one list of the fixed templates'
/// requirements ([`fill_slots`]), checked when a call is decided and again when the text
/// is rendered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SmsNeed {
    SenderName,
    MeetingLink,
    Appointment,
    Summary,
    Offer,
}

impl SmsNeed {
    /// The reason a follow-up lacking it is suppressed or failed with.
    pub(crate) fn reason(self) -> Reason {
        match self {
            SmsNeed::SenderName => Reason::NoSenderName,
            SmsNeed::MeetingLink => Reason::NoMeetingLink,
            SmsNeed::Appointment => Reason::NoAppointment,
            SmsNeed::Summary => Reason::NoSummary,
            SmsNeed::Offer => Reason::NoOffer,
        }
    }

    /// What is missing.
    pub(crate) fn what(self) -> &'static str {
        match self {
            SmsNeed::SenderName => "a sender name",
            SmsNeed::MeetingLink => "a meeting link",
            SmsNeed::Appointment => "an appointment",
            SmsNeed::Summary => "a summary",
            SmsNeed::Offer => "an offer summary and a promo code",
        }
    }

    /// Where it comes from, as said when a call is decided.
    pub(crate) fn source(self) -> &'static str {
        match self {
            SmsNeed::SenderName | SmsNeed::MeetingLink => " (campaign or account default)",
            SmsNeed::Appointment => " booked on the call",
            SmsNeed::Summary => " of the call",
            SmsNeed::Offer => "",
        }
    }
}

/// What an SMS's slots are filled from, as the caller knows them (`A`: the appointment,
/// as the call reported it or as the follow-up keeps it).
pub(crate) struct SmsInputs<'a, A> {
    pub sender_name: Option<&'a SenderName>,
    pub meeting_link: Option<&'a MeetingLink>,
    pub appointment: Option<&'a A>,
    pub summary: Option<&'a str>,
    pub offer_summary: Option<&'a str>,
    pub promo_code: Option<&'a str>,
}

/// The slot of its own a template fills.
pub(crate) enum TemplateSlot<'a, A> {
    Link(&'a MeetingLink),
    Appointment(&'a A),
    Summary(&'a str),
    Offer { summary: &'a str, code: &'a str },
}

/// Fills the sender name and the template's own slot, or names the first thing missing
/// (the sender name first).
pub(crate) fn fill_slots<'a, A>(
    template: SmsTemplate,
    inputs: SmsInputs<'a, A>,
) -> Result<(&'a SenderName, TemplateSlot<'a, A>), SmsNeed> {
    let sender = inputs.sender_name.ok_or(SmsNeed::SenderName)?;
    let slot = match template {
        SmsTemplate::MeetingRequest | SmsTemplate::NextStep => {
            TemplateSlot::Link(inputs.meeting_link.ok_or(SmsNeed::MeetingLink)?)
        }
        SmsTemplate::AppointmentConfirmation => {
            TemplateSlot::Appointment(inputs.appointment.ok_or(SmsNeed::Appointment)?)
        }
        SmsTemplate::ConversationSummary => {
            TemplateSlot::Summary(inputs.summary.ok_or(SmsNeed::Summary)?)
        }
        SmsTemplate::OfferPromo => match (inputs.offer_summary, inputs.promo_code) {
            (Some(summary), Some(code)) => TemplateSlot::Offer { summary, code },
            _ => return Err(SmsNeed::Offer),
        },
    };
    Ok((sender, slot))
}

/// Renders an SMS follow-up with the campaign's template.
pub fn render_sms(followup: &FollowUp, settings: &Settings) -> Result<SmsMessage, Error> {
    expect_channel(followup, &[Channel::Sms])?;
    let sms = settings.campaign.as_ref().map(|c| &c.sms).ok_or_else(|| {
        Error::not_renderable(Reason::ChannelDisabled, "the campaign has no SMS settings")
    })?;
    let template = sms
        .template
        .ok_or_else(|| Error::not_renderable(Reason::NoTemplate, "no SMS template is selected"))?;
    let content = &followup.content;
    let summary = content
        .summary
        .as_deref()
        .map(normalize_line)
        .filter(|s| !s.is_empty());
    let inputs = SmsInputs {
        sender_name: settings.sms_sender_name(),
        meeting_link: settings.sms_meeting_link(),
        appointment: content.appointment.as_ref(),
        summary: summary.as_deref(),
        offer_summary: sms.offer_summary.as_deref(),
        promo_code: sms.promo_code.as_deref(),
    };
    let (sender, own) = fill_slots(template, inputs).map_err(|need| match need {
        SmsNeed::SenderName => Error::not_renderable(need.reason(), "no sender name is set"),
        _ => Error::not_renderable(
            need.reason(),
            format!("the {} template needs {}", template.as_str(), need.what()),
        ),
    })?;

    let mut parts = greeting(content.contact_name.as_deref(), sender);
    parts.extend(template_parts(template, own, followup.time_zone));
    parts.push(fixed(OPT_OUT));
    let text = fit(parts)?;
    let (encoding, segments) = count_segments(&text);
    Ok(SmsMessage {
        text,
        encoding,
        segments,
    })
}

/// "Hi <name>, this is <sender>. " (the name left out when there is none).
fn greeting(contact_name: Option<&str>, sender: &SenderName) -> Vec<Part> {
    let mut parts = vec![fixed("Hi")];
    if let Some(name) = contact_name.map(normalize_line).filter(|n| !n.is_empty()) {
        parts.push(fixed(" "));
        parts.push(slot(name, 3));
    }
    parts.push(fixed(format!(", this is {sender}. ")));
    parts
}

/// The template's own sentence around its slot.
fn template_parts(
    template: SmsTemplate,
    own: TemplateSlot<'_, Appointment>,
    time_zone: TimeZone,
) -> Vec<Part> {
    match own {
        TemplateSlot::Link(link) => {
            let lead = if template == SmsTemplate::MeetingRequest {
                "Thanks for your time today. Book a meeting at a time that suits you: "
            } else {
                "Great speaking with you. Your next step is to pick a time here: "
            };
            vec![fixed(format!("{lead}{link} "))]
        }
        TemplateSlot::Appointment(appointment) => {
            let when = format_appointment(appointment.at, time_zone);
            let mut parts = vec![fixed(format!("Your appointment is confirmed for {when}"))];
            if let Some(location) = appointment
                .location
                .as_deref()
                .map(normalize_line)
                .filter(|l| !l.is_empty())
            {
                parts.push(fixed(" at "));
                parts.push(slot(location, 2));
            }
            parts.push(fixed(". See you then! "));
            parts
        }
        TemplateSlot::Summary(summary) => vec![
            fixed("Here is a recap of our call: "),
            slot(summary.to_owned(), 0),
            fixed(" "),
        ],
        TemplateSlot::Offer { summary, code } => vec![
            fixed("As promised, here is your offer: "),
            slot(summary.trim_end_matches(['.', ' ']), 1),
            fixed(format!(". Use code {code}. ")),
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_template_names_what_it_lacks_sender_name_first() {
        let none = || SmsInputs::<()> {
            sender_name: None,
            meeting_link: None,
            appointment: None,
            summary: None,
            offer_summary: None,
            promo_code: None,
        };
        let sender = SenderName::parse("sender_name", "Acme").unwrap();
        let cases = [
            (SmsTemplate::MeetingRequest, SmsNeed::MeetingLink),
            (SmsTemplate::NextStep, SmsNeed::MeetingLink),
            (SmsTemplate::AppointmentConfirmation, SmsNeed::Appointment),
            (SmsTemplate::ConversationSummary, SmsNeed::Summary),
            (SmsTemplate::OfferPromo, SmsNeed::Offer),
        ];
        for (template, need) in cases {
            assert_eq!(
                fill_slots(template, none()).err(),
                Some(SmsNeed::SenderName)
            );
            let with_sender = SmsInputs {
                sender_name: Some(&sender),
                ..none()
            };
            assert_eq!(
                fill_slots(template, with_sender).err(),
                Some(need),
                "{template:?}"
            );
        }
        let half_offer = SmsInputs {
            sender_name: Some(&sender),
            offer_summary: Some("10% off"),
            ..none()
        };
        assert_eq!(
            fill_slots(SmsTemplate::OfferPromo, half_offer).err(),
            Some(SmsNeed::Offer)
        );
    }

    #[test]
    fn gsm7_fits_160_septets_in_one_segment() {
        assert_eq!(count_segments(&"a".repeat(160)), (Encoding::Gsm7, 1));
        assert_eq!(count_segments(&"a".repeat(161)), (Encoding::Gsm7, 2));
        assert_eq!(count_segments(&"a".repeat(306)), (Encoding::Gsm7, 2));
        assert_eq!(count_segments(&"a".repeat(307)), (Encoding::Gsm7, 3));
    }

    #[test]
    fn gsm7_extension_characters_count_twice() {
        assert_eq!(count_segments(&"€".repeat(80)), (Encoding::Gsm7, 1));
        assert_eq!(count_segments(&"€".repeat(81)), (Encoding::Gsm7, 2));
        // 152 plain septets then an escaped one: the pair moves whole to segment 2.
        let text = format!("{}{{{}", "a".repeat(152), "a".repeat(10));
        assert_eq!(count_segments(&text), (Encoding::Gsm7, 2));
    }

    #[test]
    fn one_non_gsm_character_switches_to_ucs2() {
        assert_eq!(count_segments(&"a".repeat(70)), (Encoding::Gsm7, 1));
        assert_eq!(
            count_segments(&format!("{}ł", "a".repeat(69))),
            (Encoding::Ucs2, 1)
        );
        assert_eq!(
            count_segments(&format!("{}ł", "a".repeat(70))),
            (Encoding::Ucs2, 2)
        );
        assert_eq!(count_segments(&"ł".repeat(134)), (Encoding::Ucs2, 2));
        assert_eq!(count_segments(&"ł".repeat(135)), (Encoding::Ucs2, 3));
    }

    #[test]
    fn emoji_take_two_utf16_units_and_are_not_split() {
        assert_eq!(count_segments(&"😀".repeat(35)), (Encoding::Ucs2, 1));
        assert_eq!(count_segments(&"😀".repeat(36)), (Encoding::Ucs2, 2));
        // 66 units then a pair: it does not fit in the 67 left, so it starts segment 2.
        let text = format!("{}😀{}", "ł".repeat(66), "ł".repeat(60));
        assert_eq!(count_segments(&text), (Encoding::Ucs2, 2));
    }
}
