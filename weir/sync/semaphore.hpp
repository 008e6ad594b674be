// weir::semaphore — an async counting semaphore for the tasks of one shard (DESIGN.md D10).
//
// The semaphore holds a number of permits. `co_await s.acquire(n)` waits until `n` permits
// can be taken and yields a weir::semaphore_permit, a move-only RAII handle that gives them
// back when destroyed (or keeps them out of circulation for good with forget()).
// `try_acquire(n)` takes them only if that needs no wait, `release(n)` adds permits,
// `available()` counts the free ones.
//
// Fairness: requests are served strictly in arrival order. A request at the head of the queue
// that needs more permits than are free blocks the smaller requests behind it, so a large
// request is never starved by a stream of small ones; try_acquire() does not barge past a
// waiting request either. A request for more permits than will ever be released waits until
// it is cancelled.
//
// Shard-local: a semaphore serves the tasks of ONE shard. Every operation, including permit
// destruction, must run on that shard (debug builds assert it: the semaphore remembers the
// first shard that used it). Calls from a thread that is no shard (setting up before
// block_on, inspecting after the runtime is gone) are allowed while no shard uses it. Tasks of
// different shards coordinate through channels or on_shard instead.
//
// Lifetime: the semaphore must outlive its permits and every pending acquire(). Waiting
// allocates nothing: the waiter node lives in the awaiting coroutine's frame.
//
//   weir::semaphore slots(8);                      // at most 8 uploads at a time
//   weir::task<weir::result<void>> upload(weir::semaphore& slots, blob b) {
//     auto permit = co_await slots.acquire();      // result<semaphore_permit>
//     if (!permit) co_return weir::unexpected(permit.error());
//     co_return co_await send(b);
//   }                                              // the permit returns to `slots` here
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

class semaphore;

// Permits taken from a weir::semaphore. Move-only; returns them on destruction. Destroy it on
// the semaphore's shard.
class semaphore_permit {
 public:
  semaphore_permit() noexcept = default;
  semaphore_permit(semaphore_permit&& o) noexcept
      : s_(std::exchange(o.s_, nullptr)), n_(std::exchange(o.n_, 0)) {}
  semaphore_permit& operator=(semaphore_permit&& o) noexcept {
    if (this != &o) {
      reset();
      s_ = std::exchange(o.s_, nullptr);
      n_ = std::exchange(o.n_, 0);
    }
    return *this;
  }
  semaphore_permit(const semaphore_permit&) = delete;
  semaphore_permit& operator=(const semaphore_permit&) = delete;
  ~semaphore_permit() { reset(); }

  // The number of permits held.
  std::size_t count() const noexcept { return n_; }
  // Gives the permits back now; the handle becomes empty.
  void reset() noexcept;
  // Drops the permits without giving them back: the semaphore has `count()` fewer for good.
  void forget() noexcept {
    s_ = nullptr;
    n_ = 0;
  }

 private:
  friend class semaphore;
  semaphore_permit(semaphore* s, std::size_t n) noexcept : s_(s), n_(n) {}
  semaphore* s_ = nullptr;
  std::size_t n_ = 0;
};

class semaphore {
 public:
  class acquire_awaiter;

  explicit semaphore(std::size_t permits) noexcept : permits_(permits) {}
  // Tasks still waiting can never be woken: each is a lost wake-up (registry.hpp).
  ~semaphore();
  semaphore(const semaphore&) = delete;
  semaphore& operator=(const semaphore&) = delete;

  // co_await s.acquire(n) -> result<semaphore_permit> holding `n` permits.
  //
  // Completes at once when nobody waits and `n` permits are free (subject to the cooperative
  // budget: when the task's budget is spent it takes the permits, then yields to the back of
  // the run queue before resuming). Otherwise the request joins the FIFO queue and the task
  // is resumed, on its own shard, by the release (or cancellation ahead of it) that lets it
  // through.
  //
  // Cancel safety: cancellation (the task's token: join_handle::cancel, with_timeout, a
  // task_group) while waiting removes the request and completes with the reason
  // (errc::cancelled, errc::timed_out); no permit is taken, and requests that the cancelled one
  // was blocking are served at once. Exactly one outcome: a request already granted keeps its
  // permits even when the cancellation arrives before it runs. A task whose token is already
  // cancelled gets the permits if they are free at once, the reason otherwise.
  //
  // Destroyed while suspended (runtime shutdown, a destroyed frame): the request is removed;
  // permits granted to it but never delivered go back to the semaphore (never leaked).
  //
  // Call from a task on the semaphore's shard; throws std::logic_error outside a runtime. The
  // awaiter may be moved before it is awaited (to pass it to with_timeout), not after.
  [[nodiscard]] acquire_awaiter acquire(std::size_t n = 1);

  // Takes `n` permits if they are free and nobody waits; never suspends. Call on the
  // semaphore's shard.
  [[nodiscard]] std::optional<semaphore_permit> try_acquire(std::size_t n = 1) noexcept;

  // Adds `n` permits and grants queued requests, in order, while the head one fits. Call on
  // the semaphore's shard. (Also what a semaphore_permit does when destroyed.)
  void release(std::size_t n = 1) noexcept;

