#include <weir/sync/mutex.hpp>

#include <weir/core/runtime.hpp>
#include <weir/core/spawn.hpp>
#include <weir/core/time.hpp>

#include <weir/testing/tasks.hpp>

#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <stdexcept>
#include <system_error>
#include <vector>

namespace weir {
namespace {

using namespace std::chrono_literals;
using testing::settle;
using testing::ticker;

task<> set_flag(bool* flag) {
  *flag = true;
  co_return;
}

// Arrives at the mutex after `delay`, records `id` once it holds the lock, holds it across
// an await (so the others really have to wait), then releases.
task<> lock_and_record(mutex* m, std::vector<int>* order, int id, clock::duration delay) {
  if (delay > clock::duration::zero()) (void)co_await sleep_for(delay);
  auto g = co_await m->lock();
  EXPECT_TRUE(g);
  order->push_back(id);
  co_await yield_now{};
}

task<std::error_code> lock_error(mutex* m) {
  auto g = co_await m->lock();
  co_return g.error();
}

task<std::error_code> lock_error_within(mutex* m, clock::duration limit) {
  auto g = co_await with_timeout(limit, m->lock());
  co_return g.error();
}

// --- basics ----------------------------------------------------------------------------------

task<> try_lock_basics(mutex* m, mutex* other) {
  auto g = m->try_lock();
  EXPECT_TRUE(g && g->owns_lock());
  EXPECT_TRUE(m->is_locked());
  EXPECT_FALSE(m->try_lock());

  mutex_guard moved = std::move(*g);  // ownership moves, the mutex stays locked
  EXPECT_FALSE(g->owns_lock());
  EXPECT_TRUE(moved.owns_lock());
  EXPECT_TRUE(m->is_locked());
  moved.unlock();  // early release empties the guard
  EXPECT_FALSE(moved);
  EXPECT_FALSE(m->is_locked());
  moved.unlock();  // unlocking an empty guard does nothing
  EXPECT_FALSE(m->is_locked());

  {
    auto scoped = m->try_lock();
    EXPECT_TRUE(scoped);
  }
  EXPECT_FALSE(m->is_locked());  // the guard's destructor unlocked it

  // Move-assigning onto a guard releases what it held.
  auto a = m->try_lock();
  auto b = other->try_lock();
  *a = std::move(*b);
  EXPECT_FALSE(m->is_locked());
  EXPECT_TRUE(other->is_locked());
  a.reset();
  EXPECT_FALSE(other->is_locked());
  co_return;
}

TEST(Mutex, TryLockIsExclusiveAndGuardsUnlock) {
  mutex m, other;
  runtime rt({.shards = 1, .manual_clock = true});
  rt.block_on(try_lock_basics(&m, &other));
}

task<> uncontended_lock(mutex* m) {
  bool other_ran = false;
  auto h = spawn(set_flag(&other_ran), "flag");
  auto g = co_await m->lock();
  EXPECT_TRUE(g);
  EXPECT_TRUE(m->is_locked());
  EXPECT_FALSE(other_ran);  // the lock was free: no suspension, the other task did not run
  (void)co_await h;
  EXPECT_TRUE(other_ran);
}

TEST(Mutex, UncontendedLockCompletesWithoutSuspending) {
  mutex m;
  runtime rt({.shards = 1, .manual_clock = true});
  rt.block_on(uncontended_lock(&m));
  EXPECT_FALSE(m.is_locked());
}

TEST(Mutex, LockOutsideARuntimeIsAClearError) {
  mutex m;
  EXPECT_THROW((void)m.lock(), std::logic_error);
  EXPECT_TRUE(m.try_lock());  // not an await: usable while no shard uses the mutex
}

// --- fairness --------------------------------------------------------------------------------

task<std::vector<int>> fifo_by_arrival(mutex* m) {
  std::vector<int> order;
  auto held = co_await m->lock();
  std::vector<join_handle<void>> hs;
  // Spawned 0..4 but arriving 4, 3, 2, 1, 0: the order served must be the arrival order.
  for (int i = 0; i < 5; ++i)
    hs.push_back(spawn(lock_and_record(m, &order, i, std::chrono::milliseconds(10 * (5 - i)))));
  (void)co_await sleep_for(100ms);
  EXPECT_EQ(m->waiting(), 5u);
  EXPECT_TRUE(order.empty());
  held->unlock();
  for (auto& h : hs) (void)co_await h;
  EXPECT_FALSE(m->is_locked());
  co_return order;
}

TEST(Mutex, WaitersAreServedInArrivalOrder) {
  mutex m;
  runtime rt({.shards = 1, .manual_clock = true});
  EXPECT_EQ(rt.block_on(fifo_by_arrival(&m)), (std::vector<int>{4, 3, 2, 1, 0}));
}

task<std::vector<int>> handoff_without_barging(mutex* m) {
  std::vector<int> order;
  auto held = co_await m->lock();
  auto h = spawn(lock_and_record(m, &order, 1, {}), "waiter");
  co_await settle();
  EXPECT_EQ(m->waiting(), 1u);
  held->unlock();  // handed to the waiter, which has not run yet
  EXPECT_TRUE(m->is_locked());
  EXPECT_EQ(m->waiting(), 0u);
  EXPECT_FALSE(m->try_lock());      // no barging past the waiter it was handed to
  auto again = co_await m->lock();  // queues behind it
  EXPECT_TRUE(again);
  order.push_back(0);
  again->unlock();
  (void)co_await h;
  EXPECT_FALSE(m->is_locked());
  co_return order;
}

TEST(Mutex, UnlockHandsTheLockToTheFirstWaiterWithoutBarging) {
  mutex m;
  runtime rt({.shards = 1, .manual_clock = true});
  EXPECT_EQ(rt.block_on(handoff_without_barging(&m)), (std::vector<int>{1, 0}));
}

task<int> serialized_increments(mutex* m, int* counter) {
  auto g = co_await m->lock();
  EXPECT_TRUE(g);
  const int seen = *counter;
  (void)co_await sleep_for(1ms);  // another task runs here; without the lock it would race
  *counter = seen + 1;
  co_return seen;
}

task<int> critical_sections(mutex* m) {
  int counter = 0;
  std::vector<join_handle<int>> hs;
  for (int i = 0; i < 10; ++i) hs.push_back(spawn(serialized_increments(m, &counter)));
  for (auto& h : hs) (void)co_await h;
  co_return counter;
}

TEST(Mutex, HeldAcrossAwaitsItSerializesCriticalSections) {
  mutex m;
  runtime rt({.shards = 1, .manual_clock = true});
  EXPECT_EQ(rt.block_on(critical_sections(&m)), 10);
}

// --- cancellation ----------------------------------------------------------------------------

task<> timeout_while_waiting(mutex* m) {
  auto held = co_await m->lock();
  const auto t0 = now();
  auto h = spawn(lock_error_within(m, 5s), "impatient");
  auto r = co_await h;
  EXPECT_EQ(r.value(), errc::timed_out);
  EXPECT_GE(now() - t0, 5s);
  EXPECT_LT(now() - t0, 5s + 5ms);
  EXPECT_EQ(m->waiting(), 0u);
  EXPECT_TRUE(m->is_locked());  // still ours
  held->unlock();
  EXPECT_FALSE(m->is_locked());  // nobody left to hand it to
}

TEST(Mutex, TimeoutWhileWaitingRemovesTheWaiter) {
  mutex m;
  runtime rt({.shards = 1, .manual_clock = true});
  rt.block_on(timeout_while_waiting(&m));
}

task<std::vector<int>> cancelled_waiter_leaves_queue(mutex* m) {
  std::vector<int> order;
  auto held = co_await m->lock();
  auto a = spawn(lock_and_record(m, &order, 1, {}), "a");
  auto b = spawn(lock_error_within(m, 1s), "b");
  auto c = spawn(lock_and_record(m, &order, 3, {}), "c");
  co_await settle();
  EXPECT_EQ(m->waiting(), 3u);
  auto rb = co_await b;  // the middle waiter times out
  EXPECT_EQ(rb.value(), errc::timed_out);
  EXPECT_EQ(m->waiting(), 2u);
  held->unlock();
  (void)co_await a;
  (void)co_await c;
  EXPECT_FALSE(m->is_locked());
  co_return order;
}

TEST(Mutex, CancelledWaiterLeavesTheOthersInOrder) {
  mutex m;
  runtime rt({.shards = 1, .manual_clock = true});
  EXPECT_EQ(rt.block_on(cancelled_waiter_leaves_queue(&m)), (std::vector<int>{1, 3}));
}

task<> cancel_through_join_handle(mutex* m) {
  auto held = co_await m->lock();
  auto h = spawn(lock_error(m), "waiter");
  co_await settle();
  EXPECT_EQ(m->waiting(), 1u);
  h.cancel();
  EXPECT_EQ(m->waiting(), 0u);  // removed at once, by the cancel callback
  auto r = co_await h;
  EXPECT_EQ(r.value(), errc::cancelled);
  EXPECT_TRUE(m->is_locked());
}

TEST(Mutex, CancelThroughJoinHandleWhileWaiting) {
  mutex m;
  runtime rt({.shards = 1, .manual_clock = true});
  rt.block_on(cancel_through_join_handle(&m));
  EXPECT_FALSE(m.is_locked());
}

task<> granted_then_cancelled(mutex* m) {
  auto held = co_await m->lock();
  auto h = spawn(lock_error(m), "waiter");
  co_await settle();
  held->unlock();  // handed over; the waiter has not run yet
  h.cancel();      // too late: exactly one outcome, and it is the lock
  auto r = co_await h;
  EXPECT_EQ(r.value(), std::error_code());
  EXPECT_FALSE(m->is_locked());  // the waiter's guard released it
}

TEST(Mutex, WaiterHandedTheLockKeepsItWhenCancelledBeforeRunning) {
  mutex m;
  runtime rt({.shards = 1, .manual_clock = true});
  rt.block_on(granted_then_cancelled(&m));
}

task<> hold_for(mutex* m, clock::duration d) {
  auto g = co_await m->lock();
  EXPECT_TRUE(g);
  (void)co_await sleep_for(d);
}

task<int> deadline_race(mutex* m) {
  // The holder releases at `hold`, the waiter gives up at `limit`: the earlier one decides;
  // on a tie either may, but there is always exactly one outcome and the lock is never lost.
  int got = 0;
  for (int i = 0; i < 90; ++i) {
    const auto hold = std::chrono::milliseconds(i % 3);
    const auto limit = std::chrono::milliseconds((i / 3) % 3);
    auto holder = spawn(hold_for(m, hold), "holder");
    co_await settle();
    auto r = co_await with_timeout(limit, m->lock());
    if (r) ++got;
    if (hold < limit) {
      EXPECT_TRUE(r) << i;
    }
    if (hold > limit) {
      EXPECT_EQ(r.error(), errc::timed_out) << i;
    }
    if (!r) {
      EXPECT_EQ(r.error(), errc::timed_out) << i;
    }
    r = unexpected(errc::cancelled);  // drops the guard, if any
    (void)co_await holder;
    EXPECT_FALSE(m->is_locked()) << i;
    EXPECT_EQ(m->waiting(), 0u) << i;
  }
  co_return got;
}

TEST(Mutex, DeadlineRaceHasExactlyOneOutcome) {
  mutex m;
  runtime rt({.shards = 1, .manual_clock = true});
  const int got = rt.block_on(deadline_race(&m));
  EXPECT_GE(got, 30);  // at least every hold < limit case
  EXPECT_LE(got, 60);  // at most those plus the ties
}

task<int> pre_cancelled(mutex* m) {
  // An already expired deadline: a free lock is still taken (as a past sleep completes), a
  // held one fails at once without queueing.
  auto free = co_await with_deadline(now() - 1s, m->lock());
  EXPECT_TRUE(free);
  auto busy = co_await with_deadline(now() - 1s, m->lock());
  EXPECT_EQ(busy.error(), errc::timed_out);
  EXPECT_EQ(m->waiting(), 0u);
  co_return 1;
}

TEST(Mutex, AlreadyCancelledTaskFailsOnlyWhenItWouldWait) {
  mutex m;
  runtime rt({.shards = 1, .manual_clock = true});
  EXPECT_EQ(rt.block_on(pre_cancelled(&m)), 1);
  EXPECT_FALSE(m.is_locked());
}

// --- destruction -----------------------------------------------------------------------------

// Whichever of its holders is destroyed first drops the shared guard, so the lock is released
// in the middle of runtime shutdown whatever order the runtime destroys tasks in.
struct drop_guard_on_destroy {
  std::shared_ptr<std::optional<mutex_guard>> slot;
  ~drop_guard_on_destroy() { slot->reset(); }
};

task<> hold_until_shutdown(mutex* m, std::shared_ptr<std::optional<mutex_guard>> slot) {
  drop_guard_on_destroy drop{slot};
  if (m) {
    auto g = co_await m->lock();
    EXPECT_TRUE(g);
    slot->emplace(std::move(*g));
  }
  (void)co_await sleep_for(24h);
}

task<> wait_until_shutdown(mutex* m, std::shared_ptr<int> keep, int* resumed) {
  auto g = co_await m->lock();
  ++*resumed;
  (void)keep;
}

// `keep` by reference: only the waiters' frames hold copies (the block_on frame is destroyed
// after block_on returns, concurrently with the test thread).
task<> suspend_on_mutex(mutex* m, const std::shared_ptr<int>& keep, int* resumed) {
  auto slot = std::make_shared<std::optional<mutex_guard>>();
  spawn_detached(hold_until_shutdown(m, slot), "holder");
  for (int i = 0; i < 3; ++i) spawn_detached(wait_until_shutdown(m, keep, resumed), "waiter");
  spawn_detached(hold_until_shutdown(nullptr, slot), "second holder");
  co_await settle();
  EXPECT_TRUE(m->is_locked());
  EXPECT_EQ(m->waiting(), 3u);
}

TEST(Mutex, RuntimeShutdownWithSuspendedWaitersLeaksNothing) {
  // The lock is released during shutdown and handed to a waiter about to be destroyed without
  // running: it must pass on through every waiter and end unlocked.
  mutex m;
  auto keep = std::make_shared<int>(0);
  int resumed = 0;
  {
    runtime rt({.shards = 1});  // real clock: the 24h sleeps stay asleep
    rt.block_on(suspend_on_mutex(&m, keep, &resumed));
    EXPECT_EQ(keep.use_count(), 4);
  }
  EXPECT_EQ(keep.use_count(), 1);  // every waiting frame was destroyed
  EXPECT_EQ(resumed, 0);           // and none ran
  EXPECT_FALSE(m.is_locked());     // the handed-over lock was not leaked
  EXPECT_EQ(m.waiting(), 0u);
  EXPECT_TRUE(m.try_lock());
}

// --- cooperative budget ----------------------------------------------------------------------

task<int> tight_lock_loop(mutex* m) {
  bool stop = false;
  int ticks = 0;
  auto h = spawn(ticker(&stop, &ticks), "ticker");
  co_await yield_now{};
  const int before = ticks;
  for (int i = 0; i < 10'000; ++i) {
    auto g = co_await m->lock();  // always free: completes without suspending...
    EXPECT_TRUE(g);
  }
  const int during = ticks - before;  // ...yet the ticker kept running
  stop = true;
  (void)co_await h;
  EXPECT_FALSE(m->is_locked());
  co_return during;
}

TEST(Mutex, TightLoopOfFreeLocksYieldsToOtherTasks) {
  mutex m;
  runtime rt({.shards = 1, .manual_clock = true, .coop_ops = 128});
  EXPECT_GE(rt.block_on(tight_lock_loop(&m)), 10'000 / 128 - 1);
  EXPECT_GT(rt.stats(0).coop_yields, 0u);
}

// --- shard affinity --------------------------------------------------------------------------

[[maybe_unused]] task<> lock_once(mutex* m) {
  auto g = co_await m->lock();
  EXPECT_TRUE(g);
}

TEST(MutexDeathTest, UseFromTwoShardsIsCaughtInDebugBuilds) {
#ifdef NDEBUG
  GTEST_SKIP() << "the shard check is a debug assertion";
#else
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  mutex m;
  EXPECT_DEATH(testing::run_on_two_runtimes([&] { return lock_once(&m); }), "shard-local");
#endif
}

}  // namespace
}  // namespace weir
