// netstack's wire formats, sans-I/O: addresses, the Internet checksum, and the Ethernet, ARP,
// IPv4, ICMP and UDP headers — parsed into views that point into the frame (each parse names
// the reason when the bytes are not acceptable) and written in place in front of a payload.
// Nothing here allocates or blocks; the layers (layers.hpp) and the fuzzer call these.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace netstack {

using bytes = std::span<const std::byte>;

struct mac {
  std::array<std::uint8_t, 6> b{};
  static constexpr mac broadcast() { return {{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}}; }
  bool is_broadcast() const noexcept { return *this == broadcast(); }
  bool is_multicast() const noexcept { return (b[0] & 1) != 0; }
  bool operator==(const mac&) const = default;
  std::string to_string() const;
  static std::optional<mac> parse(std::string_view s);  // "02:00:00:00:00:02"
};

struct ipv4 {
  std::uint32_t v = 0;  // host byte order
  bool operator==(const ipv4&) const = default;
  std::string to_string() const;
  static std::optional<ipv4> parse(std::string_view s);  // dotted quad
};

// An interface address with its prefix: 192.0.2.2/24.
struct ipv4_net {
  ipv4 addr;
  int prefix = 32;
  std::uint32_t mask() const noexcept {
    return prefix == 0 ? 0 : ~std::uint32_t{0} << (32 - prefix);
  }
  bool contains(ipv4 a) const noexcept { return (a.v & mask()) == (addr.v & mask()); }
  ipv4 broadcast() const noexcept { return {addr.v | ~mask()}; }
  static std::optional<ipv4_net> parse(std::string_view s);
};

inline constexpr std::uint16_t ethertype_ipv4 = 0x0800;
inline constexpr std::uint16_t ethertype_arp = 0x0806;
inline constexpr std::uint8_t proto_icmp = 1;
inline constexpr std::uint8_t proto_udp = 17;
inline constexpr std::size_t eth_header_size = 14;
inline constexpr std::size_t arp_size = 28;
inline constexpr std::size_t ipv4_header_size = 20;  // without options (we send none)
inline constexpr std::size_t udp_header_size = 8;
inline constexpr std::size_t icmp_header_size = 8;
inline constexpr std::size_t mtu = 1500;
inline constexpr std::size_t max_frame = eth_header_size + mtu;
inline constexpr std::size_t max_udp_payload = mtu - ipv4_header_size - udp_header_size;  // 1472

// Why a received frame was not taken, or (send path: never expected) not sent. Each is a
// counter, labelled with its layer and reason.
enum class drop : std::uint8_t {
  none,
  eth_short,             // shorter than an Ethernet header
  eth_oversize,          // longer than the MTU allows
  eth_not_for_us,        // another station's unicast address
  eth_ethertype,         // neither IPv4 nor ARP
  arp_malformed,         // short, or not Ethernet/IPv4 ARP
  arp_op,                // neither request nor reply
  arp_reply_queue_full,  // a request we could not answer now (the kernel asks again)
  ipv4_short,
  ipv4_version,
  ipv4_ihl,  // header length under 20 or past the packet
  ipv4_checksum,
  ipv4_length,    // total length past the frame or under the header
  ipv4_fragment,  // fragments are not reassembled
  ipv4_not_for_us,
  ipv4_protocol,  // neither ICMP nor UDP
  icmp_short,
  icmp_checksum,
  icmp_type,        // not an echo request
  icmp_queue_full,  // the echo responder is behind: the request is not answered
  udp_short,
  udp_length,
  udp_checksum,
  udp_no_port,      // nobody bound the destination port
  udp_rcvbuf_full,  // the socket's receive queue is full (as the kernel does)
  count_
};
inline constexpr std::size_t drop_count = static_cast<std::size_t>(drop::count_);
const char* drop_layer(drop d) noexcept;   // "ethernet", "arp", "ipv4", "icmp", "udp"
const char* drop_reason(drop d) noexcept;  // "short", "checksum", ...

// The Internet checksum (RFC 1071): sum the 16-bit words, fold, complement.
std::uint32_t checksum_add(std::uint32_t sum, bytes data) noexcept;
std::uint16_t checksum_fold(std::uint32_t sum) noexcept;

struct eth_view {
  mac dst, src;
  std::uint16_t type = 0;
  bytes payload;
};
drop parse_eth(bytes frame, eth_view& out) noexcept;
void write_eth(std::byte* at, const mac& dst, const mac& src, std::uint16_t type) noexcept;

struct arp_view {
  std::uint16_t op = 0;  // 1 request, 2 reply
  mac sha, tha;
  ipv4 spa, tpa;
};
drop parse_arp(bytes payload, arp_view& out) noexcept;
void write_arp(std::byte* at, std::uint16_t op, const mac& sha, ipv4 spa, const mac& tha,
               ipv4 tpa) noexcept;

struct ipv4_view {
  std::uint8_t ttl = 0, proto = 0;
  std::uint16_t id = 0;
  ipv4 src, dst;
  bytes payload;  // cut to the total length (Ethernet pads short frames)
};
drop parse_ipv4(bytes packet, ipv4_view& out) noexcept;
// A 20-byte header for `payload_size` bytes that follow it, checksum included; DF set.
void write_ipv4(std::byte* at, std::size_t payload_size, std::uint16_t id, std::uint8_t ttl,
                std::uint8_t proto, ipv4 src, ipv4 dst) noexcept;

struct udp_view {
  std::uint16_t src_port = 0, dst_port = 0;
  bytes payload;
};
drop parse_udp(bytes segment, ipv4 src, ipv4 dst, udp_view& out) noexcept;
// The header in front of `payload_size` bytes at at + 8, with the checksum over the pseudo-header.
void write_udp(std::byte* at, std::uint16_t src_port, std::uint16_t dst_port,
               std::size_t payload_size, ipv4 src, ipv4 dst) noexcept;

struct icmp_view {
  std::uint8_t type = 0, code = 0;
  bytes message;  // the whole ICMP message
};
drop parse_icmp(bytes message, icmp_view& out) noexcept;
// An echo reply in place of the request's bytes (`msg`, already copied at `at`): type 0,
// checksum recomputed.
void make_echo_reply(std::byte* at, std::size_t size) noexcept;

}  // namespace netstack
