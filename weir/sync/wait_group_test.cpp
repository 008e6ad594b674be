#include <weir/sync/wait_group.hpp>

#include <weir/core/runtime.hpp>
#include <weir/core/spawn.hpp>
#include <weir/core/time.hpp>

#include <weir/testing/tasks.hpp>

#include <gtest/gtest.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

namespace weir {
namespace {

using namespace std::chrono_literals;
using testing::settle;
using testing::ticker;

task<> wait_and_record(wait_group* wg, std::vector<int>* order, int id) {
  auto r = co_await wg->wait();
  EXPECT_TRUE(r);
  order->push_back(id);
}

task<std::error_code> wait_error(wait_group* wg) {
  auto r = co_await wg->wait();
  co_return r.error();
}

task<std::error_code> wait_error_within(wait_group* wg, clock::duration limit) {
  auto r = co_await with_timeout(limit, wg->wait());
  co_return r.error();
}

task<> work_then_done(wait_group* wg, clock::duration d, int* finished) {
  (void)co_await sleep_for(d);
  ++*finished;
  wg->done();
}

// --- basics ----------------------------------------------------------------------------------

task<> zero_is_ready(wait_group* wg) {
  auto h = spawn(settle(), "other");  // would run if the wait suspended
  const auto t0 = now();
  EXPECT_TRUE(co_await wg->wait());
  EXPECT_EQ(now(), t0);
  EXPECT_FALSE(h.finished());  // no suspension: the other task has not even started
  (void)co_await h;
}

TEST(WaitGroup, WaitOnZeroCompletesAtOnce) {
  wait_group wg;
  runtime rt({.shards = 1, .manual_clock = true});
  rt.block_on(zero_is_ready(&wg));
}

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

TEST(WaitGroup, WaitOutsideARuntimeIsAClearError) {
  wait_group wg;
  EXPECT_THROW((void)wg.wait(), std::logic_error);
}

// --- cancellation ----------------------------------------------------------------------------

task<std::vector<int>> timeout_while_waiting(wait_group* wg) {
  std::vector<int> order;
  wg->add();
  auto patient = spawn(wait_and_record(wg, &order, 1), "patient");
  const auto t0 = now();
  EXPECT_EQ(co_await wait_error_within(wg, 5s), errc::timed_out);
  EXPECT_GE(now() - t0, 5s);
  EXPECT_EQ(wg->waiting(), 1u);  // only the timed-out waiter left
  EXPECT_EQ(wg->count(), 1u);    // the counter is untouched
  wg->done();
  (void)co_await patient;
  co_return order;
}

TEST(WaitGroup, TimeoutWhileWaitingRemovesOnlyThatWaiter) {
  wait_group wg;
  runtime rt({.shards = 1, .manual_clock = true});
  EXPECT_EQ(rt.block_on(timeout_while_waiting(&wg)), (std::vector<int>{1}));
}

task<> cancel_through_join_handle(wait_group* wg) {
  wg->add();
  auto h = spawn(wait_error(wg), "waiter");
  co_await settle();
  EXPECT_EQ(wg->waiting(), 1u);
  h.cancel();
  EXPECT_EQ(wg->waiting(), 0u);  // removed at once, by the cancel callback
  EXPECT_EQ((co_await h).value(), errc::cancelled);
  wg->done();
}

TEST(WaitGroup, CancelThroughJoinHandleWhileWaiting) {
  wait_group wg;
  runtime rt({.shards = 1, .manual_clock = true});
  rt.block_on(cancel_through_join_handle(&wg));
}

task<> released_then_cancelled(wait_group* wg) {
  wg->add();
  auto h = spawn(wait_error(wg), "waiter");
  co_await settle();
  wg->done();  // releases the waiter, which has not run yet
  h.cancel();  // too late: exactly one outcome, and it is success
  EXPECT_EQ((co_await h).value(), std::error_code());
}

TEST(WaitGroup, ReleasedWaiterCompletesWhenCancelledBeforeRunning) {
  wait_group wg;
  runtime rt({.shards = 1, .manual_clock = true});
  rt.block_on(released_then_cancelled(&wg));
}

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

// --- destruction -----------------------------------------------------------------------------

task<> wait_until_shutdown(wait_group* wg, std::shared_ptr<int> keep, int* resumed) {
  (void)co_await wg->wait();
  ++*resumed;
  (void)keep;
}

// `keep` by reference: only the waiters' frames hold copies.
task<> suspend_on_wait_group(wait_group* wg, const std::shared_ptr<int>& keep, int* resumed) {
  wg->add();
  for (int i = 0; i < 3; ++i) spawn_detached(wait_until_shutdown(wg, keep, resumed), "waiter");
  co_await settle();
  EXPECT_EQ(wg->waiting(), 3u);
}

TEST(WaitGroup, RuntimeShutdownWithSuspendedWaitersLeaksNothing) {
  wait_group wg;
  auto keep = std::make_shared<int>(0);
  int resumed = 0;
  {
    runtime rt({.shards = 1});
    rt.block_on(suspend_on_wait_group(&wg, keep, &resumed));
    EXPECT_EQ(keep.use_count(), 4);
  }
  EXPECT_EQ(keep.use_count(), 1);  // every waiting frame was destroyed
  EXPECT_EQ(resumed, 0);           // and none ran
  EXPECT_EQ(wg.waiting(), 0u);     // each unlinked itself
  EXPECT_EQ(wg.count(), 1u);
}

// --- cooperative budget ----------------------------------------------------------------------

task<int> tight_wait_loop(wait_group* wg) {
  bool stop = false;
  int ticks = 0;
  auto h = spawn(ticker(&stop, &ticks), "ticker");
  co_await yield_now{};
  const int before = ticks;
  for (int i = 0; i < 10'000; ++i) {
    auto r = co_await wg->wait();  // zero: completes without suspending...
    EXPECT_TRUE(r);
  }
  const int during = ticks - before;  // ...yet the ticker kept running
  stop = true;
  (void)co_await h;
  co_return during;
}

TEST(WaitGroup, TightLoopOfReadyWaitsYieldsToOtherTasks) {
  wait_group wg;
  runtime rt({.shards = 1, .manual_clock = true, .coop_ops = 128});
  EXPECT_GE(rt.block_on(tight_wait_loop(&wg)), 10'000 / 128 - 1);
  EXPECT_GT(rt.stats(0).coop_yields, 0u);
}

// --- shard affinity --------------------------------------------------------------------------

[[maybe_unused]] task<> add_and_done(wait_group* wg) {
  wg->add();
  wg->done();
  EXPECT_TRUE(co_await wg->wait());
}

TEST(WaitGroupDeathTest, UseFromTwoShardsIsCaughtInDebugBuilds) {
#ifdef NDEBUG
  GTEST_SKIP() << "the shard check is a debug assertion";
#else
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  wait_group wg;
  EXPECT_DEATH(testing::run_on_two_runtimes([&] { return add_and_done(&wg); }), "shard-local");
#endif
}

}  // namespace
}  // namespace weir
