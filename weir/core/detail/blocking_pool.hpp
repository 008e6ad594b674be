// The bounded thread pool behind weir::blocking (docs/architecture.md D8). Internal.
#pragma once

#include <weir/core/detail/ilist.hpp>

#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

namespace weir::detail {

// A job lives in the awaiting task's frame. `run` executes on a pool thread and must make
// the job's last touch of its own memory the wake of its task.
struct blocking_job : ilist_node {
  void (*run)(blocking_job*) = nullptr;
};

class blocking_pool {
 public:
  explicit blocking_pool(unsigned max_threads) : max_threads_(max_threads ? max_threads : 1) {}
  ~blocking_pool() { stop(); }

  // Queues `j`; starts a thread when none is idle and the bound allows. Any thread.
  void submit(blocking_job* j);
  // Removes `j` if no thread has taken it yet; true when removed.
  bool try_cancel(blocking_job* j) noexcept;
  // Finishes running jobs, drops queued ones (their tasks are destroyed by the runtime), and
  // joins every thread.
  void stop();

  unsigned threads() const;
  // Under the sim backend jobs run on the sim loop's thread at simulated times (sim.hpp).
  void simulate(class sim_state* sim) noexcept { sim_ = sim; }

 private:
  void worker();

  mutable std::mutex mu_;
  std::condition_variable cv_;
  ilist queue_;
  std::vector<std::thread> threads_;
  unsigned idle_ = 0;
  const unsigned max_threads_;
  bool stopping_ = false;
  class sim_state* sim_ = nullptr;
};

}  // namespace weir::detail
