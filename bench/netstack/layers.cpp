// bench/netstack layers: ns per packet through netstack's send path — udp_socket::send_to ->
// udp -> ipv4 -> ethernet -> link, each a weir virtual task<result<void>> interface — with a
// link that copies the frame into a slot (the ring's one copy) and returns; against the same
// layers as plain synchronous virtual calls doing the same work (headers, checksums, counters:
// the same wire.hpp functions), the floor. Same process, interleaved rounds, medians.
//
//   bench_netstack_layers [packets per round = 2000000] [rounds = 5] [async|sync]
//
// Prints one line per payload size: async ns, floor ns, ratio, heap allocations per packet.
// Under valgrind --tool=callgrind, run with a small count: instructions per packet are
// (total - setup) / packets (run.sh does two counts and subtracts).
#include "layers.hpp"
#include "../common/count_allocs.hpp"

#include <weir/core/runtime.hpp>
#include <weir/core/time.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string_view>
#include <vector>

namespace {

using namespace netstack;

alignas(64) std::byte slot[2048];  // where the link copies each frame (the ring slot)
std::uint64_t frames = 0;

class copy_link final : public link_tx {
 public:
  explicit copy_link(tx_stats& s) : s_(s) {}
  weir::task<weir::result<void>> send_frame(packet& p) override {
    counting k(s_, p);
    std::memcpy(slot, p.data(), p.len);
    ++frames;
    k.done(true);
    co_return weir::result<void>{};
  }

