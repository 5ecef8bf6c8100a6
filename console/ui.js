// DOM helpers, form fields with their error slots, and the words the console uses for
// the API's codes (statuses, reasons, channels) and times.

/** `h("p", {class: "x"}, "text", child)`: an element; `on*` attributes are listeners. */
export function h(tag, attrs = {}, ...children) {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) element.addEventListener(key.slice(2), value);
    else if (key === "text") element.textContent = value;
    else if (value === true) element.setAttribute(key, "");
    else element.setAttribute(key, value);
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : String(child));
  }
  return element;
}

let uid = 0;
const nextId = (stem) => `${stem.replace(/[^a-z0-9]+/gi, "-")}-${++uid}`;

/**
 * A labelled control with its hint and an error slot. `path` is the API's field path
 * (`allowed_hours.start`): problem+json errors on it appear right below the control.
 */
export function field({ label, path, type = "text", value, hint, options, rows, attrs = {} }) {
  const id = nextId(path || label);
  const hintId = hint ? `${id}-hint` : null;
  const errorId = `${id}-error`;
  const describedBy = [hintId, errorId].filter(Boolean).join(" ");
  let control;
  if (type === "select") {
    control = h("select", { id, name: path, "aria-describedby": describedBy, ...attrs },
      options.map(([v, text]) => h("option", { value: v, selected: v === (value ?? "") }, text)));
  } else if (type === "textarea") {
    control = h("textarea", { id, name: path, rows: rows || 3, "aria-describedby": describedBy, ...attrs });
    control.value = value ?? "";
  } else if (type === "checkbox") {
    control = h("input", { id, name: path, type, "aria-describedby": describedBy, ...attrs });
    control.checked = Boolean(value);
  } else {
    control = h("input", { id, name: path, type, "aria-describedby": describedBy, ...attrs });
    control.value = value ?? "";
  }
  const error = h("p", { class: "field-error", id: errorId, hidden: true });
  const wrapper = h("div", { class: `field field-${type}`, "data-field": path },
    type === "checkbox" ? [control, h("label", { for: id }, label)] : [h("label", { for: id }, label), control],
    hint ? h("p", { class: "hint", id: hintId }, hint) : null,
    error);
  wrapper.control = control;
  return wrapper;
}

/** Clears the errors shown in `root`. */
export function clearErrors(root) {
  for (const slot of root.querySelectorAll(".field-error")) {
    slot.hidden = true;
    slot.textContent = "";
  }
  for (const control of root.querySelectorAll("[aria-invalid]")) control.removeAttribute("aria-invalid");
  const summary = root.querySelector(".form-errors");
  if (summary) {
    summary.hidden = true;
    summary.replaceChildren();
  }
}

/** The field wrapper for an API path: the exact one, else the nearest parent path. */
function wrapperFor(root, path) {
  let candidate = path;
  while (candidate) {
    const found = root.querySelector(`[data-field="${CSS.escape(candidate)}"]`);
    if (found) return found;
    const cut = Math.max(candidate.lastIndexOf("."), candidate.lastIndexOf("["));
    candidate = cut > 0 ? candidate.slice(0, cut) : "";
  }
  return null;
}

/** Makes sure a screen reader reads `slot` with `control` (a group's error slot, e.g.
 * the allowed days', is not one of its first control's own). */
function describeWith(control, slot) {
  slot.id ||= nextId("error");
  const ids = (control.getAttribute("aria-describedby") || "").split(" ").filter(Boolean);
  if (!ids.includes(slot.id)) control.setAttribute("aria-describedby", [...ids, slot.id].join(" "));
}

/**
 * Shows problem+json field errors beside their fields (`prefix` is stripped from the
 * API's paths); others go to the form's summary. Focuses the first invalid control
 * unless `focus` is false. Returns how many were shown.
 */
export function showErrors(root, errors, { prefix = "", focus = true } = {}) {
  clearErrors(root);
  let first = null;
  const unplaced = [];
  for (const { field: path, message } of errors) {
    const local = prefix && path.startsWith(prefix) ? path.slice(prefix.length) : path;
    const wrapper = wrapperFor(root, local);
    if (!wrapper) {
      unplaced.push(`${path}: ${message}`);
      continue;
    }
    const slot = wrapper.querySelector(".field-error");
    slot.hidden = false;
    slot.textContent = slot.textContent ? `${slot.textContent} ${message}` : message;
    const control = wrapper.control || wrapper.querySelector("input, select, textarea");
    if (control) {
      control.setAttribute("aria-invalid", "true");
      describeWith(control, slot);
      first ??= control;
    }
  }
  const summary = root.querySelector(".form-errors");
  if (summary && unplaced.length) {
    summary.hidden = false;
    summary.replaceChildren(h("p", {}, "Please fix:"), h("ul", {}, unplaced.map((text) => h("li", {}, text))));
  }
  if (focus) (first || summary)?.focus?.();
  return errors.length;
}

