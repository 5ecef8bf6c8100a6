#!/usr/bin/env bash
# API fuzzing: schemathesis against the local runtime, with the OpenAPI document the
# runtime serves (/v1/openapi.json). Every generated request (valid and invalid) must
# get no 5xx and a response that matches the document (status, headers, body schema).
#
#   infra/schemathesis.sh                 # 100 examples per operation, all checks
#   MAX_EXAMPLES=500 infra/schemathesis.sh
#
# Installs schemathesis into a throwaway venv (ST_VENV, default /tmp/st), builds and
# starts followups-local on a free port with a fresh data dir, runs, stops it.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv=${ST_VENV:-/tmp/st}
examples=${MAX_EXAMPLES:-100}
if [ ! -x "$venv/bin/schemathesis" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check schemathesis
fi
cd "$root"
cargo build --quiet -p followups-local
bin="${CARGO_TARGET_DIR:-$root/target}/debug/followups-local"
data=$(mktemp -d)
log="$data/runtime.log"
"$bin" --port 0 --data-dir "$data" > "$log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$data"' EXIT
for _ in $(seq 1 100); do
  grep -q "API  *http" "$log" 2>/dev/null && break
  sleep 0.1
done
base=$(grep -o "http://127.0.0.1:[0-9]*" "$log" | head -1)
token=$(cat "$data/token")
echo "==> schemathesis against $base (data in $data)"
"$venv/bin/schemathesis" run "$base/v1/openapi.json" \
  --url "$base" \
  --header "Authorization: Bearer $token" \
  --checks all \
  --exclude-checks "${ST_EXCLUDE_CHECKS-positive_data_acceptance}" \
  --max-examples "$examples" \
  --seed "${ST_SEED:-1}" \
  --workers 1 \
  --report junit --report-dir "$data/report" \
  "$@"
