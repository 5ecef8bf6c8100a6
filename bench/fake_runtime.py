#!/usr/bin/env python3
"""A small fake of the Lambda Runtime API (2018-06-01) on loopback, for benchmarks.

It records when the first `GET /2018-06-01/runtime/invocation/next` of a run
arrives, can then serve one event and read the function's response (or error),
and holds the next poll open so the measuring script can read the process's
memory high-water mark while it is idle, then kill it.

Used as a library by `coldstart.py` and `rss.py`, or on its own:

    python3 bench/fake_runtime.py cold  --runs 20 -- ./bootstrap
    python3 bench/fake_runtime.py invoke --event event.json -- ./bootstrap

(the function's environment is the caller's, with AWS_LAMBDA_RUNTIME_API set).
Python stdlib only.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PREFIX = "/2018-06-01/runtime"


class _QuietServer(ThreadingHTTPServer):
    """A bootstrap killed mid-poll resets its connection: expected at the end of every
    measured start, so not printed as a traceback. Anything else still is."""

    def handle_error(self, request, client_address):
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class Run:
    """The state of one process start."""

    def __init__(self, events: list[bytes]):
        self.events = list(events)
        self.polls = 0
        self.first_poll_ns: int | None = None
        self.served_ns: list[int] = []
        self.answers: list[tuple[str, bytes, int]] = []  # (kind, body, arrival ns)
        self.init_error: bytes | None = None
        self.pid: int | None = None
        self.on_answer = None  # called with the event index once its answer arrived, before the next poll is served
        self.cpu_at_serve: list[float | None] = []  # on-CPU ms of the process when each event was handed out
        self.cpu_at_answer: list[float | None] = []
        self.first_poll = threading.Event()
        self.idle_again = threading.Event()  # the poll after the last answer
        self.release = threading.Event()  # lets held polls return


class FakeRuntime:
    def __init__(self) -> None:
        self.run: Run | None = None
        runtime = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def _body(self) -> bytes:
                length = int(self.headers.get("content-length") or 0)
                return self.rfile.read(length) if length else b""

            def _reply(self, status: int, body: bytes = b"", headers=None):
                self.send_response(status)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                now = time.perf_counter_ns()
                run = runtime.run
                if run is None or not self.path.startswith(PREFIX + "/invocation/next"):
                    self._reply(404, b"{}")
                    return
                run.polls += 1
                if run.polls == 1:
                    run.first_poll_ns = now
                    run.first_poll.set()
                index = run.polls - 1
                if index < len(run.events):
                    stat = schedstat_ms(run.pid) if run.pid else None
                    run.cpu_at_serve.append(stat[0] if stat else None)
                    run.served_ns.append(time.perf_counter_ns())
                    deadline = int(time.time() * 1000) + 10_000
                    self._reply(
                        200,
                        run.events[index],
                        {
                            "Lambda-Runtime-Aws-Request-Id": f"bench-{index}-{uuid.uuid4()}",
                            "Lambda-Runtime-Deadline-Ms": str(deadline),
                            "Lambda-Runtime-Invoked-Function-Arn": "arn:aws:lambda:us-east-1:123456789012:function:bench",
                            "Lambda-Runtime-Trace-Id": "Root=1-00000000-000000000000000000000000;Parent=0000000000000000;Sampled=0",
                        },
                    )
                    return
                if run.events:
                    run.idle_again.set()
                # Hold the poll: the process is killed by the measuring side.
                run.release.wait(timeout=30)
                try:
                    self._reply(500, b'{"errorMessage":"bench over"}')
                except OSError:
                    pass

            def do_POST(self):
                now = time.perf_counter_ns()
                run = runtime.run
                body = self._body()
                if run is not None:
                    if "/init/error" in self.path:
                        run.init_error = body
                        run.first_poll.set()
                    else:
                        kind = "response" if self.path.endswith("/response") else "error"
                        run.answers.append((kind, body, now))
                        stat = schedstat_ms(run.pid) if run.pid else None
                        run.cpu_at_answer.append(stat[0] if stat else None)
                        if run.on_answer:
                            run.on_answer(len(run.answers) - 1)
                self._reply(202, b'{"status":"OK"}')

        self.server = _QuietServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.address = f"127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def close(self) -> None:
        if self.run:
            self.run.release.set()
        self.server.shutdown()
        self.server.server_close()


def vm_hwm_kib(pid: int) -> int | None:
    """The process's peak resident set size so far (VmHWM), in KiB."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def rss_split_kib(pid: int) -> dict | None:
    """What the process holds resident now, by kind (KiB): `anon` (heap, stacks), `file`
    (pages of the binary and of libc mapped from disk), `shmem`. Read when it is idle
    after its last event, it splits the peak into what code we run and what we keep."""
    split = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                for kind in ("anon", "file", "shmem"):
                    if line.startswith(f"Rss{kind.capitalize()}:"):
                        split[kind] = int(line.split()[1])
    except OSError:
        return None
    return split or None


