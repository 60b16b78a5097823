#!/usr/bin/env bash
# Builds RamenDR's dr-cluster operator, the benchmark peer of `vrg-bench --scenario peers`
# (BENCHMARKS.md), from the Go module proxy into the testbin cache. Benchmark-only: .ci/run never
# calls it. Nothing of Ramen is committed; its CRDs are read from the module cache at run time.
#
# The proxy serves only the tag v0.1.0-rc1 of github.com/ramendr/ramen. Its go.mod replaces
# github.com/ramendr/ramen/api with ./api, which the module zip leaves out (a nested module is not
# part of its parent's zip), so the build runs inside a writable copy of the module with the api
# module copied beside it.
#
# Usage: hack/ramen-peer.sh              build if missing; print RAMEN_MANAGER= and RAMEN_MODULE=
#        hack/ramen-peer.sh --print-env  print them without building (fails if absent)
# Environment: RAMEN_VERSION (default v0.1.0-rc1), VRG_TESTBIN_CACHE (as hack/testbin.sh).
set -euo pipefail

readonly RAMEN_VERSION="${RAMEN_VERSION:-v0.1.0-rc1}"
CACHE="${VRG_TESTBIN_CACHE:-${HOME}/.cache/vrg-operator/testbin}"
DEST="${CACHE}/ramen-${RAMEN_VERSION}"
ENV_FILE="${DEST}/env"

log() { printf 'ramen-peer: %s\n' "$*" >&2; }
die() { printf 'ramen-peer: ERROR: %s\n' "$*" >&2; exit 1; }

case "${1:-}" in
  "") ;;
  --print-env) [[ -f "${ENV_FILE}" ]] || die "${ENV_FILE} does not exist; run $0 first"
               cat "${ENV_FILE}"; exit 0 ;;
  -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
  *) die "unknown argument: $1 (see --help)" ;;
esac

if [[ -x "${DEST}/ramen-manager" && -f "${ENV_FILE}" ]]; then cat "${ENV_FILE}"; exit 0; fi
command -v go >/dev/null || die "go is not on PATH"
export GOTOOLCHAIN="${GOTOOLCHAIN:-local}" CGO_ENABLED=0 GOFLAGS="${GOFLAGS:--buildvcs=false}"

start=${SECONDS}
work="$(mktemp -d)"
trap 'rm -rf "${work}"' EXIT
# `go mod download -json` prints where the module landed in the module cache.
module_dir() { (cd "${work}" && go mod download -json "$1@${RAMEN_VERSION}") \
                 | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p'; }
(cd "${work}" && go mod init ramen-peer-download >/dev/null 2>&1)
root="$(module_dir github.com/ramendr/ramen)"
api="$(module_dir github.com/ramendr/ramen/api)"
[[ -d "${root}" && -d "${api}" ]] || die "the module proxy did not serve ramen ${RAMEN_VERSION}"
log "modules: ${root} and ${api}"

cp -r "${root}" "${work}/ramen" && cp -r "${api}" "${work}/ramen/api"
chmod -R u+w "${work}/ramen"
mkdir -p "${DEST}"
log "building github.com/ramendr/ramen/cmd ${RAMEN_VERSION} (several minutes on 2 cores)"
(cd "${work}/ramen" && go build -trimpath -o "${DEST}/ramen-manager.tmp" ./cmd)
mv "${DEST}/ramen-manager.tmp" "${DEST}/ramen-manager"
{ echo "RAMEN_MANAGER=${DEST}/ramen-manager"; echo "RAMEN_MODULE=${root}"; } > "${ENV_FILE}"
log "built in $((SECONDS - start)) s"
cat "${ENV_FILE}"
