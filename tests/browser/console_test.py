#!/usr/bin/env python3
"""The operator console in a real browser, against the real local runtime.

Starts `followups-local` (the binary cargo built) on a free port with a temporary data
directory, opens the console in Debian's headless Chromium through Playwright, and plays
an operator new to the product: signs in, saves account, agent and campaign settings
(and sees a validation error beside a bad field), watches the live SMS and email
preview, posts signed call.completed webhooks as the voice platform would, finds their
follow-ups in the campaign view and in the contacts' inboxes with their reasons,
cancels one, sends a needs-review SMS by hand and finds it in the outbox, and visits
the do-not-call list, the webhook secrets and the decision preview, and connects a
Gmail mailbox through a stand-in for Google's consent page (tests/browser/mail_provider.py).

A screenshot of every page goes to the output folder (default target/console-test/).

Usage: python tests/browser/console_test.py [--binary PATH] [--out DIR]
Needs: playwright (pip), /usr/bin/chromium (apt-get install chromium).
Waits poll for what the page shows, bounded; nothing asserts how long anything took.
"""

import argparse
import base64
import hashlib
import hmac
import json
import os
import queue
import re
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path

from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from zoneinfo import ZoneInfo

from playwright.sync_api import expect, sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent))
from oidc_provider import CLIENT_ID, ConsoleHost, Provider  # noqa: E402
from mail_provider import CLIENT_ID as MAIL_CLIENT_ID, CLIENT_SECRET as MAIL_CLIENT_SECRET, MailProvider  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
# Upper bounds of waits (a loaded 2-core CI machine is slow); never asserted as timings.
START_BOUND_S = 60
WAIT_MS = 15_000
CAMPAIGN = "camp-1"
META_APP_SECRET = "meta-app-secret-3b9d0e71"
AGENT = "agent-1"
MAILBOX_ADDRESS = "ana.sales@gmail.example"


# WCAG relative luminance and contrast, and the effective background of an element.
COLOR_JS = """
const rgb = (c) => (c.match(/[\\d.]+/g) || [0, 0, 0]).map(Number);
const luminance = ([r, g, b]) => [r, g, b].map((v) => v / 255)
  .map((v) => (v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4))
  .reduce((sum, v, i) => sum + v * [0.2126, 0.7152, 0.0722][i], 0);
const ratio = (a, b) => { const [x, y] = [luminance(a), luminance(b)].sort((p, q) => q - p); return (x + 0.05) / (y + 0.05); };
const background = (el) => {
  for (let e = el; e; e = e.parentElement) {
    const c = rgb(getComputedStyle(e).backgroundColor);
    if (c.length < 4 || c[3] > 0) return c.slice(0, 3);
  }
  return [255, 255, 255];
};
"""

CONTRAST_JS = "() => {" + COLOR_JS + """
  const low = [];
  for (const el of document.body.querySelectorAll("*")) {
    if (["SCRIPT", "STYLE", "OPTION", "DATALIST", "IFRAME"].includes(el.tagName)) continue;
    const own = [...el.childNodes].some((n) => n.nodeType === Node.TEXT_NODE && n.textContent.trim());
    if (!own || !el.getClientRects().length || el.closest("[hidden]")) continue;
    const style = getComputedStyle(el);
    if (style.visibility === "hidden") continue;
    const size = parseFloat(style.fontSize);
    const large = size >= 24 || (size >= 18.66 && Number(style.fontWeight) >= 700);
    const r = ratio(rgb(style.color).slice(0, 3), background(el));
    if (r < (large ? 3 : 4.5)) low.push(`${el.tagName} "${el.textContent.trim().slice(0, 40)}" ${r.toFixed(2)}`);
  }
  return low;
}"""

FOCUS_RING_JS = "() => {" + COLOR_JS + """
  const el = document.activeElement;
  const style = getComputedStyle(el);
  const behind = background(el.parentElement || el);
  return { element: el.outerHTML.slice(0, 80), style: style.outlineStyle, width: parseFloat(style.outlineWidth),
           ratio: ratio(rgb(style.outlineColor).slice(0, 3), behind) };
}"""


