#include <weir/testing/manual_clock.hpp>

#include <weir/core/spawn.hpp>
#include <weir/testing/tasks.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <vector>

namespace weir {
namespace {

using namespace std::chrono_literals;
using testing::manual_clock;

task<> wake_at(clock::duration d, std::vector<int>* log, int id) {
  (void)co_await sleep_for(d);
  log->push_back(id);
}

TEST(ManualClock, JumpsWhenIdleAndAdvancesOnRequest) {
  runtime rt(manual_clock::options());
  auto t = [](int) -> task<std::vector<int>> {
    std::vector<int> log;
    const auto t0 = now();
    spawn_detached(wake_at(10s, &log, 10), "ten");
    spawn_detached(wake_at(2s, &log, 2), "two");
    co_await testing::settle();
    manual_clock::advance(3s);  // the 2 s timer is due; the 10 s one is not
    EXPECT_EQ(now() - t0, 3s);
    (void)co_await sleep_for(1ms);  // the shard's turn: due timers fire, then time jumps 1 ms
    EXPECT_EQ(log, std::vector<int>{2});
    EXPECT_EQ(now() - t0, 3s + 1ms);
    (void)co_await sleep_for(1h);  // idle: jumps over 10 s to 1 h
    EXPECT_GE(now() - t0, 3s + 1h);
    co_return log;
  };
  EXPECT_EQ(rt.block_on(t(0)), (std::vector<int>{2, 10}));
}

TEST(ManualClock, AdvanceOnARealClockIsAnError) {
  runtime rt({.shards = 1});
  auto t = [](int) -> task<bool> {
    try {
      manual_clock::advance(1s);
    } catch (const std::logic_error&) {
      co_return true;
    }
    co_return false;
  };
  EXPECT_TRUE(rt.block_on(t(0)));
}

}  // namespace
}  // namespace weir
