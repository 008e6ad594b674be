// weir::wait_group — waits for a counted set of activities of one shard to finish
// (DESIGN.md D10), as Go's sync.WaitGroup.
//
// `add(n)` counts `n` more activities, `done()` marks one finished, and `co_await wg.wait()`
// completes when the counter is zero: at once if it already is, else when the done() that
// brings it to zero runs. Any number of tasks may wait; they are all woken together. Calling
// done() more often than add() counted is a broken invariant: it throws std::logic_error and
// leaves the counter at zero.
//
// A waiter woken by the counter reaching zero completes even if add() raises the counter again
// before it runs: it saw zero. (For children whose lifetime should bound the parent's, prefer
// weir::with_task_group, which also propagates errors and cancellation.)
//
// Shard-local: a wait_group serves the tasks of ONE shard. Every operation must run on that
// shard (debug builds assert it: the wait_group remembers the first shard that used it).
// Calls from a thread that is no shard (setting up before block_on, inspecting after the
// runtime is gone) are allowed while no shard uses it. Tasks of different shards coordinate
// through channels or on_shard instead.
//
// Lifetime: the wait_group must outlive every pending wait(). Waiting allocates nothing: the
// waiter node lives in the awaiting coroutine's frame.
//
//   struct crawler {  // outlives the fetches it starts
//     weir::wait_group pending;
//     weir::task<> fetch(url u) {
//       co_await get(u);
//       pending.done();
//     }
//     weir::task<weir::result<void>> fetch_all(std::span<const url> urls) {
//       pending.add(urls.size());
//       for (const url& u : urls) weir::spawn_detached(fetch(u), "fetch");
//       co_return co_await pending.wait();  // errc::cancelled if cancelled meanwhile
//     }
//   };
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
#include <stdexcept>
#include <system_error>

namespace weir {

class wait_group {
 public:
  class wait_awaiter;

  wait_group() noexcept = default;
  // Tasks still waiting can never be woken: each is a lost wake-up (registry.hpp).
  ~wait_group();
  wait_group(const wait_group&) = delete;
  wait_group& operator=(const wait_group&) = delete;

  // Counts `n` more activities. Call on the wait_group's shard.
  void add(std::size_t n = 1) noexcept {
    check_shard();
    count_ += n;
  }
  // Marks one activity finished; at zero, wakes every waiter. Throws std::logic_error when
  // the counter is already zero. Call on the wait_group's shard.
  void done();

  // co_await wg.wait() -> result<void>.
  //
  // Completes at once when the counter is zero (subject to the cooperative budget: when the
  // task's budget is spent it yields to the back of the run queue first). Otherwise the task
  // waits and is resumed, on its own shard, by the done() that brings the counter to zero.
  //
  // Cancel safety: cancellation (the task's token: join_handle::cancel, with_timeout, a
  // task_group) while waiting removes the waiter and completes with the reason
  // (errc::cancelled, errc::timed_out); the counter and the other waiters are untouched.
  // Exactly one outcome: a waiter already woken by the last done() completes successfully even
  // when the cancellation arrives before it runs. A task whose token is already cancelled
  // completes successfully if the counter is zero, with the reason otherwise.
  //
  // Destroyed while suspended (runtime shutdown, a destroyed frame): the waiter is removed.
  //
  // Call from a task on the wait_group's shard; throws std::logic_error outside a runtime.
  // The awaiter may be moved before it is awaited (to pass it to with_timeout), not after.
  [[nodiscard]] wait_awaiter wait();

  // Observers, for tests and task dumps. waiting() walks the queue: O(waiters).
  std::size_t count() const noexcept { return count_; }
  std::size_t waiting() const noexcept;

 private:
  void check_shard() noexcept;

  detail::ilist waiters_;  // wait_awaiters; non-empty only while count_ > 0
  std::size_t count_ = 0;
  detail::shard_affinity affinity_;  // debug check: one shard only
};

// The awaiter of wait_group::wait(). Its ilist_node links it into the wait_group's queue.
class wait_group::wait_awaiter : detail::ilist_node {
 public:
  explicit wait_awaiter(wait_group& g) noexcept : g_(&g) {}
  // Movable until awaited (for with_timeout and the like).
  wait_awaiter(wait_awaiter&& o) noexcept : detail::ilist_node(), g_(o.g_) {
    assert(o.state_ == state::idle && "weir::wait_group::wait_awaiter moved after awaited");
  }
  wait_awaiter& operator=(wait_awaiter&&) = delete;
  ~wait_awaiter() { unlink(); }  // a no-op unless still queued in a live wait_group

  bool await_ready() noexcept {
    g_->check_shard();
    if (g_->count_ != 0) return false;
    state_ = state::released;
    return detail::tl_shard->coop_proceed();
  }
  template <class P>
  bool await_suspend(std::coroutine_handle<P> h) noexcept {
    if (state_ == state::released) {  // zero already, but the cooperative budget is spent
      detail::yield_to_back(w_.sched, h);
      return true;
    }
    ec_ = w_.prepare(h, &on_cancel, this, detail::wait_kind::wait_group,
                     static_cast<std::int64_t>(g_->count_));
    if (ec_) return false;
    g_->waiters_.push_back(this);
    state_ = state::waiting;
    return true;
  }
  result<void> await_resume() noexcept {
    w_.disarm();
    if (state_ == state::released) {
      state_ = state::idle;
      return {};
    }
    assert(ec_ && "weir::wait_group::wait_awaiter resumed without an outcome");
    return unexpected(ec_);
  }

 private:
  friend class wait_group;
  template <class A>
  friend void detail::fail_lost_waiters(detail::ilist&, const char*) noexcept;
  enum class state : unsigned char {
    idle,      // not queued (before the wait, after cancellation or resumption)
    waiting,   // in the wait_group's queue
    released,  // the counter was seen at zero
  };

  // The waker's half of the protocol (detail/waiter.hpp): already unlinked by the wait_group.
  void release() noexcept {
    w_.disarm();
    state_ = state::released;
    w_.wake();
  }
  static void on_cancel(void* self, std::error_code reason) noexcept {
    auto* a = static_cast<wait_awaiter*>(self);
    a->unlink();
    a->state_ = state::idle;
    a->ec_ = reason;
    a->w_.wake();
  }

  wait_group* g_;
  detail::waiter w_;
  std::error_code ec_;
  state state_ = state::idle;
};

inline wait_group::wait_awaiter wait_group::wait() {
  detail::require_shard("weir::wait_group::wait");
  return wait_awaiter(*this);
}

inline void wait_group::done() {
  check_shard();
  if (count_ == 0)
    throw std::logic_error(
        "weir::wait_group::done() called with the counter at zero (more done() than add())");
  if (--count_ != 0) return;
  // Waking only schedules the waiters: none can queue again during this loop.
  while (detail::ilist_node* n = waiters_.pop_front()) static_cast<wait_awaiter*>(n)->release();
}

inline std::size_t wait_group::waiting() const noexcept {
  std::size_t n = 0;
  waiters_.for_each([&n](detail::ilist_node*) { ++n; });
  return n;
}

inline void wait_group::check_shard() noexcept { affinity_.check("weir::wait_group"); }

inline wait_group::~wait_group() {
  detail::fail_lost_waiters<wait_awaiter>(
      waiters_, "a weir::wait_group was destroyed while tasks waited on it");
}

}  // namespace weir
