#!/usr/bin/env bash
# A local Kubernetes control plane for running vrg-operator without a cluster of your own:
# etcd, kube-apiserver, kube-controller-manager and kwok (one fake node whose pods run and whose
# `kubectl exec` runs commands on this machine), all on 127.0.0.1, with vrg-operator's and
# Velero's CRDs installed.
#
#   ./hack/dev-cluster.sh up       build what is missing (once), start in the background, print how to use it
#   ./hack/dev-cluster.sh status   say whether it runs, and where
#   ./hack/dev-cluster.sh down     stop every process and remove its files
set -euo pipefail
cd "$(dirname "$0")/.."

STATE="${VRG_DEV_CLUSTER_DIR:-${TMPDIR:-/tmp}/vrg-dev-cluster}"

running() { [[ -f "${STATE}/pid" ]] && kill -0 "$(cat "${STATE}/pid")" 2>/dev/null; }

usage() {
  local kubectl="kubectl"
  command -v kubectl >/dev/null 2>&1 || kubectl="$(awk -F= '$1 == "KUBECTL" { print $2 }' "${VRG_TESTBIN_CACHE:-$HOME/.cache/vrg-operator/testbin}/env")"
  cat <<TXT
Control plane up: $(awk -F= '$1 == "server" { print $2 }' "${STATE}/ready") (started in $(awk -F= '$1 == "startup_seconds" { print $2 }' "${STATE}/ready")s)

  export KUBECONFIG=${STATE}/kubeconfig
  ${kubectl} get nodes

Stop it with: ./hack/dev-cluster.sh down      (logs: ${STATE}/log and $(awk -F= '$1 == "dir" { print $2 }' "${STATE}/ready"))
TXT
}

case "${1:-}" in
  up)
    if running; then usage; exit 0; fi
    ./hack/testbin.sh >&2
    cargo build --quiet -p vrg-testenv --bin vrg-testenv
    rm -rf "${STATE}" && mkdir -p "${STATE}"
    # setsid: the control plane outlives this shell; its components die with vrg-testenv.
    setsid nohup target/debug/vrg-testenv serve "${STATE}" >"${STATE}/log" 2>&1 </dev/null &
    echo $! >"${STATE}/pid"
    for _ in $(seq 1 1200); do
      [[ -f "${STATE}/ready" ]] && { usage; exit 0; }
      running || { echo "the control plane failed to start:" >&2; cat "${STATE}/log" >&2; exit 1; }
      sleep 0.1
    done
    echo "the control plane did not start within 120s; see ${STATE}/log" >&2
    exit 1
    ;;
  status)
    if running; then usage; else echo "not running"; exit 1; fi
    ;;
  down)
    if running; then
      pid="$(cat "${STATE}/pid")"
      kill "${pid}"
      for _ in $(seq 1 100); do kill -0 "${pid}" 2>/dev/null || break; sleep 0.1; done
      kill -9 "${pid}" 2>/dev/null || true
    fi
    dir="$(awk -F= '$1 == "dir" { print $2 }' "${STATE}/ready" 2>/dev/null || true)"
    [[ -n "${dir}" ]] && rm -rf "${dir}"
    rm -rf "${STATE}"
    echo "stopped"
    ;;
  *)
    sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
    ;;
esac
