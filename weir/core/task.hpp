// weir::task<T> — a lazy coroutine returning T (docs/architecture.md D1).
//
// A task does nothing until it is awaited (`co_await f()`), spawned (weir::spawn) or run by
// a runtime (runtime::block_on). Awaiting runs it once; chains of awaits of any length use
// bounded stack (symmetric transfer under clang; under g++ a bounded nested start, then the
// run queue — see WEIR_TASK_SYMMETRIC). The result (or the exception the body threw) lands in
// the awaiter:
//
//   weir::task<int> answer() { co_return 42; }
//   weir::task<> caller() { int v = co_await answer(); ... }
//
// Frames come from the per-thread frame allocator (frame_allocator.hpp): no malloc once
// warm (clang elides statically awaited frames altogether). A task is move-only; destroying a
// task, or the frame awaiting it, before it finished destroys its frame (and, transitively,
// the frames it awaits). An "async interface" is a virtual function
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

#include <atomic>
#include <cassert>
#include <chrono>
#include <concepts>
#include <coroutine>
#include <cstdint>
#include <exception>
#include <source_location>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

// How awaiting starts a task, chosen per compiler (the behaviour seen by users is the same):
// - clang: symmetric transfer both ways, the awaiter owns and destroys the child's frame.
//   clang guarantees the transfers are tail calls (also under sanitizers) and elides the
//   frames of statically awaited tasks into the caller's frame (HALO).
// - g++: no frame elision and no guaranteed tail calls, so the awaiter starts the child with a
//   nested resume() and carries on without suspending when it finishes at once; the child's
//   frame is freed in place; nesting is bounded (see start_child).
#if defined(__clang__)
#define WEIR_TASK_SYMMETRIC 1
#else
#define WEIR_TASK_SYMMETRIC 0
#endif

// The task registry (docs/architecture.md D7; weir/core/registry.hpp) is on unless the build sets
// WEIR_REGISTRY=0 (CMake option WEIR_REGISTRY=OFF, used to measure what it costs).
#ifndef WEIR_REGISTRY
#define WEIR_REGISTRY 1
#endif

