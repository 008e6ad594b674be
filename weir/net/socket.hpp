// weir::net — TCP, Unix and UDP sockets on the shard's reactor (io_uring or epoll).
//
//   auto l = net::tcp_listener::bind(net::address::loopback_v4(8080));   // result<listener>
//   for (;;) {
//     auto s = co_await l->accept();                   // result<tcp_stream>
//     spawn_detached(serve(std::move(*s)));
//   }
//   auto c = co_await with_timeout(2s, net::tcp_stream::connect(addr));  // connect deadline
//   auto n = co_await c->read(buf);                    // result<size_t>; 0 = end of stream
//
// Every operation is cancellable by the awaiting task's token (with_timeout included); see
// weir/io/handle.hpp for what that guarantees about buffers. A socket belongs to the shard
// that first uses it. Listeners set SO_REUSEPORT by default, so each shard can bind the same
// address and accept its own connections without a hand-off.
//
// Accepting when the process is out of file descriptors (EMFILE/ENFILE) or memory does not
// fail and does not spin: accept() backs off (1 ms doubling to 100 ms), counts it, reports
// it on stderr at most once a second, and retries; the waiting connection stays in the
// kernel's backlog meanwhile.
#pragma once

#include <weir/core/task.hpp>
#include <weir/io/byte_stream.hpp>
#include <weir/io/handle.hpp>
#include <weir/net/address.hpp>

#include <chrono>
#include <cstdint>
#include <span>
#include <utility>

namespace weir::net {

// A connected stream socket: TCP (IPv4, IPv6) or Unix.
class stream_socket final : public io::byte_stream {
 public:
  stream_socket() noexcept = default;
  // Adopts a connected, non-blocking socket.
  explicit stream_socket(io::handle h, address peer = {}) noexcept : h_(std::move(h)), peer_(peer) {
    h_.state().stream = true;
  }
  stream_socket(stream_socket&&) noexcept = default;
  stream_socket& operator=(stream_socket&&) noexcept = default;

  // Connects to `to` (TCP sockets get TCP_NODELAY). Use with_timeout for a deadline.
  static task<result<stream_socket>> connect(address to);
  // Resolves `host` and tries its addresses in order until one connects.
  static task<result<stream_socket>> connect(std::string host, std::uint16_t port);
  // A connected pair of Unix sockets (tests, in-process pipes).
  static result<std::pair<stream_socket, stream_socket>> pair();

  // Reads up to buf.size() bytes: result<size_t>, 0 at the end of the stream.
  [[nodiscard]] io::op_awaiter read(std::span<std::byte> buf) noexcept;
  // Writes a prefix of buf: result<size_t>.
  [[nodiscard]] io::op_awaiter write(std::span<const std::byte> buf) noexcept;
  [[nodiscard]] io::op_awaiter writev(std::span<const iovec> bufs) noexcept;
  // Writes all of buf (several writes when the socket buffer is full).
  task<result<void>> write_all(std::span<const std::byte> buf);
  // Waits until the socket is readable (data, end of stream or an error).
  [[nodiscard]] io::op_awaiter readable() noexcept;

  result<void> shutdown(int how = SHUT_WR) noexcept;
  // Without waiting: whether bytes are waiting (data), the stream has ended (end: the peer's
  // FIN, a reset, an error), or neither (idle) — a pool checking a connection before reuse.
  enum class peek_state { idle, data, end };
  peek_state peek() noexcept;
  result<void> set_nodelay(bool on) noexcept;
  // SO_KEEPALIVE with TCP_KEEPIDLE / TCP_KEEPINTVL / TCP_KEEPCNT.
  result<void> set_keepalive(bool on, std::chrono::seconds idle = std::chrono::seconds(60),
                             std::chrono::seconds interval = std::chrono::seconds(10),
                             int count = 6) noexcept;
  result<address> local_address() const noexcept;
  result<address> peer_address() const noexcept;

  void close() noexcept { h_.close(); }
  bool is_open() const noexcept { return h_.is_open(); }
  io::handle& handle() noexcept { return h_; }

