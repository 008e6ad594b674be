// weir::broadcast — every receiver gets every message (docs/architecture.md D6, D10), bounded.
//
//   auto [tx, rx] = weir::broadcast<config>(16);                    // one shard
//   auto [tx, rx] = weir::broadcast<config>(16, weir::cross_shard); // receivers anywhere
//   auto rx2 = tx.subscribe();              // a new receiver: messages sent from now on
//   tx.send(cfg);                           // result<size_t>: receivers it reached
//   weir::result<config> r = co_await rx.recv();
//   if (!r && r.error() == weir::errc::lagged) log(rx.missed());   // then recv goes on
//
// The channel keeps the last `capacity` messages. `send` never waits: a receiver that falls
// more than `capacity` behind loses the oldest messages, and its next recv() reports
// errc::lagged once, with `missed()` telling how many it lost; the following recv() continues
// with the oldest message still kept. Nothing is lost silently. `send` fails with errc::closed
// when no receiver exists. When every sender is gone, receivers drain what they have not seen
// and then get errc::closed. T is copied to each receiver.
//
// recv: resumes on the receiving task's shard. Cancel-safe: a cancelled recv consumed nothing.
// Destroyed while suspended: the waiter is unhooked. Completes at once when a message is
// ready, subject to the cooperative budget. Senders are copyable; `local` mode is for tasks
// of one shard (no atomics); `cross_shard` lets senders and receivers live on any shard.
#pragma once

#include <weir/core/detail/ilist.hpp>
#include <weir/core/detail/waiter.hpp>
#include <weir/core/result.hpp>
#include <weir/sync/channel.hpp>
#include <weir/sync/detail/spinlock.hpp>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <utility>

namespace weir {

namespace detail {

template <class T>
class broadcast_state {
 public:
  struct wait_node : ilist_node {
    waiter* w;
    wait_node* next_woken;
  };
  enum class take_outcome { value, lagged, empty, closed };

  broadcast_state(std::size_t cap, channel_mode mode)
      : lock_(mode == channel_mode::cross_shard), cap_(cap) {
    if (cap == 0) throw std::invalid_argument("weir::broadcast: capacity must be at least 1");
    slots_ = std::make_unique<std::optional<T>[]>(cap);
  }

  void add_ref() noexcept { refs_.fetch_add(1, std::memory_order_relaxed); }
  void release() noexcept {
    if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
  }

  // Returns the receivers reached, or nullopt when there are none.
  template <class U>
  std::optional<std::size_t> send(U&& v) {
    wait_node* woken = nullptr;
    std::size_t reached;
    {
      std::lock_guard lk(lock_);
      if (receivers_ == 0) return std::nullopt;
      slots_[tail_ % cap_].emplace(std::forward<U>(v));
      ++tail_;
      reached = receivers_;
      woken = unhook_all_locked();
    }
    wake_all(woken);
    return reached;
  }
  void add_sender() noexcept {
    std::lock_guard lk(lock_);
    ++senders_;
  }
  void drop_sender() noexcept {
    wait_node* woken = nullptr;
    {
      std::lock_guard lk(lock_);
      if (--senders_ == 0) woken = unhook_all_locked();
    }
    wake_all(woken);
  }
  // A new receiver starts at the next message.
  std::uint64_t add_receiver() noexcept {
    std::lock_guard lk(lock_);
    ++receivers_;
    return tail_;
  }
  void drop_receiver() noexcept {
    std::lock_guard lk(lock_);
    --receivers_;
  }

  // Takes the message at `cursor` (advancing it), or reports a lag (moving the cursor to the
  // oldest kept message) — or, with `wait` set, registers it as waiting when empty.
  take_outcome take(std::uint64_t& cursor, std::optional<T>& out, std::uint64_t& missed,
                    wait_node* wait) {
    std::lock_guard lk(lock_);
    if (cursor < tail_) {
      if (tail_ - cursor > cap_) {
        missed = tail_ - cap_ - cursor;
        cursor = tail_ - cap_;
        return take_outcome::lagged;
      }
      out.emplace(*slots_[cursor % cap_]);
      ++cursor;
      return take_outcome::value;
    }
    if (senders_ == 0) return take_outcome::closed;
    if (wait) waiters_.push_back(wait);
    return take_outcome::empty;
  }
  // Unhooks a waiting receiver; false when a send already woke it.
  bool withdraw(wait_node* n) noexcept {
    std::lock_guard lk(lock_);
    if (!n->linked()) return false;
    n->unlink();
    return true;
  }
  std::size_t capacity() const noexcept { return cap_; }

 private:
  wait_node* unhook_all_locked() noexcept {
    wait_node* chain = nullptr;
    while (ilist_node* n = waiters_.pop_front()) {
      auto* w = static_cast<wait_node*>(n);
      w->next_woken = chain;
      chain = w;
    }
    return chain;
  }
  static void wake_all(wait_node* chain) noexcept {
    while (chain) {
      wait_node* next = chain->next_woken;
      chain->w->wake();  // last touch of this node
      chain = next;
    }
  }

