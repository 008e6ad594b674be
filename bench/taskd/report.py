"""Helpers of bench/taskd/run.sh.

    python3 bench/taskd/report.py table bench/results/taskd-<timestamp>.jsonl
        prints the markdown table (medians over rounds, ratios against the rust peer)
    python3 bench/taskd/report.py wrk WRK_OUTPUT [key=value ...]
        one JSON line from wrk's text output (--latency) plus the given fields (values are
        JSON when they parse as JSON, strings otherwise); "server_core" and "load_core" ("busy
        total busy total" jiffies before and after) become shares, "wrk_time" ("real user sys"
        seconds) becomes wrk_cpu, "counters" ("writes fsyncs writes fsyncs" before and after)
        become kv_writes, fsyncs and writes_per_fsync
    python3 bench/taskd/report.py progress ROUND CASE LABEL JSON_LINE
        one progress line (run.sh prints it on stderr)
"""
import json
import re
import statistics
import sys
from collections import defaultdict
from pathlib import Path

# wrk's output and the table's cells are read and written as bench/http does.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "http"))
from report import UNITS_US, describe, fmt, median, parse_wrk, value  # noqa: E402

CASE_ORDER = ("c50", "c256", "put")


def wrk_line(path, pairs):
    r = parse_wrk(open(path).read())
    for pair in pairs:
        key, _, v = pair.partition("=")
        if key in ("server_core", "load_core"):
            b0, t0, b1, t1 = (int(x) for x in v.split())
            r[key + "_busy"] = round((b1 - b0) / (t1 - t0), 3) if t1 > t0 else None
        elif key == "wrk_time":
            real, user, sys_ = (float(x) for x in v.split())
            r["wrk_cpu"] = round((user + sys_) / real, 3) if real > 0 else None
        elif key == "counters":
            w0, f0, w1, f1 = (int(x) for x in v.split())
            r["kv_writes"], r["fsyncs"] = w1 - w0, f1 - f0
            r["writes_per_fsync"] = round((w1 - w0) / (f1 - f0), 2) if f1 > f0 else None
        else:
            r[key] = value(v)
    if r["requests"] > 0 and "server_cpu_us" in r:
        r["server_cpu_us_per_req"] = round(r["server_cpu_us"] / r["requests"], 3)
    print(json.dumps(r, separators=(",", ":")))


def progress(rnd, case, label, line):
    r = json.loads(line)

    def us(key):
        return f"{r[key]:>8,.0f} us" if r.get(key) is not None else "       — us"

    text = (f"round {rnd}  {case:<5} {label:<22} {r['req_per_s']:>9,.0f} req/s"
            f"  p50 {us('p50_us')}  p99 {us('p99_us')}"
            f"  {r.get('server_cpu_us_per_req', 0):6.2f} CPU us/req"
            f"  rss idle {r.get('idle_rss_kb', 0) / 1024:5.1f} MB"
            f" peak {r.get('rss_kb', 0) / 1024:6.1f} MB"
            f"  wrk CPU {r.get('wrk_cpu') or 0:.0%}")
    if r.get("writes_per_fsync") is not None:
        text += f"  {r['writes_per_fsync']:.1f} writes/fsync"
    if r.get("counters_failed"):
        text += f"  ({r['counters_failed']})"
    if r.get("errors"):
        text += f"  errors {r['errors']} (non-2xx {r['non2xx']}, socket {r['socket_errors']})"
    if r.get("server_died"):
        text += "  SERVER DIED"
    elif r.get("server_exit"):
        text += f"  exit status {describe(r['server_exit'])} when stopped"
    print(text)


def ratio(a, b):
    return "—" if a is None or b is None or b == 0 else f"{a / b:.2f}"


