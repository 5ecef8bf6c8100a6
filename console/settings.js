// Settings pages: the account defaults, an agent's follow-ups (calls and WhatsApp) and a
// campaign's (SMS, email, missed-call email) with the live preview of its messages.

import { api, ApiError, seg } from "./api.js";
import {
  h, field, showErrors, clearErrors, announce, errorText, pageTitle, zoneList, blankToNull,
  reasonWords, link,
} from "./ui.js";

const DAYS = [["mon", "Monday"], ["tue", "Tuesday"], ["wed", "Wednesday"], ["thu", "Thursday"],
  ["fri", "Friday"], ["sat", "Saturday"], ["sun", "Sunday"]];

const SMS_TEMPLATES = [
  ["", "— choose a template —"],
  ["meeting_request", "Meeting request (meeting link)"],
  ["next_step", "Next step (meeting link)"],
  ["appointment_confirmation", "Appointment confirmation (from the call)"],
  ["conversation_summary", "Conversation summary (from the call)"],
  ["offer_promo", "Offer / promo (offer summary and promo code)"],
];

/** A number input's value: a number, null when blank, the raw text when not a number. */
function numberOrRaw(control) {
  const raw = control.value.trim();
  if (raw === "") return null;
  const n = Number(raw);
  return Number.isFinite(n) ? n : raw;
}

/** Reads the settings document (or null when there is none yet) with its ETag. */
async function load(path) {
  try {
    const { body, etag } = await api("GET", path);
    return { doc: body, etag };
  } catch (e) {
    if (e instanceof ApiError && e.status === 404) return { doc: null, etag: null };
    throw e;
  }
}

/** The `<form>` shell shared by the settings pages: summary slot, save button. */
function settingsForm(label, children, onSave) {
  const form = h("form", { class: "settings-form", novalidate: true, "aria-label": label },
    h("div", { class: "form-errors", role: "alert", tabindex: "-1", hidden: true }),
    children,
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Save changes")));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    try {
      await onSave(form);
    } catch (e) {
      if (e instanceof ApiError && e.fieldErrors.length) {
        showErrors(form, e.fieldErrors);
        announce(`Not saved: ${e.fieldErrors.length} field(s) need fixing.`, "error");
      } else if (e instanceof ApiError && e.status === 412) {
        announce("Not saved: someone changed these settings meanwhile. Reload the page to see them.", "error");
      } else {
        announce(`Not saved: ${errorText(e)}`, "error");
      }
    }
  });
  return form;
}

async function save(path, state, body) {
  const { body: saved, etag } = await api("PUT", path, { body, ifMatch: state.etag });
  state.etag = etag;
  announce(`Saved (version ${(etag ?? "?").replaceAll('"', "")}).`);
  return saved;
}

// ---- account ----

export async function accountPage() {
  const path = "/v1/settings";
  const state = await load(path);
  const s = state.doc || {};
  const f = {
    sender: field({ label: "Default sender name", path: "default_sender_name", value: s.default_sender_name,
      hint: "Used in SMS and as the email From name when a campaign sets none." }),
    link: field({ label: "Default meeting link", path: "default_meeting_link", type: "url", value: s.default_meeting_link,
      hint: "https only. Used when a campaign sets none." }),
    zone: field({ label: "Default time zone", path: "default_time_zone", value: s.default_time_zone,
      attrs: { list: zoneList(), autocomplete: "off" } }),
    quietStart: field({ label: "Quiet hours start", path: "quiet_hours.start", value: s.quiet_hours?.start, hint: "HH:MM" }),
    quietEnd: field({ label: "Quiet hours end", path: "quiet_hours.end", value: s.quiet_hours?.end,
      hint: "HH:MM, up to 24:00. Nothing is sent outside these hours in the contact's zone." }),
  };
  const form = settingsForm("Account settings", [
    h("fieldset", {}, h("legend", {}, "Defaults"), f.sender, f.link, f.zone),
    h("fieldset", {}, h("legend", {}, "Quiet hours"), h("div", { class: "row" }, f.quietStart, f.quietEnd)),
  ], async () => {
    const body = {
      ...(state.doc || {}),
      default_sender_name: blankToNull(f.sender.control.value),
      default_meeting_link: blankToNull(f.link.control.value),
      default_time_zone: blankToNull(f.zone.control.value),
      quiet_hours: { start: f.quietStart.control.value.trim(), end: f.quietEnd.control.value.trim() },
    };
    state.doc = await save(path, state, body);
  });
  return [pageTitle("Account settings"),
    h("p", { class: "lede" }, "Account-wide defaults that campaigns fall back to, and the quiet hours no follow-up leaves."),
    form];
}