namespace weir {

class cancel_state;

namespace detail {

// What a task waits on (docs/architecture.md D7), set by the awaiter that suspends; worded by the
// registry (registry.cpp) only when a dump asks.
enum class wait_kind : std::uint8_t {
  none,
  sleep,         // arg: deadline (steady clock, ns since its epoch)
  read,          // arg: fd
  write,         // arg: fd
  accept,        // arg: fd
  connect,       // arg: fd
  readiness,     // arg: fd (poll in/out)
  channel_send,  // arg: capacity (the channel is full)
  channel_recv,  // arg: capacity (the channel is empty)
  mutex,
  semaphore,  // arg: permits wanted
  notify,
  wait_group,  // arg: count
  broadcast,
  oneshot,       // label: what will complete it (make_completion's label)
  join,          // arg: the joined task's id
  task_group,    // arg: children still running
  shard_call,    // arg: the shard that runs the call
  mailbox_full,  // arg: the shard whose mailbox is full
  blocking,      // a job on the blocking pool
  signal,
  yield,
};

enum class task_state : std::uint8_t { ready, running, waiting };

// What set_task_context() and set_task_context_detail() attached to a task, kept in the pieces
// they were given and joined only when a dump asks (context_text). Allocated by the first of
// them; under the shard's registry lock.
struct task_context {
  static constexpr std::size_t detail_max = 160;
  std::string text;             // set_task_context()
  std::string_view what;        // set_task_context_detail(): static storage ("GET")
  std::size_t detail_size = 0;  // set_task_context_detail(): copied ("/kv/a"): a memcpy, no
  char detail[detail_max];      // std::string bookkeeping per request
};

// What the registry knows about a spawned task. The shard thread writes it; dumps read it
// from any thread (relaxed atomics; the context and the record's lifetime under the shard's
// registry lock). Times are cycle_clock readings (detail/cycle_clock.hpp), converted to
// nanoseconds when read.
struct task_record {
  std::uint64_t id = 0;
  std::uint64_t parent_id = 0;
  const char* name = "";
  std::source_location spawn_site;
  unsigned shard = 0;
#if WEIR_REGISTRY
  // Where it last suspended: noted by the await that suspends (sited_awaiter), so a waiting
  // task shows where it waits and a running one where its run resumed.
  std::atomic<std::source_location> await_site{};
  // Set to waiting when a run starts and to ready by a wake (mark_ready): a task woken during its
  // own run ends it ready. Running is the shard's current task (run_monitor).
  std::atomic<task_state> state{task_state::ready};
  std::atomic<wait_kind> wait{wait_kind::none};
  std::atomic<const char*> wait_label{nullptr};
  std::atomic<std::int64_t> wait_arg{0};
  std::atomic<std::int64_t> since{0};  // the start of the batch of its last run (cycle_clock)
  std::atomic<std::uint64_t> runs{0};  // runs completed
  // cycle_clock ticks, sampled: the watchdog charges each of its ticks to the task it finds
  // running (it is the only writer, under the registry lock).
  std::atomic<std::int64_t> busy{0};
  // Made by the first set_task_context*, deleted when the root frame leaves the registry
  // (shard::forget_root): a plain pointer keeps the root frame's destructor trivial here, a
  // dozen instructions less per spawned task. Under the registry lock.
  task_context* context = nullptr;
#endif
};

#if WEIR_REGISTRY
// The context of `r` in words: the pieces joined by spaces (call under the registry lock).
inline std::string context_text(const task_record& r) {
  std::string out;
  if (const task_context* c = r.context) {
    for (std::string_view part :
         {std::string_view(c->text), c->what, std::string_view(c->detail, c->detail_size)})
      if (!part.empty()) out.append(out.empty() ? "" : " ").append(part);
  }
  return out;
}
#endif

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

// Records what the task of `env` is about to wait on (a no-op with the registry compiled out).
inline void note_wait(const task_env* env, wait_kind k, std::int64_t arg = 0,
                      const char* label = nullptr) noexcept {
#if WEIR_REGISTRY
  if (env && env->record) {
    task_record* r = env->record;
    r->wait.store(k, std::memory_order_relaxed);
    r->wait_arg.store(arg, std::memory_order_relaxed);
    r->wait_label.store(label, std::memory_order_relaxed);
  }
#else
  (void)env, (void)k, (void)arg, (void)label;
#endif
}

template <class A>
decltype(auto) get_awaiter(A&& a) {
  if constexpr (requires { std::forward<A>(a).operator co_await(); })
    return std::forward<A>(a).operator co_await();
  else
    return std::forward<A>(a);
}

// An awaiter that never suspends its task by itself declares
// `static constexpr bool registry_transparent = true`: a task's awaiter (the awaited task's own
// awaits note where it suspends) and those that only read or swap the environment.
// await_transform hands such an awaiter back as it is: no await site, no cost.
template <class W>
concept registry_transparent = std::remove_cvref_t<W>::registry_transparent;

// `co_await at_site<A>{std::move(aw), site}` awaits `aw` as if the co_await were at `site`: a
// wrapper coroutine (with_deadline) awaits what its caller handed it, and dumps show the
// caller's co_await, not the wrapper's line.
template <class A>
struct at_site {
  A&& aw;
  std::source_location site;
  decltype(auto) operator co_await() && { return get_awaiter(std::forward<A>(aw)); }
};

#if WEIR_REGISTRY
template <class A>
concept transparent_awaitable = registry_transparent<decltype(get_awaiter(std::declval<A>()))>;
template <class A>
concept sited_awaitable = !transparent_awaitable<A>;

// What await_transform hands back for any other awaitable: its own awaiter, held by value (the
// prvalue of operator co_await) or by reference (an awaitable that is its own awaiter: the
// expression's temporary or the caller's lvalue), and the site of the co_await, which the task's
// record learns only when the awaiter is about to suspend (an await that completes at once
// costs nothing). Returning the awaitable itself by reference would do, but g++ 12 then copies
// it into the frame (immovable awaiters fail to compile).
template <class A>
struct sited_awaiter {
  using inner_t = decltype(get_awaiter(std::declval<A>()));
  inner_t inner;
  std::source_location site;
  bool await_ready() { return inner.await_ready(); }
  // The site is noted after the inner awaiter decided to suspend: a weir task resumes only on
  // its own shard, which is this thread, once await_suspend has returned, so the frame (this
  // awaiter, the promise, the root frame's record) is still there.
  template <class P>
  auto await_suspend(std::coroutine_handle<P> h) {
    using result_t = decltype(inner.await_suspend(h));
    if constexpr (std::is_void_v<result_t>) {
      inner.await_suspend(h);
      note_site(h.promise().env_);
    } else if constexpr (std::is_same_v<result_t, bool>) {
      const bool suspends = inner.await_suspend(h);
      if (suspends) note_site(h.promise().env_);
      return suspends;
    } else {  // a coroutine to transfer to; `h` itself resumes at once
      std::coroutine_handle<> next = inner.await_suspend(h);
      if (next != h) note_site(h.promise().env_);
      return next;
    }
  }
  void note_site(const task_env* env) const noexcept {
    if (env && env->record) env->record->await_site.store(site, std::memory_order_relaxed);
  }
  decltype(auto) await_resume() { return static_cast<inner_t&&>(inner).await_resume(); }
};
#endif

struct promise_base : pooled {
  std::coroutine_handle<> continuation_;
  task_env* env_ = nullptr;
  // Set while the awaiter waits for this coroutine on the stack below it (it started it with a
  // nested resume()): finishing then sets *done_flag_ and destroys the frame in place instead of
  // transferring to the continuation.
  bool* done_flag_ = nullptr;
  // An upper bound of how many nested resume() calls this coroutine runs under (0 when
  // started by the scheduler); see start_child.
  unsigned depth_ = 0;
#if WEIR_REGISTRY
  // Every co_await in a weir coroutine passes here and gets its site (the call site of an
  // implicit call is the co_await expression, in g++ and clang alike); see sited_awaiter.
  template <sited_awaitable A>
  sited_awaiter<A> await_transform(A&& a,
                                   std::source_location site = std::source_location::current()) {
    return sited_awaiter<A>{get_awaiter(std::forward<A>(a)), site};
  }
  template <class A>
  requires sited_awaitable<A> sited_awaiter<A> await_transform(at_site<A>&& a) {
    return sited_awaiter<A>{get_awaiter(std::forward<A>(a.aw)), a.site};
  }
  // A separate overload, without the site: g++ would keep even an unused default argument in
  // the coroutine's frame, two stores per await.
  template <transparent_awaitable A>
  decltype(auto) await_transform(A&& a) {
    return get_awaiter(std::forward<A>(a));
  }
#endif
};

template <class P>
inline task_env* env_of(std::coroutine_handle<P> h) noexcept {
  if constexpr (std::is_base_of_v<promise_base, P>)
    return h.promise().env_;
  else
    return nullptr;
}

// Past this many nested starts a task is started through the scheduler instead, so the stack
// stays bounded however deep the chain of awaits.
inline constexpr unsigned max_inline_nesting = 64;

template <class P>
inline unsigned depth_of(std::coroutine_handle<P> h) noexcept {
  if constexpr (std::is_base_of_v<promise_base, P>)
    return h.promise().depth_;
  else
    return 0;
}

// Makes `h` runnable on the current shard (node `s` lives in the awaiter); false outside a
// runtime, where the caller starts it in place.
bool start_deferred(schedulable& s, std::coroutine_handle<> h, task_env* env) noexcept;

// Starts the coroutine of `child` for an awaiter; true when the awaiter must suspend. Out of
// line and shared by every task, so each coroutine's own code stays small (with many distinct
// coroutines, instruction-cache misses cost more than a direct call).
bool start_child(promise_base& child, std::coroutine_handle<> h, std::coroutine_handle<> caller,
                 task_env* env, unsigned depth, schedulable& node, bool& done) noexcept;

// The end of a task: if its awaiter waits on the stack, report done and let the frame be
// destroyed in place (no suspension, no indirect call); otherwise destroy the frame and
// transfer to the continuation.
struct final_transfer {
  promise_base* p;
#if WEIR_TASK_SYMMETRIC
  bool await_ready() const noexcept { return false; }
  template <class P>
  std::coroutine_handle<> await_suspend(std::coroutine_handle<P>) const noexcept {
    return p->continuation_;  // the awaiter destroys the frame
  }
#else
  bool await_ready() const noexcept {
    if (!p->done_flag_) return false;
    *p->done_flag_ = true;
    return true;
  }
  template <class P>
  std::coroutine_handle<> await_suspend(std::coroutine_handle<P> h) const noexcept {
    std::coroutine_handle<> next = p->continuation_;
    h.destroy();
    return next;
  }
#endif
  void await_resume() const noexcept {}
};

[[noreturn]] void rethrow(const std::exception_ptr& e);
void destroy_exception(std::exception_ptr& e) noexcept;

// Where a task's outcome lands: inside its awaiter, in the awaiting coroutine's frame, so the
// task's own frame can go as soon as it finishes.
template <class T>
class result_slot {
 public:
  result_slot() noexcept {}
  result_slot(const result_slot&) = delete;
  ~result_slot() {
    if constexpr (!std::is_trivially_destructible_v<T>)
      if (state_ == state::value) value_.~T();
    if (state_ == state::exception) [[unlikely]]
      destroy_exception(error_);
  }
  template <class U>
  void set_value(U&& v) {
    new (&value_) T(std::forward<U>(v));
    state_ = state::value;
  }
  void set_exception(std::exception_ptr e) noexcept {
    new (&error_) std::exception_ptr(std::move(e));
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
class result_slot<void> {
 public:
  void set_exception(std::exception_ptr e) noexcept { error_ = std::move(e); }
  void take() {
    if (error_) [[unlikely]]
      rethrow(error_);
  }

 private:
  std::exception_ptr error_;
};

template <class T>
struct task_promise : promise_base {
  result_slot<T>* out_ = nullptr;
  template <class U>
  void return_value(U&& v) {
    out_->set_value(std::forward<U>(v));
  }
  void unhandled_exception() noexcept { out_->set_exception(std::current_exception()); }
};
template <>
struct task_promise<void> : promise_base {
  result_slot<void>* out_ = nullptr;
  void return_void() noexcept {}
  void unhandled_exception() noexcept { out_->set_exception(std::current_exception()); }
};

}  // namespace detail

template <class T = void>
class [[nodiscard]] task {
 public:
  using value_type = T;

