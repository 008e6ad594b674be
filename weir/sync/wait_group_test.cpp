// What only a wait_group promises: counting, every waiter woken by the last done(), reuse,
// done() below zero. What every waiting primitive promises (FIFO, cancellation, budget,
// shutdown, lost wake-ups, shard affinity) is in conformance_test.cpp.
#include <weir/sync/wait_group.hpp>

#include <weir/core/runtime.hpp>
#include <weir/core/spawn.hpp>
#include <weir/core/time.hpp>

#include <weir/testing/tasks.hpp>

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

namespace weir {
namespace {

using namespace std::chrono_literals;
using testing::settle;

task<> wait_and_record(wait_group* wg, std::vector<int>* order, int id) {
  auto r = co_await wg->wait();
  EXPECT_TRUE(r);
  order->push_back(id);
}

task<std::error_code> wait_error(wait_group* wg) {
  auto r = co_await wg->wait();
  co_return r.error();
}

task<> work_then_done(wait_group* wg, clock::duration d, int* finished) {
  (void)co_await sleep_for(d);
  ++*finished;
  wg->done();
}

// --- basics ----------------------------------------------------------------------------------

task<clock::duration> workers(wait_group* wg) {
  int finished = 0;
  const auto t0 = now();
  wg->add(5);
  for (int i = 0; i < 5; ++i)
    spawn_detached(work_then_done(wg, std::chrono::milliseconds(10 * (i + 1)), &finished));
  EXPECT_EQ(wg->count(), 5u);
  EXPECT_TRUE(co_await wg->wait());
  EXPECT_EQ(finished, 5);  // not before the last one
  EXPECT_EQ(wg->count(), 0u);
  co_return now() - t0;
}

TEST(WaitGroup, WaitCompletesWhenTheLastActivityIsDone) {
  wait_group wg;
  runtime rt({.shards = 1, .manual_clock = true});
  const auto took = rt.block_on(workers(&wg));
  EXPECT_GE(took, 50ms);
  EXPECT_LT(took, 55ms);
}

task<std::vector<int>> several_waiters(wait_group* wg) {
  std::vector<int> order;
  wg->add(2);
  std::vector<join_handle<void>> hs;
  for (int i = 0; i < 3; ++i) hs.push_back(spawn(wait_and_record(wg, &order, i)));
  co_await settle();
  EXPECT_EQ(wg->waiting(), 3u);
  wg->done();
  co_await settle();
  EXPECT_TRUE(order.empty());  // one left: nobody woke
  EXPECT_EQ(wg->waiting(), 3u);
  wg->done();
  EXPECT_EQ(wg->waiting(), 0u);  // all released by the same done()
  for (auto& h : hs) (void)co_await h;
  co_return order;
}

TEST(WaitGroup, SeveralWaitersAllWakeAtZero) {
  wait_group wg;
  runtime rt({.shards = 1, .manual_clock = true});
  EXPECT_EQ(rt.block_on(several_waiters(&wg)), (std::vector<int>{0, 1, 2}));
}

task<> reusable(wait_group* wg) {
  for (int round = 0; round < 3; ++round) {
    int finished = 0;
    wg->add();
    spawn_detached(work_then_done(wg, 1ms, &finished));
    EXPECT_TRUE(co_await wg->wait());
    EXPECT_EQ(finished, 1);
  }
}

TEST(WaitGroup, IsReusableAfterReachingZero) {
  wait_group wg;
  runtime rt({.shards = 1, .manual_clock = true});
  rt.block_on(reusable(&wg));
}

TEST(WaitGroup, DoneBelowZeroIsABrokenInvariant) {
  wait_group wg;
  wg.add(1);
  wg.done();
  try {
    wg.done();
    ADD_FAILURE() << "done() below zero did not throw";
  } catch (const std::logic_error& e) {
    EXPECT_NE(std::string(e.what()).find("wait_group::done()"), std::string::npos) << e.what();
  }
  EXPECT_EQ(wg.count(), 0u);  // unchanged
}

task<bool> done_below_zero_in_a_task(wait_group* wg) {
  try {
    wg->done();
  } catch (const std::logic_error&) {
    co_return true;
  }
  co_return false;
}

TEST(WaitGroup, DoneBelowZeroThrowsInsideATaskToo) {
  wait_group wg;
  runtime rt({.shards = 1, .manual_clock = true});
  EXPECT_TRUE(rt.block_on(done_below_zero_in_a_task(&wg)));
}

// --- the counter seen at zero -----------------------------------------------------------------

task<> released_then_add(wait_group* wg) {
  wg->add();
  auto h = spawn(wait_error(wg), "waiter");
  co_await settle();
  wg->done();  // the waiter saw zero...
  wg->add();   // ...and completes even though the counter rose before it ran
  EXPECT_EQ((co_await h).value(), std::error_code());
  wg->done();
}

TEST(WaitGroup, ReleasedWaiterCompletesEvenIfTheCounterRisesAgain) {
  wait_group wg;
  runtime rt({.shards = 1, .manual_clock = true});
  rt.block_on(released_then_add(&wg));
}

}  // namespace
}  // namespace weir
