#!/usr/bin/env bash
# TCP echo over loopback: weir_echo (io_uring and epoll backends) against the Boost.Asio peer
# (asio_echo), both driven by echo_load; prints a markdown table (medians over rounds).
#   bash bench/echo/run.sh
#   ROUNDS=5 ECHO_SECONDS=10 bash bench/echo/run.sh
#   ECHO_COUNT=callgrind bash bench/echo/run.sh     # only the instruction counts (callgrind pass)
# Environment (defaults in brackets):
#   ROUNDS [3]          interleaved rounds; every round runs every server once per case
#   ECHO_SECONDS [5]    measured window per run;  ECHO_WARMUP [1]  warm-up before it
#   ECHO_SERVERS ["weir-uring weir-epoll asio"]   ECHO_CASES ["64:50 64:500 4096:50 4096:500"]
#                       (size in bytes : connections)
#   ECHO_CLIENT [uring] echo_load's engine: uring (batched io_uring) or epoll
#   ECHO_PORT [19100]   first port; each run listens on the next one
#   ECHO_COUNT [auto]   cost of the timed rounds: instructions (perf stat) or cpu (/proc/PID/stat);
#                       auto picks instructions when the CPU's counters are visible (they are not
#                       in most VMs). callgrind: skip the timed rounds, run only the callgrind pass.
#   ECHO_CALLGRIND [1]  after the timed rounds, the callgrind pass (0: skip it)
#   ECHO_CG_MSGS [100000]  messages of the callgrind pass's shorter run (K per connection =
#                       ECHO_CG_MSGS / conns); the longer run does twice as many
#   ECHO_CG_READY [15]  seconds a server under valgrind gets to print "ready"
#   SERVER_CPU [0]  LOAD_CPU [1]  JOBS [2]   pinning, and build parallelism
# Method (as bench/run.sh): the script re-runs itself in a new session, hence its own scheduler
# autogroup, at nice -20 (as root; ignored otherwise). The server is pinned to SERVER_CPU and
# echo_load to LOAD_CPU. The server's cost per message is its instruction count while echo_load
# runs (warm-up included) divided by all the messages echo_load completed, or, without counters,
# its user+sys time over the measured window (/proc/PID/stat, read by echo_load when the window
# opens and closes) divided by the messages of the window.
# Callgrind pass (instructions without hardware counters): each server runs under
# `valgrind --tool=callgrind` twice per case while echo_load makes every connection do exactly K,
# then 2K round trips (--messages-per-conn) and exits; once the server is idle it gets SIGINT
# (it exits and callgrind writes its totals). Instructions per message =
# (Ir(2K) - Ir(K)) / (conns x K): startup, connection setup and teardown cancel out. These are
# user-space instructions only (callgrind does not see the kernel), with the server saturated
# (it runs several times slower under valgrind, so it finds many connections ready per wake-up).
# A server that does not get ready, or does not exit and write its totals, shows n/a; valgrind
# 3.19 cannot run weir's io_uring backend (see the end of this file).
# Raw results: bench/results/echo-<timestamp>.jsonl, one echo_load line per run plus server,
# round and cost fields, and one "pass":"callgrind" line per server and case.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD

if [[ $(id -u) -eq 0 && -z "${WEIR_BENCH_GROUPED:-}" ]]; then
  export WEIR_BENCH_GROUPED=1
  # setsid -w: stay in the foreground and return the script's status.
  # shellcheck disable=SC2016  # $0 is expanded by the inner bash
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
CLIENT=${ECHO_CLIENT:-uring}
CALLGRIND=${ECHO_CALLGRIND:-1}
CG_MSGS=${ECHO_CG_MSGS:-100000}
CG_READY=${ECHO_CG_READY:-15}
BIN=build/bench/bench/echo

ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

bash scripts/setup.sh --bench >/dev/null
targets=(asio_echo echo_load)
[[ " $SERVERS " == *" weir-"* ]] && targets+=(weir_echo)
cmake --preset bench >/dev/null
cmake --build build/bench --target "${targets[@]}" -j "${JOBS:-2}" >/dev/null

count=${ECHO_COUNT:-auto}
timed=1
if [[ $count == callgrind ]]; then
  timed=0
  CALLGRIND=1
  count=cpu
