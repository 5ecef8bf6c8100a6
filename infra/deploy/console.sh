#!/usr/bin/env bash
# Uploads the operator console (console/) to the stack's private bucket with the
# config.json the stack computed (OIDC issuer, client id, scope, token to send), then
# invalidates the CloudFront cache. Needs the AWS CLI and credentials for the stack.
#
# Usage: infra/deploy/console.sh STACK_NAME
set -euo pipefail
stack=${1:?usage: infra/deploy/console.sh STACK_NAME}
root=$(cd "$(dirname "$0")/../.." && pwd)

output() {
  aws cloudformation describe-stacks --stack-name "$stack" \
    --query "Stacks[0].Outputs[?OutputKey=='$1'].OutputValue" --output text
}
bucket=$(output ConsoleBucketName)
distribution=$(output ConsoleDistributionId)
staging=$(mktemp -d)
trap 'rm -rf "$staging"' EXIT
cp "$root"/console/*.html "$root"/console/*.js "$root"/console/*.css "$staging"/
output ConsoleConfig >"$staging/config.json"

echo "==> s3://$bucket (config: $(cat "$staging/config.json"))"
aws s3 sync "$staging" "s3://$bucket" --delete --cache-control "no-cache"
aws cloudfront create-invalidation --distribution-id "$distribution" --paths "/*" >/dev/null
echo "==> the console is at $(output ConsoleUrl)"
