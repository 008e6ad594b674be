#include "notifier.hpp"

#include <weir/core/on_shard.hpp>
#include <weir/core/runtime.hpp>
#include <weir/core/spawn.hpp>
#include <weir/core/time.hpp>
#include <weir/core/when_all.hpp>
#include <weir/testing/co_assert.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <random>
#include <string>
#include <vector>

namespace {

using namespace std::chrono_literals;
using ntf_t = taskd::notifier<std::string>;

TEST(IdGenerator, PrefixOwnsTheTop16BitsAndTheCounterWraps) {
  taskd::id_generator g(3, taskd::id_generator::suffix_mask);
  const std::uint64_t a = g.next(), b = g.next();
  EXPECT_EQ(a, (std::uint64_t{3} << 48) | taskd::id_generator::suffix_mask);
  EXPECT_EQ(b, std::uint64_t{3} << 48);  // wrapped within its 48 bits, prefix kept
  EXPECT_EQ(taskd::id_generator::prefix_of(a), 3u);
  taskd::id_generator now(0);
  EXPECT_NE(now.next(), now.next());
}

TEST(Notifier, TriggerDeliversToTheRegisteredRequest) {
  weir::runtime rt({.shards = 1});
  rt.block_on([]() -> weir::task<> {
    ntf_t n(1, false);
    auto t = n.register_id(42);
    CO_ASSERT_TRUE(t.has_value());
    EXPECT_EQ(n.pending(), 1u);
    auto dup = n.register_id(42);
    CO_ASSERT_FALSE(dup.has_value());
    EXPECT_EQ(dup.error(), taskd::notifier_errc::duplicate_id);
    EXPECT_TRUE(n.trigger(42, "done").has_value());
    EXPECT_EQ(n.pending(), 0u);
    auto r = co_await t->wait();
    CO_ASSERT_TRUE(r.has_value());
    EXPECT_EQ(*r, "done");
    auto again = n.trigger(42, "twice");
    EXPECT_EQ(again.error(), taskd::notifier_errc::unknown_id);
    EXPECT_EQ(n.unknown_triggers(), 1u);
  }());
}

// The Go original leaks the entry of a request that timed out; here it goes with the ticket.
TEST(Notifier, ATimedOutRequestLeavesNoEntry) {
  weir::runtime rt({.shards = 1});
  rt.block_on([]() -> weir::task<> {
    ntf_t n(1, false);
    {
      auto t = n.register_id(7);
      CO_ASSERT_TRUE(t.has_value());
      auto r = co_await weir::with_timeout(5ms, t->wait());
      CO_ASSERT_FALSE(r.has_value());
      EXPECT_EQ(r.error(), weir::errc::timed_out);
      EXPECT_EQ(n.pending(), 1u);  // until the request lets go of its ticket
    }
    EXPECT_EQ(n.pending(), 0u);
    EXPECT_EQ(n.trigger(7, "late").error(), taskd::notifier_errc::unknown_id);
    {
      auto t = n.register_id(8);  // never awaited
      CO_ASSERT_TRUE(t.has_value());
    }
    EXPECT_EQ(n.pending(), 0u);
  }());
}

// Many ids at once (the table grows and shrinks by backward shifts) in a random order.
TEST(Notifier, TenThousandRequestsEachGetTheirOwnResult) {
  weir::runtime rt({.shards = 1});
  rt.block_on([]() -> weir::task<> {
    ntf_t n(1, false);
    taskd::id_generator gen(0, 1000);
    std::vector<ntf_t::ticket> tickets;
    for (int i = 0; i < 10'000; ++i) {
      auto t = n.register_id(gen.next());
      CO_ASSERT_TRUE(t.has_value());
      tickets.push_back(std::move(*t));
    }
    std::vector<std::size_t> order(tickets.size());
    std::iota(order.begin(), order.end(), 0);
    std::shuffle(order.begin(), order.end(), std::mt19937(1));
    // Half of them give up first, in a random order too.
    for (std::size_t i = 0; i < order.size(); i += 2) {
      auto gone = std::move(tickets[order[i]]);
    }
    EXPECT_EQ(n.pending(), 5'000u);
    std::size_t delivered = 0, unknown = 0;
    for (std::size_t i : order) {
      if (n.trigger(tickets[i].id(), std::to_string(tickets[i].id())))
        ++delivered;
      else
        ++unknown;
    }
    EXPECT_EQ(delivered, 5'000u);
    EXPECT_EQ(unknown, 5'000u);
    EXPECT_EQ(n.pending(), 0u);
    for (std::size_t i = 1; i < order.size(); i += 2) {
      auto r = co_await tickets[order[i]].wait();
      CO_ASSERT_TRUE(r.has_value());
      EXPECT_EQ(*r, std::to_string(tickets[order[i]].id()));
    }
  }());
}

// Requests register on shard 1 (ids with its prefix), the applier triggers from shard 0.
TEST(Notifier, TriggeredFromAnotherShard) {
  weir::runtime rt({.shards = 2});
  rt.block_on([]() -> weir::task<> {
    ntf_t n(2, true);
    std::vector<std::uint64_t> ids;
    auto waiter = weir::spawn(weir::on_shard(1, [&n, &ids]() -> weir::task<int> {
      taskd::id_generator gen(1);
      std::vector<ntf_t::ticket> ts;
      for (int i = 0; i < 1000; ++i) {
        const std::uint64_t id = gen.next();
        ids.push_back(id);  // before registering: pending() orders it for the reader
        auto t = n.register_id(id);
        if (!t) co_return -1;
        ts.push_back(std::move(*t));
      }
      int ok = 0;
      for (auto& t : ts) {
        auto r = co_await t.wait();
        ok += r && *r == "r" + std::to_string(t.id());
      }
      co_return ok;
    }));
    while (n.pending() < 1000) (void)co_await weir::sleep_for(1ms);
    for (std::uint64_t id : ids) EXPECT_TRUE(n.trigger(id, "r" + std::to_string(id)));
    auto ok = co_await waiter;
    CO_ASSERT_TRUE(ok.has_value());
    EXPECT_EQ(*ok, 1000);
    EXPECT_EQ(n.pending(), 0u);
  }());
}

}  // namespace
