"""The compatible APIs' section of bench/RESULTS.md, from bench/apis.sh's output.

python3 bench/apis.py OUT                     prints the section
python3 bench/apis.py OUT --splice RESULTS.md  replaces the section in RESULTS.md
"""
import datetime
import os
import sys

from section import emit, totals

APIS = [
    ("function", "`/function/LANG` (text)"),
    ("judge0", "Judge0 `POST /judge0/submissions?wait=true`"),
    ("piston", "Piston `POST /api/v2/execute`"),
    ("jobe", "Jobe `POST …/restapi/runs`"),
]


def section(out):
    lines = [
        "## The compatible APIs: what the translation costs",
        "",
        f"`bench/apis.sh` on {datetime.date.today()}, {os.cpu_count()} CPUs: hello world, `ab -n 500 -c 20` through",
        "each front door against the same `judgelet serve` (2 slots; C with a warm compile cache),",
        "three rounds taking the APIs in turn; the figures are the rounds' totals (requests over time).",
        "Judge0 with `wait=true` also stores the submission (its token stays readable).",
        "",
        "| language | API | req/s | of `/function` | mean ms (median round) | p50 ms | p99 ms | failed |",
        "|---|---|---|---|---|---|---|---|",
    ]
    def rounds(language, api):
        return totals(os.path.join(out, f"{language}_{api}_{n}.txt") for n in (1, 2, 3))

    for language in ["python", "c"]:
        base = rounds(language, "function")["rps"]
        for api, name in APIS:
            f = rounds(language, api)
            lines.append(
                f"| {language} | {name} | **{f['rps']:.1f}** | {f['rps'] / base:.2f}× | {f['mean']:.1f} "
                f"| {f['p50']:.0f} | {f['p99']:.0f} | {f['failed']:.0f} of {f['complete']:.0f} |"
            )
    lines += [
        "",
        "Target (issue \"the APIs clients already speak\"): the translation costs at most 5% of the",
        "throughput. Jobe publishes 18 jobs/s for C and for Python on an 8-core i5 at 1.6 GHz.",
    ]
    return "\n".join(lines)


emit("apis", section(sys.argv[1]), sys.argv)
