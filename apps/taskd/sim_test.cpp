// taskd's whole pipeline on the sim backend (docs/architecture.md D11): the HTTP handlers on
// every shard, the task queue, the applier on its shard, the notifier, over simulated sockets
// with short reads and writes, shard stalls and seeded latencies; the store is in memory, its
// commits and reads completing as blocking jobs at simulated times (the fsync's delay).
// Clients on every shard put, get and delete a few keys concurrently; the history of what they
// were answered, in virtual time, must be linearizable against a model of the key-value state
// with its revisions, and no request may hang. 200 seeds (label `sim`).
#include "pipeline.hpp"
#include "service.hpp"
#include "store.hpp"

#include <weir/core/blocking.hpp>
#include <weir/core/on_shard.hpp>
#include <weir/core/runtime.hpp>
#include <weir/core/spawn.hpp>
#include <weir/core/time.hpp>
#include <weir/core/when_all.hpp>
#include <weir/http/client.hpp>
#include <weir/http/server.hpp>
#include <weir/testing/co_assert.hpp>
#include <weir/testing/sim.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <charconv>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace {

using namespace std::chrono_literals;
namespace http = weir::http;
using weir::testing::sim_options;
using weir::testing::sim_sweep;

constexpr std::uint64_t kSeeds = 200;
constexpr unsigned kShards = 3;  // handlers on all three, the applier on the last
constexpr int kClients = 8, kOpsPerClient = 16;
const char* const kKeys[] = {"a", "b", "c", "d"};

// --- the store: a map, each call a blocking job (it completes 0-2 ms later, in sim time) --------

class memory_store final : public taskd::store {
 public:
  weir::task<weir::result<void>> commit(std::span<taskd::write_op> ops, bool) override {
    auto job = weir::blocking([this, ops] {
      for (taskd::write_op& o : ops) {
        const std::string key(o.key);
        if (o.k == taskd::write_op::kind::put) {
          o.revision = ++rev_;
          kv_[key] = {key, std::string(o.value), o.revision};
        } else {
          o.existed = kv_.erase(key) != 0;
          o.revision = o.existed ? ++rev_ : rev_;
        }
      }
      set_revision(rev_);
    });
    auto done = co_await std::move(job);
    if (!done) co_return weir::unexpected(done.error());
    co_return weir::result<void>{};
  }
  weir::task<weir::result<std::optional<taskd::kv_entry>>> get(std::string key) override {
    auto job = weir::blocking([this, key] {
      auto it = kv_.find(key);
      return it == kv_.end() ? std::optional<taskd::kv_entry>() : it->second;
    });
    co_return co_await std::move(job);
  }
  weir::task<weir::result<taskd::kv_page>> list(std::string prefix, std::size_t limit) override {
    auto job = weir::blocking([this, prefix, limit] {
      taskd::kv_page p;
      p.revision = rev_;
      for (auto it = kv_.lower_bound(prefix); it != kv_.end() && it->first.starts_with(prefix);
           ++it) {
        if (p.kvs.size() == limit) {
          p.more = true;
          break;
        }
        p.kvs.push_back(it->second);
      }
      return p;
    });
    co_return co_await std::move(job);
  }
  std::string describe() const override { return "memory"; }

 private:
  std::map<std::string, taskd::kv_entry> kv_;
  std::uint64_t rev_ = 0;
};

// --- the history ----------------------------------------------------------------------------

struct event {
  enum class kind { put, get, del } k = kind::get;
  std::string key, value;  // put: the value written; get: the value read
  weir::clock::time_point call, ret;
  bool known = false;          // the outcome is known (200, or a get's 404)
  bool found = false;          // get: 200 (else 404); del: deleted 1
  std::uint64_t revision = 0;  // put, del: the answer's; get: the value's mod revision
  int client = 0;
};

std::uint64_t revision_of(const http::client_response& r) {
  std::uint64_t v = 0;
  const auto h = r.header("X-Taskd-Revision");
  std::from_chars(h.data(), h.data() + h.size(), v);
  return v;
}

