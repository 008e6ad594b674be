#include <weir/net/sim_network.hpp>

#include <weir/core/detail/runtime_impl.hpp>
#include <weir/core/detail/shard.hpp>
#include <weir/core/detail/sim.hpp>

#include <netinet/in.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace weir::net::sim {

using detail::io_op;
using kind = io_op::kind;
using clock = std::chrono::steady_clock;

namespace {

constexpr std::size_t kBuffer = 64 * 1024;          // receive buffer per direction
constexpr std::size_t kDatagramQueue = 208 * 1024;  // a datagram socket's (Linux's rmem_default)
constexpr std::size_t kMaxDatagram = 65507;         // UDP over IPv4

struct sock {
  std::uint64_t id = 0;
  int fd = -1;
  bool listening = false;
  address local, peer;
  detail::fd_state* fs = nullptr;  // where its pending operations are linked (set by start)
  // stream
  std::uint64_t peer_id = 0;  // 0: not connected (yet)
  std::deque<std::byte> in;   // arrived, unread
  std::size_t incoming = 0;   // sent by the peer, still on the wire
  bool fin_in = false, reset = false, reset_reported = false, shut_wr = false;
  int connect_result = 1;                 // 1: not decided; 0 or -errno
  clock::time_point last_send{};          // the peer's data never overtakes earlier data
  std::uint64_t seq_out = 0, seq_in = 0;  // segments sent / reassembled
  struct segment {
    std::vector<std::byte> bytes;
    bool fin = false;
  };
  std::map<std::uint64_t, segment> ahead;  // arrived before an earlier one (a retransmission)
  // datagram
  bool dgram = false, connected = false;
  struct datagram {
    address from;
    std::vector<std::byte> bytes;
  };
  std::deque<datagram> queue;
  std::size_t queued = 0;
  std::uint32_t drops = 0;
  // listener
  bool reuse_port = true;
  int backlog_cap = 128;
  std::deque<std::uint64_t> backlog;  // established server sockets waiting for accept()
  std::deque<std::uint64_t> syn;      // client sockets waiting for room in the backlog
};

address with_port(address a, std::uint16_t port) {
  if (a.family() == AF_INET)
    reinterpret_cast<sockaddr_in*>(a.data())->sin_port = htons(port);
  else if (a.family() == AF_INET6)
    reinterpret_cast<sockaddr_in6*>(a.data())->sin6_port = htons(port);
  return a;
}

}  // namespace

class network final : public detail::sim_io {
 public:
  explicit network(detail::sim_state& s) : sim_(s) {}
  ~network() override {
    for (auto& [id, s] : socks_) ::close(s->fd);  // placeholders still open: none normally
  }

  faults f;

  result<int> new_socket(int family, bool listening, sock*& out) {
    const int fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (fd < 0) return unexpected(std::error_code(errno, std::system_category()));
    auto s = std::make_unique<sock>();
    s->id = ++next_id_;
    s->fd = fd;
    s->listening = listening;
    s->local.data()->sa_family = static_cast<sa_family_t>(family);
    out = s.get();
    by_fd_[fd] = s->id;
    socks_[s->id] = std::move(s);
    return fd;
  }
  sock* by_fd(int fd) {
    auto it = by_fd_.find(fd);
    return it == by_fd_.end() ? nullptr : get(it->second);
  }
  sock* get(std::uint64_t id) {
    auto it = socks_.find(id);
    return it == socks_.end() ? nullptr : it->second.get();
  }

  std::uint16_t ephemeral() { return next_port_ == 65535 ? (next_port_ = 40000) : next_port_++; }
  clock::duration latency() {
    const auto lo = f.latency_min.count(), hi = std::max(f.latency_max.count(), lo);
    return std::chrono::microseconds(lo + static_cast<long long>(sim_.next() % (hi - lo + 1)));
  }
  bool chance_percent(unsigned p) { return p && sim_.next() % 100 < p; }

