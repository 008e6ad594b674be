#!/usr/bin/env bash
# Sets up, builds (release) and runs the main job on its embedded default.
# Until taskd exists (issue 6), the main job is examples/tour: a compiled tour of the
# runtime (shards, spawn, channels across shards, deadlines, blocking work, structured
# concurrency) that prints what it does and exits 0.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cmake --preset release >/dev/null
cmake --build --preset release --target tour
exec ./build/release/examples/tour "$@"
