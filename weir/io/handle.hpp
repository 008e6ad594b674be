// weir::io::handle — an owned file descriptor on a shard's reactor, and the awaiter of one
// I/O operation on it (docs/architecture.md D3). The building block of weir::net's sockets.
//
// A handle closes its fd when destroyed (or at close()). It is bound to the shard that first
// starts an operation on it and must be used only there. A fd is never closed while an
// operation on it is in flight: close() and the destructor first stop every such operation,
// whose waiters then resume with an error (ECANCELED).
//
// Every operation is cancellable (the awaiting task's cancel token, so with_timeout /
// with_deadline too): epoll drops the wait, io_uring issues an async cancel and resumes the
// task only once the kernel has given the operation back. After an operation was cancelled,
// the buffer passed to it is no longer touched. When the operation had already completed
// when the cancellation arrived, its real result is returned (no data is lost).
#pragma once

#include <weir/core/detail/reactor.hpp>
#include <weir/core/detail/shard.hpp>
#include <weir/core/detail/waiter.hpp>
#include <weir/core/result.hpp>

#include <cerrno>
#include <cstddef>
#include <system_error>

namespace weir::io {

class handle {
 public:
  handle() noexcept = default;
  // Adopts `fd` (non-blocking, close-on-exec). `socket`: writes use send with MSG_NOSIGNAL.
  explicit handle(int fd, bool socket = true) noexcept {
    fs_.fd = fd;
    fs_.socket = socket;
  }
  handle(handle&& o) noexcept;
  handle& operator=(handle&& o) noexcept;
  ~handle() { close(); }

  int fd() const noexcept { return fs_.fd; }
  bool is_open() const noexcept { return fs_.fd >= 0; }
  explicit operator bool() const noexcept { return is_open(); }

  // Stops the operations in flight (their waiters get ECANCELED), then closes the fd.
  void close() noexcept;
  // Gives the fd up without closing it (no operation may be in flight).
  int release() noexcept;

  // The reactor of the shard the handle is bound to (binding it to the current one).
  reactor& bind();
  detail::fd_state& state() noexcept { return fs_; }

 private:
  detail::fd_state fs_;
  reactor* r_ = nullptr;
};

// Awaits one io_op on `h`; co_await gives result<std::size_t> (the operation's non-negative
// result: bytes, a new fd, 0 for connect/poll). Movable until awaited.
class op_awaiter {
 public:
  op_awaiter(handle& h, detail::io_op::kind k) noexcept : h_(&h) { op_.k = k; }
  op_awaiter(op_awaiter&& o) noexcept : h_(o.h_), label_(o.label_) { copy_op(o.op_); }
  op_awaiter& operator=(op_awaiter&&) = delete;
  ~op_awaiter() {
    if (op_.in_flight) r_->cancel_now(op_);
  }

  detail::io_op& op() noexcept { return op_; }
  // What the wait is for, shown in dumps before the fd ("tx ring full, 256 slots: read fd 7").
  // The text must outlive the handle (dumps read it from any thread).
  op_awaiter& labelled(const char* text) noexcept {
    label_ = text;
    return *this;
  }

  bool await_ready() const noexcept { return false; }
  template <class P>
  bool await_suspend(std::coroutine_handle<P> h) {
    r_ = &h_->bind();
    op_.fs = &h_->state();
    if (std::error_code ec =
            w_.prepare(h, &on_cancel, this, wait_of(op_.k), h_->state().fd, label_)) {
      reason_ = ec;
      op_.res = -ECANCELED;
      return false;
    }
    op_.done = &on_done;
    op_.ctx = this;
    if (r_->start(op_)) {
      w_.disarm();
      if (detail::tl_shard->coop_proceed()) return false;
      detail::yield_to_back(w_.sched, h);
    }
    return true;
  }
  result<std::size_t> await_resume() noexcept {
    w_.disarm();
    if (op_.res >= 0) return static_cast<std::size_t>(op_.res);
    if (op_.res == -ECANCELED && reason_) return unexpected(reason_);
    return unexpected(std::error_code(-op_.res, std::system_category()));
  }

 private:
  void copy_op(const detail::io_op& o) noexcept;
  static detail::wait_kind wait_of(detail::io_op::kind k) noexcept {
    using K = detail::io_op::kind;
    switch (k) {
      case K::read:
      case K::readv:
      case K::recvmsg: return detail::wait_kind::read;
      case K::write:
      case K::writev:
      case K::sendmsg: return detail::wait_kind::write;
      case K::accept: return detail::wait_kind::accept;
      case K::connect: return detail::wait_kind::connect;
      case K::poll_in:
      case K::poll_out: break;
    }
    return detail::wait_kind::readiness;
  }
  static void on_done(detail::io_op* op) noexcept {
    auto* self = static_cast<op_awaiter*>(op->ctx);
    self->w_.disarm();
    self->w_.wake();
  }
  static void on_cancel(void* p, std::error_code reason) noexcept {
    auto* self = static_cast<op_awaiter*>(p);
    self->reason_ = reason;
    self->r_->cancel(self->op_);
  }

  handle* h_;
  reactor* r_ = nullptr;
  detail::io_op op_;
  detail::waiter w_;
  std::error_code reason_;
  const char* label_ = nullptr;
};

// The error of a failed system call (errno) as an error_code.
inline std::error_code last_error() noexcept { return {errno, std::system_category()}; }

}  // namespace weir::io
