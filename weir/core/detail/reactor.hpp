// weir::reactor — where a shard parks and where its I/O completes (docs/architecture.md D3).
//
// Two backends implement it: io_uring (liburing) and epoll (edge-triggered). Each shard owns
// one; the runtime picks io_uring when io_uring_setup works and epoll otherwise, and
// WEIR_BACKEND=uring|epoll forces one (see runtime_options::backend).
//
// The core parks in wait() and wakes a parked shard with wake(). weir::io and weir::net start
// operations (detail::io_op: read, write, accept, ...) with start(); a backend completes them
// either at once or later from wait(), by calling the op's `done` callback on the shard's
// thread. Users do not call this interface: they use weir::net's sockets.
//
// Thread safety: everything but wake() runs on the owning shard's thread only; wake() may be
// called from any thread at any time, including concurrently with wait().
#pragma once

#include <weir/core/detail/ilist.hpp>
#include <weir/core/shard_counters.hpp>

#include <sys/socket.h>
#include <sys/uio.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace weir {

namespace detail {

// What a backend keeps per open file descriptor: the operations in flight on it (epoll: the
// ones waiting for readiness, by direction; io_uring: the ones submitted), readiness learnt
// from edge-triggered events, and whether it is registered with epoll. Owned by io::handle.
struct fd_state {
  int fd = -1;
  ilist readers;  // epoll: waiting to read/accept; io_uring: every op in flight
  ilist writers;  // epoll: waiting to write/connect
  bool registered = false;
  bool socket = true;    // writes use send/sendmsg with MSG_NOSIGNAL; otherwise write/writev
  bool stream = false;   // a byte stream: a short read means the receive queue is empty
  bool closed = false;   // epoll: the peer's FIN, a hang-up or an error was seen (sticky)
  bool readable = true;  // epoll: unknown counts as ready (try the syscall first)
  bool writable = true;
  bool sim = false;  // a socket of the sim backend's network (its fd is a placeholder)
};

// One I/O operation. Lives in its awaiter (in the waiting coroutine's frame): starting and
// completing an operation never allocates.
struct io_op : ilist_node {
  enum class kind : std::uint8_t {
    read,      // read(fd, buf, len)
    write,     // write(fd, buf, len), MSG_NOSIGNAL for sockets
    readv,     // readv(fd, iov, iovcnt)
    writev,    // writev(fd, iov, iovcnt) (sendmsg with MSG_NOSIGNAL)
    recvmsg,   // recvmsg(fd, msg, flags)
    sendmsg,   // sendmsg(fd, msg, flags | MSG_NOSIGNAL)
    accept,    // accept4(fd, addr, addrlen, SOCK_NONBLOCK | SOCK_CLOEXEC)
    connect,   // connect(fd, addr, len); completes when the connection is up or failed
    poll_in,   // wait until readable (result: 0)
    poll_out,  // wait until writable (result: 0)
  };
  kind k = kind::read;
  bool in_flight = false;   // started and not yet completed (the kernel may touch buffers)
  bool cancelling = false;  // cancel() requested
  fd_state* fs = nullptr;
  void* buf = nullptr;
  std::size_t len = 0;
  const iovec* iov = nullptr;
  int iovcnt = 0;
  msghdr* msg = nullptr;
  sockaddr* addr = nullptr;
  socklen_t addrlen = 0;  // accept: in/out (capacity, then the peer's length)
  int flags = 0;
  msghdr scratch{};  // io_uring: the msghdr of a socket writev
  int res = 0;       // the result: >= 0 on success, -errno on failure (-ECANCELED when cancelled)
  // Called on the shard's thread when an operation that start() did not finish completes.
  void (*done)(io_op*) noexcept = nullptr;
  void* ctx = nullptr;  // for `done`
};

}  // namespace detail

class reactor {
 public:
  virtual ~reactor() = default;
  // Blocks until an event or wake() or `timeout` (negative: no limit; zero: do not block),
  // completing the operations whose results arrived (their `done` runs).
  virtual void wait(std::chrono::nanoseconds timeout) = 0;
  // Makes a current or the next wait() return promptly. Any thread; async-signal-safe.
  virtual void wake() noexcept = 0;
  // "epoll", "io_uring", ... for logs and stats.
  virtual const char* name() const noexcept = 0;

  // --- I/O (shard thread only) ----------------------------------------------------------
  // Starts `op` (its fields filled in, `op.fs` set). Returns true when it completed at once
  // (op.res holds the result, `done` is not called); false when it is in flight: then
  // `done` runs later from wait() (or from cancel()).
  virtual bool start(detail::io_op& op) noexcept = 0;
  // Asks an in-flight operation to stop. It still completes through `done`: with -ECANCELED,
  // or with its real result when it finished first (no data is lost). epoll completes it
  // before returning, io_uring from a later wait().
  virtual void cancel(detail::io_op& op) noexcept = 0;
  // Stops an in-flight operation before returning, without calling `done`: afterwards the
  // kernel no longer touches its buffers. For destructors.
  virtual void cancel_now(detail::io_op& op) noexcept = 0;
  // Called before the fd of `fs` is closed, with no operation in flight on it.
  virtual void forget(detail::fd_state& fs) noexcept = 0;
  // Called before a simulated socket's descriptor is closed (fd_state::sim; the sim backend).
  virtual void closing(detail::fd_state&) noexcept {}
  // Called once on the shard's thread when its loop ends: stops every operation in flight
  // (without calling `done`) so that destroying the tasks that wait on them is safe.
  virtual void quiesce() noexcept = 0;

  // Where the backend counts (io_ops: start() calls, io_immediate: those that completed at
  // once, io_waits: epoll_wait / io_uring_enter(GETEVENTS) calls): the counter table of the
  // shard that owns the reactor (shard_counters.hpp), set by it before any other call.
  void count_into(detail::shard_stats& s) noexcept { stats_ = &s; }

 protected:
  detail::shard_stats* stats_ = nullptr;
};

// The backends. make_uring_reactor throws std::system_error when io_uring_setup fails.
std::unique_ptr<reactor> make_epoll_reactor();
std::unique_ptr<reactor> make_uring_reactor();

// Which backend a runtime uses when runtime_options::make_reactor is empty: `forced`
// ("uring", "epoll"; empty: the WEIR_BACKEND environment variable, then io_uring when it
// works, else epoll). Sets `why` to a sentence for the log ("io_uring: chosen ...").
// Throws std::invalid_argument for an unknown name.
std::function<std::unique_ptr<reactor>()> choose_backend(std::string forced, std::string& why);

}  // namespace weir
