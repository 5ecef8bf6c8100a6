// The follow-up views: a campaign's follow-ups, a contact's inbox, one follow-up with
// its trace and attempts, and the operator's actions (cancel, send a needs-review SMS).

import { api, ApiError, seg } from "./api.js";
import {
  h, field, showErrors, clearErrors, announce, errorText, pageTitle, link, statusBadge, reasonCell,
  reasonWords, channelWords, dueCell, formatTime, STATUS_WORDS, CHANNEL_WORDS, pagedList,
} from "./ui.js";

const PAGE_SIZE = 25;

const followupLink = (f) => link(`#/followups/${seg(f.id)}`, channelWords(f.channel), { "aria-label": `${channelWords(f.channel)} follow-up ${f.id}` });

/** The campaign view: filters (in the address), a page of follow-ups, previous/next. */
export async function campaignPage(campaignId, query) {
  const status = query.get("status") || "";
  const channel = query.get("channel") || "";
  const limit = query.get("limit") || String(PAGE_SIZE);
  const load = async (cursor) => {
    const params = new URLSearchParams({ limit });
    if (status) params.set("status", status);
    if (channel) params.set("channel", channel);
    if (cursor) params.set("cursor", cursor);
    return (await api("GET", `/v1/campaigns/${seg(campaignId)}/followups?${params}`)).body;
  };
  const base = `#/campaigns/${seg(campaignId)}`;
  const statusField = field({ label: "Status", path: "status", type: "select", value: status,
    options: [["", "Any status"], ...Object.entries(STATUS_WORDS)] });
  const channelField = field({ label: "Channel", path: "channel", type: "select", value: channel,
    options: [["", "Any channel"], ...Object.entries(CHANNEL_WORDS)] });
  const limitField = field({ label: "Per page", path: "limit", type: "select", value: limit,
    options: ["5", "10", "25", "50", "100"].map((n) => [n, n]) });
  const filters = h("form", { class: "filters row", role: "search", "aria-label": "Filter follow-ups" },
    statusField, channelField, limitField, h("div", { class: "actions" }, h("button", { type: "submit" }, "Apply filters")));
  filters.addEventListener("submit", (e) => {
    e.preventDefault();
    const q = new URLSearchParams();
    if (statusField.control.value) q.set("status", statusField.control.value);
    if (channelField.control.value) q.set("channel", channelField.control.value);
    if (limitField.control.value !== String(PAGE_SIZE)) q.set("limit", limitField.control.value);
    location.hash = `${base}${q.size ? `?${q}` : ""}`;
  });
  return [
    pageTitle(`Campaign ${campaignId}: follow-ups`),
    h("p", { class: "lede" }, link(`#/campaigns/${seg(campaignId)}/settings`, "Follow-up settings of this campaign")),
    filters,
    await pagedList(load, (items) => followupTable(items, { showContact: true }), "Pages of follow-ups"),
  ];
}

