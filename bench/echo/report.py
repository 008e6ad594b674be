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
timed_rows = [r for r in rows if r.get("pass") != "callgrind"]
cg_rows = {(r["server"], r["size"], r["conns"]): r for r in rows if r.get("pass") == "callgrind"}

runs = defaultdict(list)
servers, cases = [], set()
for r in rows:
    if r["server"] not in servers:
        servers.append(r["server"])
    cases.add((r["size"], r["conns"]))
for r in timed_rows:
    runs[(r["server"], r["size"], r["conns"])].append(r)
rounds = max((r["round"] for r in timed_rows), default=0)
instructions = any("instr_per_msg" in r for r in timed_rows)
clients = sorted({r["client"] for r in timed_rows if "client" in r})


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


def callgrind_cell(server, size, conns):
    r = cg_rows.get((server, size, conns))
    if r is None:
        return "—"
    if "callgrind_instr_per_msg" in r:
        return f"{r['callgrind_instr_per_msg']:,}"
    return "n/a"


engine = {"uring-defer": "one io_uring thread (DEFER_TASKRUN)", "uring": "one io_uring thread",
          "epoll": "one epoll thread"}
client_text = " / ".join(engine.get(c, c) for c in clients) or "one thread"
cost = "server instructions/msg" if instructions else "server CPU µs/msg"
if timed_rows:
    print(f"### TCP echo over loopback: weir vs Boost.Asio 1.74 — median of {rounds} rounds, "
          f"{seconds} s measured after {warmup} s warm-up\n")
else:
    print("### TCP echo over loopback: weir vs Boost.Asio 1.74 — instructions per message "
          "(callgrind)\n")
timed_text = (
    ("Instructions: `perf stat -e instructions -p` on the server over the whole load, "
     "divided by every message echoed. " if instructions else
     "No hardware counters here (perf reports instructions `<not supported>`), so the cost "
     "column is the server's user+sys CPU time over the measured window (/proc/PID/stat) "
     "divided by its messages. ") +
    "Server/client CPU: share of their core used during the window; client µs/msg: "
    "`echo_load`'s own CPU per message. ") if timed_rows else ""
cg_text = ("Callgrind instr/msg: the server under `valgrind --tool=callgrind`, run once with K "
           "and once with 2K round trips per connection: (Ir(2K) − Ir(K)) / (conns × K); "
           "user-space instructions only (the kernel's TCP work is not counted), with the server "
           "saturated. " if cg_rows else "")
print(f"Server pinned to CPU 0, `echo_load` ({client_text}, closed loop: one message in flight "
      f"per connection) to CPU 1. {timed_text}{cg_text}Command: `bash bench/echo/run.sh`.\n")
if not timed_rows:  # ECHO_COUNT=callgrind: only the instruction counts
    print("| message | conns | server | callgrind instr/msg |")
    print("|---|---|---|---|")
    for size, conns in sorted(cases):
        for server in servers:
            if (server, size, conns) in cg_rows:
                print(f"| {size_label(size)} | {conns} | {server} "
                      f"| {callgrind_cell(server, size, conns)} |")
cg_head, cg_rule = (" | callgrind instr/msg", "|---") if cg_rows else ("", "")
if timed_rows:
    print(f"| message | conns | server | msgs/s | p50 µs | p99 µs | {cost}{cg_head} | server CPU "
          "| client CPU | client µs/msg | msgs/s ÷ asio | errors |")
    print(f"|---|---|---|---|---|---|---{cg_rule}|---|---|---|---|---|")
    for size, conns in sorted(cases):
        asio = [r for r in runs.get(("asio", size, conns), []) if ok(r)]
        asio_rate = median(asio, "msgs_per_s")
        for server in servers:
            all_runs = runs.get((server, size, conns), [])
            if not all_runs and (server, size, conns) not in cg_rows:
                continue
            good = [r for r in all_runs if ok(r)]
            for r in good:
                if r.get("seconds"):
                    r["server_share"] = r.get("server_cpu_us", 0) / (r["seconds"] * 1e6)
            rate = median(good, "msgs_per_s")
            if instructions:
                per_msg = fmt(median(good, "instr_per_msg"), ",.0f")
            else:
                per_msg = fmt(median(good, "server_cpu_us_per_msg"), ".2f")
            cg = f" | {callgrind_cell(server, size, conns)}" if cg_rows else ""
            ratio = ("—" if server == "asio" or not rate or not asio_rate
                     else f"{rate / asio_rate:.2f}")
            errors = sum(r.get("errors", 0) for r in all_runs)
            failed = len(all_runs) - len(good)
            note = f" ({failed} of {len(all_runs)} runs failed)" if failed else ""
            share = median(good, "server_share")
            client = median(good, "client_cpu")
            client_us = median(good, "client_cpu_us_per_msg")
            print(f"| {size_label(size)} | {conns} | {server}{note} | {fmt(rate, ',.0f')} "
                  f"| {fmt(median(good, 'p50_us'), '.1f')} | {fmt(median(good, 'p99_us'), '.1f')} "
                  f"| {per_msg}{cg} | {pct(share)} | {pct(client)} | {fmt(client_us, '.2f')} "
                  f"| {ratio} | {errors} |")


# One note per server whose callgrind column has an n/a: the first reason (the later cases of a
# server that could not run under valgrind are skipped with the same reason).
for server in servers:
    reasons = [r["callgrind_failed"].removeprefix("skipped: ")
               for (s, _, _), r in sorted(cg_rows.items(), key=lambda kv: kv[0][1:])
               if s == server and "callgrind_failed" in r]
    if reasons:
        print(f"\ncallgrind n/a for {server}: {reasons[0]}.", end="")
        if len(set(reasons)) > 1:
            print(f" (other cases: {'; '.join(sorted(set(reasons) - {reasons[0]}))}.)", end="")
        print()
if any(s.endswith("uring") and "callgrind_failed" in r for (s, _, _), r in cg_rows.items()):
    print("valgrind 3.19 holds its global thread lock across io_uring_enter, so while weir's "
          "shard waits there, the thread that must wake it (block_on's at start, the signal "
          "thread at exit) never runs: see the end of run.sh.")
