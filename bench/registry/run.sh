#!/usr/bin/env bash
# What the always-on task registry costs (its budget: <= 5 %): the same programs built
# with it (preset bench) and with it compiled out (preset bench-noreg: -DWEIR_REGISTRY=OFF),
# measured in one run, interleaved.
#   bash bench/registry/run.sh
#   ROUNDS=5 HTTP_SECONDS=5 bash bench/registry/run.sh
# 1. Async tree (seed 000): bench_tree's weir kinds, ns per tree (median over ROUNDS runs, the
#    two builds alternating, pinned to CPU [0]), and user-space instructions per tree
#    (callgrind: (Ir(40000 trees) - Ir(20000)) / 20000).
# 2. Runtime primitives (bench/primitives): spawn + join and a same-shard channel ping-pong, ns
#    per op (median over ROUNDS runs, each the best of bench_primitives' 5) and user-space
#    instructions per op: (Ir(2N) - Ir(N)) / (N + N/10) (bench_primitives warms up with N/10 + 1
#    ops first) of the shard thread that runs them (callgrind --separate-threads=yes: the
#    watchdog's and the idle shard's time-based work is not the op's), epoll backend.
# 3. HTTP hello: bench/http/run.sh with the weir servers of both builds (io_uring and epoll),
#    cases c50 and c256 (req/s, p99, server CPU µs per request), and its instruction-count pass
#    (epoll; valgrind 3.19 cannot run io_uring; the shard thread alone: see that script).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROUNDS=${ROUNDS:-5}
CPU=${CPU:-0}

if [[ $(id -u) -eq 0 && -z "${WEIR_BENCH_GROUPED:-}" ]]; then
  export WEIR_BENCH_GROUPED=1
  exec setsid -w bash -c "echo -20 > /proc/self/autogroup; exec bash $0"
fi

bash scripts/setup.sh --bench >/dev/null
for preset in bench bench-noreg; do
  cmake --preset $preset >/dev/null
  cmake --build build/$preset --target bench_tree bench_primitives weir_hello -j 2 >/dev/null
done
out=$(mktemp -d)
kinds="weir_task weir_virtual"

# A markdown table of medians from FILE's "build name ns" lines, registry on vs compiled out.
median_table() {  # file first-column-title
  python3 - "$1" "$2" <<'PY'
import statistics, sys, collections
v = collections.defaultdict(list)
for line in open(sys.argv[1]):
    build, name, t = line.split()
    v[(build, name)].append(float(t))
print(f"| {sys.argv[2]} | registry on | compiled out | on / out |\n|---|---|---|---|")
for name in sorted({n for _, n in v}):
    on, off = statistics.median(v[("bench", name)]), statistics.median(v[("bench-noreg", name)])
    print(f"| {name} | {on:.1f} ns | {off:.1f} ns | {on / off:.3f} |")
PY
}

echo "## Async tree: ns per tree (median of $ROUNDS), registry on vs compiled out"
for r in $(seq "$ROUNDS"); do
  for build in bench bench-noreg; do
    taskset -c "$CPU" build/$build/bench/tree/bench_tree --benchmark_filter='/(weir_task|weir_virtual)$' \
      --benchmark_min_time=0.5 --benchmark_format=json 2>/dev/null |
      python3 -c 'import json,sys
for b in json.load(sys.stdin)["benchmarks"]:
    print(sys.argv[1], b["name"], b["real_time"])' "$build" >>"$out/tree.txt"
  done
done
median_table "$out/tree.txt" benchmark

if command -v valgrind >/dev/null; then
  echo
  echo "## Async tree: instructions per tree (callgrind)"
  echo "| kind | registry on | compiled out | on / out |"
  echo "|---|---|---|---|"
  for k in $kinds; do
    row="| $k"
    declare -A ir=()
    for build in bench bench-noreg; do
      a=$(valgrind --tool=callgrind --callgrind-out-file=/dev/null build/$build/bench/tree/bench_tree run $k 20000 2>&1 | awk '/Collected/ {print $4}')
      b=$(valgrind --tool=callgrind --callgrind-out-file=/dev/null build/$build/bench/tree/bench_tree run $k 40000 2>&1 | awk '/Collected/ {print $4}')
      ir[$build]=$(((b - a) / 20000))
      row+=" | ${ir[$build]}"
    done
    echo "$row | $(python3 -c "print(f'{${ir[bench]}/${ir[bench-noreg]}:.3f}')") |"
  done
fi

prims="spawn_join pingpong_local"
echo
echo "## Runtime primitives: ns per op (median of $ROUNDS), registry on vs compiled out"
for _ in $(seq "$ROUNDS"); do
  for build in bench bench-noreg; do
    for p in $prims; do
      echo "$build $(taskset -c "$CPU" build/$build/bench/primitives/bench_primitives "$p" |
        awk '{print $1, $2}')"
    done >>"$out/prims.txt"
  done
done
median_table "$out/prims.txt" op

if command -v valgrind >/dev/null; then
  # The Ir of the busiest thread that runs a shard loop.
  shard_ir() {  # build op n
    local d f best=0 v
    d=$(mktemp -d)
    WEIR_BACKEND=epoll valgrind --tool=callgrind --separate-threads=yes \
      --callgrind-out-file="$d/cg" "build/$1/bench/primitives/bench_primitives" "$2" "$3" \
      >/dev/null 2>&1
    for f in "$d"/cg-*; do
      grep -q 'weir::detail::shard::run_loop' "$f" || continue
      v=$(awk '/^summary:/ {print $2; exit}' "$f")
      ((v > best)) && best=$v
    done
    rm -rf "$d"
    echo "$best"
  }
  n=100000
  echo
  echo "## Runtime primitives: instructions per op (callgrind, the shard thread)"
  echo "| op | registry on | compiled out | on / out |"
  echo "|---|---|---|---|"
  for p in $prims; do
    row="| $p"
    declare -A ir=()
    for build in bench bench-noreg; do
      a=$(shard_ir "$build" "$p" "$n")
      b=$(shard_ir "$build" "$p" $((2 * n)))
      ir[$build]=$(python3 -c "print(f'{($b - $a) / ($n + $n // 10):.1f}')")
      row+=" | ${ir[$build]}"
    done
    echo "$row | $(python3 -c "print(f'{${ir[bench]}/${ir[bench-noreg]}:.3f}')") |"
  done
fi

echo
echo "## HTTP hello (bench/http/run.sh), registry on (weir-*) vs compiled out (weir-noreg-*)"
ROUNDS=$ROUNDS HTTP_CASES=${HTTP_CASES:-"c50 c256"} \
  HTTP_SERVERS="weir-uring weir-noreg-uring weir-epoll weir-noreg-epoll" bash bench/http/run.sh
rm -rf "$out"
