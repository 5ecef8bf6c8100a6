// The console's shell: sign-in, navigation and the hash router. Routes carry ids only
// (agent, campaign, contact, follow-up); never a token, a number or an address.

import { api, ApiError, signedIn, setToken, signOut, whenSignedOut, loadConfig, seg } from "./api.js";
import { startSignIn, finishSignIn } from "./oidc.js";
import { h, field, showErrors, announce, errorText, pageTitle } from "./ui.js";
import { accountPage, agentPage, campaignSettingsPage } from "./settings.js";
import { campaignPage, inboxPage, followupPage } from "./followups.js";
import { dncPage, secretsPage, decisionsPage, outboxPage } from "./tools.js";
import { mailboxesPage } from "./mailboxes.js";
import { platformsPage } from "./platforms.js";

const main = document.getElementById("main");
const nav = document.getElementById("nav");
let config = { auth: { kind: "token" } };
let hasOutbox = false;
let lastPath = null;

const ROUTES = [
  [/^\/$/, () => homePage()],
  [/^\/settings$/, () => accountPage()],
  [/^\/agents\/([^/]+)$/, (m) => agentPage(m[1])],
  [/^\/campaigns\/([^/]+)\/settings$/, (m) => campaignSettingsPage(m[1])],
  [/^\/campaigns\/([^/]+)$/, (m, q) => campaignPage(m[1], q)],
  [/^\/contacts\/([^/]+)$/, (m) => inboxPage(m[1])],
  [/^\/followups\/([^/]+)$/, (m) => followupPage(m[1])],
  [/^\/dnc$/, () => dncPage()],
  [/^\/secrets$/, () => secretsPage()],
  [/^\/mailboxes$/, () => mailboxesPage()],
  [/^\/platforms$/, () => platformsPage()],
  [/^\/decisions$/, () => decisionsPage()],
  [/^\/outbox$/, () => outboxPage()],
];

function currentRoute() {
  const raw = location.hash.replace(/^#/, "") || "/";
  const [path, query = ""] = raw.split("?");
  return { path, query: new URLSearchParams(query) };
}

function renderNav() {
  const { path } = currentRoute();
  const items = [["#/", "Start"], ["#/settings", "Account"], ["#/dnc", "Do-not-call"], ["#/secrets", "Webhook secrets"],
    ["#/platforms", "Platforms"], ["#/mailboxes", "Mailboxes"],
    ["#/decisions", "Decision preview"], hasOutbox ? ["#/outbox", "Outbox"] : null].filter(Boolean);
  nav.replaceChildren(h("ul", {}, items.map(([href, text]) => h("li", {},
    h("a", { href, "aria-current": href === `#${path}` ? "page" : null }, text))),
  h("li", { class: "signout" }, h("button", { type: "button", class: "link", onclick: () => { signOut(); route(); } }, "Sign out"))));
}

// Pages load asynchronously: only the latest navigation's page may be shown (a slow
// page finishing after a faster, later one is dropped).
let navigation = 0;

async function route() {
  const mine = ++navigation;
  const current = () => mine === navigation;
  if (!signedIn()) {
    nav.replaceChildren();
    show(signInPage());
    return;
  }
  renderNav();
  const { path, query } = currentRoute();
  if (path !== lastPath) announce("");
  lastPath = path;
  const found = ROUTES.map(([re, page]) => [path.match(re), page]).find(([m]) => m);
  main.setAttribute("aria-busy", "true");
  try {
    const content = found
      ? await found[1](found[0].map((p, i) => (i ? decodeURIComponent(p) : p)), query)
      : [pageTitle("Not found"), h("p", {}, "No such page. "), h("a", { href: "#/" }, "Start")];
    if (current()) show(content);
  } catch (e) {
    if (!signedIn() || !current()) return;
    show([pageTitle("Cannot show this page"), h("p", { class: "warning", role: "alert" }, errorText(e)),
      h("a", { href: "#/" }, "Back to the start")]);
  } finally {
    if (current()) {
      main.removeAttribute("aria-busy");
      main.dataset.route = path;
      document.title = `${document.getElementById("page-title")?.textContent ?? "Follow-ups"} · Follow-ups console`;
    }
  }
}

let firstRender = true;

/** Shows a page; after a navigation, focus goes to its title (on the first load it
 * stays at the top, so the first Tab reaches the skip link). */
function show(content) {
  main.replaceChildren(...[content].flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false));
  if (!firstRender) document.getElementById("page-title")?.focus();
  firstRender = false;
}

// ---- start page: go to an agent, a campaign or a contact by id ----

function goForm(label, path, hint, target) {
  const input = field({ label, path, hint, attrs: { autocomplete: "off" } });
  const form = h("form", { class: "go", novalidate: true, "aria-label": label },
    input, h("div", { class: "actions" }, h("button", { type: "submit" }, "Open")));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const id = input.control.value.trim();
    if (!id) {
      showErrors(form, [{ field: path, message: "enter an id" }]);
      return;
    }
    location.hash = target(seg(id));
  });
  return form;
}

