// weir::semaphore — an async counting semaphore for the tasks of one shard
// (docs/architecture.md D10).
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
// allocates nothing: the waiter node lives in the awaiting coroutine's frame. (Inside:
// detail/permit_queue.hpp over detail/wait_queue.hpp, shared with weir::mutex.)
//
//   weir::semaphore slots(8);                      // at most 8 uploads at a time
//   weir::task<weir::result<void>> upload(weir::semaphore& slots, blob b) {
//     WEIR_CO_TRY_ASSIGN(auto permit, co_await slots.acquire());  // or its error
//     co_return co_await send(b);
//   }                                              // the permit returns to `slots` here
#pragma once

#include <weir/core/detail/shard.hpp>
#include <weir/core/result.hpp>
#include <weir/sync/detail/permit_queue.hpp>
#include <weir/sync/detail/wait_queue.hpp>

#include <cstddef>
#include <optional>
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
  friend struct detail::permit_policy<semaphore>;

 public:
  // The awaiter of acquire(): detail::queued_awaiter, co_await gives result<semaphore_permit>.
  using acquire_awaiter = detail::queued_awaiter<detail::permit_policy<semaphore>>;

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
  std::size_t available() const noexcept { return permits_.available(); }
  // Queued requests, for tests and task dumps: walks the queue, O(waiters).
  std::size_t waiting() const noexcept { return permits_.queue().size(); }

 private:
  // What detail::permit_policy needs.
  using handle_type = semaphore_permit;
  static constexpr const char* name = "weir::semaphore";
  static constexpr detail::wait_kind kind = detail::wait_kind::semaphore;
  static constexpr bool exclusive = false;
  semaphore_permit make_handle(std::size_t n) noexcept { return semaphore_permit(this, n); }
  void give_back(std::size_t n) noexcept { release(n); }

  void check_shard() noexcept { permits_.queue().check_shard(name); }

  detail::permit_queue permits_;
};

inline semaphore::acquire_awaiter semaphore::acquire(std::size_t n) {
  detail::require_shard("weir::semaphore::acquire");
  return acquire_awaiter(*this, n);
}

inline std::optional<semaphore_permit> semaphore::try_acquire(std::size_t n) noexcept {
  check_shard();
  if (!permits_.try_take(n)) return std::nullopt;
  return semaphore_permit(this, n);
}

inline void semaphore::release(std::size_t n) noexcept {
  check_shard();
  permits_.release(n);
}

inline void semaphore_permit::reset() noexcept {
  if (semaphore* s = std::exchange(s_, nullptr)) s->release(std::exchange(n_, 0));
}

inline semaphore::~semaphore() {
  permits_.queue().fail_lost("a weir::semaphore was destroyed while tasks waited on it");
}

}  // namespace weir
