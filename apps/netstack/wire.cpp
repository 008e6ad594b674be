#include "wire.hpp"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

namespace netstack {
namespace {

std::uint16_t get16(const std::byte* p) noexcept {
  return static_cast<std::uint16_t>((std::to_integer<unsigned>(p[0]) << 8) |
                                    std::to_integer<unsigned>(p[1]));
}
std::uint32_t get32(const std::byte* p) noexcept {
  return (std::uint32_t{get16(p)} << 16) | get16(p + 2);
}
void put16(std::byte* p, std::uint16_t v) noexcept {
  p[0] = static_cast<std::byte>(v >> 8);
  p[1] = static_cast<std::byte>(v);
}
void put32(std::byte* p, std::uint32_t v) noexcept {
  put16(p, static_cast<std::uint16_t>(v >> 16));
  put16(p + 2, static_cast<std::uint16_t>(v));
}
void put_mac(std::byte* p, const mac& m) noexcept { std::memcpy(p, m.b.data(), 6); }
mac get_mac(const std::byte* p) noexcept {
  mac m;
  std::memcpy(m.b.data(), p, 6);
  return m;
}
// The checksum field as the sum computes it: memory order (see checksum_add).
void put_sum(std::byte* p, std::uint16_t v) noexcept { std::memcpy(p, &v, 2); }

// The pseudo-header's sum (RFC 768): addresses, protocol, length.
std::uint32_t pseudo_sum(ipv4 src, ipv4 dst, std::uint8_t proto, std::size_t len) noexcept {
  std::byte ph[12];
  put32(ph, src.v);
  put32(ph + 4, dst.v);
  ph[8] = std::byte{0};
  ph[9] = static_cast<std::byte>(proto);
  put16(ph + 10, static_cast<std::uint16_t>(len));
  return checksum_add(0, ph);
}

}  // namespace

std::string mac::to_string() const {
  static constexpr char hex[] = "0123456789abcdef";
  std::string s;
  for (std::size_t i = 0; i < 6; ++i) {
    if (i) s += ':';
    s += hex[b[i] >> 4];
    s += hex[b[i] & 15];
  }
  return s;
}

std::optional<mac> mac::parse(std::string_view s) {
  mac m;
  if (s.size() != 17) return std::nullopt;
  for (std::size_t i = 0; i < 6; ++i) {
    if (i && s[i * 3 - 1] != ':') return std::nullopt;
    unsigned v = 0;
    auto [p, ec] = std::from_chars(s.data() + i * 3, s.data() + i * 3 + 2, v, 16);
    if (ec != std::errc() || p != s.data() + i * 3 + 2) return std::nullopt;
    m.b[i] = static_cast<std::uint8_t>(v);
  }
  return m;
}

std::string ipv4::to_string() const {
  return std::to_string(v >> 24) + '.' + std::to_string((v >> 16) & 255) + '.' +
         std::to_string((v >> 8) & 255) + '.' + std::to_string(v & 255);
}

std::optional<ipv4> ipv4::parse(std::string_view s) {
  in_addr a{};
  const std::string z(s);
  if (inet_pton(AF_INET, z.c_str(), &a) != 1) return std::nullopt;
  return ipv4{ntohl(a.s_addr)};
}

std::optional<ipv4_net> ipv4_net::parse(std::string_view s) {
  const auto slash = s.find('/');
  auto a = ipv4::parse(s.substr(0, slash));
  if (!a) return std::nullopt;
  ipv4_net n{*a, 32};
  if (slash != std::string_view::npos) {
    const std::string_view p = s.substr(slash + 1);
    auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), n.prefix);
    if (ec != std::errc() || end != p.data() + p.size() || n.prefix < 0 || n.prefix > 32)
      return std::nullopt;
  }
  return n;
}

const char* drop_layer(drop d) noexcept {
  switch (d) {
    case drop::none: return "none";
    case drop::eth_short:
    case drop::eth_oversize:
    case drop::eth_not_for_us:
    case drop::eth_ethertype: return "ethernet";
    case drop::arp_malformed:
    case drop::arp_op:
    case drop::arp_reply_queue_full: return "arp";
    case drop::ipv4_short:
    case drop::ipv4_version:
    case drop::ipv4_ihl:
    case drop::ipv4_checksum:
    case drop::ipv4_length:
    case drop::ipv4_fragment:
    case drop::ipv4_not_for_us:
    case drop::ipv4_protocol: return "ipv4";
    case drop::icmp_short:
    case drop::icmp_checksum:
    case drop::icmp_type:
    case drop::icmp_queue_full: return "icmp";
    case drop::udp_short:
    case drop::udp_length:
    case drop::udp_checksum:
    case drop::udp_no_port:
    case drop::udp_rcvbuf_full: return "udp";
    case drop::count_: break;
  }
  return "?";
}