  // Listeners bound to `to`: the same address, or the wildcard of its family with its port.
  std::vector<sock*> listeners_for(const address& to) {
    std::vector<sock*> out;
    for (auto& [id, s] : socks_) {
      if (!s->listening || s->local.port() != to.port() || s->local.family() != to.family())
        continue;
      if (s->local == to || is_any(s->local)) out.push_back(s.get());
    }
    return out;
  }
  static bool is_any(const address& a) {
    if (a.family() == AF_INET)
      return reinterpret_cast<const sockaddr_in*>(a.data())->sin_addr.s_addr == INADDR_ANY;
    if (a.family() == AF_INET6) {
      const auto& in6 = reinterpret_cast<const sockaddr_in6*>(a.data())->sin6_addr;
      return IN6_IS_ADDR_UNSPECIFIED(&in6);
    }
    return false;
  }

  // --- sim_io ---------------------------------------------------------------------------------
  bool start(io_op& op) noexcept override {
    sock* s = by_fd(op.fs->fd);
    if (!s) {
      op.res = -EBADF;
      return true;
    }
    s->fs = op.fs;
    const bool w = is_write(op.k);
    detail::ilist& waiters = w ? op.fs->writers : op.fs->readers;
    if (op.k == kind::connect) {
      begin_connect(*s, op);
    } else if (waiters.empty() && attempt(*s, op)) {
      return true;
    }
    op.in_flight = true;
    waiters.push_back(&op);
    if (op.k == kind::connect) pump(*s);  // refused at once (no such address)
    return false;
  }
  void cancel(io_op& op, bool call_done) noexcept override {
    if (!op.in_flight) return;
    op.unlink();
    op.in_flight = false;
    if (call_done) {
      op.res = -ECANCELED;
      op.done(&op);
    }
  }
  void closing(detail::fd_state& fs) noexcept override {
    sock* s = by_fd(fs.fd);
    if (!s) return;
    const std::uint64_t id = s->id;
    by_fd_.erase(fs.fd);
    if (s->listening) {
      for (std::uint64_t c : s->backlog) abort_connection(c);
      for (std::uint64_t c : s->syn)
        if (sock* cl = get(c)) decide_connect(*cl, -ECONNREFUSED);
    } else if (sock* p = get(s->peer_id)) {
      // Unread data: the kernel answers with RST; else FIN after what is on the wire.
      if (!s->in.empty())
        send_reset(*p, s->local);
      else if (!s->shut_wr)
        send_fin(*s, *p);
    }
    socks_.erase(id);
  }
  void quiesce() noexcept override {}

  // --- operations ------------------------------------------------------------------------------
  static bool is_write(kind k) {
    return k == kind::write || k == kind::writev || k == kind::sendmsg || k == kind::poll_out ||
           k == kind::connect;
  }

  std::size_t room_at_peer(const sock& s) {
    const sock* p = const_cast<network*>(this)->get(s.peer_id);
    if (!p) return kBuffer;  // the peer is gone: bytes are taken and lost (RST is on its way)
    const std::size_t used = p->in.size() + p->incoming;
    return used >= kBuffer ? 0 : kBuffer - used;
  }

  // The buffers of a read or write operation.
  static std::span<const iovec> buffers(const io_op& op, iovec& one) {
    if (op.k == kind::read || op.k == kind::write) {
      one = {op.buf, op.len};
      return {&one, 1};
    }
    if (op.k == kind::readv || op.k == kind::writev)
      return {op.iov, static_cast<std::size_t>(op.iovcnt)};
    return {op.msg->msg_iov, op.msg->msg_iovlen};
  }
  static std::size_t total(std::span<const iovec> iov) {
    std::size_t n = 0;
    for (const iovec& v : iov) n += v.iov_len;
    return n;
  }
  static std::vector<std::byte> gather(std::span<const iovec> iov, std::size_t n) {
    std::vector<std::byte> bytes;
    bytes.reserve(n);
    for (const iovec& v : iov) {
      const std::size_t k = std::min(n, v.iov_len);
      const auto* b = static_cast<const std::byte*>(v.iov_base);
      bytes.insert(bytes.end(), b, b + k);
      n -= k;
      if (!n) break;
    }
    return bytes;
  }

