// weir::runtime — N shards, one thread each (docs/architecture.md D2).
//
// A runtime starts its shard threads at construction (pinned to CPUs where the OS allows)
// and stops them at destruction. Work enters with block_on() from a thread that is not a
// shard; inside, tasks spawn (weir::spawn), hop between shards (weir::on_shard), sleep, and
// wait on weir::sync primitives. Shards share nothing: each owns its run queue, timing
// wheel, reactor and frame pools, and shards talk through bounded mailboxes.
//
//   weir::runtime rt({.shards = 2});
//   int v = rt.block_on(compute());       // runs compute() on shard 0, waits for it
//
// Destroying a runtime stops every shard, then destroys every task still suspended (their
// frames and awaiters are released; nothing leaks, nothing resumes).
//
// Thread safety: block_on() may be called from any non-shard thread, concurrently. The
// runtime must outlive every task it runs.
#pragma once

#include <weir/core/detail/root.hpp>
#include <weir/core/log.hpp>
#include <weir/core/registry.hpp>
#include <weir/core/task.hpp>

#include <chrono>
#include <csignal>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <semaphore>
#include <source_location>
#include <string>

namespace weir {

class reactor;  // a shard's I/O backend (detail/reactor.hpp)
using reactor_factory = std::function<std::unique_ptr<reactor>()>;

namespace detail {
struct runtime_access;
}

// What a runtime does when a waiting task loses its last wake-up handle (registry.hpp).
enum class lost_wakeup_policy {
  env_or_fail,  // the WEIR_LOST_WAKEUP environment variable (report|fail|abort), else fail
  report,       // log + count; the task stays waiting (and shows in dumps)
  fail,         // log + count; the task resumes with errc::lost_wakeup (its client gets an error)
  abort,        // print the report and abort (tests, debugging)
};

struct runtime_options {
  unsigned shards = 0;              // 0: one per CPU this process may use
  bool pin_threads = true;          // pin shard k to the k-th allowed CPU (ignored on failure)
  unsigned mailbox_capacity = 256;  // requests in flight from one shard to another
  unsigned blocking_threads = 16;   // upper bound of weir::blocking's pool
  // The manual clock (weir::testing::manual_clock): time moves only when the test advances
  // it, or jumps to the next deadline when no task of the shard can run.
  bool manual_clock = false;
  // Cooperative budget (D5): a run of a task may complete at most `coop_ops` awaits without
  // suspending, and spend at most `coop_quota` doing so, before such an await yields.
  unsigned coop_ops = 128;
  std::chrono::microseconds coop_quota{250};
  // Before parking, a shard polls its inboxes for up to this long: a wake from another shard
  // within that window (a cross-shard request and its reply) costs no eventfd write and no
  // sleeping-thread wake-up (~3 µs each way). 0 parks at once. The CPU spent is bounded by
  // this window per transition to idle. Off with one shard, and when there are more shards
  // than usable CPUs.
  std::chrono::microseconds spin_before_park{20};
  // The I/O backend of every shard: "uring", "epoll", or empty for the WEIR_BACKEND
  // environment variable, else io_uring when io_uring_setup works, else epoll. The choice and
  // its reason are logged once per process (weir::log) and shown by backend_name().
  std::string backend;
  // Overrides `backend` with a reactor of the caller's (tests).
  reactor_factory make_reactor;
  // backend "sim" (or WEIR_BACKEND=sim): every shard on one thread, interleaved in an order
  // drawn from this seed, on virtual time (docs/architecture.md D11). 0: the WEIR_SIM_SEED
  // environment variable, else a random seed; the seed is logged, and runs replay exactly.
  std::uint64_t sim_seed = 0;

