"""Warm runtimes measured (bench/warm.sh).

python3 bench/warm.py bare PROGRAM RUNS          bare python3: one at a time, then 2 workers
python3 bench/warm.py distinct URL PROGRAM       fails unless two replies differ
python3 bench/warm.py alone URL PROGRAM RUNS     one request at a time: latencies
python3 bench/warm.py secret PROGRAM RUNS        how far into a start CPython draws its hash secret
python3 bench/warm.py report OUT [--splice RESULTS.md]
"""
import concurrent.futures
import datetime
import json
import os
import statistics
import subprocess
import sys
import time
import urllib.request

from section import emit, figures

# Between two requests "alone" (and two bare starts, to compare alike): time for the next
# interpreter to be ready, as between two students' requests.
PAUSE = 0.05


def bare(program, runs):
    def once():
        start = time.perf_counter()
        out = subprocess.run(["/usr/bin/python3", program], capture_output=True, check=True)
        assert out.stdout.startswith(b"hello "), out
        return (time.perf_counter() - start) * 1e3

    for _ in range(runs // 10):
        once()
    alone = []
    for _ in range(runs):
        alone.append(once())
        time.sleep(PAUSE)
    start = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda _: once(), range(runs)))
    return {"alone": alone, "parallel_rps": runs / (time.perf_counter() - start)}


def secret(program, runs):
    """Times, from `execve`, of the 24-byte `getrandom` (the hash secret: it is gone with
    PYTHONHASHSEED=0) and of `exit_group`, by strace tracing those calls only (seccomp-bpf
    filtered, so no other call stops)."""
    trace = ["strace", "-f", "--seccomp-bpf", "-ttt", "-e", "trace=execve,getrandom,exit_group"]
    at, total = [], []
    for _ in range(runs):
        run = subprocess.run(trace + ["/usr/bin/python3", program], capture_output=True, check=True, text=True)
        stamps = [line.split(None, 1) for line in run.stderr.splitlines() if line[:1].isdigit()]
        start = float(stamps[0][0])
        drawn = next(float(t) for t, call in stamps if call.startswith("getrandom(") and ", 24," in call)
        ended = next(float(t) for t, call in stamps if call.startswith("exit_group("))
        at.append((drawn - start) * 1e3)
        total.append((ended - start) * 1e3)
    return {"at_ms": at, "total_ms": total}


def post(url, program):
    body = open(program, "rb").read()
    request = urllib.request.Request(url, body, {"Content-Type": "text/plain"})
    with urllib.request.urlopen(request) as reply:
        return reply.read()


def distinct(url, program):
    first, second = post(url, program), post(url, program)
    assert first.startswith(b"hello"), first
    assert first != second, f"two replies alike: {first!r}"


def alone(url, program, runs):
    latencies = []
    for _ in range(runs):
        start = time.perf_counter()
        post(url, program)
        latencies.append((time.perf_counter() - start) * 1e3)
        time.sleep(PAUSE)
    return {"alone": latencies}


def report(out):
    load = lambda name: json.load(open(os.path.join(out, name)))
    floor = load("bare.json")
    floor_ms = statistics.median(floor["alone"])
    lines = [
        "## Warm runtimes: Python faster than a bare start",
        "",
        f"`bench/warm.sh` on {datetime.date.today()}, {os.cpu_count()} CPUs, `judgelet serve --slots 2`;",
        "every program prints what differs per run (its hash secret, a random number), and two",
        "replies are checked to differ. The floor is bare `python3 hello.py` measured in the same",
        f"run: **{floor['parallel_rps']:.0f} runs/s** with 2 workers, **{floor_ms:.1f} ms** median one at a time",
        f"({PAUSE * 1000:.0f} ms apart, as the requests alone are).",
        "",
        "| Python hello through `/function/python` | `ab -c 20` req/s | ratio to floor | p50 ms | one request alone, median ms | ratio to a bare start |",
        "|---|---|---|---|---|---|",
    ]
    for mode, name in (("warm", "interpreters waiting (the default)"), ("cold", "started cold (`--warm 0`)")):
        ab = figures(os.path.join(out, f"python_{mode}_c20.txt"))
        single = statistics.median(load(f"python_{mode}_alone.json")["alone"])
        lines.append(
            f"| {name} | **{ab['rps']:.1f}** | {ab['rps'] / floor['parallel_rps']:.2f}× | {ab['p50']:.0f} "
            f"| **{single:.1f}** | {single / floor_ms:.2f}× |"
        )
    metrics = open(os.path.join(out, "python_warm_metrics.txt")).read().strip().replace("\n", "; ")
    drawn = load("secret.json")
    at, total = statistics.median(drawn["at_ms"]), statistics.median(drawn["total_ms"])
    share = statistics.median(a / t for a, t in zip(drawn["at_ms"], drawn["total_ms"]))
    lines += [
        "",
        f"The warm server's `/metrics` after: `{metrics}`.",
        "",
        f"Where a bare start draws its hash secret (strace, {len(drawn['at_ms'])} starts): **{at:.1f} ms** into a",
        f"{total:.1f} ms start, median share **{share:.0%}**. Everything after it depends on the",
        "secret, so a zygote forked before it saves at most that share; one forked after it",
        "shares the secret with every run it serves.",
        "",
        "The sandbox alone (`judgelet-bench-overhead python`, the toolchain without HTTP):",
        "",
        open(os.path.join(out, "sandbox.md")).read().strip(),
        "",
        "| Java and JavaScript hello, `ab -n 200 -c 20` | req/s | p50 ms | one request alone, median ms |",
        "|---|---|---|---|",
    ]
    for name, label in (
        ("java_default", "Java (OpenJDK 17, its default CDS archive)"),
        ("java_cds", "Java with an archive of the JDK classes a typical program loads"),
        ("javascript", "JavaScript (Node 20, its built-in start-up snapshot)"),
    ):
        ab = figures(os.path.join(out, f"{name}_c20.txt"))
        single = statistics.median(load(f"{name}_alone.json")["alone"])
        lines.append(f"| {label} | **{ab['rps']:.1f}** | {ab['p50']:.0f} | {single:.1f} |")
    lines += [
        "",
        "What the figures say, and why the throughput target is not met, is in",
        "`docs/performance.md` (warm runtimes). Compare rows of the same run: this VM's noise",
        "between runs is ±20%.",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "bare":
        json.dump(bare(sys.argv[2], int(sys.argv[3])), sys.stdout)
    elif mode == "distinct":
        distinct(sys.argv[2], sys.argv[3])
    elif mode == "secret":
        json.dump(secret(sys.argv[2], int(sys.argv[3])), sys.stdout)
    elif mode == "alone":
        json.dump(alone(sys.argv[2], sys.argv[3], int(sys.argv[4])), sys.stdout)
    else:
        emit("warm", report(sys.argv[2]), [sys.argv[0], ""] + sys.argv[3:])
