#include <weir/core/frame_allocator.hpp>

#include <new>

namespace weir {
namespace detail {

thread_local constinit frame_cache tl_frame_cache{};

namespace {

// Touched only on slow paths, so the fast paths read a trivially destructible thread_local
// with no guard; its destructor returns the thread's cached blocks to the heap.
struct frame_cache_reaper {
  bool armed = false;
  ~frame_cache_reaper() {
    if (!armed) return;
    frame_cache& fc = tl_frame_cache;
    fc.caching = false;
    fc.torn_down = true;
    for (std::size_t c = 1; c < frame_classes; ++c) {
      void* p = fc.head[c];
      while (p) {
        void* next = *static_cast<void**>(p);
        ::operator delete(p, c* frame_granule);
        ++fc.heap_frees;
        p = next;
      }
      fc.head[c] = nullptr;
    }
  }
};
thread_local frame_cache_reaper tl_reaper;

// Registers the thread-exit release (first use of tl_reaper) and starts caching.
void arm() noexcept {
  frame_cache& fc = tl_frame_cache;
  if (fc.caching || fc.torn_down) return;
  tl_reaper.armed = true;
  fc.caching = true;
}

}  // namespace

void* frame_alloc_slow(std::size_t n) {
  arm();
  const std::size_t c = (n + frame_granule - 1) / frame_granule;
  ++tl_frame_cache.heap_allocations;
  // Allocate the rounded size so a block can serve any request of its class later.
  return ::operator new(c < frame_classes ? c * frame_granule : n);
}

void frame_free_slow(void* p, std::size_t n) noexcept {
  frame_cache& fc = tl_frame_cache;
  const std::size_t c = (n + frame_granule - 1) / frame_granule;
  if (c < frame_classes && !fc.torn_down) {  // first free on a thread that never allocated
    arm();
    frame_free(p, n);
    return;
  }
  ++fc.heap_frees;
  ::operator delete(p, c < frame_classes ? c * frame_granule : n);
}

}  // namespace detail

frame_allocator_stats_t frame_allocator_stats() noexcept {
  const auto& fc = detail::tl_frame_cache;
  return {fc.heap_allocations, fc.heap_frees, fc.recycled};
}

}  // namespace weir
