#!/usr/bin/env python3
"""Peak RSS and invocation durations of the release functions handling real events,
against moto on loopback, through bench/fake_runtime.py.

1. Starts moto (infra/moto/serve.py) and creates the table with the production shape
   (the same attributes, indexes and stream as `store::create_table`).
2. Configures an account through the real `api` function (one process per API call,
   each an API Gateway HTTP API v2 event with the JWT claim the authorizer would
   set): a webhook secret, account, agent and campaign settings.
3. `call-completed`: one process handles 1 + N signed webhooks (API Gateway v2
   events carrying the signed body). The first is the container's first delivery
   (settings and secrets not cached), the rest are warm. Peak RSS (VmHWM) is read
   when the process polls again after the last one, before it is killed.
4. The Python + boto3 baseline handles the same kind of deliveries against the same
   table, for comparison.
5. `executor` (CHANNEL=sms) sends one of the SMS follow-ups through SNS on moto
   (cold) and nine more (warm); `dispatcher` turns the stream records of a
   call-back due tomorrow into an EventBridge Scheduler CreateSchedule on moto.

    python3 bench/rss.py [--warm 20] [--out bench/results/rss.json]
"""

import argparse
import base64
import datetime as dt
import hashlib
import hmac
import json
import os
import subprocess
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fake_runtime  # noqa: E402
import lambda_env  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
ACCOUNT = "acme"
PHONE = "+14155552671"


RECORDING = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"bench-moto-recording-{os.getpid()}.jsonl")


def start_moto():
    env = dict(os.environ, MOTO_RECORDER_FILEPATH=RECORDING)
    p = subprocess.Popen([sys.executable, os.path.join(ROOT, "infra", "moto", "serve.py")], env=env,
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = p.stdout.readline()
    assert line.startswith("PORT "), line
    endpoint = f"http://127.0.0.1:{int(line.split()[1])}"
    moto_api(endpoint, "start-recording")
    return p, endpoint


def moto_api(endpoint: str, action: str):
    import urllib.request
    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/recorder/{action}", data=b"", method="POST"), timeout=30).read()


def operation(entry: dict) -> str:
    """The AWS operation of one request moto recorded."""
    h = {k.lower(): v for k, v in entry["headers"].items()}
    target = h.get("x-amz-target")
    if target:
        service, _, op = target.partition(".")
        return f"{service.split('_')[0]}.{op}"
    body = entry.get("body") or ""
    if entry.get("body_encoded"):
        body = base64.b64decode(body).decode(errors="replace")
    auth = h.get("authorization", "")
    service = auth.split("Credential=")[1].split("/")[3] if "Credential=" in auth else "?"
    if "Action=" in body:
        return f"{service}.{body.split('Action=')[1].split('&')[0]}"
    path = entry["url"].split("://", 1)[-1].split("/", 1)[-1].split("?")[0]
    return f"{service}.{entry['method']} /{path}"


def recorded_since_reset(endpoint: str) -> dict:
    counts: dict = {}
    if os.path.exists(RECORDING):
        with open(RECORDING) as f:
            for line in f:
                op = operation(json.loads(line))
                counts[op] = counts.get(op, 0) + 1
    moto_api(endpoint, "reset-recording")
    return dict(sorted(counts.items()))


def create_table(endpoint: str, name: str):
    import boto3
    ddb = boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1",
                       aws_access_key_id="x", aws_secret_access_key="x")
    keys = lambda pk, sk: [{"AttributeName": pk, "KeyType": "HASH"}, {"AttributeName": sk, "KeyType": "RANGE"}]
    ddb.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        KeySchema=keys("pk", "sk"),
        AttributeDefinitions=[{"AttributeName": a, "AttributeType": "S"} for a in ("pk", "sk", "gsi1pk", "gsi1sk", "gsi2pk", "gsi2sk")],
        GlobalSecondaryIndexes=[
            {"IndexName": "gsi1", "KeySchema": keys("gsi1pk", "gsi1sk"), "Projection": {"ProjectionType": "ALL"}},
            {"IndexName": "gsi2", "KeySchema": keys("gsi2pk", "gsi2sk"), "Projection": {"ProjectionType": "ALL"}},
        ],
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    return ddb


