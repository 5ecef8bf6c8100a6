#!/usr/bin/env bash
# Reproduces every figure of docs/performance.md. Loopback only; bounded in time.
#
#   bench/run_all.sh            # everything (builds first: ~5-15 min on 2 busy cores)
#   SKIP_BUILD=1 bench/run_all.sh
#   ARM64=1 bench/run_all.sh     # also the arm64 binaries, with cargo-zigbuild (pip install
#                                # cargo-zigbuild ziglang; rustup target add aarch64-unknown-linux-gnu)
#
# Builds from the committed HEAD (a `git archive` snapshot in $BENCH_SRC), so edits in
# progress in the work tree never leak into the measured binaries.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
results="$repo/bench/results"
mkdir -p "$results"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/work/target-release}"
export BENCH_RELEASE_DIR="$CARGO_TARGET_DIR/release"
src="${BENCH_SRC:-/tmp/followups-bench-src}"

machine() {
  echo "commit $(git -C "$repo" rev-parse HEAD)"
  echo "nproc $(nproc)"
  grep -m1 'model name' /proc/cpuinfo
  free -h | head -2
  echo "loadavg $(cut -d' ' -f1-3 /proc/loadavg)"
  uptime
}
# The Python baseline and the moto server run on this python3: check before building.
if ! python3 -c 'import boto3, moto' 2>/dev/null; then
  echo "run_all.sh: $(command -v python3) has no boto3/moto: activate the venv made from" >&2
  echo "infra/requirements-test.txt first (python3 -m venv .venv && .venv/bin/pip install -r infra/requirements-test.txt)" >&2
  exit 2
fi
machine | tee "$results/machine.txt"

if [ -z "${SKIP_BUILD:-}" ]; then
  rm -rf "$src" && mkdir -p "$src"
  git -C "$repo" archive HEAD | tar -x -C "$src"
  (cd "$src" && cargo build --release -p api -p call-completed -p dispatcher -p executor -p inbound)
  # Separately: building followups-local in the same invocation would unify features
  # into the function binaries.
  (cd "$src" && cargo build --release -p followups-local)
  if [ -n "${ARM64:-}" ]; then
    (cd "$src" && CARGO_TARGET_DIR="${ARM64_TARGET_DIR:-/work/target-arm64}" cargo zigbuild --release \
       --target aarch64-unknown-linux-gnu -p api -p call-completed -p dispatcher -p executor -p inbound)
  fi
fi
if [ -n "${ARM64:-}" ]; then
  export ARM64_RELEASE_DIR="${ARM64_TARGET_DIR:-/work/target-arm64}/aarch64-unknown-linux-gnu/release"
fi

echo "== sizes";       bash "$repo/bench/sizes.sh" | tee "$results/sizes.md"
echo "== cold start";  python3 "$repo/bench/coldstart.py" --runs "${COLD_RUNS:-30}" | tee "$results/coldstart.md"
echo "== RSS, invocations, AWS requests (moto)"; python3 "$repo/bench/rss.py" --warm 20 | tee "$results/rss.md"
echo "== first invocation (phone-number metadata, F1)"; python3 "$repo/bench/first_invocation.py" --repeat 5 | tee "$results/first_invocation.md"
echo "== cost model";  python3 "$repo/bench/cost_model.py" | tee "$results/cost.md"
echo "== AWS requests asserted by the end-to-end test"
(cd "$repo" && cargo test -p integration-tests --test end_to_end warm 2>&1 | tail -5) | tee "$results/e2e-warm.txt"
echo "== decide (criterion)"
bench_dir="$src"; [ -d "$bench_dir" ] || bench_dir="$repo"
(cd "$bench_dir" && cargo bench -p policy --bench decide 2>&1 | grep -A3 'decide' ) | tee "$results/decide.txt"
echo "== local runtime under load"
python3 "$repo/bench/load.py" --rate "${LOAD_RATE:-1000}" --duration "${LOAD_SECONDS:-10}" | tee "$results/load.md"
echo "== local runtime: syscalls per webhook at 100/s (strace -c -w -f; slows the server)"
python3 "$repo/bench/load.py" --rate 100 --duration 5 --skip-trivial --strace "$results/load-100-strace.txt" --out "$results/load-100-strace.json" >/dev/null
head -12 "$results/load-100-strace.txt"
if [ -n "${SIZE_BREAKDOWN:-}" ]; then
  echo "== size breakdown (unstripped build of the same commit and profile)"
  (cd "$src" && CARGO_PROFILE_RELEASE_STRIP=false CARGO_PROFILE_RELEASE_DEBUG=line-tables-only \
     CARGO_TARGET_DIR=/work/target-release-syms cargo build --release -p call-completed -p executor -p dispatcher)
  for b in call-completed executor-sms executor-email; do
    python3 "$repo/bench/size_breakdown.py" "/work/target-release-syms/release/$b" | tee "$results/size-$b.md"
  done
fi
machine | tee -a "$results/machine.txt"