class Local:
    """The running binary: its URL, token and webhook secret from the banner."""

    def __init__(self, binary, data_dir, extra_env):
        env = {k: v for k, v in os.environ.items() if not k.startswith("FOLLOWUPS_") and k != "RUST_LOG"
               and not k.startswith(("GOOGLE_", "MICROSOFT_"))}
        env.update(extra_env)
        self.process = subprocess.Popen(
            [binary, "--port", "0", "--data-dir", data_dir],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
        lines = queue.Queue()
        self.log = []

        def pump():
            for line in self.process.stdout:
                self.log.append(line)
                lines.put(line)

        threading.Thread(target=pump, daemon=True).start()
        banner = {}
        deadline = time.monotonic() + START_BOUND_S
        while "secret" not in banner:
            try:
                line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                self.stop()
                sys.exit("followups-local printed no banner:\n" + "".join(self.log))
            if m := re.match(r"\s+console\s+(http://\S+)/", line):
                banner["url"] = m.group(1)
            elif m := re.match(r"\s+bearer token\s+(\S+)", line):
                banner["token"] = m.group(1)
            elif m := re.match(r"\s+webhook secret\s+(\S+)", line):
                banner["secret"] = m.group(1)
        self.url, self.token, self.secret = banner["url"], banner["token"], banner["secret"]

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def put_json(self, path, body):
        """An API PUT with the bearer token, for what the console's forms do not set."""
        request = urllib.request.Request(
            f"{self.url}{path}", data=json.dumps(body).encode(), method="PUT",
            headers={"content-type": "application/json", "authorization": f"Bearer {self.token}"})
        with urllib.request.urlopen(request) as response:
            assert response.status == 200, response.status
            return json.load(response)

    def api(self, method, path, body=None):
        """An API call with the bearer token; returns (status, parsed body or None)."""
        request = urllib.request.Request(
            f"{self.url}{path}", method=method, data=None if body is None else json.dumps(body).encode(),
            headers={"content-type": "application/json", "authorization": f"Bearer {self.token}"})
        with urllib.request.urlopen(request) as response:
            raw = response.read()
            return response.status, (json.loads(raw) if raw else None)

    def post_webhook(self, webhook_id, event):
        """POSTs a call.completed event signed as Standard Webhooks prescribes."""
        body = json.dumps(event).encode()
        timestamp = str(int(time.time()))
        key = base64.b64decode(self.secret.removeprefix("whsec_"))
        signature = base64.b64encode(
            hmac.new(key, f"{webhook_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()).decode()
        request = urllib.request.Request(
            f"{self.url}/v1/webhooks/acme/call-completed", data=body, method="POST",
            headers={"content-type": "application/json", "webhook-id": webhook_id,
                     "webhook-timestamp": timestamp, "webhook-signature": f"v1,{signature}"})
        with urllib.request.urlopen(request) as response:
            assert response.status in (200, 201), response.status
            return json.load(response)


class FakeVapi:
    """Vapi's create-call API on loopback: checks the request's shape, answers a call id."""

    CALL_ID = "vapi-call-8c1f2d"

    def __init__(self):
        self.calls, self.problems = [], []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))) or b"{}")
                fake.calls.append({"path": self.path, "authorization": self.headers.get("authorization"), "body": body})
                if self.path != "/call" or "assistantId" not in body or "phoneNumberId" not in body:
                    fake.problems.append(f"unexpected request {self.path} {sorted(body)}")
                answer = json.dumps({"id": FakeVapi.CALL_ID, "status": "queued"}).encode()
                self.send_response(201)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def call_event(contact, name, *, outcome="completed", consent=None, sms_confirmed=True, requests=()):
    now = datetime.now(timezone.utc)
    analysis = {
        "summary": f"{name} talked about the premium plan.",
        "consent": consent or {"sms": True, "email": True, "whatsapp": False},
        "email_address": {"address": f"{contact}@example.com", "confirmed": True},
        "followup_requests": list(requests),
    }
    if sms_confirmed:
        analysis["sms_destination"] = {"number": "+14155550101", "confirmed": True}
    return {
        "type": "call.completed",
        "call": {"id": f"call-{contact}", "agent_id": AGENT, "campaign_id": CAMPAIGN, "outcome": outcome,
                 "started_at": (now - timedelta(minutes=4)).isoformat(), "ended_at": now.isoformat()},
        "contact": {"id": contact, "phone": "+14155550101", "email": f"{contact}@example.com", "name": name,
                    "timezone": "America/New_York"},
        "analysis": analysis if outcome == "completed" else {},
    }


