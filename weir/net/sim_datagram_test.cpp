// Datagram sockets on the sim backend's network (sim_network.hpp): loss, duplication and
// reordering from the seed, a receive queue that drops and counts, truncation, connected
// sockets, the batched calls. Each scenario sweeps 200 seeds (label `sim`).
#include <weir/net/sim_network.hpp>
#include <weir/net/socket.hpp>

#include <weir/core/runtime.hpp>
#include <weir/core/spawn.hpp>
#include <weir/core/time.hpp>
#include <weir/testing/co_assert.hpp>
#include <weir/testing/sim.hpp>

#include <gtest/gtest.h>

#include <array>
#include <cstring>
#include <map>
#include <vector>

namespace weir::net {
namespace {

using namespace std::chrono_literals;
using weir::testing::sim_options;
using weir::testing::sim_sweep;

constexpr std::uint64_t kSeeds = 200;

// Datagram k carries k in its first 4 bytes and (k % 200) + 1 bytes in all.
std::vector<std::byte> numbered(std::uint32_t k) {
  std::vector<std::byte> d(4 + k % 200, std::byte{0x5a});
  std::memcpy(d.data(), &k, 4);
  return d;
}

// 500 datagrams through 5 % loss and 5 % duplication, latencies 20-800 us (so they reorder):
// each one that arrives is whole and was sent; some are lost, some twice, some out of order.
task<> loss_duplication_reordering() {
  auto* f = sim::current_faults();
  f->datagram_loss_per_mille = 50;
  f->datagram_dup_per_mille = 50;
  f->latency_max = 800us;
  auto rx = udp_socket::bind(address::loopback_v4(0));
  CO_ASSERT_TRUE(rx) << rx.error().message();
  auto tx = udp_socket::bind(address::loopback_v4(0));
  CO_ASSERT_TRUE(tx);
  const address to = *rx->local_address();
  const address from = *tx->local_address();
  EXPECT_NE(to.port(), from.port());
  constexpr std::uint32_t kCount = 500;
  auto sender = spawn(
      [](udp_socket& tx, address to) -> task<> {
        for (std::uint32_t k = 0; k < kCount; ++k) {
          const auto d = numbered(k);
          auto r = co_await tx.send_to(d, to);
          EXPECT_TRUE(r && *r == d.size());
          if (k % 10 == 0) (void)co_await sleep_for(100us);
        }
      }(*tx, to),
      "sender");
  std::map<std::uint32_t, int> seen;
  int reordered = 0;
  std::uint32_t last = 0;
  std::array<std::byte, 512> buf;
  for (;;) {
    auto r = co_await with_timeout(20ms, rx->recv_from(buf));
    if (!r) {
      EXPECT_EQ(r.error(), errc::timed_out);
      break;
    }
    std::uint32_t k;
    std::memcpy(&k, buf.data(), 4);
    CO_ASSERT_TRUE(k < kCount) << k;
    EXPECT_EQ(r->size, numbered(k).size());
    EXPECT_FALSE(r->truncated);
    EXPECT_EQ(r->from, from);
    if (!seen.empty() && k < last) ++reordered;
    last = k;
    ++seen[k];
  }
  (void)co_await sender;
  int dups = 0;
  for (auto& [k, n] : seen) {
    EXPECT_LE(n, 2) << k;
    dups += n - 1;
  }
  EXPECT_LT(seen.size(), kCount);  // some were lost
  EXPECT_GT(seen.size(), kCount * 8 / 10);
  EXPECT_GT(dups, 0);
  EXPECT_GT(reordered, 0);
  EXPECT_EQ(rx->drops(), 0u);
}

TEST(SimDatagram, LossDuplicationAndReorderingFromTheSeed) {
  sim_sweep(kSeeds, [](std::uint64_t seed) {
    runtime rt(sim_options(seed, 1));
    rt.block_on(loss_duplication_reordering());
  });
}

// A receiver that does not read: its queue holds 208 KiB, the rest is dropped and counted (as
// SO_RXQ_OVFL counts); a small buffer truncates; a connected socket hears only its peer; the
// batched calls move many at once.
task<> queue_truncation_connected_batches() {
  auto rx = udp_socket::bind(address::loopback_v4(0));
  CO_ASSERT_TRUE(rx);
  auto tx = udp_socket::bind(address::any_v4(0));  // the source becomes 127.0.0.1
  CO_ASSERT_TRUE(tx);
  const address to = *rx->local_address();
  std::vector<std::byte> kb(1024, std::byte{1});
  for (int i = 0; i < 300; ++i) {
    auto r = co_await tx->send_to(kb, to);
    CO_ASSERT_TRUE(r);
  }
  (void)co_await sleep_for(10ms);
  std::array<std::byte, 100> small;
  auto first = co_await rx->recv_from(small);
  CO_ASSERT_TRUE(first);
  EXPECT_TRUE(first->truncated);
  EXPECT_EQ(first->size, 1024u);
  EXPECT_EQ(first->from.to_string(), "127.0.0.1:" + std::to_string(tx->local_address()->port()));
  EXPECT_EQ(rx->drops(), 300u - 208u);
  // Take the rest in batches.
  std::vector<std::array<std::byte, 2048>> store(32);
  std::vector<std::span<std::byte>> bufs(store.begin(), store.end());
  std::vector<udp_socket::datagram> out(32);
  std::size_t got = 1;
  while (got < 208) {
    auto n = co_await with_timeout(1s, rx->recv_many(bufs, out));
    CO_ASSERT_TRUE(n);
    for (std::size_t i = 0; i < *n; ++i) EXPECT_EQ(out[i].size, 1024u);
    got += *n;
  }
  EXPECT_EQ(got, 208u);
  // Connected: only the peer's datagrams arrive; send() needs no address.
  auto third = udp_socket::bind(address::loopback_v4(0));
  CO_ASSERT_TRUE(third);
  CO_ASSERT_TRUE(rx->connect(*third->local_address()));
  std::vector<std::span<const std::byte>> two = {std::span(kb).first(10), std::span(kb).first(20)};
  auto sent = co_await tx->send_many(two, to);  // not the peer: not delivered
  CO_ASSERT_TRUE(sent);
  EXPECT_EQ(*sent, 2u);
  CO_ASSERT_TRUE(third->connect(to));
  auto s3 = co_await third->send(std::span(kb).first(30));
  CO_ASSERT_TRUE(s3);
  auto r3 = co_await with_timeout(1s, rx->recv(small));
  CO_ASSERT_TRUE(r3);
  EXPECT_EQ(*r3, 30u);
  auto none = co_await with_timeout(50ms, rx->recv(small));
  EXPECT_FALSE(none);
  // No peer, no address.
  auto unbound = udp_socket::bind(address::loopback_v4(0));
  auto e = co_await unbound->send(std::span(kb).first(1));
  EXPECT_EQ(e.error(), std::errc::destination_address_required);
  // Two sockets on one address: the second is refused.
  auto again = udp_socket::bind(to);
  CO_ASSERT_FALSE(again);
  EXPECT_EQ(again.error(), std::errc::address_in_use);
}

TEST(SimDatagram, FullQueueDropsAndCountsTruncationConnectedAndBatches) {
  sim_sweep(kSeeds, [](std::uint64_t seed) {
    runtime rt(sim_options(seed, 1));
    rt.block_on(queue_truncation_connected_batches());
  });
}

}  // namespace
}  // namespace weir::net
