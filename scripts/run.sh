#!/usr/bin/env bash
# Sets up, builds (release) and runs the main job on its embedded default: taskd (apps/taskd),
# the TaskScheduler of seed 004, listening on 127.0.0.1:2379 with its admin endpoint on
# 127.0.0.1:9901 and its data in ./taskd-data. Arguments go to taskd (`--help` lists them).
# Ctrl-C stops it gracefully. Try, from another terminal:
#   curl -X POST localhost:2379/echo -d '{"kind":"create","message":"hello"}'
#   curl -X PUT localhost:2379/kv/greeting -d 'hello';  curl localhost:2379/kv/greeting
#   ./build/release/tools/weir/weir top --addr 127.0.0.1:9901
#
# `scripts/run.sh logship [ARGS]` runs logship (apps/logship) instead, with librdkafka's mock
# cluster in-process as Kafka (its bootstrap address is printed), syslog on TCP and UDP
# 127.0.0.1:5140 and its admin endpoint on 127.0.0.1:9902. Try:
#   logger --tcp -n 127.0.0.1 -P 5140 --rfc5424 "hello from logger"
#   kcat -C -b BOOTSTRAP -t syslog -o beginning -e
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cmake --preset release >/dev/null
if [[ "${1:-}" == "logship" ]]; then
  shift
  cmake --build --preset release --target logship weir_tool
  exec ./build/release/apps/logship/logship --embedded-kafka --tcp 127.0.0.1:5140 \
    --udp 127.0.0.1:5140 --admin 127.0.0.1:9902 "$@"
fi
cmake --build --preset release --target taskd weir_tool
exec ./build/release/apps/taskd/taskd "$@"