/** The polite status line at the top of the page. */
export function announce(text, kind = "ok") {
  const status = document.getElementById("status");
  status.className = `status status-${kind}`;
  status.textContent = "";
  // A fresh text node so screen readers announce the same message again.
  requestAnimationFrame(() => (status.textContent = text));
}

export function errorText(error) {
  if (error?.problem) {
    const { status, title, detail } = { status: error.status, ...error.problem };
    return `${title || "Error"} (${status}): ${detail || ""}`.trim();
  }
  return String(error?.message || error);
}

// ---- words ----

export const STATUS_WORDS = {
  scheduled: "Scheduled",
  sending: "Sending",
  sent: "Sent",
  placed: "Call placed",
  completed: "Completed",
  needs_review: "Needs review",
  cancelled: "Cancelled",
  suppressed: "Not sent",
  failed: "Failed",
  exhausted: "Retries exhausted",
  unknown: "Outcome unknown",
};

export const CHANNEL_WORDS = {
  sms: "SMS",
  email: "Email",
  missed_call_email: "Missed-call email",
  whatsapp: "WhatsApp",
  call: "Follow-up call",
};

export const REASON_WORDS = {
  consented: "The contact agreed on the call",
  missed_call: "The call was not answered",
  requested: "The agent asked for it on the call",
  rescheduled: "A newer request moved it",
  reviewed: "An operator set the number and sent it",
  answered: "The follow-up call was answered",
  not_answered: "The follow-up call was not answered; it will be retried",
  retries_exhausted: "Every retry went unanswered",
  call_declined: "The contact declined the call",
  invalid_number: "The number is not valid",
  no_consent: "No consent was heard on the call",
  dnc: "On the do-not-call list",
  already_sent: "Already sent to this contact in this campaign",
  channel_disabled: "This channel is switched off in the settings",
  ask_for_email_off: "“Ask for email” is off for the campaign",
  outside_horizon: "Requested more than 30 days ahead",
  outside_window: "Moved into the allowed hours and days",
  no_allowed_window: "The agent's hours and the account's quiet hours do not overlap",
  no_destination: "No number or address to send to",
  destination_unconfirmed: "No number was confirmed on the call: an operator must set it",
  no_template: "No template is set",
  no_sender_name: "No sender name is set",
  no_meeting_link: "No meeting link is set",
  no_appointment: "No appointment was booked on the call",
  no_summary: "The call has no summary",
  no_offer: "No offer or promo code is set",
  superseded: "Replaced by a newer follow-up",
  cancelled: "Cancelled by an operator",
  message_too_long: "The message does not fit in 4 SMS segments",
  wrong_channel: "Not a follow-up of this channel",
  not_pending: "It was no longer pending",
  provider_accepted: "Accepted by the provider",
  provider_error: "The provider refused it",
  outcome_unknown: "Interrupted while sending: it may or may not have gone out",
  call_in_progress: "The platform reports the call still in progress: looked up again later",
  opted_out: "The recipient opted out",
  due: "Due: claimed by the sender",
  awaiting_review: "An SMS to this contact already waits for review",
  invalid_contact_timezone: "The contact's time zone was not valid: decided in the fallback zone",
  undeliverable: "The address bounced permanently: no more email goes to it",
  zone_updated: "A later call reported the contact's time zone: moved into the allowed hours there",
  held_by_rule: "Held back by a legal calling rule (see the trace)",
  mailbox_disconnected: "The sending mailbox lost its consent: connect it again (Mailboxes)",
};

export const reasonWords = (code, status) => {
  // Claims recorded before the reason `due` existed read `requested` whatever the channel.
  if (status === "sending") return "Being sent: claimed by the sender";
  return code ? REASON_WORDS[code] || code.replaceAll("_", " ") : "";
};
export const statusWords = (code) => STATUS_WORDS[code] || code;
export const channelWords = (code) => CHANNEL_WORDS[code] || code;

