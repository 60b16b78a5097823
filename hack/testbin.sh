#!/usr/bin/env bash
# Builds the real Kubernetes components the integration tests run against (see TESTING.md):
# kube-apiserver, kube-controller-manager, kube-scheduler, kubectl, etcd and kwok, plus kwok's stage
# configs and Velero's CRDs; helm (v3), with which tests/install.rs lints, renders and installs the
# chart; and the real DR data path: the Velero server, its AWS object-store plugin and versitygw
# (an Apache-2.0 S3 server that serves a directory), which the two-cluster tests run.
# Everything comes from the Go module proxy through the ordinary `go` command (no release-site
# downloads needed) and is built once per machine into a version-keyed cache.
#
# Usage: hack/testbin.sh              build what is missing, write <cache>/env, print it on stdout
#        hack/testbin.sh --print-env  print <cache>/env without building (fails if absent)
#        hack/testbin.sh --help
#
# Environment:
#   VRG_TESTBIN_CACHE   cache root (default: ~/.cache/vrg-operator/testbin)
#   VRG_TESTBIN_ASSETS  directory of prebuilt binaries, used instead of building when it holds
#                       kube-apiserver / kube-controller-manager / kubectl / etcd / kwok / helm;
#                       KUBEBUILDER_ASSETS (envtest) is used the same way if the former is unset
#   KUBE_VERSION        build exactly this k8s.io/kubernetes version (default: try v1.36.3,
#                       then v1.37.2, v1.35.4, v1.34.4 and keep the first that builds)
#   HELM_VERSION        build exactly this helm.sh/helm/v3 version (default: try v3.22.0, then
#                       v3.21.4, v3.20.2 and keep the first that builds)
#   ETCD_VERSION, KWOK_VERSION, VELERO_VERSION, VELERO_AWS_VERSION, VERSITYGW_VERSION
#                       override the pinned defaults
#
# Logs go to stderr; stdout carries only the env lines (KEY=/abs/path), so
# `source <(hack/testbin.sh)` works.
set -euo pipefail

# Pinned, not "latest": a re-run must not need the network, and CI must be reproducible.
readonly KUBE_CANDIDATES_DEFAULT="v1.36.3 v1.37.2 v1.35.4 v1.34.4"
readonly ETCD_VERSION="${ETCD_VERSION:-v3.6.16}"
readonly KWOK_VERSION="${KWOK_VERSION:-v0.8.0}"
readonly VELERO_VERSION="${VELERO_VERSION:-v1.18.3}"
readonly HELM_CANDIDATES_DEFAULT="v3.22.0 v3.21.4 v3.20.2"
readonly VELERO_AWS_VERSION="${VELERO_AWS_VERSION:-v1.14.3}"
readonly VERSITYGW_VERSION="${VERSITYGW_VERSION:-v1.8.0}"
# Velero's go.mod names k8s.io/cli-runtime v0.33.12, which the Go module proxy refuses (403,
# "not available"); the next patch release is served and builds. The wrapper requires it, and
# minimal version selection moves client-go/api/apimachinery to the matching patch release.
readonly VELERO_EXTRA_REQUIRES="${VELERO_EXTRA_REQUIRES:-k8s.io/cli-runtime v0.33.13}"

CACHE="${VRG_TESTBIN_CACHE:-${HOME}/.cache/vrg-operator/testbin}"
ASSETS="${VRG_TESTBIN_ASSETS:-${KUBEBUILDER_ASSETS:-}}"
ENV_FILE="${CACHE}/env"

log() { printf 'testbin: %s\n' "$*" >&2; }
die() { printf 'testbin: ERROR: %s\n' "$*" >&2; exit 1; }

case "${1:-}" in
  "") ;;
  --print-env)
    [[ -f "${ENV_FILE}" ]] || die "${ENV_FILE} does not exist; run $0 first"
    cat "${ENV_FILE}"
    exit 0 ;;
  -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
  *) die "unknown argument: $1 (see --help)" ;;
