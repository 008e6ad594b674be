#!/usr/bin/env bash
# netstack (issue 15) benchmarks. Prints markdown tables (medians of ROUNDS, interleaved).
#   bash bench/netstack/run.sh
#   ROUNDS=1 bash bench/netstack/run.sh            # a quick look
#   PARTS="rings tap" bash bench/netstack/run.sh   # some of the three parts (layers rings tap)
# 1. Layers: ns per packet through udp_socket::send_to -> udp -> ipv4 -> ethernet -> link (a
#    copy into a slot), the layers as weir virtual task<result<void>> interfaces, against the
#    same layers as synchronous virtual calls (the floor), 64 B and 1,400 B payloads, same
#    process (build/bench/bench/netstack/bench_netstack_layers, pinned to SERVER_CPU); with g++
#    (bench preset) and clang-16 (bench-clang) when BUILD_CLANG=1 [1]. Instructions per packet
#    from callgrind (epoll backend: valgrind has no io_uring), (Ir at 2N - Ir at N) / N.
# 2. The rings: `netstack --driver null` (the driver process takes each frame and drops it) and
#    `--driver loopback` (turns it around: up the RX path to a port nobody bound, counted) with
#    the stack's flood, FLOOD packets, stack on SERVER_CPU, driver on LOAD_CPU: packets/s,
#    Gbit/s of payload, and the stack process's CPU ns per packet (getrusage).
# 3. TAP against the kernel, in a network namespace of this script's own (unshare -n -m):
#    netstack's flood through the driver and a TAP to a kernel UDP receiver
#    (netstack_udp_blast recv) against the kernel's own UDP path, a sender
#    (netstack_udp_blast send: sendmmsg, 32 a call) over a veth pair into a second namespace,
#    same receiver. Sent and received packets/s; what the receiver lost.
# Method (as bench/http/run.sh): the script re-runs itself under `setsid -w` in its own
# scheduler autogroup, raised to nice -20 when root.
set -euo pipefail
cd "$(dirname "$0")/../.."

if [[ -z "${NETSTACK_BENCH_INNER:-}" ]]; then
  export NETSTACK_BENCH_INNER=1
  exec setsid -w bash -c 'echo -20 > /proc/self/autogroup 2>/dev/null; exec bash "$0"' \
    "$(realpath "$0")"
fi

