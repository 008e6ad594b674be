// weir::make_c_callback — the bridge for C libraries that complete through a callback and a
// `void*` (docs/architecture.md D8, D7; seed 002's auth library, librdkafka's delivery reports).
//
//   auto [token, done] = weir::make_c_callback<int>("auth library");
//   auth_check(lib, user, &on_auth_done, &weir::c_callback_release, token);
//   weir::result<int> status = co_await done;    // errc::lost_wakeup if never called back
//
//   static void on_auth_done(void* token, int status) {        // any thread, once
//     weir::c_callback_fire<int>(token, status);
//   }
//
// The token is an opaque generation-checked handle, never a pointer to freed memory, so the
// C side's mistakes are caught instead of corrupting memory:
// - c_callback_fire(token, v): delivers v once, from any thread, and wakes the task on its
//   own shard. A second fire (or one after release) is reported on stderr, counted in
//   weir::completion_stats().second_fires, and ignored; it returns false.
// - c_callback_release(token): the library is done with the token (its "destroy notifier",
//   called after the callback or when it drops the request). Released without having fired
//   -> the task lost its last wake-up: reported at once, with a backtrace of this call (the
//   place the handle died), and handled by the runtime's lost_wakeup_policy (by default the
//   task resumes with errc::lost_wakeup, so its client gets an error instead of a hang).
// Every token must be released exactly once: after release it is dead (a stale token's later
// fire or release is reported and ignored). A library without a destroy notifier can use
// weir::make_completion and completion_source::adopt(token).fire(v) instead; then a callback
// that never comes is found only when something destroys the source.
//
// Awaiting side: as weir::completion<T> (cancel-safe; resumes on its own shard).
// Thread safety: fire and release from any thread; tokens live in a process-wide table.
#pragma once

#include <weir/core/completion.hpp>

#include <utility>

namespace weir {

namespace detail {

// The token table (completion.cpp). A slot holds the completion's source (an oneshot_state
// with one sender reference) while its token is armed; `drop` destroys it unfired.
void* c_callback_register(void* state, void (*drop)(void*) noexcept) noexcept;
// Claims the right to fire: the source state, or null (stale token or second fire: reported).
void* c_callback_claim(void* token) noexcept;

template <class T>
void drop_source(void* state) noexcept {
  completion_source<T> src(static_cast<oneshot_state<T>*>(state));  // destroyed unfired: lost
}

}  // namespace detail

template <class T>
struct c_callback_pair {
  void* token;
  completion<T> done;
};

template <class T>
c_callback_pair<T> make_c_callback(const char* label = "C callback") {
  auto [source, done] = make_completion<T>(label);
  void* token = detail::c_callback_register(std::move(source).release(), &detail::drop_source<T>);
  return {token, std::move(done)};
}

// Delivers `v` to the task waiting on the token's completion (any thread, exactly once).
template <class T, class U = T>
bool c_callback_fire(void* token, U&& v) {
  void* state = detail::c_callback_claim(token);
  if (!state) return false;
  return completion_source<T>::adopt(state).fire(std::forward<U>(v));
}

// The C library is done with `token` (any thread, exactly once). Has the signature of a C
// destroy notifier: void (*)(void*).
void c_callback_release(void* token) noexcept;

}  // namespace weir
