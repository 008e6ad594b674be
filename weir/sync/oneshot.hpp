// weir::oneshot — one value, sent once, from any thread, to one waiting task.
//
//   auto [tx, rx] = weir::oneshot<reply>();
//   weir::spawn(compute(std::move(tx)));        // compute() calls tx.send(r) once
//   weir::result<reply> r = co_await std::move(rx);   // errc::closed if tx died unsent
//
// The channel-family face of weir::completion (completion.hpp): the same state, with
// errc::closed (not errc::lost_wakeup) when the sender is destroyed without sending.
// oneshot_sender::send(v) → bool (false when already sent or the receiver is gone); any
// thread. The receiver is awaited once; resumes on its own shard. Cancel-safe: cancellation
// completes the wait with the reason and the value, if sent later, is dropped. Destroyed
// while suspended: the state is released. Zero heap allocation once the frame pool is warm.
#pragma once

#include <weir/core/completion.hpp>

namespace weir {

template <class T>
class oneshot_sender {
 public:
  explicit oneshot_sender(detail::oneshot_state<T>* s) noexcept : src_(s) {}
  template <class U = T>
  bool send(U&& v) {
    return src_.fire(std::forward<U>(v));
  }
  bool valid() const noexcept { return src_.valid(); }

 private:
  completion_source<T> src_;
};

template <class T>
class [[nodiscard]] oneshot_receiver {
 public:
  explicit oneshot_receiver(detail::oneshot_state<T>* s) noexcept : done_(s) {}
  bool ready() const noexcept { return done_.ready(); }
  auto operator co_await() noexcept { return done_.operator co_await(); }

 private:
  completion<T> done_;
};

template <class T>
struct oneshot_pair {
  oneshot_sender<T> tx;
  oneshot_receiver<T> rx;
};

template <class T>
oneshot_pair<T> oneshot() {
  auto* s = new detail::oneshot_state<T>(errc::closed);
  return {oneshot_sender<T>(s), oneshot_receiver<T>(s)};
}

}  // namespace weir
