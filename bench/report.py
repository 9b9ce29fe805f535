"""Turns a bench/run.sh output directory into bench/RESULTS.md and SVG plots.

No plotting library: the charts are a few SVG rectangles and lines, written by hand so the
benchmark needs nothing beyond Python's standard library.
"""
import csv
import datetime
import html
import json
import os
import re
import sys

out, dest = sys.argv[1], sys.argv[2]

REPORT_RPS = 6.65  # the original report: Python hello, ab -n 100 -c 20, OpenFaaS
REPORT_MEAN_MS = 3000.0
# Issue 3's reproduction of the report's stack on this machine (classic watchdog, its handlers).
WATCHDOG_RPS = {"python": 33.0, "c": 21.0}

SCENARIOS = [
    # name, program, requests, concurrency, description
    ("python_n100_c20", "python", 100, 20, "Python hello, `ab -n 100 -c 20` (the report's run)"),
    ("python_n1000_c200", "python", 1000, 200, "Python hello, `ab -n 1000 -c 200`"),
    ("c_cold_n100_c20", "c", 100, 20, "C hello, 100 distinct programs (every one compiles), c=20"),
    ("c_warm_n100_c20", "c", 100, 20, "C hello, compile cache warm, `ab -n 100 -c 20`"),
    ("c_warm_n2000_c20", "c", 2000, 20, "C hello, compile cache warm, `ab -n 2000 -c 20`"),
]


def parse_ab(path):
    text = open(path).read()

    def number(pattern, default=0.0):
        match = re.search(pattern, text)
        return float(match.group(1)) if match else default

    return {
        "rps": number(r"Requests per second:\s+([\d.]+)"),
        "mean": number(r"Time per request:\s+([\d.]+) \[ms\] \(mean\)"),
        "p50": number(r"\n\s+50%\s+(\d+)"),
        "p99": number(r"\n\s+99%\s+(\d+)"),
        "failed": int(number(r"Failed requests:\s+(\d+)")),
        "non2xx": int(number(r"Non-2xx responses:\s+(\d+)")),
        "complete": int(number(r"Complete requests:\s+(\d+)")),
    }


def floors(overhead_md):
    """Bare runs/s with 2 workers, from the overhead table: python and compiled C rows."""
    result = {}
    for line in open(overhead_md):
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 8:
            continue
        if cells[0].startswith("Python hello"):
            result["python"] = float(cells[6])
        elif cells[0] == "compiled C hello":
            result["c"] = float(cells[6])
    return result


def bar_chart(path, title, unit, groups, series, log=False):
    """groups: labels; series: [(name, colour, [value per group])]."""
    width, height, left, bottom, top = 900, 380, 70, 90, 40
    plot_w, plot_h = width - left - 20, height - bottom - top
    peak = max(v for _, _, values in series for v in values if v is not None) * 1.15
    import math

    def y(v):
        if log:
            lo, hi = math.log10(1), math.log10(peak)
            return top + plot_h - plot_h * (math.log10(max(v, 1)) - lo) / (hi - lo)
        return top + plot_h - plot_h * v / peak

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="12">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="{width / 2}" y="22" text-anchor="middle" font-size="15">{html.escape(title)}</text>',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{width - 20}" y2="{top + plot_h}" stroke="black"/>',
        f'<text x="14" y="{top + plot_h / 2}" transform="rotate(-90 14 {top + plot_h / 2})" text-anchor="middle">{unit}</text>',
    ]
    ticks = [10**k for k in range(0, int(math.log10(peak)) + 1)] if log else [peak / 5 * k for k in range(6)]
    for t in ticks:
        parts.append(f'<line x1="{left}" y1="{y(t):.1f}" x2="{width - 20}" y2="{y(t):.1f}" stroke="#ddd"/>')
        parts.append(f'<text x="{left - 6}" y="{y(t) + 4:.1f}" text-anchor="end">{t:.0f}</text>')
    group_w = plot_w / len(groups)
    bar_w = group_w * 0.8 / len(series)
    for g, label in enumerate(groups):
        x0 = left + g * group_w + group_w * 0.1
        for s, (name, colour, values) in enumerate(series):
            v = values[g]
            if v is None:
                continue
            x = x0 + s * bar_w
            parts.append(
                f'<rect x="{x:.1f}" y="{y(v):.1f}" width="{bar_w - 2:.1f}" height="{top + plot_h - y(v):.1f}" fill="{colour}"/>'
            )
            parts.append(f'<text x="{x + bar_w / 2:.1f}" y="{y(v) - 3:.1f}" text-anchor="middle" font-size="10">{v:.0f}</text>')
        for i, line in enumerate(label.split("\n")):
            parts.append(f'<text x="{x0 + group_w * 0.4:.1f}" y="{top + plot_h + 16 + 13 * i}" text-anchor="middle">{html.escape(line)}</text>')
    for s, (name, colour, _) in enumerate(series):
        x = left + 10 + s * 220
        parts.append(f'<rect x="{x}" y="{height - 22}" width="12" height="12" fill="{colour}"/>')
        parts.append(f'<text x="{x + 16}" y="{height - 12}">{html.escape(name)}</text>')
    parts.append("</svg>")
    open(path, "w").write("\n".join(parts))