  // Free permits (not counting those granted to requests that have not resumed yet).
  std::size_t available() const noexcept { return permits_; }
  // Queued requests, for tests and task dumps: walks the queue, O(waiters).
  std::size_t waiting() const noexcept;

 private:
  void grant_waiters() noexcept;
  void check_shard() noexcept;

  detail::ilist waiters_;  // acquire_awaiters in arrival order
  std::size_t permits_;
  detail::shard_affinity affinity_;  // debug check: one shard only
};

// The awaiter of semaphore::acquire(). Its ilist_node links it into the semaphore's queue.
class semaphore::acquire_awaiter : detail::ilist_node {
 public:
  acquire_awaiter(semaphore& s, std::size_t n) noexcept : s_(&s), n_(n) {}
  // Movable until awaited (for with_timeout and the like).
  acquire_awaiter(acquire_awaiter&& o) noexcept : detail::ilist_node(), s_(o.s_), n_(o.n_) {
    assert(o.state_ == state::idle && "weir::semaphore::acquire_awaiter moved after awaited");
  }
  acquire_awaiter& operator=(acquire_awaiter&&) = delete;
  ~acquire_awaiter() {
    if (state_ == state::waiting) {
      if (linked()) {  // (else the semaphore is gone and dropped its queue)
        unlink();
        s_->grant_waiters();  // this request may have been blocking the ones behind it
      }
    } else if (state_ == state::granted) {
      s_->release(n_);  // granted but never resumed
    }
  }

  bool await_ready() noexcept {
    s_->check_shard();
    if (!s_->waiters_.empty() || s_->permits_ < n_) return false;
    s_->permits_ -= n_;
    state_ = state::granted;
    return detail::tl_shard->coop_proceed();
  }
  template <class P>
  bool await_suspend(std::coroutine_handle<P> h) noexcept {
    if (state_ == state::granted) {  // taken at once, but the cooperative budget is spent
      detail::yield_to_back(w_.sched, h);
      return true;
    }
    ec_ = w_.prepare(h, &on_cancel, this, detail::wait_kind::semaphore,
                     static_cast<std::int64_t>(n_));
    if (ec_) return false;
    s_->waiters_.push_back(this);
    state_ = state::waiting;
    return true;
  }
  result<semaphore_permit> await_resume() noexcept {
    w_.disarm();
    if (state_ != state::granted) {
      assert(ec_ && "weir::semaphore::acquire_awaiter resumed without an outcome");
      return unexpected(ec_);
    }
    state_ = state::idle;
    return semaphore_permit(s_, n_);
  }

 private:
  friend class semaphore;
  template <class A>
  friend void detail::fail_lost_waiters(detail::ilist&, const char*) noexcept;
  enum class state : unsigned char {
    idle,     // not queued, holds nothing (before the wait, after cancellation or resumption)
    waiting,  // in the semaphore's queue
    granted,  // holds n_ permits on behalf of the task, until await_resume hands them over
  };

  // The waker's half of the protocol (detail/waiter.hpp): already unlinked by the semaphore,
  // which also took the permits.
  void grant() noexcept {
    w_.disarm();
    state_ = state::granted;
    w_.wake();
  }
  static void on_cancel(void* self, std::error_code reason) noexcept {
    auto* a = static_cast<acquire_awaiter*>(self);
    a->unlink();
    a->state_ = state::idle;
    a->ec_ = reason;
    a->w_.wake();
    a->s_->grant_waiters();  // the cancelled request may have been blocking the next ones
  }

  semaphore* s_;
  std::size_t n_;
  detail::waiter w_;
  std::error_code ec_;
  state state_ = state::idle;
};

inline semaphore::acquire_awaiter semaphore::acquire(std::size_t n) {
  detail::require_shard("weir::semaphore::acquire");
  return acquire_awaiter(*this, n);
}

inline std::optional<semaphore_permit> semaphore::try_acquire(std::size_t n) noexcept {
  check_shard();
  if (!waiters_.empty() || permits_ < n) return std::nullopt;
  permits_ -= n;
  return semaphore_permit(this, n);
}

inline void semaphore::release(std::size_t n) noexcept {
  check_shard();
  permits_ += n;
  grant_waiters();
}

inline void semaphore::grant_waiters() noexcept {
  while (detail::ilist_node* f = waiters_.front()) {
    auto* a = static_cast<acquire_awaiter*>(f);
    if (a->n_ > permits_) break;  // FIFO: the head blocks everything behind it
    permits_ -= a->n_;
    waiters_.pop_front();
    a->grant();
  }
}

inline std::size_t semaphore::waiting() const noexcept {
  std::size_t n = 0;
  waiters_.for_each([&n](detail::ilist_node*) { ++n; });
  return n;
}

inline void semaphore::check_shard() noexcept { affinity_.check("weir::semaphore"); }

inline void semaphore_permit::reset() noexcept {
  if (semaphore* s = std::exchange(s_, nullptr)) s->release(std::exchange(n_, 0));
}

inline semaphore::~semaphore() {
  detail::fail_lost_waiters<acquire_awaiter>(
      waiters_, "a weir::semaphore was destroyed while tasks waited on it");
}

}  // namespace weir
