"""Helpers of bench/http/run.sh.

    python3 bench/http/report.py table bench/results/http-<timestamp>.jsonl [SECONDS WARMUP]
        prints the markdown table (medians over rounds)
    python3 bench/http/report.py wrk WRK_OUTPUT [key=value ...]
        one JSON line from wrk's text output (--latency) plus the given fields; "server_core"
        and "load_core" ("busy total busy total" jiffies before and after) become shares
    python3 bench/http/report.py progress ROUND CASE SERVER JSON_LINE
        one progress line (run.sh prints it on stderr)
"""
import json
import re
import statistics
import sys
from collections import defaultdict

UNITS_US = {"us": 1.0, "ms": 1e3, "s": 1e6, "m": 60e6, "h": 3600e6}


def parse_wrk(text):
    r = {}
    m = re.search(r"^\s*(\d+) requests in ([\d.]+)(us|ms|s|m|h),", text, re.M)
    if not m:
        raise SystemExit("no 'N requests in T' line in wrk's output")
    r["requests"] = int(m.group(1))
    r["seconds"] = float(m.group(2)) * UNITS_US[m.group(3)] / 1e6
    m = re.search(r"^Requests/sec:\s*([\d.]+)", text, re.M)
    r["req_per_s"] = float(m.group(1)) if m else r["requests"] / r["seconds"]
    for pct, value, unit in re.findall(r"^\s+(50|75|90|99)%\s+([\d.]+)(us|ms|s|m|h)\s*$", text,
                                       re.M):
        r[f"p{pct}_us"] = round(float(value) * UNITS_US[unit], 1)
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    r["socket_errors"] = sum(int(x) for x in m.groups()) if m else 0
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    r["non2xx"] = int(m.group(1)) if m else 0
    r["errors"] = r["socket_errors"] + r["non2xx"]
    return r


def value(v):
    try:
        return json.loads(v)
    except ValueError:
        return v


def wrk_line(path, pairs):
    r = parse_wrk(open(path).read())
    for pair in pairs:
        key, _, v = pair.partition("=")
        if key in ("server_core", "load_core"):
            b0, t0, b1, t1 = (int(x) for x in v.split())
            r[key + "_busy"] = round((b1 - b0) / (t1 - t0), 3) if t1 > t0 else None
        else:
            r[key] = value(v)
    if r["requests"] > 0 and "server_cpu_us" in r:
        r["server_cpu_us_per_req"] = round(r["server_cpu_us"] / r["requests"], 3)
    print(json.dumps(r, separators=(",", ":")))


def progress(rnd, case, server, line):
    r = json.loads(line)
    p99 = f"{r['p99_us']:>8,.0f} us" if r.get("p99_us") else "       — us"
    text = (f"round {rnd}  {case:<5} {server:<10} {r['req_per_s']:>11,.0f} req/s  p99 {p99}"
            f"  {r.get('server_cpu_us_per_req', 0):5.2f} CPU us/req"
            f"  rss {r.get('rss_kb', 0) / 1024:5.1f} MB"
            f"  load core {r.get('load_core_busy') or 0:.0%}")
    if r.get("errors"):
        text += f"  errors {r['errors']}"
    if r.get("server_died"):
        text += "  SERVER DIED"
    elif r.get("server_exit"):
        text += f"  exit status {r['server_exit']} when stopped"
    print(text)


def median(rs, key):
    xs = [r[key] for r in rs if r.get(key) is not None]
    return statistics.median(xs) if xs else None


def fmt(x, spec):
    return "—" if x is None else format(x, spec)