async function homePage() {
  const [agents, campaigns] = await Promise.all([
    api("GET", "/v1/agents?limit=100"), api("GET", "/v1/campaigns?limit=100")]);
  const on = (flag, text) => (flag ? text : null);
  const agentItems = agents.body.items.map(({ id, settings: s }) => h("li", {},
    h("a", { href: `#/agents/${seg(id)}` }, id), " ",
    h("span", { class: "muted" }, [on(s.calls?.enabled, "calls"), on(s.whatsapp?.enabled, "WhatsApp")].filter(Boolean).join(", ") || "nothing enabled")));
  const campaignItems = campaigns.body.items.map(({ id, settings: s }) => h("li", {},
    h("a", { href: `#/campaigns/${seg(id)}` }, id), " ",
    h("span", { class: "muted" }, [on(s.sms?.enabled, "SMS"), on(s.email?.enabled, "email"),
      on(s.missed_call_email?.enabled, "missed-call email")].filter(Boolean).join(", ") || "nothing enabled"), " · ",
    h("a", { href: `#/campaigns/${seg(id)}/settings`, "aria-label": `Settings of campaign ${id}` }, "settings")));
  const more = (page) => (page.body.next_cursor ? h("p", { class: "muted" }, "…and more: open one by id below.") : null);
  return [
    pageTitle("Follow-ups console"),
    h("p", { class: "lede" }, "Configure follow-ups per agent and per campaign, watch them go out, and act on them."),
    h("div", { class: "cards" },
      h("section", { class: "card", "aria-labelledby": "agents-title" }, h("h2", { id: "agents-title" }, "Agents"),
        agentItems.length ? h("ul", { class: "plain" }, agentItems) : h("p", { class: "empty" }, "No agent has follow-up settings yet."),
        more(agents),
        goForm("Agent id", "agent_id", "Open or set up an agent: calls and WhatsApp, hours, days, retries.", (id) => `#/agents/${id}`)),
      h("section", { class: "card", "aria-labelledby": "campaigns-title" }, h("h2", { id: "campaigns-title" }, "Campaigns"),
        campaignItems.length ? h("ul", { class: "plain" }, campaignItems) : h("p", { class: "empty" }, "No campaign has follow-up settings yet."),
        more(campaigns),
        goForm("Campaign id", "campaign_id", "Its follow-ups, and its SMS and email settings.", (id) => `#/campaigns/${id}`)),
      h("section", { class: "card", "aria-labelledby": "contacts-title" }, h("h2", { id: "contacts-title" }, "Contacts"),
        goForm("Contact id", "contact_id", "A contact's inbox: calls and their follow-ups. Contacts are also linked from a campaign's follow-ups.",
          (id) => `#/contacts/${id}`))),
  ];
}

// ---- sign-in ----

function signInPage() {
  if (config.auth.kind === "oidc") {
    const button = h("button", { type: "button", class: "primary" }, "Sign in");
    button.addEventListener("click", () => startSignIn(config.auth).catch((e) => announce(errorText(e), "error")));
    return [pageTitle("Sign in"), h("p", {}, "Sign in with your organisation's account."), button];
  }
  const tokenField = field({ label: "Bearer token", path: "token", type: "password",
    hint: "Printed by followups-local when it starts (also in .local/token). Kept for this browser tab only.",
    attrs: { autocomplete: "off", spellcheck: "false" } });
  const form = h("form", { class: "signin", novalidate: true, "aria-label": "Sign in" },
    tokenField, h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Sign in")));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const value = tokenField.control.value.trim();
    if (!value) return showErrors(form, [{ field: "token", message: "enter the token" }]);
    setToken(value);
    try {
      await api("GET", "/v1/settings", { probe: true });
      await detectOutbox();
      announce("Signed in.");
      route();
    } catch (e) {
      signOut();
      const message = e instanceof ApiError && e.status === 401 ? "this token is not accepted" : errorText(e);
      showErrors(form, [{ field: "token", message }]);
    }
  });
  return [pageTitle("Sign in"), form];
}

async function detectOutbox() {
  try {
    await api("GET", "/v1/outbox?limit=1");
    hasOutbox = true;
  } catch {
    hasOutbox = false;
  }
}

async function boot() {
  // The skip link focuses the content without touching the hash (the router's).
  document.getElementById("skip").addEventListener("click", (event) => {
    event.preventDefault();
    main.focus();
  });
  config = await loadConfig();
  if (config.auth.kind === "oidc") {
    try {
      const token = await finishSignIn(config.auth);
      if (token) setToken(token);
    } catch (e) {
      announce(errorText(e), "error");
    }
  }
  whenSignedOut(() => {
    announce("Your session ended: sign in again.", "error");
    route();
  });
  if (signedIn()) await detectOutbox();
  window.addEventListener("hashchange", route);
  route();
}

boot();
