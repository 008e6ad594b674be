// weir::completion<T> — a value delivered once, from any thread, to a waiting task
// (docs/architecture.md D8). The bridge for C libraries that complete through a callback + void*
// (seed 002's auth library, librdkafka delivery reports), and the state behind
// weir::oneshot.
//
//   auto [source, done] = weir::make_completion<int>();
//   auth_start(request, &on_auth_done, std::move(source).release());   // void* to C
//   ...
//   static void on_auth_done(void* token, int status) {                // any thread
//     weir::completion_source<int>::adopt(token).fire(status);
//   }
//   weir::result<int> status = co_await done;
//
// completion_source<T>: move-only; fire(v) delivers the value exactly once (a second fire is
// refused: it returns false and is counted in weir::completion_stats). Destroying a source
// that never fired completes the waiter with errc::lost_wakeup — "the last handle that could
// resume the task died" — so a forgotten callback becomes an error, not a hang. release()
// turns the source into a raw token that keeps it alive; adopt(token) takes it back (once).
//
// completion<T> (awaitable, once): resumes the waiting task on its own shard, even when fired
// from a foreign thread. Cancel-safe: cancellation completes the wait with the reason; a
// value fired later is dropped with the state. Destroyed while suspended: the state is
// released; a later fire() finds nobody and frees the value.
//
// Thread safety: the source side may be used from any thread, the awaiting side on one shard.
#pragma once

#include <weir/core/detail/waiter.hpp>
#include <weir/core/frame_allocator.hpp>
#include <weir/core/result.hpp>

#include <atomic>
#include <cstdint>
#include <new>
#include <utility>

namespace weir {

namespace detail {

void count_second_fire() noexcept;

// Where a completion was made: its shard (the runtime whose policy applies) and task.
struct completion_origin {
  shard* home = nullptr;
  std::uint64_t task = 0;
  const char* task_name = nullptr;
  static completion_origin here() noexcept {
    completion_origin o;
    o.home = tl_shard;
    if (o.home)
      if (const task_record* r = o.home->current_task()) {
        o.task = r->id;
        o.task_name = r->name;
      }
    return o;
  }
};

// The source of a completion died without firing (any thread). `w`: the waiter, or null when
// the task is not waiting yet. Records the lost wake-up; returns whether to wake the waiter
// with the error (policy fail) or leave it waiting (policy report). completion.cpp.
bool report_lost_completion(const completion_origin& o, waiter* w, const char* label) noexcept;

// A primitive is destroyed while `w` waits in its queue: nothing can wake it any more.
// Records the lost wake-up (not during runtime shutdown, when every frame goes) and returns
// whether to complete the wait with errc::lost_wakeup (policy fail) or leave it (report).
bool report_lost_waiter(waiter& w, const char* what) noexcept;

template <class T>
class oneshot_state : public pooled {
 public:
  static constexpr std::uint32_t value_set = 1, rx_waiting = 2, tx_gone = 4, rx_gone = 8;

  explicit oneshot_state(errc dropped, const char* label = nullptr) noexcept
      : dropped_(dropped), label_(label) {
    if (dropped == errc::lost_wakeup) origin_ = completion_origin::here();
  }
  ~oneshot_state() {
    if (state_.load(std::memory_order_acquire) & value_set) value()->~T();
  }

  // Sender side (any thread). False when already sent or the receiver is gone.
  template <class U>
  bool send(U&& v) {
    std::uint32_t s = state_.load(std::memory_order_acquire);
    if (sent_) {
      count_second_fire();
      return false;
    }
    sent_ = true;
    if (s & rx_gone) return false;
    new (&storage_) T(std::forward<U>(v));
    const std::uint32_t prev = state_.fetch_or(value_set, std::memory_order_acq_rel);
    if (prev & rx_waiting) waiter_->wake();  // the last touch of the waiter
    return true;
  }
  void sender_gone() noexcept {
    const std::uint32_t prev = state_.fetch_or(tx_gone, std::memory_order_acq_rel);
    if (!(prev & (value_set | rx_gone))) {
      const bool waiting = prev & rx_waiting;
      // A completion's source is the last handle that could wake its task: a lost wake-up.
      bool wake = waiting;
      if (dropped_ == errc::lost_wakeup)
        wake = report_lost_completion(origin_, waiting ? waiter_ : nullptr, label_) && waiting;
      if (wake) waiter_->wake();
    }
    release();
  }
  void receiver_gone() noexcept {
    state_.fetch_or(rx_gone, std::memory_order_acq_rel);
    release();
  }
  bool sent() const noexcept { return sent_; }
  const char* label() const noexcept { return label_; }

