//! `decide`: what a finished call deserves. Pure: the clock is the `now` parameter and
//! the past is the `History` the caller passes (see `history` for the storage contract).
//!
//! Timing choices:
//! - SMS, email and missed-call email are due right away ("within seconds of the call
//!   ending"). SMS alone also respects the account's quiet hours in the contact's zone:
//!   a call that ends at 21:05 gets its SMS the next morning at the start of the quiet
//!   hours. Email is not intrusive and is never held back.
//! - Calls and WhatsApp are due at the requested time (or [`DEFAULT_REQUEST_DELAY`]
//!   after the call ended), moved to the next allowed instant of the agent's window
//!   clamped inside the quiet hours; a request further than [`HORIZON`] is refused.

use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;

use crate::event::{CallCompleted, FollowUpRequest};
use crate::followup::{
    Appointment, Channel, Content, FollowUp, GuardKind, NewFollowUp, Reason, Status, TraceEntry,
};
use crate::history::{GuardKey, History, PendingKey, Precondition, SuppressionKey};
use crate::ids::{CampaignId, ContactId, FollowUpId};
use crate::legal::{Rule, Subject, Timing, rule_list, timing};
use crate::recipient::{RecipientFacts, Touch, TouchKind, Whereabouts};
use crate::render::sms::{SmsInputs, fill_slots};
use crate::settings::{CampaignSettings, Settings, SmsSettings};
use crate::template::Variable;
use crate::values::{Destination, TimeZone};
use crate::window::Window;

/// When a request has no time: a day after the call ended (then moved into the window),
/// i.e. "tomorrow, around the same time".
pub const DEFAULT_REQUEST_DELAY: TimeDelta = TimeDelta::hours(24);

/// A request for a time further than this from now is refused (`outside_horizon`): an
/// agent that misheard "next year" should not leave a call pending for months.
pub const HORIZON: TimeDelta = TimeDelta::days(30);

/// One thing to write.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum Decision {
    /// A new follow-up: `scheduled`, `needs_review` or `suppressed` (suppressions are
    /// stored too, so the contact's view shows why nothing was sent).
    Create(NewFollowUp),
    /// The pending follow-up of this channel moves to a new time (a new request).
    Reschedule {
        followup_id: FollowUpId,
        due_at: DateTime<Utc>,
        destination: Destination,
        content: Content,
        /// Entries recorded before `trace` (e.g. `invalid_contact_timezone`).
        #[serde(skip_serializing_if = "Vec::is_empty")]
        notes: Vec<TraceEntry>,
        trace: TraceEntry,
    },
    /// A `needs_review` SMS gets the number this call confirmed: `scheduled`, with the
    /// consent of this call, instead of a second SMS refused as `already_sent`.
    Complete {
        followup_id: FollowUpId,
        due_at: DateTime<Utc>,
        destination: Destination,
        content: Content,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        notes: Vec<TraceEntry>,
        trace: TraceEntry,
    },
    /// An unanswered follow-up call is tried again: back to `scheduled` as `attempt`.
    Retry {
        followup_id: FollowUpId,
        attempt: u32,
        due_at: DateTime<Utc>,
        destination: Option<Destination>,
        /// The recipient's zone now (it may have been learned since the first try).
        time_zone: TimeZone,
        /// Entries recorded before `trace`: suppressions of other channels this call
        /// decided again, already stored once (see [`Decision::Noted`]).
        #[serde(skip_serializing_if = "Vec::is_empty")]
        notes: Vec<TraceEntry>,
        trace: TraceEntry,
    },
    /// A follow-up call reaches its end: `completed`, `exhausted`, `failed` or
    /// `cancelled` (superseded by a newer request).
    Finish {
        followup_id: FollowUpId,
        status: Status,
        reason: Reason,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        notes: Vec<TraceEntry>,
        trace: TraceEntry,
    },
    /// A suppression already stored for this (campaign, contact, channel, reason):
    /// nothing new is stored; when the call was a follow-up call, its trace keeps it.
    Noted {
        channel: Channel,
        /// The follow-up that records the suppression.
        recorded_as: FollowUpId,
        trace: TraceEntry,
    },
}

impl Decision {
    /// The follow-up an existing-follow-up decision is about.
    pub fn followup_id(&self) -> Option<&FollowUpId> {
        match self {
            Self::Reschedule { followup_id, .. }
            | Self::Complete { followup_id, .. }
            | Self::Retry { followup_id, .. }
            | Self::Finish { followup_id, .. } => Some(followup_id),
            Self::Noted { recorded_as, .. } => Some(recorded_as),
            Self::Create(_) => None,
        }
    }

