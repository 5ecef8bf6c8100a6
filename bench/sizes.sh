#!/usr/bin/env bash
# Release binary sizes: x86-64 from the workspace release profile (opt-level s, lto,
# codegen-units 1, strip); arm64 from $ARM64_RELEASE_DIR (bench/run_all.sh with ARM64=1
# builds it with cargo-zigbuild, as cargo-lambda does) and, when infra/deploy/build.sh
# (cargo-lambda) has run, the bootstraps under target/lambda/.
set -euo pipefail
cd "$(dirname "$0")/.."
RELEASE_DIR="${BENCH_RELEASE_DIR:-/work/target-release/release}"
printf '| binary | x86-64 bytes | x86-64 MiB |\n|---|---|---|\n'
for f in api call-completed dispatcher inbound executor-sms executor-email executor-whatsapp executor-call followups-local; do
  if [ -f "$RELEASE_DIR/$f" ]; then
    b=$(stat -c %s "$RELEASE_DIR/$f")
    printf '| %s | %s | %.2f |\n' "$f" "$b" "$(echo "$b/1048576" | bc -l)"
  fi
done
if [ -n "${ARM64_RELEASE_DIR:-}" ]; then
  printf '\n| binary | arm64 bytes | arm64 MiB | arm64 MB (10^6) |\n|---|---|---|---|\n'
  for f in api call-completed dispatcher inbound executor-sms executor-email executor-whatsapp executor-call; do
    if [ -f "$ARM64_RELEASE_DIR/$f" ]; then
      b=$(stat -c %s "$ARM64_RELEASE_DIR/$f")
      printf '| %s | %s | %.2f | %.2f |\n' "$f" "$b" "$(echo "$b/1048576" | bc -l)" "$(echo "$b/1000000" | bc -l)"
    fi
  done
fi
if ls target/lambda/*/bootstrap >/dev/null 2>&1; then
  printf '\n| arm64 bootstrap (cargo-lambda) | bytes | MiB | built |\n|---|---|---|---|\n'
  for f in target/lambda/*/bootstrap; do
    b=$(stat -c %s "$f")
    printf '| %s | %s | %.2f | %s |\n' "$f" "$b" "$(echo "$b/1048576" | bc -l)" "$(date -u -r "$f" +%FT%TZ)"
    file -b "$f" | cut -c1-80 | sed 's/^/    /' >&2
  done
fi
