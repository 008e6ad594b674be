#!/usr/bin/env bash
# Sets up, builds (release) and runs the main job on its embedded default: taskd (apps/taskd),
# the TaskScheduler of seed 004, listening on 127.0.0.1:2379 with its admin endpoint on
# 127.0.0.1:9901 and its data in ./taskd-data. Arguments go to taskd (`--help` lists them).
# Ctrl-C stops it gracefully. Try, from another terminal:
#   curl -X POST localhost:2379/echo -d '{"kind":"create","message":"hello"}'
#   curl -X PUT localhost:2379/kv/greeting -d 'hello';  curl localhost:2379/kv/greeting
#   ./build/release/tools/weir/weir top --addr 127.0.0.1:9901
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cmake --preset release >/dev/null
cmake --build --preset release --target taskd weir_tool
exec ./build/release/apps/taskd/taskd "$@"
