#!/usr/bin/env bash
# The whole test suite: formatting, lints, the test control-plane binaries, then every test tier.
# Integration tests need the binaries from hack/testbin.sh; they fail, never skip, without them.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*"; }

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "test control plane binaries"
./hack/testbin.sh

step "cargo test"
cargo test --workspace --all-targets --locked

step "quickstart (README's two commands)"
./hack/quickstart-check.sh
