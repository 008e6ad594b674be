// bench_primitives: runtime primitives against tokio's (bench/rust runs the same shapes).
//   bench_primitives [NAME [ITERS]]   prints "name ns_per_op allocs_per_op" per benchmark
// Shapes (one op each):
//   spawn_join             spawn an empty task and await its join handle
//   pingpong_local         round trip through two capacity-1 channels, both tasks on shard 0
//   pingpong_cross         the same with the second task on shard 1 (cross_shard channels)
//   with_timeout_ready     arm and cancel a deadline: co_await with_timeout(10s, ready op)
//   timer_insert_cancel    the timing wheel alone: insert + cancel of a 10 s timer
#include <weir/core/on_shard.hpp>
#include <weir/core/runtime.hpp>
#include <weir/core/spawn.hpp>
#include <weir/core/time.hpp>
#include <weir/sync/channel.hpp>
#include "../common/count_allocs.hpp"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>

namespace {

using namespace std::chrono_literals;
using clk = std::chrono::steady_clock;

struct outcome {
  double ns_per_op;
  double allocs_per_op;
};

template <class F>
weir::task<outcome> measure(std::uint64_t iters, F body) {
  co_await body(iters / 10 + 1);  // warm-up: frame pools, run queues
  const auto a0 = bench::heap_allocations.load();
  const auto t0 = clk::now();
  co_await body(iters);
  const auto t1 = clk::now();
  co_return outcome{std::chrono::duration<double, std::nano>(t1 - t0).count() / iters,
                    static_cast<double>(bench::heap_allocations.load() - a0) / iters};
}

weir::task<> empty() { co_return; }

weir::task<> spawn_join(std::uint64_t n) {
  for (std::uint64_t i = 0; i < n; ++i) (void)co_await weir::spawn(empty(), "empty");
}

weir::task<> pong(weir::receiver<std::uint64_t> rx, weir::sender<std::uint64_t> tx) {
  while (auto v = co_await rx.recv())
    if (!co_await tx.send(*v + 1)) break;
}

weir::task<> pingpong(std::uint64_t n, unsigned pong_shard) {
  const auto mode =
      pong_shard == weir::this_shard() ? weir::channel_mode::local : weir::cross_shard;
  auto [ping_tx, ping_rx] = weir::channel<std::uint64_t>(1, mode);
  auto [pong_tx, pong_rx] = weir::channel<std::uint64_t>(1, mode);
  co_await weir::on_shard(
      pong_shard,
      [](weir::receiver<std::uint64_t> rx, weir::sender<std::uint64_t> tx) {
        weir::spawn_detached(pong(std::move(rx), std::move(tx)), "pong");
      },
      std::move(ping_rx), std::move(pong_tx));
  std::uint64_t v = 0;
  for (std::uint64_t i = 0; i < n; ++i) {
    (void)co_await ping_tx.send(v);
    v = (co_await pong_rx.recv()).value();
  }
  if (v != n) std::abort();
}

weir::task<int> ready() { co_return 1; }

weir::task<> with_timeout_ready(std::uint64_t n) {
  for (std::uint64_t i = 0; i < n; ++i)
    if (!co_await weir::with_timeout(10s, ready())) std::abort();
}

weir::task<> timer_insert_cancel(std::uint64_t n) {
  auto& sh = *weir::detail::tl_shard;
  weir::detail::timer_entry e;
  e.fire = [](weir::detail::timer_entry*) { std::abort(); };
  for (std::uint64_t i = 0; i < n; ++i) {
    sh.add_timer(&e, sh.now() + 10s);
    sh.cancel_timer(&e);
  }
  co_return;
}

struct bench {
  const char* name;
  std::uint64_t default_iters;
  weir::task<outcome> (*run)(std::uint64_t);
};

const bench benches[] = {
    {"spawn_join", 2'000'000, [](std::uint64_t n) { return measure(n, spawn_join); }},
    {"pingpong_local", 2'000'000,
     [](std::uint64_t n) { return measure(n, [](std::uint64_t k) { return pingpong(k, 0); }); }},
    {"pingpong_cross", 200'000,
     [](std::uint64_t n) { return measure(n, [](std::uint64_t k) { return pingpong(k, 1); }); }},
    {"with_timeout_ready", 2'000'000,
     [](std::uint64_t n) { return measure(n, with_timeout_ready); }},
    {"timer_insert_cancel", 10'000'000,
     [](std::uint64_t n) { return measure(n, timer_insert_cancel); }},
};

}  // namespace

int main(int argc, char** argv) {
  const char* only = argc >= 2 ? argv[1] : nullptr;
  const std::uint64_t iters = argc >= 3 ? std::strtoull(argv[2], nullptr, 10) : 0;
  weir::runtime rt({.shards = 2});
  for (const auto& b : benches) {
    if (only && std::strcmp(only, b.name) != 0 && std::strcmp(only, "all") != 0) continue;
    outcome best{1e300, 0};
    for (int rep = 0; rep < (iters ? 1 : 5); ++rep) {
      outcome o = rt.block_on(b.run(iters ? iters : b.default_iters));
      if (o.ns_per_op < best.ns_per_op) best = o;
    }
    std::printf("%s %.2f %.3f\n", b.name, best.ns_per_op, best.allocs_per_op);
  }
  return 0;
}
