#include <weir/net/socket.hpp>

#include <weir/core/log.hpp>
#include <weir/core/time.hpp>
#include <weir/net/sim_network.hpp>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

namespace weir::net {

using kind = detail::io_op::kind;

namespace {

// Under the sim backend a stream socket of the simulated network (sim_network.hpp).
io::handle sim_handle(int fd) noexcept {
  io::handle h(fd);
  h.state().sim = true;
  return h;
}

result<io::handle> make_socket(int family, int type) noexcept {
  if (sim::network* n = sim::current(); n && type == SOCK_STREAM) {
    WEIR_TRY_ASSIGN(int fd, sim::stream_socket_fd(*n, family));
    return sim_handle(fd);
  }
  const int fd = ::socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return unexpected(io::last_error());
  return io::handle(fd);
}

result<void> setopt(int fd, int level, int name, int value) noexcept {
  if (sim::network* n = sim::current(); n && sim::name(*n, fd, false)) return {};  // no options
  if (::setsockopt(fd, level, name, &value, sizeof value) < 0) return unexpected(io::last_error());
  return {};
}

result<address> sockname(int fd, bool peer) noexcept {
  if (sim::network* n = sim::current())
    if (auto a = sim::name(*n, fd, peer)) return *a;
  address a;
  socklen_t len = address::capacity();
  const int r = peer ? ::getpeername(fd, a.data(), &len) : ::getsockname(fd, a.data(), &len);
  if (r < 0) return unexpected(io::last_error());
  a.set_size(len);
  return a;
}

bool is_tcp(const address& a) noexcept { return a.family() == AF_INET || a.family() == AF_INET6; }

}  // namespace

// --- stream_socket ----------------------------------------------------------------------------

task<result<stream_socket>> stream_socket::connect(address to) {
  WEIR_CO_TRY_ASSIGN(auto h, make_socket(to.family(), SOCK_STREAM));
  if (is_tcp(to)) (void)setopt(h.fd(), IPPROTO_TCP, TCP_NODELAY, 1);
  io::op_awaiter op(h, kind::connect);
  op.op().addr = to.data();
  op.op().addrlen = to.size();
  WEIR_CO_TRY(co_await op);
  co_return stream_socket(std::move(h), to);
}

task<result<stream_socket>> stream_socket::connect(std::string host, std::uint16_t port) {
  WEIR_CO_TRY_ASSIGN(auto addrs, co_await resolve(std::move(host), port));
  std::error_code last = std::make_error_code(std::errc::host_unreachable);
  for (const address& a : addrs) {
    auto s = co_await connect(a);
    if (s) co_return std::move(*s);
    last = s.error();
    if (last == errc::cancelled || last == errc::timed_out) break;
  }
  co_return unexpected(last);
}

result<std::pair<stream_socket, stream_socket>> stream_socket::pair() {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) < 0)
    return unexpected(io::last_error());
  return std::pair{stream_socket(io::handle(fds[0])), stream_socket(io::handle(fds[1]))};
}

io::op_awaiter stream_socket::read(std::span<std::byte> buf) noexcept {
  io::op_awaiter a(h_, kind::read);
  a.op().buf = buf.data();
  a.op().len = buf.size();
  return a;
}

io::op_awaiter stream_socket::write(std::span<const std::byte> buf) noexcept {
  io::op_awaiter a(h_, kind::write);
  a.op().buf = const_cast<std::byte*>(buf.data());
  a.op().len = buf.size();
  return a;
}

io::op_awaiter stream_socket::writev(std::span<const iovec> bufs) noexcept {
  io::op_awaiter a(h_, kind::writev);
  a.op().iov = bufs.data();
  a.op().iovcnt = static_cast<int>(std::min<std::size_t>(bufs.size(), IOV_MAX));
  return a;
}

io::op_awaiter stream_socket::readable() noexcept { return io::op_awaiter(h_, kind::poll_in); }

task<result<void>> stream_socket::write_all(std::span<const std::byte> buf) {
  while (!buf.empty()) {
    WEIR_CO_TRY_ASSIGN(auto n, co_await write(buf));
    buf = buf.subspan(n);
  }
  co_return result<void>{};
}

result<void> stream_socket::shutdown(int how) noexcept {
  if (h_.state().sim) {
    sim::network* n = sim::current();
    const int r = n ? sim::shutdown(*n, h_.fd(), how) : -EBADF;
    if (r < 0) return unexpected(std::error_code(-r, std::system_category()));
    return {};
  }
  if (::shutdown(h_.fd(), how) < 0) return unexpected(io::last_error());
  return {};
}

