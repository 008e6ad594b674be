#!/usr/bin/env bash
# HTTP plaintext hello (issue 4): weir_hello (io_uring and epoll backends) against nginx, hyper,
# Go net/http and Boost.Asio (bench/peers/), driven by wrk; prints a markdown table (medians over
# rounds).
#   bash bench/http/run.sh
#   ROUNDS=1 HTTP_SECONDS=2 HTTP_SERVERS="nginx asio" bash bench/http/run.sh     # a quick look
#   HTTP_COUNT=only bash bench/http/run.sh       # only the instruction counts (valgrind pass)
# Every server answers GET / with 200, "Content-Type: text/plain", body "Hello, World!", HTTP/1.1
# keep-alive (see bench/peers/README.md for what each peer is and how it is built).
# Environment (defaults in brackets):
#   ROUNDS [3]          interleaved rounds: round r runs every server once per case, the servers
#                       in an order rotated by r
#   HTTP_SECONDS [10]   measured wrk run;  HTTP_WARMUP [1]  an unmeasured wrk run just before it
#                       (same connections and depth; 0: none)
#   HTTP_SERVERS ["weir-uring weir-epoll nginx hyper go asio"]  (the weir rows only when
#                       bench/http/weir_hello.cpp and the weir_http target exist). Also
#                       weir-noreg-uring, weir-noreg-epoll: weir_hello built with the task
#                       registry compiled out (preset bench-noreg), to measure what it costs
#                       (bench/registry/run.sh). weir servers run with WEIR_LOST_WAKEUP=abort:
#                       a lost wake-up under load would end the run.
#   HTTP_CASES ["c50 c256 pipe 2w"]
#       c50, c256  server pinned to SERVER_CPU (1 worker / shard), `wrk -t1 -c50|-c256 --latency`
#                  pinned to LOAD_CPU: req/s, p50/p99 latency, server CPU µs/request, peak RSS
#       pipe       as c256 (1 worker, both pinned, -c HTTP_PIPE_CONNS [256]), each write carries
#                  HTTP_PIPE_DEPTH [16] pipelined requests (pipeline.lua, TechEmpower's
#                  plaintext style): req/s
#       2w         2 workers / shards, nothing pinned, `wrk -t2 -c256`: req/s. The load
#                  generator shares both cores with the server, so this row says how a server
#                  scales to a second core while competing with wrk, not its capacity.
#   HTTP_COUNT [1]      after the timed rounds, the instruction-count pass (0: skip it; only: run
#                       only that pass)
#   HTTP_CG_CONNS [50]  HTTP_CG_REQS [20000]   the count pass's connections, and requests of its
#                       shorter run (N per connection = HTTP_CG_REQS / conns); the longer does 2N
#   HTTP_CG_READY [20]  seconds a server under valgrind gets to listen
#   HTTP_PORT [19200]   first port; each run listens on the next one
#   SERVER_CPU [0]  LOAD_CPU [1]  JOBS [2]   pinning, and build parallelism
# Method (as bench/echo/run.sh): the script re-runs itself under `setsid -w`, so in its own
# scheduler autogroup, and when root raises that autogroup to nice -20
# (`echo -20 > /proc/self/autogroup`; ignored otherwise). Server CPU µs/request: the server's
# utime+stime (/proc/PID/stat, summed over its processes: nginx's master and workers) read just
# before and just after the measured wrk run, divided by the requests wrk completed. Peak RSS:
# VmHWM after the run, summed over the server's processes (nginx: master + worker, which counts
# their shared pages twice). Core busy: 1 - idle share of SERVER_CPU's and LOAD_CPU's lines in
# /proc/stat over the run; a load core near 100 % means wrk, not the server, set the req/s.
# Instruction-count pass (no hardware counters in this VM): each server runs under
# `valgrind --tool=callgrind`, 1 worker, pinned, while http_count (bench/http/http_count.cpp)
# makes HTTP_CG_CONNS connections send exactly N, then 2N keep-alive GET / one after the other
# per connection and exits; once the server is idle it gets SIGINT and callgrind writes its
# totals. Instructions per request = (Ir(2N) - Ir(N)) / (conns x N): startup, connection setup
# and teardown cancel out. User-space instructions only (callgrind does not see the kernel), with
# the server saturated (it runs many times slower under valgrind, so it finds many connections
# ready per wake-up). valgrind 3.19 cannot run io_uring (see the end of bench/echo/run.sh):
# weir is counted with WEIR_BACKEND=epoll only (the weir-uring row shows n/a); nginx runs with
# `master_process off` there, so that the process valgrind runs serves the requests. A server
# that does not listen, or does not exit and write its totals, shows n/a. Go runs there with
# GODEBUG=asyncpreemptoff=1 (callgrind 3.19 asserts on the SIGURG of Go's async preemption).
# weir: the shard thread alone (callgrind --separate-threads=yes; the file of the thread that runs
# weir::detail::shard::run_loop). Counted over every thread, one binary gave 6,041, 2,507 and
# 6,043 per request in three runs (its shard thread: 4,269-4,270): under valgrind the first
# requests' runs outlast the 20 ms stall threshold (valgrind is translating their code), so the
# watchdog thread reports a stall in each run and symbolizes the shard's backtrace with libdw,
# which costs 259 M or 294 M instructions depending on the frames it caught (the first lookup
# inflates the DWARF); the 35 M between the N run and the 2N run became +-1,770 per request. The
# watchdog also wakes every 5 ms, and the main thread only waits in block_on: neither serves
# requests. On the shard thread, what depends on time is small (the spin before parking, ~600
# parks per 20,000 requests; a stall's backtrace() in its signal handler, ~50 k instructions): the
# figure repeats within 1-2. The peers are counted whole, every thread, as before.
# Raw results: bench/results/http-<timestamp>.jsonl, one line per wrk run and one
# "pass":"count" line per server.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD

