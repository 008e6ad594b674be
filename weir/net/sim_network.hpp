// weir::net under the sim backend (docs/architecture.md D11): TCP-like stream sockets between
// simulated hosts, in memory, on virtual time. weir::net's API is unchanged: code under test
// does not know it is simulated. Internal to weir::net (socket.cpp routes here when the shard
// runs on the sim backend); tests reach the fault settings through sim_faults().
//
// What it models: listeners (SO_REUSEPORT: several on one address, a connection picks one with
// the seed; a full backlog holds the connect until accept() makes room; no listener: refused),
// connect and accept after one network latency, a receive buffer of 64 KiB per direction (a
// writer waits for room: a peer that stops reading stops the writer), bytes delivered in order
// after a latency drawn from the seed, FIN (shutdown or close: the peer reads 0 after the data),
// RST when a socket is closed with unread data (the peer's next read or write gets
// ECONNRESET), local and peer addresses with ephemeral ports. Segments carry sequence numbers
// and the receiver reassembles them in order. Datagram (UDP) sockets: bound to an address,
// optionally connected, each datagram on its own latency (so they reorder), lost or duplicated
// at given rates, dropped and counted (drops(), SO_RXQ_OVFL) past a 208 KiB receive queue,
// truncated to the reader's buffer. Faults, drawn from the seed: short reads and writes (a
// random prefix), latency between bounds, resets injected into established connections at a
// given rate, datagram loss and duplication; by plan: partitions between hosts.
//
// Hosts are IP addresses (ports aside): a listener on 127.0.0.2 is another host than one on
// 127.0.0.1; a connecting socket's own address is 127.0.0.1 (::1). A partition between two
// hosts holds their stream traffic as TCP would: segments are retransmitted (200 ms, doubling
// to 3.2 s) until it heals, SYNs after 1, 2, 4 ... s (a connect fails with ETIMEDOUT after 127
// s), and RSTs and datagrams are lost.
//
// Sockets are placeholder descriptors (eventfds, so the numbers never collide with real ones);
// their fd_state is marked sim and the sim reactor hands their operations here.
#pragma once

#include <weir/core/detail/reactor.hpp>
#include <weir/core/result.hpp>
#include <weir/net/address.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>

namespace weir::net::sim {

struct faults {
  unsigned short_io_percent = 25;  // reads and writes that move a random shorter prefix
  std::chrono::microseconds latency_min{20}, latency_max{300};
  unsigned reset_per_mille = 0;  // writes that reset their connection instead (both ends see it)
  unsigned datagram_loss_per_mille = 0;  // datagrams that never arrive
  unsigned datagram_dup_per_mille = 0;   // datagrams that arrive twice (each on its own latency)
};

// Cuts or restores the network between the hosts of `a` and `b` (their IP addresses). False
// when the current shard does not run on the sim backend.
bool partition(const address& a, const address& b);
bool heal(const address& a, const address& b);

// The fault settings of the current runtime's network; null when the shard does not run on the
// sim backend. Change them from a task before the traffic they should affect.
faults* current_faults();

// For socket.cpp: null unless the current shard runs on the sim backend.
class network;
network* current();

result<int> stream_socket_fd(network& n, int family);  // a new unconnected stream socket
result<int> listen_fd(network& n, const address& at, bool reuse_port, int backlog, address& bound);
int try_accept(network& n, int listener_fd, address& peer);  // fd or -errno
int shutdown(network& n, int fd, int how);                   // 0 or -errno
std::optional<address> name(network& n, int fd, bool peer);
int peek(network& n, int fd);  // stream_socket::peek_state: 0 idle, 1 data, 2 end

// Datagram sockets (udp_socket under sim).
result<int> datagram_fd(network& n, const address& at);
int connect_datagram(network& n, int fd, const address& to);  // 0 or -errno
// Without waiting: the next datagram (its full size, -EAGAIN when none) / sends one.
struct received {
  std::size_t size = 0;
  bool truncated = false;
  address from;
  std::uint32_t drops = 0;  // dropped at this socket so far
};
int try_recv(network& n, int fd, std::span<std::byte> buf, received& out);
int try_send(network& n, int fd, std::span<const std::byte> buf, const address* to);

}  // namespace weir::net::sim