stream_socket::peek_state stream_socket::peek() noexcept {
  if (h_.state().sim) {
    sim::network* n = sim::current();
    return n ? static_cast<peek_state>(sim::peek(*n, h_.fd())) : peek_state::end;
  }
  char b;
  const ssize_t n = ::recv(h_.fd(), &b, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n > 0) return peek_state::data;
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return peek_state::idle;
  return peek_state::end;
}

result<void> stream_socket::set_nodelay(bool on) noexcept {
  return setopt(h_.fd(), IPPROTO_TCP, TCP_NODELAY, on ? 1 : 0);
}

result<void> stream_socket::set_keepalive(bool on, std::chrono::seconds idle,
                                          std::chrono::seconds interval, int count) noexcept {
  if (auto r = setopt(h_.fd(), SOL_SOCKET, SO_KEEPALIVE, on ? 1 : 0); !r || !on) return r;
  if (auto r = setopt(h_.fd(), IPPROTO_TCP, TCP_KEEPIDLE, static_cast<int>(idle.count())); !r)
    return r;
  if (auto r = setopt(h_.fd(), IPPROTO_TCP, TCP_KEEPINTVL, static_cast<int>(interval.count())); !r)
    return r;
  return setopt(h_.fd(), IPPROTO_TCP, TCP_KEEPCNT, count);
}

result<address> stream_socket::local_address() const noexcept {
  return sockname(const_cast<io::handle&>(h_).fd(), false);
}
result<address> stream_socket::peer_address() const noexcept {
  return sockname(const_cast<io::handle&>(h_).fd(), true);
}

task<result<std::size_t>> stream_socket::read_some(std::span<std::byte> buf) {
  co_return co_await read(buf);
}
task<result<std::size_t>> stream_socket::write_some(std::span<const iovec> bufs) {
  if (bufs.size() == 1)
    co_return co_await write({static_cast<const std::byte*>(bufs[0].iov_base), bufs[0].iov_len});
  co_return co_await writev(bufs);
}
task<result<void>> stream_socket::shutdown_write() { co_return shutdown(SHUT_WR); }

// --- listener ---------------------------------------------------------------------------------

result<listener> listener::bind(const address& at, listen_options opts) {
  if (sim::network* n = sim::current(); n && !at.is_unix()) {
    listener l;
    WEIR_TRY_ASSIGN(int fd, sim::listen_fd(*n, at, opts.reuse_port, opts.backlog, l.local_));
    l.h_ = sim_handle(fd);
    l.opts_ = opts;
    return l;
  }
  WEIR_TRY_ASSIGN(auto h, make_socket(at.family(), SOCK_STREAM));
  const int fd = h.fd();
  if (is_tcp(at)) {
    WEIR_TRY(setopt(fd, SOL_SOCKET, SO_REUSEADDR, 1));
    if (opts.reuse_port) WEIR_TRY(setopt(fd, SOL_SOCKET, SO_REUSEPORT, 1));
    if (at.family() == AF_INET6)
      WEIR_TRY(setopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, opts.v6_only ? 1 : 0));
  } else if (at.is_unix()) {
    const auto* un = reinterpret_cast<const sockaddr_un*>(at.data());
    if (un->sun_path[0] != '\0') ::unlink(un->sun_path);
  }
  if (::bind(fd, at.data(), at.size()) < 0) return unexpected(io::last_error());
  if (::listen(fd, opts.backlog) < 0) return unexpected(io::last_error());
  listener l;
  auto local = sockname(fd, false);
  l.local_ = local ? *local : at;
  l.h_ = std::move(h);
  l.opts_ = opts;
  return l;
}

