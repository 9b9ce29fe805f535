"""Shared by the benchmarks that write a section of bench/RESULTS.md: ab-like figures, and
replacing a section between its markers."""
import re


def figures(path):
    """ApacheBench's (or judgelet-bench-overhead's ab-like) figures from its output."""
    text = open(path).read()

    def number(pattern):
        match = re.search(pattern, text)
        return float(match.group(1)) if match else 0.0

    return {
        "rps": number(r"Requests per second:\s+([\d.]+)"),
        "mean": number(r"Time per request:\s+([\d.]+) \[ms\] \(mean\)"),
        "p50": number(r"\n\s+50%\s+(\d+)"),
        "p99": number(r"\n\s+99%\s+(\d+)"),
        # ab counts a reply whose length differs from the first as failed: measurements in a
        # reply (times, memory) change its length; such a reply is not a failure.
        "failed": number(r"Failed requests:\s+(\d+)")
        - number(r"Length: (\d+)")
        + number(r"Non-2xx responses:\s+(\d+)"),
        "complete": number(r"Complete requests:\s+(\d+)"),
        "submitted": number(r"Submitted:.*\(([\d.]+)/s\)"),
        "drained": number(r"Drained:.*\(([\d.]+)/s\)"),
    }


def totals(paths):
    """Rounds of one measurement as one: requests over the rounds' time, failures summed,
    latencies of the median round."""
    runs = [figures(path) for path in paths]
    total = {key: sum(r[key] for r in runs) for key in ("failed", "complete")}
    total["rps"] = total["complete"] / sum(r["complete"] / r["rps"] for r in runs if r["rps"])
    for key in ("mean", "p50", "p99"):
        total[key] = sorted(r[key] for r in runs)[len(runs) // 2]
    return total


def emit(name, text, argv):
    """Prints the section `name` (already between its markers), or with `--splice FILE`
    puts it in FILE in place of the old one (at the end when there was none)."""
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    text = f"{begin}\n{text}\n{end}"
    if len(argv) == 4 and argv[2] == "--splice":
        results = open(argv[3]).read()
        if begin in results:
            before, rest = results.split(begin, 1)
            results = before + text + rest.split(end, 1)[1]
        else:
            results = results.rstrip("\n") + "\n\n" + text + "\n"
        open(argv[3], "w").write(results)
    else:
        print(text)