def table(path, seconds="?", warmup="?"):
    rows = [json.loads(line) for line in open(path) if line.strip()]
    timed = [r for r in rows if r.get("pass") != "count"]
    counts = {r["server"]: r for r in rows if r.get("pass") == "count"}
    servers = []
    for r in rows:
        if r["server"] not in servers:
            servers.append(r["server"])
    runs = defaultdict(list)
    for r in timed:
        runs[(r["server"], r["case"])].append(r)
    cases = [c for c in ("c50", "c256", "pipe", "2w") if any(r["case"] == c for r in timed)]
    rounds = max((r["round"] for r in timed), default=0)
    depth = next((r["depth"] for r in timed if "depth" in r), 16)
    pipe_conns = next((r["conns"] for r in timed if r["case"] == "pipe"), 256)

    def good(server, case):
        return [r for r in runs.get((server, case), [])
                if "failed" not in r and r.get("requests", 0) > 0 and not r.get("server_died")]

    def failed_note(server):
        notes = []
        for case in cases:
            all_runs = runs.get((server, case), [])
            bad = len(all_runs) - len(good(server, case))
            if bad:
                notes.append(f"{bad} of {len(all_runs)} {case} runs failed")
        return f" ({'; '.join(notes)})" if notes else ""

    head, rule = ["server"], ["---"]
    for case in ("c50", "c256"):
        if case in cases:
            head += [f"{case} req/s", f"{case} p50 µs", f"{case} p99 µs"]
    pinned_cases = [c for c in ("c50", "c256") if c in cases]
    if pinned_cases:
        head += [f"CPU µs/req ({' / '.join(pinned_cases)})", "peak RSS MB",
                 f"wrk core busy ({' / '.join(pinned_cases)})"]
    if "pipe" in cases:
        head += [f"pipelined ×{depth} c{pipe_conns} req/s", "pipelined CPU µs/req"]
    if "2w" in cases:
        head += ["2 workers, unpinned req/s"]
    if counts:
        head += ["user instr/req"]
    head += ["errors"]
    rule = ["---"] * len(head)

    if timed:
        print(f"### HTTP plaintext hello — median of {rounds} rounds, {seconds} s wrk runs "
              f"(after {warmup} s of warm-up)\n")
    else:
        print("### HTTP plaintext hello — instructions per request (callgrind)\n")
    text = []
    if pinned_cases:
        text.append(f"c50/c256: server pinned to one core (1 worker / shard), `wrk -t1 "
                    f"--latency` pinned to the other. CPU µs/req: the server's user+sys time "
                    f"(/proc/PID/stat) over the run / requests. Peak RSS: VmHWM, min–max over "
                    f"the {' and '.join(pinned_cases)} runs (nginx: master + worker summed). "
                    f"wrk core busy near 100 %: wrk, not the server, set the req/s.")
    if "pipe" in cases:
        text.append(f"Pipelined: same pinning, {depth} requests per write "
                    f"(`bench/http/pipeline.lua`), -c {pipe_conns}.")
    if "2w" in cases:
        text.append("2 workers: 2 workers / shards, nothing pinned, `wrk -t2 -c256`: wrk shares "
                    "both cores with the server.")
    if counts:
        text.append("User instr/req: the server under `valgrind --tool=callgrind` (1 worker), "
                    "`http_count` making every connection send N then 2N sequential keep-alive "
                    "requests: (Ir(2N) − Ir(N)) / (conns × N); user space only. weir runs "
                    "with its epoll backend there.")
    print(" ".join(text) + " Command: `bash bench/http/run.sh`.\n")
    print("| " + " | ".join(head) + " |")
    print("|" + "|".join(rule) + "|")
    for server in servers:
        cells = [server + failed_note(server)]
        for case in ("c50", "c256"):
            if case in cases:
                g = good(server, case)
                cells += [fmt(median(g, "req_per_s"), ",.0f"), fmt(median(g, "p50_us"), ",.0f"),
                          fmt(median(g, "p99_us"), ",.0f")]
        if pinned_cases:
            cpu = [fmt(median(good(server, c), "server_cpu_us_per_req"), ".2f")
                   for c in pinned_cases]
            rss = [r["rss_kb"] / 1024 for c in pinned_cases for r in good(server, c)
                   if r.get("rss_kb")]
            busy = [median(good(server, c), "load_core_busy") for c in pinned_cases]
            cells += [" / ".join(cpu),
                      "—" if not rss else (f"{min(rss):.1f}" if round(min(rss), 1) ==
                                           round(max(rss), 1) else
                                           f"{min(rss):.1f}–{max(rss):.1f}"),
                      " / ".join("—" if b is None else f"{b:.0%}" for b in busy)]
        if "pipe" in cases:
            cells += [fmt(median(good(server, "pipe"), "req_per_s"), ",.0f"),
                      fmt(median(good(server, "pipe"), "server_cpu_us_per_req"), ".2f")]
        if "2w" in cases:
            cells.append(fmt(median(good(server, "2w"), "req_per_s"), ",.0f"))
        if counts:
            c = counts.get(server)
            cells.append("—" if c is None else
                         f"{c['instr_per_req']:,}" if "instr_per_req" in c else "n/a")
        cells.append(str(sum(r.get("errors", 0) for case in cases
                             for r in runs.get((server, case), []))))
        print("| " + " | ".join(cells) + " |")
    for server in servers:
        c = counts.get(server)
        if c and "count_failed" in c:
            print(f"\ninstr/req n/a for {server}: {c['count_failed']}.", end="")
    if any("count_failed" in c for c in counts.values()):
        print()
    # A server that did not exit 0 on SIGTERM (timed runs) or SIGINT (count pass).
    for server in servers:
        bad = [r["server_exit"] for r in rows if r["server"] == server
               and r.get("server_exit", 0) != 0]
        if bad:
            total = sum(1 for r in rows if r["server"] == server and "server_exit" in r)
            print(f"\n{server} did not exit cleanly when stopped in {len(bad)} of {total} runs "
                  f"(exit status {', '.join(sorted({describe(x) for x in bad}))}).")


def describe(status):
    if status > 128:
        import signal
        try:
            return f"{status}: {signal.Signals(status - 128).name}"
        except ValueError:
            pass
    return str(status)


if __name__ == "__main__":
    mode = sys.argv[1] if len(sys.argv) > 1 else ""
    if mode == "wrk":
        wrk_line(sys.argv[2], sys.argv[3:])
    elif mode == "progress":
        progress(*sys.argv[2:6])
    elif mode == "table":
        table(*sys.argv[2:5])
    else:
        sys.exit(__doc__)