class Console:
    """The scenarios, in order: each builds on what the previous ones did."""

    def __init__(self, page, local, out, vapi):
        self.page, self.local, self.out, self.vapi = page, local, out, vapi

    def shot(self, name):
        """Saves the page, after checking what a screen reader and a low-vision reader
        need: every control named, every invalid control described by its visible error,
        every description found, and every visible text at WCAG AA contrast."""
        unlabelled = self.page.evaluate("""() => [...document.querySelectorAll("input, select, textarea, button")]
            .filter((c) => !(c.labels && c.labels.length) && !c.getAttribute("aria-label") && !c.textContent.trim())
            .map((c) => c.outerHTML.slice(0, 120))""")
        assert not unlabelled, f"{name}: controls without a label: {unlabelled}"
        undescribed = self.page.evaluate("""() => {
            const problems = [];
            for (const c of document.querySelectorAll("[aria-describedby]")) {
                const targets = c.getAttribute("aria-describedby").split(" ").filter(Boolean).map((id) => document.getElementById(id));
                if (targets.some((t) => !t)) problems.push(`missing description: ${c.outerHTML.slice(0, 100)}`);
                if (c.getAttribute("aria-invalid") === "true"
                    && !targets.some((t) => t && t.classList.contains("field-error") && !t.hidden && t.textContent.trim()))
                    problems.push(`invalid without its error: ${c.outerHTML.slice(0, 100)}`);
            }
            return problems;
        }""")
        assert not undescribed, f"{name}: {undescribed}"
        low = self.page.evaluate(CONTRAST_JS)
        assert not low, f"{name}: text below WCAG AA contrast: {low}"
        self.page.screenshot(path=str(self.out / f"{name}.png"), full_page=True)

    def focus_ring(self):
        """The focused element shows a ring of at least 2px at 3:1 against what is behind it."""
        ring = self.page.evaluate(FOCUS_RING_JS)
        assert ring["width"] >= 2 and ring["style"] != "none" and ring["ratio"] >= 3, ring

    def go(self, hash_path):
        """Opens a page and waits until the router has shown it (not the previous one)."""
        self.page.goto(f"{self.local.url}/#{hash_path}")
        route = hash_path.split("?")[0]
        expect(self.page.locator(f'main[data-route="{route}"]:not([aria-busy])')).to_have_count(1)
        expect(self.page.locator("#page-title")).to_be_visible()

    def field(self, form, label):
        return form.get_by_label(label, exact=True)

    def error_beside(self, label, text):
        """The error slot of the field labelled `label` (its aria-describedby) says `text`."""
        control = self.page.get_by_label(label, exact=True)
        expect(control).to_have_attribute("aria-invalid", "true")
        ids = control.get_attribute("aria-describedby").split()
        error = self.page.locator(f"#{ids[-1]}")
        expect(error).to_be_visible()
        expect(error).to_contain_text(text)

    def saved(self):
        expect(self.page.locator("#status")).to_contain_text("Saved")

    # ---- scenarios ----

    def sign_in(self):
        page = self.page
        page.goto(self.local.url + "/")
        expect(page.locator("h1")).to_have_text("Sign in")
        self.shot("01-sign-in")
        page.get_by_label("Bearer token").fill("not-the-token")
        page.get_by_role("button", name="Sign in").click()
        self.error_beside("Bearer token", "not accepted")
        page.get_by_label("Bearer token").fill(self.local.token)
        page.get_by_role("button", name="Sign in").click()
        expect(page.locator("h1")).to_have_text("Follow-ups console")
        expect(page.get_by_role("link", name="Outbox")).to_be_visible()
        expect(page.locator("main")).to_contain_text("No campaign has follow-up settings yet.")
        stored = page.evaluate("() => JSON.stringify({...localStorage})")
        assert self.local.token not in stored, "the token must not be in localStorage"
        assert self.local.token not in page.url
        self.shot("02-start")
        # Keyboard: after a navigation the page title has focus; on a fresh load the
        # first Tab reaches the skip link, which moves focus to the content.
        expect(page.locator("#page-title")).to_be_focused()
        page.reload()
        expect(page.locator("h1")).to_have_text("Follow-ups console")
        page.keyboard.press("Tab")
        expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
        self.focus_ring()
        page.keyboard.press("Tab")
        expect(page.get_by_role("link", name="Start")).to_be_focused()
        self.focus_ring()
        page.keyboard.press("Shift+Tab")
        page.keyboard.press("Enter")
        expect(page.locator("main")).to_be_focused()
        page.keyboard.press("Tab")
        expect(page.get_by_role("link", name="Skip to content")).not_to_be_focused()
        self.focus_ring()

    def account_settings(self):
        page = self.page
        self.go("/settings")
        page.get_by_label("Default sender name").fill("Acme Team")
        page.get_by_label("Default meeting link").fill("https://cal.example.com/acme")
        page.get_by_label("Default time zone").fill("America/New_York")
        # SMS wait for quiet hours: the whole day keeps this test the same at any hour.
        page.get_by_label("Quiet hours start").fill("00:00")
        page.get_by_label("Quiet hours end").fill("24:00")
        page.get_by_role("button", name="Save changes").click()
        self.saved()
        self.shot("02b-account-settings")
        # The federal 08:00-21:00 floor would hold the SMS at night in the contact's zone;
        # like the demo, this test turns it off explicitly so it passes at any hour.
        self.local.put_json("/v1/settings", {
            "default_sender_name": "Acme Team",
            "default_meeting_link": "https://cal.example.com/acme",
            "default_time_zone": "America/New_York",
            "quiet_hours": {"start": "00:00", "end": "24:00"},
            "calling_rules": {"disabled": ["federal_hours"]},
        })

    def agent_settings(self):
        page = self.page
        self.go(f"/agents/{AGENT}")
        page.get_by_label("From", exact=True).fill("08:00")
        page.get_by_label("Until", exact=True).fill("07:00")
        page.get_by_label("Sunday").uncheck()
        page.get_by_label("Enable follow-up calls").check()
        page.get_by_label("When to schedule calls").fill("When the contact asks to be called back.")
        page.get_by_label("Instructions for the call").fill("Greet them by name and offer a demo.")
        page.get_by_label("Maximum number of retries").fill("2")
        page.get_by_role("button", name="Save changes").click()
        self.error_beside("Until", "later than start")
        expect(page.get_by_label("Until", exact=True)).to_be_focused()
        self.shot("03-agent-settings-error")
        page.get_by_label("Until", exact=True).fill("20:00")
        page.get_by_role("button", name="Save changes").click()
        self.saved()
        expect(page.get_by_label("Until", exact=True)).not_to_have_attribute("aria-invalid", "true")
        self.shot("04-agent-settings")

    def campaign_settings(self):
        page = self.page
        self.go(f"/campaigns/{CAMPAIGN}/settings")
        page.get_by_label("Enable SMS follow-ups").check()
        page.get_by_label("SMS template").select_option("meeting_request")
        sms = page.get_by_test_id("sms-text")
        # The sender name is blank: the preview shows the account default in the text.
        expect(sms).to_contain_text("Hi Ana Diaz, this is Acme Team.")
        expect(sms).to_contain_text("https://cal.example.com/acme")
        expect(page.locator(".preview")).to_contain_text("Sender name: Acme Team (account default)")
        expect(page.get_by_test_id("sms-segments")).to_contain_text("GSM-7 · 1 segment")
        page.get_by_text("Sample contact", exact=True).click()
        page.get_by_label("Contact name").fill("Zoë Ångström")
        expect(page.get_by_test_id("sms-segments")).to_contain_text("UCS-2")
        page.get_by_label("Contact name").fill("Ana Diaz")
        expect(page.get_by_test_id("sms-segments")).to_contain_text("GSM-7")

        page.get_by_label("Enable email follow-ups").check()
        page.get_by_label("Ask for email on the call").check()
        email = page.get_by_role("group", name="Email follow-ups")
        email.get_by_label("From name").fill("Ana at Acme")
        email.get_by_label("Subject").fill("Great talking, {{contact_name}}")
        email.get_by_label("Body").fill("Hi {{contact_name}},\n\n**Next step**: [book a slot]({{meeting_link}}).")
        expect(page.get_by_test_id("email-subject")).to_have_text("Great talking, Ana Diaz")
        expect(page.get_by_test_id("email-from")).to_contain_text("Ana at Acme")
        frame = page.frame_locator("iframe.email-frame").first
        expect(frame.locator("strong")).to_have_text("Next step")
        expect(frame.locator("a")).to_have_attribute("href", "https://cal.example.com/acme")

        sms_group = page.get_by_role("group", name="SMS follow-ups")
        sms_group.get_by_label("Meeting link").fill("http://insecure.example.com")
        page.get_by_role("button", name="Save changes").click()
        self.error_beside_in(sms_group, "Meeting link", "https")
        # The live preview validates too, and says why it stopped.
        expect(page.locator(".preview-output")).to_contain_text("waits for the fields marked in red")
        self.shot("05-campaign-settings-error")
        sms_group.get_by_label("Meeting link").fill("")
        page.get_by_role("button", name="Save changes").click()
        self.saved()
        expect(sms).to_contain_text("this is Acme Team.")
        self.shot("06-campaign-settings-preview")
        page.get_by_role("link", name="Start").click()
        expect(page.get_by_role("link", name=CAMPAIGN, exact=True)).to_be_visible()
        expect(page.get_by_role("link", name=AGENT, exact=True)).to_be_visible()
        expect(page.locator("main")).to_contain_text("SMS, email")
        self.shot("06b-start-with-lists")

    def error_beside_in(self, group, label, text):
        control = group.get_by_label(label, exact=True)
        expect(control).to_have_attribute("aria-invalid", "true")
        error = self.page.locator(f"#{control.get_attribute('aria-describedby').split()[-1]}")
        expect(error).to_contain_text(text)

    def webhooks(self):
        local = self.local
        tomorrow = (datetime.now(timezone.utc) + timedelta(days=1)).strftime("%Y-%m-%dT15:00")
        local.post_webhook("msg_ana", call_event("contact-ana", "Ana Diaz"))
        local.post_webhook("msg_bob", call_event("contact-bob", "Bob Lee",
                                                 consent={"sms": False, "email": False, "whatsapp": False}))
        local.post_webhook("msg_eve", call_event("contact-eve", "Eve Stone", sms_confirmed=False))
        local.post_webhook("msg_dan", call_event("contact-dan", "Dan Park", requests=[
            {"channel": "call", "at": tomorrow, "reason": "Asked to be called back tomorrow afternoon."}]))

    def campaign_view(self):
        page = self.page
        self.go(f"/campaigns/{CAMPAIGN}")
        table = page.locator("table.list")
        expect(table.locator("tbody tr")).to_have_count(9, timeout=WAIT_MS)
        expect(table).to_contain_text("No consent was heard on the call")
        expect(table).to_contain_text("No number was confirmed on the call")
        expect(table).to_contain_text("America/New_York")
        self.shot("07-campaign-followups")
        page.get_by_label("Per page").select_option("5")
        page.get_by_role("button", name="Apply filters").click()
        expect(table.locator("tbody tr")).to_have_count(5)
        page.get_by_role("button", name="Next page →").click()
        expect(table.locator("tbody tr")).to_have_count(4)
        expect(page.get_by_role("button", name="Next page →")).to_have_count(0)
        assert "cursor" not in page.url and "pages" not in page.url, page.url
        page.get_by_role("button", name="← Previous page").click()
        expect(table.locator("tbody tr")).to_have_count(5)
        page.get_by_label("Per page").select_option("25")
        page.get_by_label("Status").select_option("needs_review")
        page.get_by_role("button", name="Apply filters").click()
        expect(table.locator("tbody tr")).to_have_count(1)
        expect(table).to_contain_text("Eve Stone")
        page.get_by_label("Status").select_option("")
        page.get_by_label("Channel").select_option("call")
        page.get_by_role("button", name="Apply filters").click()
        expect(table.locator("tbody tr")).to_have_count(1)
        expect(table).to_contain_text("Dan Park")
        self.shot("08-campaign-filtered")

    def inbox(self):
        page = self.page
        self.go("/contacts/contact-bob")
        timeline = page.locator(".timeline")
        expect(timeline).to_contain_text("Call call-contact-bob")
        expect(timeline.locator(".followup")).to_have_count(2)
        expect(timeline).to_contain_text("Not sent")
        expect(timeline).to_contain_text("No consent was heard on the call")
        self.shot("09-inbox-suppressed")
        self.go("/contacts/contact-ana")
        expect(page.locator(".timeline .followup")).to_have_count(2)
        expect(page.locator(".timeline").get_by_text("Sent", exact=True)).to_have_count(2, timeout=WAIT_MS)
        expect(page.locator(".timeline")).to_contain_text("The contact agreed on the call")
        self.shot("10-inbox-sent")

    def cancel(self):
        page = self.page
        self.go("/contacts/contact-dan")
        page.get_by_role("link", name=re.compile("Follow-up call follow-up")).click()
        expect(page.locator("h1")).to_contain_text("Follow-up call follow-up")
        expect(page.locator(".trace")).to_contain_text("The agent asked for it on the call")
        self.shot("11-followup-detail")
        page.once("dialog", lambda dialog: dialog.accept())
        page.get_by_role("button", name="Cancel this follow-up").click()
        expect(page.locator(".facts")).to_contain_text("Cancelled")
        expect(page.locator(".trace")).to_contain_text("Cancelled by an operator")
        expect(page.get_by_role("button", name="Cancel this follow-up")).to_have_count(0)

    def send_needs_review(self):
        page = self.page
        self.go(f"/campaigns/{CAMPAIGN}?status=needs_review")
        page.get_by_role("link", name=re.compile("SMS follow-up")).click()
        expect(page.locator(".facts")).to_contain_text("Needs review")
        page.get_by_label("Send to (E.164 number)").fill("555-0155")
        page.get_by_role("button", name="Send SMS").click()
        self.error_beside("Send to (E.164 number)", "E.164")
        self.shot("12-needs-review-error")
        page.get_by_label("Send to (E.164 number)").fill("+14155550155")
        page.get_by_role("button", name="Send SMS").click()
        expect(page.locator(".trace")).to_contain_text("An operator set the number and sent it")
        page.get_by_role("link", name="Outbox").click()
        row = page.locator("table.outbox tbody tr", has_text="+14155550155")
        expect(row).to_have_count(1, timeout=WAIT_MS)
        expect(row).to_contain_text("Hi Eve Stone, this is Acme Team.")
        self.shot("13-outbox")

    def dnc(self):
        page = self.page
        self.go("/dnc")
        page.get_by_label("Phone number (E.164) or email address").fill("not a number")
        page.get_by_role("button", name="Add").click()
        expect(page.locator("[aria-invalid=true]")).to_have_count(1)
        page.get_by_label("Phone number (E.164) or email address").fill("+14155550199")
        page.get_by_role("button", name="Add").click()
        expect(page.locator("table.list")).to_contain_text("+14155550199")

    def dnc_sources(self):
        """Each entry says how it got on the list and when, in words: a STOP reply to a
        text lands there as `sms_reply`, next to the operator's own entry."""
        page = self.page
        status, answer = self.local.api("POST", "/v1/local/inbound/sms", {"from": "+14155550177", "body": "STOP"})
        assert status == 200 and answer["outcome"] == "opted_out", answer
        self.go("/dnc")
        page.reload()
        by_hand = page.locator("table.list tbody tr", has_text="+14155550199")
        replied = page.locator("table.list tbody tr", has_text="+14155550177")
        expect(by_hand).to_contain_text("Added by an operator")
        expect(replied).to_contain_text("Replied with an opt-out word (STOP…) to a text")
        expect(replied).to_have_attribute("data-source", "sms_reply")
        added = replied.locator("time")
        expect(added).to_contain_text(re.compile(r"\(just now\)|minute"))
        assert added.get_attribute("datetime").endswith("Z"), added.get_attribute("datetime")
        self.shot("14-dnc")

    def platforms(self):
        """Connect Vapi (key and secret write-only, a bad mapping key refused beside its
        field), connect Retell with a key only, replace nothing, disconnect Retell."""
        page = self.page
        key, secret = "vapi-private-key-7f3a9c", "vapi-credential-secret-51d2e8"
        self.go("/platforms")
        rows = page.locator("table.platforms tbody tr")
        expect(rows).to_have_count(4)
        expect(page.locator("table.platforms")).not_to_contain_text("Connected\n")
        for platform in ("vapi", "retell", "bland", "elevenlabs"):
            expect(page.locator(f"tr[data-platform={platform}]")).to_contain_text("Not connected")
        page.get_by_role("button", name="Connect Bland").click()
        self.error_beside("Bland API key", "the webhook secret (to verify webhooks) or both")
        vapi = page.get_by_role("region", name=re.compile("^Vapi"))
        expect(vapi.get_by_label("Vapi API key")).to_have_attribute("type", "password")
        expect(page.get_by_role("region", name=re.compile("^Retell")).get_by_label(re.compile("secret"))).to_have_count(0)
        vapi.get_by_label("Vapi API key").fill(key)
        vapi.get_by_label("Vapi webhook credential secret").fill(secret)
        vapi.get_by_text("Analysis mapping").click()
        vapi.get_by_label("Vapi: consent sms").fill("contact..ok_to_text")
        vapi.get_by_role("button", name="Connect Vapi").click()
        self.error_beside("Vapi: consent sms", "key of the analysis")
        expect(vapi.get_by_label("Vapi: consent sms")).to_be_focused()
        self.focus_ring()
        # Refused: nothing stored, and the typed key and secret are gone from the page.
        expect(vapi.get_by_label("Vapi API key")).to_have_value("")
        expect(page.locator("tr[data-platform=vapi]")).to_contain_text("Not connected")
        self.shot("18-platforms-error")
        vapi.get_by_label("Vapi: consent sms").fill("contact.ok_to_text")
        vapi.get_by_label("Vapi API key").fill(key)
        vapi.get_by_label("Vapi webhook credential secret").fill(secret)
        vapi.get_by_role("button", name="Connect Vapi").click()
        expect(page.locator("#status")).to_contain_text("Vapi connected: API key set, webhook secret set.")
        row = page.locator("tr[data-platform=vapi]")
        expect(row).to_contain_text("Connected")
        expect(row).to_contain_text(f"{self.local.url}/v1/webhooks/")
        expect(row.locator("td").nth(1)).to_have_text("set")
        _, stored = self.local.api("GET", "/v1/platforms/vapi")
        assert stored["api_key_set"] and stored["webhook_secret_set"], stored
        assert stored["analysis_mapping"]["consent_sms"] == "contact.ok_to_text", stored
        # Saving again without typing them keeps both (the fields stay empty: never shown back).
        vapi = page.get_by_role("region", name=re.compile("^Vapi"))
        expect(vapi.get_by_label("Vapi API key")).to_have_value("")
        vapi.get_by_role("button", name="Save Vapi").click()
        expect(page.locator("#status")).to_contain_text("Vapi saved: API key set, webhook secret set.")
        retell = page.get_by_role("region", name=re.compile("^Retell"))
        retell.get_by_label("Retell API key").fill("retell-key-0c8e")
        retell.get_by_role("button", name="Connect Retell").click()
        expect(page.locator("tr[data-platform=retell]")).to_contain_text("not used")
        page.once("dialog", lambda dialog: dialog.accept())
        page.get_by_role("button", name="Disconnect Retell").click()
        expect(page.locator("tr[data-platform=retell]")).to_contain_text("Not connected")
        expect(page.locator("tr[data-platform=vapi]")).to_contain_text("Connected")
        # Meta's webhook for WhatsApp: both credentials write-only, validated beside their fields.
        whatsapp = page.get_by_role("region", name=re.compile("^WhatsApp"))
        expect(whatsapp).to_contain_text("Not configured")
        expect(whatsapp).to_contain_text(f"{self.local.url}/v1/inbound/acme/whatsapp")
        whatsapp.get_by_label("Meta app secret").fill("too-short")
        whatsapp.get_by_label("Webhook verify token").fill("verify-token-1")
        whatsapp.get_by_role("button", name="Save WhatsApp webhook").click()
        self.error_beside("Meta app secret", "16")
        expect(whatsapp.get_by_label("Webhook verify token")).not_to_have_attribute("aria-invalid", "true")
        whatsapp.get_by_label("Meta app secret").fill(META_APP_SECRET)
        whatsapp.get_by_label("Webhook verify token").fill("verify-token-1")
        whatsapp.get_by_role("button", name="Save WhatsApp webhook").click()
        expect(page.locator("#status")).to_contain_text("WhatsApp webhook saved")
        expect(page.get_by_role("region", name=re.compile("^WhatsApp"))).to_contain_text("Configured")
        self.shot("19-platforms")
        for value in (key, secret, "retell-key-0c8e", META_APP_SECRET, "verify-token-1"):
            assert value not in page.url
            assert value not in page.content(), "a platform secret is shown back"
            assert value not in page.evaluate("() => JSON.stringify({...sessionStorage, ...localStorage})")
            assert value not in "".join(self.local.log), "a platform secret is in the log"

    def agent_call_platform(self):
        """An agent's calls through Vapi: the ids it needs are asked for beside their
        fields, and what the form does not edit (the analysis mapping) survives a save."""
        page = self.page
        self.local.put_json("/v1/agents/agent-vapi/followup-settings", {
            "allowed_hours": {"start": "09:00", "end": "18:00"}, "allowed_days": ["mon", "tue"],
            "analysis_mapping": {"consent_email": "email_ok"}})
        self.go("/agents/agent-vapi")
        page.get_by_label("Voice platform that places the calls").select_option("vapi")
        expect(page.get_by_label("Platform assistant / agent id")).to_be_visible()
        expect(page.locator("main")).to_contain_text("Required: the Vapi phoneNumberId.")
        page.get_by_label("Platform assistant / agent id").fill("asst_4f2b")
        page.get_by_role("button", name="Save changes").click()
        self.error_beside("Platform phone-number id", "required for vapi")
        self.shot("20-agent-call-platform-error")
        page.get_by_label("Platform phone-number id").fill("pn_91c0")
        page.get_by_role("button", name="Save changes").click()
        self.saved()
        _, saved = self.local.api("GET", "/v1/agents/agent-vapi/followup-settings")
        assert saved["calls"]["platform"] == {"name": "vapi", "agent_id": "asst_4f2b", "from_number_id": "pn_91c0"}, saved
        assert saved["analysis_mapping"] == {"consent_email": "email_ok"}, saved
        self.go("/agents/agent-vapi")
        expect(page.get_by_label("Voice platform that places the calls")).to_have_value("vapi")
        expect(page.get_by_label("Platform phone-number id")).to_have_value("pn_91c0")
        expect(page.get_by_label("Calling number (E.164)")).to_be_hidden()

    def delivery_reports(self):
        """A follow-up call placed through Vapi shows Vapi's call id; a WhatsApp message
        shows what Meta reported about it (sent, delivered, read), each report once."""
        page, local = self.page, self.local
        local.put_json("/v1/agents/agent-wa/followup-settings", {
            "allowed_hours": {"start": "00:00", "end": "24:00"},
            "allowed_days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
            "calls": {"enabled": True, "instructions": "Offer the demo.", "max_retries": 1, "retry_interval_minutes": 30,
                      "platform": {"name": "vapi", "agent_id": "asst_4f2b", "from_number_id": "pn_91c0"}},
            "whatsapp": {"enabled": True, "template": {"name": "call_followup", "language": "en_US",
                                                       "parameters": ["{{contact_name}}"]}}})
        app_secret = META_APP_SECRET  # set on the platforms page
        now_there = datetime.now(ZoneInfo("America/New_York")).strftime("%Y-%m-%dT%H:%M")
        event = call_event("contact-wa", "Wes Allen", consent={"sms": False, "email": False, "whatsapp": True}, requests=[
            {"channel": "call", "at": now_there, "reason": "Asked to be called right back."},
            {"channel": "whatsapp", "at": now_there, "reason": "Prefers WhatsApp for the details."}])
        event["call"].update(agent_id="agent-wa", campaign_id="camp-wa")
        local.post_webhook("msg_wes", event)
        # The executor sends them in the background: wait (bounded) until both went out.
        deadline = time.monotonic() + WAIT_MS / 1000
        while True:
            _, listed = local.api("GET", "/v1/contacts/contact-wa/followups")
            if sorted(f["status"] for f in listed["items"]) == ["placed", "sent"]:
                break
            assert time.monotonic() < deadline, listed
            time.sleep(0.2)
        self.go("/contacts/contact-wa")
        timeline = page.locator(".timeline")
        expect(timeline.get_by_text("Call placed", exact=True)).to_have_count(1)
        expect(timeline.get_by_text("Sent", exact=True)).to_have_count(1)
        assert not self.vapi.problems, self.vapi.problems
        assert [c["authorization"] for c in self.vapi.calls] == ["Bearer vapi-private-key-7f3a9c"], self.vapi.calls

        whatsapp = next(f for f in listed["items"] if f["channel"] == "whatsapp")
        message_id = whatsapp["attempts"][-1]["provider_id"]
        sent_at = int(time.time())
        statuses = [(state, sent_at + i) for i, state in enumerate(["sent", "delivered", "read"])]
        for state, at in statuses + [("delivered", sent_at + 1)]:  # Meta redelivers: recorded once
            body = json.dumps({"object": "whatsapp_business_account", "entry": [{"id": "waba", "changes": [{
                "field": "messages", "value": {"messaging_product": "whatsapp", "statuses": [{
                    "id": message_id, "status": state, "timestamp": str(at), "recipient_id": "14155550101",
                    "biz_opaque_callback_data": f"{whatsapp['id']}:{whatsapp['attempt']}"}]}}]}]}).encode()
            signature = hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()
            request = urllib.request.Request(
                f"{local.url}/v1/inbound/acme/whatsapp", data=body, method="POST",
                headers={"content-type": "application/json", "x-hub-signature-256": f"sha256={signature}"})
            with urllib.request.urlopen(request) as response:
                assert response.status == 200, response.status

        self.go(f"/followups/{whatsapp['id']}")
        reports = page.locator("table.attempts ol.deliveries li")
        expect(reports).to_have_count(3)
        expect(reports.nth(0)).to_contain_text("Sent: WhatsApp accepted it for the phone")
        expect(reports.nth(1)).to_contain_text("Delivered to the contact's phone")
        expect(reports.nth(2)).to_contain_text("Read by the contact")
        expect(page.locator("table.attempts")).to_contain_text("Provider message id")
        self.shot("21-whatsapp-deliveries")
        call = next(f for f in listed["items"] if f["channel"] == "call")
        self.go(f"/followups/{call['id']}")
        attempts = page.locator("table.attempts")
        expect(attempts.locator("th", has_text="Platform call id")).to_have_count(1)
        expect(attempts.locator("tbody")).to_contain_text(FakeVapi.CALL_ID)
        self.shot("22-call-through-vapi")

    def secrets(self):
        page = self.page
        self.go("/secrets")
        rows = page.locator("table.list tbody tr")
        expect(rows).to_have_count(1)
        page.get_by_role("button", name="Create a new secret").click()
        secret = page.locator("#new-secret")
        expect(secret).to_have_value(re.compile(r"^whsec_"))
        expect(page.locator(".secret-once")).to_contain_text("Shown once")
        expect(rows).to_have_count(2)
        self.shot("15-secrets")
        self.go("/")
        self.go("/secrets")
        expect(page.locator("#new-secret")).to_have_count(0)

    def decision_preview(self):
        page = self.page
        self.go("/decisions")
        page.get_by_role("button", name="Preview decisions").click()
        expect(page.locator("table.decisions tbody tr").first).to_be_visible()
        expect(page.locator("table.decisions")).to_contain_text("Follow-up call")
        self.shot("16-decision-preview")
        body = page.get_by_label("Webhook body")
        body.fill(json.dumps({"type": "call.completed", "call": {"id": "c1", "outcome": "maybe"}}))
        page.get_by_role("button", name="Preview decisions").click()
        expect(body).to_have_attribute("aria-invalid", "true")
        expect(page.locator("#event-error")).to_contain_text("call.outcome")
        # A platform's own body: mapped as its webhook would, with what did not read.
        page.get_by_label("Body format").select_option("retell")
        now_ms = int(time.time() * 1000)
        body.fill(json.dumps({"event": "call_analyzed", "call": {
            "call_id": "call_r1", "agent_id": AGENT, "direction": "outbound", "call_status": "ended",
            "from_number": "+14155550100", "to_number": "+14155550123", "disconnection_reason": "user_hangup",
            "start_timestamp": now_ms - 300_000, "end_timestamp": now_ms, "metadata": {"campaign_id": CAMPAIGN},
            "call_analysis": {"call_summary": "Wants the offer by text.", "custom_analysis_data": {
                "consent_sms": "maybe", "sms_number": "+14155550123", "sms_number_confirmed": True}}}}))
        page.get_by_role("button", name="Preview decisions").click()
        expect(body).not_to_have_attribute("aria-invalid", "true")
        expect(page.locator("main")).to_contain_text("What call call_r1 would get")
        expect(page.locator("main .warning")).to_contain_text("custom_analysis_data.consent_sms: expected true or false")
        page.get_by_text("As call.completed (idempotency key retell:call_r1)").click()
        expect(page.locator("main pre")).to_contain_text('"id": "call_r1"')
        self.shot("16b-decision-preview-retell")

    def mailboxes(self):
        """Connect a Gmail mailbox through the stand-in's consent page in a new tab; Outlook
        is not set up here, and says so beside its button."""
        page = self.page
        self.go("/mailboxes")
        expect(page.locator("main")).to_contain_text("No mailbox is connected")
        page.get_by_role("button", name="Connect Outlook").click()
        expect(page.locator("#connect-microsoft-title-error")).to_contain_text("not set up")
        with page.context.expect_page() as opened:
            page.get_by_role("button", name="Connect Gmail").click()
        consent = opened.value
        # The stand-in consents at once and sends the tab back to the runtime's callback.
        consent.wait_for_url(re.compile(r"/v1/mailboxes/google/callback\?"))
        expect(consent.locator("body")).to_contain_text(MAILBOX_ADDRESS)
        consent.close()
        expect(page.get_by_role("link", name="Open Gmail's consent page")).to_be_visible()
        page.get_by_role("button", name="Refresh the list").click()
        row = page.locator("table.list tbody tr")
        expect(row).to_have_count(1)
        expect(row).to_contain_text(MAILBOX_ADDRESS)
        expect(row).to_contain_text("connected")
        assert not self.mail_provider.problems, self.mail_provider.problems
        self.shot("18-mailboxes")
        # A campaign's emails can leave from it; saving the page keeps the choice.
        _, listed = self.local.api("GET", "/v1/mailboxes")
        mailbox_id = listed["items"][0]["id"]
        self.go(f"/campaigns/{CAMPAIGN}/settings")
        email = page.get_by_role("group", name="Email follow-ups")
        email.get_by_label("Send from").select_option(mailbox_id)
        page.get_by_role("button", name="Save changes").click()
        self.saved()
        _, saved = self.local.api("GET", f"/v1/campaigns/{CAMPAIGN}/followup-settings")
        assert saved["email"]["sender"] == mailbox_id, saved["email"]
        assert saved["missed_call_email"].get("sender") in (None, "ses"), saved["missed_call_email"]
        email.get_by_label("Send from").select_option("ses")
        page.get_by_role("button", name="Save changes").click()
        self.saved()
        self.go("/mailboxes")
        page.once("dialog", lambda dialog: dialog.accept())
        page.get_by_role("button", name=f"Remove {MAILBOX_ADDRESS}").click()
        expect(page.locator("main")).to_contain_text("No mailbox is connected")

    def oidc_sign_in(self):
        """The AWS sign-in: code with PKCE against a stand-in provider, in a fresh tab."""
        provider = Provider(access_token=self.local.token)
        host = ConsoleHost(ROOT / "console", {"auth": {
            "kind": "oidc", "issuer": provider.issuer, "client_id": CLIENT_ID,
            "scope": "openid", "token": "access_token"}}, self.local.url)
        try:
            page = self.page.context.browser.new_context().new_page()
            page.set_default_timeout(WAIT_MS)
            page.goto(host.url + "/")
            page.get_by_role("button", name="Sign in").click()
            expect(page.locator("h1")).to_have_text("Follow-ups console")
            expect(page.get_by_role("link", name=CAMPAIGN, exact=True)).to_be_visible()
            assert "code=" not in page.url and "state=" not in page.url, page.url
            storage = page.evaluate("() => JSON.stringify({...sessionStorage, ...localStorage})")
            assert "oidc-pending" not in storage, storage
            assert [kind for kind, _ in provider.seen] == ["authorize", "token"], provider.seen
            assert not provider.problems, provider.problems
            page.screenshot(path=str(self.out / "17-oidc-signed-in.png"), full_page=True)
            page.context.close()
        finally:
            host.stop()
            provider.stop()


