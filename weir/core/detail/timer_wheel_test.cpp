#include <weir/core/detail/timer_wheel.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

namespace weir::detail {
namespace {

struct probe : timer_entry {
  std::uint64_t fired_at = 0;
  bool fired = false;
};

std::vector<probe*> drain(timer_wheel& w, std::uint64_t now) {
  std::vector<probe*> out;
  while (auto* e = w.poll(now)) {
    auto* p = static_cast<probe*>(e);
    p->fired = true;
    p->fired_at = now;
    out.push_back(p);
  }
  return out;
}

TEST(TimerWheel, FiresAtTheRightTickAcrossLevels) {
  timer_wheel w;
  // Deadlines on every level, including one clamped beyond the wheel's range.
  std::vector<std::uint64_t> ticks = {1,
                                      2,
                                      63,
                                      64,
                                      65,
                                      4095,
                                      4096,
                                      4097,
                                      300'000,
                                      17'000'000,
                                      1'100'000'000,
                                      (std::uint64_t{1} << 36) + 5};
  std::vector<probe> ps(ticks.size());
  for (std::size_t i = 0; i < ticks.size(); ++i) {
    ps[i].tick = ticks[i];
    w.insert(&ps[i]);
  }
  EXPECT_EQ(w.size(), ticks.size());
  // Walk time the way a shard does: jump to the next expiration each time.
  std::uint64_t now = 0;
  std::size_t fired = 0;
  while (auto next = w.next_expiration()) {
    ASSERT_GE(*next, now);
    now = *next;
    for (probe* p : drain(w, now)) {
      EXPECT_EQ(p->fired_at, p->tick) << "timer for tick " << p->tick;
      ++fired;
    }
  }
  EXPECT_EQ(fired, ticks.size());
  EXPECT_TRUE(w.empty());
}

TEST(TimerWheel, CancelIsO1AndNeverFires) {
  timer_wheel w;
  probe a, b, c;
  a.tick = 10;
  b.tick = 5000;
  c.tick = 10;
  w.insert(&a);
  w.insert(&b);
  w.insert(&c);
  w.cancel(&a);
  w.cancel(&b);
  w.cancel(&b);  // twice is harmless
  EXPECT_EQ(w.size(), 1u);
  auto out = drain(w, 100'000);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0], &c);
  EXPECT_FALSE(a.fired);
  EXPECT_FALSE(b.fired);
}

TEST(TimerWheel, PastDeadlinesFireOnNextPoll) {
  timer_wheel w;
  drain(w, 1000);
  probe p;
  p.tick = 10;  // already past
  w.insert(&p);
  EXPECT_EQ(w.next_expiration(), 1000u);
  auto out = drain(w, 1000);
  ASSERT_EQ(out.size(), 1u);
}

TEST(TimerWheel, RandomisedAgainstSortedReference) {
  std::mt19937_64 rng(1234);
  timer_wheel w;
  std::vector<probe> ps(5000);
  std::uint64_t now = 0;
  for (auto& p : ps) {
    // Mix of near and far deadlines, inserted while time advances.
    std::uint64_t delta = (rng() % 4 == 0) ? rng() % 5'000'000 : rng() % 200;
    p.tick = now + 1 + delta;
    w.insert(&p);
    if (rng() % 3 == 0) {
      now += rng() % 50;
      for (probe* f : drain(w, now)) EXPECT_LE(f->tick, now);
    }
  }
  // Cancel a random tenth.
  for (auto& p : ps)
    if (!p.fired && rng() % 10 == 0) w.cancel(&p), p.fired_at = ~0ull;
  while (auto next = w.next_expiration()) {
    now = std::max(now, *next);
    for (probe* f : drain(w, now)) {
      EXPECT_LE(f->tick, now);
      EXPECT_GE(f->tick + 0, f->tick);
    }
  }
  for (auto& p : ps) {
    if (p.fired_at == ~0ull) {
      EXPECT_FALSE(p.fired);
    } else {
      ASSERT_TRUE(p.fired);
      // Fired at its tick, or at the time of the poll that first passed it.
      EXPECT_GE(p.fired_at, p.tick);
    }
  }
}

}  // namespace
}  // namespace weir::detail
