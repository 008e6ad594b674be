// weir::notify — wakes tasks of one shard that wait for an event (DESIGN.md D10), with the
// semantics of Tokio's `Notify`, free of lost wake-ups.
//
// `co_await n.notified()` waits for a notification. `n.notify_one()` wakes the first waiting
// task (FIFO) or, when none waits, stores a permit so that the next notified() completes at
// once: a notification sent just before the receiver starts waiting is not lost. At most one
// permit is stored (notify_one twice with nobody waiting still lets one notified() through).
// `n.notify_all()` wakes every task waiting at the time of the call and stores nothing.
//
// No notification is lost: a task that was woken by notify_one() and is destroyed before it
// runs passes the notification on (to the next waiter, or as the stored permit).
//
// Shard-local: a notify serves the tasks of ONE shard. Every operation must run on that shard
// (debug builds assert it: the notify remembers the first shard that used it). Calls from a
// thread that is no shard (setting up before block_on, inspecting after the runtime is gone)
// are allowed while no shard uses it. Tasks of different shards coordinate through channels
// or on_shard instead.
//
// Lifetime: the notify must outlive every pending notified(). Waiting allocates nothing: the
// waiter node lives in the awaiting coroutine's frame.
//
//   // A consumer that sleeps while the queue is empty; the producer never misses it.
//   weir::task<> consume(std::deque<job>& q, weir::notify& ready) {
//     for (;;) {
//       while (q.empty())
//         if (!co_await ready.notified()) co_return;  // cancelled
//       run(q.front());
//       q.pop_front();
//     }
//   }
//   void produce(std::deque<job>& q, weir::notify& ready, job j) {
//     q.push_back(std::move(j));
//     ready.notify_one();
//   }
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
#include <system_error>

namespace weir {

class notify {
 public:
  class notified_awaiter;

  notify() noexcept = default;
  // Tasks still waiting can never be woken: each is a lost wake-up (registry.hpp).
  ~notify();
  notify(const notify&) = delete;
  notify& operator=(const notify&) = delete;

  // co_await n.notified() -> result<void>.
  //
  // Completes at once, consuming it, when a permit is stored (subject to the cooperative
  // budget: when the task's budget is spent it consumes the permit, then yields to the back
  // of the run queue before resuming). Otherwise the task waits in FIFO order and is resumed,
  // on its own shard, by the notify_one() or notify_all() that picks it.
  //
  // Cancel safety: cancellation (the task's token: join_handle::cancel, with_timeout, a
  // task_group) while waiting removes the waiter and completes with the reason
  // (errc::cancelled, errc::timed_out); no notification is consumed. Exactly one outcome: a
  // waiter already picked by a notify completes successfully even when the cancellation
  // arrives before it runs, so the notification is delivered, not lost. A task whose token is
  // already cancelled consumes a stored permit if there is one, gets the reason otherwise.
  //
  // Destroyed while suspended (runtime shutdown, a destroyed frame): the waiter is removed;
  // if notify_one() had picked it, the notification passes on to the next waiter or becomes
  // the stored permit (one picked by notify_all() is simply dropped, as notify_all stores
  // nothing).
  //
  // Call from a task on the notify's shard; throws std::logic_error outside a runtime. The
  // awaiter may be moved before it is awaited (to pass it to with_timeout), not after.
  [[nodiscard]] notified_awaiter notified();

  // Wakes the first waiter, or stores the permit if nobody waits. Call on the notify's shard.
  void notify_one() noexcept;
  // Wakes every current waiter; stores no permit. Call on the notify's shard.
  void notify_all() noexcept;

  // Observers, for tests and task dumps. waiting() walks the queue: O(waiters).
  bool has_permit() const noexcept { return permit_; }
  std::size_t waiting() const noexcept;

 private:
  void check_shard() noexcept;

