// The shared-memory ring: order, bounds and the sleep/wake handshake in one process, then the
// real thing across two processes (10 M frames, each exactly once, in order, no lost wake-up:
// both sides sleep on their eventfds, bounded by a deadline so a lost wake-up fails, not hangs).
#include "shm_ring.hpp"

#include <gtest/gtest.h>

#include <poll.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>

namespace netstack {
namespace {

TEST(ShmRing, FillsDrainsAndWrapsInOrder) {
  auto r = shm_region::create(8);
  ASSERT_TRUE(r);
  shm_ring prod = r->tx(), cons = r->tx();
  EXPECT_EQ(prod.slots(), 8u);
  EXPECT_TRUE(cons.try_peek().empty());
  for (std::uint32_t round = 0; round < 5; ++round) {
    for (std::uint32_t i = 0; i < 8; ++i) {
      std::byte* s = prod.try_reserve();
      ASSERT_NE(s, nullptr);
      const std::uint32_t v = round * 100 + i;
      std::memcpy(s, &v, 4);
      EXPECT_FALSE(prod.commit(4 + i));  // nobody sleeps: no wake-up to send
    }
    EXPECT_EQ(prod.try_reserve(), nullptr);  // full: the ninth waits
    EXPECT_EQ(prod.used(), 8u);
    for (std::uint32_t i = 0; i < 8; ++i) {
      auto f = cons.try_peek();
      ASSERT_EQ(f.size(), 4 + i);
      std::uint32_t v;
      std::memcpy(&v, f.data(), 4);
      EXPECT_EQ(v, round * 100 + i);
      EXPECT_FALSE(cons.release());
    }
    EXPECT_TRUE(cons.try_peek().empty());
  }
  // The rings are separate.
  EXPECT_TRUE(r->rx().try_peek().empty());
}

TEST(ShmRing, ASleeperIsWokenExactlyWhenNeeded) {
  auto r = shm_region::create(2);
  ASSERT_TRUE(r);
  shm_ring prod = r->rx(), cons = r->rx();
  EXPECT_TRUE(cons.begin_wait_data());  // empty: sleep
  ASSERT_NE(prod.try_reserve(), nullptr);
  EXPECT_TRUE(prod.commit(1));  // the sleeper must be woken
  cons.end_wait_data();
  EXPECT_FALSE(cons.begin_wait_data());  // a frame is there: no sleep, flag cleared
  ASSERT_NE(prod.try_reserve(), nullptr);
  EXPECT_FALSE(prod.commit(1));
  EXPECT_TRUE(prod.begin_wait_space());  // full
  EXPECT_TRUE(cons.release());           // the producer sleeps: wake it
  prod.end_wait_space();
  EXPECT_FALSE(prod.begin_wait_space());  // space now
}

TEST(ShmRing, AttachChecksTheLayout) {
  auto r = shm_region::create(16);
  ASSERT_TRUE(r);
  EXPECT_FALSE(shm_region::create(12));  // not a power of two
  shm_region::fds_t fds = r->fds();
  for (int* fd : {&fds.memfd, &fds.tx_data, &fds.tx_space, &fds.rx_data, &fds.rx_space})
    *fd = ::dup(*fd);
  auto a = shm_region::attach(fds);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->slots(), 16u);
  // A frame through one mapping is seen through the other.
  std::byte* s = r->tx().try_reserve();
  ASSERT_NE(s, nullptr);
  s[0] = std::byte{42};
  shm_ring p = r->tx();
  p.try_reserve();
  p.commit(1);
  auto f = a->tx().try_peek();
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(std::to_integer<int>(f[0]), 42);
  shm_region::fds_t junk{::memfd_create("junk", MFD_CLOEXEC), -1, -1, -1, -1};
  ASSERT_EQ(::ftruncate(junk.memfd, 1 << 20), 0);
  auto bad = shm_region::attach(junk);
  EXPECT_FALSE(bad);
}

// Sleeps on `fd` (an eventfd) until written or the deadline; false at the deadline.
bool sleep_on(int fd, std::chrono::steady_clock::time_point deadline) {
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) == 1) {
      std::uint64_t v;
      if (::read(fd, &v, sizeof v) == sizeof v) return true;
    }
  }
}

TEST(ShmRing, TwoProcessesTenMillionFramesExactlyOnceInOrder) {
  constexpr std::uint64_t frames = 10'000'000;
  auto r = shm_region::create(256);
  ASSERT_TRUE(r);
  const auto fds = r->fds();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(4);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {  // the producer: its own mapping, attached as the driver does
    shm_region::fds_t mine = fds;
    for (int* fd : {&mine.memfd, &mine.tx_data, &mine.tx_space, &mine.rx_data, &mine.rx_space})
      *fd = ::dup(*fd);
    auto a = shm_region::attach(mine);
    if (!a) ::_exit(3);
    shm_ring ring = a->tx();
    for (std::uint64_t seq = 0; seq < frames; ++seq) {
      std::byte* s;
      while (!(s = ring.try_reserve())) {
        if (!ring.begin_wait_space()) continue;
        const bool woken = sleep_on(mine.tx_space, deadline);
        ring.end_wait_space();
        if (!woken) ::_exit(4);  // a lost wake-up (or a stuck consumer)
      }
      const std::uint32_t len = 8 + static_cast<std::uint32_t>(seq % 57);
      std::memcpy(s, &seq, 8);
      std::memset(s + 8, static_cast<int>(seq & 0xff), len - 8);
      if (ring.commit(len)) signal_eventfd(mine.tx_data);
    }
    ::_exit(0);
  }
  shm_ring ring = r->tx();
  std::uint64_t next = 0, bad = 0, sleeps = 0;
  bool timed_out = false;
  while (next < frames && !timed_out) {
    auto f = ring.try_peek();
    if (f.empty()) {
      if (!ring.begin_wait_data()) continue;
      ++sleeps;
      timed_out = !sleep_on(fds.tx_data, deadline);
      ring.end_wait_data();
      continue;
    }
    std::uint64_t seq;
    std::memcpy(&seq, f.data(), 8);
    const std::size_t want = 8 + seq % 57;
    if (seq != next || f.size() != want ||
        (f.size() > 8 && std::to_integer<std::uint64_t>(f[f.size() - 1]) != (seq & 0xff)))
      ++bad;
    ++next;
    if (ring.release()) signal_eventfd(fds.tx_space);
  }
  int st = 0;
  ::waitpid(child, &st, 0);
  EXPECT_FALSE(timed_out) << "the consumer slept past the deadline at frame " << next;
  EXPECT_EQ(next, frames);
  EXPECT_EQ(bad, 0u);
  EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << "producer status " << st;
  EXPECT_TRUE(ring.try_peek().empty());  // exactly once: nothing more
  std::printf("consumer slept %llu times\n", static_cast<unsigned long long>(sleeps));
}

}  // namespace
}  // namespace netstack
