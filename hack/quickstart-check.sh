#!/usr/bin/env bash
# Checks the README's quickstart exactly as a newcomer runs it:
#  1. "Run it locally": `./hack/dev-cluster.sh up`, then the example VRG must report a completed
#     capture through the real Velero server within a minute;
#  2. "Try a failover": every `sh` block of that README section, run verbatim in order (only the
#     state directory differs), then what they promise: west restored the shop, east got it back.
# Always stops what it started.
set -euo pipefail
cd "$(dirname "$0")/.."

export VRG_DEV_CLUSTER_DIR="${TMPDIR:-/tmp}/vrg-quickstart-check.$$"
trap './hack/dev-cluster.sh down >/dev/null 2>&1 || true' EXIT

# The README says `kubectl`; a machine without one uses the test control plane's.
if ! command -v kubectl >/dev/null 2>&1; then
  ./hack/testbin.sh >/dev/null
  kubectl_path="$(awk -F= '$1 == "KUBECTL" { print $2 }' "${VRG_TESTBIN_CACHE:-$HOME/.cache/vrg-operator/testbin}/env")"
  PATH="$(dirname "${kubectl_path}"):${PATH}"
fi

fail() {
  echo "quickstart: $*" >&2
  for log in "${VRG_DEV_CLUSTER_DIR}"/operator.log "${VRG_DEV_CLUSTER_DIR}"/*/operator.log; do
    [[ -f "${log}" ]] && { echo "--- ${log}" >&2; tail -n 40 "${log}" >&2; }
  done
  exit 1
}

# 1. One cluster.
./hack/dev-cluster.sh up
export KUBECONFIG="${VRG_DEV_CLUSTER_DIR}/kubeconfig"
start=$(date +%s)
if kubectl wait -n demo vrg/guestbook --for=condition=ClusterDataProtected --timeout=60s; then
  echo "quickstart: the example VRG's first capture completed in $(( $(date +%s) - start ))s"
  kubectl get vrg -n demo
  ls "${VRG_DEV_CLUSTER_DIR}/s3/dr-captures/backups" | grep -q . || fail "no capture in the bucket"
else
  kubectl get vrg -n demo -o yaml >&2 || true
  fail "no completed capture within 60s"
fi
unset KUBECONFIG

# 2. Two clusters: the README's commands, in order.
script="${VRG_DEV_CLUSTER_DIR}.failover.sh"
awk '/^## Try a failover/ { on = 1; next } /^## / { on = 0 }
     on && /^```sh$/ { code = 1; next } code && /^```$/ { code = 0; next } on && code' README.md \
  | sed "s#/tmp/vrg-dev-cluster#${VRG_DEV_CLUSTER_DIR}#g" >"${script}"
grep -q 'up --pair' "${script}" || fail "README's \"Try a failover\" has no commands"
start=$(date +%s)
(set -x; source "${script}") || fail "a \"Try a failover\" command failed"
rm -f "${script}"
echo "quickstart: the failover walk-through ran in $(( $(date +%s) - start ))s"
west="${VRG_DEV_CLUSTER_DIR}/west/kubeconfig"
east="${VRG_DEV_CLUSTER_DIR}/east/kubeconfig"
[[ "$(kubectl --kubeconfig "${west}" get configmap -n shop catalog -o jsonpath='{.data.items}')" == hat,scarf,gloves ]] \
  || fail "west did not restore the shop's catalog"
reason="$(kubectl --kubeconfig "${east}" get vrg -n shop shop -o jsonpath='{.status.conditions[?(@.type=="KubeObjectsReady")].reason}')"
[[ "${reason}" == Recovered ]] || fail "east's relocation ended ${reason:-without a KubeObjectsReady condition}"
kubectl --kubeconfig "${east}" get vrg -n shop shop -o yaml