if [[ $(id -u) -eq 0 && -z "${WEIR_BENCH_GROUPED:-}" ]]; then
  export WEIR_BENCH_GROUPED=1
  # setsid -w: stay in the foreground and return the script's status.
  # shellcheck disable=SC2016  # $0 is expanded by the inner bash
  exec setsid -w bash -c 'echo -20 > /proc/self/autogroup 2>/dev/null; exec bash "$0"' \
    "$root/bench/http/run.sh"
fi

ROUNDS=${ROUNDS:-3}
SECS=${HTTP_SECONDS:-10}
WARMUP=${HTTP_WARMUP:-1}
CASES=${HTTP_CASES:-c50 c256 pipe 2w}
COUNT=${HTTP_COUNT:-1}
CG_CONNS=${HTTP_CG_CONNS:-50}
CG_REQS=${HTTP_CG_REQS:-20000}
CG_READY=${HTTP_CG_READY:-20}
PIPE_CONNS=${HTTP_PIPE_CONNS:-256}
PIPE_DEPTH=${HTTP_PIPE_DEPTH:-16}
port=${HTTP_PORT:-19200}
SERVER_CPU=${SERVER_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
JOBS=${JOBS:-2}
BIN=build/bench/bench/http
HYPER=bench/peers/hyper_hello/target/release/hyper_hello
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
CLK_TCK=$(getconf CLK_TCK)

ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

for c in $CASES; do
  case $c in c50 | c256 | pipe | 2w) ;; *) echo "unknown case $c (c50 c256 pipe 2w)" >&2; exit 2 ;; esac
done
timed=1
case $COUNT in
  only) timed=0 COUNT=1 ;;
  0 | 1) ;;
  *) echo "HTTP_COUNT is 0, 1 or only" >&2; exit 2 ;;
esac

bash scripts/setup.sh --bench >/dev/null
cmake --preset bench >/dev/null
have_weir=0
# (Not piped into grep -q: under pipefail, cmake's SIGPIPE would fail the test.)
grep -q '^weir_hello:' <<<"$(cmake --build build/bench --target help)" && have_weir=1
if [[ -n ${HTTP_SERVERS:-} ]]; then
  SERVERS=$HTTP_SERVERS
