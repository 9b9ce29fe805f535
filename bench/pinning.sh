#!/usr/bin/env bash
# CPU pinning measured: a single-threaded program's CPU and wall time alone and beside a
# 4-thread burner in the other slot, with runs pinned (the default) and not. Writes
# OUT/pinning.md (default bench/out-pinning) and, run on its own, its section of
# bench/RESULTS.md. About a minute; root.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-bench/out-pinning}
rounds=${ROUNDS:-30}
mkdir -p "$out"
cargo build --release -q -p judgelet
state=$(mktemp -d /dev/shm/judgelet-bench-pinning.XXXXXX)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; wait; rm -rf "$state"' EXIT
port=18095
for mode in pinned unpinned; do
  flags=()
  [[ $mode == unpinned ]] && flags=(--no-pin-cpus)
  target/release/judgelet serve --bind 127.0.0.1 --port $port --slots 2 \
    --data-dir "$state/$mode" --state-dir "$state/boxes-$mode" "${flags[@]}" 2>"$state/$mode.log" &
  pids+=($!)
  for _ in $(seq 100); do curl -sf http://127.0.0.1:$port/healthz >/dev/null && break; sleep 0.1; done
  python3 bench/pinning.py measure http://127.0.0.1:$port "$rounds" > "$out/$mode.json"
  kill "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true
  port=$((port + 1))
done
python3 bench/pinning.py bare "$state" "$rounds" > "$out/bare.json"
figures=("$out/pinned.json" "$out/unpinned.json" "$out/bare.json")
python3 bench/pinning.py report "${figures[@]}" > "$out/pinning.md"
[[ ${1:-} ]] || python3 bench/pinning.py report "${figures[@]}" --splice bench/RESULTS.md
cat "$out/pinning.md"
