#!/usr/bin/env python3
"""A first tour of the follow-ups engine, against a running local system.

Start the system in one terminal:

    cargo run -p followups-local

then, from the repository root, in another:

    python3 examples/demo.py                 # configure, post five calls, show the result
    python3 examples/demo.py --send-review   # ... and send the needs-review SMS by hand
    python3 examples/demo.py --advance       # ... and move the clock to the callback call
    python3 examples/demo.py --email-sender mb_...  # the emails from a connected mailbox

What it does, as a new user would:

1. PUTs the account settings, the agent's follow-up settings (calls and WhatsApp) and
   the campaign's follow-up settings (SMS, email, missed-call email).
2. Posts five signed `call.completed` webhooks, as the voice platform would: consent
   given (SMS + email), consent declined, a missed call, a callback request for
   tomorrow afternoon, and a number the contact did not confirm (needs review).
3. Shows the campaign's follow-ups, one contact's inbox (with the suppression reasons)
   and the outbox (what was "sent").
4. Optionally sends the needs-review SMS to a number an operator confirmed, and moves
   the local clock forward so the callback call fires.

Running it twice is safe. The webhook ids are fixed, so a second run is a redelivery of
the same five calls: the engine answers with its first answer and changes nothing
(that is the webhook's idempotency key at work). `--fresh` uses new webhook, call and
contact ids instead, so the calls are decided again from scratch.

Only the Python 3.11 standard library is used. Defaults: the URL
http://127.0.0.1:8080, the account `acme`, and the bearer token and webhook secret that
`followups-local` keeps in its data directory (`.local/token`, `.local/webhook-secret`).
Each can be given as a flag or an environment variable (see `--help`).
"""

from __future__ import annotations

import argparse
import base64
import copy
import hashlib
import hmac
import json
import os
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from datetime import datetime, timedelta, timezone

try:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError
except ImportError:  # pragma: no cover - Python < 3.9
    ZoneInfo = None
    ZoneInfoNotFoundError = Exception

AGENT = "agent-ana"
CAMPAIGN = "spring-demo"
CONTACT_ZONE = "America/New_York"
CALLBACK_HOUR = 15  # "tomorrow afternoon", read in the contact's zone


# ---------------------------------------------------------------------------- settings

ACCOUNT_SETTINGS = {
    "default_sender_name": "Ana from Acme",
    "default_meeting_link": "https://cal.example.com/ana/30min",
    "default_time_zone": CONTACT_ZONE,
    # The account's quiet hours are the floor of every window and the only window of
    # SMS (default 08:00-21:00 in the contact's zone). The whole day here, so the demo
    # sends its SMS right away whatever the hour you run it; the agent's own hours
    # (08:00-20:00, Mon-Sat) still govern follow-up calls and WhatsApp. For the same
    # reason the federal 08:00-21:00 floor is turned off, explicitly: every follow-up
    # it would have held says so in its trace. Never do this for real contacts
    # (docs/compliance.md).
    "quiet_hours": {"start": "00:00", "end": "24:00"},
    "calling_rules": {"disabled": ["federal_hours"]},
    "email_from_address": "ana@acme.example.com",
}

AGENT_SETTINGS = {
    "allowed_hours": {"start": "08:00", "end": "20:00"},
    "allowed_days": ["mon", "tue", "wed", "thu", "fri", "sat"],
    "time_zone": CONTACT_ZONE,
    "calls": {
        "enabled": True,
        "when_to_schedule": "When the contact asks to be called back, at the day and time they give.",
        "instructions": "Greet them by name, remind them of the earlier call and offer a 30-minute demo.",
        "max_retries": 2,
        "retry_interval_minutes": 90,
    },
    "whatsapp": {
        "enabled": True,
        "when_to_schedule": "When the contact prefers to continue over WhatsApp.",
        "instructions": "Short, friendly messages; one question at a time.",
        "template": {
            "name": "call_followup",
            "language": "en_US",
            "parameters": ["{{contact_name}}", "{{meeting_link}}"],
        },
    },
}

