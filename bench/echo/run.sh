#!/usr/bin/env bash
# TCP echo over loopback: weir_echo (io_uring and epoll backends) against the Boost.Asio peer
# (asio_echo), both driven by echo_load; prints a markdown table (medians over rounds).
#   bash bench/echo/run.sh
#   ROUNDS=5 ECHO_SECONDS=10 bash bench/echo/run.sh
# Environment (defaults in brackets):
#   ROUNDS [3]          interleaved rounds; every round runs every server once per case
#   ECHO_SECONDS [5]    measured window per run;  ECHO_WARMUP [1]  warm-up before it
#   ECHO_SERVERS ["weir-uring weir-epoll asio"]   ECHO_CASES ["64:50 64:500 4096:50 4096:500"]
#                       (size in bytes : connections)
#   ECHO_PORT [19100]   first port; each run listens on the next one
#   ECHO_COUNT [auto]   instructions (perf stat) or cpu (/proc/PID/stat); auto picks instructions
#                       when the CPU's counters are visible (they are not in most VMs)
#   SERVER_CPU [0]  LOAD_CPU [1]  JOBS [2]   pinning, and build parallelism
# Method (as bench/run.sh): the script re-runs itself in a new session, hence its own scheduler
# autogroup, at nice -20 (as root; ignored otherwise). The server is pinned to SERVER_CPU and
# echo_load to LOAD_CPU. The server's cost per message is its instruction count while echo_load
# runs (warm-up included) divided by all the messages echo_load completed, or, without counters,
# its user+sys time over the measured window (/proc/PID/stat, read by echo_load when the window
# opens and closes) divided by the messages of the window.
# Raw results: bench/results/echo-<timestamp>.jsonl, one echo_load line per run plus server,
# round and cost fields.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD

if [[ $(id -u) -eq 0 && -z "${WEIR_BENCH_GROUPED:-}" ]]; then
  export WEIR_BENCH_GROUPED=1
  # setsid -w: stay in the foreground and return the script's status.
  exec setsid -w bash -c 'echo -20 > /proc/self/autogroup 2>/dev/null; exec bash "$0"' \
    "$root/bench/echo/run.sh"
fi

ROUNDS=${ROUNDS:-3}
SECONDS_=${ECHO_SECONDS:-5}
WARMUP=${ECHO_WARMUP:-1}
SERVERS=${ECHO_SERVERS:-weir-uring weir-epoll asio}
CASES=${ECHO_CASES:-64:50 64:500 4096:50 4096:500}
port=${ECHO_PORT:-19100}
SERVER_CPU=${SERVER_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
BIN=build/bench/bench/echo

ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

bash scripts/setup.sh --bench >/dev/null
targets=(asio_echo echo_load)
[[ " $SERVERS " == *" weir-"* ]] && targets+=(weir_echo)
cmake --preset bench >/dev/null
cmake --build build/bench --target "${targets[@]}" -j "${JOBS:-2}" >/dev/null

count=${ECHO_COUNT:-auto}
if [[ $count == auto ]]; then
  count=cpu
  if command -v perf >/dev/null &&
    perf stat -e instructions -x, -- true 2>&1 >/dev/null | grep -q '^[0-9]'; then
    count=instructions
  fi
fi

mkdir -p bench/results
out=bench/results/echo-$(date +%Y%m%d-%H%M%S).jsonl
: >"$out"
tmp=$(mktemp -d)
server_pid=
perf_pid=
cleanup() {
  [[ -n $perf_pid ]] && kill -INT "$perf_pid" 2>/dev/null
  [[ -n $server_pid ]] && kill -KILL "$server_pid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT

stop_server() {
  if kill -TERM "$server_pid" 2>/dev/null; then
    for _ in $(seq 50); do
      kill -0 "$server_pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$server_pid" 2>/dev/null || true
  fi
  wait "$server_pid" 2>/dev/null || true
  server_pid=
}

run_one() {  # round server size conns
  local round=$1 server=$2 size=$3 conns=$4
  local bin=$BIN/weir_echo backend=
  case $server in
    weir-uring) backend=uring ;;
    weir-epoll) backend=epoll ;;
    asio) bin=$BIN/asio_echo ;;
    *) echo "unknown server $server" >&2; exit 2 ;;
  esac
  port=$((port + 1))
  local tag="\"server\":\"$server\",\"round\":$round,\"count\":\"$count\""

  WEIR_BACKEND=$backend taskset -c "$SERVER_CPU" "$bin" "$port" >"$tmp/server.out" \
    2>"$tmp/server.err" &
  server_pid=$!
  for _ in $(seq 200); do
    grep -q '^ready' "$tmp/server.out" && break
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.05
  done
  if ! grep -q '^ready' "$tmp/server.out"; then
    echo "$server did not become ready on port $port: $(head -c 300 "$tmp/server.err")" >&2
    stop_server
    echo "{\"conns\":$conns,\"size\":$size,\"failed\":\"server not ready\",$tag}" >>"$out"
    return
  fi

  if [[ $count == instructions ]]; then
    perf stat -e instructions -x, -o "$tmp/perf.txt" -p "$server_pid" &
    perf_pid=$!
  fi
  local line rc=0
  line=$(taskset -c "$LOAD_CPU" "$BIN/echo_load" --host 127.0.0.1 --port "$port" \
    --conns "$conns" --size "$size" --seconds "$SECONDS_" --warmup "$WARMUP" \
    --server-pid "$server_pid" 2>"$tmp/load.err") || rc=$?
  local extra=
  if [[ -n $perf_pid ]]; then
    kill -INT "$perf_pid" 2>/dev/null || true
    wait "$perf_pid" 2>/dev/null || true
    perf_pid=
    local instr total
    instr=$(awk -F, '$3 == "instructions" && $1 ~ /^[0-9]+$/ {print $1}' "$tmp/perf.txt")
    total=$(sed -n 's/.*"msgs_total":\([0-9]*\).*/\1/p' <<<"$line")
    if [[ -n $instr && -n $total && $total -gt 0 ]]; then
      extra=",\"server_instructions\":$instr,\"instr_per_msg\":$((instr / total))"
    fi
  fi
  kill -0 "$server_pid" 2>/dev/null || extra+=",\"server_died\":true"
  stop_server

  if [[ $line != \{*\} ]]; then
    echo "echo_load failed (status $rc) against $server: $(head -c 300 "$tmp/load.err")" >&2
    line="{\"conns\":$conns,\"size\":$size,\"failed\":\"echo_load status $rc\"}"
  elif [[ -s $tmp/load.err ]]; then
    head -n 5 "$tmp/load.err" >&2
  fi
  echo "${line%\}}$extra,$tag}" >>"$out"
  printf 'round %s  %-10s %5s B x %3s conns  %s\n' "$round" "$server" "$size" "$conns" \
    "$(sed -n 's/.*"msgs_per_s":\([0-9.]*\).*"p99_us":\([0-9.]*\).*/\1 msgs\/s, p99 \2 us/p' \
      <<<"$line")" >&2
}

for round in $(seq "$ROUNDS"); do
  for c in $CASES; do
    for server in $SERVERS; do
      run_one "$round" "$server" "${c%%:*}" "${c##*:}"
    done
  done
done

echo "raw results: $out" >&2
python3 bench/echo/report.py "$out" "$SECONDS_" "$WARMUP"
