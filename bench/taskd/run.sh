#!/usr/bin/env bash
# taskd (issue 6): weir's TaskScheduler (apps/taskd) against the story's Go original and its Rust
# rewrite (bench/peers/taskd_go, bench/peers/taskd_rust), driven by wrk; prints a markdown table
# (medians over rounds) with ratios against the Rust peer.
#   bash bench/taskd/run.sh
#   ROUNDS=1 TASKD_SECONDS=2 TASKD_SERVERS="go rust" TASKD_CASES=c50 bash bench/taskd/run.sh  # a quick look
# Servers (TASKD_SERVERS ["taskd go rust"]), each pinned to SERVER_CPU, one worker / shard:
#   taskd2 (opt-in: TASKD_SERVERS="taskd taskd2 rust") taskd with --shards 2 on SERVER_CPU and
#          LOAD_CPU (the applier on shard 1, handlers on both; it shares wrk's core)
#   taskd  build/$TASKD_PRESET/apps/taskd/taskd (this script runs `cmake --preset $TASKD_PRESET` and
#          `cmake --build --preset $TASKD_PRESET --target taskd`), run with WEIR_LOST_WAKEUP=abort (a lost
#          wake-up under load ends the run) as
#            taskd --listen 127.0.0.1:PORT --admin off --shards 1 --data-dir DIR --log-level warn
#          DIR: a fresh `mktemp -d` under TASKD_DATA_PARENT [/tmp] per run, removed after it.
#   go     build/bench/bench/taskd/taskd_go -addr 127.0.0.1:PORT, GOMAXPROCS=1
#   rust   bench/peers/taskd_rust/target/release/taskd_rust --addr 127.0.0.1:PORT (tokio
#          current_thread)
#   (the peers are built by bench/peers/build.sh taskd-go taskd-rust; see bench/peers/README.md).
#   Every server prints a line starting "listening on" on stdout once it listens, and is stopped
#   with SIGTERM (SIGKILL after 10 s). A server that does not build or does not start shows n/a;
#   the script goes on with the others.
# Cases (TASKD_CASES ["c50 c256 put"]):
#   c50, c256  `wrk -t1 -c50|-c256 --latency --timeout 10s -s bench/taskd/post_echo.lua`: every
#              request is POST /echo {"kind":"create","message":"hello world"} (Content-Type
#              application/json); the answer is 200 text/plain `SUCCESS create "hello world"`
#              (checked once with curl before the load; a mismatch is reported and recorded as
#              "check" in the raw results). All servers.
#   put        taskd only, twice: as above with `--admin 127.0.0.1:APORT` ("taskd group-commit"),
#              and with `--admin 127.0.0.1:APORT --max-batch 1` ("taskd fsync-per-write": one fsync
#              per write). `wrk -t1 -c256 --latency --timeout 10s -s bench/taskd/put_kv.lua`:
#              PUT /kv/<key> with a 100-byte body, a key no other request uses. Writes per fsync:
#              the deltas of taskd_kv_writes_total and taskd_fsyncs_total (summed over their
#              label sets) in `curl http://127.0.0.1:APORT/metrics`, read just before and just
#              after the measured run.
# Per run: req/s, p50 / p99 latency (wrk --latency), non-2xx answers and socket errors; idle RSS
# (VmRSS 0.5 s after the server printed its listening line, before any request), peak RSS (VmHWM
# after the run); server CPU µs/request: utime+stime (/proc/PID/stat, summed over the process
# tree) read just before and just after the measured run, divided by the requests wrk completed;
# wrk CPU: wrk's user+sys time over the run's wall time (bash's `time`); near 100 %: wrk, not
# the server, set the req/s (the raw results also have the busy share of both cores in
# /proc/stat, which counts other processes too).
# Environment (defaults in brackets):
#   ROUNDS [3]           interleaved rounds: round r runs every server once per case, the
#                        servers in an order rotated by r
#   TASKD_SECONDS [10]   measured wrk run;  TASKD_WARMUP [1]  an unmeasured wrk run just before it
#                        (same connections and script; 0: none)
#   TASKD_SERVERS ["taskd go rust"]   TASKD_CASES ["c50 c256 put"]
#   TASKD_PORT [19400]   first port; each run takes the next two (the second: taskd's admin
#                        endpoint in the put case)
#   TASKD_DATA_PARENT [/tmp]  where taskd's data directories are made (put measures fsync: it
#                        should be a real disk, not tmpfs; the table says which file system)
#   SERVER_CPU [0]  LOAD_CPU [1]  JOBS [2]   pinning (taskset), and build parallelism
#   TASKD_PRESET [bench]  the CMake preset taskd is built with: bench (g++) or bench-clang
# Method (as bench/http/run.sh): the script re-runs itself under `setsid -w`, so in its own
# scheduler autogroup, and when root raises that autogroup to nice -20
# (`echo -20 > /proc/self/autogroup`; ignored otherwise).
# Raw results: bench/results/taskd-<timestamp>.jsonl: a "meta" line, then one line per wrk run
# (or per run that could not start: "failed"). bench/taskd/report.py makes the table.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD

