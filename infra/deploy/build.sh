#!/usr/bin/env bash
# Builds the four Lambda function packages for arm64 (Graviton) with cargo-lambda,
# then prints the size of each bootstrap. Installs what is missing: cargo-lambda
# (from PyPI, with its Zig linker) into .venv-deploy, and the Rust target
# aarch64-unknown-linux-gnu through rustup.
#
# Usage: infra/deploy/build.sh [extra cargo-lambda build flags, e.g. --locked]
# Output: target/lambda/<binary>/bootstrap for api, call-completed, dispatcher, inbound and
# executor-{sms,email,whatsapp,call} (one executor binary per channel). `sam build`
# produces the same binaries through the template's rust-cargolambda metadata.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cd "$root"

packages=(api call-completed dispatcher executor inbound)

venv="${FOLLOWUPS_DEPLOY_VENV:-$root/.venv-deploy}"
if [ ! -x "$venv/bin/cargo-lambda" ]; then
  echo "==> installing cargo-lambda into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check cargo-lambda
fi
export PATH="$venv/bin:$PATH"

if ! rustup target list --installed | grep -qx aarch64-unknown-linux-gnu; then
  echo "==> adding the aarch64-unknown-linux-gnu target"
  rustup target add aarch64-unknown-linux-gnu
fi

package_flags=()
for package in "${packages[@]}"; do
  package_flags+=(--package "$package")
done

echo "==> $(cargo lambda --version): release build for arm64"
cargo lambda build --release --arm64 "${package_flags[@]}" "$@"

echo "==> bootstrap sizes (Lambda limit: 50 MB zipped, 250 MB unzipped)"
binaries=(api call-completed dispatcher inbound executor-sms executor-email executor-whatsapp executor-call)
for package in "${binaries[@]}"; do
  bootstrap="target/lambda/$package/bootstrap"
  if [ ! -f "$bootstrap" ]; then
    echo "missing $bootstrap" >&2
    exit 1
  fi
  bytes=$(stat -c %s "$bootstrap")
  zipped=$( (cd "$(dirname "$bootstrap")" && python3 -c 'import io, sys, zipfile
buffer = io.BytesIO()
with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
    archive.write("bootstrap")
print(len(buffer.getvalue()))') )
  awk -v name="$package" -v bytes="$bytes" -v zipped="$zipped" 'BEGIN {
    printf "%-16s %10d bytes (%5.1f MB), zipped %5.1f MB\n", name, bytes, bytes / 1048576, zipped / 1048576
  }'
done
