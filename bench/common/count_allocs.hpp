// Replaces the global operator new/delete of a benchmark binary with counting ones, so each
// benchmark reports heap allocations per operation (every thread, one relaxed counter).
// Include from exactly one translation unit of a binary (it defines the replacements).
#pragma once

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <new>

namespace bench {
inline std::atomic<std::uint64_t> heap_allocations{0};
}  // namespace bench

void* operator new(std::size_t n) {
  bench::heap_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