def table(path):
    lines = [json.loads(line) for line in open(path) if line.strip()]
    meta = next((r for r in lines if r.get("meta")), {})
    rows = [r for r in lines if not r.get("meta")]
    labels = []
    runs = defaultdict(list)
    for r in rows:
        if r["label"] not in labels:
            labels.append(r["label"])
        runs[(r["case"], r["label"])].append(r)
    cases = [c for c in CASE_ORDER if any(r["case"] == c for r in rows)]
    rounds = max((r["round"] for r in rows), default=0)

    def good(case, label):
        return [r for r in runs.get((case, label), [])
                if "failed" not in r and r.get("requests", 0) > 0 and not r.get("server_died")]

    seconds, warmup = meta.get("seconds", "?"), meta.get("warmup", "?")
    print(f"### taskd — median of {rounds} rounds, {seconds} s wrk runs (after {warmup} s of "
          f"warm-up)\n")
    notes = [
        "Server pinned to one core (taskd `--shards 1`, Go `GOMAXPROCS=1`, Rust tokio "
        "`current_thread`), `wrk -t1 --latency` pinned to the other.",
        "c50 / c256: `POST /echo {\"kind\":\"create\",\"message\":\"hello world\"}` "
        "(`bench/taskd/post_echo.lua`) over 50 / 256 connections.",
    ]
    if "put" in cases:
        notes.append(
            "put (taskd only): `PUT /kv/<unique key>` with 100 bytes (`bench/taskd/put_kv.lua`) "
            "over 256 connections; group-commit as configured, fsync-per-write with "
            "`--max-batch 1`; writes/fsync from taskd's `taskd_kv_writes_total` / "
            f"`taskd_fsyncs_total` over the measured run (data directory on "
            f"{meta.get('data_fs', '?')}).")
    notes.append(
        "Idle RSS: VmRSS 0.5 s after the server listened, before any request; peak RSS: VmHWM "
        "after the run. CPU µs/req: the server's user+sys time over the run / requests. "
        "÷ rust: this row's value over the Rust peer's in the same case (req/s: higher is "
        "better; p99, peak RSS, CPU: lower is better). wrk CPU: wrk's user+sys time / wall time; "
        "near 100 %: wrk, not the server, set the req/s. Errors: non-2xx answers + socket "
        "errors, over all runs.")
    print(" ".join(notes) + " Command: `bash bench/taskd/run.sh`.\n")
    head = ["server", "case", "req/s", "p50 µs", "p99 µs", "idle RSS MB", "peak RSS MB",
            "CPU µs/req", "req/s ÷ rust", "p99 ÷ rust", "peak RSS ÷ rust", "CPU/req ÷ rust",
            "writes/fsync", "wrk CPU", "errors"]
    print("| " + " | ".join(head) + " |")
    print("|" + "|".join(["---"] + ["---"] + ["---:"] * (len(head) - 2)) + "|")
    failures = []
    for case in cases:
        ref = good(case, "rust")
        ref_rps, ref_p99 = median(ref, "req_per_s"), median(ref, "p99_us")
        ref_rss, ref_cpu = median(ref, "rss_kb"), median(ref, "server_cpu_us_per_req")
        for label in labels:
            all_runs = runs.get((case, label), [])
            if not all_runs:
                continue
            g = good(case, label)
            bad = len(all_runs) - len(g)
            name = label
            if bad:
                name += f" ({bad} of {len(all_runs)} runs failed)"
                why = sorted({r.get("failed") or ("server died" if r.get("server_died") else
                                                  "no requests") for r in all_runs
                              if r not in g})
                failures.append(f"{label}, {case}: {'; '.join(why)}")
            if not g:
                print("| " + " | ".join([name, case] + ["n/a"] * (len(head) - 3) +
                                        [str(sum(r.get("errors", 0) for r in all_runs))]) + " |")
                continue
            rps, p99 = median(g, "req_per_s"), median(g, "p99_us")
            rss, cpu = median(g, "rss_kb"), median(g, "server_cpu_us_per_req")
            idle = median(g, "idle_rss_kb")
            is_ref = label == "rust"
            wpf = median(g, "writes_per_fsync")
            busy = median(g, "wrk_cpu")
            cells = [name, case, fmt(rps, ",.0f"), fmt(median(g, "p50_us"), ",.0f"),
                     fmt(p99, ",.0f"), fmt(None if idle is None else idle / 1024, ".1f"),
                     fmt(None if rss is None else rss / 1024, ".1f"), fmt(cpu, ".2f"),
                     "1" if is_ref and rps else ratio(rps, ref_rps),
                     "1" if is_ref and p99 else ratio(p99, ref_p99),
                     "1" if is_ref and rss else ratio(rss, ref_rss),
                     "1" if is_ref and cpu else ratio(cpu, ref_cpu),
                     fmt(wpf, ".1f") if case == "put" else "—",
                     "—" if busy is None else f"{busy:.0%}",
                     str(sum(r.get("errors", 0) for r in all_runs))]
            print("| " + " | ".join(cells) + " |")
    for f in failures:
        print(f"\nn/a: {f}.", end="")
    if failures:
        print()
    for label in labels:
        bad = [r["server_exit"] for r in rows if r["label"] == label
               and r.get("server_exit", 0) != 0 and "failed" not in r]
        if bad:
            total = sum(1 for r in rows if r["label"] == label and "server_exit" in r)
            print(f"\n{label} did not exit cleanly when stopped in {len(bad)} of {total} runs "
                  f"(exit status {', '.join(sorted({describe(x) for x in bad}))}).")
    checks = sorted({f"{r['label']}: {r['check']}" for r in rows
                     if r.get("check") not in (None, "ok")})
    for c in checks:
        print(f"\nanswer check failed: {c}.")


if __name__ == "__main__":
    mode = sys.argv[1] if len(sys.argv) > 1 else ""
    if mode == "wrk":
        wrk_line(sys.argv[2], sys.argv[3:])
    elif mode == "progress":
        progress(*sys.argv[2:6])
    elif mode == "table":
        table(sys.argv[2])
    else:
        sys.exit(__doc__)
