#!/usr/bin/env bash
# Warm runtimes measured (issue 14): Python hello through `/function/python` at `ab -c 20`
# and one request at a time, with interpreters waiting (the default) and started cold
# (--warm 0), beside bare `python3 hello.py` (2 workers, and one at a time) measured in the
# same run; the sandbox alone (judgelet-bench-overhead python); Java with and without a
# class-data-sharing archive of the JDK classes programs use, and JavaScript. Every program
# prints what differs per run, and the benchmark checks replies differ. Writes
# OUT/warm.md (default bench/out-warm) and, run on its own, its section of
# bench/RESULTS.md. A few minutes; root, ab, strace.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-bench/out-warm}
rm -rf "$out" && mkdir -p "$out"
cargo build --release -q -p judgelet -p judgelet-bench-overhead
bin=target/release
state=$(mktemp -d /dev/shm/judgelet-bench-warm.XXXXXX)
# Shown read-only to programs at its own path: not under /dev, which boxes have their own.
cds=$(mktemp -d /var/tmp/judgelet-bench-cds.XXXXXX)
server=
trap '[[ $server ]] && kill $server 2>/dev/null; wait; rm -rf "$state" "$cds"' EXIT
printf 'print("hello", hash("judgelet"))\n' > "$state/hello.py"
cp bench/programs/distinct/Main.java bench/programs/distinct/hello.js "$state/"

echo "bench: the sandbox alone"
$bin/judgelet-bench-overhead python 300 > "$out/sandbox.md"
echo "bench: bare python3"
/usr/bin/python3 bench/warm.py bare "$state/hello.py" 300 > "$out/bare.json"
echo "bench: where a bare start draws its hash secret"
/usr/bin/python3 bench/warm.py secret "$state/hello.py" 60 > "$out/secret.json"

# The JDK classes a typical program loads, archived once (as scripts/setup.sh would).
jdk=/usr/lib/jvm/java-17-openjdk-amd64/bin
mkdir -p "$cds/train" && cp bench/programs/distinct/Train.java "$cds/train/"
(cd "$cds/train" && $jdk/javac Train.java && echo "" | $jdk/java -XX:DumpLoadedClassList=../all.lst -cp . Train > /dev/null)
grep -v "^Train" "$cds/all.lst" > "$cds/jdk.lst"
$jdk/java -Xshare:dump -XX:SharedClassListFile="$cds/jdk.lst" \
  -XX:SharedArchiveFile="$cds/jdk.jsa" -XX:+UseSerialGC > "$cds/dump.log" 2>&1
/usr/bin/python3 - "$cds" > "$state/cds.toml" <<'PY'
import re, sys
text = open("languages.toml").read()
text = text.replace('"-XX:+UseSerialGC", "-cp"', f'"-XX:+UseSerialGC", "-XX:SharedArchiveFile={sys.argv[1]}/jdk.jsa", "-cp"')
text = text.replace('readonly = ["/etc/java-17-openjdk"]', f'readonly = ["/etc/java-17-openjdk", "{sys.argv[1]}"]')
assert sys.argv[1] in text
print(text)
PY

port=18120
serve() { # name, then serve's flags
  local name=$1; shift
  $bin/judgelet serve --bind 127.0.0.1 --port $port --slots 2 --data-dir "$state/data-$name" \
    --state-dir "$state/boxes-$name" "$@" 2> "$out/$name.log" &
  server=$!
  for _ in $(seq 100); do curl -sf http://127.0.0.1:$port/healthz > /dev/null && break; sleep 0.1; done
  sleep 1
}
stop() { kill $server; wait $server 2>/dev/null || true; server=; port=$((port + 1)); }
gateway() { # name function program requests
  local url=http://127.0.0.1:$port/function/$2
  /usr/bin/python3 bench/warm.py distinct "$url" "$3"
  /usr/bin/python3 bench/warm.py alone "$url" "$3" 60 > "$out/$1_alone.json"
  ab -q -n "$4" -c 20 -p "$3" -T text/plain "$url" > "$out/$1_c20.txt" 2>&1
}
for mode in warm cold; do
  echo "bench: python through the gateway, $mode"
  flags=()
  [[ $mode == cold ]] && flags=(--warm 0)
  serve "python_$mode" "${flags[@]}"
  gateway "python_$mode" python "$state/hello.py" 600
  curl -sf http://127.0.0.1:$port/metrics | grep '^judgelet_warm' > "$out/python_${mode}_metrics.txt"
  stop
done
for mode in default cds; do
  echo "bench: java and javascript, $mode"
  flags=()
  [[ $mode == cds ]] && flags=(--languages "$state/cds.toml")
  serve "jvm_$mode" "${flags[@]}"
  gateway "java_$mode" java "$state/Main.java" 200
  [[ $mode == default ]] && gateway javascript javascript "$state/hello.js" 200
  stop
done
/usr/bin/python3 bench/warm.py report "$out" > "$out/warm.md"
[[ ${1:-} ]] || /usr/bin/python3 bench/warm.py report "$out" --splice bench/RESULTS.md
cat "$out/warm.md"
