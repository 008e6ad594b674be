// weir::on_shard — run work on another shard and get its result back (docs/architecture.md D2).
//
//   int n = co_await weir::on_shard(1, count_keys, prefix);   // count_keys runs on shard 1
//
// `fn(args...)` is invoked on shard `k` as a task of that shard (named "on_shard"); if it
// returns a task<V>, that task is awaited there. The caller resumes on its own shard with
// the value, or the exception rethrown. Arguments are moved into the caller's frame and
// used from shard k while the caller waits: pass values, not references to shard-local
// state.
// Requests travel through the bounded SPSC mailbox from the caller's shard to shard k; when
// it is full the caller waits for room (FIFO among the shard's callers), it never grows.
// On the caller's own shard, fn runs inline.
// Not cancellable once sent: the caller waits for the remote work to finish (give the remote
// work its own deadline). Destroyed while suspended: only at runtime shutdown.
#pragma once

#include <weir/core/detail/mailbox.hpp>
#include <weir/core/detail/runtime_impl.hpp>
#include <weir/core/detail/waiter.hpp>
#include <weir/core/spawn.hpp>
#include <weir/core/task.hpp>

#include <exception>
#include <optional>
#include <stdexcept>
#include <tuple>
#include <type_traits>

namespace weir {

namespace detail {

template <class U>
struct unwrap_task {
  using type = U;
};
template <class V>
struct unwrap_task<task<V>> {
  using type = V;
};

template <class F, class... A>
using on_shard_result_t = typename unwrap_task<std::invoke_result_t<F&, A&&...>>::type;

template <class R>
struct remote_call : remote_request {
  std::optional<std::conditional_t<std::is_void_v<R>, char, R>> value;
  std::exception_ptr error;
  waiter reply;
};

template <class F, class... A>
task<> remote_body(remote_call<on_shard_result_t<F, A...>>* call, F* fn, std::tuple<A...>* args) {
  using U = std::invoke_result_t<F&, A&&...>;
  try {
    // The arguments are moved into the call (it happens once).
    if constexpr (is_task_v<U>) {
      if constexpr (std::is_void_v<typename U::value_type>) {
        co_await std::apply(*fn, std::move(*args));
        call->value.emplace(0);
      } else {
        call->value.emplace(co_await std::apply(*fn, std::move(*args)));
      }
    } else if constexpr (std::is_void_v<U>) {
      std::apply(*fn, std::move(*args));
      call->value.emplace(0);
    } else {
      call->value.emplace(std::apply(*fn, std::move(*args)));
    }
  } catch (...) {
    call->error = std::current_exception();
  }
  call->reply.wake();  // last touch: the caller may resume and free `call` at once
}

// Pushes the request (binding the reply first: the target may answer before we suspend).
// Resumes with true when the reply arrived, false when woken for mailbox room (retry).
struct remote_submit {
  remote_request* req;
  waiter* reply;
  mailbox* box;
  shard* target;
  mailbox_waiter room{};
  bool pushed = false;

  bool await_ready() const noexcept { return false; }
  template <class P>
  bool await_suspend(std::coroutine_handle<P> h) noexcept {
    reply->bind(h, wait_kind::shard_call, static_cast<std::int64_t>(box->to));
    if (box->try_push(req)) {
      pushed = true;
      target->unpark();
      return true;
    }
    // Full: wait for the consumer to signal room (Dekker with drain_mailboxes).
    room.sched.handle = h;
    room.sched.owner = tl_shard;
    room.sched.env = env_of(h);
    note_wait(room.sched.env, wait_kind::mailbox_full, static_cast<std::int64_t>(box->to));
    box->waiters.push_back(&room);
    box->producer_waiting.store(true, std::memory_order_seq_cst);
    ++tl_shard->stats_mut().mailbox_full_waits;
    if (box->try_push(req)) {
      room.unlink();
      pushed = true;
      target->unpark();
    }
    return true;
  }
  bool await_resume() noexcept {
    room.unlink();
    return pushed;
  }
};

}  // namespace detail

template <class F, class... A>
task<detail::on_shard_result_t<std::decay_t<F>, std::decay_t<A>...>> on_shard(unsigned k, F fn,
                                                                              A... args) {
  using R = detail::on_shard_result_t<F, A...>;
  detail::shard& here = detail::require_shard("weir::on_shard");
  auto& rt = here.rt();
  if (k >= rt.size())
    throw std::out_of_range("weir::on_shard: no shard " + std::to_string(k) + " (runtime has " +
                            std::to_string(rt.size()) + ")");
  std::tuple<A...> tup(std::move(args)...);
  if (k == here.id()) {
    using U = std::invoke_result_t<F&, A&&...>;
    if constexpr (is_task_v<U>)
      co_return co_await std::apply(fn, std::move(tup));
    else
      co_return std::apply(fn, std::move(tup));
  } else {
    struct call_t : detail::remote_call<R> {
      F* fn;
      std::tuple<A...>* args;
    } call;
    call.fn = &fn;
    call.args = &tup;
    call.run = [](detail::remote_request* r) {
      auto* c = static_cast<call_t*>(r);
      spawn_detached(detail::remote_body<F, A...>(c, c->fn, c->args), "on_shard");
    };
    detail::remote_submit submit{&call, &call.reply, &rt.box(here.id(), k), &rt.at(k)};
    while (!co_await submit) submit.pushed = false;
    if (call.error) std::rethrow_exception(call.error);
    if constexpr (!std::is_void_v<R>) co_return std::move(*call.value);
  }
}

}  // namespace weir
