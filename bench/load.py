#!/usr/bin/env python3
"""The local runtime (followups-local, release build) under a fixed rate of signed
webhooks, on loopback, open loop.

- Starts `followups-local --port 0 --data-dir <fresh tmp dir>` and reads the address,
  bearer token and webhook secret from its banner; configures account, agent and
  campaign settings through its API (every follow-up is due now, so each webhook is
  decided, stored in one transaction, dispatched and executed into the outbox: the
  whole local pipeline, not just the HTTP edge).
- Pre-signs every request before the clock starts (distinct webhook-id and contact
  per request, timestamps taken at signing: the run must end within the 5-minute
  tolerance, which --duration bounds).
- Sends them at a fixed rate over a pool of keep-alive HTTP/1.1 connections. Each
  request's latency counts from its *scheduled* send time, so a stalled server shows
  up as latency (no coordinated omission); the time from the actual write to the
  response ("service") is reported too.
- First the same generator against a trivial route of the same server (an unknown
  path: 404 problem+json) at the same rate: the floor of this harness on this
  machine.

    python3 bench/load.py [--rate 1000] [--duration 10] [--connections 32]
"""

import argparse
import asyncio
import base64
import hashlib
import hmac
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
BINARY = os.path.join(os.environ.get("BENCH_RELEASE_DIR", "/work/target-release/release"), "followups-local")


def start_local(data_dir: str):
    p = subprocess.Popen([BINARY, "--port", "0", "--data-dir", data_dir], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                         env=dict(os.environ, RUST_LOG="warn"))
    banner = ""
    while "data " not in banner:
        line = p.stdout.readline()
        if not line:
            raise RuntimeError("followups-local stopped before its banner")
        banner += line
    info = {
        "address": re.search(r"http://(127\.0\.0\.1:\d+)/v1 ", banner).group(1),
        "account": re.search(r"account\s+(\S+)", banner).group(1),
        "token": re.search(r"bearer token\s+(\S+)", banner).group(1),
        "secret": re.search(r"webhook secret\s+(\S+)", banner).group(1),
    }
    return p, info


def api(info, method, path, body):
    req = urllib.request.Request(f"http://{info['address']}{path}", data=json.dumps(body).encode(), method=method,
                                 headers={"authorization": f"Bearer {info['token']}", "content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return r.status


def configure(info):
    api(info, "PUT", "/v1/settings", {"default_sender_name": "Ana at Acme", "default_meeting_link": "https://cal.example.com/acme",
                                      "default_time_zone": "America/New_York", "quiet_hours": {"start": "00:00", "end": "24:00"},
                                      "email_from_address": "followups@acme.example.com"})
    api(info, "PUT", "/v1/agents/agent-1/followup-settings", {
        "allowed_hours": {"start": "00:00", "end": "24:00"}, "allowed_days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
        "time_zone": "America/New_York",
        "calls": {"enabled": True, "when_to_schedule": "When asked to call back.", "instructions": "Offer a demo.", "max_retries": 2, "retry_interval_minutes": 60},
        "whatsapp": {"enabled": False}})
    api(info, "PUT", "/v1/campaigns/camp-1/followup-settings", {
        "agent_id": "agent-1", "sms": {"enabled": True, "template": "meeting_request"},
        "email": {"enabled": True, "ask_for_email": True, "from_name": "Ana at Acme", "subject": "Great talking, {{contact_name}}",
                  "body": "Hi {{contact_name}},\n\n**Book** a slot: {{meeting_link}}"},
        "missed_call_email": {"enabled": True, "subject": "Sorry we missed you", "body": "Hi {{contact_name}}, pick a better time: {{meeting_link}}"}})


def signed_requests(info, n: int, tag: str) -> list[bytes]:
    key = base64.b64decode(info["secret"].removeprefix("whsec_"))
    now = time.time()
    started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 240))
    ended = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))
    ts = str(int(now))
    out = []
    for i in range(n):
        phone = f"+1415555{i % 10000:04d}"
        contact = f"{tag}-contact-{i}"
        body = json.dumps({
            "type": "call.completed",
            "call": {"id": f"{tag}-call-{i}", "agent_id": "agent-1", "campaign_id": "camp-1", "outcome": "completed",
                     "started_at": started, "ended_at": ended},
            "contact": {"id": contact, "phone": phone, "email": f"{contact}@example.org", "name": "Ana", "timezone": "America/New_York"},
            "analysis": {"summary": "Ana wants a demo.", "consent": {"sms": True, "email": True, "whatsapp": False},
                         "sms_destination": {"number": phone, "confirmed": True},
                         "email_address": {"address": f"{contact}@example.org", "confirmed": True}, "followup_requests": []},
        }, separators=(",", ":")).encode()
        webhook_id = f"{tag}_{i}"
        sig = base64.b64encode(hmac.new(key, f"{webhook_id}.{ts}.".encode() + body, hashlib.sha256).digest()).decode()
        head = (f"POST /v1/webhooks/{info['account']}/call-completed HTTP/1.1\r\nhost: {info['address']}\r\n"
                f"content-type: application/json\r\ncontent-length: {len(body)}\r\n"
                f"webhook-id: {webhook_id}\r\nwebhook-timestamp: {ts}\r\nwebhook-signature: v1,{sig}\r\n\r\n")
        out.append(head.encode() + body)
    return out