def http_event(method: str, path: str, body: str = "", headers=None, claims=None, route="ANY /v1/{proxy+}", path_params=None) -> bytes:
    now = time.time()
    context = {
        "accountId": "123456789012",
        "apiId": "bench",
        "domainName": "bench.execute-api.us-east-1.amazonaws.com",
        "domainPrefix": "bench",
        "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "bench"},
        "requestId": str(uuid.uuid4()),
        "routeKey": route,
        "stage": "$default",
        "time": dt.datetime.now(dt.timezone.utc).strftime("%d/%b/%Y:%H:%M:%S +0000"),
        "timeEpoch": int(now * 1000),
    }
    if claims is not None:
        context["authorizer"] = {"jwt": {"claims": claims, "scopes": None}}
    h = {"content-type": "application/json", "host": "bench.execute-api.us-east-1.amazonaws.com"}
    h.update(headers or {})
    return json.dumps({
        "version": "2.0",
        "routeKey": route,
        "rawPath": path,
        "rawQueryString": "",
        "headers": h,
        "requestContext": context,
        "pathParameters": path_params or {},
        "body": body,
        "isBase64Encoded": False,
    }).encode()


def call_body(call_id: str, contact: str, callback_at: str | None = None) -> str:
    now = dt.datetime.now(dt.timezone.utc)
    requests = [{"channel": "call", "at": callback_at, "reason": "call me tomorrow afternoon"}] if callback_at else []
    return json.dumps({
        "type": "call.completed",
        "call": {"id": call_id, "agent_id": "agent-1", "campaign_id": "camp-1", "outcome": "completed",
                 "started_at": (now - dt.timedelta(minutes=4)).isoformat(), "ended_at": now.isoformat()},
        "contact": {"id": contact, "phone": PHONE, "email": f"{contact}@example.org", "name": "Ana", "timezone": "America/New_York"},
        "analysis": {"summary": "Ana wants a demo.", "consent": {"sms": True, "email": True, "whatsapp": False},
                     "sms_destination": {"number": PHONE, "confirmed": True},
                     "email_address": {"address": f"{contact}@example.org", "confirmed": True},
                     "followup_requests": requests},
    }, separators=(",", ":"))


def sign(secret: str, webhook_id: str, ts: int, body: str) -> str:
    key = base64.b64decode(secret.removeprefix("whsec_"))
    tag = hmac.new(key, f"{webhook_id}.{ts}.{body}".encode(), hashlib.sha256).digest()
    return "v1," + base64.b64encode(tag).decode()


def webhook_event(secret: str, webhook_id: str, body: str) -> bytes:
    ts = int(time.time())
    path = f"/v1/webhooks/{ACCOUNT}/call-completed"
    return http_event("POST", path, body,
                      headers={"webhook-id": webhook_id, "webhook-timestamp": str(ts), "webhook-signature": sign(secret, webhook_id, ts, body)},
                      route="POST /v1/webhooks/{account_id}/call-completed", path_params={"account_id": ACCOUNT})


def http_answer(answer) -> tuple[int, dict]:
    kind, raw = answer
    assert kind == "response", raw
    response = json.loads(raw)
    body = response.get("body") or ""
    if response.get("isBase64Encoded"):
        body = base64.b64decode(body).decode()
    return response.get("statusCode"), (json.loads(body) if body else {})


