#!/usr/bin/env bash
# The image's function against the same binary on the host: the python function in the
# unprivileged tier as stack.yml runs it (slots 2, max_inflight 256, uid 10001, no
# capabilities), in a restricted container (scripts/image-test.sh's settings) and on the
# host under setpriv; the report's ab runs (Python hello, -c 20 and -c 200), three rounds
# taking the two in turn. Needs the image: run scripts/image-test.sh first.
# Writes OUT/image.md (default bench/out-image) and, run on its own, its section of
# bench/RESULTS.md. A few minutes; root.
set -euo pipefail
cd "$(dirname "$0")/.."
export CONTAINERS_CONF=$PWD/scripts/podman/containers.conf
out=${1:-bench/out-image}
mkdir -p "$out"
image=localhost/judgelet:image-test
podman image exists "$image" || { echo "image bench: no $image: run scripts/image-test.sh" >&2; exit 1; }
cargo build --release -q -p judgelet
# On a tmpfs, as the container's /tmp is.
scratch=$(mktemp -d /dev/shm/judgelet-bench-image.XXXXXX)
chmod 0755 "$scratch"
install -d -o 10001 -g 10001 "$scratch/state"
cp target/release/judgelet "$scratch/"
settings=(JUDGELET_ISOLATION=unprivileged JUDGELET_SLOTS=2 max_inflight=256 exec_timeout=30s
  read_timeout=10s write_timeout=35s JUDGELET_FUNCTION=python)
container_port=18093 host_port=18094
container=$(podman run --detach --network host --read-only --tmpfs /tmp:rw,mode=1777,size=512m \
  --cap-drop all --security-opt no-new-privileges --user 10001 --memory 512m --memory-swap 512m \
  "${settings[@]/#/--env=}" --env PORT=$container_port "$image")
env "${settings[@]}" PORT=$host_port JUDGELET_STATE_DIR="$scratch/state" \
  setpriv --reuid=10001 --regid=10001 --clear-groups --inh-caps=-all --bounding-set=-all \
  --no-new-privs "$scratch/judgelet" function 2>"$scratch/host.log" &
host=$!
trap 'podman rm --force --time 0 "$container" >/dev/null; kill $host 2>/dev/null || true; wait $host 2>/dev/null || true; rm -rf "$scratch"' EXIT
for port in $container_port $host_port; do
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/_/health" >/dev/null && break; sleep 0.1; done
  curl -sf "http://127.0.0.1:$port/_/health" >/dev/null ||
    { echo "image bench: nothing answers on $port (host: $(tail -5 "$scratch/host.log"))" >&2; exit 1; }
  ab -q -n 100 -c 20 -p bench/programs/hello.py -T text/plain "http://127.0.0.1:$port/" >/dev/null 2>&1
done
for round in 1 2 3; do
  for where in container host; do
    port=$container_port; [[ $where == host ]] && port=$host_port
    for c in 20 200; do
      echo "image bench: $where, c=$c, round $round"
      ab -q -n 1000 -c "$c" -p bench/programs/hello.py -T text/plain "http://127.0.0.1:$port/" \
        >"$out/${where}_c${c}_$round.txt" 2>&1
    done
  done
done
/usr/bin/python3 bench/image.py "$out" >"$out/image.md"
if [[ -z ${1:-} ]]; then
  /usr/bin/python3 bench/image.py "$out" --splice bench/RESULTS.md
  echo "image bench: wrote its section of bench/RESULTS.md"
fi
