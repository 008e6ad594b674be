#!/usr/bin/env bash
# A longer sweep of the sim backend's scenarios (ctest -L sim runs 200 seeds each):
#   bash scripts/sim-sweep.sh [SEEDS]     # default 5000 seeds per scenario, release build
# Prints each test binary's time and seeds per second; a failing seed prints the
# WEIR_SIM_SEED=<n> that replays it (weir/testing/sim.hpp). Not part of CI.
set -euo pipefail
cd "$(dirname "$0")/.."
seeds=${1:-5000}
cmake --preset release >/dev/null
cmake --build --preset release --target test_core_sim test_net_sim test_http_sim >/dev/null
status=0
for t in core/test_core_sim net/test_net_sim http/test_http_sim; do
  bin=build/release/weir/$t
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
