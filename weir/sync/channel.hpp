// weir::channel — a bounded multi-producer, single-consumer queue (DESIGN.md D6, D10).
//
//   auto [tx, rx] = weir::channel<job>(1024);                       // tasks of one shard
//   auto [tx, rx] = weir::channel<job>(1024, weir::cross_shard);    // senders anywhere
//
//   co_await tx.send(j);          // result<void>: waits while the channel is full
//   result<job> r = co_await rx.recv();   // waits while empty; errc::closed once every
//                                         // sender is gone and the buffer is drained
//
// Bounded: `send` waits for room (backpressure reaches the producer); `try_send` fails with
// errc::full instead. Senders are copyable (each copy is a producer); the channel closes for
// the receiver when the last one is destroyed. The receiver is move-only; destroying it (or
// `close()`) makes every pending and future send fail with errc::closed; `close()` keeps the
// buffered messages receivable. Waiting senders are served in FIFO order; a value handed to a
// waiting receiver never passes through the buffer.
//
// Modes: `local` (default) is for tasks of one shard and uses no atomics on any path.
// `cross_shard` lets senders live on any shard (or thread) and wakes the receiver on its
// own shard; its critical sections are a few instructions under a spinlock.
//
// Awaitables (send, recv): resume on the awaiting task's shard. Cancel-safe: cancellation
// while waiting completes with the reason (errc::cancelled / errc::timed_out); a cancelled
// send did not enqueue its value, a cancelled recv took nothing — unless the other side
// completed the operation first, in which case the operation's outcome is returned (exactly
// one outcome). Destroyed while suspended: the waiter is unhooked, the value of a pending
// send is dropped. Either completes without suspending when it can, subject to the
// cooperative budget (then the task yields once after completing).
#pragma once

#include <weir/core/detail/ilist.hpp>
#include <weir/core/detail/waiter.hpp>
#include <weir/core/result.hpp>
#include <weir/sync/detail/spinlock.hpp>

#include <atomic>
#include <cassert>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <utility>

namespace weir {

enum class channel_mode { local, cross_shard };
inline constexpr channel_mode cross_shard = channel_mode::cross_shard;

template <class T>
class sender;
template <class T>
class receiver;

namespace detail {

template <class T>
class channel_state {
 public:
  struct recv_waiter {
    std::optional<T>* slot;
    std::error_code* ec;
    waiter* w;
  };
  struct send_node : ilist_node {
    T* value;
    std::error_code* ec;
    waiter* w;
    send_node* next_failed;  // close_rx's wake list
  };

  channel_state(std::size_t cap, channel_mode mode)
      : lock_(mode == channel_mode::cross_shard),
        cap_(cap),
        buf_(std::make_unique<std::optional<T>[]>(cap)) {
    if (cap == 0) throw std::invalid_argument("weir::channel: capacity must be at least 1");
  }

  void add_ref() noexcept { refs_.fetch_add(1, std::memory_order_relaxed); }
  void release() noexcept {
    if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
  }

  // --- senders ------------------------------------------------------------------------
  enum class push_outcome { done, full, closed };