CAMPAIGN_SETTINGS = {
    "agent_id": AGENT,
    "time_zone": CONTACT_ZONE,
    "sms": {"enabled": True, "template": "meeting_request"},
    "email": {
        "enabled": True,
        "ask_for_email": True,
        "from_name": "Ana from Acme",
        "subject": "Great talking today, {{contact_name}}",
        "body": (
            "Hi {{contact_name}},\n\n"
            "Thanks for your time on the phone. **Here is what we agreed:**\n\n"
            "- a 30-minute demo with your team\n"
            "- pricing for 20 seats\n"
            "- a trial account for two weeks\n\n"
            "[Pick a slot that suits you]({{meeting_link}}).\n\n"
            "Ana"
        ),
    },
    "missed_call_email": {
        "enabled": True,
        "subject": "Sorry we missed you, {{contact_name}}",
        "body": (
            "Hi {{contact_name}},\n\n"
            "We tried to call you today. When is a better time? "
            "[Book a call here]({{meeting_link}}) or just reply to this email."
        ),
    },
}


# ---------------------------------------------------------------------------- calls


def calls(now: datetime, suffix: str) -> list[dict]:
    """The five calls, as the voice platform would report them."""
    tomorrow = local_now(now).date() + timedelta(days=1)
    callback_at = f"{tomorrow.isoformat()}T{CALLBACK_HOUR:02d}:00"

    def call(key, name, phone, email, outcome, analysis, minutes=4):
        return {
            "key": key,
            "webhook_id": f"msg_demo_{key}{suffix}",
            "title": None,
            "body": {
                "type": "call.completed",
                "call": {
                    "id": f"call-{key}{suffix}",
                    "agent_id": AGENT,
                    "campaign_id": CAMPAIGN,
                    "outcome": outcome,
                    "started_at": rfc3339(now - timedelta(minutes=minutes)),
                    "ended_at": rfc3339(now),
                },
                "contact": {
                    "id": f"contact-{key}{suffix}",
                    "phone": phone,
                    "email": email,
                    "name": name,
                    "timezone": CONTACT_ZONE,
                    "locale": "en-US",
                },
                "analysis": analysis,
            },
        }

    no_consent = {"sms": False, "email": False, "whatsapp": False}
    items = [
        call(
            "ana", "Ana Diaz", "+14155550101", "ana.diaz@example.com", "completed",
            {
                "summary": "Ana wants a demo for her team next week.",
                "consent": {"sms": True, "email": True, "whatsapp": False},
                "sms_destination": {"number": "+14155550101", "confirmed": True},
                "email_address": {"address": "ana.diaz@example.com", "confirmed": True},
                "followup_requests": [],
            },
        ),
        call(
            "bob", "Bob Lee", "+14155550102", "bob.lee@example.com", "completed",
            {
                "summary": "Bob is not interested and asked not to be texted or emailed.",
                "consent": no_consent,
                "followup_requests": [],
            },
            minutes=2,
        ),
        call("carla", "Carla Ruiz", "+14155550103", "carla.ruiz@example.com", "no_answer",
             {"consent": no_consent}, minutes=1),
        call(
            "dan", "Dan Park", "+14155550104", "dan.park@example.com", "completed",
            {
                "summary": "Dan is driving; he asked to be called back tomorrow afternoon.",
                "consent": no_consent,
                "followup_requests": [
                    {"channel": "call", "at": callback_at,
                     "reason": "Asked to be called back tomorrow afternoon."}
                ],
            },
            minutes=1,
        ),
        call(
            "eve", "Eve Stone", "+14155550105", "eve.stone@example.com", "completed",
            {
                "summary": "Eve wants the meeting link by text; the line dropped before she confirmed her number.",
                "consent": {"sms": True, "email": False, "whatsapp": False},
                "sms_destination": {"number": "+14155550155", "confirmed": False},
                "followup_requests": [],
            },
        ),
    ]
    titles = {
        "ana": "Ana answered and agreed to a text and an email",
        "bob": "Bob answered and declined both",
        "carla": "Carla did not answer (missed call)",
        "dan": f"Dan asked to be called back tomorrow afternoon ({callback_at}, no offset: read in {CONTACT_ZONE})",
        "eve": "Eve agreed to a text but did not confirm her number",
    }
    for item in items:
        item["title"] = titles[item["key"]]
    return items


