// Connected mailboxes: the Gmail or Outlook mailboxes a campaign's emails may leave
// from. Connecting sends the mailbox owner to the provider's consent page; the list
// shows address, provider and status (never a token), and removes one.

import { api, ApiError, seg } from "./api.js";
import { h, showErrors, clearErrors, announce, errorText, pageTitle, formatTime } from "./ui.js";

const PROVIDERS = [
  ["google", "Gmail", "Gmail or Google Workspace"],
  ["microsoft", "Outlook", "Outlook.com or Microsoft 365"],
];
const PROVIDER_WORDS = Object.fromEntries(PROVIDERS.map(([id, , words]) => [id, words]));

export async function mailboxesPage() {
  const list = h("div", { "aria-live": "polite" });
  await fillList(list);
  const refresh = h("button", { type: "button" }, "Refresh the list");
  refresh.addEventListener("click", async () => {
    try {
      await fillList(list);
      announce("List refreshed.");
    } catch (e) {
      announce(errorText(e), "error");
    }
  });
  return [
    pageTitle("Connected mailboxes"),
    h("p", { class: "lede" },
      "A campaign's emails can leave from its owner's own Gmail or Outlook mailbox instead of the engine's address: ",
      "replies land in that inbox. Connect one here, then choose it as the sender in the campaign's email settings."),
    h("div", { class: "cards" }, PROVIDERS.map(([id, name, words]) => connectCard(id, name, words))),
    h("h2", {}, "Mailboxes"), list, h("div", { class: "actions" }, refresh),
  ];
}

/** One provider: a Connect button that opens the consent page in a new tab, and the
 * link itself, to open there or hand to the mailbox's owner. */
function connectCard(provider, name, words) {
  const titleId = `connect-${provider}-title`;
  const handoff = h("div", { "aria-live": "polite" });
  const button = h("button", { type: "submit", class: "primary" }, `Connect ${name}`);
  const form = h("form", { novalidate: true, "aria-labelledby": titleId },
    h("div", { class: "field", "data-field": "provider" },
      h("p", { class: "hint", id: `${titleId}-hint` },
        `Opens ${name}'s consent page in a new tab. Sign in there as the mailbox's owner and allow sending; `,
        "the link works once, for 10 minutes."),
      h("p", { class: "field-error", id: `${titleId}-error`, role: "alert", hidden: true })),
    h("div", { class: "form-errors", role: "alert", tabindex: "-1", hidden: true }),
    h("div", { class: "actions" }, button));
  button.setAttribute("aria-describedby", `${titleId}-hint ${titleId}-error`);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    handoff.replaceChildren();
    // Opened now, inside the click, so no pop-up blocker stops it; pointed at the
    // provider once the API answers.
    const tab = window.open("", "_blank");
    try {
      const { body } = await api("POST", `/v1/mailboxes/${seg(provider)}/connect`, { body: {} });
      if (tab) {
        tab.opener = null;
        tab.location.href = body.authorization_url;
      }
      showLink(handoff, name, body);
      announce(`${name}'s consent page is open in a new tab. Come back and refresh the list when done.`);
    } catch (e) {
      tab?.close();
      const fieldErrors = e instanceof ApiError ? e.fieldErrors : [];
      const errors = fieldErrors.length ? fieldErrors : [{ field: "provider", message: problemText(e, name) }];
      showErrors(form, errors);
    }
  });
  return h("section", { class: "card", "aria-labelledby": titleId },
    h("h2", { id: titleId }, name), h("p", { class: "muted" }, words), form, handoff);
}

function problemText(error, name) {
  if (error instanceof ApiError && error.status === 409) {
    return `${name} is not set up on this engine: ${error.problem.detail || "no OAuth client is configured"}.`;
  }
  return errorText(error);
}

function showLink(handoff, name, connect) {
  const link = h("a", { href: connect.authorization_url, target: "_blank", rel: "noopener noreferrer" },
    `Open ${name}'s consent page`);
  const copy = h("button", { type: "button", class: "small" }, "Copy the link");
  copy.addEventListener("click", async () => {
    await navigator.clipboard?.writeText(connect.authorization_url);
    announce("Copied.");
  });
  handoff.replaceChildren(h("p", {}, link, " ", copy),
    h("p", { class: "muted" }, `Valid until ${formatTime(connect.expires_at)}; the provider sends the browser back to `,
      h("span", { class: "mono" }, connect.redirect_uri), "."));
}

async function fillList(list) {
  const { body } = await api("GET", "/v1/mailboxes");
  if (!body.items.length) {
    list.replaceChildren(h("p", { class: "empty" }, "No mailbox is connected: emails leave through the engine's address."));
    return;
  }
  list.replaceChildren(h("table", { class: "list" },
    h("thead", {}, h("tr", {}, ["Address", "Provider", "Status", "Id", ""].map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, body.items.map((mailbox) => row(list, mailbox)))));
}

function row(list, mailbox) {
  const remove = h("button", { type: "button", class: "danger small", "aria-label": `Remove ${mailbox.address}` }, "Remove");
  remove.addEventListener("click", async () => {
    if (!confirm(`Remove ${mailbox.address}? Campaigns that send from it must choose another sender.`)) return;
    try {
      await api("DELETE", `/v1/mailboxes/${seg(mailbox.id)}`);
      announce("Removed.");
      await fillList(list);
    } catch (e) {
      announce(errorText(e), "error");
    }
  });
  const status = mailbox.status === "connected"
    ? h("span", { class: "badge badge-sent" }, "connected")
    : [h("span", { class: "badge badge-failed" }, "disconnected"), " ",
      h("span", { class: "muted" }, mailbox.status_detail || "the provider refused its consent: connect it again")];
  return h("tr", {}, h("td", {}, mailbox.address), h("td", {}, PROVIDER_WORDS[mailbox.provider] || mailbox.provider),
    h("td", {}, status, h("div", { class: "muted" }, `since ${formatTime(mailbox.connected_at)}`)),
    h("td", { class: "mono" }, mailbox.id), h("td", {}, remove));
}
