// weir::net on the sim backend's network (sim_network.hpp): the same socket API, simulated
// hosts, virtual time, faults from the seed. Each scenario sweeps 200 seeds (label `sim`).
#include <weir/net/sim_network.hpp>
#include <weir/net/socket.hpp>

#include <weir/core/on_shard.hpp>
#include <weir/core/runtime.hpp>
#include <weir/core/spawn.hpp>
#include <weir/core/time.hpp>
#include <weir/core/when_all.hpp>
#include <weir/testing/bytes.hpp>
#include <weir/testing/co_assert.hpp>
#include <weir/testing/sim.hpp>

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace weir::net {
namespace {

using namespace std::chrono_literals;
using weir::testing::bytes;
using weir::testing::sim_options;
using weir::testing::sim_sweep;

constexpr std::uint64_t kSeeds = 200;

// Reads until the peer's end of stream.
task<result<std::string>> read_to_end(stream_socket& s) {
  std::string out;
  std::array<std::byte, 700> buf;
  for (;;) {
    WEIR_CO_TRY_ASSIGN(auto n, co_await s.read(buf));
    if (n == 0) co_return out;
    out.append(reinterpret_cast<const char*>(buf.data()), n);
  }
}

// An echo server on shard 0 and clients on every shard: each sends a message of its own size,
// half-closes, reads the echo to the end. Short reads and writes on every seed.
task<> echo(std::uint64_t seed) {
  auto l = listener::bind(address::loopback_v4(0));
  CO_ASSERT_TRUE(l) << l.error().message();
  const address at = l->local_address();
  EXPECT_EQ(at.to_string().rfind("127.0.0.1:", 0), 0u);
  constexpr int kClients = 12;
  auto server = spawn(
      [](listener& l) -> task<> {
        for (int i = 0; i < kClients; ++i) {
          auto c = co_await l.accept();
          if (!c) co_return;
          spawn_detached(
              [](stream_socket s) -> task<> {
                auto all = co_await read_to_end(s);
                EXPECT_TRUE(all) << all.error().message();
                if (all) {
                  auto w = co_await s.write_all(bytes(*all));
                  EXPECT_TRUE(w) << w.error().message();
                }
                (void)s.shutdown();
                // Close only once the client has read everything (it closes first).
                std::array<std::byte, 16> b;
                (void)co_await s.read(b);
              }(std::move(*c)),
              "echo conn");
        }
      }(*l),
      "accept");
  std::vector<task<bool>> clients;
  for (int i = 0; i < kClients; ++i)
    clients.push_back(on_shard(
        static_cast<unsigned>(i) % shard_count(),
        [](address at, std::size_t size, std::uint64_t seed) -> task<bool> {
          std::string msg(size, '\0');
          for (std::size_t k = 0; k < size; ++k)
            msg[k] = static_cast<char>('a' + (seed + k * 7) % 26);
          auto c = co_await stream_socket::connect(at);
          if (!c) co_return false;
          auto local = c->local_address();
          EXPECT_TRUE(local && local->port() != 0);
          auto peer = c->peer_address();
          EXPECT_TRUE(peer && *peer == at);
          auto sent = co_await c->write_all(bytes(msg));
          if (!sent) co_return false;
          EXPECT_TRUE(c->shutdown());
          auto back = co_await read_to_end(*c);
          co_return back&&* back == msg;
        },
        at, std::size_t(1 + (seed * 131 + static_cast<unsigned>(i) * 977) % 150'000), seed));
  auto ok = co_await when_all(std::move(clients));
  for (bool b : ok) EXPECT_TRUE(b);
  (void)co_await server;
}

TEST(SimNetwork, EchoOverManyConnectionsWithShortReadsAndWrites) {
  sim_sweep(kSeeds, [](std::uint64_t seed) {
    runtime rt(sim_options(seed, 3));
    rt.block_on(echo(seed));
  });
}

// No listener: refused. A full backlog holds connects until accept() makes room. A reader
// that stops reading stops the writer at the 64 KiB buffer.
task<> edges(std::uint64_t seed) {
  auto refused = co_await stream_socket::connect(address::loopback_v4(9));
  CO_ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error(), std::errc::connection_refused) << refused.error().message();

  auto l = listener::bind(address::loopback_v4(0), {.backlog = 1});
  CO_ASSERT_TRUE(l);
  const address at = l->local_address();
  auto first = co_await with_timeout(1s, stream_socket::connect(at));
  CO_ASSERT_TRUE(first) << first.error().message();
  // The backlog (1) is full: the second connect waits, and times out.
  auto second = co_await with_timeout(2s, stream_socket::connect(at));
  CO_ASSERT_FALSE(second);
  EXPECT_EQ(second.error(), errc::timed_out);
  // A third waits until accept() takes the first from the backlog.
  auto third = spawn(stream_socket::connect(at), "third");
  (void)co_await sleep_for(100ms);
  auto s1 = co_await l->accept();
  CO_ASSERT_TRUE(s1);
  auto t = co_await third;
  CO_ASSERT_TRUE(t) << t.error().message();
  auto s3 = co_await with_timeout(1s, l->accept());
  CO_ASSERT_TRUE(s3);

  // A peer that stops reading: writes fill its buffer, then wait.
  std::string chunk(16 * 1024, 'x');
  std::size_t sent = 0;
  for (;;) {
    auto w = co_await with_timeout(50ms, first->write(bytes(chunk)));
    if (!w) {
      EXPECT_EQ(w.error(), errc::timed_out);
      break;
    }
    sent += *w;
    CO_ASSERT_TRUE(sent <= 1024 * 1024);
  }
  EXPECT_EQ(sent, 64u * 1024);
  // It reads again: the writer goes on.
  std::array<std::byte, 32 * 1024> buf;
  auto r = co_await s1->read(buf);
  CO_ASSERT_TRUE(r);
  auto w = co_await with_timeout(1s, first->write(bytes(chunk)));
  EXPECT_TRUE(w) << w.error().message();
  (void)seed;
}

TEST(SimNetwork, RefusedBacklogFullAndAPeerThatStopsReading) {
  sim_sweep(kSeeds, [](std::uint64_t seed) {
    runtime rt(sim_options(seed, 1));
    rt.block_on(edges(seed));
  });
}

// Closing with unread data resets the connection: the peer's next read fails with
// ECONNRESET; a write to a closed peer comes back as a reset too. With reset faults injected,
// every operation ends (a result or an error), none hangs.
task<> resets(std::uint64_t seed) {
  auto l = listener::bind(address::loopback_v4(0));
  CO_ASSERT_TRUE(l);
  auto c = co_await stream_socket::connect(l->local_address());
  CO_ASSERT_TRUE(c);
  auto s = co_await l->accept();
  CO_ASSERT_TRUE(s);
  auto wu = co_await c->write_all(bytes("unread"));
  CO_ASSERT_TRUE(wu);
  (void)co_await sleep_for(10ms);  // it arrives, nobody reads it
  s->close();
  std::array<std::byte, 64> buf;
  auto r = co_await with_timeout(1s, c->read(buf));
  CO_ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), std::errc::connection_reset) << r.error().message();

  sim::current_faults()->reset_per_mille = 100;
  int errors = 0, done = 0;
  for (int i = 0; i < 20; ++i) {
    auto c2 = co_await stream_socket::connect(l->local_address());
    CO_ASSERT_TRUE(c2);
    auto s2 = co_await l->accept();
    CO_ASSERT_TRUE(s2);
    for (int k = 0; k < 20; ++k) {
      auto w = co_await with_timeout(1s, c2->write(bytes("ping")));
      if (!w) {
        EXPECT_NE(w.error(), errc::timed_out) << "a write hung";
        ++errors;
        break;
      }
      auto got = co_await with_timeout(1s, s2->read(buf));
      if (!got || *got == 0) {
        if (!got) {
          EXPECT_NE(got.error(), errc::timed_out) << "a read hung";
        }
        ++errors;
        break;
      }
    }
    ++done;
  }
  EXPECT_EQ(done, 20);
  EXPECT_GT(errors, 0);
  (void)seed;
}

TEST(SimNetwork, ResetsReachBothEndsAndNothingHangs) {
  sim_sweep(kSeeds, [](std::uint64_t seed) {
    runtime rt(sim_options(seed, 1));
    rt.block_on(resets(seed));
  });
}

}  // namespace
}  // namespace weir::net