  // Pushes `v` (moved from only on success); hands it to a waiting receiver directly.
  push_outcome try_push(T& v) {
    waiter* wake = nullptr;
    {
      std::lock_guard lk(lock_);
      if (rx_closed_) return push_outcome::closed;
      if (rx_) {
        rx_->slot->emplace(std::move(v));
        wake = rx_->w;
        rx_ = nullptr;
      } else if (size_ == cap_) {
        return push_outcome::full;
      } else {
        buf_[(head_ + size_) % cap_].emplace(std::move(v));
        ++size_;
      }
    }
    if (wake) wake->wake();
    return push_outcome::done;
  }
  // Under the lock: queue a send that found the channel full (false: not full any more).
  push_outcome push_or_wait(T& v, send_node* n) {
    waiter* wake = nullptr;
    {
      std::lock_guard lk(lock_);
      if (rx_closed_) return push_outcome::closed;
      if (rx_) {
        rx_->slot->emplace(std::move(v));
        wake = rx_->w;
        rx_ = nullptr;
      } else if (size_ < cap_) {
        buf_[(head_ + size_) % cap_].emplace(std::move(v));
        ++size_;
      } else {
        senders_waiting_.push_back(n);
        return push_outcome::full;
      }
    }
    if (wake) wake->wake();
    return push_outcome::done;
  }
  // Withdraws a queued send; false when the receiver already took its value.
  bool withdraw(send_node* n) noexcept {
    std::lock_guard lk(lock_);
    if (!n->linked()) return false;
    n->unlink();
    return true;
  }
  void add_sender() noexcept {
    std::lock_guard lk(lock_);
    ++senders_;
  }
  void drop_sender() noexcept {
    waiter* wake = nullptr;
    {
      std::lock_guard lk(lock_);
      if (--senders_ == 0 && rx_) {
        *rx_->ec = errc::closed;
        wake = rx_->w;
        rx_ = nullptr;
      }
    }
    if (wake) wake->wake();
  }

  // --- receiver -------------------------------------------------------------------------
  enum class pop_outcome { done, empty, closed };

  // Takes the oldest value into `out`; refills the buffer from the first waiting sender.
  pop_outcome try_pop(std::optional<T>& out) {
    waiter* wake = nullptr;
    {
      std::lock_guard lk(lock_);
      if (size_ == 0) return senders_ == 0 ? pop_outcome::closed : pop_outcome::empty;
      take_locked(out, wake);
    }
    if (wake) wake->wake();
    return pop_outcome::done;
  }
  // Like try_pop, but registers `r` as the waiting receiver when empty.
  pop_outcome pop_or_wait(std::optional<T>& out, recv_waiter* r) {
    waiter* wake = nullptr;
    {
      std::lock_guard lk(lock_);
      if (size_ == 0) {
        if (senders_ == 0) return pop_outcome::closed;
        rx_ = r;
        return pop_outcome::empty;
      }
      take_locked(out, wake);
    }
    if (wake) wake->wake();
    return pop_outcome::done;
  }
  // Withdraws the waiting receiver; false when a sender already completed it.
  bool withdraw(recv_waiter* r) noexcept {
    std::lock_guard lk(lock_);
    if (rx_ != r) return false;
    rx_ = nullptr;
    return true;
  }
  // Receiver closed or gone: pending and future sends fail.
  void close_rx(bool discard) {
    // Unhook every waiting send under the lock (so a racing cancellation finds nothing),
    // then wake them outside it.
    send_node* failed = nullptr;
    {
      std::lock_guard lk(lock_);
      rx_closed_ = true;
      while (ilist_node* n = senders_waiting_.pop_front()) {
        auto* s = static_cast<send_node*>(n);
        *s->ec = errc::closed;
        s->next_failed = failed;
        failed = s;
      }
      if (discard) {
        for (std::size_t i = 0; i < size_; ++i) buf_[(head_ + i) % cap_].reset();
        size_ = 0;
      }
    }
    while (failed) {
      send_node* next = failed->next_failed;
      failed->w->wake();
      failed = next;
    }
  }

  std::size_t size() const noexcept {
    std::lock_guard lk(lock_);
    return size_;
  }
  std::size_t capacity() const noexcept { return cap_; }
  bool cross() const noexcept { return lock_.enabled(); }

 private:
  void take_locked(std::optional<T>& out, waiter*& wake) {
    out.emplace(std::move(*buf_[head_]));
    buf_[head_].reset();
    head_ = (head_ + 1) % cap_;
    --size_;
    if (ilist_node* n = senders_waiting_.pop_front()) {
      auto* s = static_cast<send_node*>(n);
      buf_[(head_ + size_) % cap_].emplace(std::move(*s->value));
      ++size_;
      wake = s->w;
    }
  }

