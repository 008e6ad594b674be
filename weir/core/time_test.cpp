#include <weir/core/time.hpp>

#include <weir/core/runtime.hpp>
#include <weir/core/spawn.hpp>

#include <gtest/gtest.h>

namespace weir {
namespace {

using namespace std::chrono_literals;

task<clock::duration> timed_sleep(clock::duration d) {
  auto t0 = now();
  auto r = co_await sleep_for(d);
  EXPECT_TRUE(r);
  co_return now() - t0;
}

TEST(Time, ManualClockJumpsToTheNextDeadline) {
  runtime rt({.shards = 1, .manual_clock = true});
  auto took = rt.block_on(timed_sleep(10s));
  EXPECT_GE(took, 10s);
  EXPECT_LT(took, 10s + 2ms);
}

TEST(Time, RealClockSleepsAtLeastTheDuration) {
  runtime rt({.shards = 1});
  auto took = rt.block_on(timed_sleep(20ms));
  EXPECT_GE(took, 20ms);
}

task<result<int>> slow_value(clock::duration d, int v) {
  WEIR_CO_TRY(co_await sleep_for(d));
  co_return v;
}

task<std::error_code> deadline_error(clock::duration limit, clock::duration work) {
  auto r = co_await with_timeout(limit, slow_value(work, 1));
  co_return r.error().code();
}

TEST(Time, DeadlineCancelsWithTimedOut) {
  runtime rt({.shards = 1, .manual_clock = true});
  EXPECT_EQ(rt.block_on(deadline_error(5s, 10s)), errc::timed_out);
  EXPECT_EQ(rt.block_on(deadline_error(10s, 5s)), std::error_code());
}

task<clock::duration> nested_takes_nearest() {
  auto t0 = now();
  // Inner is later than outer: the outer fires first and its reason reaches the inner wait.
  auto r = co_await with_timeout(3s, with_timeout(60s, sleep_for(1h)));
  EXPECT_FALSE(r);
  EXPECT_EQ(r.error(), errc::timed_out);
  auto r2 = co_await with_timeout(60s, with_timeout(2s, sleep_for(1h)));
  EXPECT_EQ(r2.error(), errc::timed_out);
  co_return now() - t0;
}

TEST(Time, NestedDeadlinesTakeTheNearest) {
  runtime rt({.shards = 1, .manual_clock = true});
  auto took = rt.block_on(nested_takes_nearest());
  EXPECT_GE(took, 5s);
  EXPECT_LT(took, 5s + 5ms);
}

task<int> deadline_race() {
  // The value is ready at exactly the deadline: one outcome, either, never both or neither.
  int values = 0, timeouts = 0;
  for (int i = 0; i < 200; ++i) {
    auto r = co_await with_timeout(std::chrono::milliseconds(i % 3),
                                   slow_value(std::chrono::milliseconds(i % 3), 7));
    if (r) {
      EXPECT_EQ(*r, 7);
      ++values;
    } else {
      EXPECT_EQ(r.error(), errc::timed_out);
      ++timeouts;
    }
  }
  co_return values + timeouts;
}

TEST(Time, DeadlineRaceHasExactlyOneOutcome) {
  runtime rt({.shards = 1, .manual_clock = true});
  EXPECT_EQ(rt.block_on(deadline_race()), 200);
}

task<bool> past_deadline_fails_first_wait() {
  auto r = co_await with_deadline(now() - 1s, sleep_for(1s));
  co_return !r && r.error() == errc::timed_out;
}

TEST(Time, PastDeadlineFailsTheFirstBlockingAwait) {
  runtime rt({.shards = 1, .manual_clock = true});
  EXPECT_TRUE(rt.block_on(past_deadline_fails_first_wait()));
}

}  // namespace
}  // namespace weir