ROUNDS=${ROUNDS:-3}
LAYER_PACKETS=${LAYER_PACKETS:-2000000}
FLOOD=${FLOOD:-2000000}
TAP_FLOOD=${TAP_FLOOD:-500000}
SERVER_CPU=${SERVER_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
BUILD_CLANG=${BUILD_CLANG:-1}
PARTS=${PARTS:-"layers rings tap"}
part() { [[ " $PARTS " == *" $1 "* ]]; }

bash scripts/setup.sh --bench >/dev/null
cmake --preset bench >/dev/null
cmake --build --preset bench -j"${JOBS:-2}" --target bench_netstack_layers netstack \
  netstack_udp_blast >/dev/null
if [[ $BUILD_CLANG == 1 ]]; then
  cmake --preset bench-clang >/dev/null
  cmake --build --preset bench-clang -j"${JOBS:-2}" --target bench_netstack_layers >/dev/null
fi
B=build/bench
NS=$B/apps/netstack/netstack
BLAST=$B/bench/netstack/netstack_udp_blast
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

if part layers; then
echo "## Layers: ns per packet, async interfaces against the synchronous floor"
echo
for cc in g++ clang; do
  bin=$B/bench/netstack/bench_netstack_layers
  [[ $cc == clang ]] && bin=build/bench-clang/bench/netstack/bench_netstack_layers
  [[ -x $bin ]] || continue
  echo "### $cc ($ROUNDS rounds of $LAYER_PACKETS packets, interleaved)"
  taskset -c "$SERVER_CPU" "$bin" "$LAYER_PACKETS" "$ROUNDS" 2>/dev/null
  instr() {  # kind
    local a b
    a=$(WEIR_BACKEND=epoll valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" 20000 1 "$1" 2>&1 | awk '/Collected/ {print $4}')
    b=$(WEIR_BACKEND=epoll valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" 40000 1 "$1" 2>&1 | awk '/Collected/ {print $4}')
    echo $(( (b - a) / 20000 ))
  }
  if command -v valgrind >/dev/null; then
    echo
    echo "instructions per 64 B packet ($cc, callgrind): async $(instr async), floor $(instr sync)"
  fi
  echo
done
fi

if part rings; then
echo "## Through the rings to the driver process (stack CPU $SERVER_CPU, driver CPU $LOAD_CPU)"
echo
echo "| driver | payload | packets/s | Gbit/s payload | stack CPU ns/packet | send_to waited |"
echo "|---|---|---|---|---|---|"
for drv in null loopback; do
  for size in 64 1400; do
    pps=() gbit=() cpu=() waited=()
    for r in $(seq 1 "$ROUNDS"); do
      line=$(taskset -c "$SERVER_CPU" "$NS" --driver "$drv" --driver-cpu "$LOAD_CPU" \
        --addr 192.0.2.2/24 --echo-port 0 --flood 192.0.2.2:9 --count "$FLOOD" --size "$size" \
        2>/dev/null | grep '^flood:')
      pps+=("$(sed -E 's/.*s: ([0-9.]+) pps.*/\1/' <<<"$line")")
      gbit+=("$(sed -E 's/.* ([0-9.]+) Gbit.*/\1/' <<<"$line")")
      cpu+=("$(sed -E 's/.* ([0-9.]+) ns cpu.*/\1/' <<<"$line")")
      waited+=("$(sed -E 's/.*waited ([0-9]+).*/\1/' <<<"$line")")
    done
    printf '| %s | %s B | %.0f | %.3f | %.1f | %s |\n' "$drv" "$size" \
      "$(printf '%s\n' "${pps[@]}" | median)" "$(printf '%s\n' "${gbit[@]}" | median)" \
      "$(printf '%s\n' "${cpu[@]}" | median)" "$(printf '%s\n' "${waited[@]}" | median)"
  done
done
echo
fi

part tap || exit 0
echo "## TAP against the kernel's UDP over veth ($TAP_FLOOD datagrams a run)"
echo
export NS BLAST SERVER_CPU LOAD_CPU TAP_FLOOD ROUNDS
unshare -n -m bash <<'INNER'
set -euo pipefail
ip link set lo up
ip tuntap add dev nstb0 mode tap
ip addr add 192.0.2.1/24 dev nstb0
ip link set nstb0 up
peer=nsbench$$
ip netns add "$peer"
trap 'ip netns del "$peer" 2>/dev/null || true' EXIT
ip link add vb0 type veth peer name vb1
ip link set vb1 netns "$peer"
ip addr add 198.51.100.1/24 dev vb0
ip link set vb0 up
ip netns exec "$peer" ip link set lo up
ip netns exec "$peer" ip addr add 198.51.100.2/24 dev vb1
ip netns exec "$peer" ip link set vb1 up
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo "| path | payload | sent packets/s | received packets/s | received | Gbit/s received |"
echo "|---|---|---|---|---|---|"
for size in 64 1400; do
  for path in netstack-tap kernel-veth; do
    sent=() got=() rate=() gbit=()
    for r in $(seq 1 "$ROUNDS"); do
      out=$(mktemp)
      if [[ $path == netstack-tap ]]; then
        taskset -c "$LOAD_CPU" "$BLAST" recv 192.0.2.1 9000 "$TAP_FLOOD" >"$out" &
        rp=$!
        sleep 0.3
        line=$(taskset -c "$SERVER_CPU" "$NS" --tap nstb0 --addr 192.0.2.2/24 --echo-port 0 \
          --driver-cpu "$LOAD_CPU" --flood 192.0.2.1:9000 --count "$TAP_FLOOD" --size "$size" \
          2>/dev/null | grep '^flood:')
        sent+=("$(sed -E 's/.*s: ([0-9.]+) pps.*/\1/' <<<"$line")")
      else
        ip netns exec "$peer" taskset -c "$LOAD_CPU" "$BLAST" recv 198.51.100.2 9000 "$TAP_FLOOD" >"$out" &
        rp=$!
        sleep 0.3
        line=$(taskset -c "$SERVER_CPU" "$BLAST" send 198.51.100.2 9000 "$TAP_FLOOD" "$size")
        sent+=("$(sed -E 's/.*s: ([0-9.]+) pps.*/\1/' <<<"$line")")
      fi
      wait "$rp" || true
      rec=$(grep '^received' "$out" || echo "received 0 of 0 in 1 s: 0 pps, 0 Gbit/s")
      got+=("$(awk '{print $2}' <<<"$rec")")
      rate+=("$(sed -E 's/.*s: ([0-9.]+) pps.*/\1/' <<<"$rec")")
      gbit+=("$(sed -E 's/.* ([0-9.]+) Gbit.*/\1/' <<<"$rec")")
      rm -f "$out"
    done
    printf '| %s | %s B | %.0f | %.0f | %s of %s | %.3f |\n' "$path" "$size" \
      "$(printf '%s\n' "${sent[@]}" | median)" "$(printf '%s\n' "${rate[@]}" | median)" \
      "$(printf '%s\n' "${got[@]}" | median)" "$TAP_FLOOD" "$(printf '%s\n' "${gbit[@]}" | median)"
  done
done
INNER