esac

command -v go >/dev/null || die "go is not on PATH; install Go >= 1.26 to build the test binaries"
# A dependency asking for a newer Go must fail loudly rather than fetch a toolchain behind our back.
export GOTOOLCHAIN="${GOTOOLCHAIN:-local}"
# Static binaries: no libc coupling, and the same cache works in any container of this machine.
export CGO_ENABLED=0

mkdir -p "${CACHE}"
CACHE="$(cd "${CACHE}" && pwd -P)"
ENV_FILE="${CACHE}/env"
# Two test runs starting at once must not build the same thing twice or see half a cache.
exec 9>"${CACHE}/.lock"
flock 9
# Holding the lock, any temporary left over is from a run that died midway: drop it.
find "${CACHE}" -maxdepth 2 -name '.*.tmp.*' -exec rm -rf {} +

declare -A RESULT=()   # env key -> absolute path
declare -a TIMINGS=()  # human-readable per-component summary
TOTAL_START=${SECONDS}

# prebuilt NAME: prints the path of an executable NAME in the assets directory, if any.
prebuilt() {
  [[ -n "${ASSETS}" && -x "${ASSETS}/$1" ]] || return 1
  (cd "${ASSETS}" && printf '%s/%s\n' "$(pwd -P)" "$1")
}

# local_replaces GOMOD PREFIX: module paths that GOMOD replaces with a local directory starting
# with PREFIX. Upstream go.mod files point sibling modules at their own source tree, which a
# published module cannot use, so the wrapper re-points them at the published versions.
local_replaces() {
  awk -v prefix="$2" '
    /^replace[ \t]*\($/ { inblock = 1; next }
    inblock && /^\)/    { inblock = 0; next }
    inblock || /^replace[ \t]/ {
      line = $0; sub(/^replace[ \t]+/, "", line); sub(/^[ \t]+/, "", line)
      n = split(line, f, /[ \t]+/)   # "old [version] => new [version]"
      for (i = 2; i < n; i++) if (f[i] == "=>") { if (index(f[i+1], prefix) == 1) print f[1]; break }
    }' "$1"
}

# go_directives GOMOD: the `go` and `godebug` lines (single or block form), because the GODEBUG
# defaults a binary is built with come from the main module, i.e. our wrapper.
go_directives() {
  awk '/^go[ \t]/ || /^godebug[ \t]+[^(]/ { print; next }
       /^godebug[ \t]*\($/ { inblock = 1 }
       inblock { print; if (/^\)/) inblock = 0 }' "$1"
}

# mod_field MODULE@VERSION FIELD: downloads the module and prints FIELD (GoMod, Dir) of
# `go mod download -json`, whose errors arrive inside the JSON rather than on stderr.
mod_field() {
  local json
  json="$(go mod download -json "$1" 2>&1)" || {
    printf '%s\n' "${json}" | awk -F'"' '$2 == "Error" { print "testbin: " $4 }' >&2
    log "cannot download $1"
    return 1
  }
  printf '%s\n' "${json}" | awk -F'"' -v f="$2" '$2 == f { print $4 }'
}

# build_into DIR NAME WORKDIR PKG [go build flags...]: builds PKG inside the wrapper module
# WORKDIR to a temporary name, then renames it, so an interrupted build never looks finished.
build_into() {
  local dir=$1 name=$2 work=$3 pkg=$4; shift 4
  local tmp="${dir}/.${name}.tmp.$$"
  mkdir -p "${dir}"
  if ! (cd "${work}" && go build -mod=mod -trimpath "$@" -o "${tmp}" "${pkg}"); then
    rm -f "${tmp}"
    return 1
  fi
  mv -f "${tmp}" "${dir}/${name}"
}

# timed LABEL CMD...: runs CMD, records how long it took under LABEL.
timed() {
  local label=$1 start=${SECONDS}; shift
  "$@" || return
  TIMINGS+=("$(printf '%-34s %5ss' "${label}" "$((SECONDS - start))")")
}

