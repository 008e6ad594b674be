#!/usr/bin/env python3
"""taskd on etcd (issue 18): PUT throughput and latency through taskd's group commit (one
guarded etcd Txn per applier turn) against taskd making one etcd call per write
(--max-batch 1), and against direct puts to etcd's own JSON gateway (POST /v3/kv/put, the same
HTTP/JSON path taskd uses, one Raft proposal each), all in the same run on the same 3-member
cluster. Prints a markdown table of medians over interleaved rounds.

    python3 bench/taskd/etcd.py
    ROUNDS=1 SECONDS_=3 CONNS=256 python3 bench/taskd/etcd.py     # a quick look

The cluster: three etcd members (Debian's etcd-server) on loopback, data directories under
DATA_PARENT [/tmp] (fsync matters: the table names the file system), all pinned to SERVER_CPU
[0] with taskd; wrk on LOAD_CPU [1]. Each run: `wrk -t1 -cN --latency --timeout 10s` for
SECONDS_ [10] after a 1 s warm-up, every request a key no other writes:
  taskd batched   PUT /kv/<key> (bench/taskd/put_kv.lua) to taskd --store etcd --shards 1
  taskd 1/call    the same with --max-batch 1
  etcd direct     POST /v3/kv/put to member 1 (bench/taskd/etcd_put.lua)
Writes per Txn: the deltas of taskd_kv_writes_total and taskd_etcd_txns_total from taskd's
/metrics. As bench/taskd/run.sh, the script re-runs itself under `setsid` and, as root, raises
its autogroup to nice -20. Raw results: bench/results/taskd-etcd-<timestamp>.jsonl.
"""
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
os.chdir(ROOT)

if os.getuid() == 0 and not os.environ.get("WEIR_BENCH_GROUPED"):
    os.environ["WEIR_BENCH_GROUPED"] = "1"
    os.execvp("setsid", ["setsid", "-w", "bash", "-c",
                         'echo -20 > /proc/self/autogroup 2>/dev/null; exec python3 "$0"',
                         os.path.abspath(__file__)])

ROUNDS = int(os.environ.get("ROUNDS", "3"))
SECS = int(os.environ.get("SECONDS_", "10"))
CONNS = os.environ.get("CONNS", "16 256").split()
DATA_PARENT = os.environ.get("DATA_PARENT", "/tmp")
SERVER_CPU = os.environ.get("SERVER_CPU", "0")
LOAD_CPU = os.environ.get("LOAD_CPU", "1")
JOBS = os.environ.get("JOBS", "2")
TASKD = "build/bench/apps/taskd/taskd"
CASES = ["taskd batched", "taskd 1/call", "etcd direct"]


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def sh(cmd, **kw):
    return subprocess.run(cmd, shell=True, check=True, **kw)


def build():
    sh("bash scripts/setup.sh --bench >/dev/null")
    sh(f"cmake --preset bench >/dev/null && cmake --build --preset bench --target taskd -j {JOBS} >/dev/null")


