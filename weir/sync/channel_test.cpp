#include <weir/sync/channel.hpp>

#include <weir/core/on_shard.hpp>
#include <weir/core/runtime.hpp>
#include <weir/core/spawn.hpp>
#include <weir/core/time.hpp>
#include <weir/core/when_all.hpp>

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

namespace weir {
namespace {

using namespace std::chrono_literals;

task<> produce(sender<int> tx, int from, int n) {
  for (int i = from; i < from + n; ++i) (void)co_await tx.send(i);
}

TEST(Channel, FifoAndCloseWhenSendersGone) {
  runtime rt({.shards = 1});
  auto t = [](int) -> task<std::vector<int>> {
    auto [tx, rx] = channel<int>(4);
    spawn_detached(produce(std::move(tx), 0, 100), "producer");
    std::vector<int> got;
    for (;;) {
      auto r = co_await rx.recv();
      if (!r) {
        EXPECT_EQ(r.error(), errc::closed);
        break;
      }
      got.push_back(*r);
    }
    co_return got;
  };
  auto got = rt.block_on(t(0));
  ASSERT_EQ(got.size(), 100u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(got[i], i);
}

TEST(Channel, SendWaitsForRoom) {
  runtime rt({.shards = 1, .manual_clock = true});
  auto t = [](int) -> task<clock::duration> {
    auto [tx, rx] = channel<int>(2);
    EXPECT_TRUE(tx.try_send(1));
    EXPECT_TRUE(tx.try_send(2));
    EXPECT_EQ(tx.try_send(3).error(), errc::full);
    spawn_detached(
        [](receiver<int> rx) -> task<> {
          (void)co_await sleep_for(5s);
          (void)co_await rx.recv();
          (void)co_await sleep_for(1h);  // keep the receiver alive
        }(std::move(rx)),
        "slow receiver");
    auto t0 = now();
    auto r = co_await tx.send(3);  // waits until the receiver takes one
    EXPECT_TRUE(r);
    co_return now() - t0;
  };
  auto waited = rt.block_on(t(0));
  EXPECT_GE(waited, 5s);
  EXPECT_LT(waited, 5s + 5ms);
}

TEST(Channel, ReceiverGoneFailsWaitingAndFutureSenders) {
  runtime rt({.shards = 1, .manual_clock = true});
  auto t = [](int) -> task<std::vector<std::error_code>> {
    auto [tx, rx] = channel<int>(1);
    (void)tx.try_send(0);
    std::vector<join_handle<std::error_code>> waiting;
    for (int i = 0; i < 3; ++i)
      waiting.push_back(spawn(
          [](sender<int> tx, int i) -> task<std::error_code> {
            auto r = co_await tx.send(i);
            co_return r.error();
          }(tx, i),
          "blocked sender"));
    co_await yield_now{};
    { auto gone = std::move(rx); }
    std::vector<std::error_code> out;
    for (auto& h : waiting) out.push_back((co_await h).value());
    out.push_back(tx.try_send(9).error());
    co_return out;
  };
  for (auto ec : rt.block_on(t(0))) EXPECT_EQ(ec, errc::closed);
}

TEST(Channel, CloseKeepsBufferedValues) {
  runtime rt({.shards = 1});
  auto t = [](int) -> task<std::vector<int>> {
    auto [tx, rx] = channel<int>(4);
    (void)tx.try_send(1);
    (void)tx.try_send(2);
    rx.close();
    EXPECT_EQ(tx.try_send(3).error(), errc::closed);
    std::vector<int> got;
    got.push_back((co_await rx.recv()).value());
    got.push_back((co_await rx.recv()).value());
    EXPECT_EQ(rx.try_recv().error(), errc::empty);  // a sender still exists
    co_return got;
  };
  EXPECT_EQ(rt.block_on(t(0)), (std::vector<int>{1, 2}));
}

TEST(Channel, CancelledRecvTakesNothing) {
  runtime rt({.shards = 1, .manual_clock = true});
  auto t = [](int) -> task<int> {
    auto [tx, rx] = channel<int>(4);
    auto r = co_await with_timeout(1s, rx.recv());
    EXPECT_EQ(r.error(), errc::timed_out);
    (void)tx.try_send(5);
    co_return (co_await rx.recv()).value();  // the value went to the live recv, not the dead one
  };
  EXPECT_EQ(rt.block_on(t(0)), 5);
}

TEST(Channel, CancelledSendDidNotEnqueue) {
  runtime rt({.shards = 1, .manual_clock = true});
  auto t = [](int) -> task<std::vector<int>> {
    auto [tx, rx] = channel<int>(1);
    (void)tx.try_send(1);
    auto r = co_await with_timeout(1s, tx.send(2));
    EXPECT_EQ(r.error(), errc::timed_out);
    std::vector<int> got;  // (g++ 12 rejects co_await inside a braced initializer list)
    got.push_back((co_await rx.recv()).value());
    (void)tx.try_send(3);
    got.push_back((co_await rx.recv()).value());
    co_return got;
  };
  EXPECT_EQ(rt.block_on(t(0)), (std::vector<int>{1, 3}));
}

TEST(Channel, WaitingSendersServedInOrderWithoutBarging) {
  runtime rt({.shards = 1});
  auto t = [](int) -> task<std::vector<int>> {
    auto [tx, rx] = channel<int>(1);
    (void)tx.try_send(0);
    for (int i = 1; i <= 5; ++i)
      spawn_detached([](sender<int> tx, int i) -> task<> { (void)co_await tx.send(i); }(tx, i),
                     "sender");
    co_await yield_now{};  // all five are now queued, in order
    std::vector<int> got;
    for (int i = 0; i <= 5; ++i) {
      got.push_back((co_await rx.recv()).value());
      // A newcomer must not jump the queue of waiting senders.
      EXPECT_EQ(tx.try_send(100).error(), i < 5 ? std::error_code(errc::full) : std::error_code());
    }
    co_return got;
  };
  auto got = rt.block_on(t(0));
  EXPECT_EQ(got, (std::vector<int>{0, 1, 2, 3, 4, 5}));
}

TEST(Channel, DestroyRuntimeWithSuspendedSendersAndReceivers) {
  auto probe = std::make_shared<int>(0);
  {
    runtime rt({.shards = 2});
    auto t = [](std::shared_ptr<int> probe) -> task<> {
      auto [tx, rx] = channel<std::shared_ptr<int>>(1, cross_shard);
      (void)tx.try_send(probe);
      for (int i = 0; i < 4; ++i)
        spawn_detached(
            [](sender<std::shared_ptr<int>> tx, std::shared_ptr<int> p) -> task<> {
              (void)co_await tx.send(p);
            }(tx, probe),
            "stuck sender");
      auto [tx2, rx2] = channel<int>(1);
      spawn_detached([](receiver<int> rx, sender<int>) -> task<> { (void)co_await rx.recv(); }(
                                                           std::move(rx2), std::move(tx2)),
                     "stuck receiver");
      spawn_detached(
          [](receiver<std::shared_ptr<int>> keep) -> task<> {
            (void)keep;
            (void)co_await sleep_for(24h);
          }(std::move(rx)),
          "holder");
      co_return;
    };
    rt.block_on(t(probe));
  }
  EXPECT_EQ(probe.use_count(), 1);  // every queued value and frame released
}

// --- across shards --------------------------------------------------------------------

task<> cross_producer(sender<std::uint64_t> tx, std::uint64_t from, std::uint64_t n) {
  for (std::uint64_t i = from; i < from + n; ++i) (void)co_await tx.send(i);
}

task<std::uint64_t> spawn_producer_on(unsigned shard, sender<std::uint64_t> tx, std::uint64_t from,
                                      std::uint64_t n) {
  co_return co_await on_shard(
      shard,
      [](sender<std::uint64_t> tx, std::uint64_t from, std::uint64_t n) {
        spawn_detached(cross_producer(std::move(tx), from, n), "cross producer");
        return this_shard();
      },
      std::move(tx), from, n);
}

#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
constexpr std::uint64_t stress_messages = 200'000;
#else
constexpr std::uint64_t stress_messages = 10'000'000;
#endif

TEST(ChannelCrossShard, StressEveryMessageArrivesExactlyOnce) {
  // Producers on both shards (one of them remote to the receiver), a small buffer so that
  // senders block and are woken across threads all the time.
  runtime rt({.shards = 2});
  auto t = [](std::uint64_t total) -> task<bool> {
    auto [tx, rx] = channel<std::uint64_t>(64, cross_shard);
    const std::uint64_t producers = 4, per = total / producers;
    for (std::uint64_t p = 0; p < producers; ++p)
      EXPECT_EQ(co_await spawn_producer_on(p % 2, tx, p * per, per), p % 2);
    { auto drop = std::move(tx); }
    std::vector<std::uint8_t> seen(per * producers, 0);
    std::vector<std::uint64_t> last(producers, 0);
    std::uint64_t count = 0;
    bool ok = true;
    for (;;) {
      auto r = co_await rx.recv();
      if (!r) break;
      std::uint64_t v = *r;
      if (v >= seen.size() || seen[v]++) ok = false;
      std::uint64_t p = v / per;
      if (v % per != 0 && last[p] + 1 != v) ok = false;  // per-producer FIFO
      last[p] = v;
      ++count;
    }
    co_return ok&& count == per* producers;
  };
  EXPECT_TRUE(rt.block_on(t(stress_messages)));
}

TEST(ChannelCrossShard, ReceiverWokenOnItsOwnShard) {
  runtime rt({.shards = 2});
  auto t = [](int) -> task<bool> {
    auto [tx, rx] = channel<unsigned>(1, cross_shard);
    (void)co_await on_shard(
        1,
        [](sender<unsigned> tx) {
          spawn_detached(
              [](sender<unsigned> tx) -> task<> {
                (void)co_await sleep_for(5ms);
                (void)co_await tx.send(this_shard());
              }(std::move(tx)),
              "remote sender");
        },
        std::move(tx));
    auto r = co_await rx.recv();
    co_return r.value() == 1 && this_shard() == 0;
  };
  EXPECT_TRUE(rt.block_on(t(0)));
}

}  // namespace
}  // namespace weir
