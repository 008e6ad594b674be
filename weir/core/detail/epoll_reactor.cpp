// The epoll backend: edge-triggered readiness, one epoll_pwait2 per loop turn.
//
// An operation first tries its system call (unless the fd is known not to be ready since
// the last edge); on EAGAIN it waits in the fd's reader or writer list. A file descriptor is
// registered once, lazily, for EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET; an event marks the
// direction ready and retries the waiting operations in order until one would block again.
#include <weir/core/detail/io_syscall.hpp>
#include <weir/core/detail/reactor.hpp>

#include <cerrno>
#include <cstdint>
#include <system_error>

#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

namespace weir {
namespace detail {

int perform(io_op& op, bool connect_pending) noexcept {
  const int fd = op.fs->fd;
  ssize_t r = -1;
  switch (op.k) {
    case io_op::kind::read: r = ::read(fd, op.buf, op.len); break;
    case io_op::kind::write:
      r = op.fs->socket ? ::send(fd, op.buf, op.len, MSG_NOSIGNAL) : ::write(fd, op.buf, op.len);
      break;
    case io_op::kind::readv: r = ::readv(fd, op.iov, op.iovcnt); break;
    case io_op::kind::writev:
      if (op.fs->socket) {
        msghdr m{};
        m.msg_iov = const_cast<iovec*>(op.iov);
        m.msg_iovlen = static_cast<std::size_t>(op.iovcnt);
        r = ::sendmsg(fd, &m, MSG_NOSIGNAL);
      } else {
        r = ::writev(fd, op.iov, op.iovcnt);
      }
      break;
    case io_op::kind::recvmsg: r = ::recvmsg(fd, op.msg, op.flags); break;
    case io_op::kind::sendmsg: r = ::sendmsg(fd, op.msg, op.flags | MSG_NOSIGNAL); break;
    case io_op::kind::accept: {
      socklen_t len = op.addrlen;
      r = ::accept4(fd, op.addr, op.addr ? &len : nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (r >= 0) op.addrlen = len;
      break;
    }
    case io_op::kind::connect:
      if (!connect_pending) {
        r = ::connect(fd, op.addr, op.addrlen);
        if (r < 0 && errno == EINPROGRESS) return -EAGAIN;
      } else {
        int err = 0;
        socklen_t len = sizeof err;
        if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) return -errno;
        return -err;
      }
      break;
    case io_op::kind::poll_in:
    case io_op::kind::poll_out: {
      pollfd p{fd, static_cast<short>(op.k == io_op::kind::poll_in ? POLLIN : POLLOUT), 0};
      r = ::poll(&p, 1, 0);
      if (r == 0) return -EAGAIN;
      if (r > 0) return 0;
      break;
    }
  }
  if (r < 0) return errno == EWOULDBLOCK ? -EAGAIN : -errno;
  return static_cast<int>(r);
}

}  // namespace detail

namespace {

using detail::fd_state;
using detail::ilist;
using detail::io_op;

bool is_write(io_op::kind k) noexcept {
  return k == io_op::kind::write || k == io_op::kind::writev || k == io_op::kind::sendmsg ||
         k == io_op::kind::connect || k == io_op::kind::poll_out;
}

class epoll_reactor final : public reactor {
 public:
  epoll_reactor() {
    epfd_ = ::epoll_create1(EPOLL_CLOEXEC);
    if (epfd_ < 0) throw std::system_error(errno, std::system_category(), "epoll_create1");
    evfd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (evfd_ < 0) {
      int e = errno;
      ::close(epfd_);
      throw std::system_error(e, std::system_category(), "eventfd");
    }
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = nullptr;
    if (::epoll_ctl(epfd_, EPOLL_CTL_ADD, evfd_, &ev) < 0) {
      int e = errno;
      ::close(evfd_);
      ::close(epfd_);
      throw std::system_error(e, std::system_category(), "epoll_ctl(eventfd)");
    }
  }
  ~epoll_reactor() override {
    ::close(evfd_);
    ::close(epfd_);
  }

