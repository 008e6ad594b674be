#include <weir/core/task.hpp>

#include <weir/core/frame_allocator.hpp>
#include <weir/core/runtime.hpp>

#include <gtest/gtest.h>

#include <memory>
#include <stdexcept>
#include <string>

namespace weir {
namespace {

task<int> leaf(int x) { co_return x * 2; }
task<int> twice(int x) { co_return co_await leaf(x) + co_await leaf(x + 1); }
task<> thrower() {
  throw std::runtime_error("boom");
  co_return;
}
task<std::string> catcher() {
  try {
    co_await thrower();
  } catch (const std::runtime_error& e) {
    co_return std::string("caught ") + e.what();
  }
  co_return "not thrown";
}

// Each level awaits the next: 1,000,000 frames deep. Symmetric transfer means neither the
// descent nor the return uses stack per level (the default 8 MiB stack would overflow).
task<long> deep(long n) {
  if (n == 0) co_return 0;
  co_return 1 + co_await deep(n - 1);
}

task<long> many_sequential(long n) {
  long sum = 0;
  for (long i = 0; i < n; ++i) sum += co_await leaf(1);
  co_return sum;
}

TEST(Task, ValuesFlowBack) {
  runtime rt({.shards = 1});
  EXPECT_EQ(rt.block_on(twice(3)), 6 + 8);
}

TEST(Task, ExceptionsCrossAwaits) {
  runtime rt({.shards = 1});
  EXPECT_EQ(rt.block_on(catcher()), "caught boom");
  EXPECT_THROW(rt.block_on(thrower()), std::runtime_error);
}

constexpr long deep_chain = 1'000'000;

TEST(Task, MillionDeepChainUsesNoStack) {
  runtime rt({.shards = 1});
  EXPECT_EQ(rt.block_on(deep(deep_chain)), deep_chain);
  EXPECT_EQ(rt.block_on(many_sequential(1'000'000)), 2'000'000);
}

TEST(Task, LazyAndMoveOnly) {
  bool started = false;
  auto make = [](bool* flag) -> task<int> {
    *flag = true;
    co_return 1;
  };
  {
    task<int> t = make(&started);
    task<int> u = std::move(t);
    EXPECT_FALSE(t.valid());
    EXPECT_TRUE(u.valid());
  }  // destroyed without running
  EXPECT_FALSE(started);
  static_assert(!std::is_copy_constructible_v<task<int>>);
}

task<frame_allocator_stats_t> warm_then_measure() {
  for (int i = 0; i < 100; ++i) (void)co_await twice(i);
  auto before = frame_allocator_stats();
  long sum = 0;
  for (int i = 0; i < 10'000; ++i) sum += co_await twice(i);
  auto after = frame_allocator_stats();
  EXPECT_GT(sum, 0);
  co_return frame_allocator_stats_t{after.heap_allocations - before.heap_allocations, 0,
                                    after.recycled - before.recycled};
}

TEST(Task, FramesAreRecycledOnceWarm) {
  runtime rt({.shards = 1});
  auto d = rt.block_on(warm_then_measure());
  EXPECT_EQ(d.heap_allocations, 0u);
  EXPECT_EQ(d.recycled, 30'000u);  // three frames per twice(): twice, leaf, leaf
}

}  // namespace
}  // namespace weir
