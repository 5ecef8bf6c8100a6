#!/usr/bin/env python3
"""Why the first invocation of a container costs ~70 ms of CPU: the same webhook
shape with and without phone numbers, each in a fresh call-completed process
against moto (3 deliveries per process; on-CPU ms of each invocation printed).

    python3 bench/first_invocation.py [--repeat 5]
"""
import argparse
import json
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fake_runtime  # noqa: E402
import lambda_env  # noqa: E402
import rss  # noqa: E402


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    moto, endpoint = rss.start_moto()
    runtime = fake_runtime.FakeRuntime()
    try:
        rss.create_table(endpoint, "first")
        env = lambda n: lambda_env.function_env(n, table="first", endpoint=endpoint)
        r = fake_runtime.start_once(runtime, [lambda_env.binary("api")], env("api"),
                                    [rss.http_event("POST", "/v1/webhook-secrets", "", claims={"account_id": rss.ACCOUNT})])
        secret = rss.http_answer(r["answers"][0])[1]["secret"]

        def body(i, phone):
            b = json.loads(rss.call_body(f"c{i}", f"k{i}"))
            if not phone:
                b["contact"].pop("phone")
                b["analysis"].pop("sms_destination")
                b["analysis"]["consent"]["sms"] = False
            return json.dumps(b, separators=(",", ":"))

        results = {"without phone numbers": [], "with phone numbers": []}
        n = 0
        for _ in range(args.repeat):
            for label, phone in (("without phone numbers", False), ("with phone numbers", True)):
                events = []
                for _ in range(3):
                    n += 1
                    events.append(rss.webhook_event(secret, f"first_{n}", body(n, phone)))
                r = fake_runtime.start_once(runtime, [lambda_env.binary("call-completed")], env("call-completed"), events)
                assert all(json.loads(a[1])["statusCode"] == 200 for a in r["answers"]), r["answers"]
                results[label].append(r["invoke_cpu_ms"])
        print("| webhook | 1st invocation on-CPU ms (median of runs) | 2nd | 3rd |\n|---|---|---|---|")
        for label, runs in results.items():
            # A sample the fake runtime could not read (None) is left out, not counted as 0.
            cols = [statistics.median([run[i] for run in runs if run[i] is not None] or [float('nan')]) for i in range(3)]
            print(f"| {label} | {cols[0]:.1f} | {cols[1]:.1f} | {cols[2]:.1f} |")
    finally:
        runtime.close()
        moto.stdin.close()
        moto.wait(timeout=30)


if __name__ == "__main__":
    main()
