#!/usr/bin/env bash
# The whole test suite: formatting, lints, and every crate's unit and integration tests.
# The sandbox tests run real programs in real namespaces and cgroups: run as root.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ $(id -u) -ne 0 ]]; then
  echo "test: the sandbox tests need root (namespaces, cgroups); run as root" >&2
  exit 1
fi

cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
cargo test --workspace --all-targets
