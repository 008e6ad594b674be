// weir::when_any — race several tasks on the current shard; the first to finish wins.
//
//   auto r = co_await weir::when_any(ch.recv_task(), weir::sleep_task(1s));
//   if (r.index() == 0) use(std::get<0>(r));
//
// Returns a std::variant whose active index is the winner's (`void` → std::monostate). When
// the winner finishes, the losers are cancelled (errc::cancelled at their blocking awaits)
// and awaited — never leaked, never left running; their results are discarded. If the
// winner threw, the exception is rethrown after the losers finished.
// Resumes on the caller's shard once every child has finished. Cancellation of the caller
// reaches every child (the first of them to finish, typically with an error result, wins).
// Destroyed while suspended (runtime shutdown): destroys the children.
#pragma once

#include <weir/core/cancel.hpp>
#include <weir/core/detail/fork.hpp>
#include <weir/core/detail/waiter.hpp>
#include <weir/core/task.hpp>

#include <array>
#include <optional>
#include <variant>

namespace weir {

namespace detail {

template <class V>
struct race_state {
  std::optional<V> winner;
  std::exception_ptr error;
  bool decided = false;
};

template <std::size_t I, class T, class V>
fork_child any_child(task<T>& t, race_state<V>& race, cancel_state& losers) {
  try {
    if constexpr (std::is_void_v<T>) {
      co_await t;
      if (!race.decided) {
        race.decided = true;
        race.winner.emplace(std::in_place_index<I>);
        losers.cancel(errc::cancelled);
      }
    } else {
      auto v = co_await t;
      if (!race.decided) {
        race.decided = true;
        race.winner.emplace(std::in_place_index<I>, std::move(v));
        losers.cancel(errc::cancelled);
      }
    }
  } catch (...) {
    if (!race.decided) {
      race.decided = true;
      race.error = std::current_exception();
      losers.cancel(errc::cancelled);
    }
  }
}

}  // namespace detail

template <class... T>
task<std::variant<detail::stored_t<T>...>> when_any_tasks(task<T>... ts) {
  static_assert(sizeof...(T) > 0, "when_any needs at least one task");
  using V = std::variant<detail::stored_t<T>...>;
  detail::task_env* parent = co_await detail::this_env{};
  cancel_state losers(parent ? parent->cancel : nullptr);
  detail::task_env env = detail::child_env(parent, &losers);
  std::tuple<task<T>...> tasks(std::move(ts)...);
  detail::race_state<V> race;
  std::array<std::coroutine_handle<>, sizeof...(T)> kids{};
  detail::fork_scope scope(kids);
  [&]<std::size_t... I>(std::index_sequence<I...>) {
    (detail::bind_child(detail::any_child<I>(std::get<I>(tasks), race, losers), scope, kids[I],
                        &env),
     ...);
  }
  (std::index_sequence_for<T...>{});
  co_await scope;
  if (race.error) std::rethrow_exception(race.error);
  co_return std::move(*race.winner);
}

// Any awaitables (tasks, sleeps, channel operations, ...).
template <class... A>
requires(sizeof...(A) > 0) auto when_any(A&&... aws) {
  return when_any_tasks(detail::to_task(std::forward<A>(aws))...);
}

}  // namespace weir