const char* drop_reason(drop d) noexcept {
  switch (d) {
    case drop::none: return "none";
    case drop::eth_short: return "short";
    case drop::eth_oversize: return "oversize";
    case drop::eth_not_for_us: return "not_for_us";
    case drop::eth_ethertype: return "ethertype";
    case drop::arp_malformed: return "malformed";
    case drop::arp_op: return "op";
    case drop::arp_reply_queue_full: return "reply_queue_full";
    case drop::ipv4_short: return "short";
    case drop::ipv4_version: return "version";
    case drop::ipv4_ihl: return "ihl";
    case drop::ipv4_checksum: return "checksum";
    case drop::ipv4_length: return "length";
    case drop::ipv4_fragment: return "fragment";
    case drop::ipv4_not_for_us: return "not_for_us";
    case drop::ipv4_protocol: return "protocol";
    case drop::icmp_short: return "short";
    case drop::icmp_checksum: return "checksum";
    case drop::icmp_type: return "type";
    case drop::icmp_queue_full: return "queue_full";
    case drop::udp_short: return "short";
    case drop::udp_length: return "length";
    case drop::udp_checksum: return "checksum";
    case drop::udp_no_port: return "no_port";
    case drop::udp_rcvbuf_full: return "rcvbuf_full";
    case drop::count_: break;
  }
  return "?";
}

// Sums in memory order, 8 bytes at a time (RFC 1071's byte-order independence: the folded sum
// stored back in memory order is the right checksum); every call but the last must cover an
// even number of bytes.
std::uint32_t checksum_add(std::uint32_t sum, bytes data) noexcept {
  std::uint64_t acc = sum;
  const std::byte* p = data.data();
  std::size_t n = data.size();
  while (n >= 8) {
    std::uint64_t v;
    std::memcpy(&v, p, 8);
    acc += v;
    acc += acc < v;  // the end-around carry
    p += 8;
    n -= 8;
  }
  if (n >= 4) {
    std::uint32_t v;
    std::memcpy(&v, p, 4);
    acc += v;
    p += 4;
    n -= 4;
  }
  if (n >= 2) {
    std::uint16_t v;
    std::memcpy(&v, p, 2);
    acc += v;
    p += 2;
    n -= 2;
  }
  if (n) {
    const std::byte last[2] = {*p, std::byte{0}};
    std::uint16_t v;
    std::memcpy(&v, last, 2);
    acc += v;
  }
  acc = (acc & 0xffffffff) + (acc >> 32);
  acc = (acc & 0xffffffff) + (acc >> 32);
  return static_cast<std::uint32_t>(acc);
}

std::uint16_t checksum_fold(std::uint32_t sum) noexcept {
  sum = (sum & 0xffff) + (sum >> 16);
  sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(~sum);
}

drop parse_eth(bytes f, eth_view& out) noexcept {
  if (f.size() < eth_header_size) return drop::eth_short;
  if (f.size() > max_frame) return drop::eth_oversize;
  out.dst = get_mac(f.data());
  out.src = get_mac(f.data() + 6);
  out.type = get16(f.data() + 12);
  out.payload = f.subspan(eth_header_size);
  return drop::none;
}

void write_eth(std::byte* at, const mac& dst, const mac& src, std::uint16_t type) noexcept {
  put_mac(at, dst);
  put_mac(at + 6, src);
  put16(at + 12, type);
}

drop parse_arp(bytes p, arp_view& out) noexcept {
  if (p.size() < arp_size) return drop::arp_malformed;
  // Ethernet hardware (1), IPv4 protocol, address lengths 6 and 4.
  if (get16(p.data()) != 1 || get16(p.data() + 2) != ethertype_ipv4 ||
      std::to_integer<int>(p[4]) != 6 || std::to_integer<int>(p[5]) != 4)
    return drop::arp_malformed;
  out.op = get16(p.data() + 6);
  if (out.op != 1 && out.op != 2) return drop::arp_op;
  out.sha = get_mac(p.data() + 8);
  out.spa = {get32(p.data() + 14)};
  out.tha = get_mac(p.data() + 18);
  out.tpa = {get32(p.data() + 24)};
  return drop::none;
}

