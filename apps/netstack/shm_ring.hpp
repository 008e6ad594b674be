// The channel between netstack's two processes: a single-producer single-consumer ring of
// frame slots in shared memory (memfd + mmap), bounded, with the producer's and the consumer's
// indexes on separate cache lines, and two eventfds for wake-ups: `data` (the consumer sleeps
// on it while the ring is empty) and `space` (the producer sleeps on it while the ring is full).
// Nobody polls: a side that finds nothing to do sets its `sleeping` flag, checks once more and
// waits on its eventfd; the other side writes the eventfd only when it sees the flag (a
// Dekker-style handshake: seq_cst fences on both sides, so no wake-up is lost).
//
// One shared region holds both rings (TX: stack -> driver, RX: driver -> stack) and the
// driver's counters (driver_stats), so the stack's /metrics can show them.
#pragma once

#include <weir/core/result.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

namespace netstack {

inline constexpr std::size_t slot_stride = 2048;  // 8 bytes of length, then the frame
inline constexpr std::size_t slot_capacity = slot_stride - 8;

struct ring_control {
  alignas(64) std::atomic<std::uint64_t> head{0};  // written by the producer only
  alignas(64) std::atomic<std::uint64_t> tail{0};  // written by the consumer only
  alignas(64) std::atomic<std::uint32_t> consumer_sleeping{0};
  alignas(64) std::atomic<std::uint32_t> producer_sleeping{0};
  alignas(64) std::uint32_t slots = 0;  // a power of two
};

// The driver's side of the story, written by the driver, read by the stack (relaxed).
struct driver_stats {
  std::atomic<std::uint64_t> tx_frames{0}, tx_bytes{0};  // stack -> NIC
  std::atomic<std::uint64_t> rx_frames{0}, rx_bytes{0};  // NIC -> stack
  std::atomic<std::uint64_t> tx_errors{0};               // frames the NIC refused (counted)
  std::atomic<std::uint64_t> rx_ring_full{0};            // times the driver stopped reading
  std::atomic<std::uint64_t> tap_kernel_drops{0};        // the TAP's tx_dropped (the kernel's)
  std::atomic<std::uint32_t> ready{0};                   // 1 once the driver moves frames
};

// One ring as either side sees it. Copyable view over the shared mapping.
class shm_ring {
 public:
  shm_ring() = default;
  shm_ring(ring_control* c, std::byte* slots) noexcept
      : c_(c), slots_(slots), mask_(c->slots - 1) {}

  std::uint32_t slots() const noexcept { return mask_ + 1; }
  std::size_t used() const noexcept {
    return c_->head.load(std::memory_order_acquire) - c_->tail.load(std::memory_order_acquire);
  }