# ---------------------------------------------------------------------------- HTTP


class ApiError(Exception):
    def __init__(self, method, path, status, body):
        super().__init__(f"{method} {path}: HTTP {status}")
        self.status = status
        self.body = body

    def explain(self) -> str:
        lines = [str(self)]
        if isinstance(self.body, dict):
            if self.body.get("detail"):
                lines.append(f"  {self.body['detail']}")
            for error in self.body.get("errors") or []:
                lines.append(f"  {error.get('field')}: {error.get('message')}")
        elif self.body:
            lines.append(f"  {self.body}")
        return "\n".join(lines)


class Client:
    def __init__(self, base_url: str, token: str):
        self.base_url = base_url.rstrip("/")
        self.token = token

    def request(self, method, path, body=None, headers=None, auth=True, raw=None):
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        request = urllib.request.Request(self.base_url + path, data=data, method=method)
        request.add_header("Accept", "application/json")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if auth:
            request.add_header("Authorization", f"Bearer {self.token}")
        for name, value in (headers or {}).items():
            request.add_header(name, value)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                text = response.read().decode()
                return json.loads(text) if text else None
        except urllib.error.HTTPError as e:
            text = e.read().decode(errors="replace")
            try:
                parsed = json.loads(text)
            except ValueError:
                parsed = text
            raise ApiError(method, path, e.code, parsed) from None

    def get(self, path):
        return self.request("GET", path)

    def put(self, path, body):
        return self.request("PUT", path, body)

    def post(self, path, body=None):
        return self.request("POST", path, body if body is not None else {})


def sign(secret: str, webhook_id: str, timestamp: int, body: bytes) -> str:
    """Standard Webhooks: `v1,` + base64(HMAC-SHA256(key, "{id}.{timestamp}.{body}"))."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def deliver(client: Client, account: str, secret: str, webhook_id: str, event: dict, now: datetime):
    """Posts one signed delivery, as the voice platform would."""
    body = json.dumps(event, separators=(",", ":")).encode()
    # The engine checks the timestamp against ITS clock (±5 minutes), which the local
    # runtime can move forward: sign with that clock's time, not this machine's.
    timestamp = int(now.timestamp())
    headers = {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret, webhook_id, timestamp, body),
    }
    path = f"/v1/webhooks/{urllib.parse.quote(account, safe='')}/call-completed"
    return client.request("POST", path, headers=headers, auth=False, raw=body)


def engine_now(client: Client) -> datetime:
    """The local runtime's clock (system time plus the offset it was moved by)."""
    try:
        return parse_time(client.get("/v1/local/clock")["now"])
    except ApiError as e:
        if e.status == 404:  # not the local runtime: its clock is the real one
            return datetime.now(timezone.utc)
        raise


# ---------------------------------------------------------------------------- time


def parse_time(text: str) -> datetime:
    """RFC 3339 from the API (nanoseconds are cut to the microseconds Python keeps)."""
    text = re.sub(r"(\.\d{6})\d+", r"\1", text.replace("Z", "+00:00"))
    return datetime.fromisoformat(text)


