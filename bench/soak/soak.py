#!/usr/bin/env python3
"""taskd soak (issue 16): mixed load, kill -9 and restart on a schedule, nothing acknowledged lost.

  python3 bench/soak/soak.py --taskd build/release/apps/taskd/taskd --seconds 600 --kill-every 20

Clients (threads, keep-alive connections) run a mix of PUT /kv/{key} (unique keys and values),
DELETE of keys they wrote, GET of keys they wrote (the value must be the acknowledged one) and
POST /echo. Every --kill-every seconds taskd gets SIGKILL and is started again on the same data
directory; then every acknowledged write is checked (a PUT's value is there, a DELETE's key is
gone; writes in flight at the kill are "in doubt" and not checked). Before each kill the
server's RSS and open descriptors are sampled: descriptors and RSS's anonymous part (the heap)
should stay flat across cycles; its file part (LMDB's mapped pages) grows with the data.
Exits 1 when anything acknowledged was lost or a read returned a wrong value.
"""
import argparse, http.client, json, os, random, shutil, signal, socket, subprocess, sys, tempfile
import threading, time


def start(taskd, data, port):
    p = subprocess.Popen([taskd, "--listen", f"127.0.0.1:{port}", "--admin", "off",
                          "--data-dir", data, "--log-level", "warn"],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = p.stdout.readline()
    if not line.startswith("listening on"):
        raise SystemExit(f"taskd did not start: {line!r}")
    return p


def sample(pid, data):
    """RSS, open descriptors, RSS's anonymous part (the heap: should stay flat) and its file part
    (LMDB's mapped pages: grows with the data the process has touched), the data's size; KiB."""
    rss = anon = 0
    with open(f"/proc/{pid}/status") as f:
        for l in f:
            if l.startswith("VmRSS:"):
                rss = int(l.split()[1])
            elif l.startswith("RssAnon:"):
                anon = int(l.split()[1])
    size = sum(os.path.getsize(os.path.join(data, f)) for f in os.listdir(data)) // 1024
    return rss, len(os.listdir(f"/proc/{pid}/fd")), anon, rss - anon, size


class state:
    def __init__(self):
        self.lock = threading.Lock()
        self.expect = {}      # key -> value (acknowledged PUT) or None (acknowledged DELETE)
        self.doubt = set()    # keys with a write in flight when the server died
        self.ops = {"put": 0, "delete": 0, "get": 0, "echo": 0, "errors": 0, "wrong": 0}


def client(port, st, stop, tid):
    rnd = random.Random(tid)
    mine = []
    n = 0
    conn = None
    while not stop.is_set():
        try:
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            r = rnd.random()
            if r < 0.4 or not mine:
                n += 1
                key, val = f"soak-{tid}-{n}", f"v{tid}.{n}.{rnd.getrandbits(32)}"
                with st.lock:
                    st.doubt.add(key)
                conn.request("PUT", f"/kv/{key}", val)
                resp = conn.getresponse(); resp.read()
                if resp.status == 200:
                    with st.lock:
                        st.expect[key] = val; st.doubt.discard(key); st.ops["put"] += 1
                    mine.append(key)
            elif r < 0.5:
                key = mine.pop(rnd.randrange(len(mine)))
                with st.lock:
                    st.doubt.add(key)
                conn.request("DELETE", f"/kv/{key}")
                resp = conn.getresponse(); resp.read()
                if resp.status == 200:
                    with st.lock:
                        st.expect[key] = None; st.doubt.discard(key); st.ops["delete"] += 1
            elif r < 0.8:
                key = rnd.choice(mine)
                conn.request("GET", f"/kv/{key}")
                resp = conn.getresponse(); body = resp.read().decode()
                with st.lock:
                    want = st.expect.get(key)
                    if key not in st.doubt and want is not None and (resp.status != 200 or body != want):
                        st.ops["wrong"] += 1
                        print(f"wrong read {key}: {resp.status} {body!r} != {want!r}", file=sys.stderr)
                    st.ops["get"] += 1
            else:
                conn.request("POST", "/echo", json.dumps({"kind": "create", "message": f"m{n}"}))
                resp = conn.getresponse(); resp.read()
                with st.lock:
                    st.ops["echo"] += 1
        except (OSError, http.client.HTTPException):
            with st.lock:
                st.ops["errors"] += 1
            conn = None
            time.sleep(0.05)


def verify(port, st, since=None, sample=2000):
    """Checks the acknowledged writes: all of them, or (`since`: keys already checked) the new
    ones plus `sample` of the old, so a long soak's checks stay bounded (the end checks all)."""
    lost = wrong = 0
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    with st.lock:
        items = [(k, v) for k, v in st.expect.items() if k not in st.doubt]
    if since is not None:
        new = [kv for kv in items if kv[0] not in since]
        old = [kv for kv in items if kv[0] in since]
        since.update(k for k, _ in new)
        items = new + random.sample(old, min(sample, len(old)))
    for key, want in items:
        conn.request("GET", f"/kv/{key}")
        resp = conn.getresponse(); body = resp.read().decode()
        if want is None:
            if resp.status != 404:
                wrong += 1
                print(f"deleted key back: {key}", file=sys.stderr)
        elif resp.status != 200:
            lost += 1
            print(f"lost: {key}", file=sys.stderr)
        elif body != want:
            wrong += 1
            print(f"wrong after restart: {key} {body!r} != {want!r}", file=sys.stderr)
    return len(items), lost, wrong


def main():
    a = argparse.ArgumentParser()
    a.add_argument("--taskd", default="build/release/apps/taskd/taskd")
    a.add_argument("--seconds", type=float, default=600)
    a.add_argument("--kill-every", type=float, default=20)
    a.add_argument("--clients", type=int, default=8)
    a.add_argument("--port", type=int, default=23799)
    o = a.parse_args()
    data = tempfile.mkdtemp(prefix="taskd-soak-")
    st = state()
    end = time.time() + o.seconds
    cycle = 0
    lost_total = wrong_total = checked_last = 0
    samples = []
    checked = set()
    p = start(o.taskd, data, o.port)
    try:
        while time.time() < end:
            cycle += 1
            stop = threading.Event()
            threads = [threading.Thread(target=client, args=(o.port, st, stop, cycle * 1000 + t))
                       for t in range(o.clients)]
            for t in threads:
                t.start()
            time.sleep(min(o.kill_every, max(0.0, end - time.time())))
            samples.append(sample(p.pid, data))
            p.send_signal(signal.SIGKILL)
            p.wait()
            stop.set()
            for t in threads:
                t.join()
            p = start(o.taskd, data, o.port)
            checked_last, lost, wrong = verify(o.port, st, checked)
            lost_total += lost
            wrong_total += wrong
            rss, fds, anon, mapped, size = samples[-1]
            print(f"cycle {cycle}: rss {rss} KiB (anon {anon}, file {mapped}; data {size}) fds {fds}; "
                  f"checked {checked_last} acknowledged writes (new + a sample): lost {lost}, wrong {wrong}; "
                  f"in doubt {len(st.doubt)}", flush=True)
        checked_last, lost, wrong = verify(o.port, st)  # the end: every acknowledged write
        lost_total += lost
        wrong_total += wrong
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait()
        shutil.rmtree(data, ignore_errors=True)
    print(f"soak: {o.seconds:.0f} s, {cycle} kill -9 restarts, ops {st.ops}, "
          f"all {checked_last} acknowledged writes checked at the end, "
          f"lost {lost_total}, wrong {wrong_total + st.ops['wrong']}; "
          f"rss KiB first/last/max {samples[0][0]}/{samples[-1][0]}/{max(s[0] for s in samples)}, "
          f"of it anon {samples[0][2]}/{samples[-1][2]}/{max(s[2] for s in samples)}; "
          f"fds first/last/max {samples[0][1]}/{samples[-1][1]}/{max(s[1] for s in samples)}")
    return 1 if lost_total or wrong_total or st.ops["wrong"] else 0


if __name__ == "__main__":
    sys.exit(main())
