// A runtime's debugging state: recent stall and lost-wake-up reports and the watchdog thread
// (stalls, SIGQUIT dumps, symbolizing and logging reports). Internal; see registry.hpp.
#pragma once

#include <weir/core/registry.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace weir::detail {

class runtime_impl;
struct task_record;

// Symbolizes return addresses of this process (libdw: function, file, line). `skip` leading
// frames are dropped. Thread-safe (one lock); the first call reads the debug information.
std::vector<stack_frame> symbolize(void* const* frames, int n, int skip = 0);

// "function at file:line" of the first frame outside weir's own runtime code.
std::string first_user_frame(const std::vector<stack_frame>& bt);

// At most one log line per second; the lines held back are counted into the next one.
class log_limiter {
 public:
  // True when a line may be written now; `held` is set to how many were held back before it.
  bool allow(std::int64_t now_ns, std::uint64_t& held) noexcept;
  std::uint64_t held() const noexcept { return held_; }

 private:
  std::int64_t last_ns_ = 0;
  std::uint64_t held_ = 0;
  bool any_ = false;
};

class debug_state {
 public:
  explicit debug_state(runtime_impl& rt);
  ~debug_state();  // stops the watchdog

  void start();  // after the shards' threads started
  void stop();

  // A lost wake-up, from any thread. `waiting` is the record of the waiting task (alive:
  // nothing else can wake it), or null when it has not started waiting yet (then `task_id` and
  // `task_name` name the task that made the primitive, if known).
  void report_lost(const task_record* waiting, std::uint64_t task_id, const char* task_name,
                   const char* what);

  std::vector<stall_report> stalls();
  std::vector<lost_wakeup_report> lost();
  std::uint64_t stall_count() const noexcept { return stall_count_.load(); }
  std::uint64_t lost_count() const noexcept { return lost_count_.load(); }

 private:
  struct pending_lost {
    lost_wakeup_report report;
    void* frames[32];
    int n = 0;
  };
  void watchdog();
  // Each tick (`now`: a cycle_clock reading): notes the run in progress on each shard, charges
  // the time since the last tick to its task (busy time, sampled), and reports a run it has
  // seen for longer than the stall threshold.
  void sample_runs(std::int64_t now);
  void flush_pending();  // symbolizes and logs the pending lost-wake-up reports
  // The report as a log record; `backtrace` (preformatted lines) follows it when given.
  void log_lost(const lost_wakeup_report& r, std::string_view backtrace);

  runtime_impl& rt_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  int wake_fd_ = -1;                       // eventfd: a report is pending, or stop
  std::vector<std::uint64_t> stalled_run_;  // per shard: the run reported already (its seq)
  std::int64_t last_sample_ = 0;            // sample_runs' last `now`

  std::mutex mu_;  // guards the deques and pending_
  std::deque<stall_report> stalls_;
  std::deque<lost_wakeup_report> lost_;
  std::vector<pending_lost> pending_;
  std::mutex flush_mu_;               // one symbolizing flush at a time
  log_limiter stall_log_, lost_log_;  // under flush_mu_
  std::atomic<std::uint64_t> stall_count_{0}, lost_count_{0};
  unsigned dump_gen_ = 0;
};

}  // namespace weir::detail
