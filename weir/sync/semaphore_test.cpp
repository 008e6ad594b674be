// What only a semaphore promises: counting, requests of several permits, the head of the queue
// blocking smaller requests and unblocking them when it leaves. What every waiting primitive
// promises (FIFO, cancellation, budget, shutdown, lost wake-ups, shard affinity) is in
// conformance_test.cpp.
#include <weir/sync/semaphore.hpp>

#include <weir/core/registry.hpp>
#include <weir/core/runtime.hpp>
#include <weir/core/spawn.hpp>
#include <weir/core/time.hpp>

#include <weir/testing/tasks.hpp>

#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <system_error>
#include <vector>

namespace weir {
namespace {

using namespace std::chrono_literals;
using testing::settle;

// Arrives after `delay`, takes `n` permits, records `id` and keeps the permits out of
// circulation (forget), so the test controls every permit that comes back.
task<> acquire_and_forget(semaphore* s, std::size_t n, std::vector<int>* order, int id,
                          clock::duration delay) {
  if (delay > clock::duration::zero()) (void)co_await sleep_for(delay);
  auto p = co_await s->acquire(n);
  EXPECT_TRUE(p);
  EXPECT_EQ(p->count(), n);
  order->push_back(id);
  p->forget();
}

// Takes `n` permits and holds them until `*release` is set (polled across yields).
task<> acquire_and_hold(semaphore* s, std::size_t n, std::vector<int>* order, int id,
                        const bool* release) {
  auto p = co_await s->acquire(n);
  EXPECT_TRUE(p);
  order->push_back(id);
  while (!*release) co_await yield_now{};
}

task<std::error_code> acquire_error(semaphore* s, std::size_t n) {
  auto p = co_await s->acquire(n);
  co_return p.error();
}

task<std::error_code> acquire_error_within(semaphore* s, std::size_t n, clock::duration limit) {
  auto p = co_await with_timeout(limit, s->acquire(n));
  co_return p.error();
}

// --- basics ----------------------------------------------------------------------------------

task<> counting(semaphore* s) {
  EXPECT_EQ(s->available(), 3u);
  auto two = s->try_acquire(2);
  EXPECT_TRUE(two);
  EXPECT_EQ(two->count(), 2u);
  EXPECT_EQ(s->available(), 1u);
  EXPECT_FALSE(s->try_acquire(2));  // only one left
  EXPECT_EQ(s->available(), 1u);    // a failed try takes nothing

  semaphore_permit moved = std::move(*two);
  EXPECT_EQ(two->count(), 0u);
  two.reset();  // an empty permit returns nothing
  EXPECT_EQ(s->available(), 1u);
  moved.reset();
  EXPECT_EQ(s->available(), 3u);

  {
    auto p = co_await s->acquire(3);
    EXPECT_TRUE(p);
    EXPECT_EQ(s->available(), 0u);
  }
  EXPECT_EQ(s->available(), 3u);  // returned by the destructor

  auto lost = s->try_acquire();
  lost->forget();
  lost.reset();
  EXPECT_EQ(s->available(), 2u);  // forgotten for good
  s->release(1);
  EXPECT_EQ(s->available(), 3u);
}

TEST(Semaphore, PermitsAreCountedReturnedAndForgotten) {
  semaphore s(3);
  runtime rt({.shards = 1, .manual_clock = true});
  rt.block_on(counting(&s));
}

task<std::vector<int>> wait_for_release(semaphore* s) {
  std::vector<int> order;
  auto h = spawn(acquire_and_forget(s, 2, &order, 1, {}), "waiter");
  co_await settle();
  EXPECT_EQ(s->waiting(), 1u);
  s->release(1);
  co_await settle();
  EXPECT_TRUE(order.empty());  // one of two permits: still waiting
  s->release(1);
  EXPECT_EQ(s->waiting(), 0u);
  EXPECT_EQ(s->available(), 0u);  // taken for the waiter at release time
  (void)co_await h;
  co_return order;
}

TEST(Semaphore, AcquireWaitsUntilEnoughPermitsAreReleased) {
  semaphore s(0);
  runtime rt({.shards = 1, .manual_clock = true});
  EXPECT_EQ(rt.block_on(wait_for_release(&s)), (std::vector<int>{1}));
}

// --- fairness --------------------------------------------------------------------------------

task<std::vector<int>> large_request_blocks_smaller(semaphore* s) {
  std::vector<int> order;
  bool release_big = false, release_small = false;
  auto big = spawn(acquire_and_hold(s, 3, &order, 3, &release_big), "big");
  auto small = spawn(acquire_and_hold(s, 1, &order, 1, &release_small), "small");
  co_await settle();
  EXPECT_EQ(s->waiting(), 2u);

  s->release(1);  // enough for the small request, but the big one is first
  co_await settle();
  EXPECT_TRUE(order.empty());
  EXPECT_EQ(s->available(), 1u);
  EXPECT_FALSE(s->try_acquire(1));  // no barging past the queue either
  EXPECT_EQ(s->available(), 1u);

  s->release(2);  // now the head fits; the small one still waits for its own permit
  co_await settle();
  EXPECT_EQ(order, (std::vector<int>{3}));
  EXPECT_EQ(s->available(), 0u);
  EXPECT_EQ(s->waiting(), 1u);

  release_big = true;  // its three permits come back: the small one gets one
  (void)co_await big;
  co_await settle();
  EXPECT_EQ(order, (std::vector<int>{3, 1}));
  EXPECT_EQ(s->available(), 2u);
  release_small = true;
  (void)co_await small;
  EXPECT_EQ(s->available(), 3u);
  co_return order;
}

TEST(Semaphore, LargeRequestAtTheHeadIsNotStarvedBySmallerOnes) {
  semaphore s(0);
  runtime rt({.shards = 1, .manual_clock = true});
  EXPECT_EQ(rt.block_on(large_request_blocks_smaller(&s)), (std::vector<int>{3, 1}));
}

// --- cancellation ----------------------------------------------------------------------------

task<> cancelling_the_head_unblocks(semaphore* s) {
  std::vector<int> order;
  const auto t0 = now();
  auto big = spawn(acquire_error_within(s, 5, 5s), "big");
  auto small = spawn(acquire_and_forget(s, 2, &order, 2, {}), "small");
  co_await settle();
  EXPECT_TRUE(order.empty());  // 3 free, but the head wants 5
  auto r = co_await big;
  EXPECT_EQ(r.value(), errc::timed_out);
  EXPECT_GE(now() - t0, 5s);
  (void)co_await small;  // served as soon as the head left
  EXPECT_EQ(order, (std::vector<int>{2}));
  EXPECT_EQ(s->available(), 1u);
  EXPECT_EQ(s->waiting(), 0u);
}

TEST(Semaphore, TimedOutHeadLetsTheRequestsBehindItThrough) {
  semaphore s(3);
  runtime rt({.shards = 1, .manual_clock = true});
  rt.block_on(cancelling_the_head_unblocks(&s));
}

// --- destruction -----------------------------------------------------------------------------

// Whichever of its holders is destroyed first returns the shared permits, so they come back in
// the middle of runtime shutdown whatever order the runtime destroys tasks in.
struct return_permits_on_destroy {
  std::shared_ptr<std::optional<semaphore_permit>> slot;
  ~return_permits_on_destroy() { slot->reset(); }
};

task<> hold_until_shutdown(semaphore* s, std::size_t n,
                           std::shared_ptr<std::optional<semaphore_permit>> slot) {
  return_permits_on_destroy back{slot};
  if (n) {
    auto p = co_await s->acquire(n);
    EXPECT_TRUE(p);
    slot->emplace(std::move(*p));
  }
  (void)co_await sleep_for(24h);
}

task<> wait_until_shutdown(semaphore* s, std::size_t n, std::shared_ptr<int> keep, int* resumed) {
  auto p = co_await s->acquire(n);
  ++*resumed;
  (void)keep;
}

// `keep` by reference: only the waiters' frames hold copies.
task<> suspend_on_semaphore(semaphore* s, const std::shared_ptr<int>& keep, int* resumed) {
  auto slot = std::make_shared<std::optional<semaphore_permit>>();
  spawn_detached(hold_until_shutdown(s, 2, slot), "holder");
  spawn_detached(wait_until_shutdown(s, 1, keep, resumed), "waiter 1");
  spawn_detached(wait_until_shutdown(s, 2, keep, resumed), "waiter 2");
  spawn_detached(wait_until_shutdown(s, 1, keep, resumed), "waiter 1");
  spawn_detached(hold_until_shutdown(s, 0, slot), "second holder");
  co_await settle();
  EXPECT_EQ(s->available(), 0u);
  EXPECT_EQ(s->waiting(), 3u);
}

TEST(Semaphore, RuntimeShutdownWithSuspendedWaitersLeaksNothing) {
  // The permits come back during shutdown and are granted to waiters of different sizes that
  // are destroyed without running, some whole, some while the head blocks them: they must go
  // back to the semaphore, all of them. (conformance_test.cpp has the one-permit case.)
  semaphore s(2);
  auto keep = std::make_shared<int>(0);
  int resumed = 0;
  {
    runtime rt({.shards = 1});  // real clock: the 24h sleeps stay asleep
    rt.block_on(suspend_on_semaphore(&s, keep, &resumed));
    EXPECT_EQ(keep.use_count(), 4);
  }
  EXPECT_EQ(keep.use_count(), 1);  // every waiting frame was destroyed
  EXPECT_EQ(resumed, 0);           // and none ran
  EXPECT_EQ(s.available(), 2u);    // no permit leaked
  EXPECT_EQ(s.waiting(), 0u);
}

task<> fail_waiters_of_a_dying_semaphore() {
  auto s = std::make_unique<semaphore>(1);
  auto big = spawn(acquire_error(s.get(), 2), "big");      // blocked: one permit free
  auto small = spawn(acquire_error(s.get(), 1), "small");  // blocked behind it (FIFO)
  co_await settle();
  EXPECT_EQ(s->waiting(), 2u);
  s.reset();
  const auto rb = co_await big;
  const auto rs = co_await small;
  EXPECT_EQ(rb.value(), errc::lost_wakeup);
  EXPECT_EQ(rs.value(), errc::lost_wakeup);
}

TEST(Semaphore, DestroyedWithAFreePermitFailsEveryWaiterGrantingNone) {
  // Regression: failing the blocked head used to run the grant loop of the dying semaphore,
  // which handed its free permit to the request behind it; that task then held a permit of a
  // destroyed semaphore and returned it into freed memory.
  runtime rt({.shards = 1, .lost_wakeup = lost_wakeup_policy::fail});
  rt.block_on(fail_waiters_of_a_dying_semaphore());
  EXPECT_EQ(lost_wakeups(rt).size(), 2u);
}

}  // namespace
}  // namespace weir
