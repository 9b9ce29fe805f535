"""CPU pinning: does a multi-threaded burner in one slot change what a single-threaded program
in the other slot measures? bench/pinning.sh starts `judgelet serve --slots 2` pinned and
unpinned; this drives one of them and prints figures as JSON, or writes the section.

python3 bench/pinning.py measure URL ROUNDS > OUT.json
python3 bench/pinning.py bare DIR ROUNDS > OUT.json    the same without judgelet (taskset)
python3 bench/pinning.py report PINNED.json UNPINNED.json BARE.json [--splice RESULTS.md]
"""
import datetime
import json
import os
import resource
import statistics
import subprocess
import sys
import threading
import time
import urllib.request

from section import emit

# A fixed amount of single-threaded work (about 0.3 s here).
WORK = r"""
#include <stdio.h>
int main(void) {
    volatile unsigned long x = 0;
    for (unsigned long n = 0; n < 300000000UL; n++) x += n;
    printf("%lu\n", x);
    return 0;
}
"""

# Four threads spinning for 2 s of wall time each.
BURNER = r"""
#define _POSIX_C_SOURCE 199309L
#include <pthread.h>
#include <time.h>
static void *spin(void *arg) {
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    do clock_gettime(CLOCK_MONOTONIC, &now);
    while (now.tv_sec - start.tv_sec < 2);
    return arg;
}
int main(void) {
    pthread_t threads[4];
    for (int i = 0; i < 4; i++) pthread_create(&threads[i], 0, spin, 0);
    for (int i = 0; i < 4; i++) pthread_join(threads[i], 0);
    return 0;
}
"""


def run(url, source):
    body = json.dumps({
        "source": source,
        "limits": {"cpu_time_ms": 20000, "wall_time_ms": 30000},
    }).encode()
    request = urllib.request.Request(
        f"{url}/function/c", body, {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=60) as reply:
        report = json.load(reply)
    if report["status"] != "ok":
        sys.exit(f"pinning bench: {report['status']}: {report['compile_output']}{report['stderr']}")
    return report


def measure(url, rounds):
    run(url, WORK), run(url, BURNER)  # compile both once
    alone, beside, shared = [], [], 0
    for _ in range(rounds):
        report = run(url, WORK)
        alone.append((report["cpu_time_ms"], report["wall_time_ms"]))
        burner = threading.Thread(target=run, args=(url, BURNER))
        burner.start()
        time.sleep(0.3)  # the burner is spinning
        report = run(url, WORK)
        beside.append((report["cpu_time_ms"], report["wall_time_ms"]))
        shared += report["cpu_shared"]
        burner.join()
    return {"alone": alone, "beside": beside, "shared": shared, "cpu": report["cpu"]}


def bare(directory, rounds):
    """The floor: the same two programs compiled by gcc and pinned by taskset, no judgelet."""
    work, burner = (os.path.join(directory, name) for name in ("work", "burner"))
    for exe, source, extra in ((work, WORK, []), (burner, BURNER, ["-pthread"])):
        subprocess.run(["gcc", "-O2", "-x", "c", "-o", exe, "-", *extra], input=source.encode(), check=True)

    def timed():
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.monotonic()
        subprocess.run(["taskset", "-c", "0", work], stdout=subprocess.DEVNULL, check=True)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime) * 1000
        return cpu, (time.monotonic() - start) * 1000

    alone, beside = [], []
    for _ in range(rounds):
        alone.append(timed())
        spinning = subprocess.Popen(["taskset", "-c", "1", burner])
        time.sleep(0.3)
        beside.append(timed())
        spinning.wait()
    return {"alone": alone, "beside": beside, "shared": 0, "cpu": 0}


def report(pinned, unpinned, floor):
    lines = [
        "## CPU pinning: a 4-thread burner beside a single-threaded program",
        "",
        f"`bench/pinning.sh` on {datetime.date.today()}, {os.cpu_count()} CPUs: `judgelet serve --slots 2`;",
        "a C program doing a fixed ≈0.3 s of single-threaded work, run alone, then while a",
        "4-thread C burner spins in the other slot; medians over the rounds, pinned (the",
        "default) and with `--no-pin-cpus`.",
        "",
        "| runs | alone: cpu ms | beside the burner: cpu ms | change | alone: wall ms | beside: wall ms | change |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, figures in (
        ("pinned", pinned),
        ("not pinned", unpinned),
        ("no judgelet: taskset, CPU 0 and CPU 1", floor),
    ):
        cpu = [statistics.median(t[0] for t in figures[k]) for k in ("alone", "beside")]
        wall = [statistics.median(t[1] for t in figures[k]) for k in ("alone", "beside")]
        lines.append(
            f"| {name} | {cpu[0]:.1f} | {cpu[1]:.1f} | {100 * (cpu[1] / cpu[0] - 1):+.0f}% "
            f"| {wall[0]:.1f} | {wall[1]:.1f} | {100 * (wall[1] / wall[0] - 1):+.0f}% |"
        )
    lines += [
        "",
        f"Pinned, the program ran on a CPU no other run held in {len(pinned['beside']) - pinned['shared']} "
        f"of {len(pinned['beside'])} rounds (the reports' `cpu_shared`).",
        "",
        "Unpinned, the burner's four threads and the program share the two CPUs: the program's",
        "CPU time hardly moves (it is counted only while it runs) but its wall time grows by its",
        "wait for a CPU, and a wall-time verdict depends on the neighbour. Pinned, the program",
        "keeps a CPU to itself and its wall time stays within the floor's. The floor (last row,",
        "no judgelet: the same programs under `taskset`) shows what pinning cannot remove: this",
        "VM's two vCPUs are not independent (they share the host's core, cache or memory",
        "bandwidth), so a program's CPU time grows when the other vCPU is busy, pinned or not;",
        "on hardware with independent cores it should be small (not measured here). Compare rows",
        "of the same run: the machine's own noise between runs is ±20%.",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    if sys.argv[1] == "measure":
        json.dump(measure(sys.argv[2], int(sys.argv[3])), sys.stdout)
    elif sys.argv[1] == "bare":
        json.dump(bare(sys.argv[2], int(sys.argv[3])), sys.stdout)
    else:
        pinned, unpinned, floor = (json.load(open(p)) for p in sys.argv[2:5])
        emit("pinning", report(pinned, unpinned, floor), [sys.argv[0], ""] + sys.argv[5:])
