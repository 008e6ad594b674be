// The counters every shard keeps, defined once: WEIR_SHARD_COUNTERS is the table, and from it
// come the live cells the shard and its reactor write (detail::shard_stats), the values
// runtime::stats() and registry snapshots return (shard_counters), and the Prometheus families
// of /metrics (shard_counter_table, one sample per shard). Adding a counter is one line here
// plus the increment where it happens.
//
//   ++stats_.parks;                               // in the shard (detail::shard_stats cells)
//   weir::shard_counters c = rt.stats(0);         // any thread: c.parks, c.runs, ...
//   for (const weir::shard_counter_info& e : weir::shard_counter_table)
//     w.write(e.family, {{"shard", "0"}}, c.*e.value);   // a metrics::prometheus_writer
//
// Thread safety: each cell has one writer (the shard's thread; `stalls`: the watchdog's), and
// is read from any thread (relaxed loads: each value exact, not one cut across counters).
#pragma once

#include <weir/core/detail/stat_counter.hpp>
#include <weir/core/metrics.hpp>

#include <cstdint>

// X(member, metric type, Prometheus name, help). The order is /metrics' order.
#define WEIR_SHARD_COUNTERS(X)                                                                     \
  X(runs, counter, "weir_task_runs_total", "Task runs (polls).")                                   \
  X(spawned, counter, "weir_tasks_spawned_total", "Tasks spawned.")                                \
  X(coop_yields, counter, "weir_budget_yields_total",                                              \
    "Awaits that yielded because the run's budget was spent.")                                     \
  X(stalls, counter, "weir_stalls_total", "Runs longer than the stall threshold.")                 \
  X(io_ops, counter, "weir_reactor_ops_total", "I/O operations started.")                          \
  X(io_immediate, counter, "weir_reactor_ops_immediate_total",                                     \
    "I/O operations that completed at once.")                                                      \
  X(io_waits, counter, "weir_reactor_waits_total", "Reactor waits (epoll_wait / io_uring_enter).") \
  X(parks, counter, "weir_parks_total", "Times the shard went idle.")                              \
  X(remote_wakes, counter, "weir_remote_wakes_total", "Wakes from other threads.")                 \
  X(timers_fired, counter, "weir_timers_fired_total", "Timers that fired.")                        \
  X(mailbox_requests, counter, "weir_mailbox_requests_total",                                      \
    "Requests from other shards run on this one (on_shard).")                                      \
  X(mailbox_full_waits, counter, "weir_mailbox_full_waits_total",                                  \
    "Requests to another shard that waited for room in its mailbox.")

namespace weir {

// One shard's counters, read at one moment.
struct shard_counters {
#define WEIR_X(member, kind, name, help) std::uint64_t member = 0;
  WEIR_SHARD_COUNTERS(WEIR_X)
#undef WEIR_X
};

// Each counter's field name (the JSON key of /debug/tasks), metric family, and value.
struct shard_counter_info {
  const char* key;
  metrics::family family;
  std::uint64_t shard_counters::*value;
};

inline constexpr shard_counter_info shard_counter_table[] = {
#define WEIR_X(member, kind, name, help) \
  {#member, {name, help, metrics::type::kind}, &shard_counters::member},
    WEIR_SHARD_COUNTERS(WEIR_X)
#undef WEIR_X
};

namespace detail {

// The live cells of one shard (its thread writes them; stalls: the watchdog).
struct shard_stats {
#define WEIR_X(member, kind, name, help) stat_counter member;
  WEIR_SHARD_COUNTERS(WEIR_X)
#undef WEIR_X

  shard_counters read() const noexcept {
    shard_counters c;
#define WEIR_X(member, kind, name, help) c.member = member.get();
    WEIR_SHARD_COUNTERS(WEIR_X)
#undef WEIR_X
    return c;
  }
};

}  // namespace detail

}  // namespace weir