fi
if [[ $CALLGRIND != 0 ]] && ! command -v valgrind >/dev/null; then
  echo "valgrind is missing: no callgrind pass" >&2
  CALLGRIND=0
fi
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

server_cmd() {  # server -> sets bin and backend
  bin=$BIN/weir_echo backend=
  case $1 in
    weir-uring) backend=uring ;;
    weir-epoll) backend=epoll ;;
    asio) bin=$BIN/asio_echo ;;
    *) echo "unknown server $1" >&2; exit 2 ;;
  esac
}

wait_ready() {  # tries (of 0.05 s): 0 once the server printed "ready"
  for _ in $(seq "$1"); do
    grep -q '^ready' "$tmp/server.out" && return 0
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.05
  done
  grep -q '^ready' "$tmp/server.out"
}

run_one() {  # round server size conns
  local round=$1 server=$2 size=$3 conns=$4 bin backend
  server_cmd "$server"
  port=$((port + 1))
  local tag="\"server\":\"$server\",\"round\":$round,\"count\":\"$count\""

  # Emptied here, not by the background job's redirection: wait_ready could otherwise still
  # read the previous server's "ready" and connect before this one listens.
  : >"$tmp/server.out"
  WEIR_BACKEND=$backend taskset -c "$SERVER_CPU" "$bin" "$port" >>"$tmp/server.out" \
    2>"$tmp/server.err" &
  server_pid=$!
  if ! wait_ready 200; then
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
    --server-pid "$server_pid" --mode "$CLIENT" 2>"$tmp/load.err") || rc=$?
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

# ---- callgrind pass

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo gone; }

# Waits until the server has used no CPU for 0.3 s (it has handled the client's closes), at
# most 10 s.
wait_idle() {
  local last now
  last=$(cpu_ticks "$1")
  for _ in $(seq 33); do
    sleep 0.3
    now=$(cpu_ticks "$1")
    [[ $now == "$last" ]] && return
    last=$now
  done
}

# One server under callgrind with every connection doing k round trips; sets cg_result to its
# total Ir, or to a reason (starting with "failed:") when there is none. (Not run in a $(...)
# subshell, so that server_pid and port stay the script's.) A failure of echo_load's (not of
# the server's) is retried once, on the next port.
callgrind_run() {  # server size conns k
  callgrind_try "$@"
  [[ $cg_result == "failed: echo_load"* ]] && callgrind_try "$@"
  return 0
}

callgrind_try() {  # server size conns k
  local server=$1 size=$2 conns=$3 k=$4 bin backend
  server_cmd "$server"
  port=$((port + 1))
  local cg=$tmp/callgrind.out
  rm -f "$cg"
  : >"$tmp/server.out"  # as in run_one
  WEIR_BACKEND=$backend taskset -c "$SERVER_CPU" valgrind --tool=callgrind \
    --callgrind-out-file="$cg" "$bin" "$port" >>"$tmp/server.out" 2>"$tmp/server.err" &
  server_pid=$!
  if ! wait_ready $((CG_READY * 20)); then
    stop_server
    cg_result="failed: not ready under valgrind within ${CG_READY} s"
    return
  fi
  local line rc=0
  line=$(taskset -c "$LOAD_CPU" "$BIN/echo_load" --host 127.0.0.1 --port "$port" \
    --conns "$conns" --size "$size" --messages-per-conn "$k" --seconds 600 \
    --mode "$CLIENT" 2>"$tmp/load.err") || rc=$?
  local completed errors
  completed=$(sed -n 's/.*"msgs_total":\([0-9]*\).*/\1/p' <<<"$line")
  errors=$(sed -n 's/.*"errors":\([0-9]*\).*/\1/p' <<<"$line")
  if [[ $rc -ne 0 || $completed != $((conns * k)) || $errors != 0 ]]; then
    kill -0 "$server_pid" 2>/dev/null ||
      errors+=" (the server had exited: $(tail -n 1 "$tmp/server.err"))"
    stop_server
    cg_result="failed: echo_load status $rc, ${completed:-?} of $((conns * k)) messages,"
    cg_result+=" ${errors:-?} errors: $(head -n 1 "$tmp/load.err")"
    return
  fi
  wait_idle "$server_pid"
  # SIGINT: asio returns from main, weir_echo calls _Exit; either way valgrind runs callgrind's
  # exit hook, which writes the totals. SIGTERM (same handling) if it is still there after 20 s.
  kill -INT "$server_pid" 2>/dev/null || true
  for _ in $(seq 200); do
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
  done
  stop_server  # SIGTERM, then SIGKILL after 5 s
  local ir
  ir=$(awk '/^summary:/ {print $2; exit}' "$cg" 2>/dev/null)
  [[ -z $ir ]] && ir=$(awk '/^totals:/ {print $2; exit}' "$cg" 2>/dev/null)
  if [[ -z $ir ]]; then
    cg_result="failed: no callgrind totals (server did not exit cleanly)"
    return
  fi
  cg_result=$ir
}