// ---- agent ----

function agentFields(s) {
  const calls = s.calls || {};
  const wa = s.whatsapp || {};
  const template = wa.template || {};
  return {
    start: field({ label: "From", path: "allowed_hours.start", value: s.allowed_hours?.start ?? "08:00", hint: "HH:MM",
      attrs: { inputmode: "numeric", autocomplete: "off" } }),
    end: field({ label: "Until", path: "allowed_hours.end", value: s.allowed_hours?.end ?? "20:00", hint: "HH:MM, up to 24:00",
      attrs: { inputmode: "numeric", autocomplete: "off" } }),
    days: DAYS.map(([code, name]) => field({ label: name, path: `day-${code}`, type: "checkbox",
      value: (s.allowed_days || ["mon", "tue", "wed", "thu", "fri", "sat"]).includes(code) })),
    zone: field({ label: "Time zone", path: "time_zone", value: s.time_zone, attrs: { list: zoneList(), autocomplete: "off" },
      hint: "IANA name, used when the contact's zone is unknown." }),
    callsEnabled: field({ label: "Enable follow-up calls", path: "calls.enabled", type: "checkbox", value: calls.enabled }),
    callsWhen: field({ label: "When to schedule calls", path: "calls.when_to_schedule", type: "textarea", value: calls.when_to_schedule,
      hint: "The criteria your agent uses to decide when to schedule a follow-up call." }),
    callsInstructions: field({ label: "Instructions for the call", path: "calls.instructions", type: "textarea", rows: 4,
      value: calls.instructions, hint: "The script the agent follows during the follow-up call." }),
    retries: field({ label: "Maximum number of retries", path: "calls.max_retries", type: "number", value: calls.max_retries ?? 3,
      attrs: { min: 0, max: 10 }, hint: "0 to 10, when the call goes unanswered." }),
    interval: field({ label: "Retry interval (minutes)", path: "calls.retry_interval_minutes", type: "number",
      value: calls.retry_interval_minutes ?? 60, attrs: { min: 5, max: 10080 }, hint: "5 minutes to 7 days." }),
    ...platformFields(calls.platform || {}),
    waEnabled: field({ label: "Enable WhatsApp follow-ups", path: "whatsapp.enabled", type: "checkbox", value: wa.enabled,
      hint: "Only with contacts who consented to WhatsApp on the call." }),
    waWhen: field({ label: "When to schedule messages", path: "whatsapp.when_to_schedule", type: "textarea", value: wa.when_to_schedule }),
    waInstructions: field({ label: "Instructions for the conversation", path: "whatsapp.instructions", type: "textarea",
      value: wa.instructions, hint: "Tone and structure of the WhatsApp conversation." }),
    waTemplate: field({ label: "Template name", path: "whatsapp.template.name", value: template.name,
      hint: "The approved Meta template, e.g. call_followup. Blank: no template (WhatsApp follow-ups are then not sent)." }),
    waLanguage: field({ label: "Template language", path: "whatsapp.template.language", value: template.language ?? "en_US" }),
    waParameters: field({ label: "Template parameters, one per line", path: "whatsapp.template.parameters", type: "textarea",
      value: (template.parameters || []).join("\n"),
      hint: "With {{contact_name}}, {{sender_name}}, {{meeting_link}}, {{summary}}, {{appointment}}, {{reason}}." }),
  };
}