if [[ $(id -u) -eq 0 && -z "${WEIR_BENCH_GROUPED:-}" ]]; then
  export WEIR_BENCH_GROUPED=1
  # setsid -w: stay in the foreground and return the script's status.
  # shellcheck disable=SC2016  # $0 is expanded by the inner bash
  exec setsid -w bash -c 'echo -20 > /proc/self/autogroup 2>/dev/null; exec bash "$0"' \
    "$root/bench/taskd/run.sh"
fi

ROUNDS=${ROUNDS:-3}
SECS=${TASKD_SECONDS:-10}
WARMUP=${TASKD_WARMUP:-1}
SERVERS=${TASKD_SERVERS:-taskd go rust}
CASES=${TASKD_CASES:-c50 c256 put}
port=${TASKD_PORT:-19400}
DATA_PARENT=${TASKD_DATA_PARENT:-/tmp}
SERVER_CPU=${SERVER_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
JOBS=${JOBS:-2}
PRESET=${TASKD_PRESET:-bench}
TASKD=build/$PRESET/apps/taskd/taskd
TASKD_GO=build/bench/bench/taskd/taskd_go
TASKD_RUST=bench/peers/taskd_rust/target/release/taskd_rust
ECHO_BODY='{"kind":"create","message":"hello world"}'
ECHO_ANSWER='SUCCESS create "hello world"'
CLK_TCK=$(getconf CLK_TCK)

ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

for s in $SERVERS; do
  case $s in taskd | taskd2 | go | rust) ;; *) echo "unknown server $s (taskd taskd2 go rust)" >&2; exit 2 ;; esac
done
for c in $CASES; do
  case $c in c50 | c256 | put) ;; *) echo "unknown case $c (c50 c256 put)" >&2; exit 2 ;; esac
done
if [[ " $CASES " == *" put "* && " $SERVERS " != *" taskd "* ]]; then
  echo "case put runs taskd only, which TASKD_SERVERS leaves out: skipped" >&2
  CASES=$(tr -s ' ' <<<" $CASES " | sed 's/ put / /')
fi

tmp=$(mktemp -d)
server_pid=
data_dir=
cleanup() {
  # shellcheck disable=SC2046  # one pid per word
  [[ -n $server_pid ]] && kill -KILL $(tree_pids "$server_pid") 2>/dev/null
  [[ -n $data_dir ]] && rm -rf "$data_dir"
  rm -rf "$tmp"
}
trap cleanup EXIT

oneline() {  # stdin -> one line without quotes or backslashes (it goes into JSON)
  tr -d '"\134' | tr '\n' ' ' | sed 's/[[:space:]]*$//'
}

# ---- builds: a server that does not build is reported, its rows show n/a
declare -A unavailable=()  # server -> why
bash scripts/setup.sh --bench >/dev/null
if [[ " $SERVERS " == *" taskd "* || " $SERVERS " == *" taskd2 "* ]]; then
  if ! { cmake --preset "$PRESET" && cmake --build --preset "$PRESET" --target taskd -j "$JOBS"; } \
    >"$tmp/build-taskd.log" 2>&1; then
    unavailable[taskd]="build failed: $({ grep -m 2 -iE 'error|unknown target' "$tmp/build-taskd.log" ||
      tail -n 2 "$tmp/build-taskd.log"; } | cut -c 1-200 | oneline)"
    unavailable[taskd2]=${unavailable[taskd]}
    echo "taskd: ${unavailable[taskd]}" >&2
  fi
