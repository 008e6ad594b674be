// The layers over a fake link (sans-I/O: frames in, frames out): ARP both ways, ping, UDP, the
// send path's backpressure through every layer, and malformed frames counted, none crashing.
#include "layers.hpp"

#include <weir/core/registry.hpp>
#include <weir/core/render.hpp>
#include <weir/core/runtime.hpp>
#include <weir/core/spawn.hpp>
#include <weir/core/time.hpp>
#include <weir/testing/co_assert.hpp>
#include <weir/testing/tasks.hpp>

#include <gtest/gtest.h>

#include <deque>
#include <vector>

namespace netstack {
namespace {

using namespace std::chrono_literals;
using frame = std::vector<std::byte>;

const ipv4 self_ip{0xc0000202}, peer_ip{0xc0000201};
const mac self_mac{{2, 0, 0xc0, 0, 2, 2}}, peer_mac{{2, 0, 0, 0, 0, 1}};

// A link that keeps what is sent; with `capacity`, sends wait while that many frames are held
// (a full TX ring), until the test takes them.
class fake_link final : public link_tx {
 public:
  explicit fake_link(std::size_t capacity = SIZE_MAX) : capacity_(capacity) {
    space_.set_label("fake link full");
  }
  weir::task<weir::result<void>> send_frame(packet& p) override {
    while (frames.size() >= capacity_) {
      p.waited = true;
      auto r = co_await space_.notified();
      if (!r) co_return weir::unexpected(r.error());
    }
    frames.emplace_back(p.view().begin(), p.view().end());
    co_return weir::result<void>{};
  }
  frame take() {
    frame f = std::move(frames.front());
    frames.pop_front();
    space_.notify_all();
    return f;
  }
  std::deque<frame> frames;