elif ((have_weir)); then
  SERVERS="weir-uring weir-epoll nginx hyper go asio"
else
  SERVERS="nginx hyper go asio"
fi
targets=(asio_http http_count)
if [[ " $SERVERS " == *" weir-"* ]]; then
  if ((!have_weir)); then
    echo "no weir_hello target (bench/http/weir_hello.cpp and weir::http are needed)" >&2
    exit 2
  fi
  targets+=(weir_hello)
fi
cmake --build build/bench --target "${targets[@]}" -j "$JOBS" >/dev/null
if [[ " $SERVERS " == *" weir-noreg-"* ]]; then
  cmake --preset bench-noreg >/dev/null
  cmake --build build/bench-noreg --target weir_hello -j "$JOBS" >/dev/null
fi
peers=()
[[ " $SERVERS " == *" hyper "* ]] && peers+=(hyper)
[[ " $SERVERS " == *" go "* ]] && peers+=(go)
((${#peers[@]})) && JOBS=$JOBS bash bench/peers/build.sh "${peers[@]}"

if [[ $COUNT != 0 ]] && ! command -v valgrind >/dev/null; then
  echo "valgrind is missing: no instruction-count pass" >&2
  COUNT=0
fi

mkdir -p bench/results
out=bench/results/http-$(date +%Y%m%d-%H%M%S).jsonl
: >"$out"
tmp=$(mktemp -d)
server_pid=
cleanup() {
  # shellcheck disable=SC2046  # one pid per word
  [[ -n $server_pid ]] && kill -KILL $(tree_pids "$server_pid") 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT

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

peak_rss_kb() {  # pid -> VmHWM summed over the pid and its descendants
  local p sum=0 kb
  for p in $(tree_pids "$1"); do
    kb=$(awk '/^VmHWM:/ {print $2}' "/proc/$p/status" 2>/dev/null) || kb=
    sum=$((sum + ${kb:-0}))
  done
  echo "$sum"
}

core_times() {  # cpu -> "busy total" jiffies of that core (/proc/stat)
  awk -v c="cpu$1" '$1 == c {t = 0; for (i = 2; i <= 9; i++) t += $i; print t - $5 - $6, t}' \
    /proc/stat
}

# SIGTERM, then SIGKILL after 5 s; sets server_status to the exit status (128+N: signal N).
server_status=
stop_server() {
  if kill -TERM "$server_pid" 2>/dev/null; then
    for _ in $(seq 50); do
      kill -0 "$server_pid" 2>/dev/null || break
      sleep 0.1
    done
    # shellcheck disable=SC2046  # one pid per word
    kill -KILL $(tree_pids "$server_pid") 2>/dev/null || true
  fi
  server_status=0
  wait "$server_pid" 2>/dev/null || server_status=$?
  server_pid=
}

# Writes nginx's configuration for this run into $tmp/nginx (bench/peers/nginx.conf.in).
nginx_conf() {  # workers master(on|off)
  local dir=$tmp/nginx reuse=
  rm -rf "$dir"
  mkdir -p "$dir"
  (($1 > 1)) && reuse=reuseport
  sed -e "s|@DIR@|$dir|g; s|@PORT@|$port|g; s|@WORKERS@|$1|g; s|@MASTER@|$2|g" \
    -e "s|@REUSEPORT@|$reuse|g" bench/peers/nginx.conf.in >"$dir/nginx.conf"
}

# Starts a server on the next port, in the background: sets server_pid.
start_server() {  # server workers cpus(empty: not pinned) [wrapper...] (e.g. valgrind ...)
  local server=$1 workers=$2 cpus=$3
  shift 3
  local -a cmd pin=() env=()
  port=$((port + 1))
  case $server in
    weir-uring) cmd=("$BIN/weir_hello" "$port" "$workers") env=(WEIR_BACKEND=uring WEIR_LOST_WAKEUP=abort) ;;
    weir-epoll) cmd=("$BIN/weir_hello" "$port" "$workers") env=(WEIR_BACKEND=epoll WEIR_LOST_WAKEUP=abort) ;;
    weir-noreg-uring) cmd=("${BIN/bench/bench-noreg}/weir_hello" "$port" "$workers") env=(WEIR_BACKEND=uring) ;;
    weir-noreg-epoll) cmd=("${BIN/bench/bench-noreg}/weir_hello" "$port" "$workers") env=(WEIR_BACKEND=epoll) ;;
    asio) cmd=("$BIN/asio_http" "$port" "$workers") ;;
    hyper) cmd=("$HYPER" "$port" "$workers") ;;
    go)
      cmd=("$BIN/go_hello" "$port" "$workers")
      # Under valgrind: callgrind asserts (vgCallgrind_post_signal) on the SIGURG signals of Go's
      # asynchronous preemption; a hello handler never needs it.
      (($#)) && env=(GODEBUG=asyncpreemptoff=1)
      ;;
    nginx)
      # With a wrapper (valgrind): one process, no master (see the header).
      if (($#)); then nginx_conf 1 off; else nginx_conf "$workers" on; fi
      cmd=("$NGINX" -p "$tmp/nginx" -e stderr -c "$tmp/nginx/nginx.conf")
      ;;
    *) echo "unknown server $server" >&2; exit 2 ;;
  esac
  [[ -n $cpus ]] && pin=(taskset -c "$cpus")
  # Emptied here, not by the background job's redirection: wait_ready could otherwise still
  # read the previous server's "ready".
  : >"$tmp/server.out"
  env "${env[@]}" "${pin[@]}" "$@" "${cmd[@]}" >>"$tmp/server.out" 2>"$tmp/server.err" &
  server_pid=$!
}

# Tries (of 0.05 s): 0 once the server is ready: it printed "ready" (all but nginx, which prints
# nothing: there, once something listens on the port; nginx's master opens every worker's
# socket before it starts them, so no worker misses connections).
wait_ready() {  # server tries
  local i
  for ((i = 0; i < $2; i++)); do
    if [[ $1 == nginx ]]; then
      [[ -n $(ss -Hltn "sport = :$port" 2>/dev/null) ]] && return 0
    else
      grep -q '^ready' "$tmp/server.out" && return 0
    fi
    kill -0 "$server_pid" 2>/dev/null || return 1
    sleep 0.05
  done
  return 1
}

case_params() {  # case -> conns threads workers cpus(server) load_pin script
  case $1 in
    c50) echo "50 1 1 $SERVER_CPU $LOAD_CPU -" ;;
    c256) echo "256 1 1 $SERVER_CPU $LOAD_CPU -" ;;
    pipe) echo "$PIPE_CONNS 1 1 $SERVER_CPU $LOAD_CPU pipeline" ;;
    2w) echo "256 2 2 - - -" ;;
    *) echo "unknown case $1 (c50 c256 pipe 2w)" >&2; exit 2 ;;
  esac
}

