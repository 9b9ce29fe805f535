#!/usr/bin/env bash
# The report's evaluation, done properly: ApacheBench against `judgelet serve` on 127.0.0.1,
# beside the floor (bare spawns of the same programs, 2 workers) measured in the same run,
# with the server's CPU and memory sampled throughout. Writes bench/RESULTS.md and SVG plots.
# Takes a few minutes; needs root (the sandbox) and ab (scripts/setup.sh installs it).
set -euo pipefail
cd "$(dirname "$0")/.."
out=bench/out
rm -rf "$out" && mkdir -p "$out"
python=/usr/bin/python3
port=${PORT:-18080}
url=http://127.0.0.1:$port

cargo build --release -q -p judgelet -p judgelet-bench-overhead
bin=target/release

echo "bench: sandbox overhead and floors"
$bin/judgelet-bench-overhead 300 > "$out/overhead.md"
$bin/judgelet-bench-overhead 300 unprivileged > "$out/overhead_unprivileged.md"
# The unprivileged tier as a pod without privileges runs it: nobody, no capabilities.
nobody=$(mktemp -d) && chmod 755 "$nobody" && cp $bin/judgelet-bench-overhead "$nobody/"
setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all --bounding-set=-all \
  --no-new-privs env HOME="$nobody" JUDGELET_STATE_DIR=/dev/shm/judgelet-bench-nobody \
  "$nobody/judgelet-bench-overhead" 300 unprivileged > "$out/overhead_nobody.md"
rm -rf "$nobody"

echo "bench: grading 100 tests"
$bin/judgelet-bench-overhead grading > "$out/grading.md"

shared=${SHARED_PROBLEMS:-../shared/problems}
if [[ -d $shared ]]; then
  echo "bench: verifying the shared problem corpus (several minutes)"
  start=$SECONDS
  # shellcheck disable=SC2046 # one argument per package directory
  # --slowness 1.5: this VM is slower than some packages' authors' machines (docs/grading.md).
  $bin/judgelet verify --slowness 1.5 $(find "$shared" -name problem.yaml -printf '%h\n' | sort) > /dev/null 2> "$out/verify.txt" || true
  echo $((SECONDS - start)) > "$out/verify_seconds"
fi

state=$(mktemp -d /dev/shm/judgelet-bench.XXXXXX)
$bin/judgelet serve --bind 127.0.0.1 --port "$port" --state-dir "$state" ${SERVE_ARGS:-} 2> "$out/server.log" &
server=$!
cleanup() { kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; rm -rf "$state"; }
trap cleanup EXIT
for _ in $(seq 100); do curl -sf "$url/healthz" >/dev/null && break; sleep 0.1; done
sleep 1
awk '/VmRSS/{print $2}' "/proc/$server/status" > "$out/idle_rss_kib"

$python bench/sample.py "$server" "$out/samples.csv" &
sampler=$!

mark() { echo "$(date +%s.%N) $1" >> "$out/marks"; }
ab_run() { # name requests concurrency function program
  echo "bench: $1"
  mark "$1"
  ab -q -n "$2" -c "$3" -p "bench/programs/$5" -T text/plain "$url/function/$4" > "$out/$1.txt" 2>&1
}

ab_run python_n100_c20 100 20 pythontimeout hello.py
ab_run python_n1000_c200 1000 200 pythontimeout hello.py
echo "bench: c_cold_n100_c20"; mark c_cold_n100_c20
$bin/judgelet-bench-overhead distinct-c "$url/function/cc" 100 20 > "$out/c_cold_n100_c20.txt"
curl -sf -X POST -H 'Content-Type: text/plain' --data-binary @bench/programs/hello.c "$url/function/cc" >/dev/null
ab_run c_warm_n100_c20 100 20 cc hello.c
ab_run c_warm_n2000_c20 2000 20 cc hello.c
for program in Main.java hello.go hello.rs hello.js; do
  language=$(case $program in *.java) echo java;; *.go) echo go;; *.rs) echo rust;; *.js) echo javascript;; esac)
  echo "bench: $language"
  mark "$language"
  $python -c 'import json, sys; print(json.dumps({"source": open(sys.argv[1]).read()}))' "bench/programs/$program" > "$out/$language.json"
  for pass in cold cached; do
    curl -sf -X POST -H 'Content-Type: application/json' --data-binary "@$out/$language.json" \
      -w '\n%{time_total}\n' "$url/function/$language" > "$out/${language}_$pass.txt"
  done
  ab -q -n 200 -c 20 -p "bench/programs/$program" -T text/plain "$url/function/$language" > "$out/${language}_n200_c20.txt" 2>&1
done
mark end
sleep 0.5
kill "$sampler"
curl -sf "$url/metrics" > "$out/metrics.txt"

# Stored submissions (their own servers, on SQLite and on PostgreSQL), and the compatible APIs.
kill "$server"; wait "$server" 2>/dev/null || true
bench/store.sh "$out"
bench/apis.sh "$out"

$python bench/report.py "$out" bench
echo "bench: wrote bench/RESULTS.md"