    /// The trace entries the decision adds to its follow-up, oldest first; the last one
    /// is the follow-up's new status and reason.
    pub fn trace(&self) -> Vec<TraceEntry> {
        match self {
            Self::Create(new) => new.trace.clone(),
            Self::Reschedule { notes, trace, .. }
            | Self::Complete { notes, trace, .. }
            | Self::Retry { notes, trace, .. }
            | Self::Finish { notes, trace, .. } => notes.iter().chain([trace]).cloned().collect(),
            Self::Noted { trace, .. } => vec![trace.clone()],
        }
    }
}

/// Everything decided for one call, all about one (campaign, contact).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decisions {
    pub campaign_id: CampaignId,
    pub contact_id: ContactId,
    pub decisions: Vec<Decision>,
}

impl Decisions {
    pub fn iter(&self) -> std::slice::Iter<'_, Decision> {
        self.decisions.iter()
    }

    pub fn len(&self) -> usize {
        self.decisions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.decisions.is_empty()
    }

    /// The new follow-ups.
    pub fn created(&self) -> impl Iterator<Item = &NewFollowUp> {
        self.decisions.iter().filter_map(|d| match d {
            Decision::Create(new) => Some(new),
            _ => None,
        })
    }

    /// What the write must check atomically (without duplicates, in a stable order).
    /// Suppressed follow-ups and finishes need nothing; anything that may send needs its
    /// destination off the DNC list; a guarded kind needs its guard free; a call or
    /// WhatsApp follow-up that takes the pending slot needs it free.
    pub fn preconditions(&self) -> Vec<Precondition> {
        let mut all = std::collections::BTreeSet::new();
        for decision in &self.decisions {
            match decision {
                Decision::Create(new) if new.status == Status::Suppressed => {
                    if let Some(key) = new.suppression_key() {
                        all.insert(Precondition::NotYetSuppressed(key));
                    }
                }
                Decision::Create(new) => {
                    if let Some(destination) = &new.destination {
                        all.insert(Precondition::NotOnDnc(destination.clone()));
                    }
                    if let Some(GuardKey {
                        campaign_id,
                        contact_id,
                        kind,
                    }) = new.kind_guard()
                    {
                        all.insert(Precondition::NotYetSent {
                            campaign_id,
                            contact_id,
                            kind,
                        });
                    }
                    if let Some(PendingKey {
                        campaign_id,
                        contact_id,
                        channel,
                    }) = new.pending_key()
                    {
                        all.insert(Precondition::NoPending {
                            campaign_id,
                            contact_id,
                            channel,
                        });
                    }
                }
                Decision::Reschedule { destination, .. }
                | Decision::Complete { destination, .. } => {
                    all.insert(Precondition::NotOnDnc(destination.clone()));
                }
                Decision::Retry { destination, .. } => {
                    if let Some(destination) = destination {
                        all.insert(Precondition::NotOnDnc(destination.clone()));
                    }
                    all.insert(Precondition::NoPending {
                        campaign_id: self.campaign_id.clone(),
                        contact_id: self.contact_id.clone(),
                        channel: Channel::Call,
                    });
                }
                Decision::Finish { .. } | Decision::Noted { .. } => {}
            }
        }
        all.into_iter().collect()
    }
}

impl IntoIterator for Decisions {
    type Item = Decision;
    type IntoIter = std::vec::IntoIter<Decision>;
    fn into_iter(self) -> Self::IntoIter {
        self.decisions.into_iter()
    }
}

/// Decides the follow-ups of a finished call. See the module docs for timing and
/// `history` for how `history` and the preconditions fit together.
pub fn decide(
    settings: &Settings,
    event: &CallCompleted,
    history: &History,
    now: DateTime<Utc>,
) -> Decisions {
    let facts = latest_facts(&history.recipient, event);
    let place = Whereabouts::of(
        &facts,
        event.contact.phone.as_ref(),
        settings.zone_for(None),
    );
    let mut touches = history.touches.clone();
    touches.extend(call_touch(event));
    let ctx = Ctx {
        settings,
        event,
        history,
        now,
        zone: place.primary_zone(),
        place,
        touches,
    };
    let mut decisions = Vec::new();
    let mut original = ctx.original_call();
    decisions.extend(ctx.sms());
    decisions.extend(ctx.email());
    decisions.extend(ctx.missed_call_email());
    let requested = ctx.requests(&mut original);
    decisions.splice(0..0, original);
    decisions.extend(requested);
    let mut decisions = ctx.once_per_suppression(decisions);
    ctx.note_invalid_zone(&mut decisions);
    Decisions {
        campaign_id: event.call.campaign_id.clone(),
        contact_id: event.contact.id.clone(),
        decisions,
    }
}

