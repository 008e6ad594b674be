// The one waiter state machine of weir::sync, and the FIFO queue of the shard-local primitives
// (mutex, semaphore, notify, wait_group). Internal.
//
// wait_node is what a waiting task leaves behind: its link in a queue, its detail::waiter (the
// run-queue node and the cancel subscription) and its outcome. It lives in the awaiter, hence in
// the coroutine frame: waiting allocates nothing. Its state:
//
//   idle ─await_ready──► granted | released     done at once (yields first if the budget is spent)
//   idle ─await_suspend─► waiting ─wake─► granted | released    the primitive hands it the outcome
//                         waiting ─cancel, lost wake-up─► idle   ec = the reason, nothing taken
//
// `granted` holds something the primitive must get back if the task never resumes (a lock,
// permits, a notify_one notification); `released` holds nothing (notify_all, a wait_group at
// zero, a channel operation done at once). await_resume turns granted/released into success and
// idle into `ec`, leaving the node idle.
//
// wait_queue is the shard-local protocol of core/detail/waiter.hpp: the waker pops the node,
// disarms its cancel subscription and wakes it; the cancel callback unlinks it and wakes it
// with the reason. Both run on the primitive's shard, so whichever runs first wins and the other
// cannot find the node. queued_awaiter<Policy> is the awaiter every shard-local primitive
// returns; the primitive says what differs in a Policy of static functions (no virtual call,
// all inlined). The cross-shard channel builds its two awaiters on wait_node too, with its own
// locked protocol (channel.hpp).
#pragma once

#include <weir/core/completion.hpp>
#include <weir/core/detail/ilist.hpp>
#include <weir/core/detail/shard.hpp>
#include <weir/core/detail/waiter.hpp>
#include <weir/core/error.hpp>
#include <weir/core/result.hpp>
#include <weir/sync/detail/shard_affinity.hpp>

#include <cassert>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <system_error>
#include <type_traits>

namespace weir::detail {

enum class wait_state : unsigned char {
  idle,      // not queued, holds nothing: before the wait, after a failure or resumption
  waiting,   // queued (or, after a lost wake-up left it waiting, unlinked with its primitive gone)
  granted,   // woken holding what it waited for, to be handed back if it never resumes
  released,  // woken holding nothing that needs handing back
};

struct wait_node : ilist_node {
  waiter w;
  std::error_code ec;  // the failure (cancel reason, errc::closed, errc::lost_wakeup)
  wait_state state = wait_state::idle;

  // User-provided, so that an awaiter's `node_type()` does not zero the whole node before the
  // member initializers run (g++ would emit a `rep stos` on every fast path).
  wait_node() noexcept {}
  // Awaiters are moved only before they are awaited (into with_timeout and the like): the moved-to
  // node starts fresh. Derived nodes move what the request carries (permits wanted, a value).
  wait_node(wait_node&&) noexcept : ilist_node() {}
  wait_node& operator=(wait_node&&) = delete;

  // The waker's half, on the node's shard: the node is already out of its queue.
  void wake_with(wait_state outcome) noexcept {
    w.disarm();
    state = outcome;
    w.wake();
  }
  // The canceller's half: out of the queue (if still in it), failed with `reason`. The cancel
  // subscription has already fired (or is disarmed by the caller).
  void fail(std::error_code reason) noexcept {
    unlink();
    state = wait_state::idle;
    ec = reason;
    w.wake();
  }
};

// FIFO of waiting nodes of one shard-local primitive, plus its debug shard check.
class wait_queue {
 public:
  wait_queue() noexcept = default;
  wait_queue(const wait_queue&) = delete;
  wait_queue& operator=(const wait_queue&) = delete;

  bool empty() const noexcept { return list_.empty(); }
  wait_node* front() const noexcept { return static_cast<wait_node*>(list_.front()); }
  // O(waiters): for tests and task dumps.
  std::size_t size() const noexcept {
    std::size_t n = 0;
    list_.for_each([&n](ilist_node*) { ++n; });
    return n;
  }
  void push_back(wait_node* n) noexcept {
    list_.push_back(n);
    n->state = wait_state::waiting;
  }

  // Wakes the first waiter with `outcome`; false when nobody waits.
  bool wake_front(wait_state outcome) noexcept {
    ilist_node* n = list_.pop_front();
    if (!n) return false;
    static_cast<wait_node*>(n)->wake_with(outcome);
    return true;
  }
  // Wakes every waiter, in arrival order. Waking only schedules them: none can queue again
  // during this loop.
  void wake_all(wait_state outcome) noexcept {
    while (ilist_node* n = list_.pop_front()) static_cast<wait_node*>(n)->wake_with(outcome);
  }

