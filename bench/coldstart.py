#!/usr/bin/env python3
"""Cold start: process start to the first `GET .../invocation/next`, per function,
against bench/fake_runtime.py on loopback, with every SDK client built (the
functions build them in main, before polling). Starts are interleaved round-robin
so background load hits every target alike.

Targets: the four release binaries (the executor once per channel), the Python +
boto3 baseline of call-completed (bench/python_baseline), and a floor: bash opening a
socket and sending the same poll (the spawn + measurement overhead of this harness).

    python3 bench/coldstart.py [--runs 30] [--out bench/results/coldstart.json]
"""

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fake_runtime  # noqa: E402
import lambda_env  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
FLOOR = (
    'exec 3<>/dev/tcp/${AWS_LAMBDA_RUNTIME_API%:*}/${AWS_LAMBDA_RUNTIME_API#*:}; '
    'printf "GET /2018-06-01/runtime/invocation/next HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n" >&3; cat <&3'
)


def targets():
    rust = ["api", "call-completed", "dispatcher", "executor-sms", "executor-email", "executor-whatsapp", "executor-call"]
    out = [(name, [lambda_env.binary(name)], lambda_env.function_env(name)) for name in rust]
    out.append(("python-boto3 call-completed", [sys.executable, os.path.join(HERE, "python_baseline", "bootstrap.py")],
                dict(lambda_env.function_env("call-completed"))))
    out.append(("floor: bash poll", ["bash", "-c", FLOOR], lambda_env.base("floor")))
    return out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=2, help="unrecorded rounds first (page cache)")
    parser.add_argument("--out", default=os.path.join(HERE, "results", "coldstart.json"))
    parser.add_argument("--only", action="append", help="measure only these targets (repeatable)")
    parser.add_argument("--variant", action="append", default=[], metavar="LABEL:KEY=VALUE[,KEY=VALUE]",
                        help="also start each Rust target with these extra environment variables, as a separate row")
    args = parser.parse_args()
    runtime = fake_runtime.FakeRuntime()
    ts = targets()
    if args.only:
        ts = [t for t in ts if t[0] in args.only]
    for variant in args.variant:
        label, _, assignments = variant.partition(":")
        extra = dict(a.split("=", 1) for a in assignments.split(",") if a)
        ts += [(f"{name} [{label}]", cmd, dict(env, **extra)) for name, cmd, env in list(ts)
               if not name.startswith(("python", "floor")) and "[" not in name]
    times = {name: [] for name, _, _ in ts}
    cpu = {name: [] for name, _, _ in ts}
    queued = {name: [] for name, _, _ in ts}
    load_before = os.getloadavg()
    try:
        for round_ in range(args.warmup + args.runs):
            for name, cmd, env in ts:
                r = fake_runtime.start_once(runtime, cmd, env)
                if round_ >= args.warmup:
                    times[name].append(r["cold_ms"])
                    cpu[name].append(r.get("cpu_ms", float("nan")))
                    queued[name].append(r.get("runqueue_ms", float("nan")))
    finally:
        runtime.close()
    load_after = os.getloadavg()
    report = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "loadavg_before": load_before,
        "loadavg_after": load_after,
        "runs": args.runs,
        "summary": {name: fake_runtime.summary(v) for name, v in times.items()},
        "cpu_summary": {name: fake_runtime.summary(v) for name, v in cpu.items()},
        "runqueue_summary": {name: fake_runtime.summary(v) for name, v in queued.items()},
        "all_ms": times,
        "all_cpu_ms": cpu,
        "all_runqueue_ms": queued,
    }
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(report, f, indent=1)
    rust_cc = report["summary"].get("call-completed", {}).get("median")
    py = report["summary"].get("python-boto3 call-completed", {}).get("median")
    print(f"load average before {load_before}, after {load_after}; {args.runs} starts each\n")
    print("| target | wall median ms | min | p10 | p90 | max | IQR | on-CPU median ms | run-queue wait median ms |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, s in report["summary"].items():
        c = report["cpu_summary"][name]["median"]
        q = report["runqueue_summary"][name]["median"]
        print(f"| {name} | {s['median']:.2f} | {s['min']:.2f} | {s['p10']:.2f} | {s['p90']:.2f} | {s['max']:.2f} | {s['iqr']:.2f} | {c:.2f} | {q:.2f} |")
    if rust_cc and py:
        print(f"\nPython+boto3 / Rust call-completed (medians): {py / rust_cc:.1f}x")


if __name__ == "__main__":
    main()
