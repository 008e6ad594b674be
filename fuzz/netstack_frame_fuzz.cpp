// netstack's receive path on arbitrary frames: every layer's parser, the ARP table, the ICMP
// and UDP queues. Whatever arrives is taken or counted as a drop; nothing crashes, and the
// counters account for every frame.
#include "layers.hpp"

#include <cstdlib>

namespace {

// The send path is not exercised here: nothing runs the stack's tasks.
class null_link final : public netstack::link_tx {
 public:
  weir::task<weir::result<void>> send_frame(netstack::packet&) override {
    co_return weir::result<void>{};
  }
};

struct fixture {
  null_link link;
  netstack::counters c;
  netstack::stack s;
  std::unique_ptr<netstack::udp_socket> echo;
  fixture() : s(link, options(), c), echo(std::move(*netstack::udp_socket::bind(s.udp, 7))) {}
  static netstack::stack_options options() {
    netstack::stack_options o;
    o.addr = {{0xc0000202}, 24};
    o.self_mac = {{2, 0, 0xc0, 0, 2, 2}};
    return o;
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static fixture f;
  const std::uint64_t frames = f.c.rx_frames;
  std::uint64_t drops = 0;
  for (auto d : f.c.drops) drops += d;
  const std::uint64_t taken = f.c.rx_arp + f.c.rx_ipv4;
  f.s.receive({reinterpret_cast<const std::byte*>(data), size});
  std::uint64_t drops_after = 0;
  for (auto d : f.c.drops) drops_after += d;
  // One frame in: either a layer took it (ARP or IPv4) or Ethernet/ARP dropped it.
  if (f.c.rx_frames != frames + 1) std::abort();
  if (f.c.rx_arp + f.c.rx_ipv4 + drops_after < taken + drops + 1) std::abort();
  return 0;
}
