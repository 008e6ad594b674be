// weir::wait_group — waits for a counted set of activities of one shard to finish
// (docs/architecture.md D10), as Go's sync.WaitGroup.
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
// waiter node lives in the awaiting coroutine's frame (detail/wait_queue.hpp).
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

#include <weir/core/detail/shard.hpp>
#include <weir/core/result.hpp>
#include <weir/sync/detail/wait_queue.hpp>

#include <cstddef>
#include <cstdint>
#include <stdexcept>

namespace weir {

class wait_group {
  struct wait_policy;

 public:
  // The awaiter of wait(): detail::queued_awaiter, co_await gives result<void>.
  using wait_awaiter = detail::queued_awaiter<wait_policy>;

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
  std::size_t waiting() const noexcept { return waiters_.size(); }

 private:
  void check_shard() noexcept { waiters_.check_shard("weir::wait_group"); }

  detail::wait_queue waiters_;  // non-empty only while count_ > 0
  std::size_t count_ = 0;
};

struct wait_group::wait_policy {
  using owner_type = wait_group;
  using node_type = detail::wait_node;
  using value_type = void;
  static constexpr detail::wait_kind kind = detail::wait_kind::wait_group;

  static detail::wait_queue& queue(wait_group& g) noexcept { return g.waiters_; }
  // Seeing zero is the whole outcome: `released`, nothing to hand back.
  static detail::wait_state try_now(wait_group& g, node_type&) noexcept {
    g.check_shard();
    return g.count_ == 0 ? detail::wait_state::released : detail::wait_state::idle;
  }
  static std::int64_t wait_arg(const wait_group& g, const node_type&) noexcept {
    return static_cast<std::int64_t>(g.count_);
  }
  static void give_back(wait_group&, node_type&) noexcept {}
  static void left_queue(wait_group&) noexcept {}
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
  if (--count_ == 0) waiters_.wake_all(detail::wait_state::released);
}

inline wait_group::~wait_group() {
  waiters_.fail_lost("a weir::wait_group was destroyed while tasks waited on it");
}

}  // namespace weir
