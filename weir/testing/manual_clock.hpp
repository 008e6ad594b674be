// weir::testing::manual_clock — virtual time for tests (docs/architecture.md D4, D11).
//
//   weir::runtime rt(weir::testing::manual_clock::options());   // one shard, virtual time
//   rt.block_on(f());    // in f: co_await sleep_for(1h) returns at once, now() moved 1 h
//
// On the manual clock, time stands still while tasks run and jumps to the next deadline when
// no task of the shard can run (and no blocking job is pending), so tests never sleep and
// always see the same timeline. `advance(d)` moves it forward explicitly from inside a task:
// timers due by then fire at the shard's next turn (once the running tasks suspend, or after
// a batch of runs).
// Use it for protocol and scheduling tests without real I/O: a task waiting for a socket is
// not "runnable", so time would jump past it.
#pragma once

#include <weir/core/runtime.hpp>
#include <weir/core/time.hpp>

#include <stdexcept>

namespace weir::testing {

struct manual_clock {
  // Options for a one-shard runtime on the manual clock (other fields as given).
  static runtime_options options(runtime_options o = {}) {
    o.shards = 1;
    o.manual_clock = true;
    return o;
  }
  // Moves the calling shard's clock forward by `d`. Throws std::logic_error on a real clock.
  static void advance(clock::duration d) {
    detail::shard& sh = detail::require_shard("weir::testing::manual_clock::advance");
    if (!sh.manual_clock())
      throw std::logic_error("weir::testing::manual_clock::advance on a runtime with a real clock");
    sh.advance_manual(d);
  }
};

}  // namespace weir::testing
