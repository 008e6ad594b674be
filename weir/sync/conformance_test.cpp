// What every waiting primitive of weir::sync promises, asserted once for all of them: a typed
// suite over one adapter ("case") per primitive — mutex, semaphore, notify, wait_group, and a
// channel's send and recv in both modes. Budget, cancellation, FIFO order, runtime shutdown,
// destruction with waiters (lost wake-ups), shard affinity. What only one primitive promises
// (a semaphore's large requests, notify's stored permit, a channel's handoff) stays in its own
// *_test.cpp.
#include <weir/sync/channel.hpp>
#include <weir/sync/mutex.hpp>
#include <weir/sync/notify.hpp>
#include <weir/sync/semaphore.hpp>
#include <weir/sync/wait_group.hpp>

#include <weir/core/registry.hpp>
#include <weir/core/runtime.hpp>
#include <weir/core/spawn.hpp>
#include <weir/core/time.hpp>

#include <weir/testing/sim.hpp>
#include <weir/testing/tasks.hpp>

#include <gtest/gtest.h>

#include <cstddef>
#include <memory>
#include <new>
#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

namespace weir {
namespace {

using namespace std::chrono_literals;
using testing::settle;
using testing::ticker;

// The same suite runs twice: as test_sync_conformance on the default backend, and as
// test_sync_conformance_sim (label `sim`, WEIR_CONFORMANCE_SIM) where every test body runs on
// the sim backend over 200 seeds: batch boundaries and shard stalls drawn from each seed, virtual
// time in place of the manual or real clock.
#ifdef WEIR_CONFORMANCE_SIM
std::uint64_t sim_seed = 0;
runtime_options options(runtime_options o) {
  o.backend = "sim";
  o.sim_seed = sim_seed;
  o.manual_clock = false;  // the sim's clock is virtual already
  return o;
}
template <class F>
void runs(F body) {
  testing::sim_sweep(200, [&](std::uint64_t seed) {
    sim_seed = seed;
    body();
  });
}
#else
runtime_options options(runtime_options o) { return o; }
template <class F>
void runs(F body) {
  body();
}
#endif

// --- the cases --------------------------------------------------------------------------------
//
// A case owns one primitive in a state the tests drive. Each provides:
//   label, name                    the test name suffix; the name in lost-wake-up reports
//   many_waiters                   more than one task may wait at once (not a channel's recv)
//   wakes_one                      it can let exactly the first waiter through (else all)
//   takes                          a successful wait takes what it waited for (not a wait_group)
//   reports_lost, lost_error       destroying the waker: a reported lost wake-up, and the error
//                                  the waiter gets (a channel closes instead)
//   wait(v)                        the awaitable under test (v: what a send carries)
//   block()                        from now on wait() suspends
//   wake()                         one wake: whatever one notify_one, unlock, done()... does
//   wake_one() / wake_all()        let exactly the first waiter / every waiter through
//   keep(r)                        a woken waiter hands over what it got (a guard, a permit), so
//                                  that the test, not the end of the waiter's task, gives it back
//   release()                      gives back what block() and keep() hold
//   make_ready(), after_ready()    around a wait that completes at once
//   free()                         a new wait() would complete at once
//   at_rest()                      nothing held, nothing stored, nobody waiting
//   wake_kept(delivered)           after one wake raced with one waiter: the wake reached the
//                                  waiter, or else it is still in the primitive (never lost)
//   waiting()                      queued waiters, when the primitive can count them
//   destroy()                      destroys what would wake the waiters (the primitive; a
//                                  channel's other side)
// and, for shard-local primitives, sync_ops_work(): its operations that do not wait work outside
// a runtime.

struct mutex_case {
  static constexpr const char* label = "Mutex";
  static constexpr const char* name = "weir::mutex";
  static constexpr bool many_waiters = true, wakes_one = true, takes = true;
  static constexpr bool reports_lost = true;
  static constexpr errc lost_error = errc::lost_wakeup;