const CALL_PLATFORMS = [["", "The deployment's call endpoint (no voice platform)"], ["vapi", "Vapi"], ["retell", "Retell"],
  ["bland", "Bland"], ["elevenlabs", "ElevenLabs"]];

/** What each platform calls the ids of `calls.platform` (shown as hints), and which it needs. */
const PLATFORM_IDS = {
  "": { agent: "Not used.", numberId: "Not used.", number: "Not used." },
  vapi: { agent: "Required: the Vapi assistantId.", numberId: "Required: the Vapi phoneNumberId.", number: "Not used by Vapi." },
  retell: { agent: "Optional: Retell override_agent_id.", numberId: "Not used by Retell.",
    number: "Required: the Retell number that calls (from_number)." },
  bland: { agent: "Optional: a Bland pathway_id (else the call instructions are the task).", numberId: "Not used by Bland.",
    number: "Optional: the Bland number that calls (from)." },
  elevenlabs: { agent: "Required: the ElevenLabs agent_id.", numberId: "Required: the ElevenLabs agent_phone_number_id.",
    number: "Not used by ElevenLabs." },
};

function platformFields(p) {
  return {
    platform: field({ label: "Voice platform that places the calls", path: "calls.platform.name", type: "select", value: p.name ?? "",
      options: CALL_PLATFORMS, hint: "Connect the platform first (Platforms page): its API key places the calls." }),
    platformAgent: field({ label: "Platform assistant / agent id", path: "calls.platform.agent_id", value: p.agent_id,
      attrs: { autocomplete: "off", spellcheck: "false" }, hint: " " }),
    platformNumberId: field({ label: "Platform phone-number id", path: "calls.platform.from_number_id", value: p.from_number_id,
      attrs: { autocomplete: "off", spellcheck: "false" }, hint: " " }),
    platformNumber: field({ label: "Calling number (E.164)", path: "calls.platform.from_number", type: "tel", value: p.from_number,
      attrs: { autocomplete: "off" }, hint: " " }),
  };
}

/** Keeps the id hints in step with the chosen platform. */
function followPlatform(f) {
  const update = () => {
    const words = PLATFORM_IDS[f.platform.control.value] || PLATFORM_IDS[""];
    const hint = (x) => x.querySelector(".hint");
    hint(f.platformAgent).textContent = words.agent;
    hint(f.platformNumberId).textContent = words.numberId;
    hint(f.platformNumber).textContent = words.number;
    // Only the ids the chosen platform reads are shown (and sent).
    f.platformAgent.hidden = words.agent.startsWith("Not used");
    f.platformNumberId.hidden = words.numberId.startsWith("Not used");
    f.platformNumber.hidden = words.number.startsWith("Not used");
  };
  f.platform.control.addEventListener("change", update);
  update();
}

function platformBody(f) {
  const name = f.platform.control.value;
  if (!name) return null;
  const shown = (x) => (x.hidden ? undefined : blankToNull(x.control.value) ?? undefined);
  return { name, agent_id: shown(f.platformAgent), from_number_id: shown(f.platformNumberId), from_number: shown(f.platformNumber) };
}

function agentBody(f, previous) {
  const name = blankToNull(f.waTemplate.control.value);
  const parameters = f.waParameters.control.value.split("\n").map((p) => p.trim()).filter(Boolean);
  return {
    // What the form does not edit (the analysis mapping overrides) is kept as it was.
    ...(previous?.analysis_mapping ? { analysis_mapping: previous.analysis_mapping } : {}),
    allowed_hours: { start: f.start.control.value.trim(), end: f.end.control.value.trim() },
    allowed_days: DAYS.map(([code]) => code).filter((_, i) => f.days[i].control.checked),
    time_zone: blankToNull(f.zone.control.value),
    calls: {
      enabled: f.callsEnabled.control.checked,
      when_to_schedule: f.callsWhen.control.value,
      instructions: f.callsInstructions.control.value,
      max_retries: numberOrRaw(f.retries.control),
      retry_interval_minutes: numberOrRaw(f.interval.control),
      platform: platformBody(f),
    },
    whatsapp: {
      enabled: f.waEnabled.control.checked,
      when_to_schedule: f.waWhen.control.value,
      instructions: f.waInstructions.control.value,
      template: name ? { name, language: f.waLanguage.control.value.trim(), parameters } : null,
    },
  };
}

