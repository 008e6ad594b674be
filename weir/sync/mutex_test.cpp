// What only a mutex promises: exclusive try_lock and guards, handoff without barging, critical
// sections across awaits. What every waiting primitive promises (FIFO, cancellation, budget,
// shutdown, lost wake-ups, shard affinity) is in conformance_test.cpp.
#include <weir/sync/mutex.hpp>

#include <weir/core/runtime.hpp>
#include <weir/core/spawn.hpp>
#include <weir/core/time.hpp>

#include <weir/testing/tasks.hpp>

#include <gtest/gtest.h>

#include <optional>
#include <vector>

namespace weir {
namespace {

using namespace std::chrono_literals;
using testing::settle;

// Arrives at the mutex after `delay`, records `id` once it holds the lock, holds it across
// an await (so the others really have to wait), then releases.
task<> lock_and_record(mutex* m, std::vector<int>* order, int id, clock::duration delay) {
  if (delay > clock::duration::zero()) (void)co_await sleep_for(delay);
  auto g = co_await m->lock();
  EXPECT_TRUE(g);
  order->push_back(id);
  co_await yield_now{};
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

// --- fairness --------------------------------------------------------------------------------

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

}  // namespace
}  // namespace weir
