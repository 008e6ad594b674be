// A packet on the send path: one buffer with headroom, so each layer writes its header in
// front of the payload in place (no copies until the ring slot). `waited` is set by whatever
// below made the send suspend (the TX ring full, an ARP resolution), so each layer can count
// its waits exactly.
#pragma once

#include "wire.hpp"

#include <cassert>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

namespace netstack {

struct packet {
  static constexpr std::size_t capacity = 2048;
  static constexpr std::size_t headroom = 64;  // Ethernet + IPv4 + UDP = 42

  std::uint16_t off = headroom, len = 0;
  bool waited = false;
  alignas(64) std::byte buf[capacity];

  // Room for the payload; set its size with set_payload().
  std::byte* payload() noexcept { return buf + headroom; }
  void set_payload(std::size_t n) noexcept {
    assert(n <= capacity - headroom);
    off = headroom;
    len = static_cast<std::uint16_t>(n);
    waited = false;
  }
  void assign(bytes payload_bytes) noexcept {
    std::memcpy(payload(), payload_bytes.data(), payload_bytes.size());
    set_payload(payload_bytes.size());
  }
  // A header of `n` bytes in front of what is there.
  std::byte* prepend(std::size_t n) noexcept {
    assert(off >= n);
    off = static_cast<std::uint16_t>(off - n);
    len = static_cast<std::uint16_t>(len + n);
    return buf + off;
  }
  std::byte* data() noexcept { return buf + off; }
  bytes view() const noexcept { return {buf + off, len}; }
};

}  // namespace netstack
