// when_all, when_any, with_task_group.
#include <weir/core/task_group.hpp>
#include <weir/core/when_all.hpp>
#include <weir/core/when_any.hpp>

#include <weir/core/runtime.hpp>
#include <weir/core/time.hpp>

#include <gtest/gtest.h>

#include <stdexcept>
#include <vector>

namespace weir {
namespace {

using namespace std::chrono_literals;

task<int> after(clock::duration d, int v) {
  (void)co_await sleep_for(d);
  co_return v;
}

// Records how a sleep ended, to prove losers were cancelled and awaited.
task<int> watched(clock::duration d, int v, std::vector<std::string>* log) {
  auto r = co_await sleep_for(d);
  log->push_back(r ? "done " + std::to_string(v) : "cancelled " + std::to_string(v));
  co_return v;
}

task<> fail_after(clock::duration d) {
  (void)co_await sleep_for(d);
  throw std::runtime_error("child failed");
}

TEST(WhenAll, CollectsAllResultsConcurrently) {
  runtime rt({.shards = 1, .manual_clock = true});
  auto t = [](int) -> task<std::pair<int, clock::duration>> {
    auto t0 = now();
    auto [a, b, c] = co_await when_all(after(3s, 1), after(1s, 2), after(2s, 3));
    co_return std::pair{a * 100 + b * 10 + c, now() - t0};
  };
  auto [v, took] = rt.block_on(t(0));
  EXPECT_EQ(v, 123);
  EXPECT_LT(took, 3s + 5ms);  // concurrent: the longest, not the sum
}

TEST(WhenAll, VectorForm) {
  runtime rt({.shards = 1, .manual_clock = true});
  auto t = [](int n) -> task<int> {
    std::vector<task<int>> ts;
    for (int i = 0; i < n; ++i) ts.push_back(after(std::chrono::milliseconds(n - i), i));
    auto v = co_await when_all(std::move(ts));
    int sum = 0;
    for (std::size_t i = 0; i < v.size(); ++i) sum += v[i] == static_cast<int>(i);
    co_return sum;
  };
  EXPECT_EQ(rt.block_on(t(50)), 50);
}

TEST(WhenAll, FailureCancelsSiblingsThenRethrows) {
  runtime rt({.shards = 1, .manual_clock = true});
  std::vector<std::string> log;
  auto t = [](std::vector<std::string>* log) -> task<bool> {
    try {
      co_await when_all(watched(1h, 1, log), fail_after(1s), watched(2h, 2, log));
    } catch (const std::runtime_error&) {
      co_return true;
    }
    co_return false;
  };
  EXPECT_TRUE(rt.block_on(t(&log)));
  EXPECT_EQ(log, (std::vector<std::string>{"cancelled 1", "cancelled 2"}));
}

TEST(WhenAny, FirstWinsLosersCancelledAndAwaited) {
  runtime rt({.shards = 1, .manual_clock = true});
  std::vector<std::string> log;
  auto t = [](std::vector<std::string>* log) -> task<std::size_t> {
    auto r = co_await when_any(watched(5s, 1, log), watched(1s, 2, log), watched(9s, 3, log));
    EXPECT_EQ(std::get<1>(r), 2);
    co_return r.index();
  };
  EXPECT_EQ(rt.block_on(t(&log)), 1u);
  // The winner finished first; both losers observed cancellation before when_any returned.
  EXPECT_EQ(log, (std::vector<std::string>{"done 2", "cancelled 1", "cancelled 3"}));
}

TEST(WhenAny, ParentCancellationReachesChildren) {
  runtime rt({.shards = 1, .manual_clock = true});
  auto t = [](int) -> task<bool> {
    auto r = co_await with_timeout(1s, when_any(sleep_for(1h), sleep_for(2h)));
    // The first child to finish (with timed_out) wins; the result is its result<void>.
    co_return r.has_value() && !std::get<0>(*r) && std::get<0>(*r).error() == errc::timed_out;
  };
  EXPECT_TRUE(rt.block_on(t(0)));
}

task<> count_after(clock::duration d, int* counter) {
  (void)co_await sleep_for(d);
  ++*counter;
}

TEST(TaskGroup, WaitsForEveryChild) {
  runtime rt({.shards = 1, .manual_clock = true});
  auto t = [](int) -> task<int> {
    int counter = 0;
    int body = co_await with_task_group(
        [](task_group& g, int* c) -> task<int> {
          for (int i = 1; i <= 10; ++i) g.spawn(count_after(std::chrono::seconds(i), c), "child");
          co_return static_cast<int>(g.size());
        },
        &counter);
    co_return body * 100 + counter;
  };
  EXPECT_EQ(rt.block_on(t(0)), 10 * 100 + 10);
}

TEST(TaskGroup, ChildFailureCancelsTheRestAndPropagates) {
  runtime rt({.shards = 1, .manual_clock = true});
  std::vector<std::string> log;
  auto t = [](std::vector<std::string>* log) -> task<std::string> {
    try {
      co_await with_task_group(
          [](task_group& g, std::vector<std::string>* log) -> task<> {
            g.spawn(watched(1h, 1, log));
            g.spawn(fail_after(1s));
            g.spawn(watched(2h, 2, log));
            co_return;
          },
          log);
    } catch (const std::runtime_error& e) {
      co_return e.what();
    }
    co_return "no exception";
  };
  EXPECT_EQ(rt.block_on(t(&log)), "child failed");
  EXPECT_EQ(log.size(), 2u);
  for (auto& l : log) EXPECT_EQ(l.rfind("cancelled", 0), 0u) << l;
}

TEST(TaskGroup, LeavingEarlyByExceptionCancelsChildren) {
  runtime rt({.shards = 1, .manual_clock = true});
  std::vector<std::string> log;
  auto t = [](std::vector<std::string>* log) -> task<clock::duration> {
    auto t0 = now();
    try {
      co_await with_task_group(
          [](task_group& g, std::vector<std::string>* log) -> task<> {
            g.spawn(watched(1h, 1, log));
            throw std::logic_error("body gives up");
            co_return;
          },
          log);
    } catch (const std::logic_error&) {
    }
    co_return now() - t0;
  };
  EXPECT_LT(rt.block_on(t(&log)), 1s);
  EXPECT_EQ(log, (std::vector<std::string>{"cancelled 1"}));
}

TEST(TaskGroup, CallerCancellationReachesChildren) {
  runtime rt({.shards = 1, .manual_clock = true});
  std::vector<std::string> log;
  auto t = [](std::vector<std::string>* log) -> task<> {
    (void)co_await with_timeout(5s, with_task_group(
                                        [](task_group& g, std::vector<std::string>* log) -> task<> {
                                          g.spawn(watched(1h, 1, log));
                                          co_return;
                                        },
                                        log));
  };
  rt.block_on(t(&log));
  EXPECT_EQ(log, (std::vector<std::string>{"cancelled 1"}));
}

}  // namespace
}  // namespace weir
