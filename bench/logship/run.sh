#!/usr/bin/env bash
# logship (issue 14) against rsyslog + omkafka (Debian rsyslog-kafka): the same generator, the
# same mock cluster, the same machine, interleaved rounds. Prints a markdown table (medians).
#   bash bench/logship/run.sh
#   ROUNDS=1 LINES=200000 bash bench/logship/run.sh       # a quick look
# Per round, per case (pass, rules), per forwarder (logship, rsyslog), in that order:
#   - a fresh mock cluster (build/bench/bench/logship/logship_mock_kafka: librdkafka's, 3
#     brokers) pinned to LOAD_CPU;
#   - the forwarder pinned to SERVER_CPU (its librdkafka threads too):
#       logship --tcp 127.0.0.1:PORT --brokers B --topic bench --admin off --log-level warn
#               [--config bench/logship/rules.toml]      (producer: idempotent, acks=all, lz4,
#                                                         linger 5 ms: its defaults)
#       rsyslogd -n -f bench/logship/rsyslog-{pass,rules}.conf (lz4, linger 5 ms, its defaults
#                                                         otherwise)
#   - the generator (build/bench/bench/logship/logship_gen, pinned to LOAD_CPU): LINES
#     RFC 5424 lines of ~420 bytes over CONNS TCP connections as fast as the forwarder reads,
#     then the time until the topics' high watermarks hold all of them (nothing lost: a run
#     that does not deliver every line within 600 s is reported as such);
#   - the forwarder's CPU time (utime + stime of /proc/PID/stat) and peak RSS (VmHWM) at that
#     moment; then SIGTERM.
# msgs/s = LINES / (first byte sent .. last line in Kafka). CPU µs/msg = CPU time / LINES.
# Case outage (CASES="outage", or with the others): OUTAGE_LINES [300000] sent at OUTAGE_RATE
# [20000] lines/s (pass-through configs); 2.5 s in, every broker goes down for 10 s (the mock
# process takes SIGUSR1 / SIGUSR2); "lost" is what never reached Kafka (the generator stops
# waiting when nothing arrived for 20 s).
# Method (as bench/http/run.sh): the script re-runs itself under `setsid -w` in its own
# scheduler autogroup, raised to nice -20 when root.
set -euo pipefail
cd "$(dirname "$0")/../.."

if [[ -z "${LOGSHIP_BENCH_INNER:-}" ]]; then
  export LOGSHIP_BENCH_INNER=1
  exec setsid -w bash -c 'echo -20 > /proc/self/autogroup 2>/dev/null; exec bash "$0"' \
    "$(realpath "$0")"
fi

