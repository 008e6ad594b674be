// Fork/join of child coroutines inside one task (when_all, when_any). Internal.
//
// Each child is a `fork_child` coroutine started by `fork_scope::await_suspend` and
// resumed by whoever wakes it; when a child finishes it destroys its own frame, clears its
// slot and "arrives": the last arrival resumes the parent (symmetric transfer). A scope
// destroyed while children are suspended (runtime shutdown) destroys them.
#pragma once

#include <weir/core/task.hpp>

#include <coroutine>
#include <exception>
#include <span>
#include <type_traits>
#include <variant>

namespace weir::detail {

struct fork_join {
  std::size_t remaining = 0;
  std::coroutine_handle<> parent;
  std::coroutine_handle<> arrive() noexcept {
    return --remaining == 0 ? parent : std::noop_coroutine();
  }
};

struct fork_child {
  struct promise_type : promise_base {
    fork_join* join = nullptr;
    std::coroutine_handle<>* slot = nullptr;

    fork_child get_return_object() noexcept {
      return {std::coroutine_handle<promise_type>::from_promise(*this)};
    }
    std::suspend_always initial_suspend() const noexcept { return {}; }
    struct final_awaiter {
      bool await_ready() const noexcept { return false; }
      std::coroutine_handle<> await_suspend(std::coroutine_handle<promise_type> h) noexcept {
        fork_join* j = h.promise().join;
        *h.promise().slot = nullptr;
        h.destroy();
        return j->arrive();
      }
      void await_resume() const noexcept {}
    };
    final_awaiter final_suspend() const noexcept { return {}; }
    void return_void() const noexcept {}
    void unhandled_exception() const noexcept { std::terminate(); }  // bodies catch everything
  };
  std::coroutine_handle<promise_type> h;
};

// Starts the children in `kids` (already bound with bind_child) and suspends the parent
// until every one of them has finished.
class fork_scope {
 public:
  explicit fork_scope(std::span<std::coroutine_handle<>> kids) noexcept : kids_(kids) {}
  fork_scope(const fork_scope&) = delete;
  ~fork_scope() {
    for (auto& k : kids_)
      if (k) std::exchange(k, nullptr).destroy();
  }
  fork_join* join() noexcept { return &join_; }

  bool await_ready() const noexcept { return kids_.empty(); }
  bool await_suspend(std::coroutine_handle<> parent) noexcept {
    join_.remaining = kids_.size() + 1;
    join_.parent = parent;
    for (auto& k : kids_) {
      std::coroutine_handle<> h = k;  // the slot is cleared if the child finishes at once
      h.resume();
    }
    return --join_.remaining != 0;
  }
  void await_resume() const noexcept {}

 private:
  std::span<std::coroutine_handle<>> kids_;
  fork_join join_;
};

inline void bind_child(fork_child c, fork_scope& scope, std::coroutine_handle<>& slot,
                       task_env* env) noexcept {
  auto& p = c.h.promise();
  p.join = scope.join();
  p.slot = &slot;
  p.env_ = env;
  slot = c.h;
}

template <class T>
using stored_t = std::conditional_t<std::is_void_v<T>, std::monostate, T>;

// An environment for children: a narrower cancel token, the same task and deadline.
inline task_env child_env(const task_env* parent, cancel_state* cancel) noexcept {
  task_env e;
  e.cancel = cancel;
  if (parent) {
    e.record = parent->record;
    e.deadline = parent->deadline;
  }
  return e;
}

}  // namespace weir::detail