def stream_event(endpoint: str, table: str, ddb, want) -> bytes:
    """The table's stream records that `want(record)` keeps, as the Lambda event
    source mapping delivers them (DynamoDB JSON images)."""
    import boto3
    streams = boto3.client("dynamodbstreams", endpoint_url=endpoint, region_name="us-east-1",
                           aws_access_key_id="x", aws_secret_access_key="x")
    arn = ddb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
    records = []
    for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
        it = streams.get_shard_iterator(StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        for r in streams.get_records(ShardIterator=it, Limit=1000)["Records"]:
            d = r["dynamodb"]
            d.pop("ApproximateCreationDateTime", None)
            record = {"eventID": r["eventID"], "eventName": r["eventName"], "eventVersion": "1.1", "eventSource": "aws:dynamodb",
                      "awsRegion": "us-east-1", "dynamodb": d, "eventSourceARN": arn}
            if want(record):
                records.append(record)
    return json.dumps({"Records": records}).encode()


def attr_size(v) -> int:
    """An attribute value's size by DynamoDB's published sizing rules (approximate for
    numbers: about one byte per two significant digits, plus one)."""
    (kind, x), = v.items()
    if kind == "S":
        return len(x.encode())
    if kind == "N":
        return len(x.strip("-").replace(".", "").lstrip("0")) // 2 + 1 + 1
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "B":
        return len(x)
    if kind == "M":
        return 3 + sum(len(k.encode()) + attr_size(e) + 1 for k, e in x.items())
    if kind == "L":
        return 3 + sum(attr_size(e) + 1 for e in x)
    if kind in ("SS", "NS", "BS"):
        return sum(len(str(e)) for e in x)
    return 0


def item_sizes(ddb, table) -> dict:
    """Bytes of each kind of item (by sort key prefix) in the table after the run."""
    sizes: dict = {}
    for page in ddb.get_paginator("scan").paginate(TableName=table):
        for item in page["Items"]:
            if "#WEBHOOK#py_" in item["pk"]["S"] or "agent" in item:
                continue  # written by the Python baseline
            kind = item["sk"]["S"].split("#")[0]
            size = sum(len(k.encode()) + attr_size(v) for k, v in item.items())
            sizes.setdefault(kind, []).append(size)
    return {k: {"count": len(v), "max_bytes": max(v), "median_bytes": sorted(v)[len(v) // 2]} for k, v in sizes.items()}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--warm", type=int, default=20, help="warm webhooks after the first")
    parser.add_argument("--out", default=os.path.join(HERE, "results", "rss.json"))
    args = parser.parse_args()
    moto, endpoint = start_moto()
    runtime = fake_runtime.FakeRuntime()
    table = "followups-bench"
    report = {"when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "loadavg_before": os.getloadavg(), "functions": {}}
    try:
        ddb = create_table(endpoint, table)
        env = lambda name: lambda_env.function_env(name, table=table, endpoint=endpoint)

        def run(name, cmd, events, env_, count_each=False):
            """Runs one process over `events`; with count_each, the AWS requests of
            each event are counted apart (served one at a time, moto's recording
            read in between), else all together."""
            recorded_since_reset(endpoint)
            per_event = []
            r = fake_runtime.start_once(runtime, cmd, env_, events,
                                        on_answer=(lambda i: per_event.append(recorded_since_reset(endpoint))) if count_each else None)
            entry = {k: r[k] for k in ("cold_ms", "cpu_ms", "runqueue_ms", "invoke_ms", "invoke_cpu_ms", "vm_hwm_kib", "rss_split_kib", "log_bytes") if k in r}
            if count_each:
                entry["aws_requests_first_event"] = per_event[0] if per_event else None
                entry["aws_requests_second_event"] = per_event[1] if len(per_event) > 1 else None
                entry["aws_requests_per_event"] = per_event
            else:
                entry["aws_requests"] = recorded_since_reset(endpoint)
            entry["events"] = len(events)
            entry["log_sample"] = r["stdout"][-1500:]
            report["functions"].setdefault(name, []).append(entry)
            return r

        # 2. Configure through the api function.
        claims = {"account_id": ACCOUNT}
        r = run("api", [lambda_env.binary("api")], [http_event("POST", "/v1/webhook-secrets", "", claims=claims)], env("api"))
        status, created = http_answer(r["answers"][0])
        assert status == 201 or status == 200, (status, created)
        secret = created["secret"]
        account = {"default_sender_name": "Ana at Acme", "default_meeting_link": "https://cal.example.com/acme",
                   "default_time_zone": "America/New_York", "quiet_hours": {"start": "00:00", "end": "24:00"},
                   "email_from_address": "followups@acme.example.com"}
        agent = {"allowed_hours": {"start": "00:00", "end": "24:00"}, "allowed_days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
                 "time_zone": "America/New_York",
                 "calls": {"enabled": True, "when_to_schedule": "When asked to call back.", "instructions": "Offer a demo.", "max_retries": 2, "retry_interval_minutes": 60},
                 "whatsapp": {"enabled": False}}
        campaign = {"agent_id": "agent-1", "sms": {"enabled": True, "template": "meeting_request"},
                    "email": {"enabled": True, "ask_for_email": True, "from_name": "Ana at Acme", "subject": "Great talking, {{contact_name}}",
                              "body": "Hi {{contact_name}},\n\n**Book** a slot: {{meeting_link}}"},
                    "missed_call_email": {"enabled": True, "subject": "Sorry we missed you", "body": "Hi {{contact_name}}, pick a better time: {{meeting_link}}"}}
        r = run("api", [lambda_env.binary("api")], [
            http_event("PUT", "/v1/settings", json.dumps(account), claims=claims),
            http_event("PUT", "/v1/agents/agent-1/followup-settings", json.dumps(agent), claims=claims),
            http_event("PUT", "/v1/campaigns/camp-1/followup-settings", json.dumps(campaign), claims=claims),
        ], env("api"))
        for a in r["answers"]:
            status, body = http_answer(a)
            assert status == 200, (status, body)

        # 3. call-completed: one cold delivery, then warm ones; the first asks for a call-back tomorrow.
        tomorrow = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=1)).replace(microsecond=0).isoformat()
        events = [webhook_event(secret, f"msg_{i}", call_body(f"call-{i}", f"contact-{i}", tomorrow if i < 3 else None))
                  for i in range(1 + args.warm)]
        r = run("call-completed", [lambda_env.binary("call-completed")], events, env("call-completed"), count_each=True)
        answers = [http_answer(a) for a in r["answers"]]
        assert all(s == 200 for s, _ in answers), answers[:2]
        followups = [f for _, b in answers for f in b["followups"]]
        report["call_completed_first_answer"] = answers[0][1]

        # 4. The Python baseline, same deliveries (other ids and contacts).
        py_events = [webhook_event(secret, f"py_{i}", call_body(f"pycall-{i}", f"pycontact-{i}")) for i in range(1 + args.warm)]
        r = run("python-boto3 call-completed", [sys.executable, os.path.join(HERE, "python_baseline", "bootstrap.py")], py_events, env("call-completed"), count_each=True)
        py_answers = [http_answer(a) for a in r["answers"]]
        assert all(s == 200 for s, _ in py_answers), py_answers[:2]

        # 5. executor (sms), a cold send and a warm one.
        sms = [f["id"] for f in followups if f["channel"] == "sms" and f["status"] == "scheduled"][:10]
        exec_events = [json.dumps({"account_id": ACCOUNT, "followup_id": i, "attempt": 1}).encode() for i in sms]
        r = run("executor-sms", [lambda_env.binary("executor-sms")], exec_events, env("executor-sms"), count_each=True)
        report["executor_answers"] = [json.loads(b) for _, b in r["answers"]]
        # dispatcher: the call-back due tomorrow becomes a one-time schedule.
        callback = [f["id"] for f in followups if f["channel"] == "call"]
        report["callback_followups"] = callback
        if callback:
            # one stream batch per call-back (each its own invocation): the first is the
            # container's first, the others warm
            events = [stream_event(endpoint, table, ddb, lambda rec, c=c: rec["dynamodb"]["Keys"]["sk"]["S"] == "FU"
                                   and c in rec["dynamodb"]["Keys"]["pk"]["S"]) for c in callback]
            r = run("dispatcher", [lambda_env.binary("dispatcher")], events, env("dispatcher"), count_each=True)
            report["dispatcher_answers"] = [json.loads(b) for _, b in r["answers"]]
        report["item_sizes"] = item_sizes(ddb, table)
    finally:
        runtime.close()
        moto.stdin.close()
        moto.wait(timeout=30)
    report["loadavg_after"] = os.getloadavg()
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(report, f, indent=1)
    print(f"load average before {report['loadavg_before']}, after {report['loadavg_after']}\n")
    print("| function (process) | events | peak RSS (VmHWM) MiB | resident when idle: anon / file MiB | first invoke ms (on-CPU ms) | warm invoke median ms (on-CPU median ms) | cold start ms |")
    print("|---|---|---|---|---|---|---|")
    med = lambda v: sorted(v)[len(v) // 2] if v else float("nan")
    for name, runs in report["functions"].items():
        for r in runs:
            inv = r.get("invoke_ms", [])
            cpu = [c for c in r.get("invoke_cpu_ms", []) if c is not None] or [float("nan")]
            warm = f"{med(inv[1:]):.1f} ({med(cpu[1:]):.2f})" if len(inv) > 1 else "-"
            split = r.get("rss_split_kib") or {}
            anon_file = f"{split.get('anon', 0) / 1024:.1f} / {split.get('file', 0) / 1024:.1f}" if split else "-"
            print(f"| {name} | {len(inv)} | {r['vm_hwm_kib'] / 1024:.1f} | {anon_file} | {inv[0]:.1f} ({cpu[0]:.2f}) | {warm} | {r['cold_ms']:.1f} |")
    print("\nAWS requests (moto recorder):")
    for name, runs in report["functions"].items():
        for r in runs:
            if "aws_requests_first_event" in r:
                print(f"  {name}: first event {r['aws_requests_first_event']}; second event {r['aws_requests_second_event']}")
            else:
                print(f"  {name}: {r.get('aws_requests')}")
    print("\nitem sizes:", json.dumps(report.get("item_sizes")))
    print("\nexecutor outcomes:", json.dumps(report.get("executor_answers")))
    print("dispatcher answer:", json.dumps(report.get("dispatcher_answers")))


if __name__ == "__main__":
    main()
