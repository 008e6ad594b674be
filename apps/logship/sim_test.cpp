// logship's pipeline on the sim backend (docs/architecture.md D11): its real TCP and UDP inputs
// on simulated sockets (short reads, latencies, datagram loss and duplication), a small memory
// budget (streams wait, datagrams drop), and a simulated Kafka broker behind the sink
// interface: produce requests on a latency from the seed, leader outages at random moments
// (every produce fails, retriably, until a new leader is elected), acknowledgements lost on the
// way back (the idempotent producer resends; the broker keeps one copy), records over its size
// limit refused for good, and sometimes a broker that never comes back before the drain's
// deadline. Under every fault the accounting invariant holds at every instant (checked each
// 200 us of virtual time), and at the end every line sent over TCP is in the broker exactly once,
// or counted refused or undelivered at shutdown. 200 seeds (label `sim`).
#include "inputs.hpp"
#include "pipeline.hpp"
#include "rules_file.hpp"

#include <weir/core/on_shard.hpp>
#include <weir/core/runtime.hpp>
#include <weir/core/spawn.hpp>
#include <weir/core/time.hpp>
#include <weir/core/when_all.hpp>
#include <weir/net/sim_network.hpp>
#include <weir/net/socket.hpp>
#include <weir/testing/co_assert.hpp>
#include <weir/testing/sim.hpp>

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

namespace logship {
namespace {

using namespace std::chrono_literals;
using weir::testing::sim_options;
using weir::testing::sim_sweep;

constexpr std::uint64_t kSeeds = 200;
constexpr int kConnections = 4, kLinesPerConnection = 120, kDatagrams = 150;
constexpr std::size_t kBrokerMaxBytes = 2000;

// --- the broker -------------------------------------------------------------------------------

class sim_kafka final : public sink {
 public:
  explicit sim_kafka(std::uint64_t seed, bool dies) : rng_(seed), dies_(dies) {}

  weir::task<void> deliver(std::span<record> batch) override {
    std::vector<record*> pending;
    for (record& r : batch) pending.push_back(&r);
    while (!pending.empty()) {
      if (stopped_) {
        for (record* r : pending) r->undelivered = true;
        co_return;
      }
      // One produce request for what is pending.
      (void)co_await weir::sleep_for(std::chrono::microseconds(200 + rng_() % 3000));
      if (!dies_ && weir::now() >= down_until_ && rng_() % 50 == 0)  // the leader is lost
        down_until_ = weir::now() + std::chrono::milliseconds(50 + rng_() % 500);
      if (dies_ && ++requests_ == 10) down_until_ = weir::clock::time_point::max();
      if (weir::now() < down_until_) {
        ++failed_requests;
        (void)co_await weir::sleep_for(100ms);  // retry.backoff.ms
        continue;
      }
      std::vector<record*> again;
      for (record* r : pending) {
        if (r->payload.size() > kBrokerMaxBytes) {
          r->refused = "kafka_message_too_large";
          continue;
        }
        if (written_.insert(r).second) log.push_back(*r);  // the producer's sequence number
      }
      if (rng_() % 20 == 0) {  // the acknowledgement is lost: the producer sends it all again
        ++lost_acks;
        for (record* r : pending)
          if (!r->refused) again.push_back(r);
      }
      pending = std::move(again);
    }
    for (record& r : batch) written_.erase(&r);
  }
  bool healthy() const noexcept override { return weir::now() >= down_until_; }
  void stop() noexcept override { stopped_ = true; }

  std::vector<record> log;  // what the broker holds, in order
  int failed_requests = 0, lost_acks = 0;

