// weir::cancel_scope — a cancel scope over a stretch of the current task, with no coroutine
// frame of its own (with_deadline costs one; a protocol loop that times every phase of every
// request should not).
//
// Between enter() and leave(), every await of the task sees the scope's token, a child of the
// task's own: cancel() stops exactly those awaits, with the reason given (errc::timed_out for
// a deadline), and cancelling the task cancels the scope too. Who calls cancel() is up to the
// caller: a timer, a sweep over many connections (weir/http/connection.cpp), another task of
// the same shard.
//
//   weir::cancel_scope idle;                    // lives in the task's frame; never moves
//   co_await idle.enter();
//   sweep.arm(idle, 30s);                       // may call idle.cancel(errc::timed_out)
//   auto r = co_await t.fill(1);                // fails with timed_out if the sweep fires
//   sweep.disarm();
//   co_await idle.leave();                      // the task's own token again
//
// enter() and leave() never suspend and never fail. Call them from one task, each once, in that
// order, leave() before the scope is destroyed. A scope is shard-local (the task's shard).
#pragma once

#include <weir/core/cancel.hpp>
#include <weir/core/detail/fork.hpp>
#include <weir/core/error.hpp>
#include <weir/core/task.hpp>

#include <coroutine>
#include <system_error>
#include <type_traits>

namespace weir {

class cancel_scope {
 public:
  cancel_scope() noexcept = default;
  cancel_scope(const cancel_scope&) = delete;
  cancel_scope& operator=(const cancel_scope&) = delete;

  struct enter_awaiter {
    static constexpr bool registry_transparent = true;  // never suspends: no await site
    cancel_scope* s;
    bool await_ready() const noexcept { return false; }
    template <class P>
    bool await_suspend(std::coroutine_handle<P> h) noexcept {
      static_assert(std::is_base_of_v<detail::promise_base, P>, "cancel_scope needs a weir task");
      detail::task_env* base = h.promise().env_;
      s->base_ = base;
      s->state_.attach(base ? base->cancel : nullptr);
      s->env_ = detail::child_env(base, &s->state_);
      h.promise().env_ = &s->env_;
      return false;  // no suspension: only the environment changes
    }
    void await_resume() const noexcept {}
  };
  struct leave_awaiter {
    static constexpr bool registry_transparent = true;
    cancel_scope* s;
    bool await_ready() const noexcept { return false; }
    template <class P>
    bool await_suspend(std::coroutine_handle<P> h) noexcept {
      h.promise().env_ = s->base_;
      return false;
    }
    void await_resume() const noexcept {}
  };

  [[nodiscard]] enter_awaiter enter() noexcept { return {this}; }
  [[nodiscard]] leave_awaiter leave() noexcept { return {this}; }

  // Cancels the awaits inside the scope (only the first call counts).
  void cancel(std::error_code reason = errc::cancelled) noexcept { state_.cancel(reason); }
  bool cancelled() const noexcept { return state_.cancelled(); }
  cancel_state& state() noexcept { return state_; }

 private:
  cancel_state state_;
  detail::task_env env_{};
  detail::task_env* base_ = nullptr;
};

}  // namespace weir
