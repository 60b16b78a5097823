#!/usr/bin/env bash
# vrg-operator on a local Kubernetes control plane, without a cluster of your own: etcd,
# kube-apiserver, kube-controller-manager and kwok (one fake node whose pods run and whose
# `kubectl exec` runs commands on this machine), all on 127.0.0.1, with vrg-operator's and
# Velero's CRDs installed, a STAND-IN for the Velero server in namespace `velero` (it completes
# Backups and Restores without storing anything: it is not Velero), the operator running, and the
# example VRG examples/vrg-default-recipe.yaml applied in namespace `demo`.
#
#   ./hack/dev-cluster.sh up       build what is missing (once), start everything in the background
#   ./hack/dev-cluster.sh status   say whether it runs, and where
#   ./hack/dev-cluster.sh down     stop every process and remove its files
set -euo pipefail
cd "$(dirname "$0")/.."

STATE="${VRG_DEV_CLUSTER_DIR:-${TMPDIR:-/tmp}/vrg-dev-cluster}"

alive() { [[ -f "${STATE}/$1.pid" ]] && kill -0 "$(cat "${STATE}/$1.pid")" 2>/dev/null; }
field() { awk -F= -v k="$1" '$1 == k { print $2 }' "${STATE}/ready"; }

kubectl_bin() {
  if command -v kubectl >/dev/null 2>&1; then echo kubectl; else
    awk -F= '$1 == "KUBECTL" { print $2 }' "${VRG_TESTBIN_CACHE:-$HOME/.cache/vrg-operator/testbin}/env"
  fi
}

usage() {
  cat <<TXT
Up: control plane at $(field server) (started in $(field startup_seconds)s), Velero stand-in in
namespace velero, vrg-operator running (log: ${STATE}/operator.log), example VRG in namespace demo.

  export KUBECONFIG=${STATE}/kubeconfig
  $(kubectl_bin) get vrg -n demo -w

Stop it with: ./hack/dev-cluster.sh down
TXT
}

stop() {
  local name="$1" pid
  alive "${name}" || return 0
  pid="$(cat "${STATE}/${name}.pid")"
  kill "${pid}"
  for _ in $(seq 1 100); do kill -0 "${pid}" 2>/dev/null || return 0; sleep 0.1; done
  kill -9 "${pid}" 2>/dev/null || true
}

case "${1:-}" in
  up)
    if alive control-plane && alive operator; then usage; exit 0; fi
    ./hack/testbin.sh >/dev/null
    cargo build --quiet -p vrg-testenv --bin vrg-testenv
    cargo build --quiet --bin vrg-operator
    stop operator; stop control-plane
    rm -rf "${STATE}" && mkdir -p "${STATE}"
    # setsid: everything outlives this shell; the control plane's components die with vrg-testenv.
    setsid nohup target/debug/vrg-testenv serve "${STATE}" >"${STATE}/control-plane.log" 2>&1 </dev/null &
    echo $! >"${STATE}/control-plane.pid"
    for _ in $(seq 1 1200); do
      [[ -f "${STATE}/ready" ]] && break
      alive control-plane || { echo "the control plane failed to start:" >&2; cat "${STATE}/control-plane.log" >&2; exit 1; }
      sleep 0.1
    done
    [[ -f "${STATE}/ready" ]] || { echo "the control plane did not start within 120s; see ${STATE}/control-plane.log" >&2; exit 1; }
    export KUBECONFIG="${STATE}/kubeconfig"
    setsid nohup target/debug/vrg-operator run --velero-namespace velero --metrics-address 127.0.0.1:0 >"${STATE}/operator.log" 2>&1 </dev/null &
    echo $! >"${STATE}/operator.pid"
    kubectl="$(kubectl_bin)"
    "${kubectl}" create namespace demo >/dev/null
    "${kubectl}" apply -n demo -f examples/vrg-default-recipe.yaml >/dev/null
    usage
    ;;
  status)
    if alive control-plane; then
      usage
      alive operator || echo "(the operator is not running: see ${STATE}/operator.log)"
    else
      echo "not running"; exit 1
    fi
    ;;
  down)
    stop operator
    stop control-plane
    if [[ -f "${STATE}/ready" ]]; then dir="$(field dir)"; [[ -n "${dir}" ]] && rm -rf "${dir}"; fi
    rm -rf "${STATE}"
    echo "stopped"
    ;;
  *)
    sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
    ;;
esac