  // Performs `op` now if it can: true with op.res set; false to wait.
  bool attempt(sock& s, io_op& op) {
    if (s.dgram) return attempt_datagram(s, op);
    switch (op.k) {
      case kind::accept: {
        if (!s.listening) return op.res = -EINVAL, true;
        if (s.backlog.empty()) return false;
        const std::uint64_t c = s.backlog.front();
        s.backlog.pop_front();
        admit_syn(s);
        sock* srv = get(c);
        if (!srv) return false;
        if (op.addr) {
          const socklen_t n = std::min<socklen_t>(op.addrlen, srv->peer.size());
          std::memcpy(op.addr, srv->peer.data(), n);
          op.addrlen = srv->peer.size();
        }
        by_fd_[srv->fd] = srv->id;
        op.res = srv->fd;
        return true;
      }
      case kind::connect:
        if (s.connect_result == 1) return false;
        op.res = s.connect_result;
        return true;
      case kind::read:
      case kind::readv:
      case kind::recvmsg:
      case kind::poll_in: {
        if (s.reset && !s.reset_reported) {
          s.reset_reported = true;
          return op.res = -ECONNRESET, true;
        }
        if (s.in.empty()) {
          if (s.fin_in || s.reset) return op.res = 0, true;
          if (s.peer_id == 0 && s.connect_result != 0) return op.res = -ENOTCONN, true;
          return false;
        }
        if (op.k == kind::poll_in) return op.res = 0, true;
        iovec one;
        const auto iov = buffers(op, one);
        std::size_t n = std::min(total(iov), s.in.size());
        if (n > 1 && chance_percent(f.short_io_percent)) n = 1 + sim_.next() % n;
        std::size_t left = n;
        for (const iovec& v : iov) {
          const std::size_t k = std::min(left, v.iov_len);
          std::copy_n(s.in.begin(), k, static_cast<std::byte*>(v.iov_base));
          s.in.erase(s.in.begin(), s.in.begin() + static_cast<std::ptrdiff_t>(k));
          left -= k;
          if (!left) break;
        }
        if (sock* p = get(s.peer_id)) schedule_pump(*p, clock::duration::zero());  // room
        op.res = static_cast<int>(n);
        return true;
      }
      case kind::write:
      case kind::writev:
      case kind::sendmsg:
      case kind::poll_out: {
        if (s.reset)
          return op.res = s.reset_reported ? -EPIPE : (s.reset_reported = true, -ECONNRESET), true;
        if (s.shut_wr) return op.res = -EPIPE, true;
        if (s.peer_id == 0) return op.res = -ENOTCONN, true;
        const std::size_t room = room_at_peer(s);
        if (room == 0) return false;
        if (op.k == kind::poll_out) return op.res = 0, true;
        iovec one;
        const auto iov = buffers(op, one);
        const std::size_t size = total(iov);
        if (size == 0) return op.res = 0, true;
        if (f.reset_per_mille && sim_.next() % 1000 < f.reset_per_mille) {
          inject_reset(s);
          return op.res = -ECONNRESET, s.reset_reported = true, true;
        }
        std::size_t n = std::min(size, room);
        if (n > 1 && chance_percent(f.short_io_percent)) n = 1 + sim_.next() % n;
        deliver(s, gather(iov, n));
        op.res = static_cast<int>(n);
        return true;
      }
    }
    return op.res = -EOPNOTSUPP, true;
  }