  // Receiver side (its shard).
  bool ready() const noexcept {
    return state_.load(std::memory_order_acquire) & (value_set | tx_gone);
  }
  // Publishes the waiter; false when the outcome arrived meanwhile (do not suspend).
  bool wait(waiter* w) noexcept {
    waiter_ = w;
    const std::uint32_t prev = state_.fetch_or(rx_waiting, std::memory_order_acq_rel);
    if (prev & (value_set | tx_gone)) {
      state_.fetch_and(~rx_waiting, std::memory_order_relaxed);
      return false;
    }
    return true;
  }
  // Withdraws the waiter (cancellation); false when the sender is already waking it.
  bool withdraw() noexcept {
    std::uint32_t s = state_.load(std::memory_order_acquire);
    while ((s & rx_waiting) && !(s & (value_set | tx_gone))) {
      if (state_.compare_exchange_weak(s, s & ~rx_waiting, std::memory_order_acq_rel)) return true;
    }
    return false;
  }
  result<T> take() {
    if (state_.load(std::memory_order_acquire) & value_set) {
      result<T> r(std::move(*value()));
      return r;
    }
    return unexpected(dropped_);
  }

 private:
  void release() noexcept {
    if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
  }
  T* value() noexcept { return std::launder(reinterpret_cast<T*>(&storage_)); }

  std::atomic<std::uint32_t> state_{0};
  std::atomic<int> refs_{2};
  bool sent_ = false;  // sender side only
  const errc dropped_;
  const char* label_;
  completion_origin origin_;
  waiter* waiter_ = nullptr;
  alignas(T) unsigned char storage_[sizeof(T)];
};

// The awaiting side shared by completion<T> and oneshot_receiver<T>.
template <class T>
struct oneshot_awaiter {
  oneshot_state<T>* s;
  waiter w;
  std::error_code ec;

  bool await_ready() const noexcept { return s->ready() && tl_shard->coop_proceed(); }
  template <class P>
  bool await_suspend(std::coroutine_handle<P> h) noexcept {
    if (s->ready()) {  // budget spent: take it after a turn at the back of the queue
      yield_to_back(w.sched, h);
      return true;
    }
    ec = w.prepare(h, &on_cancel, this, wait_kind::oneshot, 0, s->label());
    if (ec) return false;
    return s->wait(&w);
  }
  result<T> await_resume() {
    w.disarm();
    if (ec) return unexpected(ec);
    return s->take();
  }
  static void on_cancel(void* p, std::error_code reason) noexcept {
    auto* a = static_cast<oneshot_awaiter*>(p);
    if (a->s->withdraw()) {
      a->ec = reason;
      a->w.wake();
    }
  }
};

}  // namespace detail

template <class T>
class completion_source {
 public:
  completion_source() noexcept = default;
  explicit completion_source(detail::oneshot_state<T>* s) noexcept : s_(s) {}
  completion_source(completion_source&& o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
  completion_source& operator=(completion_source&& o) noexcept {
    if (this != &o) {
      reset();
      s_ = std::exchange(o.s_, nullptr);
    }
    return *this;
  }
  ~completion_source() { reset(); }

  // Delivers `v` (any thread). False when already fired or the waiting side is gone.
  template <class U = T>
  bool fire(U&& v) {
    if (!s_) {
      detail::count_second_fire();
      return false;
    }
    bool ok = s_->send(std::forward<U>(v));
    reset();
    return ok;
  }
  bool valid() const noexcept { return s_ != nullptr; }

  // Turns the source into a token for a C API; exactly one adopt() must take it back.
  void* release() && noexcept { return std::exchange(s_, nullptr); }
  static completion_source adopt(void* token) noexcept {
    return completion_source(static_cast<detail::oneshot_state<T>*>(token));
  }

 private:
  void reset() noexcept {
    if (s_) std::exchange(s_, nullptr)->sender_gone();
  }
  detail::oneshot_state<T>* s_ = nullptr;
};

template <class T>
class [[nodiscard]] completion {
 public:
  explicit completion(detail::oneshot_state<T>* s) noexcept : s_(s) {}
  completion(completion&& o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
  completion& operator=(completion&&) = delete;
  ~completion() {
    if (s_) s_->receiver_gone();
  }
  bool ready() const noexcept { return s_->ready(); }
  detail::oneshot_awaiter<T> operator co_await() noexcept { return {s_, {}, {}}; }

 private:
  detail::oneshot_state<T>* s_;
};

template <class T>
struct completion_pair {
  completion_source<T> source;
  completion<T> done;
};

// `label` (a string literal) names what completes it in dumps: "oneshot from <label>".
template <class T>
completion_pair<T> make_completion(const char* label = nullptr) {
  auto* s = new detail::oneshot_state<T>(errc::lost_wakeup, label);
  return {completion_source<T>(s), completion<T>(s)};
}

struct completion_stats_t {
  std::uint64_t second_fires;  // fire() on a completion that had already fired
};
completion_stats_t completion_stats() noexcept;

}  // namespace weir