/// The facts known before this call, updated with what this call reports.
pub fn latest_facts(known: &RecipientFacts, event: &CallCompleted) -> RecipientFacts {
    let mut facts = known.clone();
    facts.learn(
        event.contact.timezone,
        event.contact.state,
        event.call.ended_at,
    );
    facts
}

/// The call itself as a contact counted by frequency caps: every call of the campaign
/// except a follow-up call of ours, which was counted when it was placed.
pub fn call_touch(event: &CallCompleted) -> Option<Touch> {
    event.followup_id().is_none().then(|| Touch {
        at: event.call.started_at.unwrap_or(event.call.ended_at),
        kind: TouchKind::Call,
    })
}

/// The outcome of one rule before it becomes a follow-up.
enum Verdict {
    Schedule {
        destination: Destination,
        due_at: DateTime<Utc>,
        reason: Reason,
        detail: String,
        rules: Vec<Rule>,
    },
    NeedsReview {
        reason: Reason,
        detail: String,
    },
    Suppress {
        reason: Reason,
        detail: String,
        destination: Option<Destination>,
    },
    /// The `needs_review` follow-up gets this destination.
    Complete {
        followup_id: FollowUpId,
        destination: Destination,
        due_at: DateTime<Utc>,
        detail: String,
    },
}

fn suppress(reason: Reason, detail: impl Into<String>) -> Verdict {
    Verdict::Suppress {
        reason,
        detail: detail.into(),
        destination: None,
    }
}

struct Ctx<'a> {
    settings: &'a Settings,
    event: &'a CallCompleted,
    history: &'a History,
    now: DateTime<Utc>,
    /// The zone local times are read in: the contact's latest, else the area code's
    /// first, else the campaign's, agent's, account's.
    zone: TimeZone,
    /// Every zone the recipient may be in, and the states whose laws apply.
    place: Whereabouts,
    /// The campaign's calls and texts to the contact so far, this call included.
    touches: Vec<Touch>,
}

