// weir::mutex — an async, FIFO-fair lock for the tasks of one shard (docs/architecture.md D10).
//
// `co_await m.lock()` suspends the task (never the thread) until the mutex is free and yields
// a weir::mutex_guard, a move-only RAII handle that unlocks when destroyed or on
// guard.unlock(). `m.try_lock()` takes the mutex only if that needs no wait.
//
// Fairness: waiters are served strictly in arrival order. Unlocking with waiters hands the
// lock directly to the first of them (the mutex stays locked across the handoff), so a task
// calling lock() or try_lock() before that waiter has run queues behind it: no barging, no
// starvation.
//
// Shard-local: a mutex serves the tasks of ONE shard. Every operation, including guard
// destruction, must run on that shard (debug builds assert it: the mutex remembers the first
// shard that used it). Calls from a thread that is no shard (setting up before block_on,
// inspecting after the runtime is gone) are allowed while no shard uses the mutex. Tasks of
// different shards coordinate through channels or on_shard instead.
//
// Lifetime: the mutex must outlive its guards and every pending lock(). Waiting allocates
// nothing: the waiter node lives in the awaiting coroutine's frame. (Inside, a mutex is a
// semaphore of one permit, as Tokio's: detail/permit_queue.hpp over detail/wait_queue.hpp.)
//
//   weir::task<weir::result<void>> append(weir::mutex& m, std::vector<int>& log, int v) {
//     // the guard, or the error (cancelled, timed out) while waiting:
//     WEIR_CO_TRY_ASSIGN(weir::mutex_guard g, co_await m.lock());
//     co_await flush(log);                             // the lock is held across awaits
//     log.push_back(v);
//     co_return {};
//   }                                                  // g unlocks here
//
//   auto r = co_await weir::with_timeout(100ms, m.lock());  // errc::timed_out if not granted
#pragma once

#include <weir/core/detail/shard.hpp>
#include <weir/core/result.hpp>
#include <weir/sync/detail/permit_queue.hpp>
#include <weir/sync/detail/wait_queue.hpp>

#include <cassert>
#include <cstddef>
#include <optional>
#include <utility>

namespace weir {

class mutex;

// Ownership of a locked weir::mutex. Move-only; an empty guard (default-constructed, moved
// from, or unlocked) owns nothing. Destroy or unlock() it on the mutex's shard.
class mutex_guard {
 public:
  mutex_guard() noexcept = default;
  mutex_guard(mutex_guard&& o) noexcept : m_(std::exchange(o.m_, nullptr)) {}
  mutex_guard& operator=(mutex_guard&& o) noexcept {
    if (this != &o) {
      unlock();
      m_ = std::exchange(o.m_, nullptr);
    }
    return *this;
  }
  mutex_guard(const mutex_guard&) = delete;
  mutex_guard& operator=(const mutex_guard&) = delete;
  ~mutex_guard() { unlock(); }

  // Releases the lock now (to the first waiter, if any); the guard becomes empty.
  void unlock() noexcept;
  bool owns_lock() const noexcept { return m_ != nullptr; }
  explicit operator bool() const noexcept { return m_ != nullptr; }

 private:
  friend class mutex;
  explicit mutex_guard(mutex* m) noexcept : m_(m) {}
  mutex* m_ = nullptr;
};

class mutex {
  friend struct detail::permit_policy<mutex>;

 public:
  // The awaiter of lock(): detail::queued_awaiter, co_await gives result<mutex_guard>.
  using lock_awaiter = detail::queued_awaiter<detail::permit_policy<mutex>>;

  mutex() noexcept = default;
  // Tasks still waiting can never be woken: each is a lost wake-up (registry.hpp).
  ~mutex();
  mutex(const mutex&) = delete;
  mutex& operator=(const mutex&) = delete;

  // co_await m.lock() -> result<mutex_guard>.
  //
  // Completes at once when the mutex is free and nobody waits (subject to the cooperative
  // budget: when the task's budget is spent it takes the lock, then yields to the back of the
  // run queue before resuming). Otherwise the task joins the FIFO queue and is resumed, on its
  // own shard, by the unlock that hands it the lock.
  //
  // Cancel safety: cancellation (the task's token: join_handle::cancel, with_timeout, a
  // task_group) while waiting removes the waiter and completes with the reason
  // (errc::cancelled, errc::timed_out); nothing is left behind and the queue order of the
  // others is kept. Exactly one outcome: a waiter already handed the lock gets it even when
  // the cancellation arrives before it runs. A task whose token is already cancelled gets the
  // lock if it is free at once, the reason otherwise.
  //
  // Destroyed while suspended (runtime shutdown, a destroyed frame): the waiter is unlinked;
  // if the lock had been handed to it, it passes on to the next waiter (never leaked).
  //
  // Call from a task on the mutex's shard; throws std::logic_error outside a runtime. The
  // awaiter may be moved before it is awaited (to pass it to with_timeout), not after.
  [[nodiscard]] lock_awaiter lock();

  // Takes the mutex if it is free and nobody waits; never suspends, never barges ahead of a
  // waiter. Call on the mutex's shard.
  [[nodiscard]] std::optional<mutex_guard> try_lock() noexcept;

  // Observers, for tests and task dumps. waiting() walks the queue: O(waiters).
  bool is_locked() const noexcept { return permits_.available() == 0; }
  std::size_t waiting() const noexcept { return permits_.queue().size(); }

 private:
  friend class mutex_guard;
  // What detail::permit_policy needs.
  using handle_type = mutex_guard;
  static constexpr const char* name = "weir::mutex";
  static constexpr detail::wait_kind kind = detail::wait_kind::mutex;
  static constexpr bool exclusive = true;
  mutex_guard make_handle(std::size_t) noexcept { return mutex_guard(this); }
  void give_back(std::size_t) noexcept { unlock(); }

  void unlock() noexcept;
  void check_shard() noexcept { permits_.queue().check_shard(name); }

  // One permit: locked while it is taken. Unlocking with waiters hands it straight to the first.
  detail::permit_queue permits_{1};
};

inline mutex::lock_awaiter mutex::lock() {
  detail::require_shard("weir::mutex::lock");
  return lock_awaiter(*this);
}

inline std::optional<mutex_guard> mutex::try_lock() noexcept {
  check_shard();
  if (!permits_.try_take_one()) return std::nullopt;
  return mutex_guard(this);
}

inline void mutex::unlock() noexcept {
  check_shard();
  assert(is_locked() && "weir::mutex unlocked while not locked");
  permits_.release_one();
}

inline void mutex_guard::unlock() noexcept {
  if (mutex* m = std::exchange(m_, nullptr)) m->unlock();
}

inline mutex::~mutex() {
  permits_.queue().fail_lost("a weir::mutex was destroyed while tasks waited on it");
}

}  // namespace weir
