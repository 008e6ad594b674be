#!/usr/bin/env bash
# A longer sweep of the sim backend's scenarios (ctest -L sim runs 200 seeds each):
#   bash scripts/sim-sweep.sh [SEEDS]     # default 5000 seeds per scenario, release build
# Prints each test binary's time and seeds per second (counting every test of the binary as a
# scenario, the few that run fixed seeds too); a failing seed prints the
# WEIR_SIM_SEED=<n> that replays it (weir/testing/sim.hpp). Not part of CI.
set -euo pipefail
cd "$(dirname "$0")/.."
seeds=${1:-5000}
cmake --preset release >/dev/null
tests=(weir/core/test_core_sim weir/sync/test_sync_conformance_sim weir/net/test_net_sim
       weir/net/test_net_sim_datagram weir/net/test_net_sim_partition weir/http/test_http_sim
       apps/taskd/test_taskd_sim apps/logship/test_logship_sim)
cmake --build --preset release --target "${tests[@]##*/}" >/dev/null
status=0
for t in "${tests[@]}"; do
  bin=build/release/$t
  scenarios=$("$bin" --gtest_list_tests | grep -c '^  ')
  start=$(date +%s.%N)
  if ! WEIR_SIM_SEEDS=$seeds "$bin" --gtest_brief=1 >"/tmp/sim-sweep-$$.log" 2>&1; then
    status=1
    grep -E 'Failure|replay|FAILED' "/tmp/sim-sweep-$$.log" | head -20
  fi
  end=$(date +%s.%N)
  python3 -c "import sys; s=float(sys.argv[2])-float(sys.argv[1]); n=int(sys.argv[3])*int(sys.argv[4]);
print(f'{sys.argv[5]}: {sys.argv[4]} scenarios x {sys.argv[3]} seeds in {s:.1f} s = {n/s:,.0f} seeds/s')" \
    "$start" "$end" "$seeds" "$scenarios" "$t"
done
rm -f "/tmp/sim-sweep-$$.log"
exit $status
