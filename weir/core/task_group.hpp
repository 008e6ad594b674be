// weir::with_task_group / weir::task_group — structured concurrency (as Trio's nursery).
//
//   co_await weir::with_task_group([](weir::task_group& g, int n) -> weir::task<> {
//     for (int i = 0; i < n; ++i) g.spawn(handle(i), "handler");
//     co_return;
//   }, 10);
//
// `with_task_group(f, args...)` runs `f(group, args...)`, then waits until every child the
// body spawned has finished, and returns the body's value. Children are tasks of their own on
// the current shard (they run concurrently with the body), named for the registry, and their
// cancel token is the group's, a child of the caller's: cancelling the caller cancels them.
// If the body or a child throws, the group is cancelled, the remaining children are awaited,
// and the first exception is rethrown. No child outlives the call.
// Resumes on the caller's shard. The final wait for the children is not abandoned on
// cancellation (that is the point of the structure): cancellation reaches the children, and
// the call completes when they have reacted. Destroyed while suspended (runtime shutdown):
// the children, being tasks of the shard, are destroyed with it.
// `task_group&` must only be used inside the body and the children it spawns, on its shard.
#pragma once

#include <weir/core/cancel.hpp>
#include <weir/core/detail/fork.hpp>
#include <weir/core/detail/shard.hpp>
#include <weir/core/detail/waiter.hpp>
#include <weir/core/spawn.hpp>
#include <weir/core/task.hpp>

#include <exception>
#include <optional>
#include <source_location>
#include <type_traits>

namespace weir {

namespace detail {

// Shared by the scope and the running children (children may outlive the scope's frame
// only during runtime shutdown, when frames are destroyed in any order).
struct group_state : pooled {
  cancel_state cancel;
  unsigned refs = 1;
  unsigned live = 0;
  std::exception_ptr error;
  waiter* joiner = nullptr;

  void release() noexcept {
    if (--refs == 0) delete this;
  }
  void child_done(std::exception_ptr e) noexcept {
    if (e && !error) {
      error = e;
      cancel.cancel(errc::cancelled);
    }
    if (--live == 0 && joiner) {
      waiter* w = std::exchange(joiner, nullptr);
      w->wake();
    }
    release();
  }
};

struct group_child_guard {
  group_state* g;
  std::exception_ptr error;
  ~group_child_guard() { g->child_done(error); }
};

template <class T>
spawn_coro group_child(task<T> t, group_state* g) {
  group_child_guard guard{g, nullptr};
  try {
    co_await std::move(t);
  } catch (...) {
    guard.error = std::current_exception();
  }
}

struct group_join {
  group_state* g;
  waiter w;
  bool await_ready() const noexcept { return g->live == 0; }
  template <class P>
  void await_suspend(std::coroutine_handle<P> h) noexcept {
    w.bind(h, wait_kind::task_group);
    g->joiner = &w;
  }
  void await_resume() const noexcept {}
  ~group_join() {
    if (g->joiner == &w) g->joiner = nullptr;
  }
};

}  // namespace detail

class task_group {
 public:
  explicit task_group(detail::group_state* s) noexcept : s_(s) {}
  task_group(const task_group&) = delete;
  task_group& operator=(const task_group&) = delete;

  // Starts `t` as a child task of the group on the current shard.
  template <class T>
  void spawn(task<T> t, const char* name = "",
             std::source_location site = std::source_location::current()) {
    detail::shard& sh = detail::require_shard("weir::task_group::spawn");
    auto coro = detail::group_child(std::move(t), s_);
    coro.h.promise().cancel.attach(&s_->cancel);
    ++s_->refs;
    ++s_->live;
    sh.launch(coro.h.promise(), coro.h, name, site);
  }
  // Cancels every child (and the body, which runs under the group's token).
  void cancel() noexcept { s_->cancel.cancel(errc::cancelled); }
  // Children still running.
  unsigned size() const noexcept { return s_->live; }

 private:
  detail::group_state* s_;
};

template <class F, class... A>
auto with_task_group(F f, A... args)
    -> task<typename std::invoke_result_t<F&, task_group&, A&...>::value_type> {
  using R = typename std::invoke_result_t<F&, task_group&, A&...>::value_type;
  detail::task_env* parent = co_await detail::this_env{};
  auto* s = new detail::group_state();
  s->cancel.attach(parent ? parent->cancel : nullptr);
  struct state_ref {
    detail::group_state* s;
    ~state_ref() { s->release(); }
  } ref{s};
  detail::task_env env = detail::child_env(parent, &s->cancel);
  task_group g(s);
  std::optional<detail::stored_t<R>> out;
  std::exception_ptr error;
  co_await detail::use_env{&env};
  try {
    if constexpr (std::is_void_v<R>) {
      co_await f(g, args...);
      out.emplace();
    } else {
      out.emplace(co_await f(g, args...));
    }
  } catch (...) {
    error = std::current_exception();
    s->cancel.cancel(errc::cancelled);
  }
  co_await detail::use_env{parent};
  co_await detail::group_join{s, {}};
  if (error) std::rethrow_exception(error);
  if (s->error) std::rethrow_exception(s->error);
  if constexpr (!std::is_void_v<R>) co_return std::move(*out);
}

}  // namespace weir
