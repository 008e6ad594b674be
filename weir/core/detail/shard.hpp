// A shard: one thread, its run queue, timers, reactor and tasks (docs/architecture.md D2).
// Internal; users see weir::runtime and the free functions of weir/core.
#pragma once

#include <weir/core/cancel.hpp>
#include <weir/core/detail/ilist.hpp>
#include <weir/core/detail/mailbox.hpp>
#include <weir/core/detail/root.hpp>
#include <weir/core/detail/schedulable.hpp>
#include <weir/core/detail/timer_wheel.hpp>
#include <weir/core/detail/reactor.hpp>
#include <weir/core/shard_counters.hpp>
#include <weir/core/task.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <source_location>
#include <string>
#include <vector>

namespace weir::detail {

class runtime_impl;

// A lock for the registry's readers (dumps, the watchdog: other threads). The shard takes it
// only to link or unlink a task and to set a task's context, never per run or per await; it
// is contended only while a dump copies this shard's records.
class registry_lock {
 public:
  void lock() noexcept {
    while (held_.exchange(true, std::memory_order_acquire))
      while (held_.load(std::memory_order_relaxed)) __builtin_ia32_pause();
  }
  void unlock() noexcept { held_.store(false, std::memory_order_release); }

 private:
  std::atomic<bool> held_{false};
};

// What the watchdog sees of the run in progress on a shard (written by the shard thread; its
// task is shard::current_task(), read under the registry lock).
struct run_monitor {
  // Twice the runs begun, plus one while a run is in progress: odd means running, and an odd
  // value names the run. The shard's thread is its only writer (two plain stores per run); it
  // reads no clock for it: the watchdog times runs by how long it keeps seeing the same one.
  std::atomic<std::uint64_t> seq{0};
  // The watchdog's view (it alone writes these): the run it last saw in progress and the
  // cycle_clock reading when it first saw it, a lower bound of that run's start.
  std::atomic<std::uint64_t> seen_seq{0};
  std::atomic<std::int64_t> seen_at{0};
  // Stall backtrace: the watchdog sets `want` to the run's `seq` and signals the thread; the
  // handler stores the frames and then `frames_n` (-1: the run had ended).
  std::atomic<std::uint64_t> want{0};
  std::atomic<int> frames_n{0};
  void* frames[48];
};

extern thread_local constinit class shard* tl_shard;

// The registry learns that the task of `s` is runnable (any thread; before it is queued).
inline void mark_ready(schedulable* s) noexcept {
#if WEIR_REGISTRY
  if (s->env && s->env->record)
    s->env->record->state.store(task_state::ready, std::memory_order_relaxed);
#else
  (void)s;
#endif
}

class shard {
 public:
  using clock = std::chrono::steady_clock;

  shard(runtime_impl& rt, unsigned id, std::unique_ptr<reactor> r, bool manual_clock,
        unsigned coop_ops, std::chrono::nanoseconds coop_quota, std::chrono::nanoseconds spin);
  ~shard();

  unsigned id() const noexcept { return id_; }
  runtime_impl& rt() noexcept { return rt_; }
  reactor& io() noexcept { return *reactor_; }
  const shard_stats& stats() const noexcept { return stats_; }
  shard_stats& stats_mut() noexcept { return stats_; }

  // --- scheduling -------------------------------------------------------------
  void schedule(schedulable* s) noexcept {  // owner thread
    if (dead_) return;
    mark_ready(s);
    s->next.store(nullptr, std::memory_order_relaxed);
    if (run_tail_)
      run_tail_->next.store(s, std::memory_order_relaxed);
    else
      run_head_ = s;
    run_tail_ = s;
  }
  void schedule_remote(schedulable* s) noexcept;  // any thread
  void unpark() noexcept {
    if (parked_.load(std::memory_order_seq_cst) && parked_.exchange(false)) reactor_->wake();
  }
  // Takes ownership of a root created on this thread and makes it runnable.
  void adopt(root_base* r) noexcept;
  // Names a new root (registry record: id, name, spawn site, parent = the running task) and
  // adopts it. `h` is the root's own coroutine.
  void launch(root_base& r, std::coroutine_handle<> h, const char* name,
              std::source_location site) noexcept;
  // Hands a root created on another thread (block_on) to this shard.
  void inject(root_base* r);
  // The task whose run is in progress (its record lives in its root frame, which outlives
  // the run; the environment it was resumed with may belong to a scope that ends earlier).
  task_record* current_task() const noexcept {
    return current_task_.load(std::memory_order_relaxed);
  }
  // The registry: every live root of this shard, for dumps (under registry_mu()).
  registry_lock& registry_mu() noexcept { return registry_mu_; }
  const ilist& roots() const noexcept { return roots_; }
  run_monitor& monitor() noexcept { return monitor_; }
  // The root's frame is going away (its destructor, on this thread).
  void forget_root(root_base& r) noexcept;
  // pthread_self() of the shard's thread (0 before run_loop starts).
  std::atomic<unsigned long> thread_id{0};
  std::uint64_t next_task_id() noexcept { return (std::uint64_t{id_} << 48) | ++task_seq_; }

