// A tour of the weir runtime: what the README's first command runs until taskd exists.
// Each step prints what it did; the program exits 0 when every step behaved as expected.
#include <weir/core/blocking.hpp>
#include <weir/core/on_shard.hpp>
#include <weir/core/runtime.hpp>
#include <weir/core/spawn.hpp>
#include <weir/core/task_group.hpp>
#include <weir/core/time.hpp>
#include <weir/core/when_all.hpp>
#include <weir/core/when_any.hpp>
#include <weir/sync/channel.hpp>

#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

using namespace std::chrono_literals;

namespace {

// A producer on another shard fills a bounded channel; backpressure holds it back.
weir::task<> produce(weir::sender<int> tx, int n) {
  for (int i = 1; i <= n; ++i) (void)co_await tx.send(i);
}

weir::task<long> channel_across_shards(unsigned producer_shard) {
  auto [tx, rx] = weir::channel<int>(16, weir::cross_shard);
  co_await weir::on_shard(
      producer_shard,
      [](weir::sender<int> tx) {
        weir::spawn_detached(produce(std::move(tx), 100'000), "producer");
      },
      std::move(tx));
  long sum = 0;
  while (auto v = co_await rx.recv()) sum += *v;
  co_return sum;
}

// Operations that can block report cancellation as an error; passing it on is what makes a
// deadline reach the caller.
weir::task<weir::result<int>> slow_answer() {
  if (auto slept = co_await weir::sleep_for(1s); !slept) co_return weir::unexpected(slept.error());
  co_return 42;
}

weir::task<int> tour() {
  int failures = 0;
  auto check = [&failures](bool ok, const std::string& what) {
    std::printf("  %s %s\n", ok ? "ok  " : "FAIL", what.c_str());
    failures += !ok;
  };
  const unsigned shards = weir::shard_count();
  std::printf("weir tour: %u shard(s), running on shard %u\n", shards, weir::this_shard());

  // 1. Hop to the last shard and back.
  unsigned there = co_await weir::on_shard(shards - 1, [] { return weir::this_shard(); });
  check(there == shards - 1, "on_shard ran on shard " + std::to_string(there));

  // 2. A bounded channel across shards: 100,000 values, sum checked.
  long sum = co_await channel_across_shards(shards - 1);
  check(sum == 100'000L * 100'001 / 2, "channel across shards carried 100000 values");

  // 3. A deadline: the 1 s answer misses a 50 ms timeout.
  auto r = co_await weir::with_timeout(50ms, slow_answer());
  check(!r && r.error() == weir::errc::timed_out, "with_timeout: " + r.error().message());

  // 4. Blocking work leaves the shard and comes back.
  auto here = std::this_thread::get_id();
  auto worker = co_await weir::blocking([] { return std::this_thread::get_id(); });
  check(worker.value() != here && std::this_thread::get_id() == here,
        "blocking() ran on a pool thread and resumed on the shard");

  // 5. Race two tasks: the loser is cancelled and awaited.
  auto race = co_await weir::when_any(slow_answer(), weir::sleep_for(10ms));
  check(race.index() == 1, "when_any: the 10 ms sleep beat the 1 s answer");

  // 6. Structured concurrency: the group waits for its children.
  int done = co_await weir::with_task_group(
      [](weir::task_group& g, int n) -> weir::task<int> {
        for (int i = 0; i < n; ++i)
          g.spawn(
              [](int ms) -> weir::task<> {
                (void)co_await weir::sleep_for(std::chrono::milliseconds(ms));
              }(i),
              "child");
        co_return n;
      },
      8);
  check(done == 8, "task_group: 8 children finished before the scope returned");

  std::printf("weir tour: %s\n", failures ? "FAILED" : "all steps ok");
  co_return failures;
}

}  // namespace

int main() {
  weir::runtime rt;  // one shard per CPU
  return rt.block_on(tour()) == 0 ? 0 : 1;
}
