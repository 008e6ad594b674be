"""Prints the TCP echo table from bench/echo/run.sh's JSON lines (medians over rounds).

    python3 bench/echo/report.py bench/results/echo-<timestamp>.jsonl [SECONDS WARMUP]
"""
import json
import statistics
import sys
from collections import defaultdict

path = sys.argv[1]
seconds, warmup = (sys.argv[2], sys.argv[3]) if len(sys.argv) > 3 else ("?", "?")
rows = [json.loads(line) for line in open(path) if line.strip()]

runs = defaultdict(list)
servers, cases = [], set()
for r in rows:
    if r["server"] not in servers:
        servers.append(r["server"])
    cases.add((r["size"], r["conns"]))
    runs[(r["server"], r["size"], r["conns"])].append(r)
rounds = max((r["round"] for r in rows), default=0)
instructions = any("instr_per_msg" in r for r in rows)


def ok(r):
    return "failed" not in r and r.get("msgs", 0) > 0


def median(rs, key):
    xs = [r[key] for r in rs if key in r]
    return statistics.median(xs) if xs else None


def fmt(x, spec):
    return "—" if x is None else format(x, spec)


def pct(x):
    return "—" if x is None else f"{x * 100:.0f}%"


def size_label(n):
    return f"{n // 1024} KiB" if n % 1024 == 0 else f"{n} B"


cost = "server instructions/msg" if instructions else "server CPU µs/msg"
print(f"### TCP echo over loopback: weir vs Boost.Asio 1.74 — median of {rounds} rounds, "
      f"{seconds} s measured after {warmup} s warm-up\n")
print("Server pinned to CPU 0, `echo_load` (one epoll thread, closed loop: one message in flight "
      "per connection) to CPU 1. " +
      ("Instructions: `perf stat -e instructions -p` on the server over the whole load, "
       "divided by every message echoed." if instructions else
       "No hardware counters here (perf reports instructions `<not supported>`), so the cost "
       "column is the server's user+sys CPU time over the measured window (/proc/PID/stat) "
       "divided by its messages.") +
      " Server/client CPU: share of their core used during the window. "
      "Command: `bash bench/echo/run.sh`.\n")
print(f"| message | conns | server | msgs/s | p50 µs | p99 µs | {cost} | server CPU | client CPU "
      "| msgs/s ÷ asio | errors |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
for size, conns in sorted(cases):
    asio = [r for r in runs.get(("asio", size, conns), []) if ok(r)]
    asio_rate = median(asio, "msgs_per_s")
    for server in servers:
        all_runs = runs.get((server, size, conns), [])
        good = [r for r in all_runs if ok(r)]
        for r in good:
            if r.get("seconds"):
                r["server_share"] = r.get("server_cpu_us", 0) / (r["seconds"] * 1e6)
        rate = median(good, "msgs_per_s")
        if instructions:
            per_msg = fmt(median(good, "instr_per_msg"), ",.0f")
        else:
            per_msg = fmt(median(good, "server_cpu_us_per_msg"), ".2f")
        ratio = "—" if server == "asio" or not rate or not asio_rate else f"{rate / asio_rate:.2f}"
        errors = sum(r.get("errors", 0) for r in all_runs)
        failed = len(all_runs) - len(good)
        note = f" ({failed} of {len(all_runs)} runs failed)" if failed else ""
        share = median(good, "server_share")
        client = median(good, "client_cpu")
        print(f"| {size_label(size)} | {conns} | {server}{note} | {fmt(rate, ',.0f')} "
              f"| {fmt(median(good, 'p50_us'), '.1f')} | {fmt(median(good, 'p99_us'), '.1f')} "
              f"| {per_msg} | {pct(share)} | {pct(client)} | {ratio} | {errors} |")
