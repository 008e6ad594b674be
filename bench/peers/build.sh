#!/usr/bin/env bash
# Builds the benchmark peers that CMake does not: hyper_hello and taskd_rust (cargo, offline
# against Debian's librust-*-dev crates), go_hello and taskd_go (go, standard library only).
# Incremental: a second run with nothing changed takes about a second.
#   bash bench/peers/build.sh [hyper] [go] [taskd-go] [taskd-rust]      (default: all four)
# Environment: JOBS [2] build parallelism.
# Outputs: bench/peers/hyper_hello/target/release/hyper_hello, build/bench/bench/http/go_hello,
# build/bench/bench/taskd/taskd_go, bench/peers/taskd_rust/target/release/taskd_rust.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
jobs=${JOBS:-2}
what=${*:-hyper go taskd-go taskd-rust}

# /usr/bin first: Debian's cargo must pick Debian's rustc even if a rustup toolchain is on PATH.
# .cargo/config.toml points crates.io at /usr/share/cargo/registry.
cargo_build() {  # project dir
  (cd "$1" && PATH=/usr/bin:$PATH /usr/bin/cargo build --release --offline --quiet -j "$jobs")
}

# Nothing from the Go proxy; cache and module path under build/bench/go/.
go_build() {  # package dir, output binary
  mkdir -p "$(dirname "$2")" build/bench/go
  (cd "$1" &&
    GOTOOLCHAIN=local GOPROXY=off GOFLAGS='' GO111MODULE=on \
      GOCACHE="$root/build/bench/go/cache" GOPATH="$root/build/bench/go/path" \
      /usr/bin/go build -p "$jobs" -trimpath -o "$root/$2" .)
}

for w in $what; do
  case $w in
    hyper) cargo_build bench/peers/hyper_hello ;;
    go) go_build bench/peers/go_hello build/bench/bench/http/go_hello ;;
    taskd-rust) cargo_build bench/peers/taskd_rust ;;
    taskd-go) go_build bench/peers/taskd_go build/bench/bench/taskd/taskd_go ;;
    *) echo "build.sh: unknown peer $w (hyper, go, taskd-go, taskd-rust)" >&2; exit 2 ;;
  esac
done