ROUNDS=${ROUNDS:-3}
LINES=${LINES:-1000000}
CONNS=${CONNS:-4}
SERVER_CPU=${SERVER_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
CASES=${CASES:-"pass rules"}
FORWARDERS=${FORWARDERS:-"logship rsyslog"}
PORT=${PORT:-5514}

bash scripts/setup.sh --bench >/dev/null
cmake --preset bench >/dev/null
cmake --build --preset bench -j"${JOBS:-2}" --target logship logship_gen logship_mock_kafka \
  >/dev/null
B=build/bench
work=$(mktemp -d /tmp/logship-bench.XXXXXX)
trap 'pkill -P $$ 2>/dev/null || true; rm -rf "$work"' EXIT
results="$work/results.jsonl"
: >"$results"

wait_port() {  # the forwarder listens
  for _ in $(seq 1 200); do
    (exec 3<>/dev/tcp/127.0.0.1/"$PORT") 2>/dev/null && return 0
    sleep 0.05
  done
  return 1
}

run_one() {  # round case forwarder
  local round=$1 case=$2 fwd=$3
  taskset -c "$LOAD_CPU" "$B/bench/logship/logship_mock_kafka" >"$work/mock.out" &
  local mock=$!
  for _ in $(seq 1 100); do grep -q bootstrap "$work/mock.out" 2>/dev/null && break; sleep 0.05; done
  local boot
  boot=$(sed -n 's/^bootstrap //p' "$work/mock.out")
  local topics=bench lines=$LINES rate=0 conf=$case
  [[ "$case" == rules ]] && topics=bench,errors
  if [[ "$case" == outage ]]; then
    lines=${OUTAGE_LINES:-300000}
    rate=${OUTAGE_RATE:-20000}
    conf=pass
  fi
  local pid
  if [[ "$fwd" == logship ]]; then
    local extra=()
    [[ "$case" == rules ]] && extra=(--config bench/logship/rules.toml)
    taskset -c "$SERVER_CPU" "$B/apps/logship/logship" --tcp "127.0.0.1:$PORT" --brokers "$boot" \
      --topic bench --admin off --log-level warn "${extra[@]}" >/dev/null 2>"$work/fwd.err" &
    pid=$!
  else
    local brokers
    brokers=$(echo "$boot" | sed 's/\([^,]*\)/"\1"/g')
    mkdir -p "$work/rsyslog"
    sed -e "s|@WORKDIR@|$work/rsyslog|" -e "s|@PORT@|$PORT|" -e "s|@BROKERS@|$brokers|" \
      "bench/logship/rsyslog-$conf.conf" >"$work/rsyslog.conf"
    taskset -c "$SERVER_CPU" rsyslogd -n -f "$work/rsyslog.conf" -i "$work/rsyslog.pid" \
      >/dev/null 2>"$work/fwd.err" &
    pid=$!
  fi
  if ! wait_port; then
    echo "{\"round\":$round,\"case\":\"$case\",\"fwd\":\"$fwd\",\"error\":\"did not listen\"}" >>"$results"
    kill "$pid" "$mock" 2>/dev/null || true
    wait "$pid" "$mock" 2>/dev/null || true
    return
  fi
  local out rc=0 outage=""
  if [[ "$case" == outage ]]; then
    (sleep 2.5; kill -USR1 "$mock"; sleep 10; kill -USR2 "$mock") &
    outage=$!
  fi
  out=$(taskset -c "$LOAD_CPU" "$B/bench/logship/logship_gen" "$PORT" "$lines" "$CONNS" "$boot" \
    "$topics" "$rate") || rc=$?
  [[ -n "$outage" ]] && wait "$outage" 2>/dev/null
  local ticks hwm
  ticks=$(awk '{print $14 + $15}' "/proc/$pid/stat")
  hwm=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
  kill -TERM "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  kill -TERM "$mock" 2>/dev/null || true
  wait "$mock" 2>/dev/null || true
  local all arrived
  all=$(echo "$out" | sed -n 's/.*arrived [0-9]* in \([0-9.]*\) s.*/\1/p')
  arrived=$(echo "$out" | sed -n 's/.*arrived \([0-9]*\) in.*/\1/p')
  echo "{\"round\":$round,\"case\":\"$case\",\"fwd\":\"$fwd\",\"lines\":$lines,\"arrived\":${arrived:-0},\"seconds\":${all:-0},\"cpu_ticks\":$ticks,\"hz\":$(getconf CLK_TCK),\"hwm_kb\":$hwm,\"rc\":$rc}" >>"$results"
  echo "round $round $case $fwd: $out, cpu $ticks ticks, peak RSS $hwm kB" >&2
}

for round in $(seq 1 "$ROUNDS"); do
  for case in $CASES; do
    for fwd in $FORWARDERS; do run_one "$round" "$case" "$fwd"; done
  done
done

mkdir -p bench/results
cp "$results" "bench/results/logship-$(date +%Y%m%d-%H%M%S).jsonl"
python3 - "$results" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
med = {}
for case in ["pass", "rules", "outage"]:
    for fwd in ["logship", "rsyslog"]:
        rs = [r for r in rows if r["case"] == case and r["fwd"] == fwd and "error" not in r]
        if not rs:
            continue
        med[case, fwd] = {
            "rate": statistics.median(r["lines"] / r["seconds"] if r["seconds"] > 0 else 0 for r in rs),
            "cpu": statistics.median(r["cpu_ticks"] / r["hz"] * 1e6 / r["lines"] for r in rs),
            "rss": statistics.median(r["hwm_kb"] / 1024 for r in rs),
            "lost": max(max(r["lines"] - r["arrived"], 0) for r in rs),
            "n": len(rs)}
print("| case | forwarder | msgs/s | CPU µs/msg | CPU × rsyslog | peak RSS MB | lost (worst round) |")
print("|---|---|---:|---:|---:|---:|---:|")
for (case, fwd), m in med.items():
    peer = med.get((case, "rsyslog"))
    ratio = f'{m["cpu"] / peer["cpu"]:.2f}×' if peer else "n/a"
    print(f'| {case} | {fwd} | {m["rate"]:,.0f} | {m["cpu"]:.2f} | {ratio} | {m["rss"]:.1f} | {m["lost"]:,} |')
PY
