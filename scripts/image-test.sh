#!/usr/bin/env bash
# The image, built from this checkout and run in real containers as the platforms run it.
#
#   1. Base images, made here when missing (no image registry is reachable): Debian from
#      mmdebstrap with the default image's toolchains, and a Rust builder holding this host's
#      toolchain. podman's store keeps them, under a tag naming their recipe.
#   2. deploy/Dockerfile built with no network at all (crates vendored into vendor/), in the
#      OCI format (podman's default) and the docker format (buildah --format docker).
#   3. The python function as stack.yml deploys it and a restricted pod runs it (non-root,
#      every capability dropped, no_new_privs, read-only root, tmpfs /tmp, the stack's
#      environment and memory limit): the function contract, hello in the image's
#      languages, the hostile-program suite (crates/sandbox/tests/hostile.rs, the same
#      binary the host ran) through `podman exec`, and the report's ab runs.
#   4. The namespaces tier as the Helm chart runs it (root, SYS_ADMIN added, the chart's
#      entrypoint): the contract and the hostile suite again.
#   5. `judgelet serve` as the chart's gateway runs it: the functions and the page.
#
# podman's settings for this host come from scripts/podman/containers.conf (CONTAINERS_CONF),
# never the system's. Every container is removed by id at the end, also on failure.
# Containers share the host's network (a pod has its own; the sandbox must hold either way),
# and listen on free loopback ports.
set -euo pipefail
cd "$(dirname "$0")/.."
export CONTAINERS_CONF=$PWD/scripts/podman/containers.conf

fail() {
  echo "image-test: FAILED: $*" >&2
  exit 1
}
say() { echo "image-test: $*" >&2; }
for tool in podman buildah mmdebstrap ab curl; do
  command -v "$tool" >/dev/null || fail "$tool is missing: run scripts/setup.sh"
done
python=/usr/bin/python3

scratch=$(mktemp -d)
containers=()
cleanup() {
  for id in "${containers[@]}"; do
    podman rm --force --time 0 "$id" >/dev/null 2>&1 || true
  done
  [[ -z ${work:-} ]] || buildah rm "$work" >/dev/null 2>&1 || true
  rm -rf "$scratch"
}
trap cleanup EXIT
started=$SECONDS