fi
for s in go rust; do
  [[ " $SERVERS " == *" $s "* ]] || continue
  if ! JOBS=$JOBS bash bench/peers/build.sh "taskd-$s" >"$tmp/build-$s.log" 2>&1; then
    unavailable[$s]="build failed: $(tail -n 2 "$tmp/build-$s.log" | cut -c 1-200 | oneline)"
    echo "$s: ${unavailable[$s]}" >&2
  fi
done

mkdir -p bench/results
out=bench/results/taskd-$(date +%Y%m%d-%H%M%S).jsonl
data_fs=$(df --output=fstype "$DATA_PARENT" 2>/dev/null | tail -n 1 | tr -d ' ') || data_fs=unknown
echo "{\"meta\":true,\"rounds\":$ROUNDS,\"seconds\":$SECS,\"warmup\":$WARMUP,\"server_cpu\":$SERVER_CPU,\"load_cpu\":$LOAD_CPU,\"data_parent\":\"$DATA_PARENT\",\"data_fs\":\"$data_fs\",\"nproc\":$(nproc),\"taskd_preset\":\"$PRESET\"}" >"$out"
[[ $data_fs == tmpfs && " $CASES " == *" put "* ]] &&
  echo "warning: $DATA_PARENT is tmpfs: fsync costs nothing there (TASKD_DATA_PARENT)" >&2

tree_pids() {  # pid -> the pid and its descendants'
  local p
  echo "$1"
  for p in $(pgrep -P "$1" 2>/dev/null); do tree_pids "$p"; done
}

cpu_ticks() {  # pid -> utime+stime of the pid and its descendants, in clock ticks
  local p sum=0 t
  for p in $(tree_pids "$1"); do
    # Fields after the ") " that closes comm: state is the 1st, utime the 12th, stime the 13th.
    t=$(sed 's/.*) //' "/proc/$p/stat" 2>/dev/null | awk '{print $12 + $13}') || t=
    sum=$((sum + ${t:-0}))
  done
  echo "$sum"
}

mem_kb() {  # pid field(VmRSS|VmHWM) -> that field summed over the pid and its descendants
  local p sum=0 kb
  for p in $(tree_pids "$1"); do
    kb=$(awk -v f="$2:" '$1 == f {print $2}' "/proc/$p/status" 2>/dev/null) || kb=
    sum=$((sum + ${kb:-0}))
  done
  echo "$sum"
}

core_times() {  # cpu -> "busy total" jiffies of that core (/proc/stat)
  awk -v c="cpu$1" '$1 == c {t = 0; for (i = 2; i <= 9; i++) t += $i; print t - $5 - $6, t}' \
    /proc/stat
}

