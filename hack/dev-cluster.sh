#!/usr/bin/env bash
# vrg-operator on local Kubernetes clusters, without a cluster of your own. Each cluster is etcd,
# kube-apiserver, kube-controller-manager, kube-scheduler and kwok (one fake node whose pods run and
# whose `kubectl exec` runs commands on this machine) on 127.0.0.1, with vrg-operator's and
# Velero's CRDs, a real Velero server (v1.18.3, AWS plugin) in namespace `velero` with the storage
# locations `default` and `secondary-site`, and vrg-operator running. Captures go to one S3 bucket
# (versitygw) whose objects are files under $STATE/s3/dr-captures.
#
#   ./hack/dev-cluster.sh up         one cluster, with the example VRG examples/vrg-default-recipe.yaml
#                                    applied in namespace `demo` ($STATE/kubeconfig)
#   ./hack/dev-cluster.sh up --pair  two clusters, east and west, sharing the bucket
#                                    ($STATE/east/kubeconfig, $STATE/west/kubeconfig)
#   ./hack/dev-cluster.sh status     say whether it runs, and where
#   ./hack/dev-cluster.sh down       stop every process and remove its files
#
# $STATE is $VRG_DEV_CLUSTER_DIR, by default /tmp/vrg-dev-cluster.
set -euo pipefail
cd "$(dirname "$0")/.."

STATE="${VRG_DEV_CLUSTER_DIR:-${TMPDIR:-/tmp}/vrg-dev-cluster}"

alive() { [[ -f "${STATE}/$1.pid" ]] && kill -0 "$(cat "${STATE}/$1.pid")" 2>/dev/null; }
field() { awk -F= -v k="$1" '$1 == k { print $2 }' "${STATE}/ready"; }
# The clusters `up` started: "local" alone, "east west" for a pair.
clusters() { if [[ -f "${STATE}/pair" ]]; then echo east west; else echo local; fi; }

kubectl_bin() {
  if command -v kubectl >/dev/null 2>&1; then echo kubectl; else
    awk -F= '$1 == "KUBECTL" { print $2 }' "${VRG_TESTBIN_CACHE:-$HOME/.cache/vrg-operator/testbin}/env"
  fi
}

usage() {
  local kubectl
  kubectl="$(kubectl_bin)"
  if [[ -f "${STATE}/pair" ]]; then
    cat <<TXT
Up in $(field startup_seconds)s: two clusters sharing the bucket $(field bucket)
  east: $(field east_server), Velero log $(field east_velero_log), operator log ${STATE}/east/operator.log
  west: $(field west_server), Velero log $(field west_velero_log), operator log ${STATE}/west/operator.log

  export EAST=${STATE}/east/kubeconfig WEST=${STATE}/west/kubeconfig
  ${kubectl} --kubeconfig \$EAST get vrg -A

Stop them with: ./hack/dev-cluster.sh down
TXT
  else
    cat <<TXT
Up in $(field startup_seconds)s: control plane at $(field server), Velero in namespace velero (log
$(field velero_log)), vrg-operator running (log: ${STATE}/operator.log), example VRG in
namespace demo; captures land in the bucket $(field bucket).

  export KUBECONFIG=${STATE}/kubeconfig
  ${kubectl} get vrg -n demo -w

Stop it with: ./hack/dev-cluster.sh down
TXT
  fi
}

stop() {
  local name="$1" pid
  alive "${name}" || return 0
  pid="$(cat "${STATE}/${name}.pid")"
  kill "${pid}"
  for _ in $(seq 1 100); do kill -0 "${pid}" 2>/dev/null || return 0; sleep 0.1; done
  kill -9 "${pid}" 2>/dev/null || true
}

stop_all() {
  local c
  if [[ -d "${STATE}" ]]; then for c in $(clusters); do stop "operator-${c}"; done; fi
  stop control-plane
}

# The operator of cluster $1, with the kubeconfig in $2, logging to $3.
start_operator() {
  KUBECONFIG="$2" setsid nohup target/debug/vrg-operator run --velero-namespace velero \
    --metrics-address 127.0.0.1:0 >"$3" 2>&1 </dev/null &
  echo $! >"${STATE}/operator-$1.pid"
}

up() {
  local pair="$1" c
  ./hack/testbin.sh >/dev/null
  cargo build --quiet -p vrg-testenv --bin vrg-testenv
  # The operator, and the kubectl plugin the walkthroughs use (kubectl finds it on PATH).
  cargo build --quiet --bin vrg-operator --bin kubectl-vrg
  stop_all
  rm -rf "${STATE}" && mkdir -p "${STATE}"
  local serve=(target/debug/vrg-testenv serve "${STATE}")
  if [[ "${pair}" == yes ]]; then touch "${STATE}/pair"; serve=(target/debug/vrg-testenv serve --pair "${STATE}"); fi
  # setsid: everything outlives this shell; the clusters' components die with vrg-testenv.
  setsid nohup "${serve[@]}" >"${STATE}/control-plane.log" 2>&1 </dev/null &
  echo $! >"${STATE}/control-plane.pid"
  for _ in $(seq 1 3000); do
    [[ -f "${STATE}/ready" ]] && break
    alive control-plane || { echo "the clusters failed to start:" >&2; cat "${STATE}/control-plane.log" >&2; exit 1; }
    sleep 0.1
  done
  [[ -f "${STATE}/ready" ]] || { echo "the clusters did not start within 300s; see ${STATE}/control-plane.log" >&2; exit 1; }
  if [[ "${pair}" == yes ]]; then
    for c in east west; do start_operator "${c}" "${STATE}/${c}/kubeconfig" "${STATE}/${c}/operator.log"; done
  else
    start_operator local "${STATE}/kubeconfig" "${STATE}/operator.log"
    local kubectl
    kubectl="$(kubectl_bin)"
    "${kubectl}" --kubeconfig "${STATE}/kubeconfig" create namespace demo >/dev/null
    "${kubectl}" --kubeconfig "${STATE}/kubeconfig" apply -n demo -f examples/vrg-default-recipe.yaml >/dev/null
  fi
  usage
}

running() {
  local c
  alive control-plane || return 1
  for c in $(clusters); do alive "operator-${c}" || return 1; done
}

case "${1:-}" in
  up)
    pair=no
    case "${2:-}" in
      "") ;;
      --pair) pair=yes ;;
      *) echo "unknown option ${2}: up takes --pair or nothing" >&2; exit 2 ;;
    esac
    # Already up as asked: say where; up the other way: start again.
    was=no; [[ -f "${STATE}/pair" ]] && was=yes
    if running && [[ "${was}" == "${pair}" ]]; then usage; exit 0; fi
    up "${pair}"
    ;;
  status)
    if alive control-plane && [[ -f "${STATE}/ready" ]]; then
      usage
      for c in $(clusters); do
        alive "operator-${c}" || echo "(the ${c} operator is not running: see its operator.log)"
      done
    else
      echo "not running"; exit 1
    fi
    ;;
  down)
    stop_all
    if [[ -f "${STATE}/ready" ]]; then
      for dir in $(awk -F= '$1 ~ /(^|_)dir$/ { print $2 }' "${STATE}/ready"); do rm -rf "${dir}"; done
    fi
    rm -rf "${STATE}"
    echo "stopped"
    ;;
  *)
    sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
    ;;
esac
