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
        base + "/hello", std::chrono::microseconds((seed * 37 + static_cast<unsigned>(i) * 113) % 3000)));
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

}  // namespace
}  // namespace weir::http