/** A status badge: words, with the code for searching the docs. */
export function statusBadge(status) {
  return h("span", { class: `badge badge-${status}` }, statusWords(status));
}

export function reasonCell(code, status) {
  return h("span", { class: "reason" }, reasonWords(code, status), " ", h("code", {}, code || ""));
}

// ---- time ----

export const viewerZone = () => Intl.DateTimeFormat().resolvedOptions().timeZone;

/** `Mon 23 Nov 2026, 08:00 EST` in `zone` (the viewer's when absent). */
export function formatTime(iso, zone) {
  if (!iso) return "";
  try {
    return new Intl.DateTimeFormat(undefined, {
      weekday: "short", day: "numeric", month: "short", year: "numeric",
      hour: "2-digit", minute: "2-digit", timeZone: zone || undefined, timeZoneName: "short",
    }).format(new Date(iso));
  } catch {
    return iso;
  }
}

/** A due time in the contact's zone and in the viewer's, both machine-readable. */
export function dueCell(iso, contactZone) {
  return h("span", { class: "due" },
    h("time", { datetime: iso, title: `contact's zone: ${contactZone}` }, formatTime(iso, contactZone)),
    h("span", { class: "muted" }, ` (${contactZone})`),
    h("br"),
    h("span", { class: "muted" }, "you: "),
    h("time", { datetime: iso }, formatTime(iso)));
}

const AGO_UNITS = [["day", 86400], ["hour", 3600], ["minute", 60]];

/** `3 days ago`, `in 2 hours`, `just now`: how far `iso` is from now, in words. */
export function ago(iso) {
  const seconds = (new Date(iso).getTime() - Date.now()) / 1000;
  if (!Number.isFinite(seconds)) return "";
  const [unit, size] = AGO_UNITS.find(([, s]) => Math.abs(seconds) >= s) || [];
  if (!unit) return "just now";
  return new Intl.RelativeTimeFormat(undefined, { numeric: "auto" }).format(Math.round(seconds / size), unit);
}

/** A time as `Mon 23 Nov 2026, 08:00 CET (3 days ago)`, machine-readable. */
export function whenCell(iso) {
  if (!iso) return "";
  return h("time", { datetime: iso }, `${formatTime(iso)} (${ago(iso)})`);
}

export function timeZones() {
  try {
    return Intl.supportedValuesOf("timeZone");
  } catch {
    return ["UTC", "America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles", "Europe/London", "Europe/Madrid"];
  }
}

/** A `<datalist>` of IANA zones for time-zone inputs (made once). */
export function zoneList() {
  let list = document.getElementById("zones");
  if (!list) {
    list = h("datalist", { id: "zones" }, timeZones().map((z) => h("option", { value: z })));
    document.body.append(list);
  }
  return "zones";
}

/** Page title (h1, focused after navigation so screen readers hear where they are). */
export function pageTitle(text, ...rest) {
  document.title = `${text} · Follow-ups console`;
  return h("h1", { tabindex: "-1", id: "page-title" }, text, ...rest);
}

export function link(href, text, attrs = {}) {
  return h("a", { href, ...attrs }, text);
}

/** `value` when non-blank after trimming, else null (the API's "unset"). */
export const blankToNull = (value) => (value === undefined || value === null || String(value).trim() === "" ? null : String(value).trim());

/**
 * A list shown a page at a time. The API's cursors encode the position of the last item
 * (for the do-not-call list, a number or an address), so they stay in memory, never in
 * the address bar. `load(cursor)` returns the page's body; `render(items)` its element.
 */
export async function pagedList(load, render, label = "Pages") {
  const region = h("div", { class: "paged" });
  const cursors = [null];
  const showPage = async (index, focus) => {
    let body;
    try {
      body = await load(cursors[index]);
    } catch (e) {
      announce(errorText(e), "error");
      return;
    }
    cursors.length = index + 1;
    if (body.next_cursor) cursors.push(body.next_cursor);
    const where = h("span", { class: "muted", tabindex: "-1" }, `Page ${index + 1}`);
    region.replaceChildren(render(body.items), h("nav", { class: "pager", "aria-label": label },
      index > 0 ? h("button", { type: "button", onclick: () => showPage(index - 1, true) }, "← Previous page") : null,
      where,
      body.next_cursor ? h("button", { type: "button", onclick: () => showPage(index + 1, true) }, "Next page →") : null));
    if (focus) where.focus();
  };
  await showPage(0, false);
  return region;
}
