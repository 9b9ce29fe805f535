#!/usr/bin/env bash
# Stored submissions against synchronous calls, on SQLite and on PostgreSQL (a throwaway
# cluster made here, with fsync on): Python through /async-function (submit, then wait for
# the result's callback) against /function at c=20, the drain rate of 10,000 queued submissions, and sync
# latency while they drain against idle. Writes OUT/store.md (default bench/out-store) and,
# run on its own, its section of bench/RESULTS.md. A few minutes; root (the sandbox).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-bench/out-store}
mkdir -p "$out"
port=${PORT:-18090}
url=http://127.0.0.1:$port
cargo build --release -q -p judgelet -p judgelet-bench-overhead
bin=target/release
program=$out/random.py
printf 'import random\nprint(f"{random.random():.12f}")\n' > "$program"

scratch=$(mktemp -d /tmp/judgelet-bench-store.XXXXXX) && chmod 755 "$scratch"
server="" pg=""
cleanup() {
  [[ -n $server ]] && { kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; }
  [[ -n $pg ]] && { kill -QUIT "$pg" 2>/dev/null || true; wait "$pg" 2>/dev/null || true; }
  rm -rf "$scratch" /dev/shm/judgelet-bench-store
}
trap cleanup EXIT

# PostgreSQL refuses root: the cluster belongs to the postgres user (Debian's package).
pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
mkdir "$scratch/pg" && chown postgres: "$scratch/pg"
as_postgres() { setpriv --reuid=postgres --regid=postgres --init-groups "$@"; }
as_postgres "$pgbin/initdb" -D "$scratch/pg/data" --auth=trust -U postgres -E UTF8 >/dev/null
as_postgres "$pgbin/postgres" -D "$scratch/pg/data" -c listen_addresses= \
  -c unix_socket_directories="$scratch/pg" 2> "$out/postgres.log" &
pg=$!
for _ in $(seq 300); do [[ -S $scratch/pg/.s.PGSQL.5432 ]] && break; sleep 0.1; done

for backend in sqlite postgres; do
  case $backend in
    sqlite) database=sqlite:$scratch/judgelet.db ;;
    postgres) database="postgres://postgres@localhost/postgres?host=$scratch/pg" ;;
  esac
  $bin/judgelet serve --bind 127.0.0.1 --port "$port" --state-dir /dev/shm/judgelet-bench-store \
    --database "$database" --callback-allow 127.0.0.0/8 2> "$out/${backend}_server.log" &
  server=$!
  for _ in $(seq 100); do curl -sf "$url/healthz" >/dev/null && break; sleep 0.1; done
  echo "store bench: $backend"
  ab -q -n 100 -c 20 -p "$program" -T text/plain "$url/function/python" > /dev/null 2>&1
  ab -q -n 1000 -c 20 -p "$program" -T text/plain "$url/function/python" > "$out/${backend}_sync.txt" 2>&1
  $bin/judgelet-bench-overhead async "$url" 1000 20 > "$out/${backend}_async.txt"
  ab -q -n 200 -c 1 -p "$program" -T text/plain "$url/function/python" > "$out/${backend}_idle.txt" 2>&1
  $bin/judgelet-bench-overhead burst "$url" 10000 20 > "$out/${backend}_burst.txt" &
  burst=$!
  # Once all 10,000 are in, while they drain (it takes a couple of minutes).
  until grep -q '^Submitted:' "$out/${backend}_burst.txt"; do sleep 0.2; done
  ab -q -n 200 -c 1 -p "$program" -T text/plain "$url/function/python" > "$out/${backend}_during.txt" 2>&1
  wait "$burst"
  kill "$server"; wait "$server" 2>/dev/null || true
  server=""
done

/usr/bin/python3 bench/store.py "$out" > "$out/store.md"
if [[ -z ${1:-} ]]; then
  /usr/bin/python3 bench/store.py "$out" --splice bench/RESULTS.md
  echo "store bench: wrote its section of bench/RESULTS.md"
fi
