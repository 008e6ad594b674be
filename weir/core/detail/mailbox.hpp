// A bounded single-producer/single-consumer ring between two shards (docs/architecture.md D2).
// Shard `from` pushes requests for shard `to`; only `to` pops. A full ring makes the
// producer wait (its waiters sit in `waiters`, a list only the producer shard touches) —
// it never grows. Lock-free: one acquire/release pair per push and per pop.
#pragma once

#include <weir/core/detail/ilist.hpp>
#include <weir/core/detail/schedulable.hpp>

#include <atomic>
#include <cstddef>
#include <memory>

namespace weir::detail {

// A unit of work sent to another shard. `run` executes on the receiving shard's thread.
struct remote_request {
  void (*run)(remote_request*) = nullptr;
};

// A task waiting for room in a full mailbox (in its frame); woken by the producer shard when
// the consumer signals room, it then retries its push.
struct mailbox_waiter : ilist_node {
  schedulable sched;
};

class mailbox {
 public:
  mailbox(unsigned from, unsigned to, std::size_t capacity);

  // Producer side.
  bool try_push(remote_request* r) noexcept {
    const std::size_t t = tail_.load(std::memory_order_relaxed);
    if (t - cached_head_ == capacity_) {
      cached_head_ = head_.load(std::memory_order_acquire);
      if (t - cached_head_ == capacity_) return false;
    }
    slots_[t & mask_] = r;
    tail_.store(t + 1, std::memory_order_release);
    return true;
  }
  // Consumer side.
  remote_request* try_pop() noexcept {
    const std::size_t h = head_.load(std::memory_order_relaxed);
    if (h == cached_tail_) {
      cached_tail_ = tail_.load(std::memory_order_acquire);
      if (h == cached_tail_) return nullptr;
    }
    remote_request* r = slots_[h & mask_];
    head_.store(h + 1, std::memory_order_seq_cst);
    return r;
  }
  bool empty() const noexcept {
    return head_.load(std::memory_order_acquire) == tail_.load(std::memory_order_acquire);
  }

  const unsigned from, to;
  // The producer found the ring full and waits for the consumer to signal room.
  std::atomic<bool> producer_waiting{false};
  ilist waiters;  // producer shard only

 private:
  std::size_t capacity_, mask_;
  std::unique_ptr<remote_request*[]> slots_;
  alignas(64) std::atomic<std::size_t> head_{0};
  std::size_t cached_tail_ = 0;  // consumer's
  alignas(64) std::atomic<std::size_t> tail_{0};
  std::size_t cached_head_ = 0;  // producer's
};

}  // namespace weir::detail
