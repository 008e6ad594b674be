#!/usr/bin/env bash
# Sets up, builds and runs every test: the README's test command, and what CI runs.
#   1. release build (g++): all tests
#   2. ASan + UBSan build: the unit tests
#   3. TSan build: the tests that cross threads (label `threads`)
# Each stage prints ctest's summary line. WEIR_TEST_STAGES="release asan tsan" selects stages.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
stages=${WEIR_TEST_STAGES:-"release asan tsan"}
symbolizer=/usr/lib/llvm-16/bin/llvm-symbolizer  # sanitizer reports with file:line
status=0

run_stage() {
  local preset=$1 label=${2:-}
  echo "=== $preset: configure + build"
  cmake --preset "$preset" >/dev/null
  cmake --build --preset "$preset"
  echo "=== $preset: test${label:+ (label $label)}"
  local args=(--preset "$preset")
  [[ -n "$label" ]] && args+=(-L "$label")
  ctest "${args[@]}" || status=1
}

for s in $stages; do
  case "$s" in
    release) run_stage release ;;
    asan) ASAN_OPTIONS=detect_leaks=1:external_symbolizer_path=$symbolizer \
          UBSAN_OPTIONS=print_stacktrace=1:external_symbolizer_path=$symbolizer \
            run_stage asan unit ;;
    tsan) TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1:external_symbolizer_path=$symbolizer \
            run_stage tsan threads ;;
    *) echo "unknown stage $s" >&2; exit 2 ;;
  esac
done
exit $status
