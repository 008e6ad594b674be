#!/usr/bin/env bash
# Installs every Debian 12 package weir needs to build and test. Idempotent: when all are
# present it only runs `dpkg-query` and returns within a second.
#   scripts/setup.sh          build + test dependencies
#   scripts/setup.sh --bench  also what bench/ needs (Rust peers, valgrind, wrk, Boost, and the
#                             HTTP peers: nginx, Go, hyper)
set -euo pipefail

packages=(
  build-essential g++ cmake ninja-build ccache pkg-config git
  clang-16 libclang-rt-16-dev llvm-16   # second compiler, sanitizer builds, libFuzzer, symbolizer
  liburing-dev                       # the io_uring backend
  libssl-dev openssl                 # weir::tls (OpenSSL 3); the CLI makes test certificates
  libgtest-dev libgmock-dev          # unit tests
  libbenchmark-dev                   # bench/ (built with the release preset)
  clang-format
  libsimdjson-dev                    # weir::http's JSON helpers (request bodies)
  libdw-dev                          # symbolizing stall and lost-wake-up backtraces (weir/core)
  libfmt-dev                         # formatting: weir::log, the registry's renderings
  librocksdb-dev liblmdb-dev libcli11-dev libtomlplusplus-dev  # taskd: its stores, flags, config
  etcd-server etcd-client            # taskd on etcd: the tests start a 3-member cluster
  libutf8proc-dev                    # tools/weir: display widths, grapheme clusters (Unicode tables)
  libre2-dev                         # logship's rules: linear-time regexes
  librdkafka-dev                     # logship's Kafka producer (and the mock cluster it tests on)
  kcat bsdutils rsyslog              # logship's tests: kcat reads Kafka, logger and rsyslog's
                                     # omfwd send syslog
  curl python3 wrk iproute2          # integration tests: real HTTP clients, nstat's reset counters
  iputils-ping                       # netstack's tests: the kernel's ping against the stack
  tmux                               # the `weir top` test drives it in a real terminal
  chromium                           # the browser view (/ui) is tested in headless Chromium
)
if [[ "${1:-}" == "--bench" ]]; then
  packages+=(valgrind cargo rustc librust-futures-dev librust-async-trait-dev librust-tokio-dev
             libboost-dev
             nginx golang-go librust-hyper-dev librust-socket2-dev librust-libc-dev
             librust-serde-dev librust-serde-derive-dev librust-serde-json-dev  # bench/peers
             rsyslog-kafka)  # bench/logship: rsyslog + omkafka, logship's peer
fi

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "installed" ]] || missing+=("$p")
done

if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  [[ $(id -u) -eq 0 ]] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # Debian's etcd-server starts a system etcd on 127.0.0.1:2379, taskd's default address; the
  # tests run their own clusters. Stop the one the package started (it stays installed).
  if [[ " ${missing[*]} " == *" etcd-server "* ]] && [[ -d /run/systemd/system ]]; then
    echo "setup: stopping and disabling the etcd.service Debian's etcd-server started"
    $SUDO systemctl disable --now etcd.service >/dev/null 2>&1 || true
  fi
else
  echo "setup: all packages present"
fi