class Cluster:
    def __init__(self, parent):
        self.dir = tempfile.mkdtemp(prefix="etcd-bench.", dir=parent)
        self.members = [{"name": f"m{i + 1}", "client": free_port(), "peer": free_port()}
                        for i in range(3)]
        initial = ",".join(f"{m['name']}=http://127.0.0.1:{m['peer']}" for m in self.members)
        self.procs = []
        for m in self.members:
            c, p = f"http://127.0.0.1:{m['client']}", f"http://127.0.0.1:{m['peer']}"
            log = open(os.path.join(self.dir, m["name"] + ".log"), "w")
            self.procs.append(subprocess.Popen(
                ["taskset", "-c", SERVER_CPU, "etcd", "--name", m["name"],
                 "--data-dir", os.path.join(self.dir, m["name"]),
                 "--listen-client-urls", c, "--advertise-client-urls", c,
                 "--listen-peer-urls", p, "--initial-advertise-peer-urls", p,
                 "--initial-cluster", initial, "--initial-cluster-state", "new",
                 "--initial-cluster-token", f"bench-{os.getpid()}",
                 "--logger", "zap", "--log-level", "error"], stdout=log, stderr=log))
        deadline = time.time() + 30
        while time.time() < deadline:
            if all(self.healthy(m) for m in self.members):
                return
            time.sleep(0.2)
        raise SystemExit("the etcd cluster did not become healthy within 30 s (logs in " + self.dir + ")")

    @staticmethod
    def healthy(m):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{m['client']}/health", timeout=1) as r:
                return b'"health":"true"' in r.read()
        except OSError:
            return False

    def endpoints(self):
        return ",".join(f"http://127.0.0.1:{m['client']}" for m in self.members)

    def stop(self):
        for p in self.procs:
            p.kill()
            p.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def metrics(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        text = r.read().decode()
    out = {}
    for name in ("taskd_kv_writes_total", "taskd_etcd_txns_total"):
        m = re.search(r"^" + name + r" (\d+)", text, re.M)
        out[name] = int(m.group(1)) if m else 0
    return out


def start_taskd(cluster, max_batch):
    port, admin = free_port(), free_port()
    cmd = ["taskset", "-c", SERVER_CPU, TASKD, "--listen", f"127.0.0.1:{port}", "--admin",
           f"127.0.0.1:{admin}", "--shards", "1", "--store", "etcd", "--etcd-endpoints",
           cluster.endpoints(), "--log-level", "warn"]
    if max_batch:
        cmd += ["--max-batch", str(max_batch)]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = p.stdout.readline()
    if not line.startswith("listening on"):
        raise SystemExit("taskd did not start: " + line)
    return p, port, admin


def parse_wrk(text):
    def lat(pct):
        m = re.search(r"^\s+" + pct + r"%\s+([\d.]+)(us|ms|s)\s*$", text, re.M)
        if not m:
            return None
        v = float(m.group(1))
        return v / 1000 if m.group(2) == "us" else v * 1000 if m.group(2) == "s" else v
    rps = re.search(r"Requests/sec:\s+([\d.]+)", text)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    return {"rps": float(rps.group(1)) if rps else 0.0, "p50_ms": lat("50"), "p99_ms": lat("99"),
            "errors": (int(non2xx.group(1)) if non2xx else 0) +
                      (sum(int(x) for x in sock.groups()) if sock else 0)}


def wrk(url, script, conns, secs, tag):
    cmd = ["taskset", "-c", LOAD_CPU, "wrk", "-t1", f"-c{conns}", "--latency", "--timeout", "10s",
           "-s", script, f"-d{secs}s", url, "--", tag]
    return subprocess.run(cmd, capture_output=True, text=True).stdout


def run_one(cluster, case, conns, round_):
    tag = f"r{round_}c{conns}{case.replace(' ', '').replace('/', '')}{int(time.time())}"
    proc = None
    if case.startswith("taskd"):
        proc, port, admin = start_taskd(cluster, 1 if case == "taskd 1/call" else 0)
        url, script = f"http://127.0.0.1:{port}/kv/", "bench/taskd/put_kv.lua"
    else:
        url = f"http://127.0.0.1:{cluster.members[0]['client']}/v3/kv/put"
        script = "bench/taskd/etcd_put.lua"
    wrk(url, script, conns, 1, "w" + tag)
    before = metrics(admin) if proc else None
    res = parse_wrk(wrk(url, script, conns, SECS, "m" + tag))
    if proc:
        after = metrics(admin)
        txns = after["taskd_etcd_txns_total"] - before["taskd_etcd_txns_total"]
        writes = after["taskd_kv_writes_total"] - before["taskd_kv_writes_total"]
        res["writes_per_txn"] = writes / txns if txns else None
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
    res.update({"case": case, "conns": conns, "round": round_})
    return res


def main():
    build()
    fs = subprocess.run(["df", "--output=fstype", DATA_PARENT], capture_output=True,
                        text=True).stdout.split()[-1]
    os.makedirs("bench/results", exist_ok=True)
    raw = f"bench/results/taskd-etcd-{time.strftime('%Y%m%d-%H%M%S')}.jsonl"
    cluster = Cluster(DATA_PARENT)
    results = []
    try:
        with open(raw, "w") as out:
            out.write(json.dumps({"meta": True, "rounds": ROUNDS, "seconds": SECS,
                                  "data_fs": fs, "nproc": os.cpu_count()}) + "\n")
            for r in range(ROUNDS):
                for conns in CONNS:
                    order = CASES[r % len(CASES):] + CASES[:r % len(CASES)]
                    for case in order:
                        res = run_one(cluster, case, conns, r)
                        results.append(res)
                        out.write(json.dumps(res) + "\n")
                        print(f"round {r} c{conns} {case:14} {res['rps']:9.0f} req/s  "
                              f"p50 {res['p50_ms']} ms  p99 {res['p99_ms']} ms  "
                              f"errors {res['errors']}", file=sys.stderr)
    finally:
        cluster.stop()

    def med(xs):
        xs = [x for x in xs if x is not None]
        return statistics.median(xs) if xs else None

    print(f"\n{ROUNDS} rounds × {SECS} s, medians; 3-member etcd {subprocess.run(['etcd', '--version'], capture_output=True, text=True).stdout.split()[2]} on {fs}, "
          f"servers on CPU {SERVER_CPU}, wrk on CPU {LOAD_CPU}\n")
    print("| conns | case | req/s | p50 ms | p99 ms | writes per etcd Txn | req/s ÷ etcd direct | errors |")
    print("|---|---|---|---|---|---|---|---|")
    for conns in CONNS:
        direct = med([x["rps"] for x in results if x["conns"] == conns and x["case"] == "etcd direct"])
        for case in CASES:
            rs = [x for x in results if x["conns"] == conns and x["case"] == case]
            rps = med([x["rps"] for x in rs])
            wpt = med([x.get("writes_per_txn") for x in rs])
            ratio = f"{rps / direct:.2f}×" if direct else "n/a"
            print(f"| {conns} | {case} | {rps:,.0f} | {med([x['p50_ms'] for x in rs]):.2f} | "
                  f"{med([x['p99_ms'] for x in rs]):.2f} | "
                  f"{'—' if wpt is None else f'{wpt:.1f}'} | {ratio} | "
                  f"{sum(x['errors'] for x in rs)} |")
    print(f"\nraw results: {raw}")


if __name__ == "__main__":
    main()