  void wait(std::chrono::nanoseconds timeout) override {
    epoll_event events[128];
    int n;
    ++stats_->io_waits;
    if (timeout.count() < 0) {
      n = ::epoll_wait(epfd_, events, 128, -1);
    } else if (timeout.count() == 0) {
      n = ::epoll_wait(epfd_, events, 128, 0);
    } else {
      timespec ts{static_cast<time_t>(timeout.count() / 1'000'000'000),
                  static_cast<long>(timeout.count() % 1'000'000'000)};
      n = ::epoll_pwait2(epfd_, events, 128, &ts, nullptr);
      if (n < 0 && errno == ENOSYS) {  // kernels before 5.11: millisecond resolution, rounded up
        auto ms = (timeout.count() + 999'999) / 1'000'000;
        n = ::epoll_wait(epfd_, events, 128, static_cast<int>(ms > 1'000'000 ? 1'000'000 : ms));
      }
    }
    for (int i = 0; i < n; ++i) {
      auto* fs = static_cast<fd_state*>(events[i].data.ptr);
      if (!fs) {
        std::uint64_t v;
        while (::read(evfd_, &v, sizeof v) > 0) {
        }
        continue;
      }
      const std::uint32_t e = events[i].events;
      if (e & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) fs->closed = true;
      if (e & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
        fs->readable = true;
        retry(fs->readers, fs->readable);
      }
      if (e & (EPOLLOUT | EPOLLHUP | EPOLLERR)) {
        fs->writable = true;
        retry(fs->writers, fs->writable);
      }
    }
  }

  void wake() noexcept override {
    std::uint64_t one = 1;
    ssize_t r = ::write(evfd_, &one, sizeof one);
    (void)r;  // EAGAIN means the counter is already non-zero: a wake is pending anyway
  }

  const char* name() const noexcept override { return "epoll"; }

  bool start(io_op& op) noexcept override {
    ++stats_->io_ops;
    fd_state& fs = *op.fs;
    const bool w = is_write(op.k);
    bool& ready = w ? fs.writable : fs.readable;
    ilist& waiters = w ? fs.writers : fs.readers;
    // Try at once when the direction may be ready and nobody queues before us (order).
    if ((ready && waiters.empty()) || op.k == io_op::kind::connect) {
      op.res = detail::perform(op, false);
      if (op.res != -EAGAIN) {
        ++stats_->io_immediate;
        note_short(op, ready);
        return true;
      }
      ready = false;
    }
    if (!fs.registered && !add(fs)) {
      op.res = -errno;
      return true;
    }
    op.in_flight = true;
    waiters.push_back(&op);
    return false;
  }

  void cancel(io_op& op) noexcept override {
    if (!op.in_flight) return;
    op.unlink();
    op.in_flight = false;
    op.res = -ECANCELED;
    op.done(&op);
  }

  void cancel_now(io_op& op) noexcept override {
    op.unlink();
    op.in_flight = false;
  }

  void forget(fd_state& fs) noexcept override {
    if (fs.registered) ::epoll_ctl(epfd_, EPOLL_CTL_DEL, fs.fd, nullptr);
    fs.registered = false;
  }

  void quiesce() noexcept override {}

 private:
  bool add(fd_state& fs) noexcept {
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    ev.data.ptr = &fs;
    if (::epoll_ctl(epfd_, EPOLL_CTL_ADD, fs.fd, &ev) < 0) return false;
    fs.registered = true;
    return true;
  }

  // The direction became ready: complete waiting operations until one would block again.
  static void retry(ilist& waiters, bool& ready) noexcept {
    while (ready) {
      auto* op = static_cast<io_op*>(waiters.front());
      if (!op) return;
      const int r = detail::perform(*op, true);
      if (r == -EAGAIN) {
        ready = false;
        return;
      }
      op->unlink();
      op->in_flight = false;
      op->res = r;
      note_short(*op, ready);
      op->done(op);
    }
  }

  // A stream read or write that moved fewer bytes than asked drained the receive queue or
  // filled the send buffer: the next one waits for the edge instead of trying a syscall that
  // would say EAGAIN (the edge of new data or room is still reported: it comes later).
  static void note_short(const io_op& op, bool& ready) noexcept {
    if (!op.fs->stream || op.fs->closed || op.res <= 0) return;
    if ((op.k == io_op::kind::read || op.k == io_op::kind::write) &&
        static_cast<std::size_t>(op.res) < op.len)
      ready = false;
  }

  int epfd_ = -1;
  int evfd_ = -1;
};

}  // namespace

std::unique_ptr<reactor> make_epoll_reactor() { return std::make_unique<epoll_reactor>(); }

}  // namespace weir
