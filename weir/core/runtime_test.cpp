#include <weir/core/runtime.hpp>

#include <weir/core/spawn.hpp>
#include <weir/core/time.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>

namespace weir {
namespace {

using namespace std::chrono_literals;

task<int> value_after_yield(int v) {
  co_await yield_now{};
  co_return v;
}

task<int> spawn_and_join() {
  auto a = spawn(value_after_yield(1), "a");
  auto b = spawn(value_after_yield(2), "b");
  auto ra = co_await a;
  auto rb = co_await b;
  co_return ra.value() + rb.value();
}

TEST(Runtime, SpawnAndJoin) {
  runtime rt({.shards = 1});
  EXPECT_EQ(rt.block_on(spawn_and_join()), 3);
  const std::string backend = rt.backend_name();
  EXPECT_TRUE(backend == "io_uring" || backend == "epoll") << backend;
}

task<> failing() {
  co_await yield_now{};
  throw std::runtime_error("child failed");
}

task<bool> join_rethrows() {
  auto h = spawn(failing(), "failing");
  try {
    (void)co_await h;
  } catch (const std::runtime_error&) {
    co_return true;
  }
  co_return false;
}

TEST(Runtime, JoinRethrowsTheTasksException) {
  runtime rt({.shards = 1});
  EXPECT_TRUE(rt.block_on(join_rethrows()));
}

task<> sleeper(std::atomic<int>* done) {
  (void)co_await sleep_for(1h);
  done->fetch_add(1);
}

task<int> cancel_joined() {
  std::atomic<int> done{0};
  auto h = spawn(sleeper(&done), "sleeper");
  co_await yield_now{};
  h.cancel();
  auto r = co_await h;
  co_return r ? done.load() : -1;
}

TEST(Runtime, CancelThroughJoinHandle) {
  runtime rt({.shards = 1});
  EXPECT_EQ(rt.block_on(cancel_joined()), 1);  // the sleep ended early, the task finished
}

task<> park_forever(std::shared_ptr<int> keep) {
  (void)keep;
  (void)co_await sleep_for(24h);
}

task<> spawn_parked(std::shared_ptr<int> keep) {
  for (int i = 0; i < 100; ++i) spawn_detached(park_forever(keep), "parked");
  co_return;
}

TEST(Runtime, DestroyWithSuspendedTasksReleasesEverything) {
  auto keep = std::make_shared<int>(0);
  {
    runtime rt({.shards = 2});
    rt.block_on(spawn_parked(keep));
    EXPECT_EQ(keep.use_count(), 101);
  }
  EXPECT_EQ(keep.use_count(), 1);  // every suspended frame was destroyed (ASan: no leak)
}

TEST(Runtime, ManyShardsRunConcurrentBlockOns) {
  runtime rt({.shards = 2});
  std::vector<std::thread> ts;
  std::atomic<int> sum{0};
  for (int i = 0; i < 4; ++i)
    ts.emplace_back([&rt, &sum, i] { sum += rt.block_on(value_after_yield(i)); });
  for (auto& t : ts) t.join();
  EXPECT_EQ(sum.load(), 0 + 1 + 2 + 3);
}

TEST(Runtime, BlockOnFromShardThrows) {
  runtime rt({.shards = 1});
  auto nested = [](runtime* r) -> task<bool> {
    try {
      r->block_on(value_after_yield(1));
    } catch (const std::logic_error&) {
      co_return true;
    }
    co_return false;
  };
  EXPECT_TRUE(rt.block_on(nested(&rt)));
}

TEST(Runtime, OutsideARuntimeIsAClearError) {
  EXPECT_THROW(this_shard(), std::logic_error);
  EXPECT_THROW((void)sleep_for(1s), std::logic_error);
}

}  // namespace
}  // namespace weir
