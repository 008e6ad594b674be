#include <weir/core/detail/cycle_clock.hpp>

#include <cstdio>
#include <cstring>
#include <mutex>

namespace weir::detail {

namespace {

std::once_flag g_init;
// The first reading of both clocks: every later rate is measured from here.
std::int64_t g_ticks0 = 0, g_ns0 = 0;

std::int64_t steady_ns() noexcept {
  return std::chrono::steady_clock::now().time_since_epoch().count();
}

[[maybe_unused]] bool kernel_uses_tsc() noexcept {
  std::FILE* f =
      std::fopen("/sys/devices/system/clocksource/clocksource0/current_clocksource", "r");
  if (!f) return false;
  char name[32] = "";
  const bool tsc = std::fgets(name, sizeof name, f) && std::strcmp(name, "tsc\n") == 0;
  std::fclose(f);
  return tsc;
}

// Both clocks at one moment: steady_clock between two readings of the counter, paired with
// their midpoint.
void read_pair(std::int64_t& ticks, std::int64_t& ns) noexcept {
  const std::int64_t a = cycle_clock::now();
  ns = steady_ns();
  const std::int64_t b = cycle_clock::now();
  ticks = a + (b - a) / 2;
}

}  // namespace

void cycle_clock::init() noexcept {
  std::call_once(g_init, [] {
#if defined(__x86_64__)
    use_tsc_ = kernel_uses_tsc();
#endif
    read_pair(g_ticks0, g_ns0);
  });
}

double cycle_clock::ns_per_tick() noexcept {
  if (!use_tsc_) return 1.0;
  std::int64_t ticks = 0, ns = 0;
  read_pair(ticks, ns);
  // Within a millisecond of init() the reading error (tens of ns) would weigh: wait out the
  // rest of it (once, and only for a dump or report taken that early).
  if (ns - g_ns0 < 1'000'000) {
    while (steady_ns() - g_ns0 < 1'000'000) {
    }
    read_pair(ticks, ns);
  }
  return ticks > g_ticks0 ? static_cast<double>(ns - g_ns0) / static_cast<double>(ticks - g_ticks0)
                          : 1.0;
}

}  // namespace weir::detail