  // Producer: the next free slot's frame bytes (slot_capacity of them), or nullptr when full.
  std::byte* try_reserve() noexcept {
    const std::uint64_t h = c_->head.load(std::memory_order_relaxed);
    if (h - tail_cache_ > mask_) {
      tail_cache_ = c_->tail.load(std::memory_order_acquire);
      if (h - tail_cache_ > mask_) return nullptr;
    }
    return slot(h) + 8;
  }
  // Publishes the reserved slot holding `len` bytes; true when the consumer must be woken
  // (it sleeps): then write the data eventfd.
  bool commit(std::uint32_t len) noexcept {
    publish(len);
    return consumer_asleep();
  }
  // commit() in two halves, so that a burst of frames pays for one fence (the fence waits for
  // the index's cache line to come back from the other core): publish each frame, then ask
  // once, before the producer's task suspends or yields, whether the consumer sleeps.
  void publish(std::uint32_t len) noexcept {
    const std::uint64_t h = c_->head.load(std::memory_order_relaxed);
    std::memcpy(slot(h), &len, sizeof len);
    c_->head.store(h + 1, std::memory_order_release);
  }
  bool consumer_asleep() noexcept {
    std::atomic_thread_fence(std::memory_order_seq_cst);
    return c_->consumer_sleeping.load(std::memory_order_relaxed) != 0;
  }
  // Producer about to sleep: true when the ring is still full (then wait on the space fd and
  // call end_wait_space() after); false when space appeared meanwhile (the flag is cleared).
  bool begin_wait_space() noexcept {
    c_->producer_sleeping.store(1, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (try_reserve()) {
      end_wait_space();
      return false;
    }
    return true;
  }
  void end_wait_space() noexcept { c_->producer_sleeping.store(0, std::memory_order_relaxed); }

  // Consumer: the oldest frame, or an empty span when the ring is empty.
  std::span<const std::byte> try_peek() noexcept {
    const std::uint64_t t = c_->tail.load(std::memory_order_relaxed);
    if (t == head_cache_) {
      head_cache_ = c_->head.load(std::memory_order_acquire);
      if (t == head_cache_) return {};
    }
    std::uint32_t len;
    std::memcpy(&len, slot(t), sizeof len);
    if (len > slot_capacity) len = slot_capacity;  // the other process is not trusted
    return {slot(t) + 8, len};
  }
  // Frees the oldest slot; true when the producer must be woken (write the space eventfd).
  bool release() noexcept {
    release_only();
    return producer_asleep();
  }
  // release() in two halves, as publish() and consumer_asleep().
  void release_only() noexcept {
    c_->tail.store(c_->tail.load(std::memory_order_relaxed) + 1, std::memory_order_release);
  }
  bool producer_asleep() noexcept {
    std::atomic_thread_fence(std::memory_order_seq_cst);
    return c_->producer_sleeping.load(std::memory_order_relaxed) != 0;
  }
  // Consumer, before it sleeps: looks for a frame `spins` more times, a pause apart (a few
  // microseconds), so that a producer in full flow finds it awake and writes no eventfd: a
  // wake-up costs both sides a system call, a short spin costs one side a few microseconds.
  // True when a frame came. Nothing spins longer: an idle side sleeps.
  bool spin_for_data(unsigned spins) noexcept {
    for (unsigned i = 0; i < spins; ++i) {
      if (c_->head.load(std::memory_order_acquire) != c_->tail.load(std::memory_order_relaxed))
        return true;
      pause();
    }
    return false;
  }
  // Producer, before it sleeps: as spin_for_data(), for a free slot.
  bool spin_for_space(unsigned spins) noexcept {
    for (unsigned i = 0; i < spins; ++i) {
      if (c_->head.load(std::memory_order_relaxed) - c_->tail.load(std::memory_order_acquire) <=
          mask_)
        return true;
      pause();
    }
    return false;
  }
  // How long the sides spin before they sleep (spin_for_*).
  static constexpr unsigned spins_before_sleep = 1024;

  // Consumer about to sleep: as begin_wait_space().
  bool begin_wait_data() noexcept {
    c_->consumer_sleeping.store(1, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (!try_peek().empty()) {
      end_wait_data();
      return false;
    }
    return true;
  }
  void end_wait_data() noexcept { c_->consumer_sleeping.store(0, std::memory_order_relaxed); }

 private:
  std::byte* slot(std::uint64_t i) const noexcept { return slots_ + (i & mask_) * slot_stride; }
  static void pause() noexcept {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    asm volatile("yield");
#endif
  }

  ring_control* c_ = nullptr;
  std::byte* slots_ = nullptr;
  std::uint32_t mask_ = 0;
  std::uint64_t tail_cache_ = 0;  // producer's view of the consumer
  std::uint64_t head_cache_ = 0;  // consumer's view of the producer
};

// The shared region: both rings and the driver's counters, in one memfd; and the four eventfds.
// The stack creates it and hands the fds to the driver (fds()), which attaches.
class shm_region {
 public:
  struct fds_t {
    int memfd = -1;
    int tx_data = -1, tx_space = -1, rx_data = -1, rx_space = -1;
  };
  static weir::result<shm_region> create(std::uint32_t slots);
  static weir::result<shm_region> attach(fds_t fds);
  shm_region(shm_region&& o) noexcept;
  shm_region& operator=(shm_region&&) = delete;
  ~shm_region();

  shm_ring tx() const noexcept;  // stack -> driver
  shm_ring rx() const noexcept;  // driver -> stack
  driver_stats& stats() const noexcept;
  std::uint32_t slots() const noexcept;
  const fds_t& fds() const noexcept { return fds_; }

 private:
  shm_region() = default;
  fds_t fds_;
  void* map_ = nullptr;
  std::size_t size_ = 0;
};

// Writes 1 to an eventfd (a wake-up).
void signal_eventfd(int fd) noexcept;

}  // namespace netstack
