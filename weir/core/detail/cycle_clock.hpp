// The registry's clock (docs/architecture.md D7): what a shard reads once per run to charge the
// run's time to its task and to stamp the run for the watchdog. Internal.
//
// On x86-64, when the kernel keeps its own time with the time-stamp counter (clocksource "tsc":
// invariant, and synchronized across CPUs, or the kernel would not use it), a reading is one
// rdtsc: a few ns, against ~20 ns for clock_gettime through the vDSO, and one instruction under
// valgrind, against a system call. Elsewhere it is steady_clock's nanoseconds. Readings are
// ticks; only differences of readings mean anything, and they are converted to nanoseconds
// (ns_per_tick) only when a dump, a report or the watchdog asks, with a rate measured against
// steady_clock between init() and that moment. (Abseil's base_internal::CycleClock is the
// model.)
//
// Thread safety: init() once before the first shard thread starts (runtime_impl's constructor);
// then now() and ns_per_tick() from any thread.
#pragma once

#include <chrono>
#include <cstdint>

#if defined(__x86_64__)
#include <x86intrin.h>
#endif

namespace weir::detail {

class cycle_clock {
 public:
  // Chooses the source (once per process; later calls do nothing).
  static void init() noexcept;

  static std::int64_t now() noexcept {
#if defined(__x86_64__)
    if (use_tsc_) return static_cast<std::int64_t>(__rdtsc());
#endif
    return std::chrono::steady_clock::now().time_since_epoch().count();
  }

  // Nanoseconds per tick, measured now (1 when the ticks are steady_clock's nanoseconds).
  static double ns_per_tick() noexcept;

  // `ticks` (a difference of readings) in nanoseconds, with a rate from ns_per_tick().
  static std::chrono::nanoseconds to_ns(std::int64_t ticks, double ns_per_tick) noexcept {
    return std::chrono::nanoseconds(
        ticks <= 0 ? 0 : static_cast<std::int64_t>(static_cast<double>(ticks) * ns_per_tick));
  }

 private:
  // Written by init() before any shard thread exists, read-only afterwards.
  static inline constinit bool use_tsc_ = false;
};

}  // namespace weir::detail