  // --- time ---------------------------------------------------------------------
  clock::time_point now() const noexcept { return manual_ ? manual_now_ : clock::now(); }
  bool manual_clock() const noexcept { return manual_; }
  void advance_manual(clock::duration d) noexcept { manual_now_ += d; }
  void add_timer(timer_entry* e, clock::time_point deadline) noexcept;
  void cancel_timer(timer_entry* e) noexcept { wheel_.cancel(e); }
  // Work the runtime waits for from outside the shard (blocking jobs): while any is
  // pending, the manual clock does not jump.
  void external_begin() noexcept { ++external_pending_; }
  void external_end() noexcept { --external_pending_; }

  // --- cooperative budget (D5) -----------------------------------------------------
  // Called by an await that could complete without suspending. false: the budget of this
  // run is spent, the awaiter must yield (complete the operation, then reschedule itself).
  bool coop_proceed() noexcept {
    const unsigned n = ++coop_ops_;
    if (n >= coop_budget_) [[unlikely]]
      return coop_exhausted();
    if ((n & 7) == 0) [[unlikely]]
      return coop_check_time(n);
    return true;
  }

  // --- cross-shard mailboxes ---------------------------------------------------------
  void signal_room() noexcept {  // a consumer freed room in one of our outgoing mailboxes
    room_signal_.store(true, std::memory_order_seq_cst);
    unpark();
  }

  // --- the loop ------------------------------------------------------------------------
  void run_loop();           // on the shard's thread until the runtime stops
  // One turn of the loop without parking: take what arrived, fire due timers, run up to
  // `limit` queued tasks (fewer when one spends its budget). The sim loop drives shards so.
  void run_batch(unsigned limit);
  // Sim: whether a turn would do something now (queued tasks, incoming wakes or requests,
  // timers due); the earliest time a timer may be due; setting the shared virtual clock.
  bool sim_ready() const noexcept;
  bool next_deadline(clock::time_point& at) const noexcept;
  void sim_attach(class sim_state* sim, clock::time_point start) noexcept {
    sim_ = sim;
    epoch_ = manual_now_ = start;
  }
  void sim_set_now(clock::time_point t) noexcept { manual_now_ = t; }
  // Sim: before the loop sleeps, so that a wake from another thread (block_on's injection)
  // pokes it; false when something arrived meanwhile (then it must not sleep).
  bool sim_park() noexcept {
    parked_.store(true, std::memory_order_seq_cst);
    if (!has_incoming()) return true;
    parked_.store(false, std::memory_order_relaxed);
    return false;
  }
  void sim_unpark() noexcept { parked_.store(false, std::memory_order_relaxed); }
  void destroy_all_tasks();  // after mark_dead() on every shard: destroys every live root

  void mark_dead() noexcept { dead_ = true; }
  bool dead() const noexcept { return dead_; }  // runtime shutdown: wakes become no-ops

 private:
  schedulable* pop() noexcept {
    schedulable* s = run_head_;
    if (s) {
      run_head_ = s->next.load(std::memory_order_relaxed);
      if (!run_head_) run_tail_ = nullptr;
    }
    return s;
  }
  template <bool Traced>  // Traced: each run feeds the sim backend's trace
  void run_batch_impl(unsigned limit);
  bool coop_exhausted() noexcept;
  bool coop_check_time(unsigned n) noexcept;
  void drain_remote() noexcept;
  void drain_injected();
  void drain_mailboxes() noexcept;
  void wake_mailbox_waiters() noexcept;
  void fire_timers() noexcept;
  bool has_incoming() const noexcept;
  bool spin_for_incoming(std::chrono::nanoseconds limit) const noexcept;
  void park();

  runtime_impl& rt_;
  const unsigned id_;
  std::unique_ptr<reactor> reactor_;

  schedulable* run_head_ = nullptr;
  schedulable* run_tail_ = nullptr;
  // Written by the shard thread only; atomic for the watchdog and dumps, which read it under
  // the registry lock (forget_root clears it under that lock).
  std::atomic<task_record*> current_task_{nullptr};

  alignas(64) std::atomic<schedulable*> remote_head_{nullptr};
  alignas(64) std::atomic<bool> parked_{false};
  std::atomic<bool> room_signal_{false};
  std::atomic<bool> has_injected_{false};
  std::mutex injected_mu_;
  ilist injected_;  // guarded by injected_mu_

  ilist roots_;  // linked and unlinked under registry_mu_
  registry_lock registry_mu_;
  run_monitor monitor_;
  std::uint64_t task_seq_ = 0;

  timer_wheel wheel_;
  clock::time_point epoch_;
  clock::time_point manual_now_;
  bool manual_;
  unsigned external_pending_ = 0;

  unsigned coop_ops_ = 0;
  bool budget_spent_ = false;  // a run of this batch yielded for its budget
  const unsigned coop_budget_;
  const std::int64_t coop_quota_ns_;
  const std::chrono::nanoseconds spin_;
  std::int64_t coop_t0_ = 0;

  bool dead_ = false;
  class sim_state* sim_ = nullptr;  // the sim backend's trace, when it drives this shard
  shard_stats stats_;
};

inline shard* current_shard() noexcept { return tl_shard; }

// The current shard, or throws std::logic_error naming `what` when called outside a runtime.
shard& require_shard(const char* what);

inline root_base& root_of(ilist_node* link) noexcept {
  return *static_cast<root_link*>(link)->self;
}

}  // namespace weir::detail
