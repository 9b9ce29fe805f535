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
./scripts/validate-deploy.sh

# The page: its committed build must be what its sources build to, and it must work in a
# real browser against a real server.
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
(cd web && npx vite build --logLevel error --outDir "$scratch" --emptyOutDir)
diff -r "$scratch" crates/server/web || {
  echo "test: crates/server/web is stale: run web/build.sh and commit the result" >&2
  exit 1
}
JUDGELET_BIN=target/debug/judgelet node web/e2e/run.mjs

# The image: built from this checkout, run in real containers as the platforms run it.
./scripts/image-test.sh