  std::unique_ptr<mutex> m = std::make_unique<mutex>();
  std::optional<mutex_guard> held;  // after `m`: destroyed first
  // destroy() parks a held guard here without running its destructor (as a holder that leaked
  // it): the mutex must die locked, and the guard must not unlock it afterwards.
  alignas(mutex_guard) unsigned char forgotten[sizeof(mutex_guard)];

  mutex::lock_awaiter wait(int) { return m->lock(); }
  void block() {
    held = m->try_lock();
    EXPECT_TRUE(held.has_value());
  }
  void wake() { held.reset(); }
  void wake_one() { wake(); }
  template <class R>
  void keep(R&& r) {
    held = std::move(*r);
  }
  void release() { held.reset(); }
  void make_ready() {}
  void after_ready() {}
  bool free() const { return !m->is_locked(); }
  bool at_rest() const { return !m->is_locked() && m->waiting() == 0; }
  // Delivered: the waiter holds the lock (kept here); else it is free.
  bool wake_kept(bool delivered) const {
    return delivered ? held.has_value() && m->is_locked() && m->waiting() == 0 : at_rest();
  }
  std::optional<std::size_t> waiting() const { return m->waiting(); }
  void destroy() {
    if (held) {
      new (forgotten) mutex_guard(std::move(*held));
      held.reset();
    }
    m.reset();
  }
  bool sync_ops_work() { return m->try_lock().has_value(); }
};

struct semaphore_case {
  static constexpr const char* label = "Semaphore";
  static constexpr const char* name = "weir::semaphore";
  static constexpr bool many_waiters = true, wakes_one = true, takes = true;
  static constexpr bool reports_lost = true;
  static constexpr errc lost_error = errc::lost_wakeup;

  std::unique_ptr<semaphore> s = std::make_unique<semaphore>(1);
  std::optional<semaphore_permit> held;  // after `s`: destroyed first

  semaphore::acquire_awaiter wait(int) { return s->acquire(1); }
  void block() {
    held = s->try_acquire(1);
    EXPECT_TRUE(held.has_value());
  }
  void wake() { held.reset(); }
  void wake_one() { wake(); }
  template <class R>
  void keep(R&& r) {
    held = std::move(*r);
  }
  void release() { held.reset(); }
  void make_ready() {}
  void after_ready() {}
  bool free() const { return s->available() > 0; }
  bool at_rest() const { return s->available() == 1 && s->waiting() == 0; }
  // Delivered: the waiter holds the permit (kept here); else it is back.
  bool wake_kept(bool delivered) const {
    return delivered ? held.has_value() && s->available() == 0 && s->waiting() == 0 : at_rest();
  }
  std::optional<std::size_t> waiting() const { return s->waiting(); }
  void destroy() {
    if (held) held->forget();
    held.reset();
    s.reset();
  }
  bool sync_ops_work() { return s->try_acquire(1).has_value(); }
};

struct notify_case {
  static constexpr const char* label = "Notify";
  static constexpr const char* name = "weir::notify";
  static constexpr bool many_waiters = true, wakes_one = true, takes = true;
  static constexpr bool reports_lost = true;
  static constexpr errc lost_error = errc::lost_wakeup;

  std::unique_ptr<notify> n = std::make_unique<notify>();

  notify::notified_awaiter wait(int) { return n->notified(); }
  void block() {}
  void wake() { n->notify_one(); }
  void wake_one() { n->notify_one(); }
  template <class R>
  void keep(R&&) {}
  void release() {}
  void make_ready() { n->notify_one(); }
  void after_ready() {}
  bool free() const { return n->has_permit(); }
  bool at_rest() const { return !n->has_permit() && n->waiting() == 0; }
  // Not delivered: stored as the permit.
  bool wake_kept(bool delivered) const {
    return n->has_permit() == !delivered && n->waiting() == 0;
  }
  std::optional<std::size_t> waiting() const { return n->waiting(); }
  void destroy() { n.reset(); }
  bool sync_ops_work() {
    n->notify_one();
    return n->has_permit();
  }
};

struct wait_group_case {
  static constexpr const char* label = "WaitGroup";
  static constexpr const char* name = "weir::wait_group";
  static constexpr bool many_waiters = true, wakes_one = false, takes = false;
  static constexpr bool reports_lost = true;
  static constexpr errc lost_error = errc::lost_wakeup;

