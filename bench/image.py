"""The image's section of bench/RESULTS.md, from bench/image.sh's output.

python3 bench/image.py OUT                     prints the section
python3 bench/image.py OUT --splice RESULTS.md  replaces the section in RESULTS.md
"""
import datetime
import os
import sys

from section import emit, totals


def section(out):
    lines = [
        "## The image: the function in a container against the same binary on the host",
        "",
        f"`bench/image.sh` on {datetime.date.today()}, {os.cpu_count()} CPUs: Python hello, `ab -n 1000` at",
        "20 and 200 clients (the report's runs) against `judgelet function python` in the",
        "`unprivileged` tier as stack.yml runs it (2 slots, `max_inflight` 256, uid 10001, no",
        "capabilities, no_new_privs): in the image, in a restricted podman container (read-only",
        "root, tmpfs `/tmp`, 512 MiB), and the same binary on the host under `setpriv`; three",
        "rounds taking the two in turn, figures over the rounds.",
        "",
        "| where | clients | req/s | of the host's | mean ms (median round) | p50 ms | p99 ms | failed or non-2xx |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for c in (20, 200):
        host = totals(os.path.join(out, f"host_c{c}_{n}.txt") for n in (1, 2, 3))
        for where in ("container", "host"):
            f = totals(os.path.join(out, f"{where}_c{c}_{n}.txt") for n in (1, 2, 3))
            lines.append(
                f"| {where} | {c} | **{f['rps']:.1f}** | {f['rps'] / host['rps']:.2f}× | {f['mean']:.1f} "
                f"| {f['p50']:.0f} | {f['p99']:.0f} | {f['failed']:.0f} of {f['complete']:.0f} |"
            )
    lines += [
        "",
        "The container is the faster: every Python start on this host reads",
        "`/usr/lib/python3/dist-packages` (68 entries, two `.pth` files, one of which imports this",
        "machine's egress-CA hook), the image's is empty. The original report: 6.65 req/s for",
        "Python at 20 clients, through OpenFaaS.",
    ]
    return "\n".join(lines)


emit("image", section(sys.argv[1]), sys.argv)