  bool attempt_datagram(sock& s, io_op& op) {
    switch (op.k) {
      case kind::read:
      case kind::readv:
      case kind::recvmsg:
      case kind::poll_in: {
        if (s.queue.empty()) return false;
        if (op.k == kind::poll_in) return op.res = 0, true;
        iovec one;
        address from;
        bool truncated = false;
        const std::size_t size = take(s, buffers(op, one), from, truncated);
        op.res = static_cast<int>(size);
        if (op.k == kind::recvmsg) {
          msghdr& m = *op.msg;
          if (!(op.flags & MSG_TRUNC))
            op.res = static_cast<int>(std::min(size, total(buffers(op, one))));
          m.msg_flags = truncated ? MSG_TRUNC : 0;
          if (m.msg_name) {
            std::memcpy(m.msg_name, from.data(), std::min<socklen_t>(m.msg_namelen, from.size()));
            m.msg_namelen = from.size();
          }
          // The drop count, as SO_RXQ_OVFL gives it.
          if (m.msg_control && m.msg_controllen >= CMSG_SPACE(sizeof(std::uint32_t))) {
            cmsghdr* c = CMSG_FIRSTHDR(&m);
            c->cmsg_level = SOL_SOCKET;
            c->cmsg_type = SO_RXQ_OVFL;
            c->cmsg_len = CMSG_LEN(sizeof(std::uint32_t));
            std::memcpy(CMSG_DATA(c), &s.drops, sizeof s.drops);
            m.msg_controllen = CMSG_SPACE(sizeof(std::uint32_t));
          } else {
            m.msg_controllen = 0;
          }
        } else {
          op.res = static_cast<int>(std::min(size, total(buffers(op, one))));
        }
        return true;
      }
      case kind::write:
      case kind::writev:
      case kind::sendmsg:
      case kind::poll_out: {
        if (op.k == kind::poll_out) return op.res = 0, true;  // never full: a queue drops
        iovec one;
        const auto iov = buffers(op, one);
        if (op.k == kind::sendmsg && op.msg->msg_name) {
          const address to(static_cast<const sockaddr*>(op.msg->msg_name), op.msg->msg_namelen);
          op.res = send_datagram(s, gather(iov, total(iov)), to);
        } else if (s.connected) {
          op.res = send_datagram(s, gather(iov, total(iov)), s.peer);
        } else {
          op.res = -EDESTADDRREQ;
        }
        return true;
      }
      default: return op.res = -EOPNOTSUPP, true;
    }
  }
  // Takes the next datagram into `iov`: its full size.
  std::size_t take(sock& s, std::span<const iovec> iov, address& from, bool& truncated) {
    sock::datagram d = std::move(s.queue.front());
    s.queue.pop_front();
    s.queued -= d.bytes.size();
    std::size_t at = 0;
    for (const iovec& v : iov) {
      const std::size_t k = std::min(v.iov_len, d.bytes.size() - at);
      std::memcpy(v.iov_base, d.bytes.data() + at, k);
      at += k;
    }
    truncated = at < d.bytes.size();
    from = d.from;
    return d.bytes.size();
  }
  sock* datagram_at(const address& to) {
    sock* wildcard = nullptr;
    for (auto& [id, s] : socks_) {
      if (!s->dgram || s->local.port() != to.port() || s->local.family() != to.family()) continue;
      if (s->local == to) return s.get();
      if (is_any(s->local)) wildcard = s.get();
    }
    return wildcard;
  }
  int send_datagram(sock& s, std::vector<std::byte> bytes, const address& to) {
    if (bytes.size() > kMaxDatagram) return -EMSGSIZE;
    const int size = static_cast<int>(bytes.size());
    address src = s.local;
    if (is_any(src))  // the kernel picks the source by route: loopback here
      src = src.family() == AF_INET6 ? address::loopback_v6(src.port())
                                     : address::loopback_v4(src.port());
    int copies = 1;
    if (f.datagram_loss_per_mille && sim_.next() % 1000 < f.datagram_loss_per_mille) copies = 0;
    if (f.datagram_dup_per_mille && sim_.next() % 1000 < f.datagram_dup_per_mille) copies = 2;
    if (copies != 1) sim_.note(copies ? "dup" : "loss", s.id);
    for (int i = 0; i < copies; ++i)
      sim_.at(sim_.now() + latency(), [this, src, to, b = bytes] {
        if (cut(src, to)) return;
        sock* x = datagram_at(to);
        if (!x || (x->connected && !(x->peer == src))) return;  // port unreachable
        if (x->queued + b.size() > kDatagramQueue) {
          ++x->drops;
          return;
        }
        x->queued += b.size();
        x->queue.push_back({src, b});
        pump(*x);
      });
    return size;
  }