weir::task<std::vector<event>> client_ops(std::string base, int id, std::uint64_t seed) {
  std::vector<event> out;
  http::client c;
  std::uint64_t x = seed * 0x9E3779B97F4A7C15ull + static_cast<std::uint64_t>(id) * 7919 + 1;
  const auto rnd = [&x](std::uint64_t n) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    return x % n;
  };
  for (int i = 0; i < kOpsPerClient; ++i) {
    (void)co_await weir::sleep_for(std::chrono::microseconds(rnd(3000)));
    event e;
    e.client = id;
    e.key = kKeys[rnd(std::size(kKeys))];
    const auto pick = rnd(10);
    http::client_request q;
    q.url = base + "/kv/" + e.key;
    q.timeout = 60s;
    if (pick < 4) {
      e.k = event::kind::put;
      e.value = "c" + std::to_string(id) + "-" + std::to_string(i);
      q.verb = http::method::put;
      q.body = e.value;
    } else if (pick < 8) {
      e.k = event::kind::get;
    } else {
      e.k = event::kind::del;
      q.verb = http::method::delete_;
    }
    e.call = weir::now();
    auto r = co_await c.request(std::move(q));
    e.ret = weir::now();
    if (!r) {
      EXPECT_NE(r.error(), weir::errc::timed_out) << "a request hung: client " << id;
      if (e.k != event::kind::get) out.push_back(std::move(e));  // it may have applied
      continue;
    }
    if (e.k == event::kind::get) {
      EXPECT_TRUE(r->status == 200 || r->status == 404) << r->status << " " << r->body;
      e.known = r->status == 200 || r->status == 404;
      e.found = r->status == 200;
      if (e.found) e.value = r->body, e.revision = revision_of(*r);
    } else {
      EXPECT_EQ(r->status, 200) << r->body;  // no fault here makes a write fail
      e.known = r->status == 200;
      e.revision = revision_of(*r);
      if (e.k == event::kind::del) e.found = r->body.find("\"deleted\":1") != std::string::npos;
    }
    if (e.known || e.k != event::kind::get) out.push_back(std::move(e));
  }
  // An echo through the same queue, answered as the Go original does.
  auto echo = co_await c.post(base + "/echo", R"({"kind":"create","message":"done \ud800"})");
  if (echo) {
    EXPECT_EQ(echo->body, "SUCCESS create \"done \uFFFD\"");
  } else {
    ADD_FAILURE() << echo.error().message();
  }
  co_return out;
}

// --- the checker: one key's history against the model (linearizability is local, so each key
// alone), by a depth-first search over the orders the real-time constraints allow (Wing & Gong,
// with a memo of visited states). An event whose outcome is unknown may take effect at any
// moment after its call, or never.

struct state {
  bool present = false;
  std::string value;
  std::uint64_t mod = 0;    // the value's mod revision (0: unknown, written by an unknown put)
  std::uint64_t floor = 0;  // the last known revision of a write to this key
  auto operator<=>(const state&) const = default;
};

bool step(const event& e, const state& s, state& next) {
  next = s;
  switch (e.k) {
    case event::kind::put:
      if (e.known && e.revision <= s.floor) return false;
      next.present = true;
      next.value = e.value;
      next.mod = e.known ? e.revision : 0;
      if (e.known) next.floor = e.revision;
      return true;
    case event::kind::get:
      if (!e.found) return !s.present;
      if (!s.present || s.value != e.value || (s.mod && s.mod != e.revision)) return false;
      next.mod = e.revision;
      return true;
    case event::kind::del:
      if (e.known && e.found != s.present) return false;
      if (e.known && e.found) {
        if (e.revision <= s.floor) return false;
        next.floor = e.revision;
      }
      next.present = false;
      next.value.clear();
      next.mod = 0;
      return true;
  }
  return false;
}

bool linearizable(const std::vector<const event*>& h) {
  const std::size_t n = h.size();
  std::uint64_t known_mask = 0;
  for (std::size_t i = 0; i < n; ++i)
    if (h[i]->known) known_mask |= std::uint64_t{1} << i;
  std::set<std::pair<std::uint64_t, state>> seen;
  const auto far = weir::clock::time_point::max();
  const auto ret = [&](std::size_t i) { return h[i]->known ? h[i]->ret : far; };
  auto dfs = [&](auto& self, std::uint64_t done, const state& s) -> bool {
    if ((done & known_mask) == known_mask) return true;
    if (!seen.emplace(done, s).second) return false;
    // The earliest return among what is not done: nothing called after it can go first.
    auto limit = far;
    for (std::size_t i = 0; i < n; ++i)
      if (!(done >> i & 1)) limit = std::min(limit, ret(i));
    for (std::size_t i = 0; i < n; ++i) {
      if (done >> i & 1 || h[i]->call > limit) continue;
      state next;
      if (step(*h[i], s, next) && self(self, done | std::uint64_t{1} << i, next)) return true;
    }
    return false;
  };
  return dfs(dfs, 0, state{});
}

void check(const std::vector<event>& all) {
  std::map<std::string, std::vector<const event*>> by_key;
  for (const event& e : all) by_key[e.key].push_back(&e);
  for (auto& [key, h] : by_key) {
    ASSERT_LE(h.size(), 64u);
    EXPECT_TRUE(linearizable(h)) << "history of key " << key << " is not linearizable";
  }
  // Across keys: revisions are unique and follow real time (a write answered before another
  // was sent has the smaller revision).
  std::vector<const event*> writes;
  for (const event& e : all)
    if (e.known && (e.k == event::kind::put || (e.k == event::kind::del && e.found)))
      writes.push_back(&e);
  std::set<std::uint64_t> revs;
  for (const event* w : writes) EXPECT_TRUE(revs.insert(w->revision).second) << w->revision;
  for (const event* a : writes)
    for (const event* b : writes)
      if (a->ret < b->call) {
        EXPECT_LT(a->revision, b->revision);
      }
}

