#include <weir/sync/broadcast.hpp>

#include <weir/core/on_shard.hpp>
#include <weir/core/runtime.hpp>
#include <weir/core/spawn.hpp>
#include <weir/core/time.hpp>
#include <weir/core/when_all.hpp>
#include <weir/testing/tasks.hpp>

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

namespace weir {
namespace {

using namespace std::chrono_literals;

task<std::vector<int>> collect(broadcast_receiver<int> rx) {
  std::vector<int> got;
  while (auto v = co_await rx.recv()) got.push_back(*v);
  co_return got;
}

TEST(Broadcast, EveryReceiverGetsEveryMessage) {
  runtime rt({.shards = 1});
  auto t = [](int) -> task<bool> {
    auto [tx, rx] = broadcast<int>(8);
    auto rx2 = tx.subscribe();
    auto a = spawn(collect(std::move(rx)), "a");
    auto b = spawn(collect(std::move(rx2)), "b");
    co_await testing::settle();  // both wait
    for (int i = 0; i < 5; ++i) {
      EXPECT_EQ(tx.send(i).value(), 2u);
      co_await yield_now{};
    }
    { auto gone = std::move(tx); }
    auto ra = (co_await a).value();
    auto rb = (co_await b).value();
    co_return ra == std::vector<int>{0, 1, 2, 3, 4} && rb == ra;
  };
  EXPECT_TRUE(rt.block_on(t(0)));
}

TEST(Broadcast, LaggingReceiverIsToldHowManyItMissed) {
  runtime rt({.shards = 1});
  auto t = [](int) -> task<std::vector<std::string>> {
    auto [tx, rx] = broadcast<int>(4);
    for (int i = 0; i < 10; ++i) (void)tx.send(i);  // capacity 4: 0..5 are gone
    std::vector<std::string> log;
    auto r = co_await rx.recv();
    EXPECT_EQ(r.error(), errc::lagged);
    log.push_back("lagged " + std::to_string(rx.missed()));
    for (int i = 0; i < 4; ++i) log.push_back(std::to_string((co_await rx.recv()).value()));
    EXPECT_EQ(rx.try_recv().error(), errc::empty);
    co_return log;
  };
  EXPECT_EQ(rt.block_on(t(0)), (std::vector<std::string>{"lagged 6", "6", "7", "8", "9"}));
}

TEST(Broadcast, SubscribeSeesOnlyLaterMessages) {
  auto [tx, rx] = broadcast<int>(4);
  (void)tx.send(1);
  auto late = tx.subscribe();
  (void)tx.send(2);
  EXPECT_EQ(late.try_recv().value(), 2);
  EXPECT_EQ(rx.try_recv().value(), 1);
}

TEST(Broadcast, SendWithoutReceiversIsClosed) {
  auto [tx, rx] = broadcast<int>(4);
  { auto gone = std::move(rx); }
  EXPECT_EQ(tx.send(1).error(), errc::closed);
}

TEST(Broadcast, CancelledRecvConsumesNothing) {
  runtime rt({.shards = 1, .manual_clock = true});
  auto t = [](int) -> task<int> {
    auto [tx, rx] = broadcast<int>(4);
    auto r = co_await with_timeout(1s, rx.recv());
    EXPECT_EQ(r.error(), errc::timed_out);
    (void)tx.send(42);
    co_return (co_await rx.recv()).value();
  };
  EXPECT_EQ(rt.block_on(t(0)), 42);
}

TEST(Broadcast, DestroyRuntimeWithWaitingReceivers) {
  auto probe = std::make_shared<int>(0);
  {
    runtime rt({.shards = 2});
    auto t = [](std::shared_ptr<int> probe) -> task<> {
      auto [tx, rx] = broadcast<std::shared_ptr<int>>(2, cross_shard);
      (void)tx.send(probe);
      spawn_detached(
          [](broadcast_receiver<std::shared_ptr<int>> rx,
             broadcast_sender<std::shared_ptr<int>> keep) -> task<> {
            (void)keep;
            (void)co_await rx.recv();
            (void)co_await rx.recv();  // waits forever
          }(std::move(rx), tx),
          "waiting receiver");
      co_return;
    };
    rt.block_on(t(probe));
  }
  EXPECT_EQ(probe.use_count(), 1);
}

TEST(BroadcastCrossShard, ReceiversOnEveryShardGetEverything) {
  runtime rt({.shards = 2});
  auto t = [](int n) -> task<bool> {
    auto [tx, rx] = broadcast<int>(8192, cross_shard);  // > n: nobody can lag
    auto remote_rx = tx.subscribe();
    auto remote = spawn(on_shard(
                            1,
                            [](broadcast_receiver<int> rx) -> task<std::vector<int>> {
                              co_return co_await collect(std::move(rx));
                            },
                            std::move(remote_rx)),
                        "remote collector");
    auto local = spawn(collect(std::move(rx)), "local collector");
    co_await testing::settle();
    for (int i = 0; i < n; ++i) {
      (void)tx.send(i);
      if (i % 64 == 63) co_await yield_now{};  // let the local collector run too
    }
    { auto gone = std::move(tx); }
    auto a = (co_await local).value();
    auto b = (co_await remote).value();
    co_return a.size() == static_cast<std::size_t>(n) && a == b;
  };
  EXPECT_TRUE(rt.block_on(t(5000)));
}

}  // namespace
}  // namespace weir