SCENARIOS = ["sign_in", "account_settings", "agent_settings", "campaign_settings", "webhooks", "campaign_view",
             "inbox", "cancel", "send_needs_review", "dnc", "dnc_sources", "platforms", "agent_call_platform",
             "delivery_reports", "secrets", "decision_preview", "mailboxes",
             "oidc_sign_in"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--binary", default=str(Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "debug" / "followups-local"))
    parser.add_argument("--out", default=str(ROOT / "target" / "console-test"))
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    passed, failed = 0, 0
    with tempfile.TemporaryDirectory(prefix="console-test-") as data_dir:
        vapi = FakeVapi()
        mail_provider = MailProvider(MAILBOX_ADDRESS)
        local = Local(args.binary, data_dir, {"VAPI_API_BASE": vapi.url, "GOOGLE_CLIENT_ID": MAIL_CLIENT_ID,
                                              "GOOGLE_CLIENT_SECRET": MAIL_CLIENT_SECRET,
                                              "GOOGLE_OAUTH_BASE": mail_provider.base_url})
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                context = browser.new_context(viewport={"width": 1280, "height": 900}, timezone_id="Europe/Madrid")
                page = context.new_page()
                page.set_default_timeout(WAIT_MS)
                errors = []
                page.on("pageerror", lambda e: errors.append(str(e)))
                # The local runtime serves a strict Content-Security-Policy: nothing may break it.
                page.on("console", lambda m: errors.append(m.text)
                        if m.type == "error" and "Content Security Policy" in m.text else None)
                console = Console(page, local, out, vapi)
                console.mail_provider = mail_provider
                for name in SCENARIOS:
                    try:
                        getattr(console, name)()
                        assert not errors, f"JavaScript errors: {errors}"
                        passed += 1
                        print(f"ok    {name}")
                    except Exception:
                        failed += 1
                        print(f"FAIL  {name}\n{traceback.format_exc()}")
                        page.screenshot(path=str(out / f"FAILED-{name}.png"), full_page=True)
                        break
                browser.close()
        finally:
            local.stop()
            vapi.stop()
            mail_provider.stop()
            if failed:
                print("---- followups-local output ----\n" + "".join(local.log[-60:]))
    skipped = len(SCENARIOS) - passed - failed
    print(f"console: {passed} passed, {failed} failed" + (f", {skipped} skipped" if skipped else ""))
    print(f"screenshots in {out}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