// --- the scenario ------------------------------------------------------------------------------

weir::task<std::vector<event>> run_taskd(std::uint64_t seed) {
  memory_store st;
  taskd::pipeline_metrics metrics(weir::shard_count());
  taskd::service svc({.shards = weir::shard_count(), .queue_capacity = 8}, st, metrics);
  http::server_options so;
  so.handler_timeout = 6s;
  so.handler_timeout_status = 504;
  http::server srv(svc.routes(), std::move(so));
  auto where = co_await srv.listen(weir::net::address::loopback_v4(0));
  if (!where) {
    ADD_FAILURE() << where.error().message();
    co_return std::vector<event>{};
  }
  taskd::applier app(svc.notifications(), st, metrics, {.max_batch = 4});
  auto applier = weir::spawn(
      weir::on_shard(
          kShards - 1, [&app](weir::receiver<taskd::op> rx) { return app.run(std::move(rx)); },
          svc.take_receiver()),
      "applier");
  auto serving = weir::spawn(srv.run(), "http server");
  const std::string base = "http://" + where->to_string();
  std::vector<weir::task<std::vector<event>>> clients;
  for (int i = 0; i < kClients; ++i)
    clients.push_back(
        weir::on_shard(static_cast<unsigned>(i) % kShards, client_ops, base, i, seed));
  std::vector<event> all;
  for (auto& h : co_await weir::when_all(std::move(clients)))
    all.insert(all.end(), h.begin(), h.end());
  co_await srv.shutdown(1s);
  (void)co_await serving;
  svc.close_queue();
  (void)co_await applier;
  EXPECT_EQ(svc.notifications().pending(), 0u);
  EXPECT_GT(metrics.turns.value(), 0u);
  co_return all;
}

TEST(TaskdSim, AcknowledgedWritesAreLinearizableAndNothingHangs) {
  sim_sweep(kSeeds, [](std::uint64_t seed) {
    weir::runtime rt(sim_options(seed, kShards));
    const auto history = rt.block_on(run_taskd(seed));
    EXPECT_GT(history.size(), std::size_t{kClients * kOpsPerClient / 2});
    check(history);
  });
}

// The same seed replays the same run: the same trace, the same answers.
TEST(TaskdSim, ASeedReplaysExactly) {
  for (std::uint64_t seed : {1, 2, 3}) {
    std::uint64_t hash[2];
    std::vector<std::uint64_t> revs[2];
    for (int k = 0; k < 2; ++k) {
      weir::runtime rt(sim_options(seed, kShards));
      for (const event& e : rt.block_on(run_taskd(seed))) revs[k].push_back(e.revision);
      hash[k] = rt.sim_trace_hash();
    }
    EXPECT_EQ(hash[0], hash[1]) << seed;
    EXPECT_EQ(revs[0], revs[1]) << seed;
  }
}

// The checker has teeth: a stale read, a lost write and revisions against real time are caught.
TEST(TaskdSim, TheCheckerRejectsWhatIsNotLinearizable) {
  const auto t = [](int ms) { return weir::clock::time_point(std::chrono::milliseconds(ms)); };
  event put1{event::kind::put, "k", "v1", t(0), t(1), true, false, 1};
  event put2{event::kind::put, "k", "v2", t(2), t(3), true, false, 2};
  event stale{event::kind::get, "k", "v1", t(4), t(5), true, true, 1};
  EXPECT_FALSE(linearizable({&put1, &put2, &stale}));
  event fresh{event::kind::get, "k", "v2", t(4), t(5), true, true, 2};
  EXPECT_TRUE(linearizable({&put1, &put2, &fresh}));
  event gone{event::kind::get, "k", "", t(4), t(5), true, false, 0};
  EXPECT_FALSE(linearizable({&put1, &put2, &gone}));  // a lost write
  event backwards{event::kind::put, "k", "v3", t(6), t(7), true, false, 1};
  EXPECT_FALSE(linearizable({&put1, &put2, &backwards}));
  // Concurrent writes may land in either order; an unknown one may or may not have applied.
  event c1{event::kind::put, "k", "x", t(10), t(20), true, false, 5};
  event c2{event::kind::put, "k", "y", t(11), t(19), true, false, 4};
  event read_x{event::kind::get, "k", "x", t(21), t(22), true, true, 5};
  EXPECT_TRUE(linearizable({&c1, &c2, &read_x}));
  event maybe{event::kind::put, "k", "z", t(30), t(31), false, false, 0};
  event read_z{event::kind::get, "k", "z", t(40), t(41), true, true, 9};
  EXPECT_TRUE(linearizable({&c1, &c2, &maybe, &read_z}));
  EXPECT_TRUE(linearizable({&c1, &c2, &maybe, &read_x}));
}

}  // namespace