def timeline(path, samples, marks):
    width, height, left, top = 900, 320, 60, 40
    plot_w, plot_h = width - left - 60, height - top - 60
    t0 = samples[0]["time"]
    span = samples[-1]["time"] - t0 or 1
    rss_peak = max(s["rss"] for s in samples) * 1.2

    def x(t):
        return left + plot_w * (t - t0) / span

    def polyline(key, scale, colour):
        points = " ".join(f'{x(s["time"]):.1f},{top + plot_h - plot_h * s[key] / scale:.1f}' for s in samples)
        return f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="1.5"/>'

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="12">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="{width / 2}" y="22" text-anchor="middle" font-size="15">Server during the run: CPU (% of the machine, of one core) and RSS</text>',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="black"/>',
        polyline("machine", 100, "#999"),
        polyline("cpu", 200, "#d62728"),
        polyline("rss", rss_peak, "#1f77b4"),
        f'<text x="{left + plot_w + 4}" y="{top + 10}" fill="#1f77b4">RSS max {rss_peak / 1.2 / 1024:.1f} MiB</text>',
    ]
    for t, name in marks:
        if name == "end":
            continue
        parts.append(f'<line x1="{x(t):.1f}" y1="{top}" x2="{x(t):.1f}" y2="{top + plot_h}" stroke="#bbb" stroke-dasharray="4"/>')
        parts.append(f'<text x="{x(t) + 3:.1f}" y="{top + plot_h + 14}" font-size="9">{html.escape(name)}</text>')
    legend = [("#d62728", "judgelet process CPU % (200 = both cores)"), ("#999", "machine CPU %"), ("#1f77b4", "judgelet RSS")]
    for i, (colour, name) in enumerate(legend):
        parts.append(f'<rect x="{left + i * 280}" y="{height - 22}" width="12" height="12" fill="{colour}"/>')
        parts.append(f'<text x="{left + i * 280 + 16}" y="{height - 12}">{name}</text>')
    parts.append("</svg>")
    open(path, "w").write("\n".join(parts))