impl Ctx<'_> {
    /// The earliest instant at or after `from` that `window` (in every zone the
    /// recipient may be in) and every legal rule allow.
    fn timing(&self, channel: Channel, window: &Window, from: DateTime<Utc>) -> Option<Timing> {
        let subject = Subject {
            channel,
            zones: &self.place.zones,
            states: &self.place.states,
            touches: &self.touches,
        };
        timing(
            window,
            &subject,
            &self.settings.account.calling_rules,
            from.max(self.now),
        )
    }

    /// Why a follow-up waits, for its trace: the rules that held it, and the built-in
    /// rules the account turned off that would have applied.
    fn timing_detail(&self, timing: &Timing) -> String {
        let mut detail = String::new();
        if !timing.held_by.is_empty() {
            detail.push_str(&format!(
                "; held by {} in {} until {}",
                rule_list(&timing.held_by),
                self.place
                    .zones
                    .iter()
                    .map(|z| z.as_str())
                    .collect::<Vec<_>>()
                    .join(" and "),
                timing.at
            ));
        }
        if !timing.turned_off.is_empty() {
            detail.push_str(&format!(
                "; rules turned off by the account: {}",
                rule_list(&timing.turned_off)
            ));
        }
        detail
    }

    fn campaign(&self) -> Option<&CampaignSettings> {
        self.settings.campaign.as_ref()
    }

    fn guard(&self, kind: GuardKind) -> GuardKey {
        GuardKey {
            campaign_id: self.event.call.campaign_id.clone(),
            contact_id: self.event.contact.id.clone(),
            kind,
        }
    }

    /// Whether the kind's once is spent. A guard held by a `needs_review` SMS is not
    /// (see `sms_verdict`); for the emails, which never wait for review, it would be.
    fn already_sent(&self, kind: GuardKind) -> bool {
        let guard = self.guard(kind);
        self.history.already_sent.contains(&guard)
            || (kind != GuardKind::Sms && self.history.awaiting_review.contains_key(&guard))
    }

    /// Rule 9: a suppression is stored once per (campaign, contact, channel, reason).
    /// One already stored becomes a [`Decision::Noted`] (kept in the trace of the
    /// follow-up call this call finishes or retries, if any); two alike in this call
    /// become one follow-up with both entries.
    fn once_per_suppression(&self, decisions: Vec<Decision>) -> Vec<Decision> {
        let mut out: Vec<Decision> = Vec::with_capacity(decisions.len());
        let mut first: std::collections::BTreeMap<SuppressionKey, usize> = Default::default();
        let mut notes = Vec::new();
        for decision in decisions {
            let Decision::Create(new) = decision else {
                out.push(decision);
                continue;
            };
            let Some(key) = new.suppression_key() else {
                out.push(Decision::Create(new));
                continue;
            };
            if let Some(recorded_as) = self.history.suppressed.get(&key) {
                let trace = new.trace[new.trace.len() - 1].clone().about(new.channel);
                notes.push(trace.clone());
                out.push(Decision::Noted {
                    channel: new.channel,
                    recorded_as: recorded_as.clone(),
                    trace,
                });
            } else if let Some(Decision::Create(earlier)) = first.get(&key).map(|&i| &mut out[i]) {
                earlier.trace.extend(new.trace);
            } else {
                first.insert(key, out.len());
                out.push(Decision::Create(new));
            }
        }
        if let Some(Decision::Retry { notes: kept, .. } | Decision::Finish { notes: kept, .. }) =
            out.iter_mut()
                .find(|d| matches!(d, Decision::Retry { .. } | Decision::Finish { .. }))
        {
            kept.extend(notes);
        }
        out
    }

    /// Rule 10: an invalid `contact.timezone` does not lose the call; every follow-up
    /// decided in the fallback zone says so first in its trace.
    fn note_invalid_zone(&self, decisions: &mut [Decision]) {
        let Some(raw) = &self.event.contact.invalid_timezone else {
            return;
        };
        let note = |status| {
            TraceEntry::new(
                self.now,
                status,
                Reason::InvalidContactTimezone,
                format!(
                    "contact.timezone {raw:?} is not a time zone; decided in {}",
                    self.zone
                ),
            )
        };
        for decision in decisions {
            match decision {
                Decision::Create(new) => new.trace.insert(0, note(new.status)),
                Decision::Reschedule { notes, .. } | Decision::Complete { notes, .. } => {
                    notes.insert(0, note(Status::Scheduled))
                }
                // A retry is read in the follow-up's own zone unless a request moved it.
                Decision::Retry { notes, trace, .. } if trace.reason == Reason::Rescheduled => {
                    notes.insert(0, note(Status::Scheduled))
                }
                Decision::Retry { .. } | Decision::Finish { .. } | Decision::Noted { .. } => {}
            }
        }
    }

    fn on_dnc(&self, destination: &Destination) -> bool {
        self.history.dnc.contains(destination)
    }

    fn not_answered(&self) -> Verdict {
        suppress(
            Reason::NotAnswered,
            format!("the call ended {}", self.event.call.outcome_description()),
        )
    }

    fn content(&self, request: Option<&FollowUpRequest>) -> Content {
        let analysis = &self.event.analysis;
        Content {
            contact_name: self.event.contact.name.clone(),
            summary: analysis.summary.clone(),
            appointment: analysis.appointment.as_ref().map(|a| Appointment {
                at: a.at.resolve(self.zone),
                location: a.location.clone(),
            }),
            request_reason: request.and_then(|r| r.reason.clone()),
            locale: self.event.contact.locale.clone(),
        }
    }

    fn create(&self, channel: Channel, verdict: Verdict, content: Content) -> Decision {
        let (status, due_at, destination, reason, detail, rules) = match verdict {
            Verdict::Schedule {
                destination,
                due_at,
                reason,
                detail,
                rules,
            } => (
                Status::Scheduled,
                due_at,
                Some(destination),
                reason,
                detail,
                rules,
            ),
            Verdict::NeedsReview { reason, detail } => (
                Status::NeedsReview,
                self.now,
                None,
                reason,
                detail,
                Vec::new(),
            ),
            Verdict::Suppress {
                reason,
                detail,
                destination,
            } => (
                Status::Suppressed,
                self.now,
                destination,
                reason,
                detail,
                Vec::new(),
            ),
            Verdict::Complete {
                followup_id,
                destination,
                due_at,
                detail,
            } => {
                return Decision::Complete {
                    followup_id,
                    due_at,
                    destination,
                    content,
                    notes: Vec::new(),
                    trace: TraceEntry::new(self.now, Status::Scheduled, Reason::Consented, detail),
                };
            }
        };
        let calls = self
            .settings
            .agent
            .as_ref()
            .filter(|_| channel == Channel::Call && status == Status::Scheduled)
            .map(|agent| &agent.calls);
        Decision::Create(NewFollowUp {
            account_id: self.settings.account_id.clone(),
            campaign_id: self.event.call.campaign_id.clone(),
            agent_id: self.event.call.agent_id.clone(),
            contact_id: self.event.contact.id.clone(),
            call_id: self.event.call.id.clone(),
            channel,
            status,
            due_at,
            time_zone: self.zone,
            zone_source: self.place.source,
            attempt: 1,
            max_retries: calls.map(|c| c.max_retries),
            retry_interval_minutes: calls.map(|c| c.retry_interval_minutes),
            destination,
            content,
            reason,
            trace: vec![TraceEntry::new(self.now, status, reason, detail).held_by(rules)],
        })
    }

    /// Rule 1–2: SMS after an answered call, with consent, once, to a confirmed number.
    fn sms(&self) -> Option<Decision> {
        let sms = &self.campaign()?.sms;
        if !sms.enabled {
            return None;
        }
        Some(self.create(Channel::Sms, self.sms_verdict(sms), self.content(None)))
    }

    fn sms_verdict(&self, sms: &SmsSettings) -> Verdict {
        let analysis = &self.event.analysis;
        if !self.event.call.outcome.answered() {
            return self.not_answered();
        }
        if !analysis.consent.sms {
            return suppress(
                Reason::NoConsent,
                "the contact did not agree to a text on the call",
            );
        }
        if self.already_sent(GuardKind::Sms) {
            return suppress(
                Reason::AlreadySent,
                "an SMS was already sent to this contact in this campaign",
            );
        }
        if let Err((reason, detail)) = self.sms_slots(sms) {
            return suppress(reason, detail);
        }
        let in_review = self
            .history
            .awaiting_review
            .get(&self.guard(GuardKind::Sms));
        let Some(number) = analysis.sms_destination.as_ref().filter(|d| d.confirmed) else {
            if let Some(in_review) = in_review {
                return suppress(
                    Reason::AwaitingReview,
                    format!(
                        "SMS {} already waits for an operator to set its number",
                        in_review.id
                    ),
                );
            }
            return Verdict::NeedsReview {
                reason: Reason::DestinationUnconfirmed,
                detail:
                    "no number was confirmed on the call; an operator must set it and send the SMS"
                        .into(),
            };
        };
        let destination = Destination::Phone(number.number.clone());
        if self.on_dnc(&destination) {
            return Verdict::Suppress {
                reason: Reason::Dnc,
                detail: format!("{destination} is on the do-not-call list"),
                destination: Some(destination),
            };
        }
        let window = self.settings.quiet_window(self.zone);
        let Some(timing) = self.timing(Channel::Sms, &window, self.now) else {
            return suppress(
                Reason::NoAllowedWindow,
                "no instant in the next weeks is allowed by the quiet hours and the legal rules",
            );
        };
        if let Some(in_review) = in_review {
            return Verdict::Complete {
                followup_id: in_review.id.clone(),
                destination,
                due_at: timing.at,
                detail: format!(
                    "call {} confirmed {}; the SMS that waited for review goes there{}",
                    self.event.call.id,
                    number.number,
                    self.timing_detail(&timing)
                ),
            };
        }
        Verdict::Schedule {
            destination,
            due_at: timing.at,
            reason: Reason::Consented,
            detail: format!(
                "the contact agreed to a text on the call{}",
                self.timing_detail(&timing)
            ),
            rules: timing.held_by,
        }
    }

    /// Every slot of the chosen template can be filled.
    fn sms_slots(&self, sms: &SmsSettings) -> Result<(), (Reason, String)> {
        let template = sms
            .template
            .ok_or((Reason::NoTemplate, "no SMS template is selected".to_owned()))?;
        let analysis = &self.event.analysis;
        let inputs = SmsInputs {
            sender_name: self.settings.sms_sender_name(),
            meeting_link: self.settings.sms_meeting_link(),
            appointment: analysis.appointment.as_ref(),
            summary: analysis.summary.as_deref(),
            offer_summary: sms.offer_summary.as_deref(),
            promo_code: sms.promo_code.as_deref(),
        };
        match fill_slots(template, inputs) {
            Ok(_) => Ok(()),
            Err(need) => Err((
                need.reason(),
                format!(
                    "the {} template needs {}{}",
                    template.as_str(),
                    need.what(),
                    need.source()
                ),
            )),
        }
    }

    /// Rule 3: email after an answered call, when asked for, with consent, once.
    fn email(&self) -> Option<Decision> {
        let email = &self.campaign()?.email;
        if !email.enabled {
            return None;
        }
        let analysis = &self.event.analysis;
        let verdict = if !email.ask_for_email {
            suppress(
                Reason::AskForEmailOff,
                "email is enabled but ask_for_email is off, so no consent can be given",
            )
        } else if !self.event.call.outcome.answered() {
            self.not_answered()
        } else if !analysis.consent.email {
            suppress(
                Reason::NoConsent,
                "the contact did not agree to an email on the call",
            )
        } else if self.already_sent(GuardKind::Email) {
            suppress(
                Reason::AlreadySent,
                "an email was already sent to this contact in this campaign",
            )
        } else if self.lacks_meeting_link(Channel::Email) {
            suppress(
                Reason::NoMeetingLink,
                "the email uses {{meeting_link}} but no meeting link is set",
            )
        } else {
            match (&analysis.email_address, &self.event.contact.email) {
                (Some(given), _) if given.confirmed => {
                    self.send_email(given.address.clone().into(), Reason::Consented)
                }
                (Some(_), _) => suppress(
                    Reason::DestinationUnconfirmed,
                    "the address given on the call was not confirmed",
                ),
                (None, Some(on_file)) => self.send_email(on_file.clone().into(), Reason::Consented),
                (None, None) => suppress(
                    Reason::NoDestination,
                    "no email address is known for the contact",
                ),
            }
        };
        Some(self.create(Channel::Email, verdict, self.content(None)))
    }

    /// Rule 4: the missed-call email goes to every missed contact with an address on
    /// file, without consent (there was no conversation to ask in), once.
    fn missed_call_email(&self) -> Option<Decision> {
        let missed = &self.campaign()?.missed_call_email;
        if !missed.enabled || !self.event.call.outcome.missed() {
            return None;
        }
        let verdict = if self.already_sent(GuardKind::MissedCallEmail) {
            suppress(
                Reason::AlreadySent,
                "a missed-call email was already sent to this contact in this campaign",
            )
        } else if self.lacks_meeting_link(Channel::MissedCallEmail) {
            suppress(
                Reason::NoMeetingLink,
                "the email uses {{meeting_link}} but no meeting link is set",
            )
        } else if let Some(address) = &self.event.contact.email {
            self.send_email(address.clone().into(), Reason::MissedCall)
        } else {
            suppress(
                Reason::NoDestination,
                "the contact has no email address on file",
            )
        };
        Some(self.create(Channel::MissedCallEmail, verdict, self.content(None)))
    }

    fn lacks_meeting_link(&self, channel: Channel) -> bool {
        let Some(campaign) = self.campaign() else {
            return false;
        };
        let (subject, body) = match channel {
            Channel::MissedCallEmail => (
                &campaign.missed_call_email.subject,
                &campaign.missed_call_email.body,
            ),
            _ => (&campaign.email.subject, &campaign.email.body),
        };
        let uses = [subject, body]
            .into_iter()
            .flatten()
            .any(|text| text.uses(Variable::MeetingLink));
        uses && self.settings.email_meeting_link().is_none()
    }

    fn send_email(&self, destination: Destination, reason: Reason) -> Verdict {
        if self.on_dnc(&destination) {
            return Verdict::Suppress {
                reason: Reason::Dnc,
                detail: format!("{destination} is on the do-not-call list"),
                destination: Some(destination),
            };
        }
        Verdict::Schedule {
            destination,
            due_at: self.now,
            reason,
            rules: Vec::new(),
            detail: match reason {
                Reason::MissedCall => {
                    format!("the call ended {}", self.event.call.outcome_description())
                }
                _ => "the contact agreed to an email on the call".to_owned(),
            },
        }
    }

    /// Rule 8: the call was itself a follow-up call; finish it or try again.
    fn original_call(&self) -> Option<Decision> {
        let original = self.original_in_flight()?;
        Some(
            self.end_of_original(original)
                .unwrap_or_else(|| self.retry_original(original)),
        )
    }

    /// The follow-up call this call placed, while it still waits for its outcome.
    fn original_in_flight(&self) -> Option<&FollowUp> {
        let id = self.event.followup_id()?;
        let original: &FollowUp = self
            .history
            .original_followup
            .as_ref()
            .filter(|f| &f.id == id)?;
        let belongs = original.channel == Channel::Call
            && original.campaign_id == self.event.call.campaign_id
            && original.contact_id == self.event.contact.id;
        // Anything else was already settled (a redelivery, a cancel): leave it alone.
        let in_flight = matches!(
            original.status,
            Status::Sending | Status::Placed | Status::Unknown
        );
        (belongs && in_flight).then_some(original)
    }

    /// The original call's end when it is not tried again: answered, failed for good, out
    /// of retries, replaced by a newer pending call, or its number now on the DNC list.
    fn end_of_original(&self, original: &FollowUp) -> Option<Decision> {
        let finish = |status, reason, detail| Some(self.finish(original, status, reason, detail));
        let outcome = self.event.call.outcome;
        if outcome.answered() {
            return finish(
                Status::Completed,
                Reason::Answered,
                "the follow-up call was answered".into(),
            );
        }
        if !outcome.retryable() {
            let reason = match outcome {
                crate::CallOutcome::Declined => Reason::CallDeclined,
                _ => Reason::InvalidNumber,
            };
            return finish(
                Status::Failed,
                reason,
                format!("the call ended {}", self.event.call.outcome_description()),
            );
        }
        let max_retries = original.max_retries.unwrap_or(0);
        if original.attempt > max_retries {
            return finish(
                Status::Exhausted,
                Reason::RetriesExhausted,
                format!(
                    "{} calls went unanswered ({max_retries} retries)",
                    original.attempt
                ),
            );
        }
        let slot = PendingKey {
            campaign_id: original.campaign_id.clone(),
            contact_id: original.contact_id.clone(),
            channel: Channel::Call,
        };
        if let Some(newer) = self
            .history
            .pending
            .get(&slot)
            .filter(|p| p.id != original.id)
        {
            return finish(
                Status::Cancelled,
                Reason::Superseded,
                format!("follow-up {} is already pending for this contact", newer.id),
            );
        }
        if let Some(destination) = original.destination.as_ref().filter(|d| self.on_dnc(d)) {
            return finish(
                Status::Suppressed,
                Reason::Dnc,
                format!("{destination} is on the do-not-call list; no retry"),
            );
        }
        None
    }

    /// The original call tried again after its retry interval, inside the window.
    fn retry_original(&self, original: &FollowUp) -> Decision {
        let max_retries = original.max_retries.unwrap_or(0);
        let interval = TimeDelta::minutes(i64::from(original.retry_interval_minutes.unwrap_or(60)));
        // The window is read in the recipient's zone now, not the one of the first try.
        let window = self
            .settings
            .agent_window(self.zone)
            .unwrap_or_else(|| self.settings.quiet_window(self.zone));
        let attempt = original.attempt + 1;
        let Some(timing) = self.timing(Channel::Call, &window, self.event.call.ended_at + interval)
        else {
            return self.finish(
                original,
                Status::Suppressed,
                Reason::NoAllowedWindow,
                "no instant in the next weeks is allowed for the retry".into(),
            );
        };
        let detail = format!(
            "the call ended {}; attempt {attempt} of {}{}",
            self.event.call.outcome_description(),
            max_retries + 1,
            self.timing_detail(&timing)
        );
        Decision::Retry {
            followup_id: original.id.clone(),
            attempt,
            due_at: timing.at,
            destination: original.destination.clone(),
            time_zone: self.zone,
            notes: Vec::new(),
            trace: TraceEntry::new(self.now, Status::Scheduled, Reason::NotAnswered, detail)
                .held_by(timing.held_by),
        }
    }

    fn finish(
        &self,
        original: &FollowUp,
        status: Status,
        reason: Reason,
        detail: String,
    ) -> Decision {
        Decision::Finish {
            followup_id: original.id.clone(),
            status,
            reason,
            notes: Vec::new(),
            trace: TraceEntry::new(self.now, status, reason, detail),
        }
    }

    /// Rule 7: follow-up calls and WhatsApp messages the agent asked for. The last
    /// request per channel counts; earlier ones are recorded as superseded.
    fn requests(&self, original: &mut Option<Decision>) -> Vec<Decision> {
        let mut out = Vec::new();
        for channel in [Channel::Call, Channel::Whatsapp] {
            let requests: Vec<&FollowUpRequest> = self
                .event
                .analysis
                .followup_requests
                .iter()
                .filter(|r| r.channel == channel)
                .collect();
            let Some((last, earlier)) = requests.split_last() else {
                continue;
            };
            for request in earlier {
                let verdict = suppress(
                    Reason::Superseded,
                    "a later request in the same call replaced this one",
                );
                out.push(self.create(channel, verdict, self.content(Some(request))));
            }
            let verdict = self.request_verdict(channel, last);
            out.extend(self.request_decision(channel, verdict, self.content(Some(last)), original));
        }
        out
    }

    /// What the last request of a channel becomes: a new follow-up, a move of the one
    /// already pending, or (for a call) a move of the retry this call just decided.
    fn request_decision(
        &self,
        channel: Channel,
        verdict: Verdict,
        content: Content,
        original: &mut Option<Decision>,
    ) -> Option<Decision> {
        let Verdict::Schedule {
            destination,
            due_at,
            detail,
            rules,
            ..
        } = verdict
        else {
            return Some(self.create(channel, verdict, content));
        };
        // A retry decided for this very call holds the slot: move it instead.
        if let (
            Channel::Call,
            Some(Decision::Retry {
                due_at: retry_due,
                trace,
                ..
            }),
        ) = (channel, original.as_mut())
        {
            *retry_due = due_at;
            *trace = TraceEntry::new(self.now, Status::Scheduled, Reason::Rescheduled, detail)
                .held_by(rules);
            return None;
        }
        let slot = PendingKey {
            campaign_id: self.event.call.campaign_id.clone(),
            contact_id: self.event.contact.id.clone(),
            channel,
        };
        if let Some(pending) = self.history.pending.get(&slot) {
            return Some(Decision::Reschedule {
                followup_id: pending.id.clone(),
                due_at,
                destination,
                content,
                notes: Vec::new(),
                trace: TraceEntry::new(self.now, Status::Scheduled, Reason::Rescheduled, detail)
                    .held_by(rules),
            });
        }
        let verdict = Verdict::Schedule {
            destination,
            due_at,
            reason: Reason::Requested,
            detail,
            rules,
        };
        Some(self.create(channel, verdict, content))
    }

    fn request_verdict(&self, channel: Channel, request: &FollowUpRequest) -> Verdict {
        let agent = self.settings.agent.as_ref();
        let enabled = match channel {
            Channel::Call => agent.is_some_and(|a| a.calls.enabled),
            _ => agent.is_some_and(|a| a.whatsapp.enabled),
        };
        if !enabled {
            return suppress(
                Reason::ChannelDisabled,
                format!(
                    "{channel} follow-ups are not enabled for agent {}",
                    self.event.call.agent_id
                ),
            );
        }
        if channel == Channel::Whatsapp {
            if !self.event.analysis.consent.whatsapp {
                return suppress(
                    Reason::NoConsent,
                    "the contact did not agree to WhatsApp messages on the call",
                );
            }
            if agent.is_some_and(|a| a.whatsapp.template.is_none()) {
                return suppress(
                    Reason::NoTemplate,
                    "no WhatsApp template is configured for the agent",
                );
            }
        }
        let Some(phone) = &self.event.contact.phone else {
            return suppress(Reason::NoDestination, "the contact has no phone number");
        };
        let destination = Destination::Phone(phone.clone());
        if self.on_dnc(&destination) {
            return Verdict::Suppress {
                reason: Reason::Dnc,
                detail: format!("{destination} is on the do-not-call list"),
                destination: Some(destination),
            };
        }
        let Some(window) = self.settings.agent_window(self.zone) else {
            return suppress(
                Reason::NoAllowedWindow,
                "the agent's allowed hours do not overlap the account's quiet hours",
            );
        };
        let wanted = match request.at {
            Some(at) => at.resolve(self.zone),
            None => self.event.call.ended_at + DEFAULT_REQUEST_DELAY,
        };
        let from = wanted.max(self.now);
        if from > self.now + HORIZON {
            return suppress(
                Reason::OutsideHorizon,
                format!(
                    "requested for {wanted}, more than {} days ahead",
                    HORIZON.num_days()
                ),
            );
        }
        let Some(timing) = self.timing(channel, &window, wanted) else {
            return suppress(
                Reason::NoAllowedWindow,
                "no instant in the next weeks is allowed by the agent's window and the legal rules",
            );
        };
        let detail = format!("requested for {from}{}", self.timing_detail(&timing));
        let (due_at, rules) = (timing.at, timing.held_by);
        Verdict::Schedule {
            destination,
            due_at,
            reason: Reason::Requested,
            detail,
            rules,
        }
    }
}
