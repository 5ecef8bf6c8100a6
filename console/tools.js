// The do-not-call list, webhook signing secrets, the decision preview and (locally) the
// outbox.

import { api, ApiError, seg } from "./api.js";
import {
  h, field, showErrors, clearErrors, announce, errorText, pageTitle, link, statusBadge, reasonCell,
  channelWords, dueCell, formatTime, pagedList, whenCell,
} from "./ui.js";

function formWith(label, children, submitText, onSubmit) {
  const form = h("form", { novalidate: true, "aria-label": label },
    h("div", { class: "form-errors", role: "alert", tabindex: "-1", hidden: true }),
    children, h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, submitText)));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    try {
      await onSubmit(form);
    } catch (e) {
      if (e instanceof ApiError && e.fieldErrors.length) showErrors(form, e.fieldErrors);
      else announce(errorText(e), "error");
    }
  });
  return form;
}

const rerender = () => window.dispatchEvent(new HashChangeEvent("hashchange"));

// ---- do-not-call ----

export async function dncPage() {
  const value = field({ label: "Phone number (E.164) or email address", path: "phone_or_email", attrs: { autocomplete: "off" },
    hint: "Nothing is sent to it from now on; follow-ups already scheduled are suppressed when they come due." });
  const add = formWith("Add to the do-not-call list", [value], "Add", async () => {
    await api("PUT", `/v1/dnc/${seg(value.control.value.trim())}`);
    announce("Added to the do-not-call list.");
    rerender();
  });
  const load = async (cursor) => {
    const params = new URLSearchParams({ limit: "50" });
    if (cursor) params.set("cursor", cursor);
    return (await api("GET", `/v1/dnc?${params}`)).body;
  };
  return [pageTitle("Do-not-call list"), add, await pagedList(load, dncTable, "Pages of the do-not-call list")];
}