def main():
    results = {name: parse_ab(os.path.join(out, f"{name}.txt")) for name, *_ in SCENARIOS}
    floor = floors(os.path.join(out, "overhead.md"))
    idle_rss = int(open(os.path.join(out, "idle_rss_kib")).read())
    samples = [
        {"time": float(r["time"]), "cpu": float(r["server_cpu_percent"]), "rss": int(r["server_rss_kib"]), "machine": float(r["machine_cpu_percent"])}
        for r in csv.DictReader(open(os.path.join(out, "samples.csv")))
    ]
    marks = [(float(t), n) for t, n in (line.split() for line in open(os.path.join(out, "marks")))]
    peak_rss = max(s["rss"] for s in samples)
    machine = os.uname()
    cpus = os.cpu_count()

    lines = [
        "# Benchmark results",
        "",
        f"Generated by `bench/run.sh` on {datetime.date.today()}, {cpus} CPUs, Linux {machine.release}.",
        "Every figure comes from the same run; the floor is a bare spawn of the same program with 2",
        "parallel workers (no HTTP, no sandbox), measured just before the gateway runs.",
        "",
        "## Through the gateway (ApacheBench on 127.0.0.1)",
        "",
        "| scenario | req/s | mean ms | p50 ms | p99 ms | failed | floor runs/s | ratio to floor | the report |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, program, n, c, description in SCENARIOS:
        r = results[name]
        ratio = r["rps"] / floor[program] if floor.get(program) else 0
        report = f"{REPORT_RPS} req/s, {REPORT_MEAN_MS:.0f} ms mean" if name == "python_n100_c20" else f"watchdog repro ≈{WATCHDOG_RPS[program]:.0f} req/s"
        failed = r["failed"] + r["non2xx"]
        lines.append(
            f"| {description} | **{r['rps']:.1f}** | {r['mean']:.1f} | {r['p50']:.0f} | {r['p99']:.0f} | {failed} of {r['complete']} | {floor.get(program, 0):.0f} | {ratio:.2f}× | {report} |"
        )
    lines += [
        "",
        f"Server RSS: {idle_rss / 1024:.1f} MiB idle, {peak_rss / 1024:.1f} MiB at most during the run.",
        "",
        "![throughput](throughput.svg)",
        "",
        "![latency](latency.svg)",
        "",
        "![server](server.svg)",
        "",
        "## The sandbox alone: overhead per run against a bare spawn",
        "",
        open(os.path.join(out, "overhead.md")).read().strip(),
        "",
        "Latency is client-observed and includes making and removing the box. Design notes and the",
        "profiles behind each optimisation: `docs/performance.md`.",
        "",
        "### The unprivileged tier (docs/deploy.md), as root (a uid per slot)",
        "",
        open(os.path.join(out, "overhead_unprivileged.md")).read().strip(),
        "",
        "### The unprivileged tier as nobody with no capabilities (one shared uid)",
        "",
        open(os.path.join(out, "overhead_nobody.md")).read().strip(),
        "",
        "## Grading: 100 tests of a C problem (a + b)",
        "",
        open(os.path.join(out, "grading.md")).read().strip(),
        "",
    ]
    lines += [
        "## Languages added as configuration: hello world through the gateway",
        "",
        "| language | first request (compiles) | compile | second request (cache hit) | `ab -n 200 -c 20` req/s | mean ms | p50 ms | p99 ms | failed |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for language in ["java", "go", "rust", "javascript"]:
        path = os.path.join(out, f"{language}_n200_c20.txt")
        if not os.path.exists(path):
            continue
        first = open(os.path.join(out, f"{language}_cold.txt")).read().strip().splitlines()
        second = open(os.path.join(out, f"{language}_cached.txt")).read().strip().splitlines()
        compile_ms = json.loads(first[0])["compile"]["wall_time_ms"]
        r = parse_ab(path)
        lines.append(
            f"| {language} | {float(first[-1]) * 1e3:.0f} ms | {compile_ms:.0f} ms | {float(second[-1]) * 1e3:.0f} ms "
            f"| **{r['rps']:.1f}** | {r['mean']:.1f} | {r['p50']:.0f} | {r['p99']:.0f} | {r['failed'] + r['non2xx']} of {r['complete']} |"
        )
    lines.append("")
    verify_seconds = os.path.join(out, "verify_seconds")
    if os.path.exists(verify_seconds):
        summary = [l for l in open(os.path.join(out, "verify.txt")) if l.startswith("judgelet:")]
        lines += [
            "## Verifying the shared problem corpus",
            "",
            f"`judgelet verify` over every package in `../shared/problems`: "
            f"{float(open(verify_seconds).read()):.0f} s wall time. {summary[-1].strip() if summary else ''}",
            "",
        ]
    for section in ["store.md", "apis.md"]:
        path = os.path.join(out, section)
        if os.path.exists(path):
            lines += [open(path).read().strip(), ""]
    open(os.path.join(dest, "RESULTS.md"), "w").write("\n".join(lines))

    groups = ["Python\nn=100 c=20", "Python\nn=1000 c=200", "C cold\nn=100 c=20", "C warm\nn=100 c=20", "C warm\nn=2000 c=20"]
    names = [name for name, *_ in SCENARIOS]
    programs = [program for _, program, *_ in SCENARIOS]
    bar_chart(
        os.path.join(dest, "throughput.svg"),
        "Throughput (requests/s, log scale)",
        "requests / s",
        groups,
        [
            ("judgelet", "#2ca02c", [results[n]["rps"] for n in names]),
            ("floor: bare spawn, 2 workers", "#aaaaaa", [floor.get(p) for p in programs]),
            ("the report's stack (OpenFaaS)", "#d62728", [REPORT_RPS, None, WATCHDOG_RPS["c"], WATCHDOG_RPS["c"], None]),
        ],
        log=True,
    )
    bar_chart(
        os.path.join(dest, "latency.svg"),
        "Latency per request (ms, log scale)",
        "ms",
        groups,
        [
            ("mean", "#1f77b4", [results[n]["mean"] for n in names]),
            ("p50", "#9edae5", [results[n]["p50"] for n in names]),
            ("p99", "#ff7f0e", [results[n]["p99"] for n in names]),
        ],
        log=True,
    )
    timeline(os.path.join(dest, "server.svg"), samples, marks)


main()
