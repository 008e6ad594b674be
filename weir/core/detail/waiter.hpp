// The common part of every awaiter that blocks: the node that makes the waiting coroutine
// runnable again, and its subscription to the task's cancel token. Internal.
//
// Protocol (single shard): whoever resolves the wait first wins — the waker unhooks the
// waiter from its primitive, calls disarm(), stores the outcome and wake()s; the cancel
// callback unhooks the waiter, stores the reason and wake()s. After one of them ran the
// other cannot find the waiter. Primitives woken from other threads resolve the race under
// their own lock or atomic state instead, and the waiter disarms itself when it resumes.
#pragma once

#include <weir/core/cancel.hpp>
#include <weir/core/detail/schedulable.hpp>
#include <weir/core/detail/shard.hpp>
#include <weir/core/task.hpp>

#include <coroutine>
#include <system_error>

namespace weir::detail {

struct waiter {
  schedulable sched;
  cancel_callback cancel_cb;

  waiter() = default;
  waiter(const waiter&) = delete;
  waiter& operator=(const waiter&) = delete;
  ~waiter() { cancel_cb.unlink(); }

  // Binds the waiter to the suspending coroutine `h`, tells the registry what it waits on
  // (`k`, `arg`, `label`: see wait_kind) and, when the coroutine's task has a cancel token,
  // subscribes `on_cancel(ctx, reason)`. Returns the reason instead when the token is already
  // cancelled (then nothing is registered and the caller must not suspend).
  template <class P>
  std::error_code prepare(std::coroutine_handle<P> h, void (*on_cancel)(void*, std::error_code),
                          void* ctx, wait_kind k, std::int64_t arg = 0,
                          const char* label = nullptr) noexcept {
    task_env* env = env_of(h);
    sched.handle = h;
    sched.owner = tl_shard;
    sched.env = env;
    note_wait(env, k, arg, label);
    if (env && env->cancel) {
      if (env->cancel->cancelled()) return env->cancel->reason();
      cancel_cb.fn = on_cancel;
      cancel_cb.ctx = ctx;
      env->cancel->subscribe(cancel_cb);
    }
    return {};
  }
  // Binds without a cancel subscription (for waits that cannot be abandoned).
  template <class P>
  void bind(std::coroutine_handle<P> h, wait_kind k, std::int64_t arg = 0) noexcept {
    sched.handle = h;
    sched.owner = tl_shard;
    sched.env = env_of(h);
    note_wait(sched.env, k, arg);
  }
  void disarm() noexcept { cancel_cb.unlink(); }
  void wake() noexcept { detail::wake(&sched); }
};

// When an operation could complete at once but the task's cooperative budget is spent,
// the awaiter completes it and then reschedules the task at the back of the run queue.
template <class P>
inline void yield_to_back(schedulable& s, std::coroutine_handle<P> h) noexcept {
  s.handle = h;
  s.owner = tl_shard;
  s.env = env_of(h);
  tl_shard->schedule(&s);
}

// Awaitable giving a coroutine its own environment without suspending.
struct this_env {
  static constexpr bool registry_transparent = true;  // never suspends
  task_env* env = nullptr;
  bool await_ready() const noexcept { return false; }
  template <class P>
  bool await_suspend(std::coroutine_handle<P> h) noexcept {
    env = env_of(h);
    return false;
  }
  task_env* await_resume() const noexcept { return env; }
};

// Awaitable replacing the environment of the awaiting coroutine (for scopes that narrow
// cancellation); the coroutine's later awaits pass `env` to what they await.
struct use_env {
  static constexpr bool registry_transparent = true;  // never suspends
  task_env* env;
  bool await_ready() const noexcept { return false; }
  template <class P>
  bool await_suspend(std::coroutine_handle<P> h) noexcept {
    static_assert(std::is_base_of_v<promise_base, P>, "use_env needs a weir coroutine");
    h.promise().env_ = env;
    return false;
  }
  void await_resume() const noexcept {}
};

}  // namespace weir::detail
