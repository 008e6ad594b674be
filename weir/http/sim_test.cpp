// weir::http's server and client on the sim backend (weir/net/sim_network.hpp): the real
// server on every shard and real clients, over simulated sockets with short reads and writes,
// on virtual time. Each scenario sweeps 200 seeds (label `sim`); a failure prints the
// WEIR_SIM_SEED that replays it.
#include <weir/http/client.hpp>
#include <weir/http/server.hpp>

#include <weir/core/on_shard.hpp>
#include <weir/core/runtime.hpp>
#include <weir/core/spawn.hpp>
#include <weir/core/time.hpp>
#include <weir/core/when_all.hpp>
#include <weir/testing/co_assert.hpp>
#include <weir/testing/sim.hpp>

#include <gtest/gtest.h>

#include <cstdio>
#include <memory>

#include <string>
#include <vector>

namespace weir::http {
namespace {

using namespace std::chrono_literals;
using weir::testing::sim_options;
using weir::testing::sim_sweep;

constexpr std::uint64_t kSeeds = 200;

router routes() {
  router r;
  r.get("/hello", [](request&, response& res) -> task<> {
    res.body("Hello, World!");
    co_return;
  });
  r.post("/echo", [](request& req, response& res) -> task<> {
    auto b = co_await req.body();
    if (!b) co_return;
    res.body(std::string(*b));
  });
  r.get("/slow", [](request&, response& res) -> task<> {
    (void)co_await sleep_for(5s);  // past the handler timeout
    res.body("late");
  });
  return r;
}

// Clients on every shard, each with its own keep-alive client: sequential GETs, POSTs of a
// size drawn from the seed, pipelined GETs, one request past the handler timeout.
task<> traffic(std::uint64_t seed) {
  server_options so;
  so.handler_timeout = 1s;
  so.handler_timeout_status = 504;
  server srv(routes(), std::move(so));
  auto where = co_await srv.listen(net::address::loopback_v4(0));
  CO_ASSERT_TRUE(where) << where.error().message();
  auto running = spawn(srv.run(), "http server");
  const std::string base = "http://" + where->to_string();
  std::vector<task<int>> clients;
  for (unsigned k = 0; k < shard_count(); ++k)
    clients.push_back(on_shard(
        k,
        [](std::string base, std::uint64_t seed) -> task<int> {
          int ok = 0;
          client c({.pipeline = true});
          for (int i = 0; i < 5; ++i) {
            auto g = co_await c.get(base + "/hello");
            if (g && g->status == 200 && g->body == "Hello, World!") ++ok;
          }
          const std::string body(1 + (seed * 7919 + this_shard() * 104729) % 100'000, 'p');
          auto p = co_await c.post(base + "/echo", body);
          if (p && p->status == 200 && p->body == body) ++ok;
          std::vector<task<result<client_response>>> burst;
          for (int i = 0; i < 6; ++i) burst.push_back(c.get(base + "/hello"));
          for (auto& r : co_await when_all(std::move(burst)))
            if (r && r->status == 200) ++ok;
          auto slow = co_await c.get(base + "/slow");
          if (slow && slow->status == 504) ++ok;
          EXPECT_GE(c.stats().reused, 1u);
          co_return ok;
        },
        base, seed));
  auto oks = co_await when_all(std::move(clients));
  for (int ok : oks) EXPECT_EQ(ok, 5 + 1 + 6 + 1);
  const auto st = srv.stats();
  EXPECT_EQ(st.handler_timeouts, shard_count());
  co_await srv.shutdown(1s);
  (void)co_await running;
}

TEST(HttpSim, KeepAlivePipeliningAndTimeoutsOnEveryShard) {
  sim_sweep(kSeeds, [](std::uint64_t seed) {
    runtime rt(sim_options(seed, 2));
    rt.block_on(traffic(seed));
  });
}

// Shutdown while requests are in flight: each request either gets its answer (with
// Connection: close) or a clean connection error, never a hang; the server's run() returns.
task<> drain(std::uint64_t seed) {
  server srv(routes(), {});
  auto where = co_await srv.listen(net::address::loopback_v4(0));
  CO_ASSERT_TRUE(where);
  auto running = spawn(srv.run(), "http server");
  const std::string base = "http://" + where->to_string();
  std::vector<task<int>> reqs;
  for (int i = 0; i < 8; ++i)
    reqs.push_back(on_shard(
        static_cast<unsigned>(i) % shard_count(),
        [](std::string url, std::chrono::microseconds delay) -> task<int> {
          (void)co_await sleep_for(delay);
          client c;
          client_request q;
          q.url = std::move(url);
          q.timeout = 30s;
          auto r = co_await c.request(std::move(q));
          if (r) co_return r->status;
          EXPECT_NE(r.error(), errc::timed_out) << "a request hung through the drain";
          co_return -1;
        },
        base + "/hello",
        std::chrono::microseconds((seed * 37 + static_cast<unsigned>(i) * 113) % 3000)));
  auto stopper = spawn(
      [](server& s, std::chrono::microseconds at) -> task<> {
        (void)co_await sleep_for(at);
        co_await s.shutdown(2s);
      }(srv, std::chrono::microseconds(seed * 53 % 3000)),
      "shutdown");
  auto got = co_await when_all(std::move(reqs));
  int answered = 0;
  for (int st : got) {
    EXPECT_TRUE(st == 200 || st == -1) << st;
    answered += st == 200;
  }
  (void)co_await stopper;
  (void)co_await running;
  EXPECT_EQ(srv.stats().killed_by_drain, 0u);
  (void)answered;
}

TEST(HttpSim, ShutdownDuringRequestsAnswersOrClosesNeverHangs) {
  sim_sweep(kSeeds, [](std::uint64_t seed) {
    runtime rt(sim_options(seed, 2));
    rt.block_on(drain(seed));
  });
}

// Shutdown before run(): the listener closes (a connect is refused) instead of keeping
// connections in its backlog until the server is destroyed. (Found by a 5,000-seed sweep of the
// scenario above, seed 3000, whose shutdown fell at virtual time 0.)
task<> shutdown_before_run() {
  server srv(routes(), {});
  auto where = co_await srv.listen(net::address::loopback_v4(0));
  CO_ASSERT_TRUE(where);
  co_await srv.shutdown(0ms);
  co_await srv.run();
  client c;
  client_request q;
  q.url = "http://" + where->to_string() + "/hello";
  q.timeout = 5s;
  auto r = co_await c.request(std::move(q));
  CO_ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), std::errc::connection_refused) << r.error().message();
}

TEST(HttpSim, ShutdownBeforeRunClosesTheListener) {
  sim_sweep(kSeeds, [](std::uint64_t seed) {
    runtime rt(sim_options(seed, 2));
    rt.block_on(shutdown_before_run());
  });
}

// The Date field reads the host's wall clock: the sim's starts at 2026-01-01T00:00:00Z and
// follows a jump (back an hour); the server's timeouts do not notice.
task<> date_follows_the_wall_clock() {
  server srv(routes(), {});
  auto where = co_await srv.listen(net::address::loopback_v4(0));
  CO_ASSERT_TRUE(where);
  auto running = spawn(srv.run(), "http server");
  const std::string url = "http://" + where->to_string() + "/hello";
  client c;
  auto a = co_await c.get(url);
  CO_ASSERT_TRUE(a);
  EXPECT_EQ(a->header("Date").substr(0, 23), "Thu, 01 Jan 2026 00:00:") << a->header("Date");
  EXPECT_TRUE(sim_jump_wall_clock(-1h));
  auto b = co_await c.get(url);
  CO_ASSERT_TRUE(b);
  EXPECT_EQ(b->header("Date").substr(0, 23), "Wed, 31 Dec 2025 23:00:") << b->header("Date");
  EXPECT_GE(c.stats().reused, 1u);  // the same connection: no timeout fired at the jump
  co_await srv.shutdown(1s);
  (void)co_await running;
}

TEST(HttpSim, TheDateFieldFollowsTheWallClock) {
  sim_sweep(kSeeds, [](std::uint64_t seed) {
    runtime rt(sim_options(seed, 2));
    rt.block_on(date_follows_the_wall_clock());
  });
}

// --- teeth: the simulator finds the two drain bugs fixed in taskd's issue ---------------------
//
// The contract of a drain: (a) a request sent on an open keep-alive connection no later than
// the moment shutdown began is answered; (b) a client whose connection the drain ended finds
// no listener when it reconnects (in a kernel, a listener still open then is one about to
// close, which resets what lands in its backlog). Keep-alive clients on both shards send
// requests at random moments around a shutdown at a random moment, and reconnect at once when
// a connection ends (as wrk does); the scenario counts the breaches of (a) and (b).
struct violations {
  int unanswered = 0;            // (a)
  int accepted_after_drain = 0;  // (b)
};

task<violations> drain_contract(std::uint64_t seed, unsigned bug) {
  server_options so;
  so.test_drain_bug = bug;
  server srv(routes(), std::move(so));
  auto where = co_await srv.listen(net::address::loopback_v4(0));
  if (!where) {
    ADD_FAILURE() << where.error().message();
    co_return violations{};
  }
  auto running = spawn(srv.run(), "http server");
  const std::string base = "http://" + where->to_string();
  // The moment shutdown begins, in virtual time (one clock for every shard).
  auto shutdown_at = std::make_shared<clock::time_point>(clock::time_point::max());
  auto stopper = spawn(
      [](server& s, std::chrono::microseconds at, std::shared_ptr<clock::time_point> t) -> task<> {
        (void)co_await sleep_for(at);
        *t = now();
        co_await s.shutdown(2s);
      }(srv, std::chrono::microseconds(1000 + seed * 7919 % 4000), shutdown_at),
      "shutdown");
  std::vector<task<violations>> clients;
  for (unsigned i = 0; i < 6; ++i)
    clients.push_back(on_shard(
        i % shard_count(),
        [](std::string base, std::uint64_t seed,
           std::shared_ptr<clock::time_point> t) -> task<violations> {
          violations v;
          std::uint64_t r = seed;
          const auto rnd = [&r](unsigned n) {
            r = r * 6364136223846793005ull + 1442695040888963407ull;
            return static_cast<unsigned>((r >> 33) % n);
          };
          bool drained = false;  // the drain ended one of our connections
          const auto before_end = [&t] {
            return *t == clock::time_point::max() || now() < *t + 1s;
          };
          for (int conn = 0; conn < 8 && before_end(); ++conn) {
            client c;
            for (int i = 0; i < 40; ++i) {
              // Requests on an open connection at random moments; a new one at once.
              if (i > 0) (void)co_await sleep_for(std::chrono::microseconds(rnd(1500)));
              const auto sent = now();
              client_request q;
              q.url = base + "/hello";
              q.timeout = 10s;
              auto res = co_await c.request(std::move(q));
              if (res && res->status == 200) {
                if (i == 0 && drained) ++v.accepted_after_drain;
                if (res->header("Connection") == "close") {
                  drained = drained || sent >= *t || now() >= *t;
                  break;
                }
                continue;
              }
              if (i > 0 && sent <= *t) ++v.unanswered;  // on an open connection, in time
              if (now() >= *t) drained = true;
              break;
            }
          }
          co_return v;
        },
        base, seed * 100 + i, shutdown_at));
  violations total;
  for (const violations& v : co_await when_all(std::move(clients))) {
    total.unanswered += v.unanswered;
    total.accepted_after_drain += v.accepted_after_drain;
  }
  (void)co_await stopper;
  (void)co_await running;
  co_return total;
}

TEST(HttpSim, DrainKeepsItsContract) {
  sim_sweep(kSeeds, [](std::uint64_t seed) {
    runtime rt(sim_options(seed, 2));
    const violations v = rt.block_on(drain_contract(seed, 0));
    EXPECT_EQ(v.unanswered, 0) << "a request sent before shutdown was not answered";
    EXPECT_EQ(v.accepted_after_drain, 0)
        << "a listener accepted after the drain ended a connection";
  });
}

// The sweep finds each re-enabled bug; the seeds it took are printed (issue 16's closing note
// reports them) and must be within the CI sweep.
TEST(HttpSim, TheSweepFindsBothDrainBugs) {
  for (unsigned bug : {1u, 2u}) {
    std::uint64_t found = 0;
    for (std::uint64_t seed = 1; seed <= kSeeds && !found; ++seed) {
      runtime rt(sim_options(seed, 2));
      const violations v = rt.block_on(drain_contract(seed, bug));
      if ((bug == 1 && v.accepted_after_drain > 0) || (bug == 2 && v.unanswered > 0)) found = seed;
    }
    std::printf("drain bug %u (%s): found at seed %llu of %llu\n", bug,
                bug == 1 ? "listeners closed shard by shard" : "no grace for idle connections",
                static_cast<unsigned long long>(found), static_cast<unsigned long long>(kSeeds));
    EXPECT_GT(found, 0u) << "the sweep did not find drain bug " << bug;
  }
}

}  // namespace
}  // namespace weir::http