run_one() {  # round case server
  local round=$1 case_=$2 server=$3 conns threads workers cpus load script
  read -r conns threads workers cpus load script <<<"$(case_params "$case_")"
  [[ $cpus == - ]] && cpus=
  local -a wrk=(wrk "-t$threads" "-c$conns") args=()
  [[ $load != - ]] && wrk=(taskset -c "$load" "${wrk[@]}")
  # Pipelined: no latency. wrk times a whole batch, and its coordinated-omission correction,
  # sized by responses rather than batches, leaves percentiles of 0.
  if [[ $script == pipeline ]]; then
    wrk+=(-s bench/http/pipeline.lua) args=(-- "$PIPE_DEPTH")
  else
    wrk+=(--latency)
  fi
  local tag="\"server\":\"$server\",\"case\":\"$case_\",\"round\":$round,\"conns\":$conns"
  tag+=",\"threads\":$threads,\"workers\":$workers,\"pinned\":$([[ -n $cpus ]] && echo true || echo false)"
  [[ $script == pipeline ]] && tag+=",\"depth\":$PIPE_DEPTH"

  start_server "$server" "$workers" "$cpus"
  if ! wait_ready "$server" 200; then
    echo "$server did not become ready on port $port: $(head -c 300 "$tmp/server.err")" >&2
    stop_server
    echo "{$tag,\"failed\":\"server not ready\"}" >>"$out"
    return
  fi
  local url=http://127.0.0.1:$port/ rc=0
  if ((WARMUP > 0)); then
    "${wrk[@]}" "-d${WARMUP}s" "$url" "${args[@]}" >/dev/null 2>&1 || true
  fi
  local t0 t1 s0 s1 l0 l1
  s0=$(core_times "$SERVER_CPU") l0=$(core_times "$LOAD_CPU") t0=$(cpu_ticks "$server_pid")
  "${wrk[@]}" "-d${SECS}s" "$url" "${args[@]}" >"$tmp/wrk.out" 2>"$tmp/wrk.err" || rc=$?
  t1=$(cpu_ticks "$server_pid") s1=$(core_times "$SERVER_CPU") l1=$(core_times "$LOAD_CPU")
  local rss died=false
  rss=$(peak_rss_kb "$server_pid")
  kill -0 "$server_pid" 2>/dev/null || died=true
  stop_server
  local line
  if ! line=$(python3 bench/http/report.py wrk "$tmp/wrk.out" "server_cpu_us=$(((t1 - t0) * 1000000 / CLK_TCK))" \
    "rss_kb=$rss" "server_core=$s0 $s1" "load_core=$l0 $l1" "server_died=$died" \
    "server_exit=$server_status" "wrk_status=$rc" 2>"$tmp/parse.err"); then
    echo "wrk failed (status $rc) against $server: $(head -c 300 "$tmp/wrk.err")" \
      "$(head -c 200 "$tmp/parse.err")" >&2
    echo "{$tag,\"failed\":\"wrk status $rc\"}" >>"$out"
    return
  fi
  echo "{$tag,${line#\{}" >>"$out"
  python3 bench/http/report.py progress "$round" "$case_" "$server" "$line" >&2
}

