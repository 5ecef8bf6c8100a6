// Voice platform connections (`/v1/platforms/{platform}`): which platforms the account
// is connected to, connect or replace the API key and webhook secret, and disconnect.
// The key and secret are write-only: typed into password fields, sent once in a PUT
// body, then cleared; the API only ever says whether each is set.

import { api, ApiError, seg } from "./api.js";
import { h, field, showErrors, clearErrors, announce, errorText, pageTitle, whenCell } from "./ui.js";

const PLATFORMS = [
  { id: "vapi", name: "Vapi", doc: "docs/platforms/vapi.md",
    keyHint: "Your Vapi private API key: places the follow-up calls.",
    secret: "webhook credential secret",
    secretHint: "The token (bearer) or HMAC secret of the credential on your Vapi server URL: verifies Vapi's end-of-call reports." },
  { id: "retell", name: "Retell", doc: "docs/platforms/retell.md",
    keyHint: "Your Retell API key (mark it with the webhook badge in Retell): places the calls and verifies Retell's webhooks.",
    secret: null },
  { id: "bland", name: "Bland", doc: "docs/platforms/bland.md",
    keyHint: "Your Bland API key: places the follow-up calls.",
    secret: "webhook signing secret", secretHint: "Bland's webhook signing secret: verifies its call webhooks." },
  { id: "elevenlabs", name: "ElevenLabs", doc: "docs/platforms/elevenlabs.md",
    keyHint: "Your ElevenLabs API key: places the follow-up calls.",
    secret: "webhook HMAC secret", secretHint: "The HMAC secret of your ElevenLabs post-call webhook." },
];

/** The analysis keys the policy reads, in the order of docs/platforms/README.md. */
const MAPPING_KEYS = ["summary", "consent_sms", "consent_email", "consent_whatsapp", "sms_number", "sms_number_confirmed",
  "email_address", "email_address_confirmed", "appointment_at", "appointment_location", "followup_call_at",
  "followup_whatsapp_at", "followup_reason", "followup_requests"];

const VAPI_AUTH = {
  bearer: { type: "bearer", header: "authorization", bearer_prefix: true },
  legacy: { type: "bearer", header: "x-vapi-secret", bearer_prefix: false },
};

async function connection(platform) {
  try {
    return (await api("GET", `/v1/platforms/${seg(platform)}`)).body;
  } catch (e) {
    if (e instanceof ApiError && e.status === 404) return null;
    throw e;
  }
}

export async function platformsPage() {
  let [found, meta] = await Promise.all([Promise.all(PLATFORMS.map((p) => connection(p.id))),
    api("GET", "/v1/settings/whatsapp-webhook").then((r) => r.body)]);
  const connections = PLATFORMS.map((p, i) => ({ ...p, conn: found[i] }));
  const region = h("div", {});
  // After a change the page is redrawn from the API's answer, then focus goes back to
  // the platform's section and the change is announced.
  const changed = (p, conn, message, kind = "ok") => {
    connections.find((c) => c.id === p.id).conn = conn;
    draw();
    document.getElementById(`platform-${p.id}`)?.focus();
    announce(message, kind);
  };
  const draw = () => region.replaceChildren(summaryTable(connections), ...connections.map((c) => platformCard(c, changed)),
    whatsappCard(meta, (saved) => {
      meta = saved;
      draw();
      document.getElementById("platform-whatsapp")?.focus();
      announce("WhatsApp webhook saved: Meta's deliveries are now verified with the new app secret.");
    }));
  draw();
  return [
    pageTitle("Platforms: voice and WhatsApp"),
    h("p", { class: "lede" }, "Connect the voice platforms your agents run on: their end-of-call webhooks then come in natively, ",
      "and agents that name a platform in their call settings place follow-up calls through it. ",
      "Keys and secrets are write-only: once saved, nobody can read them back here or through the API. ",
      "WhatsApp replies, opt-outs and delivery reports come in through Meta's webhook, at the bottom."),
    region,
  ];
}

const setWords = (set, used = true) => (!used ? "not used" : set ? "set" : "not set");