  detail::ilist waiters_;            // notified_awaiters in arrival order
  detail::shard_affinity affinity_;  // debug check: one shard only
  bool permit_ = false;              // invariant: permit_ implies waiters_.empty()
};

// The awaiter of notify::notified(). Its ilist_node links it into the notify's queue.
class notify::notified_awaiter : detail::ilist_node {
 public:
  explicit notified_awaiter(notify& n) noexcept : n_(&n) {}
  // Movable until awaited (for with_timeout and the like).
  notified_awaiter(notified_awaiter&& o) noexcept : detail::ilist_node(), n_(o.n_) {
    assert(o.state_ == state::idle && "weir::notify::notified_awaiter moved after awaited");
  }
  notified_awaiter& operator=(notified_awaiter&&) = delete;
  ~notified_awaiter() {
    if (state_ == state::waiting)
      unlink();  // a no-op if the notify already dropped its queue
    else if (state_ == state::picked_one)
      n_->notify_one();  // never delivered: pass it on
  }

  bool await_ready() noexcept {
    n_->check_shard();
    if (!n_->permit_) return false;
    n_->permit_ = false;
    state_ = state::picked_one;
    return detail::tl_shard->coop_proceed();
  }
  template <class P>
  bool await_suspend(std::coroutine_handle<P> h) noexcept {
    if (state_ == state::picked_one) {  // permit taken, but the cooperative budget is spent
      detail::yield_to_back(w_.sched, h);
      return true;
    }
    ec_ = w_.prepare(h, &on_cancel, this, detail::wait_kind::notify);
    if (ec_) return false;
    n_->waiters_.push_back(this);
    state_ = state::waiting;
    return true;
  }
  result<void> await_resume() noexcept {
    w_.disarm();
    if (state_ == state::picked_one || state_ == state::picked_all) {
      state_ = state::idle;
      return {};
    }
    assert(ec_ && "weir::notify::notified_awaiter resumed without an outcome");
    return unexpected(ec_);
  }

 private:
  friend class notify;
  template <class A>
  friend void detail::fail_lost_waiters(detail::ilist&, const char*) noexcept;
  enum class state : unsigned char {
    idle,        // not queued, holds nothing (before the wait, after cancellation or resumption)
    waiting,     // in the notify's queue
    picked_one,  // holds a notify_one notification (or the permit) until it resumes
    picked_all,  // woken by notify_all, which has nothing to pass on
  };

  // The waker's half of the protocol (detail/waiter.hpp): already unlinked by the notify.
  void pick(state how) noexcept {
    w_.disarm();
    state_ = how;
    w_.wake();
  }
  static void on_cancel(void* self, std::error_code reason) noexcept {
    auto* a = static_cast<notified_awaiter*>(self);
    a->unlink();
    a->state_ = state::idle;
    a->ec_ = reason;
    a->w_.wake();
  }

  notify* n_;
  detail::waiter w_;
  std::error_code ec_;
  state state_ = state::idle;
};

inline notify::notified_awaiter notify::notified() {
  detail::require_shard("weir::notify::notified");
  return notified_awaiter(*this);
}

inline void notify::notify_one() noexcept {
  check_shard();
  if (detail::ilist_node* n = waiters_.pop_front())
    static_cast<notified_awaiter*>(n)->pick(notified_awaiter::state::picked_one);
  else
    permit_ = true;
}

inline void notify::notify_all() noexcept {
  check_shard();
  // Waking only schedules the waiters: none can queue again during this loop.
  while (detail::ilist_node* n = waiters_.pop_front())
    static_cast<notified_awaiter*>(n)->pick(notified_awaiter::state::picked_all);
}

inline std::size_t notify::waiting() const noexcept {
  std::size_t n = 0;
  waiters_.for_each([&n](detail::ilist_node*) { ++n; });
  return n;
}

inline void notify::check_shard() noexcept { affinity_.check("weir::notify"); }

inline notify::~notify() {
  detail::fail_lost_waiters<notified_awaiter>(
      waiters_, "a weir::notify was destroyed while tasks waited on it");
}

}  // namespace weir