  struct promise_type : detail::task_promise<T> {
    task get_return_object() noexcept {
      return task(std::coroutine_handle<promise_type>::from_promise(*this));
    }
    std::suspend_always initial_suspend() const noexcept { return {}; }
    detail::final_transfer final_suspend() noexcept { return {this}; }
  };
  using handle_type = std::coroutine_handle<promise_type>;

  // Awaiting a task starts it (see WEIR_TASK_SYMMETRIC). The outcome lands in the awaiter,
  // which owns the running task: destroying the awaiting frame destroys it.
  struct awaiter {
    // The awaited task's own awaits note where it suspends (see await_transform).
    static constexpr bool registry_transparent = true;
    handle_type h;
    detail::result_slot<T> out{};
#if WEIR_TASK_SYMMETRIC
    // The task object keeps the frame and destroys it (clang elides the frame of a task
    // created and awaited in one expression only when the task itself destroys it).
    awaiter(handle_type task) noexcept : h(task) {}
    awaiter(const awaiter&) = delete;
    bool await_ready() const noexcept { return false; }
    template <class P>
    std::coroutine_handle<> await_suspend(std::coroutine_handle<P> caller) noexcept {
      promise_type& p = h.promise();
      p.out_ = &out;
      p.continuation_ = caller;
      p.env_ = detail::env_of(caller);
      return h;
    }
    T await_resume() { return out.take(); }
#else
    detail::schedulable node{};  // only for a deferred start
    bool done = false;