 private:
  tx_stats& s_;
};

// ---- the floor: the same layers, synchronous -------------------------------------------------

struct sync_link {
  virtual ~sync_link() = default;
  virtual bool send_frame(packet& p) = 0;
};
struct sync_l2 {
  virtual ~sync_l2() = default;
  virtual bool send(packet& p, const mac& dst, std::uint16_t type) = 0;
};
struct sync_l3 {
  virtual ~sync_l3() = default;
  virtual bool send(packet& p, ipv4 dst, std::uint8_t proto) = 0;
};
struct sync_l4 {
  virtual ~sync_l4() = default;
  virtual bool send(packet& p, std::uint16_t sport, ipv4 dst, std::uint16_t dport) = 0;
};

struct s_link final : sync_link {
  tx_stats& s;
  explicit s_link(tx_stats& st) : s(st) {}
  bool send_frame(packet& p) override {
    counting k(s, p);
    std::memcpy(slot, p.data(), p.len);
    ++frames;
    k.done(true);
    return true;
  }
};
struct s_eth final : sync_l2 {
  sync_link& link;
  mac self;
  tx_stats& s;
  s_eth(sync_link& l, mac m, tx_stats& st) : link(l), self(m), s(st) {}
  bool send(packet& p, const mac& dst, std::uint16_t type) override {
    counting k(s, p);
    write_eth(p.prepend(eth_header_size), dst, self, type);
    const bool ok = link.send_frame(p);
    k.done(ok);
    return ok;
  }
};
struct s_ipv4 final : sync_l3 {
  sync_l2& l2;
  const arp& table;
  ipv4_net net;
  tx_stats& s;
  std::uint16_t id = 1;
  s_ipv4(sync_l2& l, const arp& a, ipv4_net n, tx_stats& st) : l2(l), table(a), net(n), s(st) {}
  bool send(packet& p, ipv4 dst, std::uint8_t proto) override {
    counting k(s, p);
    if (p.len > mtu - ipv4_header_size) return false;
    const mac* m = table.lookup(dst);
    if (!m) return false;
    const std::size_t n = p.len;
    write_ipv4(p.prepend(ipv4_header_size), n, id++, 64, proto, net.addr, dst);
    const bool ok = l2.send(p, *m, ethertype_ipv4);
    k.done(ok);
    return ok;
  }
};
struct s_udp final : sync_l4 {
  sync_l3& l3;
  ipv4 self;
  tx_stats& s;
  s_udp(sync_l3& l, ipv4 a, tx_stats& st) : l3(l), self(a), s(st) {}
  bool send(packet& p, std::uint16_t sport, ipv4 dst, std::uint16_t dport) override {
    counting k(s, p);
    const std::size_t n = p.len;
    write_udp(p.prepend(udp_header_size), sport, dport, n, self, dst);
    const bool ok = l3.send(p, dst, proto_udp);
    k.done(ok);
    return ok;
  }
};

// The socket's part: what udp_socket::send_to(packet&, to) does.
struct s_socket {
  sync_l4& l4;
  std::uint16_t port;
  tx_stats& s;
  bool send_to(packet& p, endpoint to) {
    counting k(s, p);
    const bool ok = l4.send(p, port, to.addr, to.port);
    k.done(ok);
    return ok;
  }
};

const ipv4 self_ip{0xc0000202}, peer_ip{0xc0000201};
const mac self_mac{{2, 0, 0xc0, 0, 2, 2}}, peer_mac{{2, 0, 0, 0, 0, 1}};

// Hides where an object came from, so calls through it stay virtual (as they are in the async
// stack, whose layers live in another translation unit).
template <class T>
T& opaque(T& x) {
  T* p = &x;
  asm volatile("" : "+r"(p));
  return *p;
}

double now_ns() {
  return std::chrono::duration<double, std::nano>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

struct round_result {
  double ns_per_packet;
  double allocs_per_packet;
};

round_result run_async(weir::runtime& rt, std::size_t payload, std::uint64_t n) {
  return rt.block_on([](std::size_t size, std::uint64_t count) -> weir::task<round_result> {
    counters c;
    copy_link link(c.link);
    stack_options o;
    o.addr = {self_ip, 24};
    o.self_mac = self_mac;
    stack s(link, o, c);
    s.arp.learn(peer_ip, peer_mac);
    auto sock = udp_socket::bind(s.udp, 4000);
    packet p;
    std::memset(p.payload(), 'x', size);
    const endpoint to{peer_ip, 9};
    // Warm the frame pool.
    for (int i = 0; i < 1000; ++i) {
      p.set_payload(size);
      (void)co_await (*sock)->send_to(p, to);
    }
    const std::uint64_t a0 = bench::heap_allocations.load();
    const double t0 = now_ns();
    std::uint64_t ok = 0;
    for (std::uint64_t i = 0; i < count; ++i) {
      p.set_payload(size);
      auto r = co_await (*sock)->send_to(p, to);
      ok += r.has_value();
      if ((i & 4095) == 0) co_await weir::yield_now{};  // (the stall watchdog watches)
    }
    const double t1 = now_ns();
    const std::uint64_t a1 = bench::heap_allocations.load();
    if (ok != count) std::abort();
    co_return round_result{(t1 - t0) / static_cast<double>(count),
                           static_cast<double>(a1 - a0) / static_cast<double>(count)};
  }(payload, n));
}

round_result run_sync(std::size_t payload, std::uint64_t n) {
  counters c;
  s_link link(c.link);
  s_eth eth(opaque<sync_link>(link), self_mac, c.ethernet);
  // The same ARP table class as the async stack (its lookup is the same code).
  struct null_l2 final : l2_tx {
    weir::task<weir::result<void>> send(packet&, const mac&, std::uint16_t) override {
      co_return weir::result<void>{};
    }
  } unused;
  arp table(unused, self_mac, self_ip, c);
  table.learn(peer_ip, peer_mac);
  s_ipv4 ip(opaque<sync_l2>(eth), table, {self_ip, 24}, c.ipv4);
  s_udp udp(opaque<sync_l3>(ip), self_ip, c.udp);
  s_socket sock{opaque<sync_l4>(udp), 4000, c.socket};
  packet p;
  std::memset(p.payload(), 'x', payload);
  const endpoint to{peer_ip, 9};
  const std::uint64_t a0 = bench::heap_allocations.load();
  const double t0 = now_ns();
  std::uint64_t ok = 0;
  for (std::uint64_t i = 0; i < n; ++i) {
    p.set_payload(payload);
    ok += sock.send_to(p, to);
  }
  const double t1 = now_ns();
  const std::uint64_t a1 = bench::heap_allocations.load();
  if (ok != n) std::abort();
  return {(t1 - t0) / static_cast<double>(n),
          static_cast<double>(a1 - a0) / static_cast<double>(n)};
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  const std::uint64_t n = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 2'000'000;
  const int rounds = argc > 2 ? std::atoi(argv[2]) : 5;
  const std::string_view only = argc > 3 ? argv[3] : "";  // "async" / "sync": one kind, 64 B
  // No stall watchdog: under valgrind a round of 4096 packets outlasts any threshold, and the
  // reports' symbolization would land in the instruction counts.
  weir::runtime rt({.shards = 1, .stall_threshold = std::chrono::milliseconds::zero()});
  if (only == "async") return run_async(rt, 64, n).ns_per_packet > 0 ? 0 : 1;
  if (only == "sync") return run_sync(64, n).ns_per_packet > 0 ? 0 : 1;
  std::printf(
      "| payload | weir async layers ns/packet | synchronous floor ns/packet | ratio | "
      "allocations/packet |\n|---|---|---|---|---|\n");
  for (std::size_t size : {std::size_t{64}, std::size_t{1400}}) {
    std::vector<double> a, s;
    double allocs = 0;
    for (int r = 0; r < rounds; ++r) {
      const auto x = run_async(rt, size, n);
      a.push_back(x.ns_per_packet);
      allocs = std::max(allocs, x.allocs_per_packet);
      s.push_back(run_sync(size, n).ns_per_packet);
    }
    std::printf("| %zu B | %.1f | %.1f | %.2fx | %.3f |\n", size, median(a), median(s),
                median(a) / median(s), allocs);
  }
  return 0;
}