# "writes fsyncs" from taskd's admin endpoint (each counter summed over its label sets), or
# nothing.
taskd_counters() {  # admin port
  local text
  text=$(curl -s -m 5 "http://127.0.0.1:$1/metrics" 2>/dev/null) || return 0
  awk '$1 ~ /^taskd_kv_writes_total($|\{)/ {w += $NF; nw++}
       $1 ~ /^taskd_fsyncs_total($|\{)/ {f += $NF; nf++}
       END {if (nw && nf) printf "%.0f %.0f\n", w, f}' <<<"$text"
}

# SIGTERM, then SIGKILL after 10 s; sets server_status to the exit status (128+N: signal N).
server_status=
stop_server() {
  if kill -TERM "$server_pid" 2>/dev/null; then
    for _ in $(seq 100); do
      kill -0 "$server_pid" 2>/dev/null || break
      sleep 0.1
    done
    # shellcheck disable=SC2046  # one pid per word
    kill -KILL $(tree_pids "$server_pid") 2>/dev/null || true
  fi
  server_status=0
  wait "$server_pid" 2>/dev/null || server_status=$?
  server_pid=
  if [[ -n $data_dir ]]; then
    rm -rf "$data_dir"
    data_dir=
  fi
}

# Starts a server on the next port (put: and its admin endpoint on the one after), pinned to
# SERVER_CPU, in the background: sets server_pid, port, admin_port.
admin_port=
start_server() {  # server variant(-|group-commit|fsync-per-write)
  local server=$1 variant=$2
  local -a cmd env=()
  port=$((port + 2))  # this run's port, and the next one for its admin endpoint
  admin_port=
  case $server in
    taskd | taskd2)
      data_dir=$(mktemp -d "$DATA_PARENT/taskd-bench.XXXXXX")
      cmd=("$TASKD" --listen "127.0.0.1:$port" --shards 1 --data-dir "$data_dir" --log-level warn)
      # taskd2: two shards on both cores (the applier on the second, handlers on both), so it
      # shares LOAD_CPU with wrk.
      [[ $server == taskd2 ]] && cmd=(taskset -c "$SERVER_CPU,$LOAD_CPU" "$TASKD" --listen
        "127.0.0.1:$port" --shards 2 --data-dir "$data_dir" --log-level warn)
      if [[ $variant == - ]]; then
        cmd+=(--admin off)
      else
        admin_port=$((port + 1))
        cmd+=(--admin "127.0.0.1:$admin_port")
        [[ $variant == fsync-per-write ]] && cmd+=(--max-batch 1)
      fi
      env=(WEIR_LOST_WAKEUP=abort)
      ;;
    go) cmd=("$TASKD_GO" -addr "127.0.0.1:$port") env=(GOMAXPROCS=1) ;;
    rust) cmd=("$TASKD_RUST" --addr "127.0.0.1:$port") ;;
  esac
  # Emptied here, not by the background job's redirection: wait_ready could otherwise still
  # read the previous server's line.
  : >"$tmp/server.out"
  # taskd2's own taskset (both cores) comes after this one and wins.
  env "${env[@]}" taskset -c "$SERVER_CPU" "${cmd[@]}" >>"$tmp/server.out" 2>"$tmp/server.err" &
  server_pid=$!
}

# 0 once the server printed its "listening on" line; tries of 0.05 s.
wait_ready() {  # tries
  local i
  for ((i = 0; i < $1; i++)); do
    grep -q '^listening on' "$tmp/server.out" && return 0
    kill -0 "$server_pid" 2>/dev/null || return 1
    sleep 0.05
  done
  return 1
}

# One request before the load: "ok", or what was wrong (no quotes or backslashes: it goes into
# JSON).
check_server() {  # case
  local got
  if [[ $1 == put ]]; then
    got=$(curl -s -m 5 -o /dev/null -w '%{http_code}' -X PUT -H 'Content-Type: application/octet-stream' \
      --data-binary "check" "http://127.0.0.1:$port/kv/check") || true
    [[ $got == 2?? ]] && { echo ok; return; }
    echo "PUT /kv/check answered status ${got:-none}"
  else
    got=$(curl -s -m 5 -X POST -H 'Content-Type: application/json' --data-binary "$ECHO_BODY" \
      "http://127.0.0.1:$port/echo") || true
    [[ $got == "$ECHO_ANSWER" ]] && { echo ok; return; }
    echo "POST /echo answered: $(head -c 120 <<<"$got" | oneline)"
  fi
}

