"""Samples a process's CPU use and RSS, and the machine's CPU use, every 100 ms, into a CSV."""
import os
import sys
import time

pid, path = int(sys.argv[1]), sys.argv[2]
tick = os.sysconf("SC_CLK_TCK")


def process():
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    with open(f"/proc/{pid}/status") as f:
        rss = next(int(l.split()[1]) for l in f if l.startswith("VmRSS"))
    return (int(fields[11]) + int(fields[12])) / tick, rss


def machine():
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


with open(path, "w") as out:
    out.write("time,server_cpu_percent,server_rss_kib,machine_cpu_percent\n")
    last_cpu, _ = process()
    last_busy, last_total = machine()
    last = time.time()
    while True:
        time.sleep(0.1)
        try:
            cpu, rss = process()
        except (FileNotFoundError, ProcessLookupError, StopIteration):
            break
        busy, total = machine()
        now = time.time()
        out.write(
            f"{now:.3f},{100 * (cpu - last_cpu) / (now - last):.1f},{rss},"
            f"{100 * (busy - last_busy) / max(1, total - last_total):.1f}\n"
        )
        out.flush()
        last_cpu, last_busy, last_total, last = cpu, busy, total, now