# ---- instruction-count pass

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

# One server under callgrind with every connection doing n requests; sets cg_result to its
# total Ir, or to a reason (starting with "failed:"). (Not run in a $(...) subshell, so that
# server_pid and port stay the script's.) A failed run is retried once, on the next port, unless
# the server did not even listen (Go under valgrind has once failed to write its totals in ~6
# runs).
count_run() {  # server n
  count_try "$@"
  [[ $cg_result == failed:* && $cg_result != "failed: not listening"* ]] && count_try "$@"
  return 0
}

# Sums the Ir of the shard threads in a weir server's per-thread callgrind files (see the header).
shard_ir() {  # callgrind-out-file
  local f v sum=
  for f in "$1"-*; do
    if [[ ! -f $f ]] || ! grep -q 'weir::detail::shard::run_loop' "$f"; then continue; fi
    v=$(awk '/^summary:/ {print $2; exit}' "$f")
    [[ -n $v ]] && sum=$((${sum:-0} + v))
  done
  echo "$sum"
}

count_try() {  # server n
  local server=$1 n=$2 cg=$tmp/callgrind.out
  local -a vg=(valgrind --tool=callgrind --callgrind-out-file="$cg")
  [[ $server == weir-* ]] && vg+=(--separate-threads=yes)
  rm -f "$cg" "$cg"-*
  start_server "$server" 1 "$SERVER_CPU" "${vg[@]}"
  if ! wait_ready "$server" $((CG_READY * 20)); then
    stop_server
    cg_result="failed: not listening under valgrind within ${CG_READY} s:"
    cg_result+=" $(grep -v '^==' "$tmp/server.err" | head -n 2 | tr '\n' ' ')"
    return
  fi
  local line rc=0
  line=$(taskset -c "$LOAD_CPU" "$BIN/http_count" --port "$port" --conns "$CG_CONNS" \
    --requests "$n" --seconds 600 2>"$tmp/count.err") || rc=$?
  if ((rc != 0)); then
    local why=
    kill -0 "$server_pid" 2>/dev/null || why=" (the server had exited: $(tail -n 1 "$tmp/server.err"))"
    stop_server
    cg_result="failed: http_count status $rc: $line $(head -n 1 "$tmp/count.err")$why"
    return
  fi
  wait_idle "$server_pid"
  # SIGINT: every server exits 0 on it (nginx without master: fast shutdown), and callgrind's
  # exit hook writes the totals (valgrind also writes them when the program dies of a signal).
  # SIGTERM, then SIGKILL, if it is still there after 20 s.
  kill -INT "$server_pid" 2>/dev/null || true
  for _ in $(seq 200); do
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
  done
  stop_server
  cg_exit=$server_status
  local ir
  if [[ $server == weir-* ]]; then
    ir=$(shard_ir "$cg")
  else
    ir=$(awk '/^summary:/ {print $2; exit}' "$cg" 2>/dev/null)
    [[ -z $ir ]] && ir=$(awk '/^totals:/ {print $2; exit}' "$cg" 2>/dev/null)
  fi
  if [[ -z $ir ]]; then
    cg_result="failed: no callgrind totals (the server did not exit cleanly):"
    cg_result+=" $(grep -v '^==' "$tmp/server.err" | tail -n 2 | tr '\n' ' ')"
    return
  fi
  cg_result=$ir
}