cg_result=
callgrind_pass() {
  declare -A broken=()
  local c server size conns k ir1 ir2 line
  for c in $CASES; do
    size=${c%%:*} conns=${c##*:}
    k=$((CG_MSGS / conns))
    ((k >= 1)) || k=1
    for server in $SERVERS; do
      local tag="\"pass\":\"callgrind\",\"server\":\"$server\",\"size\":$size"
      tag+=",\"conns\":$conns,\"k\":$k"
      if [[ -n ${broken[$server]:-} ]]; then
        echo "{$tag,\"callgrind_failed\":\"skipped: ${broken[$server]}\"}" >>"$out"
        continue
      fi
      callgrind_run "$server" "$size" "$conns" "$k"
      ir1=$cg_result ir2=
      if [[ $ir1 != failed:* ]]; then
        callgrind_run "$server" "$size" "$conns" $((2 * k))
        ir2=$cg_result
      fi
      if [[ $ir1 == failed:* || $ir2 == failed:* ]]; then
        local why=${ir1#failed: }
        [[ $ir1 == failed:* ]] || why="2K run: ${ir2#failed: }"
        why=$(tr -d '"\134' <<<"$why")  # it goes into JSON
        echo "callgrind  $server $size B x $conns conns: n/a ($why)" >&2
        # A server that cannot start or stop under valgrind will not for the next case either.
        [[ $ir1 == "failed: not ready"* || "$ir1$ir2" == *"failed: no callgrind totals"* ]] &&
          broken[$server]=$why
        echo "{$tag,\"callgrind_failed\":\"$why\"}" >>"$out"
        continue
      fi
      line="{$tag,\"ir_k\":$ir1,\"ir_2k\":$ir2,\"callgrind_instr_per_msg\":"
      line+="$(((ir2 - ir1) / (conns * k)))}"
      echo "$line" >>"$out"
      printf 'callgrind  %-10s %5s B x %3s conns  K=%s: %s instructions/msg\n' "$server" "$size" \
        "$conns" "$k" "$(((ir2 - ir1) / (conns * k)))" >&2
    done
  done
}

if ((timed)); then
  for round in $(seq "$ROUNDS"); do
    for c in $CASES; do
      for server in $SERVERS; do
        run_one "$round" "$server" "${c%%:*}" "${c##*:}"
      done
    done
  done
fi
[[ $CALLGRIND != 0 ]] && callgrind_pass

echo "raw results: $out" >&2
python3 bench/echo/report.py "$out" "$SECONDS_" "$WARMUP"

# valgrind 3.19 and io_uring: valgrind runs one client thread at a time under its big lock and
# releases it only around the syscalls it knows may block; io_uring_enter is not one of them
# (a two-thread test: the other thread makes no progress while one waits 2 s in
# io_uring_enter). A thread waiting in io_uring_enter therefore stops every other thread of the
# process. weir's shard parks in io_uring_enter while another thread must run to wake it: the
# main thread (block_on hands the first task over through an eventfd) at start, so
# WEIR_BACKEND=uring under valgrind usually never prints "ready"; and the signal thread at exit
# (sigwait, then _Exit), so when it does start, SIGINT is never acted on, the server has to be
# killed and callgrind writes nothing. Its callgrind column is n/a. (The epoll backend parks in
# epoll_wait, around which valgrind releases the lock.)
