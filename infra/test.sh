#!/usr/bin/env bash
# Runs every test of the project on a fresh machine: installs what is missing (the
# Python tools into .venv), then the Rust tests (the integration tests start and stop
# their own moto server on loopback), then the console in a real browser, then lints the
# SAM template.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

venv="$root/.venv"
stamp="$venv/.installed-$(cat infra/requirements-test.txt infra/deploy/requirements.txt | sha256sum | cut -c1-16)"
if [ ! -e "$stamp" ]; then
  echo "==> installing test tools into .venv (moto server, openapi-spec-validator, cfn-lint, SAM translator)"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r infra/requirements-test.txt
  touch "$stamp"
fi
export FOLLOWUPS_PYTHON="$venv/bin/python"
export PATH="$venv/bin:$PATH"

echo "==> cargo test (unit, contract and moto-backed integration tests)"
cargo test --workspace --locked "$@"

echo "==> the operator console in a real browser (Debian's chromium, Playwright)"
if [ ! -x /usr/bin/chromium ]; then
  echo "    installing Debian's chromium"
  sudo_=""
  [ "$(id -u)" -eq 0 ] || sudo_="sudo"
  $sudo_ apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_ apt-get install -y -qq chromium >/dev/null
fi
cargo build -p followups-local --locked
"$venv/bin/python" tests/browser/console_test.py

echo "==> OpenAPI document"
python infra/check_openapi.py shared/http/openapi.json

echo "==> template.yaml (cfn-lint, offline SAM translation)"
FOLLOWUPS_DEPLOY_VENV="$venv" infra/deploy/check.sh
echo "==> all tests passed"
