// netstack's protocol layers. The send path is a chain of weir async interfaces, each
// implemented by the layer below it (so a test swaps any of them for a fake):
//
//   udp_socket::send_to -> l4_tx (udp_layer) -> l3_tx (ipv4_layer, with arp) -> l2_tx (ethernet)
//     -> link_tx (the TX ring, or a test's fake)
//
// Each send is a `task<result<void>>` that suspends while anything below it is full — the TX
// ring, ARP's table of pending resolutions — and never drops: a send either reaches the link or
// returns an error to its caller (no route, no ARP answer, too big). Counters per layer:
// sent, waited (the send suspended below it), errors, and sends in progress.
//
// The receive path is synchronous, as a NIC's interrupt handler is: ethernet::receive() parses
// a frame and hands it up (arp, ipv4 -> icmp, udp -> a socket's bounded queue). What it cannot
// take is dropped and counted with its layer and reason (wire.hpp's drop); a frame that takes
// work to answer (an ARP request, an ICMP echo) goes to a bounded queue that a task drains
// through the send path, so the receive path never waits on the send path.
#pragma once

#include "packet.hpp"
#include "wire.hpp"

#include <weir/core/metrics.hpp>
#include <weir/core/result.hpp>
#include <weir/core/task.hpp>
#include <weir/sync/notify.hpp>

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

namespace netstack {

struct tx_stats {
  std::uint64_t sent = 0, waited = 0, errors = 0;
  std::int64_t in_send = 0;  // sends in progress (suspended or running) in this layer
};

// Counts one send through a layer: in progress while it lasts; then sent or an error, and
// waited when something below suspended it.
struct counting {
  tx_stats& s;
  packet& p;
  counting(tx_stats& st, packet& pk) noexcept : s(st), p(pk) { ++s.in_send; }
  ~counting() { --s.in_send; }
  counting(const counting&) = delete;
  counting& operator=(const counting&) = delete;
  void done(bool ok) noexcept {
    ++(ok ? s.sent : s.errors);
    s.waited += p.waited;
  }
};

// Every counter of one stack (one shard: plain integers).
struct counters {
  tx_stats socket, udp, ipv4, ethernet, link;
  std::uint64_t rx_frames = 0, rx_arp = 0, rx_ipv4 = 0, rx_icmp = 0, rx_udp = 0;
  std::uint64_t arp_requests_sent = 0, arp_replies_sent = 0, arp_resolved = 0, arp_failed = 0;
  std::uint64_t icmp_echo_replies = 0;
  std::array<std::uint64_t, drop_count> drops{};

  void count(drop d) noexcept { ++drops[static_cast<std::size_t>(d)]; }
  std::uint64_t dropped(drop d) const noexcept { return drops[static_cast<std::size_t>(d)]; }
  void write(weir::metrics::prometheus_writer& w) const;
};

// ---- the send-path interfaces ----------------------------------------------------------------

class link_tx {
 public:
  virtual ~link_tx() = default;
  // Puts a whole Ethernet frame (p.view()) on the wire; waits while the link is full.
  virtual weir::task<weir::result<void>> send_frame(packet& p) = 0;
};

class l2_tx {
 public:
  virtual ~l2_tx() = default;
  virtual weir::task<weir::result<void>> send(packet& p, const mac& dst, std::uint16_t type) = 0;
};

class l3_tx {
 public:
  virtual ~l3_tx() = default;
  virtual weir::task<weir::result<void>> send(packet& p, ipv4 dst, std::uint8_t proto) = 0;
};

class l4_tx {
 public:
  virtual ~l4_tx() = default;
  virtual weir::task<weir::result<void>> send(packet& p, std::uint16_t src_port, ipv4 dst,
                                              std::uint16_t dst_port) = 0;
};

class arp;
class ipv4_layer;
class icmp_layer;
class udp_layer;

// ---- Ethernet ---------------------------------------------------------------------------------

class ethernet final : public l2_tx {
 public:
  ethernet(link_tx& link, mac self, counters& c) noexcept : link_(link), self_(self), c_(c) {}
  void attach(arp& a, ipv4_layer& ip) noexcept {
    arp_ = &a;
    ip_ = &ip;
  }
  const mac& address() const noexcept { return self_; }

