// weir::spawn — start a task of its own on the current shard; weir::join_handle<T> — its result.
//
//   weir::join_handle<int> h = weir::spawn(work(7), "worker");
//   weir::result<int> r = co_await h;        // or drop `h` to detach
//
// The spawned task gets its own cancel token (a root: it is not cancelled with its spawner;
// use weir::task_group for children that are). `name` must outlive the task (a string
// literal). The spawn site is recorded for the task registry.
//
// A detached task whose body throws reports the exception on stderr (never silently).
//
// join_handle: move-only; destroying it detaches the task. `co_await h` resumes on the
// awaiting shard once the task finished, with its value, or rethrows its exception.
// Cancel safety: cancelling the awaiting task stops the wait with errc::cancelled and
// leaves the spawned task running (call h.cancel() to stop it). h.cancel() makes the task's
// blocking awaits complete with errc::cancelled.
// Thread safety: a join_handle is used on the shard that spawned the task.
#pragma once

#include <weir/core/detail/shard.hpp>
#include <weir/core/detail/waiter.hpp>
#include <weir/core/result.hpp>
#include <weir/core/task.hpp>

#include <exception>
#include <optional>
#include <source_location>
#include <type_traits>

namespace weir {

namespace detail {

template <class T>
struct join_state : pooled {
  using stored = std::conditional_t<std::is_void_v<T>, char, T>;
  unsigned refs = 2;  // the task and the handle
  bool finished = false;
  std::optional<stored> value;
  std::exception_ptr error;
  waiter* joiner = nullptr;
  cancel_state* task_cancel = nullptr;  // while the task lives
  std::uint64_t task_id = 0;            // for the registry

  void release() noexcept {
    if (--refs == 0) delete this;
  }
  // The task ended (finished, or destroyed by runtime shutdown when !finished).
  void task_ended(bool done) noexcept {
    finished = done;
    task_cancel = nullptr;
    if (waiter* w = joiner) {
      joiner = nullptr;
      w->disarm();
      w->wake();
    }
    release();
  }
};

struct spawn_coro {
  struct promise_type : root_base {
    spawn_coro get_return_object() noexcept {
      return {std::coroutine_handle<promise_type>::from_promise(*this)};
    }
    std::suspend_always initial_suspend() const noexcept { return {}; }
    std::suspend_never final_suspend() const noexcept { return {}; }
    void return_void() noexcept {}
    void unhandled_exception() noexcept { std::terminate(); }
  };
  std::coroutine_handle<promise_type> h;
};

void report_detached_failure(const task_record& rec, std::exception_ptr e) noexcept;

template <class T>
struct join_guard {
  join_state<T>* js;
  bool done = false;
  ~join_guard() {
    if (js) js->task_ended(done);
  }
};

template <class T>
spawn_coro spawn_body(task<T> t, join_state<T>* js) {
  join_guard<T> guard{js};
  const task_env* env = co_await this_env{};
  try {
    if constexpr (std::is_void_v<T>) {
      co_await std::move(t);
      if (js) js->value.emplace(0);
    } else {
      if (js)
        js->value.emplace(co_await std::move(t));
      else
        (void)co_await std::move(t);
    }
  } catch (...) {
    if (js)
      js->error = std::current_exception();
    else
      report_detached_failure(*env->record, std::current_exception());
  }
  guard.done = true;
}

// Creates the root of a spawned task and hands it to the current shard.
template <class T>
join_state<T>* spawn_root(task<T> t, const char* name, std::source_location site, bool joinable) {
  shard& sh = require_shard("weir::spawn");
  join_state<T>* js = joinable ? new join_state<T>() : nullptr;
  auto coro = spawn_body(std::move(t), js);
  if (js) js->task_cancel = &coro.h.promise().cancel;
  sh.launch(coro.h.promise(), coro.h, name, site);
  if (js) js->task_id = coro.h.promise().record.id;
  return js;
}

}  // namespace detail

template <class T>
class [[nodiscard]] join_handle {
 public:
  join_handle() noexcept = default;
  explicit join_handle(detail::join_state<T>* s) noexcept : s_(s) {}
  join_handle(join_handle&& o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
  join_handle& operator=(join_handle&& o) noexcept {
    if (this != &o) {
      detach();
      s_ = std::exchange(o.s_, nullptr);
    }
    return *this;
  }
  ~join_handle() { detach(); }

  // Lets the task run on without a handle.
  void detach() noexcept {
    if (s_) std::exchange(s_, nullptr)->release();
  }
  // Requests cancellation of the task (errc::cancelled at its blocking awaits).
  void cancel() noexcept {
    if (s_ && s_->task_cancel) s_->task_cancel->cancel(errc::cancelled);
  }
  bool finished() const noexcept { return s_ && s_->finished; }
  bool valid() const noexcept { return s_ != nullptr; }

  struct awaiter {
    detail::join_state<T>* s;
    detail::waiter w;
    std::error_code ec;

    bool await_ready() const noexcept { return s->finished || !s->task_cancel; }
    template <class P>
    bool await_suspend(std::coroutine_handle<P> h) noexcept {
      ec = w.prepare(h, &on_cancel, this, detail::wait_kind::join,
                     static_cast<std::int64_t>(s->task_id));
      if (ec) return false;
      s->joiner = &w;
      return true;
    }
    result<T> await_resume() {
      w.disarm();
      if (ec) return unexpected(ec);
      if (!s->finished) return unexpected(errc::shutdown);
      if (s->error) std::rethrow_exception(s->error);
      if constexpr (std::is_void_v<T>)
        return {};
      else
        return std::move(*s->value);
    }
    static void on_cancel(void* self, std::error_code reason) noexcept {
      auto* a = static_cast<awaiter*>(self);
      a->s->joiner = nullptr;
      a->ec = reason;
      a->w.wake();
    }
  };
  awaiter operator co_await() noexcept { return awaiter{s_, {}, {}}; }

 private:
  detail::join_state<T>* s_ = nullptr;
};

template <class T>
join_handle<T> spawn(task<T> t, const char* name = "",
                     std::source_location site = std::source_location::current()) {
  return join_handle<T>(detail::spawn_root(std::move(t), name, site, true));
}

// Spawns without a handle (no join state is allocated).
template <class T>
void spawn_detached(task<T> t, const char* name = "",
                    std::source_location site = std::source_location::current()) {
  detail::spawn_root(std::move(t), name, site, false);
}

}  // namespace weir
