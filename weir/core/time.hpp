// Time: sleeping and deadlines (docs/architecture.md D4).
//
//   co_await weir::sleep_for(10ms);                      // result<void>
//   auto r = co_await weir::with_timeout(2s, ch.recv()); // result<T>; errc::timed_out on expiry
//
// Time is per shard: weir::now() reads the shard's clock (steady_clock, or the manual clock
// of weir::testing). Timers live in the shard's hierarchical wheel (1 ms resolution: a
// sleep ends at or up to ~1 ms after its deadline, never before).
//
// sleep_for / sleep_until: resume on the sleeping task's shard. Cancel-safe: cancellation
// completes the sleep early with the cancel reason and removes its timer. Destroyed while
// suspended: the timer is removed. Deadlines already past complete at once (subject to the
// cooperative budget). Call from a task on a shard.
//
// with_deadline(t, aw) / with_timeout(d, aw): awaits `aw` under a cancel scope that fires with
// errc::timed_out at `t`. Everything `aw` awaits sees that cancellation (the scope is a child
// of the caller's token). Nested deadlines take the nearest: a scope whose deadline is later
// than an enclosing one arms no timer. Exactly one outcome: if `aw` completes with a value
// while the deadline fires, the value is returned. The result is result<U> for an awaitable
// producing result<U>, result<void> for void, result<T> otherwise.
#pragma once

#include <weir/core/cancel.hpp>
#include <weir/core/detail/shard.hpp>
#include <weir/core/detail/waiter.hpp>
#include <weir/core/result.hpp>
#include <weir/core/task.hpp>

#include <chrono>
#include <ctime>
#include <exception>
#include <optional>
#include <source_location>

namespace weir {

using clock = std::chrono::steady_clock;

// The current shard's time.
inline clock::time_point now() { return detail::require_shard("weir::now").now(); }

// The wall clock (dates, timestamps; never deadlines): std::chrono::system_clock, or under the
// sim backend a virtual one that reads 2026-01-01T00:00:00Z at the start of every run, moves
// with virtual time, and jumps when sim_jump_wall_clock says (any thread; off a shard, the
// system's). wall_time(): its whole seconds, as cheap as std::time (an HTTP Date field).
std::chrono::system_clock::time_point wall_now() noexcept;
std::time_t wall_time() noexcept;
// Under the sim backend: steps this runtime's wall clock by `d` (NTP stepping it, an operator
// setting it back an hour); now(), timers and deadlines do not move. False on other backends.
bool sim_jump_wall_clock(std::chrono::system_clock::duration d) noexcept;

namespace detail {

struct sleep_awaiter {
  struct entry_t : timer_entry {
    sleep_awaiter* self;
  };
  clock::time_point deadline;
  entry_t entry{};
  waiter w;
  std::error_code ec;
  // The shard whose wheel holds the entry. Kept rather than read from tl_shard again: the
  // frame may be destroyed on another thread (runtime shutdown), and clang may reuse a
  // thread_local's address computed before a suspension.
  shard* sh = nullptr;

  explicit sleep_awaiter(clock::time_point t) noexcept : deadline(t) { entry.self = this; }
  // Movable until awaited (so it can be passed to with_timeout and the like).
  sleep_awaiter(sleep_awaiter&& o) noexcept : deadline(o.deadline) { entry.self = this; }
  ~sleep_awaiter() {
    if (entry.linked()) sh->cancel_timer(&entry);
  }