  std::unique_ptr<wait_group> g = std::make_unique<wait_group>();

  wait_group::wait_awaiter wait(int) { return g->wait(); }
  void block() { g->add(); }
  void wake() { g->done(); }
  void wake_all() { g->done(); }
  template <class R>
  void keep(R&&) {}
  void release() {
    if (g->count() != 0) g->done();
  }
  void make_ready() {}
  void after_ready() {}
  bool free() const { return g->count() == 0; }
  bool at_rest() const { return g->count() == 0 && g->waiting() == 0; }
  bool wake_kept(bool) const { return at_rest(); }  // zero is zero, whoever saw it
  std::optional<std::size_t> waiting() const { return g->waiting(); }
  void destroy() { g.reset(); }
  bool sync_ops_work() {
    g->add();
    g->done();
    return g->count() == 0;
  }
};

// Senders wait on a full channel of capacity 1; a wake is the receiver taking one value.
template <channel_mode Mode>
struct channel_send_case {
  static constexpr const char* label =
      Mode == channel_mode::local ? "ChannelSend" : "ChannelSendCrossShard";
  static constexpr bool many_waiters = true, wakes_one = true, takes = true;
  static constexpr bool reports_lost = false;  // the receiver gone closes the channel
  static constexpr errc lost_error = errc::closed;

  channel_pair<int> ch = channel<int>(1, Mode);

  typename sender<int>::send_awaiter wait(int v) { return ch.tx.send(v); }
  void block() { EXPECT_TRUE(ch.tx.try_send(-1)); }
  void wake() { EXPECT_TRUE(ch.rx.try_recv()); }
  void wake_one() { wake(); }
  template <class R>
  void keep(R&&) {}
  void release() {
    while (ch.rx.try_recv()) {
    }
  }
  void make_ready() {}
  void after_ready() { EXPECT_TRUE(ch.rx.try_recv()); }
  bool free() const { return ch.tx.size() < ch.tx.capacity(); }
  bool at_rest() const { return ch.tx.size() == 0; }
  // Delivered: the waiting sender's value took the room the wake made.
  bool wake_kept(bool delivered) const { return ch.tx.size() == (delivered ? 1u : 0u); }
  std::optional<std::size_t> waiting() const { return std::nullopt; }
  void destroy() { auto gone = std::move(ch.rx); }
};

// The receiver waits on an empty channel; a wake is one value sent.
template <channel_mode Mode>
struct channel_recv_case {
  static constexpr const char* label =
      Mode == channel_mode::local ? "ChannelRecv" : "ChannelRecvCrossShard";
  static constexpr bool many_waiters = false, wakes_one = true, takes = true;
  static constexpr bool reports_lost = false;  // every sender gone closes the channel
  static constexpr errc lost_error = errc::closed;

  channel_pair<int> ch = channel<int>(1, Mode);

