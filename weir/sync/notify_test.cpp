#include <weir/sync/notify.hpp>

#include <weir/core/runtime.hpp>
#include <weir/core/spawn.hpp>
#include <weir/core/time.hpp>

#include <weir/testing/tasks.hpp>

#include <gtest/gtest.h>

#include <memory>
#include <stdexcept>
#include <system_error>
#include <vector>

namespace weir {
namespace {

using namespace std::chrono_literals;
using testing::settle;
using testing::ticker;

// Arrives after `delay`, waits for a notification, records `id`.
task<> wait_and_record(notify* n, std::vector<int>* order, int id, clock::duration delay) {
  if (delay > clock::duration::zero()) (void)co_await sleep_for(delay);
  auto r = co_await n->notified();
  EXPECT_TRUE(r);
  order->push_back(id);
}

task<std::error_code> notified_error(notify* n) {
  auto r = co_await n->notified();
  co_return r.error();
}

task<std::error_code> notified_error_within(notify* n, clock::duration limit) {
  auto r = co_await with_timeout(limit, n->notified());
  co_return r.error();
}

// --- permits ---------------------------------------------------------------------------------

task<> permit_before_wait(notify* n) {
  n->notify_one();  // nobody waits: stored
  EXPECT_TRUE(n->has_permit());
  const auto t0 = now();
  auto r = co_await n->notified();  // completes at once with the stored permit
  EXPECT_TRUE(r);
  EXPECT_EQ(now(), t0);
  EXPECT_FALSE(n->has_permit());                                      // consumed
  EXPECT_EQ(co_await notified_error_within(n, 1s), errc::timed_out);  // and only once
}

TEST(Notify, NotifyOneBeforeTheWaitIsNotLost) {
  notify n;
  runtime rt({.shards = 1, .manual_clock = true});
  rt.block_on(permit_before_wait(&n));
}

task<> at_most_one_permit(notify* n) {
  n->notify_one();
  n->notify_one();
  n->notify_one();
  EXPECT_TRUE(co_await n->notified());
  EXPECT_EQ(co_await notified_error_within(n, 1s), errc::timed_out);
}

TEST(Notify, AtMostOnePermitIsStored) {
  notify n;
  runtime rt({.shards = 1, .manual_clock = true});
  rt.block_on(at_most_one_permit(&n));
}

TEST(Notify, NotifiedOutsideARuntimeIsAClearError) {
  notify n;
  EXPECT_THROW((void)n.notified(), std::logic_error);
  n.notify_one();  // not an await: usable while no shard uses the notify
  EXPECT_TRUE(n.has_permit());
}

// --- waking ----------------------------------------------------------------------------------

task<std::vector<int>> notify_one_in_arrival_order(notify* n) {
  std::vector<int> order;
  std::vector<join_handle<void>> hs;
  // Spawned 0..3, arriving 3, 2, 1, 0.
  for (int i = 0; i < 4; ++i)
    hs.push_back(spawn(wait_and_record(n, &order, i, std::chrono::milliseconds(10 * (4 - i)))));
  (void)co_await sleep_for(100ms);
  EXPECT_EQ(n->waiting(), 4u);
  for (int i = 0; i < 4; ++i) {
    n->notify_one();
    co_await settle();
    EXPECT_EQ(order.size(), static_cast<std::size_t>(i + 1));  // exactly one woke
    EXPECT_EQ(n->waiting(), static_cast<std::size_t>(3 - i));
    EXPECT_FALSE(n->has_permit());  // a waiter took it: nothing stored
  }
  for (auto& h : hs) (void)co_await h;
  co_return order;
}

TEST(Notify, NotifyOneWakesExactlyOneWaiterInArrivalOrder) {
  notify n;
  runtime rt({.shards = 1, .manual_clock = true});
  EXPECT_EQ(rt.block_on(notify_one_in_arrival_order(&n)), (std::vector<int>{3, 2, 1, 0}));
}

task<std::size_t> notify_all_wakes_current(notify* n) {
  std::vector<int> order;
  std::vector<join_handle<void>> hs;
  for (int i = 0; i < 3; ++i) hs.push_back(spawn(wait_and_record(n, &order, i, {})));
  co_await settle();
  EXPECT_EQ(n->waiting(), 3u);
  n->notify_all();
  EXPECT_EQ(n->waiting(), 0u);
  EXPECT_FALSE(n->has_permit());  // notify_all stores nothing...
  for (auto& h : hs) (void)co_await h;
  EXPECT_EQ(co_await notified_error_within(n, 1s), errc::timed_out);  // ...for later waiters
  n->notify_all();  // nobody waits: still nothing stored
  EXPECT_FALSE(n->has_permit());
  co_return order.size();
}

TEST(Notify, NotifyAllWakesEveryCurrentWaiterAndStoresNothing) {
  notify n;
  runtime rt({.shards = 1, .manual_clock = true});
  EXPECT_EQ(rt.block_on(notify_all_wakes_current(&n)), 3u);
}

task<> ping(notify* mine, notify* theirs, int rounds, int* count) {
  for (int i = 0; i < rounds; ++i) {
    theirs->notify_one();
    if (!co_await mine->notified()) co_return;
    ++*count;
  }
  theirs->notify_one();
}

task<int> ping_pong(notify* a, notify* b) {
  // Each side notifies the other before waiting, often before the other waits: any lost
  // wake-up stalls both, and the deadline turns that into a failure instead of a hang.
  int ca = 0, cb = 0;
  auto other = spawn(ping(b, a, 1000, &cb), "pong");
  auto r = co_await with_timeout(10s, ping(a, b, 1000, &ca));
  EXPECT_TRUE(r);
  (void)co_await other;
  co_return ca + cb;
}

TEST(Notify, PingPongLosesNoWakeUp) {
  notify a, b;
  runtime rt({.shards = 1, .manual_clock = true});
  EXPECT_EQ(rt.block_on(ping_pong(&a, &b)), 2000);
}

// --- cancellation ----------------------------------------------------------------------------

task<> timeout_consumes_nothing(notify* n) {
  const auto t0 = now();
  EXPECT_EQ(co_await notified_error_within(n, 5s), errc::timed_out);
  EXPECT_GE(now() - t0, 5s);
  EXPECT_EQ(n->waiting(), 0u);
  n->notify_one();  // the timed-out waiter is gone: the notification is stored, not wasted
  EXPECT_TRUE(n->has_permit());
}

TEST(Notify, TimeoutWhileWaitingRemovesTheWaiter) {
  notify n;
  runtime rt({.shards = 1, .manual_clock = true});
  rt.block_on(timeout_consumes_nothing(&n));
}

task<std::vector<int>> cancelled_waiter_leaves_queue(notify* n) {
  std::vector<int> order;
  auto a = spawn(wait_and_record(n, &order, 1, {}), "a");
  auto b = spawn(notified_error(n), "b");
  auto c = spawn(wait_and_record(n, &order, 3, {}), "c");
  co_await settle();
  b.cancel();
  EXPECT_EQ(n->waiting(), 2u);  // removed at once, by the cancel callback
  EXPECT_EQ((co_await b).value(), errc::cancelled);
  n->notify_one();
  n->notify_one();
  (void)co_await a;
  (void)co_await c;
  EXPECT_FALSE(n->has_permit());  // both went to live waiters
  co_return order;
}

TEST(Notify, CancelThroughJoinHandleLeavesTheOthersInOrder) {
  notify n;
  runtime rt({.shards = 1, .manual_clock = true});
  EXPECT_EQ(rt.block_on(cancelled_waiter_leaves_queue(&n)), (std::vector<int>{1, 3}));
}

task<> notified_then_cancelled(notify* n) {
  auto a = spawn(notified_error(n), "a");
  auto b = spawn(notified_error(n), "b");
  co_await settle();
  n->notify_one();  // picks a, which has not run yet
  a.cancel();       // too late: a completes with the notification
  EXPECT_EQ((co_await a).value(), std::error_code());
  EXPECT_EQ(n->waiting(), 1u);    // the notification was not duplicated to b...
  EXPECT_FALSE(n->has_permit());  // ...nor stored
  n->notify_one();
  EXPECT_EQ((co_await b).value(), std::error_code());
}

TEST(Notify, NotifiedWaiterCancelledBeforeRunningStillGetsTheNotification) {
  notify n;
  runtime rt({.shards = 1, .manual_clock = true});
  rt.block_on(notified_then_cancelled(&n));
}

// --- destruction -----------------------------------------------------------------------------

// Whichever of the tasks holding one is destroyed first sends the notification (once), so it
// happens in the middle of runtime shutdown whatever order the runtime destroys tasks in.
struct notify_on_first_destroy {
  notify* n;
  bool all;
  std::shared_ptr<bool> fired;
  ~notify_on_first_destroy() {
    if (std::exchange(*fired, true)) return;
    if (all)
      n->notify_all();
    else
      n->notify_one();
  }
};

task<> notify_at_shutdown(notify* n, bool all, std::shared_ptr<bool> fired) {
  notify_on_first_destroy trigger{n, all, fired};
  (void)co_await sleep_for(24h);
}

task<> wait_until_shutdown(notify* n, std::shared_ptr<int> keep, int* resumed) {
  (void)co_await n->notified();
  ++*resumed;
  (void)keep;
}

// `keep` by reference: only the waiters' frames hold copies.
task<> suspend_on_notify(notify* n, bool all, const std::shared_ptr<int>& keep, int* resumed) {
  auto fired = std::make_shared<bool>(false);
  spawn_detached(notify_at_shutdown(n, all, fired), "trigger");
  for (int i = 0; i < 3; ++i) spawn_detached(wait_until_shutdown(n, keep, resumed), "waiter");
  spawn_detached(notify_at_shutdown(n, all, fired), "second trigger");
  co_await settle();
  EXPECT_EQ(n->waiting(), 3u);
}

TEST(Notify, NotifiedWaiterDestroyedBeforeRunningPassesTheNotificationOn) {
  // notify_one picks a waiter during shutdown; destroyed without running, it passes the
  // notification on, through every waiter, until it is stored.
  notify n;
  auto keep = std::make_shared<int>(0);
  int resumed = 0;
  {
    runtime rt({.shards = 1});  // real clock: the 24h sleeps stay asleep
    rt.block_on(suspend_on_notify(&n, false, keep, &resumed));
    EXPECT_EQ(keep.use_count(), 4);
  }
  EXPECT_EQ(keep.use_count(), 1);  // every waiting frame was destroyed
  EXPECT_EQ(resumed, 0);           // and none ran
  EXPECT_TRUE(n.has_permit());     // the notification survived them
  EXPECT_EQ(n.waiting(), 0u);
}

TEST(Notify, WaitersWokenByNotifyAllAndDestroyedPassNothingOn) {
  notify n;
  auto keep = std::make_shared<int>(0);
  int resumed = 0;
  {
    runtime rt({.shards = 1});
    rt.block_on(suspend_on_notify(&n, true, keep, &resumed));
  }
  EXPECT_EQ(keep.use_count(), 1);
  EXPECT_EQ(resumed, 0);
  EXPECT_FALSE(n.has_permit());  // notify_all stores nothing, even through destroyed waiters
  EXPECT_EQ(n.waiting(), 0u);
}

// --- cooperative budget ----------------------------------------------------------------------

task<int> tight_notify_loop(notify* n) {
  bool stop = false;
  int ticks = 0;
  auto h = spawn(ticker(&stop, &ticks), "ticker");
  co_await yield_now{};
  const int before = ticks;
  for (int i = 0; i < 10'000; ++i) {
    n->notify_one();
    auto r = co_await n->notified();  // the permit is there: no suspension...
    EXPECT_TRUE(r);
  }
  const int during = ticks - before;  // ...yet the ticker kept running
  stop = true;
  (void)co_await h;
  EXPECT_FALSE(n->has_permit());
  co_return during;
}

TEST(Notify, TightLoopOfStoredPermitsYieldsToOtherTasks) {
  notify n;
  runtime rt({.shards = 1, .manual_clock = true, .coop_ops = 128});
  EXPECT_GE(rt.block_on(tight_notify_loop(&n)), 10'000 / 128 - 1);
  EXPECT_GT(rt.stats(0).coop_yields, 0u);
}

// --- shard affinity --------------------------------------------------------------------------

[[maybe_unused]] task<> notify_and_wait(notify* n) {
  n->notify_one();
  EXPECT_TRUE(co_await n->notified());
}

TEST(Notify, DestroyedWhileTasksWaitIsALostWakeup) {
  runtime rt({.shards = 1, .lost_wakeup = lost_wakeup_policy::fail});
  rt.block_on([]() -> task<> {
    auto n = std::make_unique<notify>();
    auto h = spawn(
        [](notify& n) -> task<std::error_code> {
          auto r = co_await n.notified();
          co_return r ? std::error_code{} : r.error();
        }(*n),
        "orphaned waiter");
    (void)co_await sleep_for(5ms);
    n.reset();  // the last thing that could wake the waiter
    auto r = co_await h;
    EXPECT_TRUE(r.has_value());
    EXPECT_EQ(*r, make_error_code(errc::lost_wakeup));
  }());
  auto lost = lost_wakeups(rt.impl());
  ASSERT_EQ(lost.size(), 1u);
  EXPECT_EQ(lost[0].name, "orphaned waiter");
  EXPECT_NE(lost[0].what.find("weir::notify was destroyed"), std::string::npos);
}

TEST(NotifyDeathTest, UseFromTwoShardsIsCaughtInDebugBuilds) {
#ifdef NDEBUG
  GTEST_SKIP() << "the shard check is a debug assertion";
#else
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  notify n;
  EXPECT_DEATH(testing::run_on_two_runtimes([&] { return notify_and_wait(&n); }), "shard-local");
#endif
}

}  // namespace
}  // namespace weir
