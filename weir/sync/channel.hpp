// weir::channel — a bounded multi-producer, single-consumer queue (docs/architecture.md D6, D10).
//
//   auto [tx, rx] = weir::channel<job>(1024);                       // tasks of one shard
//   auto [tx, rx] = weir::channel<job>(1024, weir::cross_shard);    // senders anywhere
//
//   co_await tx.send(j);          // send_result<job>: waits while the channel is full
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
// A failed send hands its value back, as Tokio's SendError<T>: `send` and `try_send` return a
// weir::send_result<T>, which reads like result<void> (`if (!r)`, `r.error()`,
// `r.error() == errc::closed`) and, when the send failed (errc::closed, errc::full for
// try_send, errc::timed_out, errc::cancelled, ...), holds the value that was not sent:
// `r.take_value()`. A log forwarder never loses a line because a send failed:
//
//   auto r = co_await weir::with_timeout(1s, tx.send(std::move(line)));  // send_result<line>
//   if (!r) spill.push_back(r.take_value());  // not sent: the line is still ours
//
// try_send(v) consumes `v` either way: it is queued, or it comes back in the result.
// with_deadline / with_timeout pass a send's send_result through as it is.
//
// Modes: `local` (default) is for tasks of one shard and uses no atomics on any path.
// `cross_shard` lets senders live on any shard (or thread) and wakes the receiver on its
// own shard; its critical sections are a few instructions under a spinlock.
//
// Awaitables (send, recv): resume on the awaiting task's shard. Cancel-safe: cancellation
// while waiting completes with the reason (errc::cancelled / errc::timed_out); a cancelled
// send did not enqueue its value, a cancelled recv took nothing — unless the other side
// completed the operation first, in which case the operation's outcome is returned (exactly
// one outcome); a send that did not enqueue its value hands it back in its send_result.
// Destroyed while suspended: the waiter is unhooked, the value of a pending send is dropped.
// Either completes without suspending when it can, subject to the cooperative budget (then the
// task yields once after completing). Call send on a live sender and recv on the receiver, from
// a task (of the channel's shard in `local` mode); the awaiters may be moved before they are
// awaited (into with_timeout), not after. Both are built on detail::wait_node
// (detail/wait_queue.hpp) with one shared await protocol, channel_awaiter below.
#pragma once

#include <weir/core/detail/ilist.hpp>
#include <weir/core/detail/shard.hpp>
#include <weir/core/detail/waiter.hpp>
#include <weir/core/result.hpp>
#include <weir/core/time.hpp>
#include <weir/sync/detail/spinlock.hpp>
#include <weir/sync/detail/wait_queue.hpp>

#include <atomic>
#include <cassert>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <system_error>
#include <type_traits>
#include <utility>

namespace weir {

enum class channel_mode { local, cross_shard };
inline constexpr channel_mode cross_shard = channel_mode::cross_shard;

template <class T>
class sender;
template <class T>
class receiver;

// The outcome of sender<T>::send and try_send: success, or why not plus the value that was not
// sent, handed back (Tokio's SendError<T> / TrySendError<T>). Reads like result<void>.
template <class T>
class [[nodiscard]] send_result {
 public:
  // Sent.
  send_result() noexcept = default;
  // Not sent: why, and the value, which the caller gets back.
  send_result(unexpected why, T&& unsent)
      : status_(std::move(why)), unsent_(std::in_place, std::move(unsent)) {}

  // True when the value was sent.
  bool has_value() const noexcept { return status_.has_value(); }
  explicit operator bool() const noexcept { return status_.has_value(); }
  // Why the send failed (errc::closed, errc::full, errc::timed_out, errc::cancelled, ...);
  // empty after a success.
  decltype(auto) error() const& { return status_.error(); }
  // As result<void>::value(): throws (std::system_error) when the send failed.
  void value() const { status_.value(); }

  // The value that was not sent, moved out to the caller. Only after a failure, and once:
  // throws std::logic_error otherwise (a sent value belongs to the channel).
  T take_value() {
    if (!unsent_)
      throw std::logic_error("weir::send_result::take_value: no value (sent, or already taken)");
    T v(std::move(*unsent_));
    unsent_.reset();
    return v;
  }
  // The value that was not sent, in place; null after a success or take_value().
  T* unsent() noexcept { return unsent_ ? std::addressof(*unsent_) : nullptr; }
  const T* unsent() const noexcept { return unsent_ ? std::addressof(*unsent_) : nullptr; }

  // The outcome alone, for code written against result<void> (the unsent value stays here).
  operator result<void>() const& { return status_; }  // NOLINT: implicit, as result<void>
  operator result<void>() && { return std::move(status_); }

