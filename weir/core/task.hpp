// weir::task<T> — a lazy coroutine returning T (DESIGN.md D1).
//
// A task does nothing until it is awaited (`co_await f()`), spawned (weir::spawn) or run by
// a runtime (runtime::block_on). Awaiting transfers control to the task symmetrically and
// the task transfers back to its awaiter when it finishes, so chains of any length use no
// stack. The result (or the exception the body threw) is handed to the awaiter:
//
//   weir::task<int> answer() { co_return 42; }
//   weir::task<> caller() { int v = co_await answer(); ... }
//
// Frames come from the per-thread frame allocator (frame_allocator.hpp): no malloc once
// warm. A task is move-only; destroying a task that has not finished destroys its frame
// (and, transitively, the frames it awaits). An "async interface" is a virtual function
// returning task<T>: one indirect call, no allocation beyond the pooled frame.
//
// Awaited tasks inherit their awaiter's environment (cancel token, task record); see
// cancel.hpp.
//
// Thread safety: a task runs on the shard that resumes it; it must not be awaited from two
// places. Where it resumes: in its awaiter, on the awaiter's thread.
#pragma once

#include <weir/core/detail/schedulable.hpp>
#include <weir/core/frame_allocator.hpp>

#include <cassert>
#include <chrono>
#include <concepts>
#include <coroutine>
#include <exception>
#include <type_traits>
#include <utility>

namespace weir {

class cancel_state;

namespace detail {

struct task_record;

// What an awaited coroutine inherits from its awaiter: the cancel token and the task it is
// part of. Owned by spawned roots and by scopes that narrow cancellation (with_deadline,
// when_any, task_group).
struct task_env {
  cancel_state* cancel = nullptr;
  task_record* record = nullptr;
  // The nearest deadline among the enclosing with_deadline scopes (max: none). A nested
  // scope with a later deadline arms no timer of its own: the outer one covers it.
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
};

struct promise_base : pooled {
  std::coroutine_handle<> continuation_;
  task_env* env_ = nullptr;
  // The awaiter started this coroutine with a nested resume() and waits for it on the stack
  // below: finishing then returns there (done_) instead of transferring to the continuation.
  bool inline_waiter_ = false;
  bool done_ = false;
};

// How many tasks are being started by nested resume() on this thread right now. Past
// max_inline_nesting a task is started through the scheduler instead, so the stack stays
// bounded however deep the chain of awaits.
extern thread_local constinit unsigned tl_inline_nesting;
inline constexpr unsigned max_inline_nesting = 64;

// Makes `h` runnable on the current shard (node `s` lives in the awaiter); false outside a
// runtime, where the caller starts it in place.
bool start_deferred(schedulable& s, std::coroutine_handle<> h, task_env* env) noexcept;

template <class P>
inline task_env* env_of(std::coroutine_handle<P> h) noexcept {
  if constexpr (std::is_base_of_v<promise_base, P>) return h.promise().env_;
  else return nullptr;
}

// Where a finished task goes: back to an awaiter waiting on the stack, or to its continuation.
// Out of line and shared by every task, so that each coroutine's own code stays small (with
// many coroutines, instruction-cache misses cost more than a direct call).
std::coroutine_handle<> final_target(promise_base& p) noexcept;

// Starts the task of `child` for an awaiter (see task<T>::awaiter); true when the awaiter
// must suspend. `node` is the awaiter's, for a start deferred to the run queue.
bool start_child(promise_base& child, std::coroutine_handle<> h, std::coroutine_handle<> caller,
                 task_env* env, schedulable& node) noexcept;

struct final_transfer {
  bool await_ready() const noexcept { return false; }
  template <class P>
  std::coroutine_handle<> await_suspend(std::coroutine_handle<P> h) const noexcept {
    return final_target(h.promise());
  }
  void await_resume() const noexcept {}
};

[[noreturn]] void rethrow(const std::exception_ptr& e);
void destroy_exception(std::exception_ptr& e) noexcept;

template <class T>
class task_promise_storage {
 public:
  task_promise_storage() noexcept {}
  task_promise_storage(const task_promise_storage&) = delete;
  ~task_promise_storage() {
    if constexpr (!std::is_trivially_destructible_v<T>)
      if (state_ == state::value) value_.~T();
    if (state_ == state::exception) [[unlikely]]
      destroy_exception(error_);
  }
  template <class U>
  void return_value(U&& v) {
    new (&value_) T(std::forward<U>(v));
    state_ = state::value;
  }
  void unhandled_exception() noexcept {
    new (&error_) std::exception_ptr(std::current_exception());
    state_ = state::exception;
  }
  T take() {
    if (state_ == state::exception) [[unlikely]]
      rethrow(error_);
    return std::move(value_);
  }