  bool await_ready() noexcept {
    shard& sh = *tl_shard;
    return deadline <= sh.now() && sh.coop_proceed();
  }
  template <class P>
  bool await_suspend(std::coroutine_handle<P> h) noexcept {
    ec = w.prepare(h, &on_cancel, this, wait_kind::sleep, deadline.time_since_epoch().count());
    if (ec) return false;
    entry.fire = &on_fire;
    sh = tl_shard;
    sh->add_timer(&entry, deadline);
    return true;
  }
  result<void> await_resume() noexcept {
    w.disarm();
    if (ec) return unexpected(ec);
    return {};
  }
  static void on_fire(timer_entry* e) noexcept {
    auto* self = static_cast<entry_t*>(e)->self;
    self->w.disarm();
    self->w.wake();
  }
  static void on_cancel(void* p, std::error_code reason) noexcept {
    auto* self = static_cast<sleep_awaiter*>(p);
    self->sh->cancel_timer(&self->entry);
    self->ec = reason;
    self->w.wake();
  }
};

// A timer that cancels a cancel_state with errc::timed_out.
struct deadline_timer {
  struct entry_t : timer_entry {
    cancel_state* target;
  };
  entry_t entry{};
  shard* sh = nullptr;  // as sleep_awaiter::sh
  ~deadline_timer() {
    if (entry.linked()) sh->cancel_timer(&entry);
  }
  void arm(cancel_state& cs, clock::time_point t) noexcept {
    entry.target = &cs;
    entry.fire = [](timer_entry* e) noexcept {
      static_cast<entry_t*>(e)->target->cancel(errc::timed_out);
    };
    sh = tl_shard;
    sh->add_timer(&entry, t);
  }
};

template <class T>
struct as_result {
  using type = result<T>;
};
template <class T>
struct as_result<result<T>> {
  using type = result<T>;
};

}  // namespace detail

[[nodiscard]] inline detail::sleep_awaiter sleep_until(clock::time_point t) {
  detail::require_shard("weir::sleep_until");
  return detail::sleep_awaiter(t);
}
[[nodiscard]] inline detail::sleep_awaiter sleep_for(clock::duration d) {
  return detail::sleep_awaiter(detail::require_shard("weir::sleep_for").now() + d);
}

template <class A>
using deadline_result_t = typename detail::as_result<detail::awaited_t<A>>::type;

// `site`: the caller's co_await, which dumps show for a wait inside (not this function's line).
template <class A>
task<deadline_result_t<A>> with_deadline(
    clock::time_point t, A aw, std::source_location site = std::source_location::current()) {
  using R = deadline_result_t<A>;
  detail::task_env* parent = co_await detail::this_env{};
  cancel_state scope(parent ? parent->cancel : nullptr);
  detail::task_env env{&scope, parent ? parent->record : nullptr,
                       parent ? std::min(parent->deadline, t) : t};
  detail::deadline_timer timer;
  if (!parent || t < parent->deadline) {
    if (t <= detail::tl_shard->now())
      scope.cancel(errc::timed_out);
    else
      timer.arm(scope, t);
  }
  co_await detail::use_env{&env};
  std::exception_ptr error;
  std::optional<R> out;
  try {
    using V = detail::awaited_t<A>;
    if constexpr (std::is_void_v<V>) {
      co_await detail::at_site<A>{std::move(aw), site};
      out.emplace();
    } else {
      out.emplace(co_await detail::at_site<A>{std::move(aw), site});
    }
  } catch (...) {
    error = std::current_exception();
  }
  co_await detail::use_env{parent};
  if (error) std::rethrow_exception(error);
  co_return std::move(*out);
}

template <class A>
task<deadline_result_t<A>> with_timeout(
    clock::duration d, A aw, std::source_location site = std::source_location::current()) {
  return with_deadline(detail::require_shard("weir::with_timeout").now() + d, std::move(aw), site);
}

// Gives up the rest of this run: the task goes to the back of its shard's run queue.
// Resumes on the same shard. Not a cancellation point. Cannot be destroyed while queued
// except by runtime shutdown.
struct yield_now {
  detail::schedulable s;
  bool await_ready() const noexcept { return false; }
  template <class P>
  void await_suspend(std::coroutine_handle<P> h) noexcept {
    detail::yield_to_back(s, h);
  }
  void await_resume() const noexcept {}
};

}  // namespace weir