result<stream_socket> listener::try_accept() {
  address peer;
  if (h_.state().sim) {
    sim::network* n = sim::current();
    const int fd = n ? sim::try_accept(*n, h_.fd(), peer) : -EBADF;
    if (fd < 0) return unexpected(std::error_code(-fd, std::system_category()));
    ++stats_.accepted;
    return stream_socket(sim_handle(fd), peer);
  }
  socklen_t len = address::capacity();
  int fd = ::accept4(h_.fd(), peer.data(), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (fd < 0) return unexpected(io::last_error());
  peer.set_size(len);
  io::handle h(fd);
  if (is_tcp(local_)) (void)setopt(h.fd(), IPPROTO_TCP, TCP_NODELAY, 1);
  ++stats_.accepted;
  return stream_socket(std::move(h), peer);
}

task<result<stream_socket>> listener::accept() {
  auto backoff = std::chrono::milliseconds(1);
  for (;;) {
    address peer;
    io::op_awaiter op(h_, kind::accept);
    op.op().addr = peer.data();
    op.op().addrlen = address::capacity();
    auto r = co_await op;
    if (r) {
      peer.set_size(op.op().addrlen);
      io::handle h =
          h_.state().sim ? sim_handle(static_cast<int>(*r)) : io::handle(static_cast<int>(*r));
      if (is_tcp(local_)) (void)setopt(h.fd(), IPPROTO_TCP, TCP_NODELAY, 1);
      ++stats_.accepted;
      co_return stream_socket(std::move(h), peer);
    }
    const std::error_code e = r.error();
    if (e.category() == std::system_category()) {
      switch (e.value()) {
        case ECONNABORTED:
        case EINTR:
        case EPROTO:
        case EPERM:  // a firewall refused this one: take the next
          continue;
        case EMFILE:
        case ENFILE:
        case ENOBUFS:
        case ENOMEM: {
          ++stats_.fd_exhausted;
          ++unreported_;
          const auto t = std::chrono::steady_clock::now();
          if (t - last_report_ >= std::chrono::seconds(1)) {
            rlimit rl{};
            ::getrlimit(RLIMIT_NOFILE, &rl);
            log::warn("accept: out of descriptors or memory, backing off",
                      {{"addr", local_.to_string()},
                       {"error", e.message()},
                       {"rlimit_nofile", std::to_string(rl.rlim_cur)},
                       {"max_backoff_ms", std::to_string(opts_.max_backoff.count())},
                       {"since_last_report", std::to_string(unreported_)}});
            last_report_ = t;
            unreported_ = 0;
          }
          WEIR_CO_TRY(co_await sleep_for(backoff));
          backoff = std::min(backoff * 2, opts_.max_backoff);
          continue;
        }
        default: break;
      }
    }
    co_return unexpected(e);
  }
}

void raise_fd_limit() noexcept {
  rlimit r{};
  if (getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < r.rlim_max) {
    r.rlim_cur = r.rlim_max;
    (void)setrlimit(RLIMIT_NOFILE, &r);
  }
}

// --- udp_socket -------------------------------------------------------------------------------

result<udp_socket> udp_socket::bind(const address& at) {
  if (sim::network* n = sim::current()) {
    WEIR_TRY_ASSIGN(int fd, sim::datagram_fd(*n, at));
    udp_socket s;
    s.h_ = sim_handle(fd);
    return s;
  }
  WEIR_TRY_ASSIGN(auto h, make_socket(at.family(), SOCK_DGRAM));
  (void)setopt(h.fd(), SOL_SOCKET, SO_RXQ_OVFL, 1);
  if (::bind(h.fd(), at.data(), at.size()) < 0) return unexpected(io::last_error());
  udp_socket s;
  s.h_ = std::move(h);
  return s;
}

result<void> udp_socket::connect(const address& to) noexcept {
  if (h_.state().sim) {
    sim::network* n = sim::current();
    const int r = n ? sim::connect_datagram(*n, h_.fd(), to) : -EBADF;
    if (r < 0) return unexpected(std::error_code(-r, std::system_category()));
    return {};
  }
  if (::connect(h_.fd(), to.data(), to.size()) < 0) return unexpected(io::last_error());
  return {};
}

task<result<udp_socket::datagram>> udp_socket::recv_from(std::span<std::byte> buf) {
  address from;
  iovec iov{buf.data(), buf.size()};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(std::uint32_t))];
  msghdr msg{};
  msg.msg_name = from.data();
  msg.msg_namelen = address::capacity();
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  io::op_awaiter op(h_, kind::recvmsg);
  op.op().msg = &msg;
  op.op().flags = MSG_TRUNC;
  WEIR_CO_TRY_ASSIGN(auto r, co_await op);
  from.set_size(msg.msg_namelen);
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c))
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_RXQ_OVFL) {
      std::uint32_t d;
      std::memcpy(&d, CMSG_DATA(c), sizeof d);
      drops_ = d;
    }
  co_return datagram{r, (msg.msg_flags & MSG_TRUNC) != 0, from};
}