    awaiter(handle_type task) noexcept : h(task) {}
    awaiter(const awaiter&) = delete;
    ~awaiter() {
      if (!done) h.destroy();  // the awaiting frame was destroyed while the task ran
    }
    bool await_ready() const noexcept { return false; }
    template <class P>
    bool await_suspend(std::coroutine_handle<P> caller) noexcept {
      h.promise().out_ = &out;
      return detail::start_child(h.promise(), h, caller, detail::env_of(caller),
                                 detail::depth_of(caller), node, done);
    }
    T await_resume() {
      done = true;  // finished either way: its frame is gone
      return out.take();
    }
#endif
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
    if (h_) h_.destroy();  // never started
  }

  bool valid() const noexcept { return static_cast<bool>(h_); }

  // Awaiting runs the task once. g++: the frame passes to the awaiter (it frees itself when it
  // finishes); clang: the task object keeps it and destroys it.
  awaiter operator co_await() & noexcept { return awaiter(take_for_await()); }
  awaiter operator co_await() && noexcept { return awaiter(take_for_await()); }

  // Internal: gives up the (not yet started) frame.
  handle_type release() noexcept { return std::exchange(h_, {}); }

 private:
  handle_type take_for_await() noexcept {
    assert(h_ && "awaiting an empty task");
#if WEIR_TASK_SYMMETRIC
    return h_;
#else
    return std::exchange(h_, {});
#endif
  }
  explicit task(handle_type h) noexcept : h_(h) {}
  handle_type h_;
};

namespace detail {
// Runs `t` on this thread with no runtime until it finishes (for benchmarks and sans-I/O
// tests whose awaits never suspend). Returns false if it suspended instead (then it is
// destroyed and `out` is unset).
template <class T>
T run_inline(task<T> t) {
  auto h = t.release();
  result_slot<T> out;
  bool done = false;
  h.promise().out_ = &out;
  h.promise().done_flag_ = &done;
  h.promise().continuation_ = std::noop_coroutine();
  h.resume();
#if WEIR_TASK_SYMMETRIC
  done = h.done();
  h.destroy();
  if (!done) throw std::logic_error("weir::detail::run_inline: the task suspended");
#else
  if (!done) {
    h.destroy();
    throw std::logic_error("weir::detail::run_inline: the task suspended");
  }
#endif
  return out.take();
}
}  // namespace detail

template <class T>
inline constexpr bool is_task_v = false;
template <class T>
inline constexpr bool is_task_v<task<T>> = true;

namespace detail {

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
  if constexpr (is_task_v<std::remove_cvref_t<A>>)
    return std::forward<A>(a);
  else
    return wrap_awaitable(std::forward<A>(a));
}
}  // namespace detail

}  // namespace weir
