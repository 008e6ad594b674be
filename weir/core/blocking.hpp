// weir::blocking — run blocking work off the shard (docs/architecture.md D8).
//
//   weir::result<addrinfo*> r = co_await weir::blocking(resolve, host);   // on a pool thread
//
// `fn(args...)` runs on the runtime's bounded thread pool (runtime_options::blocking_threads;
// jobs beyond it queue, in order, with no further threads). The task resumes on its own
// shard with fn's value (result<R>; result<void> for void) or rethrows fn's exception.
// Cancel-safe: cancellation while the job is still queued removes it and completes with the
// reason; once fn has started it runs to the end and its value is delivered (the work
// happened; cancellation cannot interrupt a blocking call). Destroyed while suspended:
// only at runtime shutdown, after the pool has finished its running jobs.
// Call from a task on a shard. The manual clock does not jump while a job is pending.
//
// g++ 12: `co_await blocking(fn, std::string(...))` can destroy the temporary awaiter's
// string twice (a compiler bug with prvalue awaiters holding such members); name the awaiter
// first: `auto job = blocking(fn, s); auto r = co_await std::move(job);`.
#pragma once

#include <weir/core/detail/blocking_pool.hpp>
#include <weir/core/detail/runtime_impl.hpp>
#include <weir/core/detail/waiter.hpp>
#include <weir/core/result.hpp>

#include <exception>
#include <functional>
#include <optional>
#include <tuple>
#include <type_traits>

namespace weir {

namespace detail {

template <class F, class... A>
class blocking_awaiter : blocking_job {
 public:
  using R = std::invoke_result_t<F&, A&...>;

  blocking_awaiter(F f, A... args) : fn_(std::move(f)), args_(std::move(args)...) {
    run = &execute;
  }
  blocking_awaiter(blocking_awaiter&& o) : fn_(std::move(o.fn_)), args_(std::move(o.args_)) {
    run = &execute;
  }

  bool await_ready() const noexcept { return false; }
  template <class P>
  bool await_suspend(std::coroutine_handle<P> h) {
    ec_ = w_.prepare(h, &on_cancel, this, wait_kind::blocking);
    if (ec_) return false;
    shard_ = tl_shard;
    shard_->external_begin();
    shard_->rt().pool().submit(this);
    return true;
  }
  result<R> await_resume() {
    w_.disarm();
    if (shard_) shard_->external_end();
    if (ec_) return unexpected(ec_);
    if (error_) std::rethrow_exception(error_);
    if constexpr (std::is_void_v<R>)
      return {};
    else
      return std::move(*value_);
  }

 private:
  static void execute(blocking_job* j) {
    auto* self = static_cast<blocking_awaiter*>(j);
    try {
      if constexpr (std::is_void_v<R>)
        std::apply(self->fn_, self->args_);
      else
        self->value_.emplace(std::apply(self->fn_, self->args_));
    } catch (...) {
      self->error_ = std::current_exception();
    }
    self->w_.wake();  // last touch
  }
  static void on_cancel(void* p, std::error_code reason) noexcept {
    auto* self = static_cast<blocking_awaiter*>(p);
    if (self->shard_->rt().pool().try_cancel(self)) {
      self->ec_ = reason;
      self->w_.wake();
    }
  }

  F fn_;
  std::tuple<A...> args_;
  std::optional<std::conditional_t<std::is_void_v<R>, char, R>> value_;
  std::exception_ptr error_;
  waiter w_;
  std::error_code ec_;
  shard* shard_ = nullptr;
};

}  // namespace detail

template <class F, class... A>
[[nodiscard]] detail::blocking_awaiter<std::decay_t<F>, std::decay_t<A>...> blocking(F&& fn,
                                                                                     A&&... args) {
  detail::require_shard("weir::blocking");
  return {std::forward<F>(fn), std::forward<A>(args)...};
}

}  // namespace weir