  // The primitive is being destroyed: whoever still waits can never be woken. Each is a lost
  // wake-up (registry.hpp), completed with errc::lost_wakeup or, by the runtime's policy, left
  // waiting (unlinked: its awaiter then never touches the dead primitive again).
  void fail_lost(const char* what) noexcept {
    while (ilist_node* p = list_.pop_front()) {
      auto* n = static_cast<wait_node*>(p);
      if (report_lost_waiter(n->w, what)) {
        n->w.disarm();  // the waker's half: a later cancellation must not wake it twice
        n->fail(make_error_code(errc::lost_wakeup));
      }
    }
  }

  // Debug builds: asserts that one shard only uses the primitive (`what` names it).
  void check_shard(const char* what) noexcept { affinity_.check(what); }

 private:
  ilist list_;
  [[no_unique_address]] shard_affinity affinity_;
};

// The awaiter of every shard-local primitive. `Policy` is a struct of static functions:
//
//   using owner_type = the primitive;  using node_type = wait_node or a node derived from it;
//   using value_type = what success yields (void for result<void>);
//   static constexpr wait_kind kind;                         what the registry shows
//   static wait_queue& queue(owner_type&);
//   static wait_state try_now(owner_type&, node_type&);      the fast path: take at once and
//       return granted/released, or idle to wait (also runs the shard check)
//   static std::int64_t wait_arg(const owner_type&, const node_type&);  for the registry
//   static void give_back(owner_type&, node_type&);          granted but never resumed
//   static void left_queue(owner_type&);                     a waiter left unserved (cancelled
//       or destroyed): whoever it was blocking may go now
//   static value_type deliver(owner_type&, node_type&);      the success value (not for void)
//
// Resumes on the awaiting task's shard. Cancel-safe: cancellation removes the waiter and
// completes with the reason; one already woken keeps its outcome. Destroyed while suspended:
// unlinked; what it was granted goes back through give_back. Movable until awaited.
template <class Policy>
class queued_awaiter : protected Policy::node_type {
  using node_type = typename Policy::node_type;
  using owner_type = typename Policy::owner_type;
  using value_type = typename Policy::value_type;
  static_assert(std::is_base_of_v<wait_node, node_type>);

 public:
  template <class... A>
  explicit queued_awaiter(owner_type& o, A&&... request) noexcept
      : node_type(static_cast<A&&>(request)...), o_(&o) {}
  queued_awaiter(queued_awaiter&& o) noexcept : node_type(static_cast<node_type&&>(o)), o_(o.o_) {
    assert(o.state == wait_state::idle && "a weir::sync awaiter was moved after being awaited");
  }
  queued_awaiter& operator=(queued_awaiter&&) = delete;
  ~queued_awaiter() {
    if (this->state == wait_state::waiting) {
      if (this->linked()) {  // (else the primitive is gone: it dropped its queue)
        this->unlink();
        Policy::left_queue(*o_);
      }
    } else if (this->state == wait_state::granted) {
      Policy::give_back(*o_, *this);
    }
  }

  bool await_ready() noexcept {
    const wait_state at_once = Policy::try_now(*o_, *this);
    if (at_once == wait_state::idle) return false;
    this->state = at_once;
    return tl_shard->coop_proceed();
  }
  template <class P>
  bool await_suspend(std::coroutine_handle<P> h) noexcept {
    if (this->state != wait_state::idle) {  // done at once, but the cooperative budget is spent
      yield_to_back(this->w.sched, h);
      return true;
    }
    const char* label = nullptr;
    if constexpr (requires { Policy::wait_label(*o_); }) label = Policy::wait_label(*o_);
    this->ec =
        this->w.prepare(h, &on_cancel, this, Policy::kind, Policy::wait_arg(*o_, *this), label);
    if (this->ec) return false;
    Policy::queue(*o_).push_back(this);
    return true;
  }
  result<value_type> await_resume() noexcept {
    this->w.disarm();
    if (this->state == wait_state::idle) {
      assert(this->ec && "a weir::sync awaiter resumed without an outcome");
      return unexpected(this->ec);
    }
    this->state = wait_state::idle;
    if constexpr (std::is_void_v<value_type>)
      return {};
    else
      return Policy::deliver(*o_, *this);
  }

 private:
  static void on_cancel(void* self, std::error_code reason) noexcept {
    auto* a = static_cast<queued_awaiter*>(self);
    // Not linked: a lost wake-up left it waiting and its primitive is gone; only wake it.
    const bool queued = a->linked();
    owner_type& o = *a->o_;
    a->fail(reason);
    if (queued) Policy::left_queue(o);
  }

  owner_type* o_;
};

}  // namespace weir::detail
