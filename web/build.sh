#!/usr/bin/env bash
# Rebuilds the page's committed assets (crates/server/web/) from package-lock.json.
set -euo pipefail
cd "$(dirname "$0")"
npm ci --no-audit --no-fund
npx vite build