export async function agentPage(agentId) {
  const path = `/v1/agents/${seg(agentId)}/followup-settings`;
  const [state, account] = await Promise.all([load(path), load("/v1/settings")]);
  const quiet = account.doc?.quiet_hours;
  const f = agentFields(state.doc || {});
  followPlatform(f);
  const days = h("fieldset", { class: "days", "data-field": "allowed_days" },
    h("legend", {}, "Allowed days for follow-ups"), h("div", { class: "row wrap" }, f.days),
    h("p", { class: "field-error", hidden: true }));
  const form = settingsForm(`Follow-up settings of agent ${agentId}`, [
    h("fieldset", {}, h("legend", {}, "Allowed schedule"),
      h("p", { class: "hint" }, "Follow-up calls and messages happen only inside these hours, in the contact's time zone",
        quiet ? `, and never outside the account's quiet hours (${quiet.start}–${quiet.end}).` : "."),
      h("div", { class: "row" }, f.start, f.end), f.zone),
    days,
    h("fieldset", {}, h("legend", {}, "Follow-up calls"), f.callsEnabled, f.callsWhen, f.callsInstructions,
      h("div", { class: "row" }, f.retries, f.interval), f.platform,
      h("div", { class: "row" }, f.platformAgent, f.platformNumberId, f.platformNumber)),
    h("fieldset", {}, h("legend", {}, "WhatsApp follow-ups"), f.waEnabled, f.waWhen, f.waInstructions,
      h("div", { class: "row" }, f.waTemplate, f.waLanguage), f.waParameters),
  ], async () => {
    state.doc = await save(path, state, agentBody(f, state.doc));
    document.querySelector(".unsaved")?.remove();
  });
  return [pageTitle(`Agent ${agentId}: follow-ups`),
    state.doc ? null : h("p", { class: "lede unsaved" }, "No follow-up settings yet for this agent: fill them in and save."),
    form];
}

// ---- campaign ----

/** The senders an email can leave from: SES, or a connected mailbox (ids kept as set). */
function senderOptions(mailboxes, ...current) {
  const options = [["ses", "Amazon SES (the engine's verified address)"]];
  for (const m of mailboxes) {
    options.push([m.id, `${m.address} (${m.provider === "google" ? "Gmail" : "Outlook"}${m.status === "connected" ? "" : ", disconnected"})`]);
  }
  for (const id of current) {
    if (id && !options.some(([v]) => v === id)) options.push([id, `${id} (no longer connected)`]);
  }
  return options;
}

