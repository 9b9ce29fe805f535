"""The stored-submissions section of bench/RESULTS.md, from bench/store.sh's output.

python3 bench/store.py OUT                     prints the section
python3 bench/store.py OUT --splice RESULTS.md  replaces the section in RESULTS.md
"""
import datetime
import os
import sys

from section import emit, figures


def section(out):
    lines = [
        "## Stored submissions: async against sync",
        "",
        f"`bench/store.sh` on {datetime.date.today()}, {os.cpu_count()} CPUs: Python printing a random number",
        "(every reply checked to differ), `judgelet serve` with 2 slots. Async is end to end: submit to",
        "`/async-function/python` with `X-Callback-Url`, wait for the result at the callback (a listener",
        "on 127.0.0.1). SQLite commits with `synchronous = FULL`; PostgreSQL is a local cluster with fsync on.",
        "",
        "| store | sync req/s (`ab -n 1000 -c 20`) | async req/s (1000, c=20) | async/sync | async p50 ms | submissions/s (10,000, c=20) | drain runs/s | sync p50 idle (`ab -c 1`) | sync p50 while the 10,000 drain | ratio |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for backend in ["sqlite", "postgres"]:
        if not os.path.exists(os.path.join(out, f"{backend}_sync.txt")):
            continue
        f = {name: figures(os.path.join(out, f"{backend}_{name}.txt")) for name in ["sync", "async", "idle", "during", "burst"]}
        failed = sum(f[n]["failed"] for n in ["sync", "async", "idle", "during"])
        lines.append(
            f"| {backend} | {f['sync']['rps']:.1f} | {f['async']['rps']:.1f} | **{f['async']['rps'] / f['sync']['rps']:.2f}×** "
            f"| {f['async']['p50']:.0f} | {f['burst']['submitted']:.0f} | {f['burst']['drained']:.1f} "
            f"| {f['idle']['p50']:.0f} ms | {f['during']['p50']:.0f} ms | **{f['during']['p50'] / max(f['idle']['p50'], 1):.2f}×** |"
        )
        if failed:
            lines.append(f"| | {failed:.0f} requests failed | | | | | | | | |")
    lines += [
        "",
        "Targets (issue \"durable submissions\"): store overhead ≤ 10% of sync throughput, sync p50 during a",
        "burst ≤ 2× idle. The drain rate is the 10,000 submissions over the time from the first",
        "submission until none is pending.",
    ]
    return "\n".join(lines)


emit("store", section(sys.argv[1]), sys.argv)