  // --- partitions --------------------------------------------------------------------------
  static std::string host_of(const address& a) {
    if (a.family() == AF_INET)
      return std::string(
          reinterpret_cast<const char*>(&reinterpret_cast<const sockaddr_in*>(a.data())->sin_addr),
          4);
    if (a.family() == AF_INET6)
      return std::string(reinterpret_cast<const char*>(
                             &reinterpret_cast<const sockaddr_in6*>(a.data())->sin6_addr),
                         16);
    return {};
  }
  static std::pair<std::string, std::string> link(const address& a, const address& b) {
    auto x = host_of(a), y = host_of(b);
    if (y < x) std::swap(x, y);
    return {x, y};
  }
  bool cut(const address& a, const address& b) const {
    return !cuts_.empty() && cuts_.count(link(a, b)) != 0;
  }
  void set_cut(const address& a, const address& b, bool on) {
    if (on)
      cuts_.insert(link(a, b));
    else
      cuts_.erase(link(a, b));
    sim_.note(on ? "partition" : "heal", 0);
  }

  // Completes what can complete among the socket's waiting operations, in order.
  void pump(sock& s) {
    if (!s.fs) return;
    for (detail::ilist* l : {&s.fs->readers, &s.fs->writers}) {
      while (auto* op = static_cast<io_op*>(l->front())) {
        if (!attempt(s, *op)) break;
        op->unlink();
        op->in_flight = false;
        op->done(op);
        if (!by_fd(s.fd)) return;  // the completion closed the socket
      }
    }
  }
  void schedule_pump(sock& s, clock::duration after) {
    const std::uint64_t id = s.id;
    sim_.at(sim_.now() + after, [this, id] {
      if (sock* x = get(id)) pump(*x);
    });
  }

  void deliver(sock& from, std::vector<std::byte> bytes) {
    sock* p = get(from.peer_id);
    if (!p) {  // the peer closed: the data is lost and its kernel answers RST
      if (!from.reset) send_reset(from, from.peer);
      return;
    }
    transmit(from, *p, std::move(bytes), false);
  }
  void send_fin(sock& from, sock& to) { transmit(from, to, {}, true); }
  // A segment (data, or the FIN after it) to the peer: it arrives after a latency, and is
  // retransmitted while the two hosts are cut off from each other.
  void transmit(sock& from, sock& to, std::vector<std::byte> bytes, bool fin) {
    const auto at = std::max(sim_.now() + latency(), from.last_send);
    from.last_send = at;
    to.incoming += bytes.size();
    arrive(at, from.local, to.id, from.seq_out++, sock::segment{std::move(bytes), fin}, 0);
  }
  void arrive(clock::time_point at, const address& src, std::uint64_t to_id, std::uint64_t seq,
              sock::segment seg, int tries) {
    sim_.at(at, [this, src, to_id, seq, seg = std::move(seg), tries]() mutable {
      sock* x = get(to_id);
      if (!x) return;
      if (cut(src, x->local)) {  // lost on the way: the sender retransmits after its RTO
        const auto rto = std::chrono::milliseconds(200) * (1 << std::min(tries, 4));
        arrive(sim_.now() + rto, src, to_id, seq, std::move(seg), tries + 1);
        return;
      }
      if (x->reset) {
        x->incoming -= seg.bytes.size();
        return;
      }
      x->ahead.emplace(seq, std::move(seg));
      for (auto it = x->ahead.begin(); it != x->ahead.end() && it->first == x->seq_in;
           it = x->ahead.erase(it), ++x->seq_in) {
        x->incoming -= it->second.bytes.size();
        x->in.insert(x->in.end(), it->second.bytes.begin(), it->second.bytes.end());
        x->fin_in = x->fin_in || it->second.fin;
      }
      pump(*x);
    });
  }
  // A RST from `src`: lost when the hosts are cut off (it is not retransmitted).
  void send_reset(sock& to, const address& src) {
    const std::uint64_t tid = to.id;
    sim_.at(sim_.now() + latency(), [this, tid, src] {
      sock* x = get(tid);
      if (!x || cut(src, x->local)) return;
      x->reset = true;
      x->in.clear();
      pump(*x);
    });
  }
  void inject_reset(sock& s) {
    s.reset = true;
    s.in.clear();
    if (sock* p = get(s.peer_id)) send_reset(*p, s.local);
    sim_.note("fault-reset", s.id);
  }
  // A server socket nobody accepted, or whose listener closed: its client sees RST.
  void abort_connection(std::uint64_t server_id) {
    sock* srv = get(server_id);
    if (!srv) return;
    if (sock* cl = get(srv->peer_id)) send_reset(*cl, srv->local);
    ::close(srv->fd);
    socks_.erase(server_id);
  }

