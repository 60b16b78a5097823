#!/usr/bin/env bash
# Checks the README's quickstart exactly as a newcomer runs it: `./hack/dev-cluster.sh up`, then
# the example VRG must report a completed capture within a minute. Always stops what it started.
set -euo pipefail
cd "$(dirname "$0")/.."

export VRG_DEV_CLUSTER_DIR="${TMPDIR:-/tmp}/vrg-quickstart-check.$$"
trap './hack/dev-cluster.sh down >/dev/null 2>&1 || true' EXIT

./hack/dev-cluster.sh up
export KUBECONFIG="${VRG_DEV_CLUSTER_DIR}/kubeconfig"
kubectl="$(command -v kubectl || awk -F= '$1 == "KUBECTL" { print $2 }' "${VRG_TESTBIN_CACHE:-$HOME/.cache/vrg-operator/testbin}/env")"
start=$(date +%s)
if "${kubectl}" wait -n demo vrg/guestbook --for=condition=ClusterDataProtected --timeout=60s; then
  echo "quickstart: the example VRG's first capture completed in $(( $(date +%s) - start ))s"
  "${kubectl}" get vrg -n demo
else
  echo "quickstart: no completed capture within 60s" >&2
  "${kubectl}" get vrg -n demo -o yaml >&2 || true
  tail -n 50 "${VRG_DEV_CLUSTER_DIR}/operator.log" >&2 || true
  exit 1
fi