  // io::byte_stream
  task<result<std::size_t>> read_some(std::span<std::byte> buf) override;
  task<result<std::size_t>> write_some(std::span<const iovec> bufs) override;
  task<result<void>> shutdown_write() override;
  std::string peer_name() const override { return peer_.to_string(); }
  io::handle* plain_handle() noexcept override { return &h_; }

 private:
  io::handle h_;
  address peer_;
};

using tcp_stream = stream_socket;
using unix_stream = stream_socket;

struct listen_options {
  int backlog = 1024;
  bool reuse_port = true;  // SO_REUSEPORT: one listener per shard on the same address
  bool v6_only = false;    // IPv6 listeners also accept IPv4 (mapped) unless set
  std::chrono::milliseconds max_backoff{100};  // EMFILE/ENFILE back-off ceiling
};

class listener {
 public:
  listener() noexcept = default;
  listener(listener&&) noexcept = default;
  listener& operator=(listener&&) noexcept = default;

  // Binds and listens on `at` (TCP or, for a Unix address, a Unix stream socket; an
  // existing socket file at that path is replaced). Port 0 picks a free port.
  static result<listener> bind(const address& at, listen_options opts = {});

  // The next connection (TCP ones get TCP_NODELAY). Use with_timeout for a deadline.
  task<result<stream_socket>> accept();
  // A connection already waiting in the backlog, without waiting (EAGAIN when there is none):
  // a server that stops accepting takes these before close() would reset them.
  result<stream_socket> try_accept();

  const address& local_address() const noexcept { return local_; }
  void close() noexcept { h_.close(); }

  struct stats_t {
    std::uint64_t accepted = 0;
    std::uint64_t fd_exhausted = 0;  // EMFILE / ENFILE / ENOBUFS / ENOMEM back-offs
  };
  const stats_t& stats() const noexcept { return stats_; }

 private:
  io::handle h_;
  address local_;
  listen_options opts_;
  stats_t stats_;
  std::chrono::steady_clock::time_point last_report_{};
  std::uint64_t unreported_ = 0;
};

using tcp_listener = listener;
using unix_listener = listener;

// A server of thousands of connections needs thousands of descriptors: raises this process's
// soft RLIMIT_NOFILE to its hard limit (quietly keeps it when that fails).
void raise_fd_limit() noexcept;

// A UDP socket. Datagrams are never merged or split; a datagram larger than the buffer is
// truncated (the result says how long it was). Drops (the kernel's receive queue overflowing)
// are counted by the kernel: see `drops()` (SO_RXQ_OVFL).
class udp_socket {
 public:
  udp_socket() noexcept = default;
  udp_socket(udp_socket&&) noexcept = default;
  udp_socket& operator=(udp_socket&&) noexcept = default;

  // A socket bound to `at` (port 0: any free port).
  static result<udp_socket> bind(const address& at);
  // Sets the default peer (send/recv then need no address).
  result<void> connect(const address& to) noexcept;

  struct datagram {
    std::size_t size;  // bytes received (or the datagram's full length when truncated)
    bool truncated;
    address from;
  };
  task<result<datagram>> recv_from(std::span<std::byte> buf);
  // Batched receive: waits until a datagram is there, then takes up to bufs.size() in one
  // recvmmsg call. out[i] describes bufs[i]; returns how many were filled (>= 1).
  task<result<std::size_t>> recv_many(std::span<const std::span<std::byte>> bufs,
                                      std::span<datagram> out);
  // Batched send: one sendmmsg call per batch of datagrams (waiting for room when the socket
  // buffer is full). Returns how many were sent (all of them unless an error came first).
  task<result<std::size_t>> send_many(std::span<const std::span<const std::byte>> bufs,
                                      const address& to);
  task<result<std::size_t>> send_to(std::span<const std::byte> buf, const address& to);
  [[nodiscard]] io::op_awaiter send(std::span<const std::byte> buf) noexcept;
  [[nodiscard]] io::op_awaiter recv(std::span<std::byte> buf) noexcept;

  result<address> local_address() const noexcept;
  // Datagrams the kernel dropped for this socket because its receive queue was full (as of
  // the last recv_from or recv_many).
  std::uint64_t drops() const noexcept { return drops_; }
  void close() noexcept { h_.close(); }

 private:
  io::handle h_;
  std::uint64_t drops_ = 0;
};

}  // namespace weir::net
