#!/usr/bin/env bash
# Builds the HTTP peers that CMake does not: hyper_hello (cargo, offline against Debian's
# librust-*-dev crates) and go_hello (go, standard library only). Incremental: a second run with
# nothing changed takes about a second.
#   bash bench/peers/build.sh [hyper] [go]      (default: both)
# Environment: JOBS [2] build parallelism.
# Outputs: bench/peers/hyper_hello/target/release/hyper_hello, build/bench/bench/http/go_hello.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
jobs=${JOBS:-2}
what=${*:-hyper go}

for w in $what; do
  case $w in
    hyper)
      # /usr/bin first: Debian's cargo must pick Debian's rustc even if a rustup toolchain is on
      # PATH. .cargo/config.toml points crates.io at /usr/share/cargo/registry.
      (cd bench/peers/hyper_hello &&
        PATH=/usr/bin:$PATH /usr/bin/cargo build --release --offline --quiet -j "$jobs")
      ;;
    go)
      mkdir -p build/bench/bench/http build/bench/go
      (cd bench/peers/go_hello &&
        GOTOOLCHAIN=local GOPROXY=off GOFLAGS='' GO111MODULE=on \
          GOCACHE="$root/build/bench/go/cache" GOPATH="$root/build/bench/go/path" \
          /usr/bin/go build -p "$jobs" -trimpath -o "$root/build/bench/bench/http/go_hello" .)
      ;;
    *) echo "build.sh: unknown peer $w (hyper, go)" >&2; exit 2 ;;
  esac
done