  mutable maybe_spinlock lock_;
  std::atomic<int> refs_{2};
  const std::size_t cap_;
  std::unique_ptr<std::optional<T>[]> slots_;
  std::uint64_t tail_ = 0;  // sequence number of the next message
  unsigned senders_ = 1;
  unsigned receivers_ = 1;
  ilist waiters_;
};

}  // namespace detail

template <class T>
class broadcast_receiver;

template <class T>
class broadcast_sender {
 public:
  explicit broadcast_sender(detail::broadcast_state<T>* s) noexcept : s_(s) {}
  broadcast_sender(const broadcast_sender& o) noexcept : s_(o.s_) {
    s_->add_ref();
    s_->add_sender();
  }
  broadcast_sender(broadcast_sender&& o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
  broadcast_sender& operator=(broadcast_sender o) noexcept {
    std::swap(s_, o.s_);
    return *this;
  }
  ~broadcast_sender() {
    if (s_) {
      s_->drop_sender();
      s_->release();
    }
  }

  // Keeps `v` for every receiver; the number reached, or errc::closed when there is none.
  template <class U = T>
  result<std::size_t> send(U&& v) {
    auto n = s_->send(std::forward<U>(v));
    if (!n) return unexpected(errc::closed);
    return *n;
  }
  // A new receiver that sees the messages sent from now on.
  broadcast_receiver<T> subscribe() {
    s_->add_ref();
    return broadcast_receiver<T>(s_, s_->add_receiver());
  }

 private:
  detail::broadcast_state<T>* s_;
};

template <class T>
class broadcast_receiver {
 public:
  broadcast_receiver(detail::broadcast_state<T>* s, std::uint64_t cursor) noexcept
      : s_(s), cursor_(cursor) {}
  broadcast_receiver(broadcast_receiver&& o) noexcept
      : s_(std::exchange(o.s_, nullptr)), cursor_(o.cursor_), missed_(o.missed_) {}
  broadcast_receiver(const broadcast_receiver&) = delete;
  broadcast_receiver& operator=(const broadcast_receiver&) = delete;
  ~broadcast_receiver() {
    if (s_) {
      s_->drop_receiver();
      s_->release();
    }
  }

  // How many messages the last errc::lagged reported as lost.
  std::uint64_t missed() const noexcept { return missed_; }

  class recv_awaiter {
    using state = detail::broadcast_state<T>;

   public:
    explicit recv_awaiter(broadcast_receiver* r) noexcept : r_(r) {}
    recv_awaiter(recv_awaiter&& o) noexcept : r_(o.r_) {}
    ~recv_awaiter() {
      if (waiting_) r_->s_->withdraw(&node_);
    }
    bool await_ready() {
      outcome_ = r_->s_->take(r_->cursor_, value_, r_->missed_, nullptr);
      if (outcome_ == state::take_outcome::empty) return false;
      if (detail::tl_shard->coop_proceed()) return true;
      yield_ = true;
      return false;
    }
    template <class P>
    bool await_suspend(std::coroutine_handle<P> h) {
      if (yield_) {
        detail::yield_to_back(w_.sched, h);
        return true;
      }
      ec_ = w_.prepare(h, &on_cancel, this, detail::wait_kind::broadcast);
      if (ec_) return false;
      node_.w = &w_;
      outcome_ = r_->s_->take(r_->cursor_, value_, r_->missed_, &node_);
      waiting_ = outcome_ == state::take_outcome::empty;
      return waiting_;
    }
    result<T> await_resume() {
      w_.disarm();
      if (ec_) return unexpected(ec_);
      if (waiting_) {  // woken by a send or the last sender leaving: look again
        waiting_ = false;
        outcome_ = r_->s_->take(r_->cursor_, value_, r_->missed_, nullptr);
      }
      switch (outcome_) {
        case state::take_outcome::value: return std::move(*value_);
        case state::take_outcome::lagged: return unexpected(errc::lagged);
        default: return unexpected(errc::closed);
      }
    }

   private:
    static void on_cancel(void* p, std::error_code reason) noexcept {
      auto* a = static_cast<recv_awaiter*>(p);
      if (a->r_->s_->withdraw(&a->node_)) {
        a->waiting_ = false;
        a->ec_ = reason;
        a->w_.wake();
      }
    }
    broadcast_receiver* r_;
    std::optional<T> value_;
    typename state::take_outcome outcome_ = state::take_outcome::empty;
    typename state::wait_node node_{};
    detail::waiter w_;
    std::error_code ec_;
    bool yield_ = false;
    bool waiting_ = false;
  };

  // The next message; errc::lagged (see missed()) or errc::closed otherwise.
  [[nodiscard]] recv_awaiter recv() noexcept { return recv_awaiter(this); }
  // Without waiting: errc::empty when nothing new has arrived.
  result<T> try_recv() {
    std::optional<T> v;
    switch (s_->take(cursor_, v, missed_, nullptr)) {
      case detail::broadcast_state<T>::take_outcome::value: return std::move(*v);
      case detail::broadcast_state<T>::take_outcome::lagged: return unexpected(errc::lagged);
      case detail::broadcast_state<T>::take_outcome::empty: return unexpected(errc::empty);
      default: return unexpected(errc::closed);
    }
  }

 private:
  detail::broadcast_state<T>* s_;
  std::uint64_t cursor_;
  std::uint64_t missed_ = 0;
};

template <class T>
struct broadcast_pair {
  broadcast_sender<T> tx;
  broadcast_receiver<T> rx;
};

template <class T>
broadcast_pair<T> broadcast(std::size_t capacity, channel_mode mode = channel_mode::local) {
  auto* s = new detail::broadcast_state<T>(capacity, mode);
  return {broadcast_sender<T>(s), broadcast_receiver<T>(s, 0)};
}

}  // namespace weir
