#include <weir/core/cancel_scope.hpp>

#include <weir/core/runtime.hpp>
#include <weir/core/spawn.hpp>
#include <weir/core/time.hpp>

#include <gtest/gtest.h>

namespace weir {
namespace {

using namespace std::chrono_literals;

// The scope stops the awaits inside it with its reason, and only those.
task<std::pair<error, error>> sleep_in_scope(cancel_scope* s) {
  co_await s->enter();
  auto inside = co_await sleep_for(10s);
  co_await s->leave();
  auto after = co_await sleep_for(1ms);  // the task's own token: not cancelled
  co_return std::pair{inside.error(), after.error()};
}

task<> canceller(cancel_scope* s) {
  (void)co_await sleep_for(5ms);
  s->cancel(errc::timed_out);
}

TEST(CancelScope, CancelStopsTheAwaitsInsideWithItsReason) {
  runtime rt({.shards = 1, .manual_clock = true});
  auto [inside, after] = rt.block_on([]() -> task<std::pair<error, error>> {
    cancel_scope s;
    spawn_detached(canceller(&s), "canceller");
    co_return co_await sleep_in_scope(&s);
  }());
  EXPECT_EQ(inside, errc::timed_out);
  EXPECT_FALSE(after) << after.message();
}

TEST(CancelScope, CancellingTheTaskReachesInsideTheScope) {
  runtime rt({.shards = 1, .manual_clock = true});
  const error e = rt.block_on([]() -> task<error> {
    auto h = spawn(
        []() -> task<error> {
          cancel_scope s;
          co_await s.enter();
          auto r = co_await sleep_for(10s);
          co_await s.leave();
          co_return r.error();
        }(),
        "scoped sleeper");
    (void)co_await sleep_for(1ms);
    h.cancel();
    auto r = co_await h;
    co_return r ? *r : error(errc::closed);
  }());
  EXPECT_EQ(e, errc::cancelled);
}

TEST(CancelScope, AScopeCancelledBeforeItsAwaitFailsItAtOnce) {
  runtime rt({.shards = 1, .manual_clock = true});
  const error e = rt.block_on([]() -> task<error> {
    cancel_scope s;
    co_await s.enter();
    s.cancel(errc::timed_out);
    auto r = co_await sleep_for(10s);
    co_await s.leave();
    co_return r.error();
  }());
  EXPECT_EQ(e, errc::timed_out);
}

}  // namespace
}  // namespace weir
