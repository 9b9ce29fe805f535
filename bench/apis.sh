#!/usr/bin/env bash
# The compatible APIs' cost: Python and C hello through /function, Judge0 (wait=true), Piston
# and Jobe at c=20, in three rounds taking them in turn against the same server, ApacheBench
# on 127.0.0.1.
# Writes OUT/apis.md (default bench/out-apis) and, run on its own, its section of
# bench/RESULTS.md. A few minutes; root (the sandbox).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-bench/out-apis}
mkdir -p "$out"
port=${PORT:-18092}
url=http://127.0.0.1:$port
requests=${REQUESTS:-500}
cargo build --release -q -p judgelet
data=$(mktemp -d /tmp/judgelet-bench-apis.XXXXXX)
target/release/judgelet serve --bind 127.0.0.1 --port "$port" --state-dir /dev/shm/judgelet-bench-apis \
  --database "sqlite:$data/judgelet.db" 2> "$out/server.log" &
server=$!
trap 'kill $server 2>/dev/null || true; wait $server 2>/dev/null || true; rm -rf "$data" /dev/shm/judgelet-bench-apis' EXIT
for _ in $(seq 100); do curl -sf "$url/healthz" >/dev/null && break; sleep 0.1; done

# One request body per API and language, from the same two programs.
/usr/bin/python3 - "$out" <<'PY'
import json, sys
out = sys.argv[1]
programs = {
    "python": ("print('hello, world')\n", 71, "python", "python3"),
    "c": ('#include <stdio.h>\nint main(void){puts("hello, world");return 0;}\n', 50, "c", "c"),
}
for language, (source, judge0_id, piston, jobe) in programs.items():
    open(f"{out}/{language}.function", "w").write(source)
    json.dump({"source_code": source, "language_id": judge0_id}, open(f"{out}/{language}.judge0", "w"))
    json.dump({"language": piston, "version": "*", "files": [{"content": source}]}, open(f"{out}/{language}.piston", "w"))
    json.dump({"run_spec": {"language_id": jobe, "sourcecode": source}}, open(f"{out}/{language}.jobe", "w"))
PY

declare -A paths=(
  [function]="/function/LANG"
  [judge0]="/judge0/submissions?wait=true"
  [piston]="/api/v2/execute"
  [jobe]="/jobe/index.php/restapi/runs"
)
# Rounds taking the APIs in turn, so that the machine's drift falls on all of them alike.
for language in python c; do
  for api in function judge0 piston jobe; do
    path=${paths[$api]//LANG/$language}
    type=application/json; [[ $api == function ]] && type=text/plain
    # A warm-up (the compile cache, for C).
    ab -q -n 50 -c 20 -p "$out/$language.$api" -T "$type" "$url$path" > /dev/null 2>&1
  done
  for round in 1 2 3; do
    for api in function judge0 piston jobe; do
      path=${paths[$api]//LANG/$language}
      type=application/json; [[ $api == function ]] && type=text/plain
      echo "apis bench: $language through $api, round $round"
      ab -q -n "$requests" -c 20 -p "$out/$language.$api" -T "$type" "$url$path" > "$out/${language}_${api}_$round.txt" 2>&1
    done
  done
done

/usr/bin/python3 bench/apis.py "$out" > "$out/apis.md"
if [[ -z ${1:-} ]]; then
  /usr/bin/python3 bench/apis.py "$out" --splice bench/RESULTS.md
  echo "apis bench: wrote its section of bench/RESULTS.md"
fi