function followupTable(items, { showContact }) {
  if (!items.length) return h("p", { class: "empty" }, "No follow-ups match.");
  return h("table", { class: "list" },
    h("caption", { class: "visually-hidden" }, "Follow-ups by due time"),
    h("thead", {}, h("tr", {},
      ["Follow-up", "Status", "Why", showContact ? "Contact" : null, "Due (contact's time · yours)", "Destination"]
        .filter(Boolean).map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, items.map((f) => h("tr", { "data-followup": f.id, "data-channel": f.channel },
      h("td", {}, followupLink(f)),
      h("td", {}, statusBadge(f.status)),
      h("td", { class: "why-cell" }, whyLines(f)),
      showContact ? h("td", {}, link(`#/contacts/${seg(f.contact_id)}`, f.content?.contact_name || f.contact_id)) : null,
      h("td", {}, dueCell(f.due_at, f.time_zone)),
      h("td", {}, f.destination ?? h("span", { class: "muted" }, "—"))))));
}

/** Every page of a contact's follow-ups (an inbox is short). */
async function allOf(contactId) {
  const items = [];
  let cursor = null;
  for (let page = 0; page < 20; page += 1) {
    const params = new URLSearchParams({ limit: "100" });
    if (cursor) params.set("cursor", cursor);
    const { body } = await api("GET", `/v1/contacts/${seg(contactId)}/followups?${params}`);
    items.push(...body.items);
    cursor = body.next_cursor;
    if (!cursor) break;
  }
  return items;
}

/** The inbox: each call with the follow-ups it led to, newest call first. */
export async function inboxPage(contactId) {
  const items = await allOf(contactId);
  const calls = new Map();
  for (const f of items) {
    if (!calls.has(f.call_id)) calls.set(f.call_id, []);
    calls.get(f.call_id).push(f);
  }
  const ordered = [...calls.entries()].map(([callId, followups]) => {
    followups.sort((a, b) => a.created_at.localeCompare(b.created_at));
    return { callId, followups, at: followups[0].created_at };
  }).sort((a, b) => b.at.localeCompare(a.at));
  const name = items.find((f) => f.content?.contact_name)?.content.contact_name;
  return [
    pageTitle(`Inbox: ${name || contactId}`),
    h("p", { class: "lede" }, name ? `Contact ${contactId}. ` : "",
      "Each call, with the follow-ups it led to and why those not sent were not sent."),
    ordered.length
      ? h("ol", { class: "timeline" }, ordered.map(callEntry))
      : h("p", { class: "empty" }, "No calls with follow-ups for this contact."),
  ];
}

function callEntry({ callId, followups, at }) {
  return h("li", { class: "call", "data-call": callId },
    h("h2", {}, `Call ${callId}`, " ", h("time", { datetime: at, class: "muted" }, formatTime(at))),
    followups[0].content?.summary ? h("p", { class: "summary" }, followups[0].content.summary) : null,
    h("ul", { class: "followups" }, followups.map((f) => h("li", { class: `followup status-${f.status}`, "data-followup": f.id },
      h("div", { class: "line" }, followupLink(f), " ", statusBadge(f.status)),
      whyLines(f),
      whenLine(f)))));
}

/** When it went out (its last attempt), else when it is due; nothing for a suppression. */
function whenLine(f) {
  if (f.status === "suppressed") return null;
  const last = f.attempts?.[f.attempts.length - 1];
  return last
    ? h("p", { class: "muted" }, `${f.channel === "call" ? "Placed" : "Sent"} `, dueCell(last.at, f.time_zone))
    : h("p", { class: "muted" }, "Due ", dueCell(f.due_at, f.time_zone));
}

/** Why it was decided (the first step of its trace) and, when different, what happened last. */
function whyLines(f) {
  const decided = f.trace[0]?.reason ?? f.reason;
  return [
    h("p", { class: "why" }, h("span", { class: "muted" }, "Why: "), reasonWords(decided), " ", h("code", {}, decided || "")),
    decided !== f.reason
      ? h("p", { class: "why" }, h("span", { class: "muted" }, "Then: "), reasonWords(f.reason, f.status), " ", h("code", {}, f.reason || ""))
      : null,
  ];
}

/** One follow-up: what, where, when, its trace and attempts, and what can be done. */
export async function followupPage(id) {
  const { body: f } = await api("GET", `/v1/followups/${seg(id)}`);
  const facts = [
    ["Channel", channelWords(f.channel)],
    ["Status", statusBadge(f.status)],
    ["Why", reasonCell(f.reason, f.status)],
    ["Due", dueCell(f.due_at, f.time_zone)],
    ["Destination", f.destination ?? "— (not confirmed)"],
    ["Contact", link(`#/contacts/${seg(f.contact_id)}`, f.content?.contact_name ? `${f.content.contact_name} (${f.contact_id})` : f.contact_id)],
    ["Campaign", link(`#/campaigns/${seg(f.campaign_id)}`, f.campaign_id)],
    ["Agent", link(`#/agents/${seg(f.agent_id)}`, f.agent_id)],
    ["Call", f.call_id],
    ["Attempt", f.max_retries === undefined ? String(f.attempt) : `${f.attempt} (up to ${f.max_retries} retries, every ${f.retry_interval_minutes} min)`],
  ];
  return [
    pageTitle(`${channelWords(f.channel)} follow-up`, h("span", { class: "muted id" }, ` ${f.id}`)),
    h("dl", { class: "facts" }, facts.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)])),
    actions(f),
    f.content?.summary || f.content?.request_reason ? h("section", {}, h("h2", {}, "From the call"),
      f.content.summary ? h("p", {}, h("strong", {}, "Summary: "), f.content.summary) : null,
      f.content.request_reason ? h("p", {}, h("strong", {}, "Requested because: "), f.content.request_reason) : null) : null,
    h("section", { "aria-labelledby": "trace-title" }, h("h2", { id: "trace-title" }, "Decision trace"),
      h("ol", { class: "trace" }, f.trace.map((t) => h("li", {},
        h("time", { datetime: t.at }, formatTime(t.at)), " ", statusBadge(t.status), " ",
        h("strong", {}, reasonWords(t.reason, t.status)), " ", h("code", {}, t.reason),
        t.detail ? h("p", { class: "detail" }, t.detail) : null)))),
    h("section", { "aria-labelledby": "attempts-title" }, h("h2", { id: "attempts-title" }, "Delivery attempts"),
      f.attempts.length ? attemptsTable(f) : h("p", { class: "empty" }, "Not attempted yet.")),
  ];
}