function dncTable(items) {
  if (!items.length) return h("p", { class: "empty" }, "The list is empty.");
  const rows = items.map((entry) => {
    const remove = h("button", { type: "button", class: "danger small", "aria-label": `Remove ${entry.value}` }, "Remove");
    remove.addEventListener("click", async () => {
      if (!confirm(`Remove ${entry.value} from the do-not-call list?`)) return;
      try {
        await api("DELETE", `/v1/dnc/${seg(entry.value)}`);
        announce("Removed.");
        rerender();
      } catch (e) {
        announce(errorText(e), "error");
      }
    });
    return h("tr", { "data-source": entry.source }, h("td", {}, entry.value),
      h("td", {}, dncSourceWords(entry.source), " ", h("code", {}, entry.source ?? "")),
      h("td", {}, whenCell(entry.added_at)), h("td", {}, remove));
  });
  return h("table", { class: "list" },
    h("caption", { class: "visually-hidden" }, "Numbers and addresses that get nothing"),
    h("thead", {}, h("tr", {}, ["Number or address", "How it got here", "Added", ""].map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, rows));
}

/** `DncEntry.source` in words (the API's enum; an unknown one reads as its code). */
const DNC_SOURCE_WORDS = {
  operator: "Added by an operator",
  sms_reply: "Replied with an opt-out word (STOP…) to a text",
  whatsapp_reply: "Opted out on WhatsApp (a STOP reply or Meta's marketing opt-out)",
  unsubscribe: "Used the unsubscribe link of an email",
  complaint: "Reported an email as spam",
};

const dncSourceWords = (source) => DNC_SOURCE_WORDS[source] || (source ?? "").replaceAll("_", " ");

// ---- webhook secrets ----

export async function secretsPage() {
  const { body } = await api("GET", "/v1/webhook-secrets");
  const shown = h("div", { class: "secret-once", "aria-live": "polite" });
  const create = formWith("Create a signing secret", [
    h("p", {}, "A new secret becomes the current one; older secrets keep verifying for 24 hours so the voice platform can switch."),
  ], "Create a new secret", async () => {
    const { body: created } = await api("POST", "/v1/webhook-secrets", { body: {} });
    const value = h("input", { type: "text", readonly: true, id: "new-secret", value: created.secret, class: "mono",
      "aria-describedby": "secret-warning" });
    const copy = h("button", { type: "button" }, "Copy");
    copy.addEventListener("click", async () => {
      await navigator.clipboard?.writeText(created.secret);
      announce("Copied.");
    });
    shown.replaceChildren(
      h("label", { for: "new-secret" }, `Secret ${created.id}`), value, copy,
      h("p", { id: "secret-warning", class: "warning" },
        "Shown once: store it in the voice platform now. It cannot be read again; leaving this page forgets it."));
    value.focus();
    value.select();
    await listSecrets(list);
  });
  const list = h("div", {});
  fillSecrets(list, body.items);
  return [pageTitle("Webhook signing secrets"),
    h("p", { class: "lede" }, "The voice platform signs each call.completed webhook with one of these (Standard Webhooks)."),
    create, shown, h("h2", {}, "Active secrets"), list];
}

async function listSecrets(list) {
  const { body } = await api("GET", "/v1/webhook-secrets");
  fillSecrets(list, body.items);
}

function fillSecrets(list, items) {
  if (!items.length) {
    list.replaceChildren(h("p", { class: "empty" }, "No active secret: webhooks cannot be verified."));
    return;
  }
  list.replaceChildren(h("table", { class: "list" },
    h("caption", { class: "visually-hidden" }, "Active signing secrets"),
    h("thead", {}, h("tr", {}, ["Id", "Created", "Stops verifying", ""].map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, items.map((s) => {
      const remove = h("button", { type: "button", class: "danger small", "aria-label": `Delete secret ${s.id}` }, "Delete");
      remove.addEventListener("click", async () => {
        if (!confirm(`Delete secret ${s.id}? Webhooks signed with it will be refused.`)) return;
        try {
          await api("DELETE", `/v1/webhook-secrets/${seg(s.id)}`);
          announce("Deleted.");
          await listSecrets(list);
        } catch (e) {
          announce(errorText(e), "error");
        }
      });
      return h("tr", {}, h("td", { class: "mono" }, s.id), h("td", {}, formatTime(s.created_at)),
        h("td", {}, s.expires_at ? formatTime(s.expires_at) : "— (current)"), h("td", {}, remove));
    }))));
}

// ---- decision preview ----

function sampleEvent() {
  const now = new Date();
  return {
    type: "call.completed",
    call: { id: "call-preview-1", agent_id: "agent-1", campaign_id: "camp-1", outcome: "completed",
      started_at: new Date(now - 300000).toISOString(), ended_at: now.toISOString() },
    contact: { id: "contact-1", phone: "+14155550101", email: "ana@example.com", name: "Ana Diaz", timezone: "America/New_York" },
    analysis: {
      summary: "Ana wants a demo next week.",
      consent: { sms: true, email: true, whatsapp: false },
      sms_destination: { number: "+14155550101", confirmed: true },
      email_address: { address: "ana@example.com", confirmed: true },
      followup_requests: [{ channel: "call", reason: "Asked to be called back tomorrow afternoon." }],
    },
  };
}

export async function decisionsPage() {
  const body = h("textarea", { id: "event-body", rows: 18, class: "mono", spellcheck: "false", "aria-describedby": "event-hint event-error" });
  body.value = JSON.stringify(sampleEvent(), null, 2);
  const wrapper = h("div", { class: "field", "data-field": "body" },
    h("label", { for: "event-body" }, "Webhook body"),
    body,
    h("p", { class: "hint", id: "event-hint" }, "As the voice platform would post it. Nothing is stored, scheduled or sent."),
    h("ul", { class: "field-error", id: "event-error", hidden: true }));
  wrapper.control = body;
  const result = h("div", { "aria-live": "polite" });
  const format = field({ label: "Body format", path: "platform", type: "select", value: "",
    options: [["", "call.completed (the neutral webhook)"], ["vapi", "Vapi end-of-call report"], ["retell", "Retell call_analyzed"],
      ["bland", "Bland call webhook"], ["elevenlabs", "ElevenLabs post_call_transcription"]],
    hint: "A platform's own body is mapped as its webhook would map it (see docs/platforms/)." });
  const form = h("form", { novalidate: true, "aria-label": "Decision preview" },
    format, wrapper, h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Preview decisions")));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const errors = wrapper.querySelector(".field-error");
    errors.hidden = true;
    errors.replaceChildren();
    body.removeAttribute("aria-invalid");
    let parsed;
    try {
      parsed = JSON.parse(body.value);
    } catch (e) {
      return invalid(body, errors, [{ field: "body", message: `not JSON: ${e.message}` }]);
    }
    try {
      const platform = format.control.value;
      const path = platform ? `/v1/decisions/preview?platform=${seg(platform)}` : "/v1/decisions/preview";
      const { body: preview } = await api("POST", path, { body: parsed });
      result.replaceChildren(...decisionsTable(preview), ...mappedFrom(preview));
    } catch (e) {
      if (e instanceof ApiError && e.fieldErrors.length) invalid(body, errors, e.fieldErrors);
      else announce(errorText(e), "error");
    }
  });
  return [pageTitle("Decision preview"),
    h("p", { class: "lede" }, "Paste a call's webhook body to see what follow-ups it would get, and why, with the current settings."),
    form, result];
}

function invalid(control, list, errors) {
  list.hidden = false;
  list.replaceChildren(...errors.map((e) => h("li", {}, h("code", {}, e.field), `: ${e.message}`)));
  control.setAttribute("aria-invalid", "true");
  control.focus();
}

/** For a platform's body: what it became (the call.completed) and what did not read. */
function mappedFrom(preview) {
  if (!preview.mapped) return [];
  return [
    preview.ignored_analysis?.length ? h("div", { class: "warning" }, "Left out (did not read): ",
      h("ul", {}, preview.ignored_analysis.map((x) => h("li", {}, h("code", {}, x.field ?? ""), `: ${x.message ?? JSON.stringify(x)}`)))) : null,
    h("details", {}, h("summary", {}, `As call.completed (idempotency key ${preview.idempotency_key ?? "—"})`),
      h("pre", { class: "mono" }, JSON.stringify(preview.mapped, null, 2))),
  ];
}

const DECISION_WORDS = {
  create: "New follow-up", reschedule: "Move a pending one", complete: "Send the SMS waiting for review",
  retry: "Retry the call", finish: "Close the call", noted: "Already recorded once",
};

function decisionsTable(preview) {
  if (preview.ignored) return [h("p", {}, `Event type ${preview.ignored} is acknowledged and ignored.`)];
  if (!preview.followups.length) return [h("p", { class: "empty" }, "Nothing would be decided for this call.")];
  return [h("h2", {}, `What call ${preview.call_id} would get`),
    h("table", { class: "list decisions" },
      h("caption", { class: "visually-hidden" }, "Decided follow-ups"),
      h("thead", {}, h("tr", {}, ["Decision", "Channel", "Status", "Why", "Due (contact's time · yours)", "Trace"].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, preview.followups.map((d) => h("tr", {},
        h("td", {}, DECISION_WORDS[d.decision] || d.decision),
        h("td", {}, channelWords(d.channel ?? "")),
        h("td", {}, d.status ? statusBadge(d.status) : ""),
        h("td", {}, reasonCell(d.reason)),
        h("td", {}, d.due_at ? dueCell(d.due_at, d.time_zone) : ""),
        h("td", {}, (d.trace || []).map((t) => h("p", { class: "detail" }, t.detail || t.reason)))))))];
}

// ---- outbox (local runtime only) ----

export async function outboxPage() {
  const { body } = await api("GET", "/v1/outbox");
  const items = [...body.items].reverse();
  return [pageTitle("Outbox"),
    h("p", { class: "lede" }, "What the local runtime “sent”, newest first."),
    items.length ? h("table", { class: "list outbox" },
      h("caption", { class: "visually-hidden" }, "Messages and calls, newest first"),
      h("thead", {}, h("tr", {}, ["Sent", "Channel", "To", "Message"].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, items.map((m) => h("tr", { "data-channel": m.channel },
        h("td", {}, formatTime(m.sent_at)), h("td", {}, channelWords(m.channel)), h("td", {}, m.destination),
        h("td", { class: "message" }, m.text)))))
      : h("p", { class: "empty" }, "Nothing sent yet.")];
}

export { statusBadge };
