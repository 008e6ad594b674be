// The registry, lost wake-ups, the C-callback bridge, stalls and dumps, on a real runtime.
#include <weir/core/c_callback.hpp>
#include <weir/core/completion.hpp>
#include <weir/core/registry.hpp>
#include <weir/core/render.hpp>
#include <weir/core/runtime.hpp>
#include <weir/core/spawn.hpp>
#include <weir/core/time.hpp>
#include <weir/testing/co_assert.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <thread>

using namespace std::chrono_literals;

// Outside namespace weir: a "user" frame the lost-wake-up report must point at.
// (The stores after the handle dies keep the call from being a tail call, which leaves no frame.)
volatile int user_drops = 0;
[[gnu::noinline]] void drop_the_source(weir::completion_source<int>& s) {
  { weir::completion_source<int> dying = std::move(s); }
  user_drops = user_drops + 1;
}

// A C library that drops a request without calling back.
// (The store after the call keeps it from being a tail call, which would leave no frame.)
volatile int library_drops = 0;
[[gnu::noinline]] void forgetful_library_drop(void* token) {
  weir::c_callback_release(token);
  library_drops = library_drops + 1;
}

[[gnu::noinline]] void spin_without_awaits(std::chrono::milliseconds d) {
  const auto until = std::chrono::steady_clock::now() + d;
  volatile unsigned n = 0;
  while (std::chrono::steady_clock::now() < until) n = n + 1;
}