 private:
  result<void> status_;
  std::optional<T> unsent_;
};

namespace detail {

// with_deadline / with_timeout return a send's own send_result (value included), not a
// result<send_result<T>>: a send that timed out hands its value back like any failed send.
template <class T>
struct as_result<send_result<T>> {
  using type = send_result<T>;
};

enum class channel_op { done, wait, closed };  // wait: full (send) / empty (recv)

// A send waiting for room; the value lives here until the receiver takes it.
template <class T>
struct send_node : wait_node {
  static constexpr wait_kind kind = wait_kind::channel_send;
  explicit send_node(T&& v) : value(std::move(v)) {}
  send_node(send_node&&) = default;
  T value;
  send_node* next_failed = nullptr;  // close_rx's wake list
};

// The receiver waiting for a value; a sender puts it here directly.
template <class T>
struct recv_node : wait_node {
  static constexpr wait_kind kind = wait_kind::channel_recv;
  recv_node() noexcept {}  // user-provided: no zeroing before the initializers (wait_node)
  recv_node(recv_node&&) = default;
  std::optional<T> value;
};

template <class T>
class channel_state {
 public:
  using send_node = detail::send_node<T>;
  using recv_node = detail::recv_node<T>;

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

  // Pushes `v` (moved from only when done); hands it to a waiting receiver directly.
  channel_op try_push(T& v) {
    wait_node* wake = nullptr;
    {
      std::lock_guard lk(lock_);
      if (rx_closed_) return channel_op::closed;
      if (rx_) {
        rx_->value.emplace(std::move(v));
        wake = std::exchange(rx_, nullptr);
      } else if (size_ == cap_) {
        return channel_op::wait;
      } else {
        buf_[(head_ + size_) % cap_].emplace(std::move(v));
        ++size_;
      }
    }
    if (wake) wake->w.wake();
    return channel_op::done;
  }
  // Like try_push, but queues `n` (its value stays in it) when the channel is full.
  channel_op push_or_wait(send_node& n) {
    wait_node* wake = nullptr;
    {
      std::lock_guard lk(lock_);
      if (rx_closed_) return channel_op::closed;
      if (rx_) {
        rx_->value.emplace(std::move(n.value));
        wake = std::exchange(rx_, nullptr);
      } else if (size_ < cap_) {
        buf_[(head_ + size_) % cap_].emplace(std::move(n.value));
        ++size_;
      } else {
        senders_waiting_.push_back(&n);
        return channel_op::wait;
      }
    }
    if (wake) wake->w.wake();
    return channel_op::done;
  }
  // Withdraws a queued send; false when the receiver already took its value (or failed it).
  bool withdraw(send_node& n) noexcept {
    std::lock_guard lk(lock_);
    if (!n.linked()) return false;
    n.unlink();
    return true;
  }
  void add_sender() noexcept {
    std::lock_guard lk(lock_);
    ++senders_;
  }
  void drop_sender() noexcept {
    wait_node* wake = nullptr;
    {
      std::lock_guard lk(lock_);
      if (--senders_ == 0 && rx_) {
        rx_->ec = errc::closed;
        wake = std::exchange(rx_, nullptr);
      }
    }
    if (wake) wake->w.wake();
  }

  // --- receiver -------------------------------------------------------------------------

  // Takes the oldest value into `out`; refills the buffer from the first waiting sender.
  channel_op try_pop(std::optional<T>& out) {
    wait_node* wake = nullptr;
    {
      std::lock_guard lk(lock_);
      if (size_ == 0) return senders_ == 0 ? channel_op::closed : channel_op::wait;
      take_locked(out, wake);
    }
    if (wake) wake->w.wake();
    return channel_op::done;
  }
  // Like try_pop, but registers `r` as the waiting receiver when empty.
  channel_op pop_or_wait(recv_node& r) {
    wait_node* wake = nullptr;
    {
      std::lock_guard lk(lock_);
      if (size_ == 0) {
        if (senders_ == 0) return channel_op::closed;
        rx_ = &r;
        return channel_op::wait;
      }
      take_locked(r.value, wake);
    }
    if (wake) wake->w.wake();
    return channel_op::done;
  }
  // Withdraws the waiting receiver; false when a sender already completed it.
  bool withdraw(recv_node& r) noexcept {
    std::lock_guard lk(lock_);
    if (rx_ != &r) return false;
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
        s->ec = errc::closed;
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
      failed->w.wake();  // the last touch: the sender may resume (and end) at once
      failed = next;
    }
  }

  // What the awaiters call (channel_awaiter), by the kind of node.
  channel_op try_now(send_node& n) { return try_push(n.value); }
  channel_op try_now(recv_node& r) { return try_pop(r.value); }
  channel_op wait_or_now(send_node& n) { return push_or_wait(n); }
  channel_op wait_or_now(recv_node& r) { return pop_or_wait(r); }

  std::size_t size() const noexcept {
    std::lock_guard lk(lock_);
    return size_;
  }
  std::size_t capacity() const noexcept { return cap_; }
  bool cross() const noexcept { return lock_.enabled(); }

 private:
  void take_locked(std::optional<T>& out, wait_node*& wake) {
    out.emplace(std::move(*buf_[head_]));
    buf_[head_].reset();
    head_ = (head_ + 1) % cap_;
    --size_;
    if (ilist_node* n = senders_waiting_.pop_front()) {
      auto* s = static_cast<send_node*>(n);
      buf_[(head_ + size_) % cap_].emplace(std::move(s->value));
      ++size_;
      wake = s;
    }
  }

