// The io_uring backend (liburing).
//
// Operations become submission queue entries whose user_data is the io_op; they are
// submitted in one batch per loop turn (io_uring_submit_and_wait* when the shard parks or
// between batches of runs), and completions are dispatched from the completion queue. Other
// threads wake a parked shard through an eventfd that the ring always has a read pending on.
//
// Ring setup: SINGLE_ISSUER | DEFER_TASKRUN (completion work runs only when the shard asks
// for events: no interrupts of the running shard). Kernels without them (before 6.1) make
// the constructor throw, and the runtime falls back to epoll.
//
// Cancellation: IORING_OP_ASYNC_CANCEL on the op's user_data; the op's own completion follows
// (-ECANCELED, or its real result when it finished first). cancel_now() and quiesce() wait for
// those completions before returning, so buffers are never touched afterwards.
#include <weir/core/detail/reactor.hpp>

#include <liburing.h>

#include <cerrno>
#include <cstdint>
#include <system_error>

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace weir {
namespace {

using detail::fd_state;
using detail::io_op;

// user_data tags that are not io_op pointers (io_op is aligned to 8).
constexpr std::uint64_t tag_wake = 1;    // the eventfd read
constexpr std::uint64_t tag_ignore = 2;  // cancel requests, timeouts

class uring_reactor final : public reactor {
 public:
  uring_reactor() {
    // Created by the runtime's thread, used by the shard's: the ring starts disabled and the
    // shard's first wait() enables it, which makes that thread its single issuer.
    io_uring_params p{};
    p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_SUBMIT_ALL |
              IORING_SETUP_CQSIZE | IORING_SETUP_R_DISABLED;
    p.cq_entries = 4 * kEntries;
    const int r = io_uring_queue_init_params(kEntries, &ring_, &p);
    if (r == -EINVAL)
      throw std::system_error(-r, std::system_category(),
                              "io_uring_setup: the kernel lacks DEFER_TASKRUN (needs Linux 6.1)");
    if (r < 0) throw std::system_error(-r, std::system_category(), "io_uring_setup");
    evfd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (evfd_ < 0) {
      const int e = errno;
      io_uring_queue_exit(&ring_);
      throw std::system_error(e, std::system_category(), "eventfd");
    }
    arm_wake();
  }
  ~uring_reactor() override {
    io_uring_queue_exit(&ring_);
    ::close(evfd_);
  }

  void wait(std::chrono::nanoseconds timeout) override {
    if (!enabled_) enable();
    ++stats_->io_waits;
    io_uring_cqe* cqe = nullptr;
    if (timeout.count() == 0) {
      io_uring_submit_and_get_events(&ring_);
    } else if (timeout.count() < 0) {
      io_uring_submit_and_wait(&ring_, 1);
    } else {
      __kernel_timespec ts{timeout.count() / 1'000'000'000, timeout.count() % 1'000'000'000};
      io_uring_submit_and_wait_timeout(&ring_, &cqe, 1, &ts, nullptr);
    }
    reap();
  }

  void wake() noexcept override {
    std::uint64_t one = 1;
    ssize_t r = ::write(evfd_, &one, sizeof one);
    (void)r;
  }

  const char* name() const noexcept override { return "io_uring"; }

  bool start(io_op& op) noexcept override {
    ++stats_->io_ops;
    io_uring_sqe* sqe = sqe_get();
    const int fd = op.fs->fd;
    switch (op.k) {
      case io_op::kind::read:
        if (op.fs->socket) {
          io_uring_prep_recv(sqe, fd, op.buf, op.len, 0);
          // The last read drained the socket: arm the poll at once instead of a first try
          // that would find nothing (request/response traffic).
          if (!op.fs->readable) sqe->ioprio |= IORING_RECVSEND_POLL_FIRST;
        } else
          io_uring_prep_read(sqe, fd, op.buf, static_cast<unsigned>(op.len), -1);
        break;
      case io_op::kind::write:
        if (op.fs->socket)
          io_uring_prep_send(sqe, fd, op.buf, op.len, MSG_NOSIGNAL);
        else
          io_uring_prep_write(sqe, fd, op.buf, static_cast<unsigned>(op.len), -1);
        break;
      case io_op::kind::readv:
        io_uring_prep_readv(sqe, fd, op.iov, static_cast<unsigned>(op.iovcnt), -1);
        break;
      case io_op::kind::writev:
        if (op.fs->socket) {
          // sendmsg for MSG_NOSIGNAL; the msghdr lives in the op (stable while in flight).
          op.scratch = msghdr{};
          op.scratch.msg_iov = const_cast<iovec*>(op.iov);
          op.scratch.msg_iovlen = static_cast<std::size_t>(op.iovcnt);
          io_uring_prep_sendmsg(sqe, fd, &op.scratch, MSG_NOSIGNAL);
        } else {
          io_uring_prep_writev(sqe, fd, op.iov, static_cast<unsigned>(op.iovcnt), -1);
        }
        break;
      case io_op::kind::recvmsg:
        io_uring_prep_recvmsg(sqe, fd, op.msg, static_cast<unsigned>(op.flags));
        break;
      case io_op::kind::sendmsg:
        io_uring_prep_sendmsg(sqe, fd, op.msg, static_cast<unsigned>(op.flags | MSG_NOSIGNAL));
        break;
      case io_op::kind::accept:
        io_uring_prep_accept(sqe, fd, op.addr, op.addr ? &op.addrlen : nullptr,
                             SOCK_NONBLOCK | SOCK_CLOEXEC);
        break;
      case io_op::kind::connect: io_uring_prep_connect(sqe, fd, op.addr, op.addrlen); break;
      case io_op::kind::poll_in: io_uring_prep_poll_add(sqe, fd, POLLIN); break;
      case io_op::kind::poll_out: io_uring_prep_poll_add(sqe, fd, POLLOUT); break;
    }
    io_uring_sqe_set_data(sqe, &op);
    op.in_flight = true;
    op.fs->readers.push_back(&op);
    ++in_flight_;
    return false;
  }

  void cancel(io_op& op) noexcept override {
    if (!op.in_flight || op.cancelling) return;
    op.cancelling = true;
    io_uring_sqe* sqe = sqe_get();
    io_uring_prep_cancel(sqe, &op, 0);
    io_uring_sqe_set_data64(sqe, tag_ignore);
  }

  void cancel_now(io_op& op) noexcept override {
    if (!op.in_flight) return;
    if (!enabled_) enable();
    op.done = nullptr;  // its completion must not resume anything: we are in its destructor
    cancel(op);
    while (op.in_flight) {
      io_uring_submit_and_wait(&ring_, 1);
      reap();
    }
  }

  void forget(fd_state&) noexcept override {}

  void quiesce() noexcept override {
    if (in_flight_ == 0) return;
    if (!enabled_) enable();
    io_uring_sqe* sqe = sqe_get();
    io_uring_prep_cancel(sqe, nullptr, IORING_ASYNC_CANCEL_ANY);
    io_uring_sqe_set_data64(sqe, tag_ignore);
    quiescing_ = true;
    while (in_flight_ > 0) {
      const int r = io_uring_submit_and_wait(&ring_, 1);
      if (r < 0 && r != -EINTR) break;
      reap();
    }
  }

 private:
  io_uring_sqe* sqe_get() noexcept {
    io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
    while (!sqe) {  // the submission queue is full: submit what is there and retry
      if (!enabled_) enable();
      io_uring_submit(&ring_);
      sqe = io_uring_get_sqe(&ring_);
    }
    return sqe;
  }

  void enable() noexcept {
    // liburing 2.3 declares io_uring_enable_rings but does not export it: the raw call.
    ::syscall(__NR_io_uring_register, ring_.ring_fd, IORING_REGISTER_ENABLE_RINGS, nullptr, 0);
    io_uring_register_ring_fd(&ring_);  // enter without an fd lookup (best effort)
    enabled_ = true;
  }

  void arm_wake() noexcept {
    io_uring_sqe* sqe = sqe_get();
    io_uring_prep_read(sqe, evfd_, &wake_buf_, sizeof wake_buf_, 0);
    io_uring_sqe_set_data64(sqe, tag_wake);
  }

  void reap() noexcept {
    unsigned head;
    unsigned n = 0;
    io_uring_cqe* cqe;
    io_uring_for_each_cqe(&ring_, head, cqe) {
      ++n;
      const std::uint64_t ud = cqe->user_data;
      if (ud == tag_wake) {
        if (!quiescing_) arm_wake();
        continue;
      }
      if (ud == tag_ignore) continue;
      auto* op = reinterpret_cast<io_op*>(ud);
      op->unlink();
      op->in_flight = false;
      op->res = cqe->res;
      --in_flight_;
      if (op->k == io_op::kind::read && op->fs->stream)
        op->fs->readable = cqe->res <= 0 || static_cast<std::size_t>(cqe->res) == op->len;
      if (op->done && !quiescing_) op->done(op);
    }
    io_uring_cq_advance(&ring_, n);
  }

  io_uring ring_{};
  int evfd_ = -1;
  std::uint64_t wake_buf_ = 0;
  std::size_t in_flight_ = 0;
  bool enabled_ = false;
  static constexpr unsigned kEntries = 1024;
  bool quiescing_ = false;
};

}  // namespace

std::unique_ptr<reactor> make_uring_reactor() { return std::make_unique<uring_reactor>(); }

}  // namespace weir
