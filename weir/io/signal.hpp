// weir::io::signal_set — waiting for POSIX signals (SIGINT, SIGTERM, SIGQUIT, ...) in a task.
//
//   int main() {
//     weir::io::signal_set stop({SIGINT, SIGTERM});   // before the runtime: threads inherit
//     weir::runtime rt;
//     rt.block_on(serve(stop));
//   }
//   ... int sig = *co_await stop.wait();              // in a task, on any shard
//
// The constructor blocks the signals in the calling thread, so every thread started after it
// (the runtime's shards, the blocking pool) inherits the mask and the signals stay pending
// for the process; a signalfd delivers them to wait(). Construct it on the main thread before
// the runtime. The destructor closes the fd and restores the previous mask of the thread that
// constructed it.
//
// wait(): resumes on the waiting task's shard with the signal number. Cancel-safe: a signal
// that is not consumed stays pending for the next wait(). Destroyed while suspended: the read
// is cancelled. One waiting task at a time. Each wait reads through its own duplicate of the
// signalfd, so the set is bound to no shard and may outlive the runtime.
#pragma once

#include <weir/core/result.hpp>
#include <weir/core/task.hpp>
#include <weir/io/handle.hpp>

#include <initializer_list>

#include <signal.h>

namespace weir::io {

class signal_set {
 public:
  explicit signal_set(std::initializer_list<int> signals);
  ~signal_set();
  signal_set(const signal_set&) = delete;
  signal_set& operator=(const signal_set&) = delete;

  task<result<int>> wait();

 private:
  sigset_t set_{}, old_{};
  int fd_ = -1;
};

}  // namespace weir::io
