#include <weir/io/handle.hpp>

#include <weir/core/log.hpp>

#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <utility>

#include <unistd.h>

namespace weir::io {

handle::handle(handle&& o) noexcept {
  fs_.socket = o.fs_.socket;
  fs_.stream = o.fs_.stream;
  fs_.sim = std::exchange(o.fs_.sim, false);
  fs_.fd = o.release();
}

handle& handle::operator=(handle&& o) noexcept {
  if (this != &o) {
    close();
    fs_.socket = o.fs_.socket;
    fs_.stream = o.fs_.stream;
    fs_.sim = std::exchange(o.fs_.sim, false);
    fs_.fd = o.release();
  }
  return *this;
}

int handle::release() noexcept {
  if (!fs_.readers.empty() || !fs_.writers.empty()) {
    // Moving a socket while an operation on it waits would leave the kernel (io_uring) or
    // the reactor (epoll) with a dangling pointer: a broken invariant of the caller.
    log::error("io::handle moved or released with an operation in flight (a broken invariant)",
               {{"fd", std::to_string(fs_.fd)}});
    log::flush();
    std::abort();
  }
  if (r_ && fs_.registered) r_->forget(fs_);
  fs_.registered = false;
  fs_.readable = fs_.writable = true;
  fs_.closed = false;
  r_ = nullptr;
  return std::exchange(fs_.fd, -1);
}

void handle::close() noexcept {
  if (fs_.fd < 0) return;
  if (r_) {
    for (detail::ilist* l : {&fs_.readers, &fs_.writers}) {
      while (auto* op = static_cast<detail::io_op*>(l->front())) {
        auto done = op->done;
        op->res = -ECANCELED;  // io_uring's cancel_now replaces it with the real outcome
        r_->cancel_now(*op);   // unlinks it; afterwards the kernel no longer touches its buffers
        op->unlink();
        if (op->k == detail::io_op::kind::accept && op->res >= 0) {
          ::close(op->res);  // a connection accepted as the listener closes: refuse it
          op->res = -ECANCELED;
        }
        if (done) done(op);
      }
    }
  }
  if (fs_.sim) {  // the simulated peer learns of the close (FIN, or RST with unread data)
    if (reactor* r = r_ ? r_ : detail::tl_shard ? &detail::tl_shard->io() : nullptr)
      r->closing(fs_);
  }
  ::close(release());
}

reactor& handle::bind() {
  detail::shard& sh = detail::require_shard("weir::io (socket operation)");
  if (!r_) {
    r_ = &sh.io();
  } else if (r_ != &sh.io()) {
    throw std::logic_error(
        "weir::io: a socket is used on a shard other than the one it is bound to");
  }
  return *r_;
}

void op_awaiter::copy_op(const detail::io_op& o) noexcept {
  op_.k = o.k;
  op_.buf = o.buf;
  op_.len = o.len;
  op_.iov = o.iov;
  op_.iovcnt = o.iovcnt;
  op_.msg = o.msg;
  op_.addr = o.addr;
  op_.addrlen = o.addrlen;
  op_.flags = o.flags;
}

}  // namespace weir::io
