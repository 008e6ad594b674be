#include <weir/core/frame_allocator.hpp>

#include <array>
#include <new>

namespace weir {
namespace detail {

thread_local constinit frame_cache tl_frame_cache{};

[[gnu::noinline]] void* frame_alloc_slow(std::size_t n);
[[gnu::noinline]] void frame_free_slow(void* p, std::size_t n) noexcept;
[[gnu::noinline]] void arm_frame_reaper() noexcept;

namespace {

constexpr auto max_cached_per_class = [] {
  std::array<std::uint32_t, frame_classes> a{};
  for (std::size_t c = 1; c < frame_classes; ++c)
    a[c] = static_cast<std::uint32_t>(max_cached_bytes_per_class / (c * frame_granule));
  return a;
}();

// Touched only on the slow path, so the fast path reads a trivially destructible
// thread_local with no guard; its destructor returns the thread's cached blocks to the heap.
struct frame_cache_reaper {
  bool armed = false;
  ~frame_cache_reaper() {
    if (!armed) return;
    frame_cache& fc = tl_frame_cache;
    fc.torn_down = true;
    for (std::size_t c = 1; c < frame_classes; ++c) {
      void* p = fc.head[c];
      while (p) {
        void* next = *static_cast<void**>(p);
        ::operator delete(p, c * frame_granule);
        ++fc.heap_frees;
        p = next;
      }
      fc.head[c] = nullptr;
      fc.count[c] = 0;
    }
  }
};
thread_local frame_cache_reaper tl_reaper;

}  // namespace

void arm_frame_reaper() noexcept {
  frame_cache& fc = tl_frame_cache;
  fc.reaper_armed = true;
  if (!fc.torn_down) tl_reaper.armed = true;  // first use registers the thread-exit destructor
}

void* frame_alloc(std::size_t n) {
  const std::size_t c = (n + frame_granule - 1) / frame_granule;
  frame_cache& fc = tl_frame_cache;
  if (c < frame_classes) [[likely]] {
    if (void* p = fc.head[c]) [[likely]] {
      fc.head[c] = *static_cast<void**>(p);
      --fc.count[c];
      ++fc.recycled;
      return p;
    }
  }
  return frame_alloc_slow(n);
}

void frame_free(void* p, std::size_t n) noexcept {
  const std::size_t c = (n + frame_granule - 1) / frame_granule;
  frame_cache& fc = tl_frame_cache;
  // A thread may only ever free frames (a shard destroying frames made elsewhere): it must
  // release its lists at exit all the same.
  if (c < frame_classes && fc.count[c] < max_cached_per_class[c] && fc.reaper_armed &&
      !fc.torn_down) [[likely]] {
    *static_cast<void**>(p) = fc.head[c];
    fc.head[c] = p;
    ++fc.count[c];
    return;
  }
  frame_free_slow(p, n);
}

void* frame_alloc_slow(std::size_t n) {
  frame_cache& fc = tl_frame_cache;
  if (!fc.reaper_armed) arm_frame_reaper();
  const std::size_t c = (n + frame_granule - 1) / frame_granule;
  ++fc.heap_allocations;
  // Allocate the rounded size so a block can serve any request of its class later.
  return ::operator new(c < frame_classes ? c * frame_granule : n);
}

void frame_free_slow(void* p, std::size_t n) noexcept {
  frame_cache& fc = tl_frame_cache;
  if (!fc.reaper_armed && !fc.torn_down) {  // first free on this thread: cache from now on
    arm_frame_reaper();
    frame_free(p, n);
    return;
  }
  const std::size_t c = (n + frame_granule - 1) / frame_granule;
  ++tl_frame_cache.heap_frees;
  ::operator delete(p, c < frame_classes ? c * frame_granule : n);
}

}  // namespace detail

frame_allocator_stats_t frame_allocator_stats() noexcept {
  const auto& fc = detail::tl_frame_cache;
  return {fc.heap_allocations, fc.heap_frees, fc.recycled};
}

}  // namespace weir
