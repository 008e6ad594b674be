// netstack's wire formats: checksums against known values, headers written and parsed back,
// and every malformed form named with its reason.
#include "wire.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

namespace netstack {
namespace {

std::vector<std::byte> hex(std::initializer_list<int> v) {
  std::vector<std::byte> out;
  for (int x : v) out.push_back(static_cast<std::byte>(x));
  return out;
}

TEST(Wire, ChecksumOfRfc1071sExample) {
  // RFC 1071 §3: 00 01 f2 03 f4 f5 f6 f7 sums to ddf2 (one's complement 220d).
  const auto b = hex({0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7});
  const std::uint16_t sum = checksum_fold(checksum_add(0, b));
  std::byte stored[2];
  std::memcpy(stored, &sum, 2);
  EXPECT_EQ(std::to_integer<int>(stored[0]), 0x22);
  EXPECT_EQ(std::to_integer<int>(stored[1]), 0x0d);
  // Odd lengths and every split at an even offset give the same sum.
  std::vector<std::byte> odd(37);
  for (std::size_t i = 0; i < odd.size(); ++i) odd[i] = static_cast<std::byte>(i * 13 + 1);
  const auto whole = checksum_fold(checksum_add(0, odd));
  for (std::size_t cut = 0; cut <= odd.size(); cut += 2)
    EXPECT_EQ(checksum_fold(
                  checksum_add(checksum_add(0, bytes(odd).first(cut)), bytes(odd).subspan(cut))),
              whole);
}

TEST(Wire, AKnownIpv4HeaderVerifies) {
  // The header of a ping from 192.0.2.1 to 192.0.2.2 as the kernel sends it (checksum
  // computed independently, by the RFC 1071 definition).
  const auto h = hex({0x45, 0x00, 0x00, 0x54, 0x2d, 0x6e, 0x40, 0x00, 0x40, 0x01,
                      0x89, 0x37, 0xc0, 0x00, 0x02, 0x01, 0xc0, 0x00, 0x02, 0x02});
  std::vector<std::byte> pkt = h;
  pkt.resize(0x54);
  ipv4_view v;
  ASSERT_EQ(parse_ipv4(pkt, v), drop::none);
  EXPECT_EQ(v.src.to_string(), "192.0.2.1");
  EXPECT_EQ(v.dst.to_string(), "192.0.2.2");
  EXPECT_EQ(v.proto, proto_icmp);
  EXPECT_EQ(v.payload.size(), 0x54u - 20);
  // Ours, for the same fields, is byte for byte the kernel's.
  std::vector<std::byte> mine(20);
  write_ipv4(mine.data(), 0x54 - 20, 0x2d6e, 64, proto_icmp, v.src, v.dst);
  EXPECT_EQ(mine, h);
}

TEST(Wire, MalformedIpv4IsNamed) {
  std::vector<std::byte> p(60);
  write_ipv4(p.data(), 40, 1, 64, proto_udp, {0xc0000201}, {0xc0000202});
  ipv4_view v;
  ASSERT_EQ(parse_ipv4(p, v), drop::none);
  EXPECT_EQ(parse_ipv4(bytes(p).first(19), v), drop::ipv4_short);
  auto bad = p;
  bad[0] = std::byte{0x65};
  EXPECT_EQ(parse_ipv4(bad, v), drop::ipv4_version);
  bad = p;
  bad[0] = std::byte{0x44};  // IHL 16 bytes
  EXPECT_EQ(parse_ipv4(bad, v), drop::ipv4_ihl);
  bad = p;
  bad[0] = std::byte{0x4f};  // IHL 60 bytes, past a 40-byte packet
  EXPECT_EQ(parse_ipv4(bytes(bad).first(40), v), drop::ipv4_ihl);
  bad = p;
  bad[8] = std::byte{1};  // TTL changed, checksum not
  EXPECT_EQ(parse_ipv4(bad, v), drop::ipv4_checksum);
  EXPECT_EQ(parse_ipv4(bytes(p).first(59), v), drop::ipv4_length);  // total length 60
  bad = p;
  bad[6] = std::byte{0x20};  // more fragments
  bad[10] = bad[11] = std::byte{0};
  const std::uint16_t sum = checksum_fold(checksum_add(0, bytes(bad).first(20)));
  std::memcpy(bad.data() + 10, &sum, 2);
  EXPECT_EQ(parse_ipv4(bad, v), drop::ipv4_fragment);
}

TEST(Wire, UdpChecksumCoversThePseudoHeader) {
  const ipv4 a{0xc0000201}, b{0xc0000202};
  std::vector<std::byte> seg(8 + 5);
  std::memcpy(seg.data() + 8, "hello", 5);
  write_udp(seg.data(), 4000, 7, 5, a, b);
  udp_view u;
  ASSERT_EQ(parse_udp(seg, a, b, u), drop::none);
  EXPECT_EQ(u.src_port, 4000);
  EXPECT_EQ(u.dst_port, 7);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(u.payload.data()), u.payload.size()),
            "hello");
  EXPECT_EQ(parse_udp(seg, a, {0xc0000203}, u), drop::udp_checksum);  // another destination
  EXPECT_EQ(parse_udp(bytes(seg).first(7), a, b, u), drop::udp_short);
  auto bad = seg;
  bad[5] = std::byte{40};  // length past the segment
  EXPECT_EQ(parse_udp(bad, a, b, u), drop::udp_length);
  bad = seg;
  bad[6] = bad[7] = std::byte{0};  // no checksum: accepted as the sender wished
  EXPECT_EQ(parse_udp(bad, a, b, u), drop::none);
}