void write_arp(std::byte* at, std::uint16_t op, const mac& sha, ipv4 spa, const mac& tha,
               ipv4 tpa) noexcept {
  put16(at, 1);
  put16(at + 2, ethertype_ipv4);
  at[4] = std::byte{6};
  at[5] = std::byte{4};
  put16(at + 6, op);
  put_mac(at + 8, sha);
  put32(at + 14, spa.v);
  put_mac(at + 18, tha);
  put32(at + 24, tpa.v);
}

drop parse_ipv4(bytes p, ipv4_view& out) noexcept {
  if (p.size() < ipv4_header_size) return drop::ipv4_short;
  const unsigned vihl = std::to_integer<unsigned>(p[0]);
  if ((vihl >> 4) != 4) return drop::ipv4_version;
  const std::size_t ihl = (vihl & 15) * 4;
  if (ihl < ipv4_header_size || ihl > p.size()) return drop::ipv4_ihl;
  if (checksum_fold(checksum_add(0, p.first(ihl))) != 0) return drop::ipv4_checksum;
  const std::size_t total = get16(p.data() + 2);
  if (total < ihl || total > p.size()) return drop::ipv4_length;
  const std::uint16_t frag = get16(p.data() + 6);
  if ((frag & 0x2000) || (frag & 0x1fff)) return drop::ipv4_fragment;  // MF or an offset
  out.id = get16(p.data() + 4);
  out.ttl = std::to_integer<std::uint8_t>(p[8]);
  out.proto = std::to_integer<std::uint8_t>(p[9]);
  out.src = {get32(p.data() + 12)};
  out.dst = {get32(p.data() + 16)};
  out.payload = p.subspan(ihl, total - ihl);
  return drop::none;
}

void write_ipv4(std::byte* at, std::size_t payload_size, std::uint16_t id, std::uint8_t ttl,
                std::uint8_t proto, ipv4 src, ipv4 dst) noexcept {
  at[0] = std::byte{0x45};
  at[1] = std::byte{0};
  put16(at + 2, static_cast<std::uint16_t>(ipv4_header_size + payload_size));
  put16(at + 4, id);
  put16(at + 6, 0x4000);  // DF: we never fragment
  at[8] = static_cast<std::byte>(ttl);
  at[9] = static_cast<std::byte>(proto);
  put16(at + 10, 0);
  put32(at + 12, src.v);
  put32(at + 16, dst.v);
  put_sum(at + 10, checksum_fold(checksum_add(0, {at, ipv4_header_size})));
}

drop parse_udp(bytes s, ipv4 src, ipv4 dst, udp_view& out) noexcept {
  if (s.size() < udp_header_size) return drop::udp_short;
  const std::size_t len = get16(s.data() + 4);
  if (len < udp_header_size || len > s.size()) return drop::udp_length;
  s = s.first(len);
  std::uint16_t sum;
  std::memcpy(&sum, s.data() + 6, 2);
  if (sum != 0 &&  // 0: the sender computed none
      checksum_fold(checksum_add(pseudo_sum(src, dst, proto_udp, len), s)) != 0)
    return drop::udp_checksum;
  out.src_port = get16(s.data());
  out.dst_port = get16(s.data() + 2);
  out.payload = s.subspan(udp_header_size);
  return drop::none;
}

void write_udp(std::byte* at, std::uint16_t src_port, std::uint16_t dst_port,
               std::size_t payload_size, ipv4 src, ipv4 dst) noexcept {
  const std::size_t len = udp_header_size + payload_size;
  put16(at, src_port);
  put16(at + 2, dst_port);
  put16(at + 4, static_cast<std::uint16_t>(len));
  put16(at + 6, 0);
  std::uint16_t sum = checksum_fold(checksum_add(pseudo_sum(src, dst, proto_udp, len), {at, len}));
  if (sum == 0) sum = 0xffff;  // 0 would mean "no checksum"
  put_sum(at + 6, sum);
}

drop parse_icmp(bytes m, icmp_view& out) noexcept {
  if (m.size() < icmp_header_size) return drop::icmp_short;
  if (checksum_fold(checksum_add(0, m)) != 0) return drop::icmp_checksum;
  out.type = std::to_integer<std::uint8_t>(m[0]);
  out.code = std::to_integer<std::uint8_t>(m[1]);
  out.message = m;
  return drop::none;
}

void make_echo_reply(std::byte* at, std::size_t size) noexcept {
  at[0] = std::byte{0};  // echo reply
  at[1] = std::byte{0};
  put16(at + 2, 0);
  put_sum(at + 2, checksum_fold(checksum_add(0, {at, size})));
}

}  // namespace netstack