 private:
  enum class state : unsigned char { empty, value, exception };
  union {
    T value_;
    std::exception_ptr error_;
  };
  state state_ = state::empty;
};

template <>
class task_promise_storage<void> {
 public:
  void return_void() noexcept {}
  void unhandled_exception() noexcept { error_ = std::current_exception(); }
  void take() {
    if (error_) [[unlikely]]
      rethrow(error_);
  }

 private:
  std::exception_ptr error_;
};

}  // namespace detail

template <class T = void>
class [[nodiscard]] task {
 public:
  using value_type = T;

  struct promise_type : detail::promise_base, detail::task_promise_storage<T> {
    task get_return_object() noexcept {
      return task(std::coroutine_handle<promise_type>::from_promise(*this));
    }
    std::suspend_always initial_suspend() const noexcept { return {}; }
    detail::final_transfer final_suspend() const noexcept { return {}; }
  };
  using handle_type = std::coroutine_handle<promise_type>;

  // Starting a task: while the nesting bound allows, the awaiter resumes the task directly and,
  // if it finishes without suspending (the common case for a tree of calls), carries on
  // without suspending itself — no indirect jump back through the awaiter's resume function.
  // If the task suspends, its completion later transfers to the awaiter symmetrically.
  struct awaiter {
    handle_type h;
    detail::schedulable node{};  // only for a deferred start
    bool await_ready() const noexcept { return false; }
    template <class P>
    bool await_suspend(std::coroutine_handle<P> caller) noexcept {
      return detail::start_child(h.promise(), h, caller, detail::env_of(caller), node);
    }
    T await_resume() const { return h.promise().take(); }
  };

  task() noexcept = default;
  task(task&& o) noexcept : h_(std::exchange(o.h_, {})) {}
  task& operator=(task&& o) noexcept {
    if (this != &o) {
      if (h_) h_.destroy();
      h_ = std::exchange(o.h_, {});
    }
    return *this;
  }
  task(const task&) = delete;
  task& operator=(const task&) = delete;
  ~task() {
    if (h_) h_.destroy();
  }

  bool valid() const noexcept { return static_cast<bool>(h_); }

  awaiter operator co_await() const& noexcept {
    assert(h_ && "awaiting an empty task");
    return awaiter{h_, {}};
  }
  awaiter operator co_await() const&& noexcept {
    assert(h_ && "awaiting an empty task");
    return awaiter{h_, {}};
  }

  // Internal: the frame, for adapters that drive a task themselves.
  handle_type handle() const noexcept { return h_; }

 private:
  explicit task(handle_type h) noexcept : h_(h) {}
  handle_type h_;
};

template <class T>
inline constexpr bool is_task_v = false;
template <class T>
inline constexpr bool is_task_v<task<T>> = true;

namespace detail {
template <class A>
decltype(auto) get_awaiter(A&& a) {
  if constexpr (requires { std::forward<A>(a).operator co_await(); })
    return std::forward<A>(a).operator co_await();
  else
    return std::forward<A>(a);
}

// The result type of `co_await a` for an awaitable `A`.
template <class A>
using awaited_t = decltype(get_awaiter(std::declval<A>()).await_resume());

template <class A>
task<awaited_t<A>> wrap_awaitable(A a) {
  co_return co_await std::move(a);
}

// A task as is; any other awaitable wrapped in a task that awaits it.
template <class A>
auto to_task(A&& a) {
  if constexpr (is_task_v<std::remove_cvref_t<A>>) return std::forward<A>(a);
  else return wrap_awaitable(std::forward<A>(a));
}
template <class A>
using task_for_t = decltype(to_task(std::declval<A>()));
}  // namespace detail

}  // namespace weir
