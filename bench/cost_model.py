#!/usr/bin/env python3
"""Infrastructure cost per 1,000 follow-ups sent, from what the benchmarks counted.

Inputs: bench/results/rss.json (AWS requests per invocation counted by moto's
recorder against the release binaries, item sizes in the table, on-CPU time per
invocation, log bytes). Prices: public list prices, us-east-1, cited in
docs/performance.md. Everything that is an assumption is named here and printed.

Scenario: a call whose webhook yields two follow-ups (an SMS and an email, the
shape the end-to-end test uses), so 1,000 follow-ups = 500 webhooks.
  direct    — both due now: dispatcher -> async Invoke of the executor
  scheduled — both due later: dispatcher -> CreateSchedule; Scheduler invokes the executor

    python3 bench/cost_model.py [bench/results/rss.json]
"""

import json
import math
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

# --- public prices (us-east-1), see docs/performance.md for the sources ---------
LAMBDA_REQUEST = 0.20 / 1e6            # per request (x86 and arm64 alike)
LAMBDA_ARM_GB_S = 0.0000133334         # per GB-second, arm64, first 7.5 B GB-s/month
DDB_WRU = 0.625 / 1e6                  # on-demand write request unit
DDB_RRU = 0.125 / 1e6                  # on-demand read request unit
SCHEDULER_INVOCATION = 1.00 / 1e6      # after 14 M free invocations/month
HTTP_API_REQUEST = 1.00 / 1e6          # API Gateway HTTP API, first 300 M/month
SES_EMAIL = 0.10 / 1000                # per outbound email
SNS_API_REQUEST = 0.50 / 1e6           # standard SNS request (CheckIfPhoneNumberIsOptedOut, if billed so)
LOGS_INGEST_GB = 0.50                  # CloudWatch Logs ingestion per GB
XRAY_TRACE = 5.00 / 1e6                # per trace recorded after 100k/month free

# --- assumptions ----------------------------------------------------------------
MEMORY_GB = 128 / 1024
VCPU_SHARE = 128 / 1769                # Lambda gives one vCPU's worth at 1,769 MB, proportionally less below
LATENCY_MS = {                         # in-region round trips, assumed
    "DynamoDB.TransactWriteItems": 12, "DynamoDB.GetItem": 4, "DynamoDB.PutItem": 5, "DynamoDB.Query": 5,
    "sns.CheckIfPhoneNumberIsOptedOut": 15, "sns.Publish": 40, "ses.POST": 40,
    "lambda.Invoke": 15, "scheduler.CreateSchedule": 25,
}
PLATFORM_LOG_BYTES = 350               # START/END/REPORT lines Lambda adds per invocation (JSON format)
STREAM_RECORDS_PER_FOLLOWUP = 1        # the INSERT; the claim and the outcome are filtered out before the dispatcher (F6, template.yaml FilterCriteria)
DISPATCH_BATCH = {"worst": 1, "best": 25}  # records per dispatcher invocation (BatchSize 25, window 0)
GUARDS_AND_CHECKS = None               # taken from the counted items


def kb_units(size: int, unit: int) -> int:
    return max(1, math.ceil(size / unit))


def latency(op: str) -> float:
    for key, ms in LATENCY_MS.items():
        if op.startswith(key):
            return ms
    return 10


def duration_ms(cpu_ms: float, requests: dict) -> float:
    """Billed duration estimate at 128 MB: on-CPU time scaled to the CPU share, plus
    the AWS round trips, rounded up to the next ms."""
    wait = sum(latency(op) * n for op, n in requests.items())
    return math.ceil(cpu_ms / VCPU_SHARE + wait)