# ---- kube-apiserver, kube-controller-manager, kubectl (k8s.io/kubernetes) -------------------

# kube-scheduler: Velero clears spec.nodeName of the pods it restores, so they need a scheduler.
KUBE_BINS=(kube-apiserver kube-controller-manager kube-scheduler kubectl)
declare -A KUBE_KEYS=([kube-apiserver]=KUBE_APISERVER [kube-controller-manager]=KUBE_CONTROLLER_MANAGER
                      [kube-scheduler]=KUBE_SCHEDULER [kubectl]=KUBECTL)

# k/k's go.mod replaces its staging modules (k8s.io/api, ...) with ./staging paths, so
# `go install k8s.io/kubernetes/cmd/...@v` is refused; a wrapper module that requires k/k and
# re-points each staging module at its published v0.<minor>.<patch> tag builds it instead.
kube_wrapper() {
  local version=$1 work=$2 gomod staging mods m
  gomod="$(mod_field "k8s.io/kubernetes@${version}" GoMod)" || return 1
  [[ -f "${gomod}" ]] || { log "no go.mod for k8s.io/kubernetes@${version}"; return 1; }
  staging="v0.${version#v1.}"
  mods="$(local_replaces "${gomod}" ./staging/)"
  [[ -n "${mods}" ]] || { log "found no staging replaces in ${gomod}"; return 1; }
  mkdir -p "${work}"
  {
    echo "// Generated by hack/testbin.sh: builds k8s.io/kubernetes ${version} binaries."
    echo "module vrg-testbin/kubernetes"
    echo
    go_directives "${gomod}"
    echo
    echo "require k8s.io/kubernetes ${version}"
    echo
    echo "replace ("
    for m in ${mods}; do printf '\t%s => %s %s\n' "${m}" "${m}" "${staging}"; done
    echo ")"
  } >"${work}/go.mod"
  log "k8s.io/kubernetes ${version}: wrapper re-points $(wc -w <<<"${mods}") staging modules to ${staging}"
}

kube_ldflags() {
  local version=$1 minor flags="" pkg
  minor="${version#v1.}"; minor="${minor%%.*}"
  # Unstamped, the binaries report v0.0.0-master+$Format:...$ as their version (in /version and
  # to kubectl's skew check); stamping makes them report the release they were built from.
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    flags+=" -X ${pkg}.gitVersion=${version} -X ${pkg}.gitMajor=1 -X ${pkg}.gitMinor=${minor}"
    flags+=" -X ${pkg}.gitTreeState=clean"
  done
  printf '%s' "-s -w${flags}"
}