  weir::task<weir::result<void>> send(packet& p, const mac& dst, std::uint16_t type) override;
  void receive(bytes frame) noexcept;

 private:
  link_tx& link_;
  mac self_;
  counters& c_;
  arp* arp_ = nullptr;
  ipv4_layer* ip_ = nullptr;
};

// ---- ARP --------------------------------------------------------------------------------------

struct arp_options {
  std::chrono::milliseconds entry_ttl{60'000};
  std::chrono::milliseconds retry_interval{1'000};
  int attempts = 3;
  std::size_t max_pending = 16;  // destinations being resolved at once; more wait
  std::size_t reply_queue = 64;  // requests to answer; more are dropped (counted)
};

class arp {
 public:
  arp(l2_tx& l2, mac self_mac, ipv4 self_ip, counters& c, arp_options o = {});
  ~arp();

  // The table's answer for `ip`, or nullptr (then resolve()).
  const mac* lookup(ipv4 ip) const noexcept {
    auto it = table_.find(ip.v);
    return it == table_.end() ? nullptr : &it->second.m;
  }
  // Asks the network (broadcast requests, retried) and waits for the answer, marking
  // `p.waited`; errc::timed_out-like failure: EHOSTUNREACH once every attempt went unanswered.
  // Waits while max_pending other destinations are being resolved.
  weir::task<weir::result<mac>> resolve(ipv4 ip, packet& p);
  // A received ARP packet: learns the sender (RFC 826: when it is in the table or asks for us)
  // and queues the answer to a request for our address.
  void receive(const arp_view& v) noexcept;
  // Sends the queued answers and forgets entries past their time; until cancelled.
  weir::task<> run();
  // Adds or refreshes an entry (tests, static entries).
  void learn(ipv4 ip, const mac& m) noexcept;
  std::size_t size() const noexcept { return table_.size(); }

 private:
  struct entry {
    mac m;
    std::chrono::steady_clock::time_point expires;
  };
  struct pending {
    ipv4 ip;
    unsigned waiters = 0;
    weir::notify answered;
    char label[48] = "";
  };
  struct reply {
    mac to;
    ipv4 ip;
  };
  void expire() noexcept;

  l2_tx& l2_;
  mac self_mac_;
  ipv4 self_ip_;
  counters& c_;
  arp_options o_;
  std::unordered_map<std::uint32_t, entry> table_;
  std::vector<std::unique_ptr<pending>> pending_;  // max_pending slots; waiters == 0: free
  weir::notify slot_freed_;
  char slot_label_[64] = "";
  std::vector<reply> replies_;  // bounded by reply_queue
  weir::notify replies_ready_;
  packet out_;  // run()'s frame
};

// ---- IPv4 -------------------------------------------------------------------------------------

class ipv4_layer final : public l3_tx {
 public:
  ipv4_layer(l2_tx& l2, arp& a, const mac& self_mac, ipv4_net net, ipv4 gateway,
             counters& c) noexcept
      : l2_(l2), arp_(a), self_mac_(self_mac), net_(net), gateway_(gateway), c_(c) {}
  void attach(icmp_layer& i, udp_layer& u) noexcept {
    icmp_ = &i;
    udp_ = &u;
  }
  ipv4 address() const noexcept { return net_.addr; }

  weir::task<weir::result<void>> send(packet& p, ipv4 dst, std::uint8_t proto) override;
  void receive(bytes packet_bytes) noexcept;

 private:
  l2_tx& l2_;
  arp& arp_;
  mac self_mac_;
  ipv4_net net_;
  ipv4 gateway_;  // 0.0.0.0: none (only the local network is reachable)
  counters& c_;
  std::uint16_t next_id_ = 1;
  icmp_layer* icmp_ = nullptr;
  udp_layer* udp_ = nullptr;
};

// ---- ICMP: echo ------------------------------------------------------------------------------

class icmp_layer {
 public:
  icmp_layer(l3_tx& l3, counters& c, std::size_t queue = 64);
  void receive(const ipv4_view& ip) noexcept;
  // Answers the queued echo requests; until cancelled.
  weir::task<> run();

 private:
  struct request {
    ipv4 from;
    std::uint16_t size = 0;
    std::array<std::byte, mtu - ipv4_header_size> msg;
  };
  l3_tx& l3_;
  counters& c_;
  std::vector<request> ring_;  // fixed capacity: head_/count_
  std::size_t head_ = 0, count_ = 0;
  weir::notify ready_;
  packet out_;
};

// ---- UDP and its sockets ----------------------------------------------------------------------

struct endpoint {
  ipv4 addr;
  std::uint16_t port = 0;
  std::string to_string() const { return addr.to_string() + ':' + std::to_string(port); }
};

struct datagram {
  std::size_t size = 0;  // bytes copied into the caller's buffer
  bool truncated = false;
  endpoint from;
};

class udp_socket;

class udp_layer final : public l4_tx {
 public:
  udp_layer(l3_tx& l3, ipv4 self, counters& c) noexcept : l3_(l3), self_(self), c_(c) {}
  weir::task<weir::result<void>> send(packet& p, std::uint16_t src_port, ipv4 dst,
                                      std::uint16_t dst_port) override;
  void receive(const ipv4_view& ip) noexcept;

  counters& stats() noexcept { return c_; }

 private:
  friend class udp_socket;
  l3_tx& l3_;
  ipv4 self_;
  counters& c_;
  std::unordered_map<std::uint16_t, udp_socket*> ports_;
  std::uint16_t next_ephemeral_ = 49152;
};

// A bound UDP port. send_to waits while anything below is full and never drops; received
// datagrams wait in a bounded queue (full: dropped and counted, as the kernel's receive buffer).
class udp_socket {
 public:
  // Port 0 picks a free one from 49152 up. EADDRINUSE when the port is taken.
  static weir::result<std::unique_ptr<udp_socket>> bind(udp_layer& u, std::uint16_t port,
                                                        l4_tx* tx = nullptr,
                                                        std::size_t queue = 256);
  ~udp_socket();
  udp_socket(const udp_socket&) = delete;
  udp_socket& operator=(const udp_socket&) = delete;

  std::uint16_t port() const noexcept { return port_; }
  // Copies `payload` (at most 1472 bytes) into a packet and sends it.
  weir::task<weir::result<void>> send_to(bytes payload, endpoint to);
  // Sends the payload already in `p` (p.payload(), p.set_payload()): no copy.
  weir::task<weir::result<void>> send_to(packet& p, endpoint to);
  // The oldest queued datagram, copied into `buf`; waits up to `timeout` (errc::timed_out).
  weir::task<weir::result<datagram>> recv_from(std::span<std::byte> buf,
                                               std::chrono::nanoseconds timeout);
  std::size_t queued() const noexcept { return count_; }

 private:
  udp_socket(udp_layer& u, l4_tx& tx, std::uint16_t port, std::size_t queue);
  friend class udp_layer;
  void deliver(endpoint from, bytes payload) noexcept;

  struct slot {
    endpoint from;
    std::uint16_t size = 0;
    std::array<std::byte, max_udp_payload> data;
  };
  udp_layer& u_;
  l4_tx& tx_;
  std::uint16_t port_;
  std::vector<slot> ring_;
  std::size_t head_ = 0, count_ = 0;
  weir::notify readable_;
  char label_[40] = "";
};

// ---- the whole stack ---------------------------------------------------------------------------

struct stack_options {
  ipv4_net addr;
  mac self_mac;
  ipv4 gateway;
  arp_options arp;
};

// The layers wired together over `link`, counting into `c` (which the link may share: its
// tx_stats `link`). receive() takes frames from the link; run() is the background work (ARP
// answers and expiry, ICMP echo answers), until cancelled.
struct stack {
  stack(link_tx& link, const stack_options& o, counters& c);
  void receive(bytes frame) noexcept { eth.receive(frame); }
  weir::task<> run();

  counters& c;
  ethernet eth;
  netstack::arp arp;
  ipv4_layer ip;
  icmp_layer icmp;
  udp_layer udp;
};

}  // namespace netstack