def trivial_requests(info, n: int) -> list[bytes]:
    r = f"GET /v1/bench-unknown-route HTTP/1.1\r\nhost: {info['address']}\r\n\r\n".encode()
    return [r] * n


async def read_response(reader) -> int:
    status_line = await reader.readline()
    if not status_line:
        raise ConnectionError("closed")
    status = int(status_line.split()[1])
    length = 0
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b""):
            break
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    if length:
        await reader.readexactly(length)
    return status


async def run_load(host: str, port: int, requests: list[bytes], rate: float, connections: int):
    pool: asyncio.Queue = asyncio.Queue()
    for _ in range(connections):
        pool.put_nowait(await asyncio.open_connection(host, port))
    latencies, service, statuses, errors = [], [], {}, []
    loop = asyncio.get_running_loop()
    start = loop.time() + 0.05
    tasks = []

    async def one(i: int, intended: float):
        conn = await pool.get()
        reader, writer = conn
        sent = loop.time()
        try:
            writer.write(requests[i])
            status = await read_response(reader)
            done = loop.time()
            latencies.append(done - intended)
            service.append(done - sent)
            statuses[status] = statuses.get(status, 0) + 1
            pool.put_nowait(conn)
        except Exception as e:  # a broken connection is replaced
            errors.append(repr(e))
            writer.close()
            pool.put_nowait(await asyncio.open_connection(host, port))

    for i in range(len(requests)):
        intended = start + i / rate
        delay = intended - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.ensure_future(one(i, intended)))
    sending_done = loop.time()
    await asyncio.gather(*tasks)
    end = loop.time()
    while not pool.empty():
        _, w = pool.get_nowait()
        w.close()
    return {
        "requests": len(requests),
        "target_rate": rate,
        "send_rate": len(requests) / (sending_done - start),
        "achieved_rate": len(latencies) / (end - start),
        "statuses": statuses,
        "errors": len(errors),
        "error_samples": errors[:3],
        "latency_ms": pct(latencies),
        "service_ms": pct(service),
    }


def pct(values):
    if not values:
        return {}
    v = sorted(x * 1000 for x in values)
    q = lambda p: v[min(len(v) - 1, int(p * len(v)))]
    return {"p50": q(0.50), "p90": q(0.90), "p95": q(0.95), "p99": q(0.99), "p999": q(0.999), "max": v[-1], "mean": sum(v) / len(v)}


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=float, default=1000)
    parser.add_argument("--duration", type=float, default=10, help="seconds at the rate (max 120)")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--out", default=os.path.join(HERE, "results", "load.json"))
    parser.add_argument("--strace", metavar="FILE", help="count the server's syscalls during the webhook phase (strace -c -f)")
    parser.add_argument("--perf", metavar="FILE", help="sample the server's stacks during the webhook phase (perf record -g; use an unstripped build, see docs/performance.md)")
    parser.add_argument("--skip-trivial", action="store_true", help="skip the trivial-route floor run")
    args = parser.parse_args()
    assert 0 < args.duration <= 120, "timestamps must stay within the 5-minute tolerance"
    n = int(args.rate * args.duration)
    data_dir = tempfile.mkdtemp(prefix="followups-load-")
    process, info = start_local(data_dir)
    report = {"when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "loadavg_before": os.getloadavg(), "args": vars(args)}
    try:
        configure(info)
        host, port = info["address"].split(":")
        port = int(port)
        warm = signed_requests(info, min(500, n), "warm")
        asyncio.run(run_load(host, port, warm, args.rate, args.connections))
        if not args.skip_trivial:
            report["trivial_route"] = asyncio.run(run_load(host, port, trivial_requests(info, n), args.rate, args.connections))
        requests = signed_requests(info, n, "load")
        tracer = None
        if args.strace:
            tracer = subprocess.Popen(["strace", "-c", "-w", "-f", "-o", args.strace, "-p", str(process.pid)], stderr=subprocess.DEVNULL)
            time.sleep(1)
        elif args.perf:
            tracer = subprocess.Popen(["perf", "record", "-F", "499", "-g", "-o", args.perf, "-p", str(process.pid)],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(1)
        cpu0 = cpu_seconds(process.pid)
        t0 = time.time()
        report["webhooks"] = asyncio.run(run_load(host, port, requests, args.rate, args.connections))
        report["server_cpu_seconds_per_second"] = (cpu_seconds(process.pid) - cpu0) / (time.time() - t0)
        if tracer:
            tracer.send_signal(2)
            tracer.wait(timeout=30)
        time.sleep(2)  # let the in-process dispatcher and executor drain
        with open(f"/proc/{process.pid}/status") as f:
            report["server_vm_hwm_kib"] = int(next(l for l in f if l.startswith("VmHWM")).split()[1])
        report["outbox_lines"] = sum(1 for _ in open(os.path.join(data_dir, "outbox.jsonl"))) if os.path.exists(os.path.join(data_dir, "outbox.jsonl")) else None
    finally:
        process.terminate()
        process.wait(timeout=30)
        shutil.rmtree(data_dir, ignore_errors=True)
    report["loadavg_after"] = os.getloadavg()
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(report, f, indent=1)
    print(json.dumps({k: report.get(k) for k in ("loadavg_before", "loadavg_after", "trivial_route", "webhooks", "server_cpu_seconds_per_second", "server_vm_hwm_kib", "outbox_lines")}, indent=1))


if __name__ == "__main__":
    main()