run_one() {  # round case server variant(-|group-commit|fsync-per-write)
  local round=$1 case_=$2 server=$3 variant=$4 conns=256 script=bench/taskd/post_echo.lua path=/echo
  [[ $case_ == c50 ]] && conns=50
  [[ $case_ == put ]] && script=bench/taskd/put_kv.lua path=/kv/
  local label=$server
  [[ $variant != - ]] && label="$server $variant"
  local tag="\"server\":\"$server\",\"variant\":\"$variant\",\"label\":\"$label\""
  tag+=",\"case\":\"$case_\",\"round\":$round,\"conns\":$conns"
  if [[ -n ${unavailable[$server]:-} ]]; then
    echo "{$tag,\"failed\":\"${unavailable[$server]}\"}" >>"$out"
    printf 'round %s  %-5s %-22s n/a (%s)\n' "$round" "$case_" "$label" "${unavailable[$server]}" >&2
    return
  fi
  start_server "$server" "$variant"
  if ! wait_ready 200; then
    local why
    why="did not print its listening line within 10 s: $(head -c 200 "$tmp/server.err" | oneline)"
    stop_server
    echo "{$tag,\"failed\":\"$why\",\"server_exit\":$server_status}" >>"$out"
    printf 'round %s  %-5s %-22s n/a (%s)\n' "$round" "$case_" "$label" "$why" >&2
    return
  fi
  sleep 0.5
  local idle_rss check
  idle_rss=$(mem_kb "$server_pid" VmRSS)
  check=$(check_server "$case_")
  [[ $check != ok ]] && echo "$label: $check" >&2
  local url=http://127.0.0.1:$port$path rc=0
  local -a wrk=(taskset -c "$LOAD_CPU" wrk -t1 "-c$conns" --latency --timeout 10s -s "$script")
  if ((WARMUP > 0)); then
    "${wrk[@]}" "-d${WARMUP}s" "$url" -- "w$port" >/dev/null 2>&1 || true
  fi
  local c0='' c1='' t0 t1 s0 s1 l0 l1
  [[ -n $admin_port ]] && c0=$(taskd_counters "$admin_port")
  s0=$(core_times "$SERVER_CPU") l0=$(core_times "$LOAD_CPU") t0=$(cpu_ticks "$server_pid")
  # wrk's own CPU time (bash's time keyword: real, user, sys of the child): on a shared machine
  # the load core's busy share also counts other processes.
  local TIMEFORMAT='%3R %3U %3S'
  { time "${wrk[@]}" "-d${SECS}s" "$url" -- "m$port" >"$tmp/wrk.out" 2>"$tmp/wrk.err"; } \
    2>"$tmp/wrk.time" || rc=$?
  t1=$(cpu_ticks "$server_pid") s1=$(core_times "$SERVER_CPU") l1=$(core_times "$LOAD_CPU")
  [[ -n $admin_port ]] && c1=$(taskd_counters "$admin_port")
  local peak died=false
  peak=$(mem_kb "$server_pid" VmHWM)
  kill -0 "$server_pid" 2>/dev/null || died=true
  stop_server
  local -a extra=()
  if [[ -n $admin_port ]]; then
    if [[ -n $c0 && -n $c1 ]]; then
      extra=("counters=$c0 $c1")
    else
      extra=("counters_failed=\"no taskd_kv_writes_total / taskd_fsyncs_total at :$admin_port/metrics\"")
    fi
  fi
  local line
  if ! line=$(python3 bench/taskd/report.py wrk "$tmp/wrk.out" \
    "server_cpu_us=$(((t1 - t0) * 1000000 / CLK_TCK))" "idle_rss_kb=$idle_rss" \
    "rss_kb=$peak" "server_core=$s0 $s1" "load_core=$l0 $l1" "server_died=$died" \
    "server_exit=$server_status" "wrk_status=$rc" "check=\"$check\"" \
    "wrk_time=$(tail -n 1 "$tmp/wrk.time")" "${extra[@]}" \
    2>"$tmp/parse.err"); then
    local why
    why="wrk status $rc: $(head -c 200 "$tmp/wrk.err" | oneline)"
    [[ $died == true ]] && why="server died: $(tail -c 200 "$tmp/server.err" | oneline)"
    echo "{$tag,\"failed\":\"$why\",\"server_exit\":$server_status}" >>"$out"
    printf 'round %s  %-5s %-22s n/a (%s)\n' "$round" "$case_" "$label" "$why" >&2
    return
  fi
  echo "{$tag,${line#\{}" >>"$out"
  python3 bench/taskd/report.py progress "$round" "$case_" "$label" "$line" >&2
}

read -r -a order <<<"$SERVERS"
put_order=(group-commit fsync-per-write)
for round in $(seq "$ROUNDS"); do
  for c in $CASES; do
    if [[ $c == put ]]; then
      k=$(((round - 1) % ${#put_order[@]}))
      for v in "${put_order[@]:k}" "${put_order[@]:0:k}"; do
        run_one "$round" put taskd "$v"
      done
    else
      k=$(((round - 1) % ${#order[@]}))
      for server in "${order[@]:k}" "${order[@]:0:k}"; do
        run_one "$round" "$c" "$server" -
      done
    fi
  done
done

echo "raw results: $out" >&2
python3 bench/taskd/report.py table "$out"