 private:
  std::mt19937_64 rng_;
  bool dies_;
  int requests_ = 0;
  bool stopped_ = false;
  weir::clock::time_point down_until_{};
  std::set<const record*> written_;  // of the batches in delivery
};

// --- the senders ------------------------------------------------------------------------------

std::string line(int conn, int i) {
  if (i % 37 == 5) return "not syslog " + std::to_string(conn) + "/" + std::to_string(i);
  std::string msg = "<13>1 2024-05-01T12:00:00Z host app " + std::to_string(conn) + " - - m" +
                    std::to_string(conn) + "/" + std::to_string(i);
  if (i % 53 == 7) msg += " " + std::string(kBrokerMaxBytes, 'x');  // refused by the broker
  return msg;
}

// One TCP connection: its lines, LF-framed or octet-counted, written in pieces of random size.
weir::task<int> send_stream(weir::net::address to, int conn, std::uint64_t seed) {
  auto s = co_await weir::net::stream_socket::connect(to);
  if (!s) {
    ADD_FAILURE() << s.error().message();
    co_return 0;
  }
  std::mt19937_64 rng(seed * 31 + static_cast<std::uint64_t>(conn));
  std::string wire;
  for (int i = 0; i < kLinesPerConnection; ++i) {
    const std::string l = line(conn, i);
    wire += conn % 2 ? std::to_string(l.size()) + " " + l : l + "\n";
  }
  std::size_t at = 0;
  while (at < wire.size()) {
    const std::size_t n = std::min(wire.size() - at, std::size_t{1} + rng() % 4000);
    auto w = co_await s->write_all(std::as_bytes(std::span(wire.data() + at, n)));
    if (!w) {
      ADD_FAILURE() << w.error().message();
      co_return 0;
    }
    at += n;
    if (rng() % 4 == 0) (void)co_await weir::sleep_for(std::chrono::microseconds(rng() % 2000));
  }
  co_return kLinesPerConnection;
}

weir::task<int> send_datagrams(weir::net::address to, std::uint64_t seed) {
  auto u = weir::net::udp_socket::bind(weir::net::address::loopback_v4(0));
  if (!u) co_return 0;
  std::mt19937_64 rng(seed);
  for (int i = 0; i < kDatagrams; ++i) {
    const std::string l = "<14>1 2024-05-01T12:00:00Z host udp - - - d" + std::to_string(i);
    (void)co_await u->send_to(std::as_bytes(std::span(l.data(), l.size())), to);
    if (rng() % 3 == 0) (void)co_await weir::sleep_for(std::chrono::microseconds(rng() % 500));
  }
  co_return kDatagrams;
}

// --- the scenario -------------------------------------------------------------------------------

struct outcome {
  bool drained = false;
  pipeline::totals t{};
  std::uint64_t refused = 0, shutdown = 0, budget = 0;
};

weir::task<outcome> run_logship(std::uint64_t seed, sim_kafka& broker) {
  auto* f = weir::net::sim::current_faults();
  f->datagram_loss_per_mille = 20;
  f->datagram_dup_per_mille = 20;
  auto r = load_rules("", "rules.toml");
  auto made = pipeline::create({.memory_budget = 96 * 1024}, std::move(r.value()), broker);
  pipeline& p = *made.value();
  auto in = inputs::bind({{.kind = input_spec::kind_t::tcp, .address = "127.0.0.1:5140"},
                          {.kind = input_spec::kind_t::udp, .address = "127.0.0.1:5140"}},
                         {.batch_records = 32}, p);
  if (!in) {
    ADD_FAILURE() << in.error().message();
    co_return outcome{};
  }
  auto running = weir::spawn((*in)->run(), "inputs");

  // The invariant at every instant, while everything runs.
  bool done = false;
  auto checker = weir::spawn(
      [](pipeline& p, const bool& done) -> weir::task<> {
        while (!done) {
          EXPECT_EQ(p.check_invariant(), "");
          (void)co_await weir::sleep_for(200us);
        }
      }(p, done),
      "invariant");

  const auto to = *weir::net::address::parse("127.0.0.1:5140");
  std::vector<weir::task<int>> senders;
  for (int c = 0; c < kConnections; ++c)
    senders.push_back(weir::on_shard(1, send_stream, to, c, seed));
  senders.push_back(weir::on_shard(1, send_datagrams, to, seed));
  (void)co_await weir::when_all(std::move(senders));
  (void)co_await weir::sleep_for(1s);  // the last datagrams land
  // Stopping as logship's main does on SIGTERM: the inputs read what was sent, while the drain
  // deadline runs from the signal (with the broker gone and the budget full, a connection waits
  // for room until the deadline stops the sink; a 1,000-seed sweep found the hang when the
  // deadline was started only after the inputs had ended).
  (*in)->stop();
  auto deadline = weir::spawn(
      [](sink& s) -> weir::task<> {
        if (co_await weir::sleep_for(3s)) s.stop();
      }(broker),
      "drain deadline");
  (void)co_await running;
  outcome o;
  o.drained = co_await p.drain(3s);
  deadline.cancel();
  (void)co_await deadline;
  done = true;
  (void)co_await checker;
  o.t = p.counts();
  o.refused = p.dropped(drop_reason::refused);
  o.shutdown = p.dropped(drop_reason::shutdown);
  o.budget = p.dropped(drop_reason::memory_budget);
  EXPECT_EQ(p.check_invariant(), "");
  co_return o;
}

TEST(LogshipSim, TheAccountingHoldsUnderEveryFaultAndNoLineIsLostOrDuplicated) {
  int undelivered_runs = 0, outages = 0, lost_acks = 0;
  std::uint64_t budget_drops = 0;
  sim_sweep(kSeeds, [&](std::uint64_t seed) {
    const bool dies = seed % 8 == 0;  // the broker goes away for good before the end
    sim_kafka broker(seed, dies);
    weir::runtime rt(sim_options(seed, 2));
    const outcome o = rt.block_on(run_logship(seed, broker));
    const auto& t = o.t;
    EXPECT_EQ(t.in_flight, 0u);
    EXPECT_EQ(t.received, t.delivered + t.quarantined + t.dropped);
    if (!dies) {
      EXPECT_TRUE(o.drained);
    }
    undelivered_runs += o.shutdown > 0;
    outages += broker.failed_requests > 0;
    lost_acks += broker.lost_acks;
    budget_drops += o.budget;
    // Every TCP line: in the broker once (on its topic, or quarantined), or refused there for
    // good, or (the broker gone) counted undelivered at shutdown.
    std::map<std::string, int> in_broker;
    for (const record& r : broker.log) ++in_broker[r.payload];
    std::uint64_t tcp_missing = 0;
    for (int c = 0; c < kConnections; ++c)
      for (int i = 0; i < kLinesPerConnection; ++i) {
        const std::string l = line(c, i);
        const int n = in_broker.count(l) ? in_broker[l] : 0;
        EXPECT_LE(n, 1) << l;
        if (n == 0 && l.size() <= kBrokerMaxBytes) ++tcp_missing;
      }
    if (dies) {
      EXPECT_GT(o.shutdown, 0u);
      EXPECT_LE(tcp_missing, o.shutdown);
    } else {
      EXPECT_EQ(tcp_missing, 0u);
      EXPECT_EQ(o.shutdown, 0u);
    }
    if (!dies) {
      EXPECT_GT(o.refused, 0u);
    }
    // Datagrams: each at most twice (a duplicate on the network is a second message).
    for (const auto& [payload, n] : in_broker)
      if (payload.find(" udp ") != std::string::npos) {
        EXPECT_LE(n, 2) << payload;
      }
  });
  // The faults happened across the sweep (not asserted per seed: a seed may miss one).
  if (!std::getenv("WEIR_SIM_SEED")) {
    EXPECT_GT(undelivered_runs, 0);
    EXPECT_GT(outages, 0);
    EXPECT_GT(lost_acks, 0);
    EXPECT_GT(budget_drops, 0u);
  }
}

}  // namespace
}  // namespace logship