TEST(Wire, EthernetArpAndIcmp) {
  std::vector<std::byte> f(14 + 28);
  const mac src{{2, 0, 0, 0, 0, 1}};
  write_eth(f.data(), mac::broadcast(), src, ethertype_arp);
  write_arp(f.data() + 14, 1, src, {0xc0000201}, mac{}, {0xc0000202});
  eth_view e;
  ASSERT_EQ(parse_eth(f, e), drop::none);
  EXPECT_TRUE(e.dst.is_broadcast());
  EXPECT_EQ(e.src, src);
  arp_view a;
  ASSERT_EQ(parse_arp(e.payload, a), drop::none);
  EXPECT_EQ(a.op, 1);
  EXPECT_EQ(a.tpa.to_string(), "192.0.2.2");
  EXPECT_EQ(parse_eth(bytes(f).first(13), e), drop::eth_short);
  std::vector<std::byte> big(max_frame + 1);
  EXPECT_EQ(parse_eth(big, e), drop::eth_oversize);
  EXPECT_EQ(parse_arp(bytes(f).subspan(14, 27), a), drop::arp_malformed);
  auto bad = f;
  bad[14 + 7] = std::byte{3};  // op 3
  EXPECT_EQ(parse_arp(bytes(bad).subspan(14), a), drop::arp_op);

  std::vector<std::byte> echo = hex({8, 0, 0, 0, 0, 1, 0, 7, 'p', 'i', 'n', 'g'});
  std::uint16_t sum = checksum_fold(checksum_add(0, echo));
  std::memcpy(echo.data() + 2, &sum, 2);
  icmp_view m;
  ASSERT_EQ(parse_icmp(echo, m), drop::none);
  EXPECT_EQ(m.type, 8);
  make_echo_reply(echo.data(), echo.size());
  ASSERT_EQ(parse_icmp(echo, m), drop::none);
  EXPECT_EQ(m.type, 0);
  echo[9] = std::byte{'o'};
  EXPECT_EQ(parse_icmp(echo, m), drop::icmp_checksum);
  EXPECT_EQ(parse_icmp(bytes(echo).first(7), m), drop::icmp_short);
}

TEST(Wire, AddressesParseAndPrint) {
  EXPECT_EQ(mac::parse("02:00:c0:00:02:02")->to_string(), "02:00:c0:00:02:02");
  EXPECT_FALSE(mac::parse("02:00:c0:00:02"));
  EXPECT_FALSE(mac::parse("02-00-c0-00-02-02"));
  auto n = ipv4_net::parse("192.0.2.2/24");
  ASSERT_TRUE(n);
  EXPECT_TRUE(n->contains(*ipv4::parse("192.0.2.200")));
  EXPECT_FALSE(n->contains(*ipv4::parse("192.0.3.1")));
  EXPECT_EQ(n->broadcast().to_string(), "192.0.2.255");
  EXPECT_FALSE(ipv4_net::parse("192.0.2.2/33"));
  EXPECT_FALSE(ipv4_net::parse("192.0.2/24"));
}

}  // namespace
}  // namespace netstack