# 1. Base images.
release=bookworm
# minbase: Essential and Priority required, as debian:bookworm-slim (mount, for one).
variant=minbase
# The default image's languages (LANGUAGES="c cpp python"), so its build installs nothing.
packages=gcc,libc6-dev,g++,python3
slim=(--dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright'
  --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/locale/*')
recipe=$(printf '%s ' "$release" "$variant" "$packages" "${slim[@]}" | sha256sum | cut -c1-12)
base=localhost/judgelet-base:$release-$recipe
if ! podman image exists "$base"; then
  say "making $base (mmdebstrap)"
  mmdebstrap --quiet --variant="$variant" --include="$packages" "${slim[@]}" \
    "$release" "$scratch/base.tar" http://deb.debian.org/debian
  podman import --quiet --change 'CMD ["/bin/bash"]' "$scratch/base.tar" "$base" >/dev/null
  rm "$scratch/base.tar"
fi
sysroot=$(rustc --print sysroot)
builder=localhost/judgelet-builder:$(rustc --version | cut -d' ' -f2)-$recipe
if ! podman image exists "$builder"; then
  say "making $builder (this host's Rust toolchain)"
  work=$(buildah from --pull-never --quiet "$base")
  buildah copy --quiet "$work" "$sysroot/bin/cargo" "$sysroot/bin/rustc" /usr/local/bin/ >/dev/null
  buildah copy --quiet "$work" "$sysroot/lib" /usr/local/lib >/dev/null
  buildah commit --quiet --rm "$work" "$builder" >/dev/null
  work=
fi

# 2. The image, offline.
lock=$(sha256sum Cargo.lock | cut -d' ' -f1)
if [[ $(cat vendor/.cargo-lock-sha256 2>/dev/null) != "$lock" ]]; then
  say "vendoring the crates of Cargo.lock into vendor/"
  rm -rf vendor
  cargo vendor --locked --quiet vendor >/dev/null
  echo "$lock" >vendor/.cargo-lock-sha256
fi
image=localhost/judgelet:image-test
build=(--pull-never --network none -f deploy/Dockerfile
  --build-arg BUILDER="$builder" --build-arg BASE="$base")
say "building $image (OCI format, no network)"
podman build --quiet "${build[@]}" -t "$image" . >/dev/null
say "building $image-docker (docker format, no network)"
buildah build --layers --quiet --format docker "${build[@]}" -t "$image-docker" . >/dev/null
[[ $(podman image inspect --format '{{.ManifestType}}' "$image-docker") == *docker* ]] ||
  fail "$image-docker is not in the docker format"
say "built in $((SECONDS - started)) s: $(podman image inspect --format '{{.Size}}' "$image" |
  awk '{ printf "%.0f MB", $1 / 1e6 }')"

# Helpers.
free_port() {
  "$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
# Starts a container; its id goes to the cleanup list and to $id.
start() {
  id=$(podman run --detach --network host "$@")
  containers+=("$id")
}
wait_healthy() { # URL, container id
  for _ in $(seq 300); do
    curl -sf -o /dev/null "$1" && return
    [[ $(podman inspect --format '{{.State.Running}}' "$2") == true ]] ||
      fail "the container exited: $(podman logs "$2" 2>&1 | tail -20)"
    sleep 0.1
  done
  fail "$1 never answered: $(podman logs "$2" 2>&1 | tail -20)"
}
expect() { # what, expected, got
  [[ $2 == "$3" ]] || fail "$1: expected $(printf %q "$2"), got $(printf %q "$3")"
}
# The hostile-program suite, the binary the host ran, in the container $1 (its tier in $2).
hostile_binary=$(cargo test --quiet -p judgelet-sandbox --test hostile --no-run --message-format=json |
  "$python" -c 'import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("executable") and m["target"]["name"] == "hostile": print(m["executable"])')
[[ -x $hostile_binary ]] || fail "the hostile suite's binary was not built"
cp "$hostile_binary" "$scratch/hostile"
chmod 0755 "$scratch"
hostile() {
  local tier=() out
  [[ $2 == unprivileged ]] && tier=(--env JUDGELET_TEST_ISOLATION=unprivileged)
  # One test at a time, as the host's unprivileged re-runs: runs that share a uid share its
  # process headroom (docs/deploy.md). The re-runs under setpriv are the host's own way to
  # get here; in a container, they are skipped.
  out=$(podman exec "${tier[@]}" --env JUDGELET_STATE_DIR=/tmp/hostile --workdir /tmp "$1" \
    /opt/hostile --test-threads=1 --skip the_whole_suite 2>&1) ||
    fail "the hostile suite in the $2 tier: $out"
  grep -q "test result: ok" <<<"$out" || fail "the hostile suite in the $2 tier: $out"
  say "hostile suite, $2 tier: $(grep 'test result' <<<"$out")"
}
# The function contract against the function at $1 in container $2 (its tier in $3).
contract() {
  local url=$1 ctr=$2 tier=$3 headers body health
  wait_healthy "$url/_/health" "$ctr"
  expect "ready" 200 "$(curl -s -o /dev/null -w '%{http_code}' "$url/_/ready")"
  health=$(curl -s "$url/_/health" | "$python" -c 'import json, sys
h = json.load(sys.stdin); print(h["isolation"], h["cgroup"] or "none")')
  expect "the tier /_/health reports" "$tier" "${health% *}"
  [[ $tier == unprivileged || ${health#* } == v[12] ]] || fail "the namespaces tier without a cgroup: $health"
  say "$tier tier in a container (cgroup: ${health#* })"
  podman exec "$ctr" test -f /tmp/.lock || fail "no /tmp/.lock while serving"
  headers=$scratch/headers
  body=$(curl -s -D "$headers" -H 'X-Call-Id: image-test-1' --data-binary @bench/programs/hello.py "$url/")
  expect "POST / (python hello)" "hello, world" "$body"
  grep -qi '^x-call-id: image-test-1' "$headers" || fail "X-Call-Id not echoed: $(cat "$headers")"
  grep -qi '^x-judgelet-status: ok' "$headers" || fail "no status header: $(cat "$headers")"
  # The image's other languages, by the CLI in the same container, as the pod runs it.
  for program in hello.c hello.cpp; do
    expect "judgelet run $program ($tier)" "hello, world" \
      "$(podman exec "$ctr" judgelet run "/opt/programs/$program" 2>/dev/null)"
  done
}
mounts=(--volume "$scratch/hostile:/opt/hostile:ro" --volume "$PWD/bench/programs:/opt/programs:ro")

# 3. The python function, as stack.yml deploys it, as a restricted pod runs it.
stack() { # what of the python function of stack.yml: environment (K=V lines) or memory
  deploy/validate/.venv/bin/python - "$1" <<'PY'
import sys, yaml
function = yaml.safe_load(open("deploy/openfaas/stack.yml"))["functions"]["python"]
if sys.argv[1] == "environment":
    for key, value in function["environment"].items(): print(f"{key}={value}")
else:
    print(function["limits"]["memory"].replace("Mi", "m"))
PY
}
stack_env=()
while IFS= read -r line; do stack_env+=(--env "$line"); done < <(stack environment)
memory=$(stack memory)
restricted=(--read-only --tmpfs /tmp:rw,mode=1777,size=512m --cap-drop all
  --security-opt no-new-privileges --user 10001 --memory "$memory" --memory-swap "$memory")
port=$(free_port)
start "${restricted[@]}" "${stack_env[@]}" --env PORT="$port" "${mounts[@]}" "$image"
unprivileged=$id
contract "http://127.0.0.1:$port" "$unprivileged" unprivileged
hostile "$unprivileged" unprivileged

# The report's ab runs against one replica: every request answered 2xx.
mkdir -p bench/out
for run in "100 20" "1000 200"; do
  read -r n c <<<"$run"
  ab -q -n "$n" -c "$c" -p bench/programs/hello.py -T text/plain "http://127.0.0.1:$port/" \
    >"bench/out/image-ab-n$n-c$c.txt" 2>&1 || fail "ab -n $n -c $c: $(cat "bench/out/image-ab-n$n-c$c.txt")"
  report=bench/out/image-ab-n$n-c$c.txt
  expect "ab -n $n -c $c: complete requests" "$n" "$(awk '/^Complete requests:/ { print $3 }' "$report")"
  expect "ab -n $n -c $c: failed requests" 0 "$(awk '/^Failed requests:/ { print $3 }' "$report")"
  ! grep -q '^Non-2xx responses' "$report" || fail "ab -n $n -c $c: $(grep '^Non-2xx' "$report")"
  say "ab -n $n -c $c: $(awk '/^Requests per second:/ { print $4 }' "$report") req/s, 0 failed, 0 non-2xx"
done
podman rm --force --time 0 "$unprivileged" >/dev/null

# 4. The namespaces tier, as the Helm chart runs it (tier=namespaces): root, SYS_ADMIN added,
#    privilege escalation allowed, the runtime's default seccomp profile, read-only root.
port=$(free_port)
start --read-only --tmpfs /tmp:rw,mode=1777,size=512m --user 0 --cap-add SYS_ADMIN \
  --memory 1g --env JUDGELET_ISOLATION=namespaces --env JUDGELET_SLOTS=2 --env PORT="$port" \
  "${mounts[@]}" --entrypoint /usr/local/bin/judgelet-namespaces "$image" function python
namespaces=$id
contract "http://127.0.0.1:$port" "$namespaces" namespaces
hostile "$namespaces" namespaces
podman rm --force --time 0 "$namespaces" >/dev/null

# 5. `judgelet serve`, as the chart's gateway runs it (unprivileged tier, the store on a volume).
mkdir "$scratch/data" && chmod 0777 "$scratch/data"
port=$(free_port)
start "${restricted[@]}" --volume "$scratch/data:/var/lib/judgelet" \
  --env JUDGELET_ISOLATION=unprivileged --env JUDGELET_SLOTS=2 "$image" serve --port "$port"
gateway=$id
url=http://127.0.0.1:$port
wait_healthy "$url/healthz" "$gateway"
expect "/function/python" "hello, world" "$(curl -s --data-binary @bench/programs/hello.py "$url/function/python")"
curl -s "$url/" | grep -q '<title>' || fail "the page at / is not served"
languages=$(curl -s "$url/languages" | "$python" -c 'import json, sys
for l in json.load(sys.stdin): print(l["id"], *l["extensions"])')
while read -r language extensions; do
  program=
  for extension in $extensions; do
    for candidate in bench/programs/*."$extension"; do [[ -f $candidate ]] && program=$candidate; done
  done
  [[ -n $program ]] || fail "no hello program for $language in bench/programs"
  expect "/function/$language" "hello, world" "$(curl -s --data-binary @"$program" "$url/function/$language")"
done <<<"$languages"
say "gateway: the page, and hello in $(cut -d" " -f1 <<<"$languages" | tr "\n" " ")"
say "ok in $((SECONDS - started)) s"