function campaignFields(s, defaults, mailboxes = []) {
  const sms = s.sms || {};
  const email = s.email || {};
  const missed = s.missed_call_email || {};
  const senders = senderOptions(mailboxes, email.sender, missed.sender);
  const fallback = (value, what) => (value ? `Blank: the account default (${value})` : `Blank: the account default (none set for ${what})`);
  return {
    agent: field({ label: "Agent id", path: "agent_id", value: s.agent_id, hint: "The agent calling for this campaign." }),
    zone: field({ label: "Time zone", path: "time_zone", value: s.time_zone, attrs: { list: zoneList(), autocomplete: "off" },
      hint: "Used when the contact's zone is unknown." }),
    smsEnabled: field({ label: "Enable SMS follow-ups", path: "sms.enabled", type: "checkbox", value: sms.enabled,
      hint: "Sent only after the contact agreed to a text on the call." }),
    smsTemplate: field({ label: "SMS template", path: "sms.template", type: "select", value: sms.template, options: SMS_TEMPLATES }),
    smsSender: field({ label: "Sender name", path: "sms.sender_name", value: sms.sender_name,
      hint: fallback(defaults.default_sender_name, "the sender name"), attrs: { placeholder: defaults.default_sender_name || "" } }),
    smsLink: field({ label: "Meeting link", path: "sms.meeting_link", type: "url", value: sms.meeting_link,
      hint: fallback(defaults.default_meeting_link, "the meeting link"), attrs: { placeholder: defaults.default_meeting_link || "https://" } }),
    smsOffer: field({ label: "Offer summary", path: "sms.offer_summary", value: sms.offer_summary, hint: "Offer / promo template only." }),
    smsCode: field({ label: "Promo code", path: "sms.promo_code", value: sms.promo_code, hint: "Offer / promo template only." }),
    emailEnabled: field({ label: "Enable email follow-ups", path: "email.enabled", type: "checkbox", value: email.enabled }),
    emailAsk: field({ label: "Ask for email on the call", path: "email.ask_for_email", type: "checkbox", value: email.ask_for_email,
      hint: "Without it no email consent can be heard, so no email is sent." }),
    emailSender: field({ label: "Send from", path: "email.sender", type: "select", value: email.sender || "ses", options: senders,
      hint: "A connected mailbox sends from its own address (Mailboxes page); replies land in it." }),
    emailFrom: field({ label: "From name", path: "email.from_name", value: email.from_name,
      hint: fallback(defaults.default_sender_name, "the sender name"), attrs: { placeholder: defaults.default_sender_name || "" } }),
    emailSubject: field({ label: "Subject", path: "email.subject", value: email.subject, hint: "With {{contact_name}} and other variables." }),
    emailBody: field({ label: "Body", path: "email.body", type: "textarea", rows: 6, value: email.body,
      hint: "Basic Markdown: **bold**, *italics*, [links](https://…), lists." }),
    emailLink: field({ label: "Meeting link", path: "email.meeting_link", type: "url", value: email.meeting_link,
      hint: fallback(defaults.default_meeting_link, "the meeting link"), attrs: { placeholder: defaults.default_meeting_link || "https://" } }),
    missedEnabled: field({ label: "Enable missed-call emails", path: "missed_call_email.enabled", type: "checkbox", value: missed.enabled,
      hint: "Sent without consent to contacts who did not answer and have an address." }),
    missedSender: field({ label: "Send missed-call emails from", path: "missed_call_email.sender", type: "select",
      value: missed.sender || "ses", options: senders }),
    missedSubject: field({ label: "Missed-call subject", path: "missed_call_email.subject", value: missed.subject }),
    missedBody: field({ label: "Missed-call body", path: "missed_call_email.body", type: "textarea", rows: 5, value: missed.body }),
  };
}

function campaignBody(f) {
  const v = (x) => x.control.value;
  return {
    agent_id: blankToNull(v(f.agent)),
    time_zone: blankToNull(v(f.zone)),
    sms: {
      enabled: f.smsEnabled.control.checked,
      template: blankToNull(v(f.smsTemplate)),
      sender_name: blankToNull(v(f.smsSender)),
      meeting_link: blankToNull(v(f.smsLink)),
      offer_summary: blankToNull(v(f.smsOffer)),
      promo_code: blankToNull(v(f.smsCode)),
    },
    email: {
      enabled: f.emailEnabled.control.checked,
      ask_for_email: f.emailAsk.control.checked,
      sender: blankToNull(v(f.emailSender)),
      from_name: blankToNull(v(f.emailFrom)),
      subject: blankToNull(v(f.emailSubject)),
      body: blankToNull(v(f.emailBody)),
      meeting_link: blankToNull(v(f.emailLink)),
    },
    missed_call_email: {
      enabled: f.missedEnabled.control.checked,
      sender: blankToNull(v(f.missedSender)),
      subject: blankToNull(v(f.missedSubject)),
      body: blankToNull(v(f.missedBody)),
    },
  };
}

