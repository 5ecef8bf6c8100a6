#!/usr/bin/env bash
# Offline checks of the deployment template, no AWS account needed:
#   1. cfn-lint on template.yaml (SAM schema, IAM action names, intrinsics);
#   2. translate.py: the SAM transform run locally, plus the routes' auth, the
#      stream mapping and the IAM wildcards checked on the result;
#   3. cfn-lint on the translated CloudFormation, which also covers the resources
#      SAM generates (routes, permissions, event source mapping).
# Installs cfn-lint and aws-sam-translator into .venv-deploy on first run.
# Usage: infra/deploy/check.sh        (exit status 0 when everything passes)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cd "$root"

venv="${FOLLOWUPS_DEPLOY_VENV:-$root/.venv-deploy}"
stamp="$venv/.checks-$(sha256sum "$here/requirements.txt" | cut -c1-16)"
if [ ! -e "$stamp" ]; then
  echo "==> installing cfn-lint and aws-sam-translator into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt"
  touch "$stamp"
fi

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

echo "==> cfn-lint template.yaml ($("$venv/bin/cfn-lint" --version))"
"$venv/bin/cfn-lint" template.yaml
echo "==> SAM translation (offline)"
"$venv/bin/python" "$here/translate.py" --template template.yaml --output "$out/template.json"
echo "==> cfn-lint on the translated CloudFormation"
"$venv/bin/cfn-lint" "$out/template.json"
echo "==> deployment checks passed"
