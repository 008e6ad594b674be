// Coroutine frame allocator: per-thread size-class free lists (docs/architecture.md D1).
//
// Every weir coroutine frame (task<T>, spawned roots, internal adapters) and a few small
// runtime objects (oneshot states, join states) come from here. Sizes are rounded up to 16
// bytes; sizes up to `max_pooled_size` are recycled through a per-thread free list, larger
// ones go straight to the global heap. Once a thread has seen its peak number of live
// frames of each size, spawning and awaiting allocate nothing from `malloc`.
//
// Bound: a thread's lists hold at most what it once had live at the same time (its peak);
// they are released when the thread exits. A block may be freed on another thread than the
// one that allocated it; it joins the freeing thread's list.
//
// The fast paths are inline: a frame's size is a constant of its coroutine, so the size class
// folds away and allocating is a pop from a thread-local list (~5 instructions).
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

struct frame_cache {
  void* head[frame_classes];
  std::uint64_t heap_allocations;
  std::uint64_t heap_frees;
  std::uint64_t recycled;
  // The thread-exit release of the lists is registered and has not run yet: frees may be
  // cached. Until the first allocation or free arms it, and after thread exit, they may not.
  bool caching;
  bool torn_down;
};

extern thread_local constinit frame_cache tl_frame_cache;

[[gnu::noinline]] void* frame_alloc_slow(std::size_t n);
[[gnu::noinline]] void frame_free_slow(void* p, std::size_t n) noexcept;

inline void* frame_alloc(std::size_t n) {
  const std::size_t c = (n + frame_granule - 1) / frame_granule;
  frame_cache& fc = tl_frame_cache;
  if (c < frame_classes) [[likely]] {
    if (void* p = fc.head[c]) [[likely]] {
      fc.head[c] = *static_cast<void**>(p);
      ++fc.recycled;
      return p;
    }
  }
  return frame_alloc_slow(n);
}

inline void frame_free(void* p, std::size_t n) noexcept {
  const std::size_t c = (n + frame_granule - 1) / frame_granule;
  frame_cache& fc = tl_frame_cache;
  if (c < frame_classes && fc.caching) [[likely]] {
    *static_cast<void**>(p) = fc.head[c];
    fc.head[c] = p;
    return;
  }
  frame_free_slow(p, n);
}

// Mixin giving a type (a coroutine promise, a small state object) pooled allocation.
struct pooled {
  static void* operator new(std::size_t n) { return frame_alloc(n); }
  static void operator delete(void* p, std::size_t n) noexcept { frame_free(p, n); }
};

}  // namespace detail
}  // namespace weir