cg_result='' cg_exit=0
count_pass() {
  local server n ir1 ir2 line
  n=$((CG_REQS / CG_CONNS))
  ((n >= 1)) || n=1
  for server in $SERVERS; do
    local tag="\"pass\":\"count\",\"server\":\"$server\",\"conns\":$CG_CONNS,\"n\":$n"
    if [[ $server == weir-uring || $server == weir-noreg-uring ]]; then
      echo "{$tag,\"count_failed\":\"valgrind 3.19 cannot run io_uring (see weir-epoll)\"}" >>"$out"
      continue
    fi
    count_run "$server" "$n"
    ir1=$cg_result ir2=
    [[ $ir1 != failed:* ]] && { count_run "$server" $((2 * n)); ir2=$cg_result; }
    if [[ $ir1 == failed:* || $ir2 == failed:* ]]; then
      local why=${ir1#failed: }
      [[ $ir1 == failed:* ]] || why="2N run: ${ir2#failed: }"
      why=$(tr -d '"\134\n' <<<"$why")  # it goes into JSON
      echo "count  $server: n/a ($why)" >&2
      echo "{$tag,\"count_failed\":\"$why\"}" >>"$out"
      continue
    fi
    line="{$tag,\"ir_n\":$ir1,\"ir_2n\":$ir2,\"server_exit\":$cg_exit"
    line+=",\"instr_per_req\":$(((ir2 - ir1) / (CG_CONNS * n)))}"
    echo "$line" >>"$out"
    printf 'count  %-10s N=%s x %s conns: %s instructions/request\n' "$server" "$n" "$CG_CONNS" \
      "$(((ir2 - ir1) / (CG_CONNS * n)))" >&2
  done
}

if ((timed)); then
  read -r -a order <<<"$SERVERS"
  for round in $(seq "$ROUNDS"); do
    for c in $CASES; do
      k=$(((round - 1) % ${#order[@]}))
      for server in "${order[@]:k}" "${order[@]:0:k}"; do
        run_one "$round" "$c" "$server"
      done
    done
  done
fi
[[ $COUNT != 0 ]] && count_pass

echo "raw results: $out" >&2
python3 bench/http/report.py table "$out" "$SECS" "$WARMUP"
