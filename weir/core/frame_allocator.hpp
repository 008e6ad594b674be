// Coroutine frame allocator: per-thread size-class free lists (DESIGN.md D1).
//
// Every weir coroutine frame (task<T>, spawned roots, internal adapters) and a few small
// runtime objects (oneshot states, join states) come from here. Sizes are rounded up to 16
// bytes; sizes up to `max_pooled_size` are recycled through a per-thread free list, larger
// ones go straight to the global heap. Once a thread has seen its peak number of live
// frames of each size, spawning and awaiting allocate nothing from `malloc`.
//
// A block may be freed on another thread than the one that allocated it; it simply joins the
// freeing thread's list. Each list keeps at most `max_cached_bytes_per_class` bytes; the
// surplus goes back to the heap. Lists are released when their thread exits.
//
// Counters are per thread (`frame_allocator_stats()`), so a test or a benchmark can assert
// "no heap allocation in steady state" on the thread it runs on.
//
// Thread safety: all functions act on the calling thread's lists and counters only.
#pragma once

#include <cstddef>
#include <cstdint>

namespace weir {

struct frame_allocator_stats_t {
  std::uint64_t heap_allocations = 0;  // blocks obtained from ::operator new
  std::uint64_t heap_frees = 0;        // blocks returned to ::operator delete
  std::uint64_t recycled = 0;          // allocations served from a free list
};

// This thread's counters.
frame_allocator_stats_t frame_allocator_stats() noexcept;

namespace detail {

inline constexpr std::size_t frame_granule = 16;
inline constexpr std::size_t max_pooled_size = 4096;
inline constexpr std::size_t frame_classes = max_pooled_size / frame_granule + 1;
inline constexpr std::size_t max_cached_bytes_per_class = std::size_t{4} << 20;

struct frame_cache {
  void* head[frame_classes];
  std::uint32_t count[frame_classes];
  std::uint64_t heap_allocations;
  std::uint64_t heap_frees;
  std::uint64_t recycled;
  bool torn_down;      // the thread is exiting: free straight to the heap
  bool reaper_armed;   // the thread-exit release of the lists is registered
};

extern thread_local constinit frame_cache tl_frame_cache;

// Out of line on purpose: every coroutine's ramp and destroy path calls these, and with many
// distinct coroutines a shared, always-hot function beats a copy inlined into each.
void* frame_alloc(std::size_t n);
void frame_free(void* p, std::size_t n) noexcept;

// Mixin giving a type (a coroutine promise, a small state object) pooled allocation.
struct pooled {
  static void* operator new(std::size_t n) { return frame_alloc(n); }
  static void operator delete(void* p, std::size_t n) noexcept { frame_free(p, n); }
};

}  // namespace detail
}  // namespace weir
