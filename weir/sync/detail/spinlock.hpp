// A test-and-test-and-set spinlock for the short critical sections of cross-shard
// primitives (a few loads and stores; never held across a wake or a user callback).
// `enabled == false` makes it free: shard-local primitives take the same code path
// without atomics. Internal.
#pragma once

#include <atomic>
#include <thread>

namespace weir::detail {

class maybe_spinlock {
 public:
  explicit maybe_spinlock(bool enabled) noexcept : enabled_(enabled) {}
  void lock() noexcept {
    if (!enabled_) return;
    for (;;) {
      if (!flag_.exchange(true, std::memory_order_acquire)) return;
      while (flag_.load(std::memory_order_relaxed)) {
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#else
        std::this_thread::yield();
#endif
      }
    }
  }
  void unlock() noexcept {
    if (enabled_) flag_.store(false, std::memory_order_release);
  }
  bool enabled() const noexcept { return enabled_; }

 private:
  std::atomic<bool> flag_{false};
  const bool enabled_;
};

}  // namespace weir::detail