def rfc3339(at: datetime) -> str:
    return at.astimezone(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def zone(name: str):
    if ZoneInfo is not None:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return None


def local_now(now: datetime) -> datetime:
    """`now` in the contact's zone (UTC-5 when this Python has no zone database)."""
    tz = zone(CONTACT_ZONE) or timezone(timedelta(hours=-5))
    return now.astimezone(tz)


def when(text: str | None, tz_name: str | None) -> str:
    """A time as the contact lives it: `Tue Jan 15 10:00 EST`."""
    if not text:
        return "-"
    at = parse_time(text)
    tz = zone(tz_name) if tz_name else None
    if tz is None:
        return at.astimezone(timezone.utc).strftime("%a %b %d %H:%M UTC")
    return at.astimezone(tz).strftime("%a %b %d %H:%M %Z")


# ---------------------------------------------------------------------------- printing


def excerpt(text: str, width: int = 60) -> str:
    flat = " ".join((text or "").split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def followup_line(f: dict) -> str:
    content = f.get("content") or {}
    about = content.get("request_reason") or content.get("summary") or ""
    return ROW.format(
        f["channel"],
        f["status"],
        f.get("reason") or "-",
        when(f.get("due_at"), f.get("time_zone")),
        f.get("destination") or "-",
        excerpt(content.get("contact_name", f["contact_id"]) + (f": {about}" if about else ""), 48),
    )


ROW = "  {:<17} {:<12} {:<23} {:<20} {:<22} {}"
def print_trace(f: dict) -> None:
    for step in f.get("trace", []):
        print(f"      trace {step['at'][:16].replace('T', ' ')}Z  {step['status']:<12} {step['reason']:<17} {step.get('detail', '')}")


FOLLOWUP_HEADER = ROW.format("channel", "status", "reason", "due (contact's time)", "destination", "about")


def outbox_line(entry: dict) -> str:
    return OUTBOX_ROW.format(
        entry.get("provider_id", "").removeprefix("outbox-"),
        entry["channel"],
        entry["sent_at"][:19].replace("T", " ") + "Z",
        entry["destination"],
        excerpt(entry["text"], 80),
    )


OUTBOX_ROW = "  {:<3} {:<7} {:<20} {:<22} {}"


def heading(text: str) -> None:
    print(f"\n== {text}")


# ---------------------------------------------------------------------------- the tour


def wait_until_sent(client: Client, ids: list[str], seconds: float = 10.0) -> None:
    """Follow-ups due now go out within a second or so: wait for them (bounded)."""
    deadline = time.monotonic() + seconds
    pending = list(ids)
    while pending and time.monotonic() < deadline:
        pending = [i for i in pending if client.get(f"/v1/followups/{i}")["status"] in ("scheduled", "sending")]
        if pending:
            time.sleep(0.2)
    if pending:
        print(f"  (still not sent after {seconds:.0f}s: {', '.join(pending)})")


def all_pages(client: Client, path: str) -> list[dict]:
    items, cursor = [], None
    while True:
        query = f"?cursor={urllib.parse.quote(cursor)}" if cursor else ""
        page = client.get(path + query)
        items.extend(page["items"])
        cursor = page.get("next_cursor")
        if not cursor:
            return items


def run(args) -> int:
    client = Client(args.url, args.token)
    suffix = f"-{uuid.uuid4().hex[:6]}" if args.fresh else ""

    heading(f"settings (account {args.account}, agent {AGENT}, campaign {CAMPAIGN})")
    client.put("/v1/settings", ACCOUNT_SETTINGS)
    print("  PUT /v1/settings                                  sender name, meeting link, zone, quiet hours 00:00-24:00, federal hours off (demo only)")
    client.put(f"/v1/agents/{AGENT}/followup-settings", AGENT_SETTINGS)
    print(f"  PUT /v1/agents/{AGENT}/followup-settings        08:00-20:00 Mon-Sat {CONTACT_ZONE}; calls (2 retries, 90 min apart); WhatsApp")
    campaign = copy.deepcopy(CAMPAIGN_SETTINGS)
    if args.email_sender:
        campaign["email"]["sender"] = args.email_sender
        campaign["missed_call_email"]["sender"] = args.email_sender
    client.put(f"/v1/campaigns/{CAMPAIGN}/followup-settings", campaign)
    print(f"  PUT /v1/campaigns/{CAMPAIGN}/followup-settings  SMS meeting_request; email (ask for email); missed-call email")
    if args.email_sender:
        print(f"    emails leave from the connected mailbox {args.email_sender}")

    now = engine_now(client)
    heading(f"five calls end (engine clock {rfc3339(now)}, {local_now(now):%a %H:%M} in {CONTACT_ZONE})")
    answers = {}
    for item in calls(now, suffix):
        answer = deliver(client, args.account, args.secret, item["webhook_id"], item["body"], now)
        answers[item["key"]] = answer
        print(f"  {item['title']}")
        print(f"    POST webhook {item['webhook_id']} -> " + ", ".join(
            f"{f['channel']} {f['status']} ({f['reason']})" for f in answer["followups"]
        ))
        if is_redelivery(client, answer, now):
            print("    (a redelivery of an earlier run: the first answer again, nothing changed)")

    due_now = [
        f["id"]
        for answer in answers.values()
        for f in answer["followups"]
        if f["status"] in ("scheduled", "sending") and parse_time(f["due_at"]) <= now + timedelta(minutes=2)
    ]
    wait_until_sent(client, due_now)

    heading(f"campaign view: GET /v1/campaigns/{CAMPAIGN}/followups")
    print(FOLLOWUP_HEADER)
    for f in all_pages(client, f"/v1/campaigns/{CAMPAIGN}/followups"):
        print(followup_line(f))

    contact = f"contact-bob{suffix}"
    heading(f"inbox view of Bob: GET /v1/contacts/{contact}/followups")
    for f in all_pages(client, f"/v1/contacts/{contact}/followups"):
        print(followup_line(f))
        print_trace(f)

    callback = find(answers["dan"], "call")
    if callback is not None:
        heading(f"one follow-up, Dan's callback call: GET /v1/followups/{callback['id']}")
        one = client.get(f"/v1/followups/{callback['id']}")
        print(followup_line(one))
        print_trace(one)

    review = find(answers["eve"], "sms")
    if args.send_review is not None and review is not None:
        number = args.send_review
        heading(f"send Eve's needs-review SMS to {number}: POST /v1/followups/{review['id']}/send")
        current = client.get(f"/v1/followups/{review['id']}")
        if current["status"] == "needs_review":
            sent = client.post(f"/v1/followups/{review['id']}/send", {"destination": number})
            print(f"  {sent['status']} ({sent.get('reason')}) to {sent.get('destination')}")
            wait_until_sent(client, [review["id"]])
        else:
            print(f"  already {current['status']} (to {current.get('destination')}): nothing to do")
        print(followup_line(client.get(f"/v1/followups/{review['id']}")))

    if args.advance is not None and callback is not None:
        advance_to_callback(client, callback["id"], args.advance)

    heading("outbox: GET /v1/outbox (what the local runtime \"sent\")")
    entries = client.get("/v1/outbox")["items"]
    print(OUTBOX_ROW.format("#", "channel", "sent at (UTC)", "to", "text"))
    for entry in entries:
        print(outbox_line(entry))
    if not entries:
        print("  (empty)")

    if callback is not None and args.advance is None:
        pending = client.get(f"/v1/followups/{callback['id']}")
        if pending["status"] == "scheduled":
            print(f"\nDan's callback call is scheduled for {when(pending['due_at'], pending['time_zone'])}."
                  "\nRun again with --advance to move the local clock there and watch it fire.")
    if review is not None and args.send_review is None:
        current = client.get(f"/v1/followups/{review['id']}")
        if current["status"] == "needs_review":
            print("Eve's SMS waits for review: run again with --send-review to send it to +14155550155.")
    return 0


def is_redelivery(client: Client, answer: dict, now: datetime) -> bool:
    """Whether the answer's follow-ups were made before this delivery (same webhook-id)."""
    first = next(iter(answer.get("followups") or []), None)
    if first is None:
        return False
    # `now` was read from the engine's clock before this run delivered anything.
    created = parse_time(client.get(f"/v1/followups/{first['id']}")["created_at"])
    return created < now


def find(answer: dict, channel: str) -> dict | None:
    return next((f for f in answer["followups"] if f["channel"] == channel), None)


def advance_to_callback(client: Client, followup_id: str, how: str) -> None:
    callback = client.get(f"/v1/followups/{followup_id}")
    now = engine_now(client)
    if how == "due":
        # Just past the due time: the call is re-checked against the agent's window when
        # it fires, so landing at, say, 23:00 would move it to the next morning instead.
        minutes = max(1, int((parse_time(callback["due_at"]) - now).total_seconds() // 60) + 1)
        how = f"{minutes}m"
    heading(f"move the clock forward {how}: POST /v1/local/clock {{\"advance\":\"{how}\"}}")
    moved = client.post("/v1/local/clock", {"advance": how})
    print(f"  engine clock now {moved['now'][:19]}Z ({when(moved['now'], CONTACT_ZONE)})")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        current = client.get(f"/v1/followups/{followup_id}")
        if current["status"] not in ("scheduled", "sending"):
            break
        time.sleep(0.2)
    print(FOLLOWUP_HEADER)
    print(followup_line(current))
    if current["status"] == "scheduled":
        print(f"  not due yet (or moved into the agent's window: {current.get('reason')}); "
              "advance further to see it fire")


# ---------------------------------------------------------------------------- options


def read_file(data_dir: str, name: str) -> str | None:
    for directory in (data_dir, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", data_dir)):
        path = os.path.join(directory, name)
        if os.path.isfile(path):
            with open(path, encoding="utf-8") as f:
                return f.read().strip()
    return None


def options(argv: list[str]):
    env = os.environ.get
    parser = argparse.ArgumentParser(
        description="Tour of the follow-ups engine against a running `cargo run -p followups-local`.",
    )
    parser.add_argument("--url", default=env("FOLLOWUPS_URL", "http://127.0.0.1:8080"),
                        help="base URL of the system (FOLLOWUPS_URL, default %(default)s)")
    parser.add_argument("--data-dir", default=env("FOLLOWUPS_DATA_DIR", ".local"),
                        help="data directory of followups-local, for the token and secret (FOLLOWUPS_DATA_DIR, default .local)")
    parser.add_argument("--account", default=env("FOLLOWUPS_ACCOUNT", "acme"),
                        help="account id (FOLLOWUPS_ACCOUNT, default acme)")
    parser.add_argument("--token", default=env("FOLLOWUPS_TOKEN"),
                        help="API bearer token (FOLLOWUPS_TOKEN, default: DATA_DIR/token)")
    parser.add_argument("--secret", default=env("FOLLOWUPS_WEBHOOK_SECRET"),
                        help="webhook signing secret whsec_... (FOLLOWUPS_WEBHOOK_SECRET, default: DATA_DIR/webhook-secret)")
    parser.add_argument("--fresh", action="store_true",
                        help="new webhook, call and contact ids, so the calls are decided again")
    parser.add_argument("--send-review", nargs="?", const="+14155550155", metavar="NUMBER",
                        help="send Eve's needs-review SMS to NUMBER (default +14155550155)")
    parser.add_argument("--advance", nargs="?", const="due", metavar="DURATION",
                        help="move the local clock forward (26h, 90m, 2d; alone: just past the callback's due time)")
    parser.add_argument("--email-sender", metavar="MAILBOX_ID",
                        help="send the campaign's emails from this connected mailbox (mb_..., see GET /v1/mailboxes) instead of SES")
    args = parser.parse_args(argv)
    args.token = args.token or read_file(args.data_dir, "token")
    args.secret = args.secret or read_file(args.data_dir, "webhook-secret")
    missing = [n for n, v in (("token", args.token), ("webhook secret", args.secret)) if not v]
    if missing:
        parser.error(
            f"no {' and no '.join(missing)}: start `cargo run -p followups-local` first (it writes them "
            f"to {args.data_dir}/), or pass --token/--secret"
        )
    return args


def main(argv: list[str]) -> int:
    args = options(argv)
    try:
        return run(args)
    except ApiError as e:
        print(f"\nerror: {e.explain()}", file=sys.stderr)
        return 1
    except urllib.error.URLError as e:
        print(f"\nerror: cannot reach {args.url}: {e.reason} (is `cargo run -p followups-local` running?)",
              file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