 private:
  std::size_t capacity_;
  weir::notify space_;
};

stack_options options() {
  stack_options o;
  o.addr = {self_ip, 24};
  o.self_mac = self_mac;
  o.arp.retry_interval = 50ms;
  return o;
}

frame eth_frame(const mac& dst, std::uint16_t type, const frame& payload,
                const mac& src = peer_mac) {
  frame f(14 + payload.size());
  write_eth(f.data(), dst, src, type);
  std::memcpy(f.data() + 14, payload.data(), payload.size());
  return f;
}

frame arp_packet(std::uint16_t op, const mac& sha, ipv4 spa, const mac& tha, ipv4 tpa) {
  frame a(28);
  write_arp(a.data(), op, sha, spa, tha, tpa);
  return a;
}

frame ip_packet(std::uint8_t proto, const frame& payload, ipv4 src = peer_ip, ipv4 dst = self_ip) {
  frame p(20 + payload.size());
  write_ipv4(p.data(), payload.size(), 7, 64, proto, src, dst);
  std::memcpy(p.data() + 20, payload.data(), payload.size());
  return p;
}

frame udp_segment(std::uint16_t sport, std::uint16_t dport, std::string_view text,
                  ipv4 src = peer_ip, ipv4 dst = self_ip) {
  frame s(8 + text.size());
  std::memcpy(s.data() + 8, text.data(), text.size());
  write_udp(s.data(), sport, dport, text.size(), src, dst);
  return s;
}

// Runs `body(stack, link)` on a one-shard runtime with the stack's background tasks.
template <class F>
void with_stack(fake_link& link, F body) {
  weir::runtime rt({.shards = 1});
  rt.block_on([&]() -> weir::task<> {
    counters c;
    stack s(link, options(), c);
    auto bg = weir::spawn(s.run(), "arp + icmp");
    co_await body(s);
    bg.cancel();
    (void)co_await bg;
  }());
}

TEST(Layers, AnswersArpForItsAddressAndLearnsTheAsker) {
  fake_link link;
  with_stack(link, [&](stack& s) -> weir::task<> {
    s.receive(eth_frame(mac::broadcast(), ethertype_arp,
                        arp_packet(1, peer_mac, peer_ip, mac{}, self_ip)));
    co_await weir::testing::settle();
    EXPECT_NE(s.arp.lookup(peer_ip), nullptr);  // RFC 826: the asker is learnt
    EXPECT_EQ(link.frames.size(), 1u);
    if (link.frames.empty()) co_return;
    eth_view e;
    arp_view a;
    CO_ASSERT_TRUE(parse_eth(link.frames[0], e) == drop::none);
    CO_ASSERT_TRUE(parse_arp(e.payload, a) == drop::none);
    EXPECT_EQ(e.dst, peer_mac);
    EXPECT_EQ(a.op, 2);
    EXPECT_EQ(a.sha, self_mac);
    EXPECT_EQ(a.spa, self_ip);
    EXPECT_EQ(a.tpa, peer_ip);
    // A request for another address is not answered (and its sender not learnt).
    s.receive(eth_frame(mac::broadcast(), ethertype_arp,
                        arp_packet(1, {{2, 0, 0, 0, 0, 9}}, {0xc0000209}, mac{}, {0xc0000203})));
    co_await weir::testing::settle();
    EXPECT_EQ(link.frames.size(), 1u);
    EXPECT_EQ(s.arp.lookup({0xc0000209}), nullptr);
    EXPECT_EQ(s.c.arp_replies_sent, 1u);
  });
}

TEST(Layers, AnswersPingWithTheSamePayload) {
  fake_link link;
  with_stack(link, [&](stack& s) -> weir::task<> {
    s.arp.learn(peer_ip, peer_mac);
    frame echo = {std::byte{8},    std::byte{0},    std::byte{0}, std::byte{0},
                  std::byte{0x12}, std::byte{0x34}, std::byte{0}, std::byte{1}};
    for (int i = 0; i < 56; ++i) echo.push_back(static_cast<std::byte>(i));
    const std::uint16_t sum = checksum_fold(checksum_add(0, echo));
    std::memcpy(echo.data() + 2, &sum, 2);
    s.receive(eth_frame(self_mac, ethertype_ipv4, ip_packet(proto_icmp, echo)));
    co_await weir::testing::settle();
    EXPECT_EQ(link.frames.size(), 1u);
    if (link.frames.empty()) co_return;
    eth_view e;
    ipv4_view ip;
    icmp_view m;
    CO_ASSERT_TRUE(parse_eth(link.frames[0], e) == drop::none);
    CO_ASSERT_TRUE(parse_ipv4(e.payload, ip) == drop::none);
    CO_ASSERT_TRUE(parse_icmp(ip.payload, m) == drop::none);
    EXPECT_EQ(e.dst, peer_mac);
    EXPECT_EQ(ip.dst, peer_ip);
    EXPECT_EQ(m.type, 0);
    EXPECT_TRUE(std::equal(m.message.begin() + 4, m.message.end(), echo.begin() + 4, echo.end()));
    EXPECT_EQ(s.c.icmp_echo_replies, 1u);
  });
}

TEST(Layers, UdpToABoundPortAndToNone) {
  fake_link link;
  with_stack(link, [&](stack& s) -> weir::task<> {
    auto sock = udp_socket::bind(s.udp, 7, nullptr, 2);
    EXPECT_TRUE(sock);
    EXPECT_FALSE(udp_socket::bind(s.udp, 7));  // taken
    s.receive(
        eth_frame(self_mac, ethertype_ipv4, ip_packet(proto_udp, udp_segment(5000, 7, "one"))));
    s.receive(eth_frame(self_mac, ethertype_ipv4, ip_packet(proto_udp, udp_segment(5000, 8, "x"))));
    s.receive(
        eth_frame(self_mac, ethertype_ipv4, ip_packet(proto_udp, udp_segment(5000, 7, "two"))));
    s.receive(eth_frame(self_mac, ethertype_ipv4, ip_packet(proto_udp, udp_segment(5000, 7, "3"))));
    EXPECT_EQ(s.c.dropped(drop::udp_no_port), 1u);
    EXPECT_EQ(s.c.dropped(drop::udp_rcvbuf_full), 1u);  // a queue of 2
    std::array<std::byte, 64> buf;
    for (std::string_view want : {"one", "two"}) {
      auto d = co_await (*sock)->recv_from(buf, 1s);
      EXPECT_TRUE(d);
      if (!d) co_return;
      EXPECT_EQ(std::string_view(reinterpret_cast<const char*>(buf.data()), d->size), want);
      EXPECT_EQ(d->from.addr, peer_ip);
      EXPECT_EQ(d->from.port, 5000);
    }
    auto none = co_await (*sock)->recv_from(buf, 20ms);
    EXPECT_FALSE(none);
    EXPECT_EQ(none.error(), weir::errc::timed_out);
  });
}

TEST(Layers, SendingResolvesTheNextHopFirst) {
  fake_link link;
  with_stack(link, [&](stack& s) -> weir::task<> {
    auto sock = udp_socket::bind(s.udp, 0);
    EXPECT_TRUE(sock);
    if (!sock) co_return;
    const std::string_view text = "through every layer";
    auto sending = weir::spawn(
        (*sock)->send_to(std::as_bytes(std::span(text.data(), text.size())), {peer_ip, 9000}),
        "send");
    co_await weir::testing::settle();
    // A broadcast request is out; the sender waits, named in the dump.
    EXPECT_EQ(link.frames.size(), 1u);
    const std::string dump = weir::format_dump(weir::snapshot());
    EXPECT_NE(dump.find("arp resolve 192.0.2.1"), std::string::npos) << dump;
    frame req = link.take();
    eth_view e;
    arp_view a;
    EXPECT_EQ(parse_eth(req, e), drop::none);
    EXPECT_EQ(parse_arp(e.payload, a), drop::none);
    EXPECT_TRUE(e.dst.is_broadcast());
    EXPECT_EQ(a.op, 1);
    EXPECT_EQ(a.tpa, peer_ip);
    s.receive(
        eth_frame(self_mac, ethertype_arp, arp_packet(2, peer_mac, peer_ip, self_mac, self_ip)));
    auto sent = co_await sending;
    EXPECT_TRUE(sent);
    EXPECT_EQ(link.frames.size(), 1u);
    if (link.frames.empty()) co_return;
    ipv4_view ip;
    udp_view u;
    EXPECT_EQ(parse_eth(link.frames[0], e), drop::none);
    EXPECT_EQ(e.dst, peer_mac);
    EXPECT_EQ(parse_ipv4(e.payload, ip), drop::none);
    EXPECT_EQ(parse_udp(ip.payload, ip.src, ip.dst, u), drop::none);
    EXPECT_EQ(u.dst_port, 9000);
    EXPECT_EQ(std::string_view(reinterpret_cast<const char*>(u.payload.data()), u.payload.size()),
              text);
    EXPECT_EQ(s.c.arp_resolved, 1u);
    EXPECT_EQ(s.c.socket.waited, 1u);  // the ARP wait counts as a wait of each layer above
    EXPECT_EQ(s.c.ipv4.waited, 1u);
  });
}

TEST(Layers, AnUnansweredArpIsAnErrorNotADrop) {
  fake_link link;
  with_stack(link, [&](stack& s) -> weir::task<> {
    auto sock = udp_socket::bind(s.udp, 0);
    EXPECT_TRUE(sock);
    if (!sock) co_return;
    const std::byte b[1] = {};
    auto r = co_await (*sock)->send_to(b, {{0xc0000263}, 9});
    EXPECT_FALSE(r);
    if (!r) {
      EXPECT_EQ(r.error().code(), std::errc::host_unreachable);
    }
    EXPECT_EQ(s.c.arp_requests_sent, 3u);  // attempts
    EXPECT_EQ(s.c.arp_failed, 1u);
    EXPECT_EQ(s.c.socket.errors, 1u);
    // Off the local network without a gateway: no route.
    auto off = co_await (*sock)->send_to(b, {{0x0a000001}, 9});
    EXPECT_FALSE(off);
    if (!off) {
      EXPECT_EQ(off.error().code(), std::errc::network_unreachable);
    }
  });
}

// The point of the stack: a full link suspends every layer's send, and the application's
// send_to, and nothing is dropped; all arrive, in order, once the link drains.
TEST(Layers, AFullLinkSuspendsEveryLayerAndDropsNothing) {
  fake_link link(4);
  with_stack(link, [&](stack& s) -> weir::task<> {
    s.arp.learn(peer_ip, peer_mac);
    auto sock = udp_socket::bind(s.udp, 0);
    EXPECT_TRUE(sock);
    if (!sock) co_return;
    constexpr int n = 100;
    auto sender = [](udp_socket& so) -> weir::task<int> {
      int ok = 0;
      for (int i = 0; i < n; ++i) {
        const std::string t = std::to_string(i);
        auto r = co_await so.send_to(std::as_bytes(std::span(t.data(), t.size())), {peer_ip, 9});
        ok += r.has_value();
      }
      co_return ok;
    };
    auto sending = weir::spawn(sender(**sock), "sender");
    co_await weir::testing::settle();
    EXPECT_EQ(link.frames.size(), 4u);
    EXPECT_EQ(s.c.socket.in_send, 1);
    EXPECT_EQ(s.c.udp.in_send, 1);
    EXPECT_EQ(s.c.ipv4.in_send, 1);
    EXPECT_EQ(s.c.ethernet.in_send, 1);
    const std::string dump = weir::format_dump(weir::snapshot());
    EXPECT_NE(dump.find("fake link full"), std::string::npos) << dump;
    int got = 0;
    for (int spins = 0; got < n && spins < 10 * n; ++spins) {
      while (!link.frames.empty()) {
        frame f = link.take();
        eth_view e;
        ipv4_view ip;
        udp_view u;
        EXPECT_EQ(parse_eth(f, e), drop::none);
        EXPECT_EQ(parse_ipv4(e.payload, ip), drop::none);
        EXPECT_EQ(parse_udp(ip.payload, ip.src, ip.dst, u), drop::none);
        EXPECT_EQ(
            std::string_view(reinterpret_cast<const char*>(u.payload.data()), u.payload.size()),
            std::to_string(got));
        ++got;
      }
      co_await weir::yield_now{};
    }
    EXPECT_EQ(got, n);
    auto sent_ok = co_await sending;
    EXPECT_TRUE(sent_ok && *sent_ok == n);
    EXPECT_GE(s.c.socket.waited, std::uint64_t{(n - 4) / 4});  // once per refill of 4
    EXPECT_EQ(s.c.socket.waited, s.c.udp.waited);
    EXPECT_EQ(s.c.udp.waited, s.c.ipv4.waited);
    EXPECT_EQ(s.c.ipv4.waited, s.c.ethernet.waited);
    EXPECT_EQ(s.c.socket.sent, std::uint64_t{n});
    EXPECT_EQ(s.c.socket.errors, 0u);
  });
}

TEST(Layers, MalformedFramesAreCountedByLayerAndReason) {
  fake_link link;
  with_stack(link, [&](stack& s) -> weir::task<> {
    auto sock = udp_socket::bind(s.udp, 7);
    frame good = ip_packet(proto_udp, udp_segment(1, 7, "ok"));
    s.receive(frame(10));                                                 // short
    s.receive(frame(max_frame + 1));                                      // oversize
    s.receive(eth_frame({{2, 0, 0, 0, 0, 0x33}}, ethertype_ipv4, good));  // another station
    s.receive(eth_frame(self_mac, 0x86dd, good));                         // IPv6
    s.receive(eth_frame(self_mac, ethertype_arp, frame(20)));             // short ARP
    auto bad = good;
    bad[0] = std::byte{0x43};
    s.receive(eth_frame(self_mac, ethertype_ipv4, bad));  // IHL 12
    bad = good;
    bad[9] = std::byte{6};
    s.receive(eth_frame(self_mac, ethertype_ipv4, bad));  // checksum (protocol changed)
    s.receive(eth_frame(self_mac, ethertype_ipv4, ip_packet(6, frame(20))));  // TCP
    s.receive(eth_frame(self_mac, ethertype_ipv4,
                        ip_packet(proto_udp, udp_segment(1, 7, "x"), peer_ip, {0xc0000209})));
    bad = good;
    bad[20 + 8] = std::byte{'O'};
    s.receive(eth_frame(self_mac, ethertype_ipv4, bad));  // UDP checksum
    s.receive(eth_frame(self_mac, ethertype_ipv4, ip_packet(proto_icmp, frame(4))));  // short ICMP
    s.receive(eth_frame(self_mac, ethertype_ipv4, good));
    EXPECT_EQ(s.c.dropped(drop::eth_short), 1u);
    EXPECT_EQ(s.c.dropped(drop::eth_oversize), 1u);
    EXPECT_EQ(s.c.dropped(drop::eth_not_for_us), 1u);
    EXPECT_EQ(s.c.dropped(drop::eth_ethertype), 1u);
    EXPECT_EQ(s.c.dropped(drop::arp_malformed), 1u);
    EXPECT_EQ(s.c.dropped(drop::ipv4_ihl), 1u);
    EXPECT_EQ(s.c.dropped(drop::ipv4_checksum), 1u);
    EXPECT_EQ(s.c.dropped(drop::ipv4_protocol), 1u);
    EXPECT_EQ(s.c.dropped(drop::ipv4_not_for_us), 1u);
    EXPECT_EQ(s.c.dropped(drop::udp_checksum), 1u);
    EXPECT_EQ(s.c.dropped(drop::icmp_short), 1u);
    EXPECT_EQ((*sock)->queued(), 1u);  // only the good one
    weir::metrics::prometheus_writer w;
    s.c.write(w);
    const std::string text = w.take();
    EXPECT_NE(text.find("netstack_dropped_total{layer=\"ipv4\",reason=\"checksum\"} 1"),
              std::string::npos)
        << text;
    co_return;
  });
}

}  // namespace
}  // namespace netstack
