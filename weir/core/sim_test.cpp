// The sim backend (weir/core/detail/sim.hpp): every shard on one thread, in an order drawn from
// a seed, on virtual time. Each scenario is swept over 200 seeds (ctest label `sim`); a failure
// prints the WEIR_SIM_SEED that replays it.
#include <weir/core/blocking.hpp>
#include <weir/core/on_shard.hpp>
#include <weir/core/runtime.hpp>
#include <weir/core/spawn.hpp>
#include <weir/core/time.hpp>
#include <weir/core/when_all.hpp>
#include <weir/sync/channel.hpp>
#include <weir/sync/mutex.hpp>
#include <weir/sync/semaphore.hpp>
#include <weir/sync/wait_group.hpp>
#include <weir/testing/sim.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <set>
#include <vector>

namespace weir {
namespace {

using namespace std::chrono_literals;
using testing::sim_options;
using testing::sim_sweep;

constexpr std::uint64_t kSeeds = 200;

// A small deterministic generator for the scenarios' own choices (sleep lengths, targets):
// seeded from the sim seed, so the scenario too is a function of the seed.
struct lcg {
  std::uint64_t s;
  unsigned next(unsigned n) {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    return static_cast<unsigned>((s >> 33) % n);
  }
};

// Producers on every shard send to one cross-shard channel consumed on shard 0; each producer
// hops to a random shard with on_shard between sends and sleeps a random few ms. Small buffer
// and mailboxes, so senders and callers wait for room all the time.
task<std::uint64_t> fan_in(std::uint64_t seed, unsigned producers, unsigned per) {
  auto [tx, rx] = channel<std::uint64_t>(2, cross_shard);
  wait_group started;
  for (unsigned p = 0; p < producers; ++p) {
    co_await on_shard(
        p % shard_count(),
        [](sender<std::uint64_t> tx, unsigned p, unsigned per, std::uint64_t seed) {
          spawn_detached(
              [](sender<std::uint64_t> tx, unsigned p, unsigned per, std::uint64_t seed) -> task<> {
                lcg r{seed * 1000 + p};
                for (unsigned i = 0; i < per; ++i) {
                  if (r.next(3) == 0)
                    (void)co_await sleep_for(std::chrono::milliseconds(r.next(5)));
                  const unsigned hop = r.next(shard_count());
                  const unsigned where = co_await on_shard(hop, [] { return this_shard(); });
                  EXPECT_EQ(where, hop);
                  auto s = co_await tx.send(std::uint64_t{p} * per + i);
                  EXPECT_TRUE(s);
                }
              }(std::move(tx), p, per, seed),
              "producer");
        },
        tx, p, per, seed);
  }
  { auto drop = std::move(tx); }
  std::vector<int> seen(std::size_t{producers} * per, 0);
  std::vector<long> last(producers, -1);
  std::uint64_t sum = 0;
  for (;;) {
    auto r = co_await rx.recv();
    if (!r) break;
    const std::uint64_t v = *r;
    EXPECT_LT(v, seen.size());
    if (v >= seen.size()) continue;
    EXPECT_EQ(seen[v]++, 0) << "delivered twice: " << v;
    const unsigned p = static_cast<unsigned>(v / per);
    EXPECT_EQ(last[p] + 1, static_cast<long>(v % per)) << "out of order for producer " << p;
    last[p] = static_cast<long>(v % per);
    sum += v;
    EXPECT_EQ(this_shard(), 0u);
  }
  for (int s : seen) EXPECT_EQ(s, 1);
  co_return sum;
}

TEST(Sim, CrossShardFanInDeliversEverythingOnceInOrder) {
  sim_sweep(kSeeds, [](std::uint64_t seed) {
    runtime rt([&] {
      auto o = sim_options(seed, 4);
      o.mailbox_capacity = 2;
      return o;
    }());
    const unsigned producers = 6, per = 40;
    const std::uint64_t n = std::uint64_t{producers} * per;
    EXPECT_EQ(rt.block_on(fan_in(seed, producers, per)), n * (n - 1) / 2);
    EXPECT_STREQ(rt.backend_name(), "sim");
  });
}

// The same seed twice gives the same trace (every scheduling decision, task ids, times); other
// seeds give other interleavings.
TEST(Sim, ASeedReplaysExactly) {
  std::set<std::uint64_t> hashes;
  sim_sweep(kSeeds, [&](std::uint64_t seed) {
    std::uint64_t h[2];
    for (int i = 0; i < 2; ++i) {
      runtime rt(sim_options(seed, 3));
      EXPECT_EQ(rt.sim_seed(), seed);
      (void)rt.block_on(fan_in(seed, 4, 10));
      h[i] = rt.sim_trace_hash();
    }
    EXPECT_EQ(h[0], h[1]) << "seed " << seed << " did not replay";
    hashes.insert(h[0]);
  });
  if (!std::getenv("WEIR_SIM_SEED")) {
    EXPECT_GT(hashes.size(), kSeeds * 9 / 10);
  }
}

// WEIR_SIM_SEED picks the seed when the options give none.
TEST(Sim, TheEnvironmentChoosesTheSeed) {
  const char* old = std::getenv("WEIR_SIM_SEED");
  const std::string saved = old ? old : "";
  setenv("WEIR_SIM_SEED", "4242", 1);
  {
    runtime rt(sim_options(0, 2));
    EXPECT_EQ(rt.sim_seed(), 4242u);
  }
  if (old)
    setenv("WEIR_SIM_SEED", saved.c_str(), 1);
  else
    unsetenv("WEIR_SIM_SEED");
  runtime_options bad = sim_options(0, 1);
  setenv("WEIR_SIM_SEED", "12x", 1);
  EXPECT_THROW(runtime{bad}, std::invalid_argument);
  if (old)
    setenv("WEIR_SIM_SEED", saved.c_str(), 1);
  else
    unsetenv("WEIR_SIM_SEED");
}

// Virtual time: hours pass in no wall time; every sleeper on every shard wakes at or after its
// deadline, never before, and in deadline order per shard.
task<> sleepers(std::uint64_t seed) {
  const auto t0 = now();
  lcg r{seed};
  std::vector<task<std::pair<clock::duration, clock::duration>>> ts;
  for (int i = 0; i < 24; ++i) {
    const auto d = std::chrono::minutes(1 + r.next(180)) + std::chrono::milliseconds(r.next(1000));
    ts.push_back(on_shard(
        static_cast<unsigned>(i) % shard_count(),
        [](clock::duration d,
           clock::time_point t0) -> task<std::pair<clock::duration, clock::duration>> {
          (void)co_await sleep_for(d);
          co_return std::pair{d, now() - t0};
        },
        clock::duration(d), t0));
  }
  auto got = co_await when_all(std::move(ts));
  for (const auto& [want, woke] : got) {
    EXPECT_GE(woke, want);
    EXPECT_LT(woke, want + 20ms);  // the 1 ms tick and a few stalls of a shard, not drift
  }
  EXPECT_GE(now() - t0, 1min);
}

TEST(Sim, VirtualTimeJumpsToDeadlinesOnEveryShard) {
  const auto wall0 = std::chrono::steady_clock::now();
  sim_sweep(kSeeds, [](std::uint64_t seed) {
    runtime rt(sim_options(seed, 4));
    rt.block_on(sleepers(seed));
  });
  // 200 runs of up to three virtual hours each, in a few seconds of wall time at most.
  EXPECT_LT(std::chrono::steady_clock::now() - wall0, 60s);
}

// The wall clock reads the same instant at the start of every run and moves with virtual time;
// a jump (back an hour, forward a day) moves it and nothing else: sleepers and deadlines, on the
// steady clock, keep their times. (The HTTP Date field follows it: weir/http/sim_test.cpp.)
task<> wall_clock_jumps(std::uint64_t seed) {
  using sys = std::chrono::system_clock;
  const auto start = sys::time_point(std::chrono::seconds(1767225600));  // 2026-01-01T00:00:00Z
  EXPECT_GE(wall_now(), start);
  EXPECT_LT(wall_now() - start, 10ms);  // a shard's stall or two before the first run
  const auto t0 = now();
  auto timer = spawn(
      [](clock::time_point t0) -> task<clock::duration> {
        (void)co_await sleep_for(10s);
        co_return now() - t0;
      }(t0),
      "timer");
  lcg r{seed};
  (void)co_await sleep_for(std::chrono::milliseconds(1 + r.next(3000)));
  const auto w1 = wall_now();
  const auto s1 = now();
  EXPECT_TRUE(sim_jump_wall_clock(-1h));
  EXPECT_EQ(wall_now(), w1 - 1h);
  EXPECT_EQ(wall_time(), sys::to_time_t(w1 - 1h));
  EXPECT_EQ(now(), s1);
  auto timed = co_await with_timeout(2s, sleep_for(1h));
  EXPECT_EQ(timed.error(), errc::timed_out);
  EXPECT_GE(now() - s1, 2s);
  EXPECT_LT(now() - s1, 2s + 20ms);
  EXPECT_EQ(wall_now() - (w1 - 1h), now() - s1);  // it moves on with virtual time
  EXPECT_TRUE(sim_jump_wall_clock(24h));
  const auto slept = co_await timer;
  EXPECT_GE(slept.value(), 10s);
  EXPECT_LT(slept.value(), 10s + 20ms);
  EXPECT_GT(wall_now(), start + 23h);
}

TEST(Sim, TheWallClockJumpsAndTimersDoNot) {
  sim_sweep(kSeeds, [](std::uint64_t seed) {
    runtime rt(sim_options(seed, 2));
    rt.block_on(wall_clock_jumps(seed));
  });
  // On a real backend: the system's clock, and no jumping it.
  runtime rt({.shards = 1});
  rt.block_on([]() -> task<> {
    EXPECT_FALSE(sim_jump_wall_clock(1h));
    const auto d = wall_now() - std::chrono::system_clock::now();
    EXPECT_LT(d < d.zero() ? -d : d, 1s);
    co_return;
  }());
}

// weir::blocking jobs complete at simulated times, 0-2 ms after submission, out of order; one
// still queued can be cancelled.
task<> blocking_jobs(std::uint64_t seed) {
  lcg r{seed};
  std::vector<task<int>> ts;
  const auto t0 = now();
  for (int i = 0; i < 16; ++i)
    ts.push_back([](int i) -> task<int> {
      auto job = blocking([](int v) { return v * v; }, i);
      auto v = co_await std::move(job);
      co_return v ? *v : -1;
    }(i));
  auto got = co_await when_all(std::move(ts));
  for (int i = 0; i < 16; ++i) EXPECT_EQ(got[static_cast<std::size_t>(i)], i * i);
  EXPECT_LE(now() - t0, 2ms + 10ms);  // 0-2 ms each, in parallel; a stalled shard later
  // A job whose simulated completion lies after a 0 ms deadline is cancelled while queued.
  int cancelled = 0;
  for (int i = 0; i < 20; ++i) {
    auto job = blocking([] { return 1; });
    auto v = co_await with_timeout(std::chrono::microseconds(50 + r.next(100)), std::move(job));
    if (!v) {
      EXPECT_EQ(v.error(), errc::timed_out);
      ++cancelled;
    }
  }
  EXPECT_GT(cancelled, 0);
}

TEST(Sim, BlockingJobsCompleteAtSimulatedTimes) {
  sim_sweep(kSeeds, [](std::uint64_t seed) {
    runtime rt(sim_options(seed, 2));
    rt.block_on(blocking_jobs(seed));
  });
}

// A mutex and a semaphore shared by tasks that sleep and yield at random points: mutual
// exclusion holds, the semaphore's bound holds, every task finishes.
task<> critical_sections(std::uint64_t seed) {
  mutex mu;
  semaphore sem(3);
  int inside = 0, in_sem = 0, max_sem = 0, done = 0;
  wait_group wg;
  for (int t = 0; t < 12; ++t) {
    wg.add(1);
    spawn_detached(
        [](mutex& mu, semaphore& sem, int& inside, int& in_sem, int& max_sem, int& done,
           wait_group& wg, std::uint64_t seed) -> task<> {
          lcg r{seed};
          for (int i = 0; i < 10; ++i) {
            {
              auto g = co_await mu.lock();
              EXPECT_TRUE(g);
              EXPECT_EQ(++inside, 1);
              if (r.next(2)) (void)co_await sleep_for(std::chrono::microseconds(r.next(2000)));
              --inside;
            }
            auto p = co_await sem.acquire();
            EXPECT_TRUE(p);
            max_sem = std::max(max_sem, ++in_sem);
            if (r.next(2)) (void)co_await sleep_for(std::chrono::microseconds(r.next(3000)));
            --in_sem;
          }
          ++done;
          wg.done();
        }(mu, sem, inside, in_sem, max_sem, done, wg, seed * 31 + t),
        "worker");
  }
  (void)co_await wg.wait();
  EXPECT_EQ(done, 12);
  EXPECT_LE(max_sem, 3);
  EXPECT_GE(max_sem, 2);
}

TEST(Sim, MutexAndSemaphoreHoldTheirInvariants) {
  sim_sweep(kSeeds, [](std::uint64_t seed) {
    runtime rt(sim_options(seed, 1));
    rt.block_on(critical_sections(seed));
  });
}

}  // namespace
}  // namespace weir
