// weir::notify — wakes tasks of one shard that wait for an event (docs/architecture.md D10), with
// the semantics of Tokio's `Notify`, free of lost wake-ups.
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
// waiter node lives in the awaiting coroutine's frame (detail/wait_queue.hpp).
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

#include <weir/core/detail/shard.hpp>
#include <weir/core/result.hpp>
#include <weir/sync/detail/wait_queue.hpp>

#include <cstddef>
#include <cstdint>

namespace weir {

class notify {
  struct wait_policy;

 public:
  // The awaiter of notified(): detail::queued_awaiter, co_await gives result<void>.
  using notified_awaiter = detail::queued_awaiter<wait_policy>;

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

  // What a task waiting here waits for, in dumps instead of "notify" ("arp resolve
  // 192.0.2.1"). The text must stay valid as long as the notify (dumps read it from any thread).
  void set_label(const char* text) noexcept { label_ = text; }
  // Wakes the first waiter, or stores the permit if nobody waits. Call on the notify's shard.
  void notify_one() noexcept;
  // Wakes every current waiter; stores no permit. Call on the notify's shard.
  void notify_all() noexcept;

  // Observers, for tests and task dumps. waiting() walks the queue: O(waiters).
  bool has_permit() const noexcept { return permit_; }
  std::size_t waiting() const noexcept { return waiters_.size(); }

 private:
  void check_shard() noexcept { waiters_.check_shard("weir::notify"); }

  // A waiter picked by notify_one is `granted` (it passes the notification on if it never
  // runs); one picked by notify_all is `released` (nothing to pass on).
  detail::wait_queue waiters_;
  bool permit_ = false;  // invariant: permit_ implies waiters_.empty()
  const char* label_ = nullptr;
};

struct notify::wait_policy {
  using owner_type = notify;
  using node_type = detail::wait_node;
  using value_type = void;
  static constexpr detail::wait_kind kind = detail::wait_kind::notify;

  static detail::wait_queue& queue(notify& n) noexcept { return n.waiters_; }
  static detail::wait_state try_now(notify& n, node_type&) noexcept {
    n.check_shard();
    if (!n.permit_) return detail::wait_state::idle;
    n.permit_ = false;
    return detail::wait_state::granted;
  }
  static std::int64_t wait_arg(const notify&, const node_type&) noexcept { return 0; }
  static const char* wait_label(const notify& n) noexcept { return n.label_; }
  static void give_back(notify& n, node_type&) noexcept { n.notify_one(); }  // pass it on
  static void left_queue(notify&) noexcept {}
};

inline notify::notified_awaiter notify::notified() {
  detail::require_shard("weir::notify::notified");
  return notified_awaiter(*this);
}

inline void notify::notify_one() noexcept {
  check_shard();
  if (!waiters_.wake_front(detail::wait_state::granted)) permit_ = true;
}

inline void notify::notify_all() noexcept {
  check_shard();
  waiters_.wake_all(detail::wait_state::released);
}

inline notify::~notify() {
  waiters_.fail_lost("a weir::notify was destroyed while tasks waited on it");
}

}  // namespace weir