function summaryTable(connections) {
  return h("table", { class: "list platforms" },
    h("caption", { class: "visually-hidden" }, "Connections"),
    h("thead", {}, h("tr", {}, ["Platform", "Connection", "API key", "Webhook secret", "Webhook URL"]
      .map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, connections.map(({ id, name, secret, conn }) => h("tr", { "data-platform": id },
      h("th", { scope: "row" }, h("a", { href: `#/platforms`, "data-target": `platform-${id}`, onclick: jumpTo }, name)),
      h("td", {}, conn ? h("span", { class: "badge badge-completed" }, "Connected") : h("span", { class: "badge badge-cancelled" }, "Not connected")),
      h("td", {}, conn ? setWords(conn.api_key_set) : "—"),
      h("td", {}, conn ? setWords(conn.webhook_secret_set, Boolean(secret)) : "—"),
      h("td", { class: "mono" }, conn ? `${location.origin}${conn.webhook_path}` : "—")))));
}

/** The summary's links move focus to the platform's section (the hash is the router's). */
function jumpTo(event) {
  event.preventDefault();
  const target = document.getElementById(event.currentTarget.dataset.target);
  target?.scrollIntoView();
  target?.focus();
}

function platformCard(p, changed) {
  const { conn } = p;
  const key = field({ label: `${p.name} API key`, path: "api_key", type: "password",
    hint: `${p.keyHint} ${conn?.api_key_set ? "A key is stored: leave blank to keep it, type a new one to replace it." : ""}`,
    attrs: { autocomplete: "off", spellcheck: "false" } });
  const secret = p.secret ? field({ label: `${p.name} ${p.secret}`, path: "webhook_secret", type: "password",
    hint: `${p.secretHint} ${conn?.webhook_secret_set ? "A secret is stored: leave blank to keep it." : ""}`,
    attrs: { autocomplete: "off", spellcheck: "false" } }) : null;
  const auth = p.id === "vapi" ? vapiAuthField(conn?.vapi_auth) : null;
  const mapping = mappingFields(p, conn?.analysis_mapping);
  const form = h("form", { class: "platform-form", novalidate: true, "aria-label": `Connect ${p.name}` },
    h("div", { class: "form-errors", role: "alert", tabindex: "-1", hidden: true }),
    key, secret, auth?.wrapper,
    h("details", {}, h("summary", {}, "Analysis mapping (where each value comes from in the platform's analysis)"),
      h("p", { class: "hint" }, "Blank: the key of the same name (the summary: the platform's own). Dotted for nested keys, e.g. contact.ok_to_text."),
      h("div", { class: "mapping" }, Object.values(mapping))),
    h("div", { class: "actions" },
      conn ? disconnectButton(p, changed) : null,
      h("button", { type: "submit", class: "primary" }, conn ? `Save ${p.name}` : `Connect ${p.name}`)));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    const body = {};
    const keyValue = key.control.value.trim();
    const secretValue = secret?.control.value.trim() ?? "";
    if (keyValue) body.api_key = keyValue;
    if (secretValue) body.webhook_secret = secretValue;
    if (auth) body.vapi_auth = auth.value();
    const overrides = Object.fromEntries(Object.entries(mapping)
      .map(([name, f]) => [name, f.control.value.trim()]).filter(([, v]) => v));
    if (Object.keys(overrides).length) body.analysis_mapping = overrides;
    // A connection with neither can verify no webhook (Retell's are verified with the key).
    if (!conn && !keyValue && !secretValue) {
      const message = p.secret ? "enter the API key (to place calls), the webhook secret (to verify webhooks) or both"
        : `enter the ${p.name} API key to connect`;
      showErrors(form, [{ field: "api_key", message }]);
      return;
    }
    try {
      const { body: saved } = await api("PUT", `/v1/platforms/${seg(p.id)}`, { body });
      // The typed values are not kept anywhere once sent.
      key.control.value = "";
      if (secret) secret.control.value = "";
      changed(p, saved, `${p.name} ${conn ? "saved" : "connected"}: API key ${setWords(saved.api_key_set)}` +
        (p.secret ? `, webhook secret ${setWords(saved.webhook_secret_set)}.` : "."));
    } catch (e) {
      key.control.value = "";
      if (secret) secret.control.value = "";
      if (e instanceof ApiError && e.fieldErrors.length) {
        showErrors(form, e.fieldErrors);
        announce(`${p.name} not saved: ${e.fieldErrors.length} field(s) need fixing (the key and secret were cleared: type them again).`, "error");
      } else {
        announce(`${p.name} not saved: ${errorText(e)}`, "error");
      }
    }
  });
  return h("section", { class: "card platform", id: `platform-${p.id}`, tabindex: "-1", "aria-labelledby": `platform-${p.id}-title` },
    h("h2", { id: `platform-${p.id}-title` }, p.name, " ",
      conn ? h("span", { class: "badge badge-completed" }, "Connected") : h("span", { class: "badge badge-cancelled" }, "Not connected")),
    conn ? h("p", {}, "Point ", p.name, "'s webhook at ", h("code", { class: "webhook-url" }, `${location.origin}${conn.webhook_path}`),
      ". See ", h("code", {}, p.doc), " for the settings on ", p.name, "'s side.") : null,
    form);
}