task<result<std::size_t>> udp_socket::recv_many(std::span<const std::span<std::byte>> bufs,
                                                std::span<datagram> out) {
  constexpr std::size_t kBatch = 32;
  const std::size_t n = std::min({bufs.size(), out.size(), kBatch});
  if (n == 0) co_return std::size_t{0};
  mmsghdr msgs[kBatch];
  iovec iov[kBatch];
  alignas(cmsghdr) char control[kBatch][CMSG_SPACE(sizeof(std::uint32_t))];
  if (h_.state().sim) {
    for (;;) {
      sim::network* net = sim::current();
      if (!net) co_return unexpected(std::error_code(EBADF, std::system_category()));
      std::size_t got = 0;
      sim::received r;
      while (got < n && sim::try_recv(*net, h_.fd(), bufs[got], r) == 0) {
        out[got] = {r.size, r.truncated, r.from};
        drops_ = r.drops;
        ++got;
      }
      if (got) co_return got;
      WEIR_CO_TRY(co_await io::op_awaiter(h_, kind::poll_in));
    }
  }
  for (;;) {
    for (std::size_t i = 0; i < n; ++i) {
      iov[i] = {bufs[i].data(), bufs[i].size()};
      msgs[i] = {};
      msgs[i].msg_hdr.msg_name = out[i].from.data();
      msgs[i].msg_hdr.msg_namelen = address::capacity();
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
      msgs[i].msg_hdr.msg_control = control[i];
      msgs[i].msg_hdr.msg_controllen = sizeof control[i];
    }
    const int got = ::recvmmsg(h_.fd(), msgs, static_cast<unsigned>(n), MSG_DONTWAIT, nullptr);
    if (got > 0) {
      for (int i = 0; i < got; ++i) {
        out[i].from.set_size(msgs[i].msg_hdr.msg_namelen);
        out[i].size = msgs[i].msg_len;
        out[i].truncated = (msgs[i].msg_hdr.msg_flags & MSG_TRUNC) != 0;
        msghdr& mh = msgs[i].msg_hdr;
        for (cmsghdr* c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
          if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_RXQ_OVFL) {
            std::uint32_t d;
            std::memcpy(&d, CMSG_DATA(c), sizeof d);
            drops_ = d;
          }
      }
      co_return static_cast<std::size_t>(got);
    }
    if (errno != EAGAIN && errno != EWOULDBLOCK) co_return unexpected(io::last_error());
    WEIR_CO_TRY(co_await io::op_awaiter(h_, kind::poll_in));  // readiness on either backend
  }
}

task<result<std::size_t>> udp_socket::send_many(std::span<const std::span<const std::byte>> bufs,
                                                const address& to) {
  constexpr std::size_t kBatch = 32;
  std::size_t sent = 0;
  if (h_.state().sim) {  // a simulated datagram queue never blocks the sender: it drops
    sim::network* net = sim::current();
    for (; net && sent < bufs.size(); ++sent) {
      const int r = sim::try_send(*net, h_.fd(), bufs[sent], &to);
      if (r < 0) {
        if (sent > 0) co_return sent;
        co_return unexpected(std::error_code(-r, std::system_category()));
      }
    }
    co_return sent;
  }
  while (sent < bufs.size()) {
    const std::size_t n = std::min(bufs.size() - sent, kBatch);
    mmsghdr msgs[kBatch];
    iovec iov[kBatch];
    for (std::size_t i = 0; i < n; ++i) {
      iov[i] = {const_cast<std::byte*>(bufs[sent + i].data()), bufs[sent + i].size()};
      msgs[i] = {};
      msgs[i].msg_hdr.msg_name = const_cast<sockaddr*>(to.data());
      msgs[i].msg_hdr.msg_namelen = to.size();
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
    }
    const int k = ::sendmmsg(h_.fd(), msgs, static_cast<unsigned>(n), MSG_DONTWAIT);
    if (k > 0) {
      sent += static_cast<std::size_t>(k);
      continue;
    }
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      if (sent > 0) co_return sent;
      co_return unexpected(io::last_error());
    }
    auto r = co_await io::op_awaiter(h_, kind::poll_out);
    if (!r) co_return sent > 0 ? result<std::size_t>(sent) : unexpected(r.error());
  }
  co_return sent;
}

task<result<std::size_t>> udp_socket::send_to(std::span<const std::byte> buf, const address& to) {
  iovec iov{const_cast<std::byte*>(buf.data()), buf.size()};
  msghdr msg{};
  msg.msg_name = const_cast<sockaddr*>(to.data());
  msg.msg_namelen = to.size();
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  io::op_awaiter op(h_, kind::sendmsg);
  op.op().msg = &msg;
  co_return co_await op;
}

io::op_awaiter udp_socket::send(std::span<const std::byte> buf) noexcept {
  io::op_awaiter a(h_, kind::write);
  a.op().buf = const_cast<std::byte*>(buf.data());
  a.op().len = buf.size();
  return a;
}

io::op_awaiter udp_socket::recv(std::span<std::byte> buf) noexcept {
  io::op_awaiter a(h_, kind::read);
  a.op().buf = buf.data();
  a.op().len = buf.size();
  return a;
}

result<address> udp_socket::local_address() const noexcept {
  return sockname(const_cast<io::handle&>(h_).fd(), false);
}

}  // namespace weir::net
