// weir::reactor — where a shard parks when it has nothing to run (DESIGN.md D3).
//
// The interface the core needs is deliberately small: wait for events until a timeout,
// dispatching whatever completions the backend has (I/O backends resume the tasks waiting
// on them by calling detail::wake), and be woken from another thread. weir::io adds the
// io_uring and epoll socket backends behind it; a simulated one (D11) comes later.
//
// Thread safety: wait() runs only on the owning shard's thread; wake() may be called from
// any thread at any time, including concurrently with wait().
#pragma once

#include <chrono>
#include <functional>
#include <memory>

namespace weir {

class reactor {
 public:
  virtual ~reactor() = default;
  // Blocks until an event or wake() or `timeout` (negative: no limit; zero: do not block).
  virtual void wait(std::chrono::nanoseconds timeout) = 0;
  // Makes a current or the next wait() return promptly. Any thread; async-signal-safe.
  virtual void wake() noexcept = 0;
  // "epoll", "io_uring", ... for logs and stats.
  virtual const char* name() const noexcept = 0;
};

using reactor_factory = std::function<std::unique_ptr<reactor>()>;

// epoll + eventfd: the reactor the core ships with.
std::unique_ptr<reactor> make_epoll_reactor();

}  // namespace weir
