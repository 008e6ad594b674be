#include <weir/sync/channel.hpp>

#include <weir/core/on_shard.hpp>
#include <weir/core/runtime.hpp>
#include <weir/core/spawn.hpp>
#include <weir/core/time.hpp>
#include <weir/core/when_all.hpp>

#include <gtest/gtest.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <system_error>
#include <type_traits>
#include <utility>
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

// --- a failed send hands its value back (send_result) ------------------------------------

using line = std::unique_ptr<std::string>;  // move-only: a value back is the value, not a copy

line make_line(const char* text) { return std::make_unique<std::string>(text); }

static_assert(std::is_same_v<decltype(std::declval<sender<line>::send_awaiter>().await_resume()),
                             send_result<line>>);
static_assert(std::is_same_v<deadline_result_t<sender<line>::send_awaiter>, send_result<line>>,
              "with_timeout(send) gives the send_result itself, value included");

task<std::vector<std::string>> send_after_close() {
  auto [tx, rx] = channel<line>(4);
  std::vector<std::string> back;
  rx.close();
  send_result<line> r = co_await tx.send(make_line("closed at once"));
  EXPECT_FALSE(r);
  EXPECT_EQ(r.error(), errc::closed);
  back.push_back(*r.take_value());

  // A send waiting for room when the receiver goes.
  auto [tx2, rx2] = channel<line>(1);
  EXPECT_TRUE(tx2.try_send(make_line("fill")));
  auto h = spawn(
      [](sender<line> tx) -> task<std::string> {
        auto r = co_await tx.send(make_line("was waiting"));
        EXPECT_EQ(r.error(), errc::closed);
        co_return r ? std::string() : *r.take_value();
      }(tx2),
      "blocked sender");
  co_await yield_now{};
  { auto gone = std::move(rx2); }
  back.push_back((co_await h).value());
  co_return back;
}

TEST(ChannelSendResult, SendToAClosedChannelHandsTheValueBack) {
  runtime rt({.shards = 1, .manual_clock = true});
  EXPECT_EQ(rt.block_on(send_after_close()),
            (std::vector<std::string>{"closed at once", "was waiting"}));
}

task<std::vector<std::string>> send_timed_out() {
  auto [tx, rx] = channel<line>(1);
  EXPECT_TRUE(tx.try_send(make_line("fill")));
  std::vector<std::string> back;
  send_result<line> r = co_await with_timeout(1s, tx.send(make_line("waited 1s")));
  EXPECT_EQ(r.error(), errc::timed_out);
  back.push_back(*r.take_value());
  // A deadline already past: fails before waiting, the value comes back all the same.
  r = co_await with_deadline(now() - 1s, tx.send(make_line("too late")));
  EXPECT_EQ(r.error(), errc::timed_out);
  back.push_back(*r.take_value());
  EXPECT_EQ(*(co_await rx.recv()).value(), "fill");  // neither was enqueued
  EXPECT_EQ(rx.try_recv().error(), errc::empty);
  co_return back;
}

TEST(ChannelSendResult, TimedOutSendHandsTheValueBack) {
  runtime rt({.shards = 1, .manual_clock = true});
  EXPECT_EQ(rt.block_on(send_timed_out()), (std::vector<std::string>{"waited 1s", "too late"}));
}

task<std::string> send_and_take_back(sender<line> tx, const char* text) {
  auto r = co_await tx.send(make_line(text));
  EXPECT_EQ(r.error(), errc::cancelled);
  co_return r ? std::string() : *r.take_value();
}

task<std::string> send_cancelled() {
  auto [tx, rx] = channel<line>(1);
  EXPECT_TRUE(tx.try_send(make_line("fill")));
  auto h = spawn(send_and_take_back(tx, "cancelled"), "sender");
  co_await yield_now{};
  h.cancel();
  co_return (co_await h).value();
}

