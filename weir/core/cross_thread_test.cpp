// on_shard, blocking, completion: everything that crosses threads (runs under TSan too).
#include <weir/core/blocking.hpp>
#include <weir/core/c_callback.hpp>
#include <weir/core/completion.hpp>
#include <weir/core/on_shard.hpp>

#include <weir/core/runtime.hpp>
#include <weir/core/spawn.hpp>
#include <weir/core/time.hpp>
#include <weir/core/when_all.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

namespace weir {
namespace {

using namespace std::chrono_literals;

task<unsigned> where_am_i() { co_return this_shard(); }

TEST(OnShard, RunsOnTheTargetAndReturns) {
  runtime rt({.shards = 2});
  auto t = [](int) -> task<std::pair<unsigned, unsigned>> {
    unsigned remote = co_await on_shard(1, [] { return this_shard(); });
    unsigned via_task = co_await on_shard(1, where_am_i);
    EXPECT_EQ(this_shard(), 0u);  // resumed at home
    co_return std::pair{remote, via_task};
  };
  auto [a, b] = rt.block_on(t(0));
  EXPECT_EQ(a, 1u);
  EXPECT_EQ(b, 1u);
}

TEST(OnShard, ExceptionsComeBack) {
  runtime rt({.shards = 2});
  auto t = [](int) -> task<bool> {
    try {
      co_await on_shard(1, [] { throw std::runtime_error("remote"); });
    } catch (const std::runtime_error&) {
      co_return true;
    }
    co_return false;
  };
  EXPECT_TRUE(rt.block_on(t(0)));
}

task<long> hammer(unsigned target, int n) {
  long sum = 0;
  for (int i = 0; i < n; ++i)
    sum += co_await on_shard(
        target, [](int x) { return x; }, i);
  co_return sum;
}

TEST(OnShard, FullMailboxMakesSendersWaitNotGrow) {
  // Capacity 2 and 64 concurrent callers: most find the mailbox full and wait for room.
  runtime rt({.shards = 2, .mailbox_capacity = 2});
  auto t = [](int callers) -> task<long> {
    std::vector<task<long>> ts;
    for (int c = 0; c < callers; ++c) ts.push_back(hammer(1, 200));
    auto sums = co_await when_all(std::move(ts));
    long total = 0;
    for (long s : sums) total += s;
    co_return total;
  };
  EXPECT_EQ(rt.block_on(t(64)), 64L * (199 * 200 / 2));
  EXPECT_GT(rt.stats(0).mailbox_full_waits, 0u);
}

TEST(Blocking, RunsOffShardAndResumesHome) {
  runtime rt({.shards = 2});
  auto t = [](int) -> task<bool> {
    auto shard_thread = std::this_thread::get_id();
    auto r = co_await blocking([] { return std::this_thread::get_id(); });
    co_return r.value() != shard_thread&& std::this_thread::get_id() == shard_thread;
  };
  EXPECT_TRUE(rt.block_on(t(0)));
}

TEST(Blocking, PoolIsBoundedAndQueuedJobsCancel) {
  runtime rt({.shards = 1, .blocking_threads = 1});
  auto t = [](int) -> task<std::error_code> {
    std::atomic<bool> release{false};
    auto busy = spawn(
        [](std::atomic<bool>* rel) -> task<> {
          (void)co_await blocking([rel] {
            while (!rel->load()) std::this_thread::sleep_for(1ms);
          });
        }(&release),
        "busy");
    co_await yield_now{};
    // The only pool thread is busy: this job queues, then times out while still queued.
    auto r = co_await with_timeout(20ms, blocking([] { return 1; }));
    release = true;
    (void)co_await busy;
    co_return r.error().code();
  };
  EXPECT_EQ(rt.block_on(t(0)), errc::timed_out);
}

TEST(Completion, FiredFromAForeignThread) {
  runtime rt({.shards = 1});
  auto t = [](int) -> task<int> {
    auto [source, done] = make_completion<int>();
    void* token = std::move(source).release();
    std::thread th([token] {
      std::this_thread::sleep_for(5ms);
      completion_source<int>::adopt(token).fire(42);
    });
    auto r = co_await done;
    th.join();
    co_return r.value();
  };
  EXPECT_EQ(rt.block_on(t(0)), 42);
}

TEST(Completion, SourceDestroyedWithoutFiringIsALostWakeup) {
  runtime rt({.shards = 1, .lost_wakeup = lost_wakeup_policy::fail});
  auto t = [](int) -> task<std::error_code> {
    auto [source, done] = make_completion<int>();
    std::thread th([s = std::move(source)]() mutable {
      std::this_thread::sleep_for(5ms);
      auto dropped = std::move(s);  // the "C library" forgets to call back
    });
    auto r = co_await done;
    th.join();
    co_return r.error();
  };
  EXPECT_EQ(rt.block_on(t(0)), errc::lost_wakeup);
}

TEST(Completion, SecondFireIsRefusedAndCounted) {
  auto [source, done] = make_completion<int>();
  auto before = completion_stats().second_fires;
  EXPECT_TRUE(source.fire(1));
  EXPECT_FALSE(source.fire(2));
  EXPECT_EQ(completion_stats().second_fires, before + 1);
}

TEST(Completion, CancelWhileWaitingThenLateFireIsHarmless) {
  runtime rt({.shards = 1});
  std::thread th;
  auto t = [](std::thread* th) -> task<std::error_code> {
    auto [source, done] = make_completion<int>();
    *th = std::thread([s = std::move(source)]() mutable {
      std::this_thread::sleep_for(30ms);
      s.fire(7);  // nobody waits any more: the value is dropped with the state
    });
    auto r = co_await with_timeout(5ms, std::move(done));
    co_return r.error();
  };
  EXPECT_EQ(rt.block_on(t(&th)), errc::timed_out);
  th.join();
}

// Tokens registered on a shard while two foreign threads fire and release others, as
// librdkafka's report thread does: every value arrives once, the free list (lock-free) never
// hands one slot out twice.
TEST(CCallback, TokensChurnAcrossThreads) {
  runtime rt({.shards = 1});
  std::mutex mu;
  std::vector<void*> pending;  // tokens for the library threads
  std::atomic<bool> done{false};
  auto library = [&] {
    while (!done.load()) {
      void* t = nullptr;
      {
        std::lock_guard lk(mu);
        if (!pending.empty()) {
          t = pending.back();
          pending.pop_back();
        }
      }
      if (!t) {
        std::this_thread::yield();
        continue;
      }
      EXPECT_TRUE(c_callback_fire<int>(t, 7));
      c_callback_release(t);
    }
  };
  std::thread a(library), b(library);
  const int sum = rt.block_on([](std::mutex& mu, std::vector<void*>& pending) -> task<int> {
    int total = 0;
    for (int round = 0; round < 200; ++round) {
      std::vector<completion<int>> waits;
      waits.reserve(50);
      for (int i = 0; i < 50; ++i) {
        auto [token, c] = make_c_callback<int>("churn");
        waits.push_back(std::move(c));
        std::lock_guard lk(mu);
        pending.push_back(token);
      }
      for (auto& w : waits) total += (co_await w).value_or(-1000);
    }
    co_return total;
  }(mu, pending));
  done = true;
  a.join();
  b.join();
  EXPECT_EQ(sum, 200 * 50 * 7);
}

}  // namespace
}  // namespace weir