# kube_build VERSION: builds whatever of KUBE_BINS is missing for VERSION; fails on first error.
kube_build() {
  local version=$1 dir="${CACHE}/kubernetes-$1" work="${CACHE}/.work/kubernetes-$1" bin ldflags
  local need=()
  for bin in "${KUBE_BINS[@]}"; do
    [[ -x "${dir}/${bin}" ]] || need+=("${bin}")
  done
  [[ ${#need[@]} -gt 0 ]] || return 0
  kube_wrapper "${version}" "${work}" || return 1
  ldflags="$(kube_ldflags "${version}")"
  for bin in "${need[@]}"; do
    log "building ${bin} ${version} (cold builds take several minutes) ..."
    timed "${bin} ${version}" build_into "${dir}" "${bin}" "${work}" \
      "k8s.io/kubernetes/cmd/${bin}" -ldflags "${ldflags}" || {
      log "FAILED to build ${bin} from k8s.io/kubernetes ${version}"
      return 1
    }
  done
}

ensure_kube() {
  local bin version p candidates=() missing=()
  for bin in "${KUBE_BINS[@]}"; do
    if p="$(prebuilt "${bin}")"; then
      RESULT[${KUBE_KEYS[${bin}]}]="${p}"; log "${bin}: using prebuilt ${p}"
    else
      missing+=("${bin}")
    fi
  done
  [[ ${#missing[@]} -gt 0 ]] || return 0
  KUBE_BINS=("${missing[@]}")

  if [[ -n "${KUBE_VERSION:-}" ]]; then
    candidates=("${KUBE_VERSION}")
  else
    read -r -a candidates <<<"${KUBE_CANDIDATES_DEFAULT}"
  fi
  # Prefer a version that is already fully built, so a fallback chosen once is not retried
  # (and failed again) on every run.
  local chosen=""
  for version in "${candidates[@]}"; do
    local complete=1
    for bin in "${KUBE_BINS[@]}"; do [[ -x "${CACHE}/kubernetes-${version}/${bin}" ]] || complete=0; done
    if [[ ${complete} -eq 1 ]]; then chosen="${version}"; break; fi
  done
  if [[ -z "${chosen}" ]]; then
    local tried=()
    for version in "${candidates[@]}"; do
      tried+=("${version}")
      if kube_build "${version}"; then chosen="${version}"; break; fi
      log "k8s.io/kubernetes ${version} failed with $(go env GOVERSION) (see above)"
    done
    [[ -n "${chosen}" ]] || die "kube-apiserver/kube-controller-manager/kubectl: no k8s.io/kubernetes version built (tried: ${tried[*]}); see the errors above"
  else
    log "k8s.io/kubernetes ${chosen}: cached"
  fi
  RESULT[KUBE_VERSION]="${chosen}"
  for bin in "${KUBE_BINS[@]}"; do
    RESULT[${KUBE_KEYS[${bin}]}]="${CACHE}/kubernetes-${chosen}/${bin}"
  done
}

# ---- etcd (go.etcd.io/etcd/server/v3) --------------------------------------------------------

# The server module is itself package main, but its go.mod points the sibling etcd modules at
# ../api, ../client/... ; the wrapper pins them to the same published version instead.
ensure_etcd() {
  local dir="${CACHE}/etcd-${ETCD_VERSION}" work="${CACHE}/.work/etcd-${ETCD_VERSION}" p gomod m
  if p="$(prebuilt etcd)"; then RESULT[ETCD]="${p}"; log "etcd: using prebuilt ${p}"; return 0; fi
  RESULT[ETCD_VERSION]="${ETCD_VERSION}"
  RESULT[ETCD]="${dir}/etcd"
  if [[ -x "${dir}/etcd" ]]; then log "etcd ${ETCD_VERSION}: cached"; return 0; fi
  log "building etcd ${ETCD_VERSION} ..."
  gomod="$(mod_field "go.etcd.io/etcd/server/v3@${ETCD_VERSION}" GoMod)" && [[ -f "${gomod}" ]] ||
    die "etcd: cannot download go.etcd.io/etcd/server/v3@${ETCD_VERSION}"
  mkdir -p "${work}"
  {
    echo "// Generated by hack/testbin.sh: builds etcd ${ETCD_VERSION}."
    echo "module vrg-testbin/etcd"
    echo
    go_directives "${gomod}"
    echo
    echo "require go.etcd.io/etcd/server/v3 ${ETCD_VERSION}"
    echo
    echo "replace ("
    for m in $(local_replaces "${gomod}" ../); do printf '\t%s => %s %s\n' "${m}" "${m}" "${ETCD_VERSION}"; done
    echo ")"
  } >"${work}/go.mod"
  timed "etcd ${ETCD_VERSION}" build_into "${dir}" etcd "${work}" go.etcd.io/etcd/server/v3 -ldflags "-s -w" ||
    die "etcd: FAILED to build go.etcd.io/etcd/server/v3 ${ETCD_VERSION}; see the errors above"
}

# ---- kwok (sigs.k8s.io/kwok) and its stage configs -------------------------------------------

# Stages kwok needs to move nodes to Ready and pods through Running/Succeeded/deletion; without
# any it refuses to start ("no stages found"). Copied to a fixed path so the harness need not
# know the module cache layout.
KWOK_STAGE_FILES=(
  node/fast/node-initialize.yaml
  node/heartbeat-with-lease/node-heartbeat-with-lease.yaml
  pod/fast/pod-ready.yaml
  pod/fast/pod-complete.yaml
  pod/fast/pod-delete.yaml
)

kwok_install() {
  local dir=$1 tmp="$1/.kwok.tmp.$$" goflags="${GOFLAGS:-}"
  mkdir -p "${tmp}"
  # `go install m@v` works here (kwok's go.mod has no local replaces); -mod is not allowed with it.
  goflags="${goflags//-mod=mod/}"
  if ! GOFLAGS="${goflags}" GOBIN="${tmp}" \
      go install -trimpath -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/kwok@${KWOK_VERSION}"; then
    rm -rf "${tmp}"; return 1
  fi
  mv -f "${tmp}/kwok" "${dir}/kwok"
  rm -rf "${tmp}"
}

ensure_kwok() {
  local dir="${CACHE}/kwok-${KWOK_VERSION}" p moddir f tmp
  RESULT[KWOK_VERSION]="${KWOK_VERSION}"
  if p="$(prebuilt kwok)"; then
    RESULT[KWOK]="${p}"; log "kwok: using prebuilt ${p}"
  else
    RESULT[KWOK]="${dir}/kwok"
    if [[ -x "${dir}/kwok" ]]; then
      log "kwok ${KWOK_VERSION}: cached"
    else
      log "building kwok ${KWOK_VERSION} ..."
      mkdir -p "${dir}"
      timed "kwok ${KWOK_VERSION}" kwok_install "${dir}" ||
        die "kwok: FAILED to build sigs.k8s.io/kwok/cmd/kwok@${KWOK_VERSION}; see the errors above"
    fi
  fi

  RESULT[KWOK_STAGES]="${dir}/stages"
  if [[ -d "${dir}/stages" ]]; then return 0; fi
  moddir="$(mod_field "sigs.k8s.io/kwok@${KWOK_VERSION}" Dir)" || die "kwok: cannot download sigs.k8s.io/kwok@${KWOK_VERSION}"
  [[ -d "${moddir}/kustomize/stage" ]] || die "kwok: no kustomize/stage in module sigs.k8s.io/kwok@${KWOK_VERSION}"
  mkdir -p "${dir}"
  tmp="$(mktemp -d "${dir}/.stages.tmp.XXXXXX")"
  for f in "${KWOK_STAGE_FILES[@]}"; do
    [[ -f "${moddir}/kustomize/stage/${f}" ]] || { rm -rf "${tmp}"; die "kwok: stage ${f} missing from sigs.k8s.io/kwok@${KWOK_VERSION}"; }
    install -m 0644 "${moddir}/kustomize/stage/${f}" "${tmp}/"
  done
  chmod 0755 "${tmp}"
  mv "${tmp}" "${dir}/stages"
  log "kwok stages: ${dir}/stages"
}

# ---- Velero CRDs (github.com/vmware-tanzu/velero) --------------------------------------------

# v1 (Backup, Restore, ...) and v2alpha1 (DataUpload, DataDownload): the server refuses to start
# without the latter, even when no volume data moves.
ensure_velero_crds() {
  local dir="${CACHE}/velero-crds-${VELERO_VERSION}" moddir tmp
  RESULT[VELERO_VERSION]="${VELERO_VERSION}"
  RESULT[VELERO_CRDS]="${dir}"
  if [[ -f "${dir}/velero.io_datauploads.yaml" ]]; then log "velero CRDs ${VELERO_VERSION}: cached"; return 0; fi
  rm -rf "${dir}"   # a cache from before the v2alpha1 CRDs were copied
  moddir="$(mod_field "github.com/vmware-tanzu/velero@${VELERO_VERSION}" Dir)" ||
    die "velero CRDs: cannot download github.com/vmware-tanzu/velero@${VELERO_VERSION}"
  [[ -d "${moddir}/config/crd/v1/bases" ]] ||
    die "velero CRDs: no config/crd/v1/bases in github.com/vmware-tanzu/velero@${VELERO_VERSION}"
  tmp="$(mktemp -d "${CACHE}/.velero-crds.tmp.XXXXXX")"
  install -m 0644 "${moddir}"/config/crd/v1/bases/*.yaml "${moddir}"/config/crd/v2alpha1/bases/*.yaml "${tmp}/"
  chmod 0755 "${tmp}"
  mv "${tmp}" "${dir}"
  log "velero CRDs: ${dir}"
}

# ---- helm (helm.sh/helm/v3) ------------------------------------------------------------------

# helm_install VERSION DIR: `go install` works (helm's go.mod has no local replaces). The ldflags
# are those of helm's Makefile: without them `helm version` says v3.NN without the patch, and
# `.Capabilities.KubeVersion` (used by `helm template` and `helm lint`) defaults to v1.20.
helm_install() {
  local version=$1 dir=$2 tmp="$2/.helm.tmp.$$" goflags="${GOFLAGS:-}" gomod client_go minor pkg
  local ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=${version}"
  gomod="$(mod_field "helm.sh/helm/v3@${version}" GoMod)" && [[ -f "${gomod}" ]] || return 1
  client_go="$(awk '$1 == "k8s.io/client-go" { print $2; exit }' "${gomod}")"   # v0.MINOR.PATCH
  if [[ "${client_go}" =~ ^v0\.([0-9]+)\. ]]; then
    minor="${BASH_REMATCH[1]}"
    for pkg in helm.sh/helm/v3/pkg/chartutil helm.sh/helm/v3/pkg/lint/rules; do
      ldflags+=" -X ${pkg}.k8sVersionMajor=1 -X ${pkg}.k8sVersionMinor=${minor}"
    done
  fi
  mkdir -p "${tmp}"
  goflags="${goflags//-mod=mod/}"   # -mod is not allowed with `go install m@v`
  if ! GOFLAGS="${goflags}" GOBIN="${tmp}" \
      go install -trimpath -ldflags "${ldflags}" "helm.sh/helm/v3/cmd/helm@${version}"; then
    rm -rf "${tmp}"; return 1
  fi
  mv -f "${tmp}/helm" "${dir}/helm"
  rm -rf "${tmp}"
}

ensure_helm() {
  local p version candidates=() tried=() chosen=""
  if p="$(prebuilt helm)"; then RESULT[HELM]="${p}"; log "helm: using prebuilt ${p}"; return 0; fi
  if [[ -n "${HELM_VERSION:-}" ]]; then
    candidates=("${HELM_VERSION}")
  else
    read -r -a candidates <<<"${HELM_CANDIDATES_DEFAULT}"
  fi
  # As for Kubernetes: a version already built wins, so a fallback is not retried every run.
  for version in "${candidates[@]}"; do
    if [[ -x "${CACHE}/helm-${version}/helm" ]]; then chosen="${version}"; break; fi
  done
  if [[ -n "${chosen}" ]]; then
    log "helm ${chosen}: cached"
  else
    for version in "${candidates[@]}"; do
      tried+=("${version}")
      log "building helm ${version} ..."
      mkdir -p "${CACHE}/helm-${version}"
      if timed "helm ${version}" helm_install "${version}" "${CACHE}/helm-${version}"; then
        chosen="${version}"; break
      fi
      rmdir "${CACHE}/helm-${version}" 2>/dev/null || true
      log "helm ${version} failed with $(go env GOVERSION) (see above)"
    done
    [[ -n "${chosen}" ]] || die "helm: no helm.sh/helm/v3 version built (tried: ${tried[*]}); see the errors above"
  fi
  RESULT[HELM_VERSION]="${chosen}"
  RESULT[HELM]="${CACHE}/helm-${chosen}/helm"
}

# ---- Velero server, its AWS plugin, versitygw ------------------------------------------------

# module_replaces GOMOD: the replace directives of GOMOD that point at published modules (not at
# local paths), one "old [v] => new v" per line, for a wrapper module to carry.
module_replaces() {
  awk '
    /^replace[ \t]*\($/ { inblock = 1; next }
    inblock && /^\)/    { inblock = 0; next }
    inblock || /^replace[ \t]/ {
      line = $0; sub(/^replace[ \t]+/, "", line); sub(/^[ \t]+/, "", line)
      n = split(line, f, /[ \t]+/)
      for (i = 2; i < n; i++) if (f[i] == "=>") { if (f[i+1] !~ /^\.\.?\//) print line; break }
    }' "$1"
}

# The Velero server runs out of cluster as a plain process, one per test control plane. Its go.mod
# replaces kopia with Velero's fork, which `go install m@v` refuses, so it builds in a wrapper that
# carries the replace. Two linker settings make it fit the harness without touching its source:
# - controller-runtime's metrics listener defaults to ":8080" on every interface, and Velero has no
#   flag for it, so a second Velero on one host died with "address already in use". The default
#   is a package variable: "0" turns that listener off (Velero's own --metrics-address still works).
# - buildinfo.Version, so `velero version` and the server's logs name the release.
ensure_velero() {
  local dir="${CACHE}/velero-${VELERO_VERSION}" work="${CACHE}/.work/velero-${VELERO_VERSION}" p gomod
  if p="$(prebuilt velero)"; then RESULT[VELERO]="${p}"; log "velero: using prebuilt ${p}"; return 0; fi
  RESULT[VELERO]="${dir}/velero"
  if [[ -x "${dir}/velero" ]]; then log "velero ${VELERO_VERSION}: cached"; return 0; fi
  log "building velero ${VELERO_VERSION} (cold: about 12 minutes on 2 cores) ..."
  gomod="$(mod_field "github.com/vmware-tanzu/velero@${VELERO_VERSION}" GoMod)" && [[ -f "${gomod}" ]] ||
    die "velero: cannot download github.com/vmware-tanzu/velero@${VELERO_VERSION}"
  mkdir -p "${work}"
  {
    echo "// Generated by hack/testbin.sh: builds the Velero server ${VELERO_VERSION}."
    echo "module vrg-testbin/velero"
    echo
    go_directives "${gomod}" | grep -v '^toolchain'
    echo
    echo "require github.com/vmware-tanzu/velero ${VELERO_VERSION}"
    [[ -z "${VELERO_EXTRA_REQUIRES}" ]] || echo "require ${VELERO_EXTRA_REQUIRES}"
    echo
    module_replaces "${gomod}" | sed 's/^/replace /'
  } >"${work}/go.mod"
  local ldflags="-s -w -X github.com/vmware-tanzu/velero/pkg/buildinfo.Version=${VELERO_VERSION}"
  ldflags+=" -X sigs.k8s.io/controller-runtime/pkg/metrics/server.DefaultBindAddress=0"
  timed "velero ${VELERO_VERSION}" build_into "${dir}" velero "${work}" \
    github.com/vmware-tanzu/velero/cmd/velero -ldflags "${ldflags}" ||
    die "velero: FAILED to build github.com/vmware-tanzu/velero ${VELERO_VERSION}; see the errors above"
}

# go_install_into DIR NAME PKG@VERSION: `go install` of a module without local replaces into DIR.
go_install_into() {
  local dir=$1 name=$2 pkg=$3 tmp="$1/.$2.tmp.$$" goflags="${GOFLAGS:-}"
  mkdir -p "${tmp}"
  goflags="${goflags//-mod=mod/}"   # -mod is not allowed with `go install m@v`
  if ! GOFLAGS="${goflags}" GOBIN="${tmp}" go install -trimpath -ldflags "-s -w" "${pkg}"; then
    rm -rf "${tmp}"; return 1
  fi
  mv -f "${tmp}/${name}" "${dir}/${name}"
  rm -rf "${tmp}"
}

# The object-store plugin lives in a plugin directory of its own: Velero runs every executable it
# finds there.
ensure_velero_aws() {
  local dir="${CACHE}/velero-plugin-for-aws-${VELERO_AWS_VERSION}" p
  RESULT[VELERO_AWS_VERSION]="${VELERO_AWS_VERSION}"
  if p="$(prebuilt velero-plugin-for-aws)"; then
    mkdir -p "${CACHE}/velero-plugins-prebuilt"; ln -sf "${p}" "${CACHE}/velero-plugins-prebuilt/"
    RESULT[VELERO_PLUGINS]="${CACHE}/velero-plugins-prebuilt"; return 0
  fi
  RESULT[VELERO_PLUGINS]="${dir}"
  if [[ -x "${dir}/velero-plugin-for-aws" ]]; then log "velero-plugin-for-aws ${VELERO_AWS_VERSION}: cached"; return 0; fi
  log "building velero-plugin-for-aws ${VELERO_AWS_VERSION} (cold: about 10 minutes) ..."
  timed "velero-plugin-for-aws ${VELERO_AWS_VERSION}" go_install_into "${dir}" velero-plugin-for-aws \
    "github.com/vmware-tanzu/velero-plugin-for-aws/velero-plugin-for-aws@${VELERO_AWS_VERSION}" ||
    die "velero-plugin-for-aws: FAILED to build ${VELERO_AWS_VERSION}; see the errors above"
}

ensure_versitygw() {
  local dir="${CACHE}/versitygw-${VERSITYGW_VERSION}" p
  RESULT[VERSITYGW_VERSION]="${VERSITYGW_VERSION}"
  if p="$(prebuilt versitygw)"; then RESULT[VERSITYGW]="${p}"; return 0; fi
  RESULT[VERSITYGW]="${dir}/versitygw"
  if [[ -x "${dir}/versitygw" ]]; then log "versitygw ${VERSITYGW_VERSION}: cached"; return 0; fi
  log "building versitygw ${VERSITYGW_VERSION} ..."
  timed "versitygw ${VERSITYGW_VERSION}" go_install_into "${dir}" versitygw \
    "github.com/versity/versitygw/cmd/versitygw@${VERSITYGW_VERSION}" ||
    die "versitygw: FAILED to build ${VERSITYGW_VERSION}; see the errors above"
}

# ---- main -------------------------------------------------------------------------------------

log "cache: ${CACHE}  ($(go env GOVERSION), GOTOOLCHAIN=${GOTOOLCHAIN})"
if [[ -n "${ASSETS}" ]]; then log "prebuilt assets: ${ASSETS}"; fi

ensure_kube
ensure_etcd
ensure_kwok
ensure_velero_crds
ensure_helm
ensure_versitygw
ensure_velero_aws
ensure_velero

tmp_env="$(mktemp "${CACHE}/.env.tmp.XXXXXX")"
for key in KUBE_APISERVER KUBE_CONTROLLER_MANAGER KUBE_SCHEDULER KUBECTL ETCD KWOK KWOK_STAGES \
           VELERO_CRDS HELM VELERO VELERO_PLUGINS VERSITYGW \
           KUBE_VERSION ETCD_VERSION KWOK_VERSION VELERO_VERSION HELM_VERSION VELERO_AWS_VERSION \
           VERSITYGW_VERSION; do
  if [[ -n "${RESULT[${key}]:-}" ]]; then printf '%s=%s\n' "${key}" "${RESULT[${key}]}"; fi
done >"${tmp_env}"
chmod 0644 "${tmp_env}"
mv -f "${tmp_env}" "${ENV_FILE}"

for t in "${TIMINGS[@]}"; do log "built ${t}"; done
log "done in $((SECONDS - TOTAL_START))s; env file: ${ENV_FILE}"
cat "${ENV_FILE}"