  // --- seeing inside (registry.hpp) --------------------------------------------------------
  lost_wakeup_policy lost_wakeup = lost_wakeup_policy::env_or_fail;
  // A run of one task longer than this is a stall: reported while it lasts, with a backtrace
  // of the shard's thread. 0 turns the watchdog's stall check off.
  std::chrono::milliseconds stall_threshold{20};
  // The signal the watchdog sends a stuck shard to take its backtrace (0: SIGRTMIN + 4).
  int stall_signal = 0;
  // This signal makes the runtime log a dump of every task (0: none). The process goes on.
  // The first runtime to start installs the handler; the handler stays.
  int dump_signal = SIGQUIT;
  // Where every line weir logs goes (log.hpp); installed for the whole process when the
  // runtime starts. Empty: leave the process's sink as it is (by default, logfmt on stderr).
  std::shared_ptr<log::sink> log_sink;
};

class runtime {
 public:
  explicit runtime(runtime_options opts = {});
  ~runtime();
  runtime(const runtime&) = delete;
  runtime& operator=(const runtime&) = delete;

  // Runs `t` as a task named `name` on shard 0 and blocks the calling (non-shard) thread
  // until it finishes; returns its value or rethrows its exception.
  template <class T>
  T block_on(task<T> t, const char* name = "main",
             std::source_location site = std::source_location::current());

  unsigned shard_count() const noexcept;
  // "io_uring", "epoll" or "sim": the backend the shards use.
  const char* backend_name() const noexcept;
  // Under the sim backend: its seed, and the hash of its trace so far (every scheduling
  // decision: two runs of one seed give the same hash). 0 under the other backends.
  std::uint64_t sim_seed() const noexcept;
  std::uint64_t sim_trace_hash() const noexcept;

  // Shard `k`'s counters (shard_counters.hpp: tasks run and spawned, budget yields, reactor
  // ops and waits, ...), read from any thread: each value exact, not one cut across them.
  using shard_stats = shard_counters;
  shard_stats stats(unsigned k) const noexcept;

  // Every task of every shard, from any thread (registry.hpp).
  registry_snapshot snapshot(const task_filter& f = {});

 private:
  friend struct detail::runtime_access;
  static void check_not_on_shard();
  void inject_main(detail::root_base* root, const char* name, std::source_location site);

  std::unique_ptr<detail::runtime_impl> impl_;
};

// The index of the shard the caller runs on; throws std::logic_error outside a runtime.
unsigned this_shard();
// The number of shards of the caller's runtime; throws std::logic_error outside a runtime.
unsigned shard_count();

namespace detail {

// The runtime's internals, for weir's own sources (registry.cpp, ...).
struct runtime_access {
  static runtime_impl& impl(runtime& rt) noexcept { return *rt.impl_; }
};

template <class T>
struct block_on_result {
  std::optional<std::conditional_t<std::is_void_v<T>, char, T>> value;
  std::exception_ptr error;
  std::binary_semaphore done{0};
};

// The outer coroutine of a block_on task: stores the outcome and releases the caller.
struct block_on_coro {
  struct promise_type : root_base {
    block_on_coro get_return_object() noexcept {
      return {std::coroutine_handle<promise_type>::from_promise(*this)};
    }
    std::suspend_always initial_suspend() const noexcept { return {}; }
    std::suspend_never final_suspend() const noexcept { return {}; }
    void return_void() noexcept {}
    void unhandled_exception() noexcept { std::terminate(); }
  };
  std::coroutine_handle<promise_type> h;
};

// Under sim: the caller no longer waits (virtual time stops moving unless another does).
void block_on_finished() noexcept;

template <class T>
block_on_coro block_on_body(task<T> t, block_on_result<T>* out) {
  {
    // The task's frame (and everything its parameters own) is gone before the caller is
    // released: block_on's return means the work and its state are finished.
    task<T> body = std::move(t);
    try {
      if constexpr (std::is_void_v<T>) {
        co_await body;
        out->value.emplace(0);
      } else {
        out->value.emplace(co_await body);
      }
    } catch (...) {
      out->error = std::current_exception();
    }
  }
  block_on_finished();
  out->done.release();
}

}  // namespace detail

template <class T>
T runtime::block_on(task<T> t, const char* name, std::source_location site) {
  check_not_on_shard();  // before the frame exists: block_on from a shard would deadlock
  detail::block_on_result<T> out;
  auto coro = detail::block_on_body(std::move(t), &out);
  coro.h.promise().sched.handle = coro.h;
  inject_main(&coro.h.promise(), name, site);
  out.done.acquire();
  if (out.error) std::rethrow_exception(out.error);
  if constexpr (!std::is_void_v<T>) return std::move(*out.value);
}

}  // namespace weir