namespace weir {
namespace {

const task_snapshot* find(const registry_snapshot& s, std::string_view name) {
  for (const auto& t : s.tasks)
    if (t.name == name) return &t;
  return nullptr;
}

unsigned sleep_line = 0;
task<> sleeper() {
  set_task_context("10.0.0.7:5342 GET /kv/a");
  sleep_line = std::source_location::current().line() + 1;
  (void)co_await sleep_for(10s);
}

// A wait inside a wrapper shows the wrapper's caller.
unsigned timeout_line = 0;
task<> timed_sleeper() {
  timeout_line = std::source_location::current().line() + 1;
  (void)co_await with_timeout(10s, sleep_for(20s));
}

TEST(Registry, SnapshotNamesWaitingTasksTheirSitesAndWaits) {
  runtime rt({.shards = 1});
  rt.block_on([]() -> task<> {
    auto h = spawn(sleeper(), "sleeper");
    auto ts = spawn(timed_sleeper(), "timed sleeper");
    auto [src, done] = make_completion<int>("auth library");
    auto w = spawn([](completion<int> d) -> task<> { (void)co_await d; }(std::move(done)),
                   "auth waiter");
    (void)co_await sleep_for(20ms);

    registry_snapshot s = snapshot();
    const task_snapshot* t = find(s, "sleeper");
    CO_ASSERT_TRUE(t != nullptr);
    EXPECT_STREQ(t->state, "waiting");
    EXPECT_EQ(t->await_site.line(), sleep_line);
    EXPECT_NE(std::string(t->await_site.file_name()).find("registry_test.cpp"), std::string::npos);
    EXPECT_EQ(t->wait.rfind("sleep until +", 0), 0u) << t->wait;
    EXPECT_EQ(t->context, "10.0.0.7:5342 GET /kv/a");
    EXPECT_GE(t->runs, 1u);
    EXPECT_GE(t->waiting, 10ms);
    const task_snapshot* tt = find(s, "timed sleeper");
    CO_ASSERT_TRUE(tt != nullptr);
    EXPECT_EQ(tt->await_site.line(), timeout_line);
    EXPECT_NE(std::string(tt->await_site.file_name()).find("registry_test.cpp"), std::string::npos);
    const task_snapshot* a = find(s, "auth waiter");
    CO_ASSERT_TRUE(a != nullptr);
    EXPECT_EQ(a->wait, "oneshot from auth library");
    const task_snapshot* m = find(s, "main");
    CO_ASSERT_TRUE(m != nullptr);
    EXPECT_STREQ(m->state, "running");
    EXPECT_EQ(s.shards.size(), 1u);

    const std::string dump = format_dump(s);
    EXPECT_NE(dump.find("'sleeper' waiting"), std::string::npos) << dump;
    EXPECT_NE(dump.find("context: 10.0.0.7:5342 GET /kv/a"), std::string::npos) << dump;

    registry_snapshot filtered = snapshot({.state = "waiting", .min_wait = {}, .name = "auth"});
    EXPECT_EQ(filtered.tasks.size(), 1u);
    h.cancel();
    (void)co_await h;
    ts.cancel();
    (void)co_await ts;
    src.fire(1);
    (void)co_await w;
  }());
}

TEST(Registry, LostWakeupFailsTheTaskAndNamesBothSites) {
  runtime rt({.shards = 1, .lost_wakeup = lost_wakeup_policy::fail});
  rt.block_on([]() -> task<> {
    auto [src, done] = make_completion<int>("auth library");
    auto w = spawn(
        [](completion<int> d) -> task<std::error_code> {
          auto r = co_await d;
          co_return r.error().code();
        }(std::move(done)),
        "auth waiter");
    (void)co_await sleep_for(5ms);
    drop_the_source(src);
    auto r = co_await w;
    CO_ASSERT_TRUE(r.has_value());
    EXPECT_EQ(*r, make_error_code(errc::lost_wakeup));
  }());
  auto lost = lost_wakeups(rt);
  ASSERT_EQ(lost.size(), 1u);
  EXPECT_EQ(lost[0].name, "auth waiter");
  EXPECT_NE(lost[0].task, 0u);
  EXPECT_NE(std::string(lost[0].await_site.file_name()).find("registry_test.cpp"),
            std::string::npos);
  std::string bt;
  for (const auto& f : lost[0].backtrace) bt += f.text() + "\n";
  EXPECT_NE(lost[0].where.find("drop_the_source"), std::string::npos) << lost[0].where << "\n"
                                                                      << bt;
  EXPECT_NE(lost[0].what.find("auth library"), std::string::npos) << lost[0].what;
  EXPECT_EQ(rt.snapshot().lost_wakeups, 1u);
}

TEST(Registry, ReportPolicyLeavesTheTaskWaiting) {
  runtime rt({.shards = 1, .lost_wakeup = lost_wakeup_policy::report});
  rt.block_on([]() -> task<> {
    auto [src, done] = make_completion<int>();
    auto w =
        spawn([](completion<int> d) -> task<> { (void)co_await d; }(std::move(done)), "forgotten");
    (void)co_await sleep_for(5ms);
    drop_the_source(src);
    (void)co_await sleep_for(20ms);
    EXPECT_FALSE(w.finished());
    const registry_snapshot snap = snapshot();
    const task_snapshot* t = find(snap, "forgotten");
    CO_ASSERT_TRUE(t != nullptr);
    EXPECT_STREQ(t->state, "waiting");
    w.detach();  // destroyed with the runtime
  }());
  EXPECT_EQ(lost_wakeups(rt).size(), 1u);
}

TEST(Registry, CCallbackFiresOnceFromAnyThreadAndCatchesMisuse) {
  runtime rt({.shards = 1, .lost_wakeup = lost_wakeup_policy::fail});
  const auto before = completion_stats().second_fires;
  rt.block_on([]() -> task<> {
    auto [token, done] = make_c_callback<int>("auth library");
    std::thread lib([t = token] {
      EXPECT_TRUE(c_callback_fire<int>(t, 42));
      EXPECT_FALSE(c_callback_fire<int>(t, 43));  // second fire: reported, ignored
      c_callback_release(t);
      c_callback_release(t);                      // released twice: reported, ignored
      EXPECT_FALSE(c_callback_fire<int>(t, 44));  // stale token
    });
    auto r = co_await done;
    lib.join();
    CO_ASSERT_TRUE(r.has_value());
    EXPECT_EQ(*r, 42);
  }());
  EXPECT_EQ(completion_stats().second_fires - before, 3u);
  EXPECT_EQ(lost_wakeups(rt).size(), 0u);

  rt.block_on([]() -> task<> {
    auto [token, done] = make_c_callback<int>("auth library");
    std::thread lib([t = token] { forgetful_library_drop(t); });
    auto r = co_await done;
    lib.join();
    CO_ASSERT_TRUE(!r.has_value());
    EXPECT_EQ(r.error(), make_error_code(errc::lost_wakeup));
  }());
  auto lost = lost_wakeups(rt);
  ASSERT_EQ(lost.size(), 1u);
  EXPECT_EQ(lost[0].name, "main");
  EXPECT_NE(lost[0].where.find("forgetful_library_drop"), std::string::npos) << lost[0].where;
}

TEST(Registry, StallIsReportedWhileStuckWithTheShardsBacktrace) {
  runtime rt({.shards = 1, .stall_threshold = 20ms});
  rt.block_on([]() -> task<> {
    auto h = spawn(
        []() -> task<> {
          (void)co_await sleep_for(1ms);
          spin_without_awaits(150ms);
        }(),
        "cpu hog");
    (void)co_await h;
  }());
  auto st = stalls(rt);
  ASSERT_GE(st.size(), 1u);
  EXPECT_EQ(st[0].name, "cpu hog");
  EXPECT_GE(st[0].ran_for, 20ms);
  EXPECT_NE(std::string(st[0].await_site.file_name()).find("registry_test.cpp"), std::string::npos);
  bool named = false;
  for (const auto& f : st[0].backtrace)
    named |= f.function.find("spin_without_awaits") != std::string::npos;
  EXPECT_TRUE(named) << (st[0].backtrace.empty() ? "no backtrace" : st[0].backtrace[0].text());
  EXPECT_GE(rt.stats(0).runs, 1u);
  EXPECT_EQ(rt.snapshot().stalls, st.size());
}

TEST(Registry, BusyTimeIsSampledForTheTaskThatRuns) {
  runtime rt({.shards = 1, .stall_threshold = 20ms});  // the watchdog samples every 5 ms
  rt.block_on([]() -> task<> {
    auto h = spawn(
        []() -> task<> {
          spin_without_awaits(200ms);
          (void)co_await sleep_for(10s);
        }(),
        "cpu hog");
    (void)co_await sleep_for(50ms);  // the hog has run by now: it ran before this timer fired
    const registry_snapshot s = snapshot();
    const task_snapshot* hog = find(s, "cpu hog");
    const task_snapshot* m = find(s, "main");
    CO_ASSERT_TRUE(hog != nullptr && m != nullptr);
    EXPECT_GE(hog->busy, 100ms);
    EXPECT_LE(hog->busy, 5s);
    EXPECT_LT(m->busy, hog->busy);
    EXPECT_STREQ(hog->state, "waiting");
    EXPECT_EQ(hog->runs, 1u);
    h.cancel();
    (void)co_await h;
  }());
}

// One table (shard_counters.hpp) feeds runtime::stats(), snapshots and /metrics: every counter
// reaches all three, and the families /metrics always had keep their exact lines.
TEST(Registry, EveryShardCounterReachesStatsSnapshotAndMetrics) {
  runtime rt({.shards = 2});
  rt.block_on([]() -> task<> { (void)co_await sleep_for(2ms); }());
  const registry_snapshot snap = rt.snapshot();
  const shard_counters after = rt.stats(0);
  EXPECT_GE(snap.shards[0].counters.runs, 1u);
  EXPECT_GE(snap.shards[0].counters.timers_fired, 1u);
  metrics::prometheus_writer w;
  write_runtime_metrics(rt, w);
  const std::string text = w.take();
  for (const shard_counter_info& c : shard_counter_table) {
    EXPECT_GE(after.*c.value, snap.shards[0].counters.*c.value) << c.key;
    const std::string name(c.family.name);
    EXPECT_NE(text.find("# HELP " + name + " " + std::string(c.family.help) + "\n# TYPE " + name +
                        " counter\n" + name + "{shard=\"0\"} "),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("\n" + name + "{shard=\"1\"} "), std::string::npos) << text;
    EXPECT_EQ(text.find("# TYPE " + name + " "), text.rfind("# TYPE " + name + " ")) << name;
  }
  for (const char* want : {
           "# HELP weir_tasks Live tasks by state.\n# TYPE weir_tasks gauge\n"
           "weir_tasks{shard=\"0\",state=\"running\"} ",
           "# HELP weir_task_runs_total Task runs (polls).\n# TYPE weir_task_runs_total counter\n",
           "# HELP weir_budget_yields_total Awaits that yielded because the run's budget was "
           "spent.\n# TYPE weir_budget_yields_total counter\n",
           "# HELP weir_reactor_waits_total Reactor waits (epoll_wait / io_uring_enter).\n",
           "# HELP weir_lost_wakeups_total Waiting tasks whose last wake-up handle died.\n"
           "# TYPE weir_lost_wakeups_total counter\nweir_lost_wakeups_total 0\n",
           "# HELP weir_shard_stuck 1 while the shard's current run exceeds the stall threshold.\n"
           "# TYPE weir_shard_stuck gauge\nweir_shard_stuck{shard=\"0\"} 0\n"
           "weir_shard_stuck{shard=\"1\"} 0\n",
       })
    EXPECT_NE(text.find(want), std::string::npos) << want << "\n---\n" << text;
}

TEST(Registry, DumpSignalWritesEveryTaskAndTheProcessGoesOn) {
  runtime rt({.shards = 2});
  testing::internal::CaptureStderr();
  rt.block_on([]() -> task<> {
    auto h = spawn(sleeper(), "dumped sleeper");
    (void)co_await sleep_for(10ms);
    std::raise(SIGQUIT);
    (void)co_await sleep_for(300ms);  // the watchdog writes the dump meanwhile
    h.cancel();
    (void)co_await h;
  }());
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("weir dump: pid"), std::string::npos) << err;
  EXPECT_NE(err.find("'dumped sleeper' waiting"), std::string::npos) << err;
  EXPECT_NE(err.find("shard 1:"), std::string::npos) << err;
}

TEST(Render, FunctionNamesReadAsAPersonWritesThem) {
  // g++'s name for a coroutine body run by a task group: the parameters are its frame.
  EXPECT_EQ(function_text("void weir::with_task_group(with_task_group<weir::http::server::run()::"
                          "<lambda(weir::task_group&)> >(weir::http::server::run()::<lambda("
                          "weir::task_group&)>)::_ZN4weir15with_task_groupEv.Frame*)"),
            "weir::with_task_group()");
  EXPECT_EQ(function_text("weir::task<std::basic_string<char> > authenticate(std::string)"),
            "authenticate(std::string)");
  EXPECT_EQ(function_text("const char* ns::f()"), "ns::f()");
  EXPECT_EQ(function_text("void ns::g<int>(std::vector<int>, int)"), "ns::g(std::vector, int)");
  EXPECT_EQ(function_text("bool weir::operator<(const a&, const b&)"),
            "weir::operator<(const a&, const b&)");
  EXPECT_EQ(function_text("main"), "main");
  EXPECT_EQ(site_text(std::source_location()), "?");
}

}  // namespace
}  // namespace weir