  mutable maybe_spinlock lock_;
  std::atomic<int> refs_{2};
  std::size_t cap_;
  std::size_t head_ = 0, size_ = 0;
  std::unique_ptr<std::optional<T>[]> buf_;
  ilist senders_waiting_;  // send_nodes in arrival order
  recv_node* rx_ = nullptr;
  unsigned senders_ = 1;
  bool rx_closed_ = false;
};

// The await protocol of send and recv, written once on wait_node: the locked counterpart of
// queued_awaiter (wait_queue.hpp). The other side completes a waiting node under the channel's
// lock, possibly on another shard, and wakes it after unlocking; so the waker never disarms the
// node's cancel subscription (the node does when it resumes), `state` is touched only by the
// node's own task (waiting: registered; released: done at once, yield pending), and a
// cancellation withdraws the node under the lock and does nothing when the other side got there
// first (exactly one outcome).
template <class T, class Node>
class channel_awaiter : protected Node {
 public:
  template <class... A>
  explicit channel_awaiter(channel_state<T>* s, A&&... a) : Node(std::forward<A>(a)...), s_(s) {}
  channel_awaiter(channel_awaiter&& o) noexcept(std::is_nothrow_move_constructible_v<Node>)
      : Node(static_cast<Node&&>(o)), s_(o.s_) {
    assert(o.state == wait_state::idle && "a weir::channel awaiter was moved after being awaited");
  }
  channel_awaiter& operator=(channel_awaiter&&) = delete;
  ~channel_awaiter() {
    if (this->state == wait_state::waiting) s_->withdraw(node());
  }

  bool await_ready() {
    switch (s_->try_now(node())) {
      case channel_op::done:
        if (tl_shard->coop_proceed()) return true;
        this->state = wait_state::released;  // done; yield once before resuming
        return false;
      case channel_op::closed: this->ec = errc::closed; return true;
      default: return false;
    }
  }
  template <class P>
  bool await_suspend(std::coroutine_handle<P> h) {
    if (this->state == wait_state::released) {
      yield_to_back(this->w.sched, h);
      return true;
    }
    this->ec =
        this->w.prepare(h, &on_cancel, this, Node::kind, static_cast<std::int64_t>(s_->capacity()));
    if (this->ec) return false;
    switch (s_->wait_or_now(node())) {
      case channel_op::wait: this->state = wait_state::waiting; return true;
      case channel_op::closed: this->ec = errc::closed; return false;
      default: return false;
    }
  }

 protected:
  // await_resume's common part: the failure, if any (a received value is in the node).
  std::error_code finish() noexcept {
    this->w.disarm();
    this->state = wait_state::idle;
    return this->ec;
  }

 private:
  Node& node() noexcept { return *this; }
  static void on_cancel(void* p, std::error_code reason) noexcept {
    auto* a = static_cast<channel_awaiter*>(p);
    if (a->s_->withdraw(a->node())) {
      a->ec = reason;
      a->w.wake();
    }
  }

  channel_state<T>* s_;
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

  // co_await gives send_result<T>: the value back on failure.
  class send_awaiter : public detail::channel_awaiter<T, detail::send_node<T>> {
    using base = detail::channel_awaiter<T, detail::send_node<T>>;

   public:
    send_awaiter(detail::channel_state<T>* s, T v) : base(s, std::move(v)) {}
    send_result<T> await_resume() {
      if (const std::error_code ec = this->finish())
        return send_result<T>(unexpected(ec), std::move(this->value));
      return {};
    }
  };

  // Waits for room, then enqueues `v`. On failure (errc::closed when the receiver is gone, the
  // cancel reason) the result hands `v` back.
  [[nodiscard]] send_awaiter send(T v) { return send_awaiter(s_, std::move(v)); }
  // Enqueues without waiting; errc::full or errc::closed otherwise, with `v` handed back in the
  // result. Consumes `v` either way.
  send_result<T> try_send(T&& v) {
    switch (s_->try_push(v)) {
      case detail::channel_op::done: return {};
      case detail::channel_op::wait: return send_result<T>(unexpected(errc::full), std::move(v));
      default: return send_result<T>(unexpected(errc::closed), std::move(v));
    }
  }
  send_result<T> try_send(const T& v) {
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

  // co_await gives result<T>.
  class recv_awaiter : public detail::channel_awaiter<T, detail::recv_node<T>> {
    using base = detail::channel_awaiter<T, detail::recv_node<T>>;

   public:
    explicit recv_awaiter(detail::channel_state<T>* s) noexcept : base(s) {}
    result<T> await_resume() {
      const std::error_code ec = this->finish();
      if (this->value) return std::move(*this->value);
      return unexpected(ec ? ec : std::error_code(errc::closed));
    }
  };

  // Waits for a value; errc::closed when every sender is gone and the buffer is empty.
  [[nodiscard]] recv_awaiter recv() noexcept { return recv_awaiter(s_); }
  // errc::empty or errc::closed when no value is ready.
  result<T> try_recv() {
    std::optional<T> v;
    switch (s_->try_pop(v)) {
      case detail::channel_op::done: return std::move(*v);
      case detail::channel_op::wait: return unexpected(errc::empty);
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
