#include <weir/sync/oneshot.hpp>

#include <weir/core/runtime.hpp>
#include <weir/core/spawn.hpp>
#include <weir/core/time.hpp>

#include <gtest/gtest.h>

#include <string>

namespace weir {
namespace {

using namespace std::chrono_literals;

TEST(Oneshot, ValueArrives) {
  runtime rt({.shards = 1});
  auto t = [](int) -> task<std::string> {
    auto [tx, rx] = oneshot<std::string>();
    spawn_detached(
        [](oneshot_sender<std::string> tx) -> task<> {
          co_await yield_now{};
          EXPECT_TRUE(tx.send("hello"));
          EXPECT_FALSE(tx.send("again"));
        }(std::move(tx)),
        "replier");
    co_return (co_await rx).value();
  };
  EXPECT_EQ(rt.block_on(t(0)), "hello");
}

TEST(Oneshot, DroppedSenderClosesReceiver) {
  runtime rt({.shards = 1});
  auto t = [](int) -> task<std::error_code> {
    auto [tx, rx] = oneshot<int>();
    spawn_detached([](oneshot_sender<int>) -> task<> { co_return; }(std::move(tx)), "forgets");
    co_return (co_await rx).error();
  };
  EXPECT_EQ(rt.block_on(t(0)), errc::closed);
}

TEST(Oneshot, SendToGoneReceiverFails) {
  auto [tx, rx] = oneshot<int>();
  { auto gone = std::move(rx); }
  EXPECT_FALSE(tx.send(1));
}

TEST(Oneshot, CancelWhileWaiting) {
  runtime rt({.shards = 1, .manual_clock = true});
  auto t = [](int) -> task<std::error_code> {
    auto [tx, rx] = oneshot<int>();
    auto r = co_await with_timeout(1s, std::move(rx));
    EXPECT_FALSE(tx.send(3));  // the receiver was moved into the timed-out scope: gone
    co_return r.error();
  };
  EXPECT_EQ(rt.block_on(t(0)), errc::timed_out);
}

}  // namespace
}  // namespace weir
