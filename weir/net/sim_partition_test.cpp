// Partitions between simulated hosts (sim_network.hpp): while two hosts are cut off, a stream
// stalls (its segments are retransmitted) and resumes in order when the partition heals, a
// connect waits and times out after the SYN retries, datagrams are lost; other hosts are not
// affected. Each scenario sweeps 200 seeds (label `sim`).
#include <weir/net/sim_network.hpp>
#include <weir/net/socket.hpp>

#include <weir/core/runtime.hpp>
#include <weir/core/spawn.hpp>
#include <weir/core/time.hpp>
#include <weir/testing/bytes.hpp>
#include <weir/testing/co_assert.hpp>
#include <weir/testing/sim.hpp>

#include <gtest/gtest.h>

#include <array>
#include <string>

namespace weir::net {
namespace {

using namespace std::chrono_literals;
using weir::testing::bytes;
using weir::testing::sim_options;
using weir::testing::sim_sweep;

constexpr std::uint64_t kSeeds = 200;

// Echoes every connection it accepts until the listener closes.
task<> echo_server(listener& l) {
  for (;;) {
    auto c = co_await l.accept();
    if (!c) co_return;
    spawn_detached(
        [](stream_socket s) -> task<> {
          std::array<std::byte, 512> buf;
          for (;;) {
            auto n = co_await s.read(buf);
            if (!n || *n == 0) co_return;
            if (!co_await s.write_all(std::span(buf).first(*n))) co_return;
          }
        }(std::move(*c)),
        "echo");
  }
}

// Reads exactly `n` bytes (or fails).
task<result<std::string>> read_n(stream_socket& s, std::size_t n) {
  std::string out;
  std::array<std::byte, 512> buf;
  while (out.size() < n) {
    WEIR_CO_TRY_ASSIGN(auto k,
                       co_await s.read(std::span(buf).first(std::min(buf.size(), n - out.size()))));
    if (k == 0) co_return unexpected(std::make_error_code(std::errc::connection_aborted));
    out.append(reinterpret_cast<const char*>(buf.data()), k);
  }
  co_return out;
}

task<> partition_and_heal() {
  const auto me = *address::from("127.0.0.1", 0);
  const auto b_host = *address::from("127.0.0.2", 0);
  auto b = listener::bind(*address::from("127.0.0.2", 7000));
  auto c = listener::bind(*address::from("127.0.0.3", 7000));
  CO_ASSERT_TRUE(b && c);
  auto sb = spawn(echo_server(*b), "b"), sc = spawn(echo_server(*c), "c");

  auto conn = co_await stream_socket::connect(b->local_address());
  CO_ASSERT_TRUE(conn) << conn.error().message();
  CO_ASSERT_TRUE(co_await conn->write_all(bytes("before|")));
  auto before = co_await read_n(*conn, 7);
  CO_ASSERT_TRUE(before);
  EXPECT_EQ(*before, "before|");

  CO_ASSERT_TRUE(sim::partition(me, b_host));
  // Written into the partition: accepted by the socket, stuck on the wire.
  std::string during;
  for (int i = 0; i < 20; ++i) during += "seg" + std::to_string(i) + ";";
  CO_ASSERT_TRUE(co_await conn->write_all(bytes(during)));
  std::array<std::byte, 64> buf;
  auto stalled = co_await with_timeout(2s, conn->read(buf));
  CO_ASSERT_FALSE(stalled);
  EXPECT_EQ(stalled.error(), errc::timed_out);
  // A new connection to B waits for the SYN to get through; C answers meanwhile.
  auto to_b = co_await with_timeout(3s, stream_socket::connect(b->local_address()));
  CO_ASSERT_FALSE(to_b);
  EXPECT_EQ(to_b.error(), errc::timed_out);
  auto to_c = co_await with_timeout(1s, stream_socket::connect(c->local_address()));
  CO_ASSERT_TRUE(to_c) << to_c.error().message();
  CO_ASSERT_TRUE(co_await to_c->write_all(bytes("c")));
  auto from_c = co_await with_timeout(1s, read_n(*to_c, 1));
  CO_ASSERT_TRUE(from_c);
  EXPECT_EQ(*from_c, "c");
  // A datagram across the partition is lost; to C it arrives.
  auto u = udp_socket::bind(address::loopback_v4(0));
  auto ub = udp_socket::bind(*address::from("127.0.0.2", 7001));
  auto uc = udp_socket::bind(*address::from("127.0.0.3", 7001));
  CO_ASSERT_TRUE(u && ub && uc);
  CO_ASSERT_TRUE(co_await u->send_to(bytes("x"), *ub->local_address()));
  CO_ASSERT_TRUE(co_await u->send_to(bytes("y"), *uc->local_address()));
  auto lost = co_await with_timeout(100ms, ub->recv(buf));
  EXPECT_FALSE(lost);
  auto got = co_await with_timeout(100ms, uc->recv(buf));
  EXPECT_TRUE(got);

  // Healed: the held bytes arrive, in order, with what is written after.
  const auto healed_at = now();
  CO_ASSERT_TRUE(sim::heal(me, b_host));
  CO_ASSERT_TRUE(co_await conn->write_all(bytes("after")));
  auto rest = co_await with_timeout(10s, read_n(*conn, during.size() + 5));
  CO_ASSERT_TRUE(rest) << rest.error().message();
  EXPECT_EQ(*rest, during + "after");
  EXPECT_LT(now() - healed_at, 4s);  // within one retransmission timeout (at most 3.2 s)
  auto again = co_await with_timeout(5s, stream_socket::connect(b->local_address()));
  EXPECT_TRUE(again) << again.error().message();

  // A connect that never gets through fails after the SYN retries, 127 s later.
  CO_ASSERT_TRUE(sim::partition(me, b_host));
  const auto t0 = now();
  auto gave_up = co_await stream_socket::connect(b->local_address());
  CO_ASSERT_FALSE(gave_up);
  EXPECT_EQ(gave_up.error(), std::errc::timed_out) << gave_up.error().message();
  EXPECT_GE(now() - t0, 127s);
  EXPECT_LT(now() - t0, 128s);
  CO_ASSERT_TRUE(sim::heal(me, b_host));

  b->close();
  c->close();
  (void)co_await sb;
  (void)co_await sc;
}

TEST(SimPartition, StreamsStallAndResumeInOrderConnectsTimeOutDatagramsAreLost) {
  sim_sweep(kSeeds, [](std::uint64_t seed) {
    runtime rt(sim_options(seed, 2));
    rt.block_on(partition_and_heal());
  });
}

}  // namespace
}  // namespace weir::net
