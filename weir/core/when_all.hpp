// weir::when_all — await several tasks concurrently on the current shard; all results.
//
//   auto [a, b] = co_await weir::when_all(fetch(1), fetch(2));   // std::tuple<int, int>
//   std::vector<int> v = co_await weir::when_all(std::move(tasks));
//
// The children run interleaved on the calling task's shard (no thread hop) and share a
// cancel token that is a child of the caller's. `void` results become std::monostate.
// If a child throws, the others are cancelled, when_all waits for all of them to finish and
// then rethrows the first exception: no child outlives the call.
// Resumes on the caller's shard, when the last child finishes. Cancellation of the caller
// reaches every child; when_all then completes when they have all reacted. Destroyed while
// suspended (runtime shutdown): destroys the children.
#pragma once

#include <weir/core/cancel.hpp>
#include <weir/core/detail/fork.hpp>
#include <weir/core/detail/waiter.hpp>
#include <weir/core/task.hpp>

#include <array>
#include <optional>
#include <tuple>
#include <vector>

namespace weir {

namespace detail {

template <class T>
fork_child all_child(task<T>& t, std::optional<stored_t<T>>& slot, std::exception_ptr& error,
                     cancel_state& group) {
  try {
    if constexpr (std::is_void_v<T>) {
      co_await t;
      slot.emplace();
    } else {
      slot.emplace(co_await t);
    }
  } catch (...) {
    if (!error) error = std::current_exception();
    group.cancel(errc::cancelled);
  }
}

}  // namespace detail

template <class... T>
task<std::tuple<detail::stored_t<T>...>> when_all_tasks(task<T>... ts) {
  detail::task_env* parent = co_await detail::this_env{};
  cancel_state group(parent ? parent->cancel : nullptr);
  detail::task_env env = detail::child_env(parent, &group);
  std::tuple<task<T>...> tasks(std::move(ts)...);
  std::tuple<std::optional<detail::stored_t<T>>...> slots;
  std::exception_ptr error;
  std::array<std::coroutine_handle<>, sizeof...(T)> kids{};
  detail::fork_scope scope(kids);
  [&]<std::size_t... I>(std::index_sequence<I...>) {
    (detail::bind_child(detail::all_child(std::get<I>(tasks), std::get<I>(slots), error, group),
                        scope, kids[I], &env),
     ...);
  }
  (std::index_sequence_for<T...>{});
  co_await scope;
  if (error) std::rethrow_exception(error);
  co_return [&]<std::size_t... I>(std::index_sequence<I...>) {
    return std::tuple<detail::stored_t<T>...>(std::move(*std::get<I>(slots))...);
  }
  (std::index_sequence_for<T...>{});
}

// Any awaitables (tasks, sleeps, channel operations, ...).
template <class... A>
requires(sizeof...(A) > 0) auto when_all(A&&... aws) {
  return when_all_tasks(detail::to_task(std::forward<A>(aws))...);
}

template <class T>
task<std::vector<detail::stored_t<T>>> when_all(std::vector<task<T>> ts) {
  detail::task_env* parent = co_await detail::this_env{};
  cancel_state group(parent ? parent->cancel : nullptr);
  detail::task_env env = detail::child_env(parent, &group);
  std::vector<std::optional<detail::stored_t<T>>> slots(ts.size());
  std::exception_ptr error;
  std::vector<std::coroutine_handle<>> kids(ts.size());
  detail::fork_scope scope(kids);
  for (std::size_t i = 0; i < ts.size(); ++i)
    detail::bind_child(detail::all_child(ts[i], slots[i], error, group), scope, kids[i], &env);
  co_await scope;
  if (error) std::rethrow_exception(error);
  std::vector<detail::stored_t<T>> out;
  out.reserve(slots.size());
  for (auto& s : slots) out.push_back(std::move(*s));
  co_return out;
}

}  // namespace weir
