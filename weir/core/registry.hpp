// The task registry, stall and lost-wake-up reports, and dumps (docs/architecture.md D5, D7).
//
// Always on in release builds. Every spawned task has a record in its root frame: id, name,
// parent, spawn site, the site of the co_await where it last suspended (captured by the
// coroutine's await_transform: no macros; for a running task, where its run resumed), its
// state, what it waits on in words, since when, its runs and busy time, and a context the
// program attaches (set_task_context: a connection's peer, say, and set_task_context_detail:
// each request's method and path). The shard writes records without locks (relaxed stores),
// keeps them as raw values (wait kinds, clock ticks, the context's pieces) and a dump puts them
// in words; a dump reads them from any thread, without the shard's help, so a stuck shard
// cannot block it: the shard is shown STUCK with the task it runs.
//
//   weir::set_task_context("10.0.0.7:5342");               // inside a task
//   weir::set_task_context_detail("GET", "/kv/a");         // dumps show "10.0.0.7:5342 GET /kv/a"
//   weir::registry_snapshot s = rt.snapshot();             // any thread
//   std::string text = weir::format_dump(s);  // render.hpp: what SIGQUIT prints
//
// Lost wake-ups (D7): a task waits through handles that can wake it (a completion's source,
// a callback bridge's token, a sync primitive's queue). When the last of them dies without
// waking it, the task can never run again: weir records a lost_wakeup_report at that moment
// (the task, its await site, and a backtrace of where the handle died) and applies the
// runtime's policy (runtime_options::lost_wakeup): `fail` resumes the task with
// errc::lost_wakeup, `report` leaves it waiting (visible in dumps), `abort` prints and aborts.
// A wait that only cancellation can still end counts as lost: it would otherwise hang until
// its deadline, if it has one.
//
// Stalls (D5): a run of one task longer than runtime_options::stall_threshold is reported
// while it is still running, by the runtime's watchdog thread, with the task's sites and a
// backtrace of the shard's thread (taken by a signal, symbolized outside the handler).
//
// Thread safety: snapshot(), stalls(), lost_wakeups() and format_dump() may be called from
// any thread; set_task_context() and set_task_context_detail() from a task.
#pragma once

#include <weir/core/metrics.hpp>
#include <weir/core/shard_counters.hpp>

#include <chrono>
#include <cstdint>
#include <source_location>
#include <string>
#include <string_view>
#include <vector>

namespace weir {

class runtime;

namespace detail {
class runtime_impl;
}

// Attaches a description to the current task, shown in dumps and `weir top` (copied; at most
// 200 bytes are kept). Replaces the whole context, detail included. Outside a task: no effect.
void set_task_context(std::string_view text);

// Sets the part of the current task's context that changes with each unit of work (an HTTP
// request: "GET", "/kv/a"), shown after the set_task_context() text. `what` is kept as a
// pointer and must outlive the task (a string literal); `text` is copied (at most 160 bytes).
// Cheap enough per request: the pieces are joined only when a dump asks. Outside a task: no
// effect.
void set_task_context_detail(std::string_view what, std::string_view text);

struct task_snapshot {
  std::uint64_t id = 0, parent = 0;
  unsigned shard = 0;
  std::string name;
  std::source_location spawn_site, await_site;
  const char* state = "ready";          // "running", "ready" or "waiting"
  std::string wait;                     // what it waits on, in words (waiting tasks)
  std::chrono::nanoseconds waiting{0};  // how long (waiting tasks) or running (running task)
  std::uint64_t runs = 0;
  std::chrono::nanoseconds busy{0};  // sampled by the watchdog (every stall_threshold / 4, ≤ 50 ms)
  std::string context;
};

struct shard_snapshot {
  unsigned id = 0;
  std::size_t tasks = 0;
  bool stuck = false;                   // its current run is longer than the stall threshold
  std::uint64_t running_task = 0;       // 0: idle or between tasks
  // How long the current run has lasted, as far as the watchdog knows: from its first sight of
  // the run (within stall_threshold / 4 of its start); 0 for a run it has not seen yet.
  std::chrono::nanoseconds run_for{0};
  shard_counters counters;              // runs, budget yields, stalls, reactor ops, ...
};

struct task_filter {
  std::string state;                     // "", "running", "ready", "waiting"
  std::chrono::nanoseconds min_wait{0};  // waiting at least this long
  std::string name;                      // substring of the name or the context
};

struct registry_snapshot {
  int pid = 0;
  const char* backend = "";
  std::chrono::system_clock::time_point taken;
  std::vector<shard_snapshot> shards;
  std::vector<task_snapshot> tasks;  // longest-waiting first
  std::uint64_t lost_wakeups = 0, stalls = 0;
};

// Backtrace frames, symbolized: "function at file:line" (or "module+0xoffset").
struct stack_frame {
  std::string function, file;
  unsigned line = 0;
  std::string text() const;
};

struct stall_report {
  std::chrono::system_clock::time_point when;
  unsigned shard = 0;
  std::chrono::nanoseconds ran_for{0};  // when it was seen (the run went on)
  std::uint64_t task = 0;
  std::string name, context;
  std::source_location spawn_site, await_site;
  std::vector<stack_frame> backtrace;  // the shard thread's, while stuck
};

struct lost_wakeup_report {
  std::chrono::system_clock::time_point when;
  unsigned shard = 0;
  std::uint64_t task = 0;  // 0: no task was waiting yet (it gets the error when it awaits)
  std::string name, context, wait;
  std::source_location await_site;
  std::string what;                    // which handle died ("completion source ...")
  std::string where;                   // the first frame outside weir: where it died
  std::vector<stack_frame> backtrace;  // where the last handle died
};

registry_snapshot snapshot(runtime& rt, const task_filter& f = {});
// The snapshot of the caller's runtime (inside a task).
registry_snapshot snapshot(const task_filter& f = {});

// The most recent reports (up to 64 of each kind), oldest first.
std::vector<stall_report> stalls(runtime& rt);
std::vector<lost_wakeup_report> lost_wakeups(runtime& rt);

// The runtime's metrics: tasks by state, every counter of shard_counters.hpp (per shard), lost
// wake-ups, stuck shards.
void write_runtime_metrics(runtime& rt, metrics::prometheus_writer& w);

namespace detail {
// The same, from inside the runtime (its watchdog).
registry_snapshot snapshot(runtime_impl& rt, const task_filter& f = {});
}  // namespace detail

}  // namespace weir
