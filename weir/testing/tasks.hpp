// Small tasks for tests of scheduling behaviour.
//
//   co_await weir::testing::settle();          // let every spawned task reach its first wait
//   spawn_detached(weir::testing::ticker(&stop, &ticks), "ticker");   // counts shard turns
#pragma once

#include <weir/core/runtime.hpp>
#include <weir/core/task.hpp>
#include <weir/core/time.hpp>

namespace weir::testing {

// Lets every task spawned so far run up to its first suspension (the run queue is FIFO).
inline task<> settle() {
  for (int i = 0; i < 3; ++i) co_await yield_now{};
}

// Counts its runs until *stop: shows whether other tasks let the shard breathe.
inline task<> ticker(const bool* stop, int* ticks) {
  while (!*stop) {
    ++*ticks;
    co_await yield_now{};
  }
}

// Runs make_task() to completion on one one-shard runtime, then on a second one: a shard-local
// object touched by both has been used from two shards (for the debug shard checks).
template <class F>
void run_on_two_runtimes(F make_task) {
  runtime a({.shards = 1});
  a.block_on(make_task());
  runtime b({.shards = 1});
  b.block_on(make_task());
}

}  // namespace weir::testing
