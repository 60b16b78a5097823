#!/usr/bin/env bash
# Builds the `kubectl vrg` release archive for each target given (default: this machine's) and
# prints krew/vrg.yaml with the version and the archives' SHA256 filled in. Archives land in
# target/krew/. Usage: hack/krew-manifest.sh [TARGET...], e.g. x86_64-unknown-linux-gnu.
set -euo pipefail
cd "$(dirname "$0")/.."

version="$(awk -F'"' '/^version = / { print $2; exit }' Cargo.toml)"
targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=("$(rustc -vV | awk '/^host:/ { print $2 }')")
mkdir -p target/krew
declare -A sums
for target in "${targets[@]}"; do
  case "${target}" in
    x86_64-unknown-linux-*) platform=linux-amd64 ;;
    aarch64-unknown-linux-*) platform=linux-arm64 ;;
    aarch64-apple-darwin) platform=darwin-arm64 ;;
    *) echo "krew-manifest: no krew platform for ${target}" >&2; exit 2 ;;
  esac
  cargo build --quiet --release --locked --bin kubectl-vrg --target "${target}"
  archive="target/krew/kubectl-vrg-${platform}.tar.gz"
  tar -C "target/${target}/release" -czf "${archive}" kubectl-vrg
  sums[${platform}]="$(sha256sum "${archive}" | cut -d' ' -f1)"
  echo "krew-manifest: ${archive}" >&2
done
VERSION="${version}" \
SHA256_LINUX_AMD64="${sums[linux-amd64]:-not-built}" \
SHA256_LINUX_ARM64="${sums[linux-arm64]:-not-built}" \
SHA256_DARWIN_ARM64="${sums[darwin-arm64]:-not-built}" \
  envsubst < krew/vrg.yaml