  typename receiver<int>::recv_awaiter wait(int) { return ch.rx.recv(); }
  void block() {}
  void wake() { EXPECT_TRUE(ch.tx.try_send(7)); }
  void wake_one() { wake(); }
  template <class R>
  void keep(R&&) {}
  void release() {
    while (ch.rx.try_recv()) {
    }
  }
  void make_ready() { EXPECT_TRUE(ch.tx.try_send(1)); }
  void after_ready() {}
  bool free() const { return ch.rx.size() > 0; }
  bool at_rest() const { return ch.rx.size() == 0; }
  // Not delivered: the value waits in the buffer.
  bool wake_kept(bool delivered) const { return ch.rx.size() == (delivered ? 0u : 1u); }
  std::optional<std::size_t> waiting() const { return std::nullopt; }
  void destroy() { auto gone = std::move(ch.tx); }
};

struct case_name {
  template <class C>
  static std::string GetName(int) {
    return C::label;
  }
};

template <class C>
void expect_waiting(const C& c, std::size_t n) {
  if (const std::optional<std::size_t> w = c.waiting()) {
    EXPECT_EQ(*w, n);
  }
}

// --- tasks the tests spawn ---------------------------------------------------------------------

// Arrives after `delay`, waits, records `id` (a send sends it), keeps what it got.
template <class C>
task<> wait_and_record(C* c, std::vector<int>* order, int id, clock::duration delay) {
  if (delay > clock::duration::zero()) (void)co_await sleep_for(delay);
  auto r = co_await c->wait(id);
  EXPECT_TRUE(r);
  order->push_back(id);
  if (r) c->keep(std::move(r));
}

template <class C>
task<std::error_code> wait_error(C* c) {
  auto r = co_await c->wait(0);
  const std::error_code ec = r.error();
  if (r) c->keep(std::move(r));
  co_return ec;
}

template <class C>
task<std::error_code> wait_error_within(C* c, clock::duration limit) {
  auto r = co_await with_timeout(limit, c->wait(0));
  const std::error_code ec = r.error();
  if (r) c->keep(std::move(r));
  co_return ec;
}

task<> set_flag(bool* flag) {
  *flag = true;
  co_return;
}

template <class C>
task<> wake_after(C* c, clock::duration d) {
  (void)co_await sleep_for(d);
  c->wake();
}

template <class C>
task<> wait_until_shutdown(C* c, std::shared_ptr<int> keep, int* resumed) {
  auto r = co_await c->wait(0);
  ++*resumed;
  (void)keep;
}

// Whichever task holding one is destroyed first wakes the primitive (once), so the wake happens
// in the middle of runtime shutdown whatever order the runtime destroys tasks in.
template <class C>
struct wake_on_first_destroy {
  C* c;
  std::shared_ptr<bool> fired;
  ~wake_on_first_destroy() {
    if (!std::exchange(*fired, true)) c->wake();
  }
};

template <class C>
task<> wake_at_shutdown(C* c, std::shared_ptr<bool> fired) {
  wake_on_first_destroy<C> trigger{c, std::move(fired)};
  (void)co_await sleep_for(24h);
}

// --- the suite every primitive runs --------------------------------------------------------------

template <class C>
class SyncConformance : public ::testing::Test {};
using all_cases =
    ::testing::Types<mutex_case, semaphore_case, notify_case, wait_group_case,
                     channel_send_case<channel_mode::local>, channel_recv_case<channel_mode::local>,
                     channel_send_case<channel_mode::cross_shard>,
                     channel_recv_case<channel_mode::cross_shard>>;
TYPED_TEST_SUITE(SyncConformance, all_cases, case_name);

template <class C>
task<> ready_wait(C* c) {
  bool other_ran = false;
  auto h = spawn(set_flag(&other_ran), "flag");
  c->make_ready();
  const auto t0 = now();
  {
    auto r = co_await c->wait(0);
    EXPECT_TRUE(r);
    if constexpr (C::takes) {
      EXPECT_FALSE(c->free());  // taken by this wait
    }
  }
  EXPECT_FALSE(other_ran);  // no suspension: the other task did not run
  EXPECT_EQ(now(), t0);
  c->after_ready();
  (void)co_await h;
  EXPECT_TRUE(other_ran);
  EXPECT_TRUE(c->at_rest());
}

TYPED_TEST(SyncConformance, ReadyWaitCompletesWithoutSuspending) {
  runs([&] {
    TypeParam c;
    runtime rt(options({.shards = 1, .manual_clock = true}));
    rt.block_on(ready_wait(&c));
  });
}

template <class C>
task<int> tight_loop(C* c) {
  bool stop = false;
  int ticks = 0;
  auto h = spawn(ticker(&stop, &ticks), "ticker");
  co_await yield_now{};
  const int before = ticks;
  for (int i = 0; i < 10'000; ++i) {
    c->make_ready();
    {
      auto r = co_await c->wait(i);  // ready: completes without suspending...
      EXPECT_TRUE(r);
    }
    c->after_ready();
  }
  const int during = ticks - before;  // ...yet the ticker kept running
  stop = true;
  (void)co_await h;
  EXPECT_TRUE(c->at_rest());
  co_return during;
}

TYPED_TEST(SyncConformance, TightLoopOfReadyWaitsYieldsToOtherTasks) {
  runs([&] {
    TypeParam c;
    runtime rt(options({.shards = 1, .manual_clock = true, .coop_ops = 128}));
    EXPECT_GE(rt.block_on(tight_loop(&c)), 10'000 / 128 - 1);
    EXPECT_GT(rt.stats(0).coop_yields, 0u);
  });
}

template <class C>
task<std::vector<int>> arrival_order(C* c) {
  std::vector<int> order;
  c->block();
  std::vector<join_handle<void>> hs;
  // Spawned 0..3 but arriving 3, 2, 1, 0: the order served must be the arrival order.
  for (int i = 0; i < 4; ++i)
    hs.push_back(spawn(wait_and_record(c, &order, i, std::chrono::milliseconds(10 * (4 - i)))));
  (void)co_await sleep_for(100ms);
  expect_waiting(*c, 4);
  EXPECT_TRUE(order.empty());
  if constexpr (C::wakes_one) {
    for (int i = 0; i < 4; ++i) {
      c->wake_one();
      co_await settle();
      EXPECT_EQ(order.size(), static_cast<std::size_t>(i + 1));  // exactly one went through
      expect_waiting(*c, static_cast<std::size_t>(3 - i));
      EXPECT_FALSE(c->free());  // handed to the waiter: nothing left for anyone else
    }
  } else {
    c->wake_all();
    expect_waiting(*c, 0);  // all at once, woken in order
  }
  for (auto& h : hs) (void)co_await h;
  c->release();
  EXPECT_TRUE(c->at_rest());
  co_return order;
}

TYPED_TEST(SyncConformance, WaitersAreServedInArrivalOrder) {
  runs([&] {
    if constexpr (!TypeParam::many_waiters) {
      GTEST_SKIP() << "one waiter at most";
    } else {
      TypeParam c;
      runtime rt(options({.shards = 1, .manual_clock = true}));
      EXPECT_EQ(rt.block_on(arrival_order(&c)), (std::vector<int>{3, 2, 1, 0}));
    }
  });
}

template <class C>
task<> timeout_while_waiting(C* c) {
  c->block();
  const auto t0 = now();
  auto h = spawn(wait_error_within(c, 5s), "impatient");
  const auto rh = co_await h;
  EXPECT_EQ(rh.value(), errc::timed_out);
  EXPECT_GE(now() - t0, 5s);
  EXPECT_LT(now() - t0, 5s + 5ms);
  expect_waiting(*c, 0);
  EXPECT_FALSE(c->free());           // nothing taken, nothing given
  c->wake();                         // nobody left to wake:
  EXPECT_TRUE(c->wake_kept(false));  // the wake stays, it is not wasted on the gone waiter
  c->release();
}

TYPED_TEST(SyncConformance, TimeoutWhileWaitingRemovesTheWaiter) {
  runs([&] {
    TypeParam c;
    runtime rt(options({.shards = 1, .manual_clock = true}));
    rt.block_on(timeout_while_waiting(&c));
  });
}

template <class C>
task<std::vector<int>> cancelled_waiter_leaves_queue(C* c) {
  std::vector<int> order;
  c->block();
  auto a = spawn(wait_and_record(c, &order, 1, {}), "a");
  auto b = spawn(wait_error(c), "b");
  auto d = spawn(wait_and_record(c, &order, 3, {}), "c");
  co_await settle();
  expect_waiting(*c, 3);
  b.cancel();
  expect_waiting(*c, 2);  // removed at once, by the cancel callback
  const auto rb = co_await b;
  EXPECT_EQ(rb.value(), errc::cancelled);
  if constexpr (C::wakes_one) {
    c->wake_one();
    co_await settle();
    EXPECT_EQ(order.size(), 1u);
    c->wake_one();
  } else {
    c->wake_all();
  }
  (void)co_await a;
  (void)co_await d;
  c->release();
  EXPECT_TRUE(c->at_rest());  // the cancelled waiter took nothing with it
  co_return order;
}

TYPED_TEST(SyncConformance, CancelledWaiterLeavesTheOthersInOrder) {
  runs([&] {
    if constexpr (!TypeParam::many_waiters) {
      GTEST_SKIP() << "one waiter at most";
    } else {
      TypeParam c;
      runtime rt(options({.shards = 1, .manual_clock = true}));
      EXPECT_EQ(rt.block_on(cancelled_waiter_leaves_queue(&c)), (std::vector<int>{1, 3}));
    }
  });
}

template <class C>
task<> cancel_through_join_handle(C* c) {
  c->block();
  auto h = spawn(wait_error(c), "waiter");
  co_await settle();
  expect_waiting(*c, 1);
  h.cancel();
  expect_waiting(*c, 0);  // removed at once, by the cancel callback
  const auto rh = co_await h;
  EXPECT_EQ(rh.value(), errc::cancelled);
  EXPECT_FALSE(c->free());  // nothing taken
  c->wake();
  EXPECT_TRUE(c->wake_kept(false));
  c->release();
}

TYPED_TEST(SyncConformance, CancelThroughJoinHandleWhileWaiting) {
  runs([&] {
    TypeParam c;
    runtime rt(options({.shards = 1, .manual_clock = true}));
    rt.block_on(cancel_through_join_handle(&c));
  });
}

template <class C>
task<> woken_then_cancelled(C* c) {
  c->block();
  auto a = spawn(wait_error(c), "a");
  std::optional<join_handle<std::error_code>> b;
  if constexpr (C::many_waiters) b.emplace(spawn(wait_error(c), "b"));
  co_await settle();
  c->wake();   // picks a, which has not run yet
  a.cancel();  // too late: exactly one outcome, and it is the wake's
  const auto ra = co_await a;
  EXPECT_EQ(ra.value(), std::error_code());
  if constexpr (C::many_waiters) {
    if constexpr (C::wakes_one) {
      expect_waiting(*c, 1);    // the wake was not duplicated to b...
      EXPECT_FALSE(c->free());  // ...nor left in the primitive
      c->wake_one();
    }
    const auto rb = co_await *b;
    EXPECT_EQ(rb.value(), std::error_code());
  }
  c->release();
  EXPECT_TRUE(c->at_rest());
}

TYPED_TEST(SyncConformance, WokenWaiterKeepsItsOutcomeWhenCancelledBeforeRunning) {
  runs([&] {
    TypeParam c;
    runtime rt(options({.shards = 1, .manual_clock = true}));
    rt.block_on(woken_then_cancelled(&c));
  });
}

template <class C>
task<int> deadline_race() {
  // The wake comes at `hold`, the waiter gives up at `limit`: the earlier one decides; on a tie
  // either may, but there is always exactly one outcome and the wake is never lost.
  int got = 0;
  for (int i = 0; i < 90; ++i) {
    const auto hold = std::chrono::milliseconds(i % 3);
    const auto limit = std::chrono::milliseconds((i / 3) % 3);
    auto c = std::make_unique<C>();
    c->block();
    spawn_detached(wake_after(c.get(), hold), "waker");
    auto r = co_await with_timeout(limit, c->wait(i));
    const bool delivered = static_cast<bool>(r);
    if (delivered) ++got;
    if (hold < limit) {
      EXPECT_TRUE(delivered) << i;
    }
    if (hold > limit || !delivered) {
      EXPECT_EQ(r.error(), errc::timed_out) << i;
    }
    if (delivered) c->keep(std::move(r));
    (void)co_await sleep_for(5ms);  // the waker is done
    EXPECT_TRUE(c->wake_kept(delivered)) << i;
    expect_waiting(*c, 0);
    c->release();
  }
  co_return got;
}

TYPED_TEST(SyncConformance, DeadlineRaceHasExactlyOneOutcome) {
  runs([&] {
    runtime rt(options({.shards = 1, .manual_clock = true}));
    const int got = rt.block_on(deadline_race<TypeParam>());
    EXPECT_GE(got, 30);  // at least every hold < limit case
    EXPECT_LE(got, 60);  // at most those plus the ties
  });
}

template <class C>
task<> already_cancelled(C* c) {
  // An already expired deadline: a ready wait still completes (as a past sleep does), one
  // that would suspend fails at once without queueing.
  c->make_ready();
  {
    auto ready = co_await with_deadline(now() - 1s, c->wait(0));
    EXPECT_TRUE(ready);
  }
  c->after_ready();
  c->block();
  auto blocked = co_await with_deadline(now() - 1s, c->wait(0));
  EXPECT_EQ(blocked.error(), errc::timed_out);
  expect_waiting(*c, 0);
  EXPECT_FALSE(c->free());
  c->release();
}

TYPED_TEST(SyncConformance, AlreadyCancelledTaskFailsOnlyWhenItWouldWait) {
  runs([&] {
    TypeParam c;
    runtime rt(options({.shards = 1, .manual_clock = true}));
    rt.block_on(already_cancelled(&c));
    EXPECT_TRUE(c.at_rest());
  });
}

// `keep` by reference: only the waiters' frames hold copies (the block_on frame is destroyed
// after block_on returns, concurrently with the test thread).
template <class C>
task<> suspend_waiters(C* c, const std::shared_ptr<int>& keep, int* resumed, int n) {
  c->block();
  for (int i = 0; i < n; ++i) spawn_detached(wait_until_shutdown(c, keep, resumed), "waiter");
  co_await settle();
  expect_waiting(*c, static_cast<std::size_t>(n));
}

TYPED_TEST(SyncConformance, RuntimeShutdownDestroysSuspendedWaiters) {
  runs([&] {
    TypeParam c;
    auto keep = std::make_shared<int>(0);
    int resumed = 0;
    const int n = TypeParam::many_waiters ? 3 : 1;
    {
      runtime rt(options({.shards = 1}));  // real clock
      rt.block_on(suspend_waiters(&c, keep, &resumed, n));
      EXPECT_EQ(keep.use_count(), n + 1);
    }
    EXPECT_EQ(keep.use_count(), 1);  // every waiting frame was destroyed
    EXPECT_EQ(resumed, 0);           // and none ran
    expect_waiting(c, 0);            // each unlinked itself
    EXPECT_FALSE(c.free());          // and took nothing
    c.release();
  });
}

template <class C>
task<> orphan_waiter(C* c) {
  c->block();
  auto h = spawn(wait_error(c), "orphaned waiter");
  (void)co_await sleep_for(5ms);
  c->destroy();  // the last thing that could wake the waiter
  const auto rh = co_await h;
  EXPECT_EQ(rh.value(), C::lost_error);
}

TYPED_TEST(SyncConformance, DestroyingTheWakerFailsTheWaiterInsteadOfLosingIt) {
  runs([&] {
    TypeParam c;
    runtime rt(options({.shards = 1, .lost_wakeup = lost_wakeup_policy::fail}));
    rt.block_on(orphan_waiter(&c));
    auto lost = lost_wakeups(rt);
    if constexpr (TypeParam::reports_lost) {
      ASSERT_EQ(lost.size(), 1u);
      EXPECT_EQ(lost[0].name, "orphaned waiter");
      EXPECT_NE(lost[0].what.find(std::string(TypeParam::name) + " was destroyed"),
                std::string::npos)
          << lost[0].what;
    } else {
      EXPECT_TRUE(lost.empty());  // a closed channel is an answer, not a lost wake-up
    }
  });
}

// --- what only the shard-local primitives promise ------------------------------------------------

template <class C>
class ShardLocalConformance : public ::testing::Test {};
using shard_local_cases =
    ::testing::Types<mutex_case, semaphore_case, notify_case, wait_group_case>;
TYPED_TEST_SUITE(ShardLocalConformance, shard_local_cases, case_name);

TYPED_TEST(ShardLocalConformance, WaitOutsideARuntimeIsAClearError) {
  TypeParam c;
  EXPECT_THROW((void)c.wait(0), std::logic_error);
  EXPECT_TRUE(c.sync_ops_work());  // not awaits: usable while no shard uses the primitive
}

template <class C>
task<> suspend_with_trigger(C* c, const std::shared_ptr<int>& keep, int* resumed) {
  auto fired = std::make_shared<bool>(false);
  c->block();
  spawn_detached(wake_at_shutdown(c, fired), "trigger");
  for (int i = 0; i < 3; ++i) spawn_detached(wait_until_shutdown(c, keep, resumed), "waiter");
  spawn_detached(wake_at_shutdown(c, fired), "second trigger");
  co_await settle();
  expect_waiting(*c, 3);
}

TYPED_TEST(ShardLocalConformance, WakeDuringShutdownPassesThroughDestroyedWaitersLeakingNothing) {
  runs([&] {
    // The wake comes during shutdown and picks waiters that are destroyed without running: what
    // it handed them (the lock, permits, a notify_one) goes back, through every waiter, into the
    // primitive.
    TypeParam c;
    auto keep = std::make_shared<int>(0);
    int resumed = 0;
    {
      runtime rt(options({.shards = 1}));  // real clock: the 24h sleeps stay asleep
      rt.block_on(suspend_with_trigger(&c, keep, &resumed));
      EXPECT_EQ(keep.use_count(), 4);
    }
    EXPECT_EQ(keep.use_count(), 1);  // every waiting frame was destroyed
    EXPECT_EQ(resumed, 0);           // and none ran
    EXPECT_TRUE(c.wake_kept(false));
  });
}

template <class C>
task<> left_waiting_then_cancelled(C* c) {
  c->block();
  auto h = spawn(wait_error(c), "forgotten");
  co_await settle();
  c->destroy();
  co_await settle();
  EXPECT_FALSE(h.finished());  // reported and left waiting, as the policy says
  h.cancel();                  // its cancellation must not touch the destroyed primitive
  const auto rh = co_await h;
  EXPECT_EQ(rh.value(), errc::cancelled);
}

TYPED_TEST(ShardLocalConformance, ReportPolicyLeavesTheWaiterWaitingUntilItIsCancelled) {
  runs([&] {
    TypeParam c;
    runtime rt(options({.shards = 1, .lost_wakeup = lost_wakeup_policy::report}));
    rt.block_on(left_waiting_then_cancelled(&c));
    EXPECT_EQ(lost_wakeups(rt).size(), 1u);
  });
}

template <class C>
class ShardLocalDeathTest : public ::testing::Test {};
TYPED_TEST_SUITE(ShardLocalDeathTest, shard_local_cases, case_name);

template <class C>
[[maybe_unused]] task<> use_once(C* c) {
  c->make_ready();
  {
    auto r = co_await c->wait(0);
    EXPECT_TRUE(r);
  }
  c->after_ready();
}

TYPED_TEST(ShardLocalDeathTest, UseFromTwoShardsIsCaughtInDebugBuilds) {
#ifdef NDEBUG
  GTEST_SKIP() << "the shard check is a debug assertion";
#else
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  TypeParam c;
  EXPECT_DEATH(testing::run_on_two_runtimes([&] { return use_once(&c); }), "shard-local");
#endif
}

}  // namespace
}  // namespace weir
