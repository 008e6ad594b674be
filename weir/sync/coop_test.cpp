// docs/architecture.md D5: a task whose awaits always complete at once must not starve its shard.
#include <weir/sync/channel.hpp>

#include <weir/core/runtime.hpp>
#include <weir/core/spawn.hpp>
#include <weir/core/time.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>

namespace weir {
namespace {

using namespace std::chrono_literals;

// Receives from a channel that is always full again (it sends to itself): every recv and
// every send completes without suspending. No yield_now anywhere.
task<std::uint64_t> busy_loop(std::atomic<bool>* stop) {
  auto [tx, rx] = channel<int>(8);
  for (int i = 0; i < 8; ++i) (void)tx.try_send(i);
  std::uint64_t n = 0;
  while (!stop->load(std::memory_order_relaxed)) {
    int v = (co_await rx.recv()).value();
    (void)co_await tx.send(v);
    ++n;
  }
  co_return n;
}

task<clock::duration> timer_lateness(clock::duration d) {
  auto t0 = clock::now();
  (void)co_await sleep_for(d);
  co_return clock::now() - t0 - d;
}

TEST(Coop, BusyTaskDoesNotDelayAnotherTasksTimer) {
  runtime rt({.shards = 1});
  auto t = [](int) -> task<std::pair<clock::duration, std::uint64_t>> {
    std::atomic<bool> stop{false};
    auto busy = spawn(busy_loop(&stop), "busy");
    auto lateness = co_await timer_lateness(20ms);
    stop = true;
    auto n = co_await busy;
    co_return std::pair{lateness, n.value()};
  };
  auto [lateness, iterations] = rt.block_on(t(0));
  EXPECT_GT(iterations, 1000u);  // the busy task really ran meanwhile
  // The timer fires within its 1 ms tick plus a few budget quanta (250 µs each), not after
  // the busy loop ends (it never would). Generous bound: shared CI machines are noisy.
  EXPECT_LT(lateness, 15ms)
      << "timer late by " << std::chrono::duration_cast<std::chrono::microseconds>(lateness).count()
      << " us";
  EXPECT_GT(rt.stats(0).coop_yields, 0u);
}

}  // namespace
}  // namespace weir
