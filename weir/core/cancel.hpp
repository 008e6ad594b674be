// weir::cancel_state — cancellation for a tree of tasks (docs/architecture.md D4).
//
// Each spawned task owns a cancel_state; a child state (task_group children, when_all /
// when_any branches, with_deadline scopes) follows its parent: cancelling a parent cancels
// every descendant with the same reason. A deadline is a cancellation whose reason is
// errc::timed_out.
//
// Every weir awaitable that can block subscribes a callback to the awaiting task's state
// while it waits; the callback unhooks the waiter and resumes it with the reason
// (errc::cancelled, errc::timed_out). Callbacks run synchronously inside cancel(), on the
// thread that calls it, which must be the state's shard: cancel_state is not thread-safe.
//
//   weir::cancel_state root;
//   weir::cancel_state child(&root);
//   root.cancel();                 // child.cancelled() == true, reason errc::cancelled
#pragma once

#include <weir/core/detail/ilist.hpp>
#include <weir/core/error.hpp>

#include <system_error>

namespace weir {

namespace detail {
// A subscription: `fn(ctx, reason)` runs once when the state is cancelled, unless the
// subscription is removed first. The callback is unlinked before it runs.
struct cancel_callback : ilist_node {
  void (*fn)(void* ctx, std::error_code reason) = nullptr;
  void* ctx = nullptr;
};
}  // namespace detail

class cancel_state {
 public:
  cancel_state() noexcept = default;
  explicit cancel_state(cancel_state* parent) noexcept;
  cancel_state(const cancel_state&) = delete;
  cancel_state& operator=(const cancel_state&) = delete;
  ~cancel_state();

  // Links a state constructed as a root under `parent` (before it is used).
  void attach(cancel_state* parent) noexcept;

  // Cancels this state and all descendants. Only the first call has an effect.
  void cancel(std::error_code reason = errc::cancelled) noexcept;
  bool cancelled() const noexcept { return cancelled_; }
  std::error_code reason() const noexcept { return reason_; }

  // Registers `cb`; returns false without registering when already cancelled.
  bool subscribe(detail::cancel_callback& cb) noexcept {
    if (cancelled_) return false;
    callbacks_.push_back(&cb);
    return true;
  }
  static void unsubscribe(detail::cancel_callback& cb) noexcept { cb.unlink(); }

 private:
  detail::ilist callbacks_;
  detail::cancel_callback parent_link_;
  std::error_code reason_;
  bool cancelled_ = false;
};

}  // namespace weir
