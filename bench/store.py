"""The stored-submissions section of bench/RESULTS.md, from bench/store.sh's output.

python3 bench/store.py OUT                     prints the section
python3 bench/store.py OUT --splice RESULTS.md  replaces the section in RESULTS.md
"""
import datetime
import os
import re
import sys

BEGIN, END = "<!-- store:begin -->", "<!-- store:end -->"


def figures(path):
    text = open(path).read()

    def number(pattern):
        match = re.search(pattern, text)
        return float(match.group(1)) if match else 0.0

    return {
        "rps": number(r"Requests per second:\s+([\d.]+)"),
        "mean": number(r"Time per request:\s+([\d.]+) \[ms\] \(mean\)"),
        "p50": number(r"\n\s+50%\s+(\d+)"),
        "p99": number(r"\n\s+99%\s+(\d+)"),
        "failed": number(r"Failed requests:\s+(\d+)") + number(r"Non-2xx responses:\s+(\d+)"),
        "complete": number(r"Complete requests:\s+(\d+)"),
        "submitted": number(r"Submitted:.*\(([\d.]+)/s\)"),
        "drained": number(r"Drained:.*\(([\d.]+)/s\)"),
    }


def section(out):
    lines = [
        BEGIN,
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
        END,
    ]
    return "\n".join(lines)


def main():
    out = sys.argv[1]
    text = section(out)
    if len(sys.argv) == 4 and sys.argv[2] == "--splice":
        results = open(sys.argv[3]).read()
        if BEGIN in results:
            before, rest = results.split(BEGIN, 1)
            after = rest.split(END, 1)[1]
            results = before + text + after
        else:
            results = results.rstrip("\n") + "\n\n" + text + "\n"
        open(sys.argv[3], "w").write(results)
    else:
        print(text)


main()