def median(values):
    values = sorted(v for v in values if v is not None)
    return values[len(values) // 2] if values else 0.0


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "results", "rss.json")
    data = json.load(open(path))
    fns = data["functions"]
    sizes = data["item_sizes"]
    cc = fns["call-completed"][0]
    ex = fns["executor-sms"][0]
    dp = fns.get("dispatcher", [{}])[0]

    cc_warm_requests = cc["aws_requests_second_event"]
    ex_warm_requests = ex["aws_requests_second_event"]
    cc_cpu = median(cc["invoke_cpu_ms"][1:])
    ex_cpu = median(ex["invoke_cpu_ms"][1:])
    dp_cpu = median(dp.get("invoke_cpu_ms", [0, 0])[1:])
    cc_ms = duration_ms(cc_cpu, cc_warm_requests)
    ex_sms_ms = duration_ms(ex_cpu, ex_warm_requests)
    ex_email_ms = duration_ms(ex_cpu, {"DynamoDB.GetItem": 2, "DynamoDB.PutItem": 2, "ses.POST": 1})
    dp_direct_ms = duration_ms(dp_cpu, {"lambda.Invoke": 1})
    dp_sched_ms = duration_ms(dp_cpu, {"scheduler.CreateSchedule": 1})
    dp_nothing_ms = duration_ms(dp_cpu, {})

    fu = sizes["FU"]["median_bytes"]        # as the webhook writes it
    fu_sent = sizes["FU"]["max_bytes"]      # after the executor recorded the outcome
    webhook = sizes["WEBHOOK"]["max_bytes"]
    guard = sizes.get("GUARD", {"max_bytes": 0})["max_bytes"]
    n_webhooks = sizes["WEBHOOK"]["count"]
    guards_per_webhook = sizes.get("GUARD", {"count": 0})["count"] / n_webhooks
    fus_per_webhook = 2  # the SMS and the email of this scenario
    # The do-not-call entry of each destination (phone, email): a strongly consistent
    # GetItem before the transaction (since session 6; it was a ConditionCheck inside it,
    # 2 WRU each).
    dnc_reads_per_webhook = 2

    # DynamoDB per webhook: every item of a transaction costs 2 WRU per KB (prepare +
    # commit); a new follow-up also writes an entry in each GSI. The deployed indexes
    # project keys only (IndexProjection): 1 WRU per entry, and a claim or an outcome
    # that changes no index key writes none.
    tx_wru = 2 * (kb_units(webhook, 1024) + fus_per_webhook * kb_units(fu, 1024)
                  + guards_per_webhook * kb_units(guard, 1024))
    gsi_wru = fus_per_webhook * 2 * 1
    webhook_ddb = (tx_wru + gsi_wru) * DDB_WRU + dnc_reads_per_webhook * DDB_RRU
    # Executor per send: 2 strongly consistent GetItem (1 RRU per 4 KB), 2 PutItem of the
    # follow-up (the claim, the outcome).
    send_ddb = 2 * kb_units(fu, 4096) * DDB_RRU + (kb_units(fu, 1024) + kb_units(fu_sent, 1024)) * DDB_WRU

    gbs = lambda ms: ms / 1000 * MEMORY_GB * LAMBDA_ARM_GB_S
    lam = lambda ms: LAMBDA_REQUEST + gbs(ms)

    rows = {}
    for scenario in ("direct", "scheduled"):
        for batching, per_inv in DISPATCH_BATCH.items():
            per_1000 = {}
            w = 1000 / fus_per_webhook
            per_1000["Lambda call-completed (requests + GB-s)"] = w * lam(cc_ms)
            per_1000["DynamoDB webhook transaction (+ GSI writes)"] = w * webhook_ddb
            dp_ms = dp_direct_ms if scenario == "direct" else dp_sched_ms
            invocations = 1000 * STREAM_RECORDS_PER_FOLLOWUP / per_inv
            # one record per follow-up needs an AWS call, the others do nothing
            per_1000["Lambda dispatcher (stream batches)"] = invocations * LAMBDA_REQUEST + 1000 * gbs(dp_ms) + 1000 * (STREAM_RECORDS_PER_FOLLOWUP - 1) / per_inv * gbs(dp_nothing_ms)
            if scenario == "scheduled":
                per_1000["EventBridge Scheduler invocations"] = 1000 * SCHEDULER_INVOCATION
            per_1000["Lambda executor (requests + GB-s)"] = 500 * lam(ex_sms_ms) + 500 * lam(ex_email_ms)
            per_1000["DynamoDB executor reads and writes"] = 1000 * send_ddb
            rows[(scenario, batching)] = per_1000
    # What-if: GSIs projecting ALL (IndexProjection=ALL, stacks created before): every
    # write of a follow-up also rewrites both index entries at the item's size.
    send_ddb_all = 2 * kb_units(fu, 4096) * DDB_RRU + 3 * (kb_units(fu, 1024) + kb_units(fu_sent, 1024)) * DDB_WRU
    gsi_wru_all = fus_per_webhook * 2 * kb_units(fu, 1024)
    what_if = {}
    for (s_, b_), r in rows.items():
        r2 = dict(r)
        r2["DynamoDB webhook transaction (+ GSI writes)"] = 500 * (tx_wru + gsi_wru_all) * DDB_WRU
        r2["DynamoDB executor reads and writes"] = 1000 * send_ddb_all
        what_if[f"{s_}/{b_}"] = sum(r2.values())
    edge = 500 * HTTP_API_REQUEST
    channels = {"SES (500 emails)": 500 * SES_EMAIL,
                "SNS CheckIfPhoneNumberIsOptedOut (500, if billed as API requests)": 500 * SNS_API_REQUEST,
                "SNS SMS (500)": "country-specific: about $0.0058+carrier fees per US SMS (i.e. ~$2.9+)"}
    log_bytes_per_invocation = {
        "call-completed": cc["log_bytes"] / cc["events"] + PLATFORM_LOG_BYTES,
        "executor": ex["log_bytes"] / ex["events"] + PLATFORM_LOG_BYTES,
        "dispatcher": dp.get("log_bytes", 0) / max(1, dp.get("events", 1)) + PLATFORM_LOG_BYTES,
    }
    logs_bytes = (500 * log_bytes_per_invocation["call-completed"] + 1000 * log_bytes_per_invocation["executor"]
                  + 1000 * STREAM_RECORDS_PER_FOLLOWUP * log_bytes_per_invocation["dispatcher"])
    logs = logs_bytes / 1e9 * LOGS_INGEST_GB
    xray = (500 + 1000 + 1000) * XRAY_TRACE  # when every invocation is sampled (low traffic, reservoir 1/s)

    out = {
        "inputs": {
            "call_completed_warm_requests": cc_warm_requests, "call_completed_first_requests": cc["aws_requests_first_event"],
            "executor_warm_requests": ex_warm_requests, "executor_first_requests": ex["aws_requests_first_event"],
            "dispatcher_first_requests": dp.get("aws_requests_first_event"), "dispatcher_warm_requests": dp.get("aws_requests_second_event"),
            "item_bytes": {"FU": fu, "FU_sent": fu_sent, "WEBHOOK": webhook, "GUARD": guard}, "guards_per_webhook": guards_per_webhook,
            "cpu_ms": {"call-completed": cc_cpu, "executor": ex_cpu, "dispatcher": dp_cpu},
            "estimated_billed_ms_at_128MB": {"call-completed": cc_ms, "executor-sms": ex_sms_ms, "executor-email": ex_email_ms,
                                             "dispatcher-direct": dp_direct_ms, "dispatcher-scheduled": dp_sched_ms},
            "wru_per_webhook": tx_wru + gsi_wru,
            "wru_per_send": kb_units(fu, 1024) + kb_units(fu_sent, 1024),
            "first_invocation_cpu_ms": {"call-completed": cc["invoke_cpu_ms"][0], "executor": ex["invoke_cpu_ms"][0],
                                        "dispatcher": dp.get("invoke_cpu_ms", [None])[0]},
            "log_bytes_per_invocation": log_bytes_per_invocation,
        },
        "per_1000_followups": {f"{s}/{b}": {**r, "TOTAL infrastructure": sum(r.values())} for (s, b), r in rows.items()},
        "what_if_gsi_projection_all_total": what_if,
        "separately": {"API Gateway HTTP API (500 webhooks)": edge, "CloudWatch Logs ingestion": logs,
                       "X-Ray traces if every invocation is sampled": xray, **channels},
    }
    json.dump(out, open(os.path.join(HERE, "results", "cost.json"), "w"), indent=1)
    print(json.dumps(out["inputs"], indent=1))
    names = list(rows[("direct", "worst")].keys()) + ["EventBridge Scheduler invocations"]
    names = list(dict.fromkeys(names))
    cols = [f"{s}/{b}" for s in ("direct", "scheduled") for b in ("worst", "best")]
    print("\n| per 1,000 follow-ups (USD) | " + " | ".join(cols) + " |")
    print("|---|" + "---|" * len(cols))
    for n in names + ["TOTAL infrastructure"]:
        print(f"| {n} | " + " | ".join(f"{out['per_1000_followups'][c].get(n, 0):.6f}" for c in cols) + " |")
    print("\nwhat if both GSIs projected ALL (TOTAL infrastructure):", {k: round(v, 6) for k, v in what_if.items()})
    print("\nseparately:")
    for k, v in out["separately"].items():
        print(f"  {k}: {v if isinstance(v, str) else f'{v:.6f}'}")


if __name__ == "__main__":
    main()
