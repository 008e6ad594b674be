// weir::mutex — an async, FIFO-fair lock for the tasks of one shard (DESIGN.md D10).
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
// nothing: the waiter node lives in the awaiting coroutine's frame.
//
//   weir::task<weir::result<void>> append(weir::mutex& m, std::vector<int>& log, int v) {
//     weir::result<weir::mutex_guard> g = co_await m.lock();
//     if (!g) co_return weir::unexpected(g.error());  // cancelled or timed out while waiting
//     co_await flush(log);                             // the lock is held across awaits
//     log.push_back(v);
//     co_return {};
//   }                                                  // *g unlocks here
//
//   auto r = co_await weir::with_timeout(100ms, m.lock());  // errc::timed_out if not granted
#pragma once

#include <weir/sync/detail/lost_waiters.hpp>

#include <weir/core/detail/ilist.hpp>
#include <weir/core/detail/shard.hpp>
#include <weir/core/detail/waiter.hpp>
#include <weir/core/result.hpp>
#include <weir/sync/detail/shard_affinity.hpp>

#include <cassert>
#include <coroutine>
#include <cstddef>
#include <optional>
#include <system_error>
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
 public:
  class lock_awaiter;

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
  bool is_locked() const noexcept { return locked_; }
  std::size_t waiting() const noexcept;

 private:
  friend class mutex_guard;
  void unlock() noexcept;
  void check_shard() noexcept;

  detail::ilist waiters_;            // lock_awaiters in arrival order
  detail::shard_affinity affinity_;  // debug check: one shard only
  bool locked_ = false;              // invariant: !locked_ implies waiters_.empty()
};

// The awaiter of mutex::lock(). Its ilist_node links it into the mutex's queue.
class mutex::lock_awaiter : detail::ilist_node {
 public:
  explicit lock_awaiter(mutex& m) noexcept : m_(&m) {}
  // Movable until awaited (for with_timeout and the like).
  lock_awaiter(lock_awaiter&& o) noexcept : detail::ilist_node(), m_(o.m_) {
    assert(o.state_ == state::idle && "weir::mutex::lock_awaiter moved after being awaited");
  }
  lock_awaiter& operator=(lock_awaiter&&) = delete;
  ~lock_awaiter() {
    if (state_ == state::waiting)
      unlink();  // a no-op if the mutex already dropped its queue
    else if (state_ == state::granted)
      m_->unlock();  // handed the lock but never resumed
  }

  bool await_ready() noexcept {
    m_->check_shard();
    if (m_->locked_) return false;
    m_->locked_ = true;
    state_ = state::granted;
    return detail::tl_shard->coop_proceed();
  }
  template <class P>
  bool await_suspend(std::coroutine_handle<P> h) noexcept {
    if (state_ == state::granted) {  // locked at once, but the cooperative budget is spent
      detail::yield_to_back(w_.sched, h);
      return true;
    }
    ec_ = w_.prepare(h, &on_cancel, this, detail::wait_kind::mutex);
    if (ec_) return false;
    m_->waiters_.push_back(this);
    state_ = state::waiting;
    return true;
  }
  result<mutex_guard> await_resume() noexcept {
    w_.disarm();
    if (state_ != state::granted) {
      assert(ec_ && "weir::mutex::lock_awaiter resumed without an outcome");
      return unexpected(ec_);
    }
    state_ = state::idle;
    return mutex_guard(m_);
  }

 private:
  friend class mutex;
  template <class A>
  friend void detail::fail_lost_waiters(detail::ilist&, const char*) noexcept;
  enum class state : unsigned char {
    idle,     // not queued, owns nothing (before the wait, after cancellation or resumption)
    waiting,  // in the mutex's queue
    granted,  // owns the lock on behalf of the task, until await_resume makes the guard
  };

  // The waker's half of the protocol (detail/waiter.hpp): already unlinked by the mutex.
  void grant() noexcept {
    w_.disarm();
    state_ = state::granted;
    w_.wake();
  }
  static void on_cancel(void* self, std::error_code reason) noexcept {
    auto* a = static_cast<lock_awaiter*>(self);
    a->unlink();
    a->state_ = state::idle;
    a->ec_ = reason;
    a->w_.wake();
  }

  mutex* m_;
  detail::waiter w_;
  std::error_code ec_;
  state state_ = state::idle;
};

inline mutex::lock_awaiter mutex::lock() {
  detail::require_shard("weir::mutex::lock");
  return lock_awaiter(*this);
}

inline std::optional<mutex_guard> mutex::try_lock() noexcept {
  check_shard();
  if (locked_) return std::nullopt;
  locked_ = true;
  return mutex_guard(this);
}

inline std::size_t mutex::waiting() const noexcept {
  std::size_t n = 0;
  waiters_.for_each([&n](detail::ilist_node*) { ++n; });
  return n;
}

inline void mutex::unlock() noexcept {
  check_shard();
  assert(locked_ && "weir::mutex unlocked while not locked");
  if (detail::ilist_node* n = waiters_.pop_front())
    static_cast<lock_awaiter*>(n)->grant();
  else
    locked_ = false;
}

inline void mutex::check_shard() noexcept { affinity_.check("weir::mutex"); }

inline void mutex_guard::unlock() noexcept {
  if (mutex* m = std::exchange(m_, nullptr)) m->unlock();
}

inline mutex::~mutex() {
  detail::fail_lost_waiters<lock_awaiter>(waiters_,
                                          "a weir::mutex was destroyed while tasks waited on it");
}

}  // namespace weir
