// What only a notify promises: the stored permit (at most one), notify_all storing nothing,
// ping-pong without a lost wake-up. What every waiting primitive promises (FIFO, cancellation,
// budget, shutdown, lost wake-ups, shard affinity) is in conformance_test.cpp.
#include <weir/sync/notify.hpp>

#include <weir/core/registry.hpp>
#include <weir/core/render.hpp>
#include <weir/core/runtime.hpp>
#include <weir/core/spawn.hpp>
#include <weir/core/time.hpp>

#include <weir/testing/tasks.hpp>

#include <gtest/gtest.h>

#include <memory>
#include <system_error>
#include <utility>
#include <vector>

namespace weir {
namespace {

using namespace std::chrono_literals;
using testing::settle;

// Arrives after `delay`, waits for a notification, records `id`.
task<> wait_and_record(notify* n, std::vector<int>* order, int id, clock::duration delay) {
  if (delay > clock::duration::zero()) (void)co_await sleep_for(delay);
  auto r = co_await n->notified();
  EXPECT_TRUE(r);
  order->push_back(id);
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

// --- waking ----------------------------------------------------------------------------------

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

// --- destruction -----------------------------------------------------------------------------

// Whichever of the tasks holding one is destroyed first calls notify_all (once), so it happens
// in the middle of runtime shutdown whatever order the runtime destroys tasks in. (The
// notify_one case is conformance_test.cpp's WakeDuringShutdown... test.)
struct notify_all_on_first_destroy {
  notify* n;
  std::shared_ptr<bool> fired;
  ~notify_all_on_first_destroy() {
    if (!std::exchange(*fired, true)) n->notify_all();
  }
};

task<> notify_all_at_shutdown(notify* n, std::shared_ptr<bool> fired) {
  notify_all_on_first_destroy trigger{n, fired};
  (void)co_await sleep_for(24h);
}

task<> wait_until_shutdown(notify* n, std::shared_ptr<int> keep, int* resumed) {
  (void)co_await n->notified();
  ++*resumed;
  (void)keep;
}

// `keep` by reference: only the waiters' frames hold copies.
task<> suspend_on_notify(notify* n, const std::shared_ptr<int>& keep, int* resumed) {
  auto fired = std::make_shared<bool>(false);
  spawn_detached(notify_all_at_shutdown(n, fired), "trigger");
  for (int i = 0; i < 3; ++i) spawn_detached(wait_until_shutdown(n, keep, resumed), "waiter");
  spawn_detached(notify_all_at_shutdown(n, fired), "second trigger");
  co_await settle();
  EXPECT_EQ(n->waiting(), 3u);
}

TEST(Notify, WaitersWokenByNotifyAllAndDestroyedPassNothingOn) {
  notify n;
  auto keep = std::make_shared<int>(0);
  int resumed = 0;
  {
    runtime rt({.shards = 1});
    rt.block_on(suspend_on_notify(&n, keep, &resumed));
  }
  EXPECT_EQ(keep.use_count(), 1);
  EXPECT_EQ(resumed, 0);
  EXPECT_FALSE(n.has_permit());  // notify_all stores nothing, even through destroyed waiters
  EXPECT_EQ(n.waiting(), 0u);
}

// --- what dumps say -------------------------------------------------------------------------

TEST(Notify, ALabelNamesTheWaitInDumps) {
  runtime rt({.shards = 1});
  rt.block_on([]() -> task<> {
    notify plain, named;
    named.set_label("arp resolve 192.0.2.1");
    std::vector<int> order;
    auto a = spawn(wait_and_record(&plain, &order, 1, 0ms), "plain");
    auto b = spawn(wait_and_record(&named, &order, 2, 0ms), "named");
    co_await settle();
    const std::string dump = format_dump(snapshot());
    EXPECT_NE(dump.find("'plain' waiting"), std::string::npos) << dump;
    EXPECT_NE(dump.find("on notify\n"), std::string::npos) << dump;
    EXPECT_NE(dump.find("on arp resolve 192.0.2.1\n"), std::string::npos) << dump;
    plain.notify_one();
    named.notify_one();
    (void)co_await a;
    (void)co_await b;
    EXPECT_EQ(order.size(), 2u);
  }());
}

}  // namespace
}  // namespace weir
