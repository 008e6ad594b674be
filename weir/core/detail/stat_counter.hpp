// A statistics counter cell: the primitive under weir::metrics and the shard counter table.
// Internal.
#pragma once

#include <atomic>
#include <cstdint>

namespace weir::detail {

// A counter written by one thread and read by any: relaxed load + store (no lock prefix on
// the hot path), so reports from other threads are race-free. add_shared() is for a cell that
// several threads write (weir::metrics' block for threads that are not shards): one atomic add.
class stat_counter {
 public:
  void operator++() noexcept {
    v_.store(v_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }
  void add(std::uint64_t n) noexcept {
    v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  void add_shared(std::uint64_t n) noexcept { v_.fetch_add(n, std::memory_order_relaxed); }
  std::uint64_t get() const noexcept { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> v_{0};
};

}  // namespace weir::detail