  void begin_connect(sock& c, io_op& op) {
    address to(op.addr, op.addrlen);
    c.peer = to;
    if (c.local.port() == 0) {
      // The client's own address: the loopback of its family, an ephemeral port.
      c.local = to.family() == AF_INET6 ? address::loopback_v6(ephemeral())
                                        : address::loopback_v4(ephemeral());
    }
    c.connect_result = 1;
    syn(c, 0);
  }
  // The SYN of `c`: retransmitted after 1, 2, 4 ... s while the hosts are cut off (ETIMEDOUT
  // after the sixth retransmission, as Linux's tcp_syn_retries), refused when nobody listens.
  void syn(sock& c, int tries) {
    if (cut(c.local, c.peer)) {
      const std::uint64_t id = c.id;
      sim_.at(sim_.now() + std::chrono::seconds(1 << tries), [this, id, tries] {
        sock* x = get(id);
        if (!x || x->connect_result != 1) return;
        if (tries == 6)
          decide_connect(*x, -ETIMEDOUT);
        else
          syn(*x, tries + 1);
      });
      return;
    }
    auto ls = listeners_for(c.peer);
    if (ls.empty()) {
      const std::uint64_t id = c.id;
      sim_.at(sim_.now() + latency(), [this, id] {
        if (sock* x = get(id)) decide_connect(*x, -ECONNREFUSED);
      });
      return;
    }
    sock& l = *ls[sim_.next() % ls.size()];
    if (l.backlog.size() >= static_cast<std::size_t>(l.backlog_cap)) {
      l.syn.push_back(c.id);  // the SYN waits (retransmitted, in a kernel) for room
      return;
    }
    establish(l, c);
  }
  void establish(sock& l, sock& c) {
    sock* srv = nullptr;
    auto fd = new_socket(l.local.family(), false, srv);
    if (!fd) {
      decide_connect(c, -ENOBUFS);
      return;
    }
    by_fd_.erase(*fd);  // not visible until accepted
    srv->local = l.local;
    if (is_any(srv->local)) {
      srv->local = c.peer;
    }
    srv->peer = c.local;
    srv->peer_id = c.id;
    c.peer_id = srv->id;
    const std::uint64_t lid = l.id, sid = srv->id, cid = c.id;
    l.backlog.push_back(sid);
    sim_.at(sim_.now() + latency(), [this, lid, cid] {
      if (sock* x = get(cid)) decide_connect(*x, 0);
      if (sock* y = get(lid)) pump(*y);
    });
  }
  void admit_syn(sock& l) {
    while (!l.syn.empty() && l.backlog.size() < static_cast<std::size_t>(l.backlog_cap)) {
      sock* c = get(l.syn.front());
      l.syn.pop_front();
      if (c) establish(l, *c);
    }
  }
  void decide_connect(sock& c, int r) {
    c.connect_result = r;
    if (r != 0) c.peer_id = 0;
    pump(c);
  }

  detail::sim_state& sim_;
  std::set<std::pair<std::string, std::string>> cuts_;    // partitioned host pairs
  std::map<std::uint64_t, std::unique_ptr<sock>> socks_;  // by id: ordered, deterministic
  std::map<int, std::uint64_t> by_fd_;                    // open, visible descriptors
  std::uint64_t next_id_ = 0;
  std::uint16_t next_port_ = 40000;
};

network* current() {
  detail::shard* sh = detail::tl_shard;
  if (!sh) return nullptr;
  detail::sim_state* s = sh->rt().sim();
  if (!s) return nullptr;
  if (!s->io) s->io = std::make_unique<network>(*s);
  return static_cast<network*>(s->io.get());
}

faults* current_faults() {
  network* n = current();
  return n ? &n->f : nullptr;
}