TEST(ChannelSendResult, CancelledSendHandsTheValueBack) {
  runtime rt({.shards = 1, .manual_clock = true});
  EXPECT_EQ(rt.block_on(send_cancelled()), "cancelled");
}

TEST(ChannelSendResult, TrySendHandsTheValueBackWhenFullOrClosed) {
  auto [tx, rx] = channel<line>(1);
  EXPECT_TRUE(tx.try_send(make_line("a")));
  send_result<line> full = tx.try_send(make_line("b"));
  EXPECT_EQ(full.error(), errc::full);
  ASSERT_NE(full.unsent(), nullptr);
  EXPECT_EQ(**full.unsent(), "b");  // in place, until taken
  EXPECT_EQ(*full.take_value(), "b");
  EXPECT_EQ(full.unsent(), nullptr);
  EXPECT_THROW((void)full.take_value(), std::logic_error);  // once

  rx.close();
  line c = make_line("c");
  send_result<line> closed = tx.try_send(std::move(c));
  EXPECT_EQ(closed.error(), errc::closed);
  EXPECT_EQ(*closed.take_value(), "c");

  // The copying overload leaves the caller's value alone and hands back the copy.
  auto [tx2, rx2] = channel<std::string>(1);
  const std::string d = "d";
  EXPECT_TRUE(tx2.try_send(d));
  auto r = tx2.try_send(d);
  EXPECT_EQ(r.error(), errc::full);
  EXPECT_EQ(r.take_value(), "d");
  EXPECT_EQ(d, "d");
}

TEST(ChannelSendResult, ReadsLikeResultVoid) {
  auto [tx, rx] = channel<int>(1);
  send_result<int> sent = tx.try_send(1);
  EXPECT_TRUE(sent);
  EXPECT_TRUE(sent.has_value());
  EXPECT_FALSE(sent.error());
  EXPECT_EQ(sent.unsent(), nullptr);  // a sent value belongs to the channel
  EXPECT_NO_THROW(sent.value());
  EXPECT_THROW((void)sent.take_value(), std::logic_error);

  send_result<int> full = tx.try_send(2);
  EXPECT_FALSE(full);
  EXPECT_THROW(full.value(), std::system_error);
  result<void> status = full;  // the outcome alone, for code written against result<void>
  EXPECT_EQ(status.error(), errc::full);
  EXPECT_EQ(full.take_value(), 2);  // still here
}

// A log forwarder: whatever the channel refuses comes back and is kept, never lost.
task<> forward(sender<line> tx, std::vector<std::string>* spilled) {
  for (int i = 0; i < 10; ++i) {
    auto r = co_await tx.send(make_line(std::to_string(i).c_str()));
    if (!r) spilled->push_back(*r.take_value());
  }
}

task<std::vector<std::string>> take_three_then_close(receiver<line> rx) {
  std::vector<std::string> got;
  for (int i = 0; i < 3; ++i) got.push_back(*(co_await rx.recv()).value());
  rx.close();  // refuses further sends; what is buffered stays receivable
  while (auto r = rx.try_recv()) got.push_back(**r);
  co_return got;
}

task<std::vector<std::string>> forward_until_closed() {
  auto [tx, rx] = channel<line>(2);
  std::vector<std::string> spilled;
  auto consumer = spawn(take_three_then_close(std::move(rx)), "consumer");
  co_await forward(std::move(tx), &spilled);
  std::vector<std::string> all = (co_await consumer).value();
  EXPECT_GE(all.size(), 3u);
  EXPECT_FALSE(spilled.empty());
  all.insert(all.end(), spilled.begin(), spilled.end());
  co_return all;
}

TEST(ChannelSendResult, ForwarderKeepsEveryLineTheChannelRefused) {
  // Received (before and after close) plus handed back: every line, once, in order.
  runtime rt({.shards = 1, .manual_clock = true});
  EXPECT_EQ(rt.block_on(forward_until_closed()),
            (std::vector<std::string>{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}));
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