/** The attempts: for a call the voice platform's call id, for WhatsApp what Meta
 * reported about the message afterwards (sent, delivered, read, failed). */
function attemptsTable(f) {
  const idHeader = f.channel === "call" ? "Platform call id" : "Provider message id";
  const withDeliveries = f.attempts.some((a) => a.deliveries?.length) || f.channel === "whatsapp";
  return h("table", { class: "list attempts" },
    h("caption", { class: "visually-hidden" }, "Delivery attempts, oldest first"),
    h("thead", {}, h("tr", {}, ["#", "When", "Status", idHeader, withDeliveries ? "Delivery reports" : null, "Error"]
      .filter(Boolean).map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, f.attempts.map((a) => h("tr", { "data-attempt": a.attempt },
      h("td", {}, String(a.attempt)), h("td", {}, formatTime(a.at)), h("td", {}, statusBadge(a.status)),
      h("td", { class: "mono" }, a.provider_id ?? h("span", { class: "muted" }, "—")),
      withDeliveries ? h("td", {}, deliveryList(a.deliveries)) : null,
      h("td", {}, a.error ?? "")))));
}

const DELIVERY_WORDS = {
  sent: "Sent: WhatsApp accepted it for the phone",
  delivered: "Delivered to the contact's phone",
  read: "Read by the contact",
  failed: "Not delivered",
};

function deliveryList(deliveries) {
  if (!deliveries?.length) return h("span", { class: "muted" }, "No report yet");
  return h("ol", { class: "deliveries" }, deliveries.map((d) => h("li", { "data-state": d.state },
    h("strong", {}, DELIVERY_WORDS[d.state] || d.state), " ", h("time", { datetime: d.at }, formatTime(d.at)),
    d.state === "failed" || d.error ? h("p", { class: "detail" },
      d.error || "No reason given", d.error_code === undefined ? "" : ` (Meta error ${d.error_code})`) : null)));
}

function actions(f) {
  const canCancel = f.status === "scheduled" || f.status === "needs_review";
  const canSend = f.status === "needs_review" && f.channel === "sms";
  if (!canCancel && !canSend) return null;
  const section = h("section", { class: "actions-panel", "aria-labelledby": "actions-title" }, h("h2", { id: "actions-title" }, "Actions"));
  if (canSend) section.append(sendForm(f));
  if (canCancel) {
    const cancel = h("button", { type: "button", class: "danger" }, "Cancel this follow-up");
    cancel.addEventListener("click", async () => {
      if (!confirm("Cancel this follow-up? It will not be sent.")) return;
      try {
        await api("POST", `/v1/followups/${seg(f.id)}/cancel`);
        announce("Cancelled: it will not be sent.");
        window.dispatchEvent(new HashChangeEvent("hashchange"));
      } catch (e) {
        announce(`Not cancelled: ${errorText(e)}`, "error");
      }
    });
    section.append(h("div", { class: "actions" }, cancel));
  }
  return section;
}

function sendForm(f) {
  const destination = field({ label: "Send to (E.164 number)", path: "destination", type: "tel",
    hint: "The number the contact gave, e.g. +14155550123. The SMS goes out at once (inside quiet hours).",
    attrs: { autocomplete: "off" } });
  const form = h("form", { class: "send-form", novalidate: true, "aria-label": "Send this SMS by hand" },
    h("div", { class: "form-errors", role: "alert", tabindex: "-1", hidden: true }),
    h("p", {}, "No number was confirmed on the call. Set it and send the SMS:"),
    destination, h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Send SMS")));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    try {
      await api("POST", `/v1/followups/${seg(f.id)}/send`, { body: { destination: destination.control.value.trim() } });
      announce("Sent for delivery.");
      window.dispatchEvent(new HashChangeEvent("hashchange"));
    } catch (e) {
      if (e instanceof ApiError && e.fieldErrors.length) showErrors(form, e.fieldErrors);
      else announce(`Not sent: ${errorText(e)}`, "error");
    }
  });
  return form;
}