result<int> stream_socket_fd(network& n, int family) {
  sock* s = nullptr;
  return n.new_socket(family, false, s);
}

result<int> listen_fd(network& n, const address& at, bool reuse_port, int backlog, address& bound) {
  address want = at;
  if (want.port() == 0) {
    // A free port on that address.
    for (;;) {
      const address a = with_port(at, n.ephemeral());
      if (n.listeners_for(a).empty()) {
        want = a;
        break;
      }
    }
  }
  for (sock* other : n.listeners_for(want))
    if (!(reuse_port && other->reuse_port) && other->local == want)
      return unexpected(std::error_code(EADDRINUSE, std::system_category()));
  sock* s = nullptr;
  WEIR_TRY_ASSIGN(int fd, n.new_socket(at.family(), true, s));
  s->local = want;
  s->reuse_port = reuse_port;
  s->backlog_cap = std::max(backlog, 1);
  bound = want;
  return fd;
}

int try_accept(network& n, int listener_fd, address& peer) {
  sock* l = n.by_fd(listener_fd);
  if (!l || !l->listening) return -EINVAL;
  io_op op;
  op.k = kind::accept;
  op.addr = peer.data();
  op.addrlen = address::capacity();
  if (!n.attempt(*l, op)) return -EAGAIN;
  if (op.res >= 0) peer.set_size(op.addrlen);
  return op.res;
}

int shutdown(network& n, int fd, int how) {
  sock* s = n.by_fd(fd);
  if (!s) return -EBADF;
  if (s->peer_id == 0) return -ENOTCONN;
  if ((how == SHUT_WR || how == SHUT_RDWR) && !s->shut_wr) {
    s->shut_wr = true;
    if (sock* p = n.get(s->peer_id)) n.send_fin(*s, *p);
  }
  return 0;
}

int peek(network& n, int fd) {
  sock* s = n.by_fd(fd);
  if (!s) return 2;
  if (!s->in.empty()) return 1;
  return s->fin_in || s->reset ? 2 : 0;
}

std::optional<address> name(network& n, int fd, bool peer) {
  sock* s = n.by_fd(fd);
  if (!s) return std::nullopt;
  return peer ? s->peer : s->local;
}

}  // namespace weir::net::sim

namespace weir::net::sim {

bool partition(const address& a, const address& b) {
  network* n = current();
  if (n) n->set_cut(a, b, true);
  return n != nullptr;
}

bool heal(const address& a, const address& b) {
  network* n = current();
  if (n) n->set_cut(a, b, false);
  return n != nullptr;
}

result<int> datagram_fd(network& n, const address& at) {
  address want = at;
  if (want.port() == 0) {
    do {
      want = with_port(at, n.ephemeral());
    } while (n.datagram_at(want) && n.datagram_at(want)->local == want);
  } else if (sock* other = n.datagram_at(want); other && other->local == want) {
    return unexpected(std::error_code(EADDRINUSE, std::system_category()));
  }
  sock* s = nullptr;
  WEIR_TRY_ASSIGN(int fd, n.new_socket(at.family(), false, s));
  s->dgram = true;
  s->local = want;
  return fd;
}

int connect_datagram(network& n, int fd, const address& to) {
  sock* s = n.by_fd(fd);
  if (!s || !s->dgram) return -EBADF;
  s->peer = to;
  s->connected = true;
  return 0;
}

int try_recv(network& n, int fd, std::span<std::byte> buf, received& out) {
  sock* s = n.by_fd(fd);
  if (!s || !s->dgram) return -EBADF;
  out.drops = s->drops;
  if (s->queue.empty()) return -EAGAIN;
  const iovec v{buf.data(), buf.size()};
  out.size = n.take(*s, {&v, 1}, out.from, out.truncated);
  return 0;
}

int try_send(network& n, int fd, std::span<const std::byte> buf, const address* to) {
  sock* s = n.by_fd(fd);
  if (!s || !s->dgram) return -EBADF;
  if (!to && !s->connected) return -EDESTADDRREQ;
  return n.send_datagram(*s, {buf.begin(), buf.end()}, to ? *to : s->peer);
}

}  // namespace weir::net::sim
