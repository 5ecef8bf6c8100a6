#!/usr/bin/env bash
# Runs every test of the project on a fresh machine: installs what is missing (the
# Python tools into .venv), then the Rust tests (the integration tests start and stop
# their own moto server on loopback), then lints the SAM template.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

venv="$root/.venv"
stamp="$venv/.installed-$(sha256sum infra/requirements-test.txt | cut -c1-16)"
if [ ! -e "$stamp" ]; then
  echo "==> installing test tools into .venv (moto server, cfn-lint)"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r infra/requirements-test.txt
  touch "$stamp"
fi
export FOLLOWUPS_PYTHON="$venv/bin/python"
export PATH="$venv/bin:$PATH"

echo "==> cargo test (unit, contract and moto-backed integration tests)"
cargo test --workspace --locked "$@"

echo "==> cfn-lint template.yaml"
cfn-lint template.yaml
echo "==> all tests passed"