def schedstat_ms(pid: int) -> tuple[float, float] | None:
    """(on-CPU ms, run-queue wait ms) summed over the process's live threads, from
    /proc/<pid>/task/*/schedstat: the CPU the start really cost, apart from the time
    spent waiting for a core on a loaded machine."""
    cpu = wait = 0
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                on, queued, _ = f.read().split()
                cpu += int(on)
                wait += int(queued)
    except OSError:
        return None
    return cpu / 1e6, wait / 1e6


def stop(process: subprocess.Popen) -> None:
    """Kills the process and anything it started (its own process group)."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait(timeout=10)


def start_once(runtime: FakeRuntime, cmd: list[str], env: dict, events: list[bytes] = (), timeout: float = 30.0, on_answer=None) -> dict:
    """Starts `cmd` once; returns ms from spawn to first poll and, with events (served
    one per poll, in order), each invocation's duration (event handed out to answer
    received), the answers, and the peak RSS (VmHWM) once it polls again after the last."""
    run = Run(events)
    run.on_answer = on_answer
    runtime.run = run
    env = dict(env, AWS_LAMBDA_RUNTIME_API=runtime.address)
    t0 = time.perf_counter_ns()
    log = tempfile.TemporaryFile()  # the function's stdout: its log lines (CloudWatch Logs in Lambda)
    process = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.PIPE, start_new_session=True)
    run.pid = process.pid
    result: dict = {"pid": process.pid}
    try:
        if not run.first_poll.wait(timeout):
            raise RuntimeError(f"no poll within {timeout}s from {cmd}")
        if run.init_error is not None:
            raise RuntimeError(f"init error: {run.init_error!r}")
        result["cold_ms"] = (run.first_poll_ns - t0) / 1e6
        stat = schedstat_ms(process.pid)
        if stat:
            result["cpu_ms"], result["runqueue_ms"] = stat
        if run.events:
            if not run.idle_again.wait(timeout):
                raise RuntimeError(f"only {len(run.answers)} of {len(run.events)} events answered")
            result["invoke_ms"] = [(a[2] - s) / 1e6 for a, s in zip(run.answers, run.served_ns)]
            result["invoke_cpu_ms"] = [b - a if a is not None and b is not None else None
                                       for a, b in zip(run.cpu_at_serve, run.cpu_at_answer)]
            result["answers"] = [(kind, body.decode(errors="replace")) for kind, body, _ in run.answers]
        result["vm_hwm_kib"] = vm_hwm_kib(process.pid)
        result["rss_split_kib"] = rss_split_kib(process.pid)
    except Exception:
        stop(process)
        err = process.stderr.read().decode(errors="replace")
        sys.stderr.write(err[-4000:])
        raise
    finally:
        run.release.set()
        stop(process)
        result["stderr"] = process.stderr.read().decode(errors="replace")
        process.stderr.close()
        log.seek(0)
        result["stdout"] = log.read().decode(errors="replace")
        result["log_bytes"] = len(result["stdout"].encode()) + len(result["stderr"].encode())
        log.close()
    return result


def summary(values: list[float]) -> dict:
    values = sorted(values)
    n = len(values)
    q = lambda p: values[min(n - 1, max(0, round(p * (n - 1))))]
    return {
        "n": n,
        "median": statistics.median(values),
        "min": values[0],
        "p10": q(0.10),
        "p90": q(0.90),
        "max": values[-1],
        "iqr": q(0.75) - q(0.25),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=["cold", "invoke"])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--event", help="JSON file served as the one event (invoke mode)")
    parser.add_argument("cmd", nargs="+")
    args = parser.parse_args()
    runtime = FakeRuntime()
    try:
        if args.mode == "cold":
            times = [start_once(runtime, args.cmd, dict(os.environ))["cold_ms"] for _ in range(args.runs)]
            print(json.dumps({"cold_ms": summary(times), "all": times}, indent=1))
        else:
            event = open(args.event, "rb").read()
            r = start_once(runtime, args.cmd, dict(os.environ), [event])
            r.pop("stderr")
            print(json.dumps(r, indent=1))
    finally:
        runtime.close()


if __name__ == "__main__":
    main()
