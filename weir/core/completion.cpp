#include <weir/core/completion.hpp>

namespace weir {
namespace {
std::atomic<std::uint64_t> g_second_fires{0};
}

void detail::count_second_fire() noexcept {
  g_second_fires.fetch_add(1, std::memory_order_relaxed);
}

completion_stats_t completion_stats() noexcept {
  return {g_second_fires.load(std::memory_order_relaxed)};
}

}  // namespace weir
