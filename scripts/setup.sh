#!/usr/bin/env bash
# Installs the system packages judgelet needs, on Debian 12 or a close relative.
# Idempotent: packages already present are left alone, and apt is not touched when nothing
# is missing. Needs root (or sudo) only when something must be installed.
set -euo pipefail

packages=(
  gcc g++ libc6-dev        # the C and C++ toolchains judgelet runs submissions with
  python3                  # the Python toolchain (/usr/bin/python3)
  openjdk-17-jdk-headless  # Java
  golang-go                # Go
  rustc                    # Rust (Debian's, in /usr: the sandbox shows /usr, not ~/.cargo)
  nodejs                   # JavaScript
  apache2-utils            # ab, for bench/run.sh
  curl ca-certificates     # the README's examples and the gateway tests' report replay
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
echo "setup: ok"