function vapiAuthField(current) {
  const matches = (preset) => current && Object.entries(VAPI_AUTH[preset]).every(([k, v]) => current[k] === v);
  const custom = current && !matches("bearer") && !matches("legacy");
  const options = [["bearer", "Bearer token in the Authorization header (Vapi's default)"],
    ["legacy", "X-Vapi-Secret header (legacy credential)"]];
  if (custom) options.push(["custom", `As configured through the API (${current.type}${current.header ? `, ${current.header}` : ""})`]);
  const wrapper = field({ label: "How Vapi authenticates its webhooks", path: "vapi_auth", type: "select",
    value: custom ? "custom" : matches("legacy") ? "legacy" : "bearer", options,
    hint: "An HMAC plan is set through the API (vapi_auth in PUT /v1/platforms/vapi)." });
  return { wrapper, value: () => (wrapper.control.value === "custom" ? current : VAPI_AUTH[wrapper.control.value]) };
}

/** One field per analysis key; filled only where the account overrides the default. */
function mappingFields(p, effective = {}) {
  return Object.fromEntries(MAPPING_KEYS.map((name) => {
    const value = effective?.[name];
    const overridden = value !== null && value !== undefined && value !== name;
    return [name, field({ label: `${p.name}: ${name.replaceAll("_", " ")}`, path: `analysis_mapping.${name}`,
      value: overridden ? value : "", attrs: { placeholder: name === "summary" ? "(the platform's summary)" : name,
        autocomplete: "off", spellcheck: "false" } })];
  }));
}

function disconnectButton(p, changed) {
  const button = h("button", { type: "button", class: "danger" }, `Disconnect ${p.name}`);
  button.addEventListener("click", async () => {
    if (!confirm(`Disconnect ${p.name}? Its API key and webhook secret are deleted: its webhooks are refused and agents set to call through it cannot.`)) return;
    try {
      await api("DELETE", `/v1/platforms/${seg(p.id)}`);
      changed(p, null, `${p.name} disconnected: its key and secret are deleted.`);
    } catch (e) {
      announce(`${p.name} not disconnected: ${errorText(e)}`, "error");
    }
  });
  return button;
}

// ---- WhatsApp (Meta's webhook: replies, opt-outs and delivery reports) ----

function whatsappCard(meta, saved) {
  const appSecret = field({ label: "Meta app secret", path: "app_secret", type: "password",
    hint: "Your Meta app's secret (16 to 256 characters): every delivery of Meta's webhook must be signed with it.",
    attrs: { autocomplete: "off", spellcheck: "false" } });
  const verifyToken = field({ label: "Webhook verify token", path: "verify_token", type: "password",
    hint: "8 to 256 characters: type the same token in Meta's webhook setup (its subscription check presents it).",
    attrs: { autocomplete: "off", spellcheck: "false" } });
  const form = h("form", { class: "platform-form", novalidate: true, "aria-label": "WhatsApp webhook credentials" },
    h("div", { class: "form-errors", role: "alert", tabindex: "-1", hidden: true }),
    meta.configured ? h("p", { class: "hint" }, "Saving replaces both: type the secret and the token again.") : null,
    appSecret, verifyToken,
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Save WhatsApp webhook")));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    const body = { app_secret: appSecret.control.value.trim(), verify_token: verifyToken.control.value.trim() };
    appSecret.control.value = "";
    verifyToken.control.value = "";
    try {
      saved((await api("PUT", "/v1/settings/whatsapp-webhook", { body })).body);
    } catch (e) {
      if (e instanceof ApiError && e.fieldErrors.length) {
        showErrors(form, e.fieldErrors);
        announce("WhatsApp webhook not saved: fix the marked fields and type both again.", "error");
      } else {
        announce(`WhatsApp webhook not saved: ${errorText(e)}`, "error");
      }
    }
  });
  return h("section", { class: "card platform", id: "platform-whatsapp", tabindex: "-1", "aria-labelledby": "platform-whatsapp-title" },
    h("h2", { id: "platform-whatsapp-title" }, "WhatsApp (Meta webhook) ",
      meta.configured ? h("span", { class: "badge badge-completed" }, "Configured") : h("span", { class: "badge badge-cancelled" }, "Not configured")),
    h("p", {}, "Contacts' replies (STOP opts them out), Meta's marketing opt-outs and delivery reports come in on ",
      h("code", { class: "webhook-url" }, `${location.origin}${meta.webhook_path}`), ".",
      meta.updated_at ? [" Credentials set ", whenCell(meta.updated_at), "."] : ""),
    form);
}