  mutable maybe_spinlock lock_;
  std::atomic<int> refs_{2};
  std::size_t cap_;
  std::size_t head_ = 0, size_ = 0;
  std::unique_ptr<std::optional<T>[]> buf_;
  ilist senders_waiting_;
  recv_waiter* rx_ = nullptr;
  unsigned senders_ = 1;
  bool rx_closed_ = false;
};

}  // namespace detail

template <class T>
class sender {
 public:
  explicit sender(detail::channel_state<T>* s) noexcept : s_(s) {}
  sender(const sender& o) noexcept : s_(o.s_) {
    if (s_) {
      s_->add_ref();
      s_->add_sender();
    }
  }
  sender(sender&& o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
  sender& operator=(sender o) noexcept {
    std::swap(s_, o.s_);
    return *this;
  }
  ~sender() {
    if (s_) {
      s_->drop_sender();
      s_->release();
    }
  }

  class send_awaiter {
   public:
    send_awaiter(detail::channel_state<T>* s, T v) : s_(s), value_(std::move(v)) {}
    send_awaiter(send_awaiter&& o) : s_(o.s_), value_(std::move(o.value_)) {}
    ~send_awaiter() {
      if (queued_) s_->withdraw(&node_);
    }

    bool await_ready() {
      switch (s_->try_push(value_)) {
        case detail::channel_state<T>::push_outcome::done:
          if (detail::tl_shard->coop_proceed()) return true;
          yield_ = true;
          return false;
        case detail::channel_state<T>::push_outcome::closed: ec_ = errc::closed; return true;
        default: return false;
      }
    }
    template <class P>
    bool await_suspend(std::coroutine_handle<P> h) {
      if (yield_) {
        detail::yield_to_back(w_.sched, h);
        return true;
      }
      ec_ = w_.prepare(h, &on_cancel, this, detail::wait_kind::channel_send,
                       static_cast<std::int64_t>(s_->capacity()));
      if (ec_) return false;
      node_.value = &value_;
      node_.ec = &ec_;
      node_.w = &w_;
      switch (s_->push_or_wait(value_, &node_)) {
        case detail::channel_state<T>::push_outcome::full: queued_ = true; return true;
        case detail::channel_state<T>::push_outcome::closed: ec_ = errc::closed; return false;
        default: return false;
      }
    }
    result<void> await_resume() noexcept {
      w_.disarm();
      queued_ = false;
      if (ec_) return unexpected(ec_);
      return {};
    }

   private:
    static void on_cancel(void* p, std::error_code reason) noexcept {
      auto* a = static_cast<send_awaiter*>(p);
      if (a->s_->withdraw(&a->node_)) {
        a->ec_ = reason;
        a->w_.wake();
      }
    }
    detail::channel_state<T>* s_;
    T value_;
    typename detail::channel_state<T>::send_node node_{};
    detail::waiter w_;
    std::error_code ec_;
    bool yield_ = false;
    bool queued_ = false;
  };

  // Waits for room, then enqueues `v`. errc::closed when the receiver is gone.
  [[nodiscard]] send_awaiter send(T v) { return send_awaiter(s_, std::move(v)); }
  // Enqueues without waiting; errc::full or errc::closed otherwise (`v` is then untouched).
  result<void> try_send(T&& v) {
    switch (s_->try_push(v)) {
      case detail::channel_state<T>::push_outcome::done: return {};
      case detail::channel_state<T>::push_outcome::full: return unexpected(errc::full);
      default: return unexpected(errc::closed);
    }
  }
  result<void> try_send(const T& v) {
    T copy(v);
    return try_send(std::move(copy));
  }
  std::size_t size() const noexcept { return s_->size(); }
  std::size_t capacity() const noexcept { return s_->capacity(); }

 private:
  detail::channel_state<T>* s_;
};

template <class T>
class receiver {
 public:
  explicit receiver(detail::channel_state<T>* s) noexcept : s_(s) {}
  receiver(receiver&& o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
  receiver& operator=(receiver&& o) noexcept {
    if (this != &o) {
      reset();
      s_ = std::exchange(o.s_, nullptr);
    }
    return *this;
  }
  receiver(const receiver&) = delete;
  ~receiver() { reset(); }

  class recv_awaiter {
   public:
    explicit recv_awaiter(detail::channel_state<T>* s) noexcept : s_(s) {}
    recv_awaiter(recv_awaiter&& o) noexcept : s_(o.s_) {}
    ~recv_awaiter() {
      if (waiting_) s_->withdraw(&rw_);
    }

    bool await_ready() {
      switch (s_->try_pop(value_)) {
        case detail::channel_state<T>::pop_outcome::done:
          if (detail::tl_shard->coop_proceed()) return true;
          yield_ = true;
          return false;
        case detail::channel_state<T>::pop_outcome::closed: ec_ = errc::closed; return true;
        default: return false;
      }
    }
    template <class P>
    bool await_suspend(std::coroutine_handle<P> h) {
      if (yield_) {
        detail::yield_to_back(w_.sched, h);
        return true;
      }
      ec_ = w_.prepare(h, &on_cancel, this, detail::wait_kind::channel_recv,
                       static_cast<std::int64_t>(s_->capacity()));
      if (ec_) return false;
      rw_ = {&value_, &ec_, &w_};
      switch (s_->pop_or_wait(value_, &rw_)) {
        case detail::channel_state<T>::pop_outcome::empty: waiting_ = true; return true;
        case detail::channel_state<T>::pop_outcome::closed: ec_ = errc::closed; return false;
        default: return false;
      }
    }
    result<T> await_resume() {
      w_.disarm();
      waiting_ = false;
      if (value_) return std::move(*value_);
      return unexpected(ec_ ? ec_ : std::error_code(errc::closed));
    }

   private:
    static void on_cancel(void* p, std::error_code reason) noexcept {
      auto* a = static_cast<recv_awaiter*>(p);
      if (a->s_->withdraw(&a->rw_)) {
        a->ec_ = reason;
        a->w_.wake();
      }
    }
    detail::channel_state<T>* s_;
    std::optional<T> value_;
    typename detail::channel_state<T>::recv_waiter rw_{};
    detail::waiter w_;
    std::error_code ec_;
    bool yield_ = false;
    bool waiting_ = false;
  };

  // Waits for a value; errc::closed when every sender is gone and the buffer is empty.
  [[nodiscard]] recv_awaiter recv() noexcept { return recv_awaiter(s_); }
  // errc::empty or errc::closed when no value is ready.
  result<T> try_recv() {
    std::optional<T> v;
    switch (s_->try_pop(v)) {
      case detail::channel_state<T>::pop_outcome::done: return std::move(*v);
      case detail::channel_state<T>::pop_outcome::empty: return unexpected(errc::empty);
      default: return unexpected(errc::closed);
    }
  }
  // Refuses further sends (pending ones fail with errc::closed); buffered values remain.
  void close() { s_->close_rx(false); }
  std::size_t size() const noexcept { return s_->size(); }
  std::size_t capacity() const noexcept { return s_->capacity(); }

 private:
  void reset() noexcept {
    if (s_) {
      s_->close_rx(true);
      std::exchange(s_, nullptr)->release();
    }
  }
  detail::channel_state<T>* s_;
};

template <class T>
struct channel_pair {
  sender<T> tx;
  receiver<T> rx;
};

template <class T>
channel_pair<T> channel(std::size_t capacity, channel_mode mode = channel_mode::local) {
  auto* s = new detail::channel_state<T>(capacity, mode);
  return {sender<T>(s), receiver<T>(s)};
}

}  // namespace weir