function sampleFields() {
  const tomorrow = new Date(Date.now() + 24 * 3600 * 1000);
  tomorrow.setUTCHours(19, 0, 0, 0);
  return {
    name: field({ label: "Contact name", path: "contact_name", value: "Ana Diaz" }),
    summary: field({ label: "Call summary", path: "summary", type: "textarea", rows: 2,
      value: "Ana wants a demo of the premium plan next week." }),
    at: field({ label: "Appointment (RFC 3339)", path: "appointment.at", value: tomorrow.toISOString().replace(".000", "") }),
    location: field({ label: "Appointment location", path: "appointment.location", value: "12 Main St" }),
    zone: field({ label: "Contact's time zone", path: "time_zone", value: "America/New_York",
      attrs: { list: zoneList(), autocomplete: "off" } }),
  };
}

function sampleBody(s) {
  const at = blankToNull(s.at.control.value);
  return {
    contact_name: blankToNull(s.name.control.value),
    summary: blankToNull(s.summary.control.value),
    appointment: at ? { at, location: blankToNull(s.location.control.value) } : null,
    time_zone: blankToNull(s.zone.control.value),
  };
}

/** The account's mailboxes; none when the list cannot be read (SES stays selectable). */
async function connectedMailboxes() {
  try {
    const { body } = await api("GET", "/v1/mailboxes");
    return body.items || [];
  } catch {
    return [];
  }
}

export async function campaignSettingsPage(campaignId) {
  const path = `/v1/campaigns/${seg(campaignId)}/followup-settings`;
  const [state, account, mailboxes] = await Promise.all([load(path), load("/v1/settings"), connectedMailboxes()]);
  const f = campaignFields(state.doc || {}, account.doc || {}, mailboxes);
  const form = settingsForm(`Follow-up settings of campaign ${campaignId}`, [
    h("fieldset", {}, h("legend", {}, "Campaign"), h("div", { class: "row" }, f.agent, f.zone)),
    h("fieldset", {}, h("legend", {}, "SMS follow-ups"), f.smsEnabled, f.smsTemplate,
      h("div", { class: "row" }, f.smsSender, f.smsLink), h("div", { class: "row" }, f.smsOffer, f.smsCode)),
    h("fieldset", {}, h("legend", {}, "Email follow-ups"), f.emailEnabled, f.emailAsk,
      h("div", { class: "row" }, f.emailSender, f.emailFrom), f.emailLink, f.emailSubject, f.emailBody),
    h("fieldset", {}, h("legend", {}, "Missed-call email"), f.missedEnabled, f.missedSender, f.missedSubject, f.missedBody),
  ], async () => {
    state.doc = await save(path, state, campaignBody(f));
    document.querySelector(".unsaved")?.remove();
    refresh();
  });
  const sample = sampleFields();
  const sampleForm = h("form", { class: "sample", novalidate: true, "aria-label": "Sample contact for the preview" },
    h("div", { class: "form-errors", role: "alert", hidden: true }),
    h("details", {}, h("summary", {}, "Sample contact"), sample.name, sample.summary, sample.zone, sample.at, sample.location));
  sampleForm.addEventListener("submit", (e) => e.preventDefault());
  // Not a live region: it changes on every keystroke; it sits right after the form.
  const output = h("div", { class: "preview-output" }, h("p", { class: "muted" }, "Rendering…"));
  const refresh = previewer(campaignId, () => campaignBody(f), () => sampleBody(sample), form, sampleForm, output);
  form.addEventListener("input", refresh);
  form.addEventListener("change", refresh);
  sampleForm.addEventListener("input", refresh);
  refresh();
  return [pageTitle(`Campaign ${campaignId}: follow-up settings`),
    h("p", { class: "lede" }, link(`#/campaigns/${seg(campaignId)}`, "See this campaign's follow-ups"),
      state.doc ? "" : h("span", { class: "unsaved" }, " · No settings yet for this campaign: fill them in and save.")),
    h("div", { class: "split" },
      form,
      h("aside", { class: "preview", "aria-labelledby": "preview-title" },
        h("h2", { id: "preview-title" }, "Preview"),
        h("p", { class: "hint" }, "Rendered by the server exactly as it would be sent, with the unsaved settings above."),
        sampleForm, output))];
}

/** A debounced preview of the campaign's messages; returns the function to call on change. */
function previewer(campaignId, settings, sample, form, sampleForm, output) {
  let timer = null;
  let inflight = null;
  return () => {
    clearTimeout(timer);
    timer = setTimeout(async () => {
      inflight?.abort();
      inflight = new AbortController();
      try {
        const { body } = await api("POST", `/v1/campaigns/${seg(campaignId)}/followup-settings/preview`,
          { body: { settings: settings(), sample: sample() }, signal: inflight.signal });
        clearErrors(sampleForm);
        output.replaceChildren(...renderPreview(body));
      } catch (e) {
        if (e.name === "AbortError") return;
        if (e instanceof ApiError && e.fieldErrors.length) {
          const own = e.fieldErrors.filter((x) => x.field.startsWith("settings."));
          const others = e.fieldErrors.filter((x) => x.field.startsWith("sample."));
          showErrors(form, own, { prefix: "settings.", focus: false });
          showErrors(sampleForm, others, { prefix: "sample.", focus: false });
          output.replaceChildren(h("p", { class: "warning" }, "The preview waits for the fields marked in red to be fixed."));
        } else {
          output.replaceChildren(h("p", { class: "warning" }, `No preview: ${errorText(e)}`));
        }
      }
    }, 250);
  };
}

const SOURCE_WORDS = { campaign: "set on this campaign", account_default: "account default", unset: "not set" };

function resolved(label, value) {
  return h("li", {}, `${label}: `, h("strong", {}, value.value ?? "—"), ` (${SOURCE_WORDS[value.source] || value.source})`);
}

function notRenderable(outcome) {
  const { reason, detail } = outcome.not_renderable;
  return h("p", { class: "warning" }, `Cannot be sent: ${reasonWords(reason)}. `, h("span", { class: "muted" }, detail));
}

function renderPreview(p) {
  return [
    h("section", { class: "card", "aria-labelledby": "pv-sms" }, h("h3", { id: "pv-sms" }, "SMS"), smsCard(p.sms)),
    h("section", { class: "card", "aria-labelledby": "pv-email" }, h("h3", { id: "pv-email" }, "Email"), emailCard(p.email, "email")),
    h("section", { class: "card", "aria-labelledby": "pv-missed" }, h("h3", { id: "pv-missed" }, "Missed-call email"),
      emailCard(p.missed_call_email, "missed")),
  ];
}

function smsCard(outcome) {
  if (!outcome.rendered) return notRenderable(outcome);
  const sms = outcome.rendered;
  const encoding = sms.encoding === "gsm7" ? "GSM-7" : "UCS-2 (a character outside GSM-7)";
  return [
    sms.enabled ? null : h("p", { class: "muted" }, "SMS is off for this campaign; this is what it would send."),
    h("p", { class: "sms-bubble", "data-testid": "sms-text" }, sms.text),
    h("p", { class: "meta", "data-testid": "sms-segments" },
      `${encoding} · ${sms.segments} ${sms.segments === 1 ? "segment" : "segments"} (at most ${sms.max_segments}) · ${[...sms.text].length} characters`),
    h("ul", { class: "meta" }, resolved("Sender name", sms.sender_name), resolved("Meeting link", sms.meeting_link)),
  ];
}

function emailCard(outcome, key) {
  if (!outcome.rendered) return notRenderable(outcome);
  const email = outcome.rendered;
  const frame = h("iframe", { class: "email-frame", title: `${key === "missed" ? "Missed-call email" : "Email"} body as rendered`,
    sandbox: "", referrerpolicy: "no-referrer" });
  frame.srcdoc = email.html;
  return [
    email.enabled ? null : h("p", { class: "muted" }, "Off for this campaign; this is what it would send."),
    h("dl", { class: "email-head" },
      h("dt", {}, "From"), h("dd", { "data-testid": `${key}-from` }, email.from_name ?? "—",
        h("span", { class: "muted" }, ` (${SOURCE_WORDS[email.from_name_source]})`)),
      h("dt", {}, "Subject"), h("dd", { "data-testid": `${key}-subject` }, email.subject)),
    frame,
    h("details", {}, h("summary", {}, "Plain-text part"), h("pre", {}, email.text)),
  ];
}
