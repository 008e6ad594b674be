// The admin endpoint over real loopback HTTP, asked by curl (the client a user would use).
#include <weir/core/runtime.hpp>
#include <weir/core/spawn.hpp>
#include <weir/core/time.hpp>
#include <weir/debug/admin.hpp>

#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <regex>
#include <string>
#include <thread>

using namespace std::chrono_literals;

namespace weir::debug {
namespace {

// Runs curl; returns "<status>\n<body>".
std::string curl(const admin_server& a, const std::string& path, const std::string& extra = "") {
  const std::string cmd = "curl -s -m 5 -w '\\n%{http_code}' " + extra + " 'http://" +
                          a.address().to_string() + path + "'";
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return "popen failed";
  std::array<char, 4096> buf;
  while (std::size_t n = std::fread(buf.data(), 1, buf.size(), p)) out.append(buf.data(), n);
  pclose(p);
  const auto nl = out.rfind('\n');
  return out.substr(nl + 1) + "\n" + out.substr(0, nl);
}

[[gnu::noinline]] void busy(std::chrono::milliseconds d) {
  const auto until = std::chrono::steady_clock::now() + d;
  volatile unsigned n = 0;
  while (std::chrono::steady_clock::now() < until) n = n + 1;
}

TEST(Admin, ServesTasksMetricsHealthAndRequiresTheToken) {
  runtime rt({.shards = 2});
  admin_server admin(rt, {.address = net::address::loopback_v4(0), .token = "s3cret"});
  admin.add_metrics([](metrics::prometheus_writer& w) {
    w.write({"custom_metric", "A source's own metric.", metrics::type::gauge}, {}, 7);
  });
  const std::string auth = "-H 'Authorization: Bearer s3cret'";

  rt.block_on([&]() -> task<> {
    auto h = spawn([]() -> task<> { (void)co_await sleep_for(30s); }(), "test sleeper");
    (void)co_await sleep_for(20ms);
    std::string r;
    std::atomic<bool> done{false};
    std::thread asker([&] {
      EXPECT_EQ(curl(admin, "/healthz").substr(0, 3), "401");
      EXPECT_EQ(curl(admin, "/healthz", "-H 'Authorization: Bearer wrong'").substr(0, 3), "401");
      EXPECT_EQ(curl(admin, "/healthz", auth), "200\nok\n");

      r = curl(admin, "/debug/tasks?format=json&state=waiting", auth);
      EXPECT_EQ(r.substr(0, 3), "200") << r;
      EXPECT_NE(r.find("\"name\":\"test sleeper\""), std::string::npos) << r;
      EXPECT_NE(r.find("\"state\":\"waiting\""), std::string::npos) << r;
      EXPECT_NE(r.find("\"wait\":\"sleep until +"), std::string::npos) << r;
      EXPECT_NE(r.find("admin_test.cpp"), std::string::npos) << r;

      r = curl(admin, "/debug/tasks?name=sleeper", auth);
      EXPECT_NE(r.find("'test sleeper' waiting"), std::string::npos) << r;
      EXPECT_EQ(r.find("'main'"), std::string::npos) << r;

      EXPECT_EQ(curl(admin, "/debug/tasks?state=sleeping", auth).substr(0, 3), "400");
      EXPECT_EQ(curl(admin, "/debug/tasks?min_wait_ms=x", auth).substr(0, 3), "400");

      r = curl(admin, "/metrics", auth);
      EXPECT_NE(r.find("weir_tasks{shard=\"0\",state=\"waiting\"}"), std::string::npos) << r;
      EXPECT_NE(r.find("weir_lost_wakeups_total 0"), std::string::npos) << r;
      EXPECT_NE(r.find("custom_metric 7"), std::string::npos) << r;

      // The browser view: its files need no token (they hold no data), its data does.
      r = curl(admin, "/ui");
      EXPECT_EQ(r.substr(0, 3), "200") << r;
      EXPECT_NE(r.find("<script src=\"/ui/app.js\"></script>"), std::string::npos) << r;
      EXPECT_NE(curl(admin, "/ui/app.js").find("\"/debug/history\""), std::string::npos);
      EXPECT_EQ(curl(admin, "/ui/nope.js").substr(0, 3), "404");
      EXPECT_EQ(curl(admin, "/debug/history").substr(0, 3), "401");
      r = curl(admin, "/debug/history", auth);  // sampled at start: one scrape at least
      EXPECT_EQ(r.substr(0, 11), "200\n{\"t\":[1") << r;
      EXPECT_NE(r.find("\"weir_task_runs_total\":\"counter\""), std::string::npos);
      // The source added after the first scrape: in the next one (a scrape a second).
      const std::regex custom(R"("custom_metric":\[(null,)*7)");
      for (int i = 0; i < 40 && !std::regex_search(r, custom); ++i) {
        std::this_thread::sleep_for(100ms);
        r = curl(admin, "/debug/history", auth);
      }
      EXPECT_TRUE(std::regex_search(r, custom)) << r.substr(0, 300);

      EXPECT_EQ(curl(admin, "/debug/stalls?format=json", auth), "200\n[]");
      EXPECT_NE(curl(admin, "/debug/lost", auth).find("0 recent lost wake-up(s)"),
                std::string::npos);
      done = true;
    });
    while (!done.load()) (void)co_await sleep_for(5ms);  // the shard stays responsive
    asker.join();
    h.cancel();
    (void)co_await h;
  }());
}

TEST(Admin, AnswersWhileAShardIsStuckAndNamesIt) {
  runtime rt({.shards = 1, .stall_threshold = 20ms});
  admin_server admin(rt, {.address = net::address::loopback_v4(0), .token = {}});
  std::string health, tasks, stalls;
  // The handler stays stuck until the asker has its answers (at most 10 s), however slowly a
  // loaded machine starts curl: the asker waits until the shard is inside busy(), then past
  // the stall threshold.
  std::atomic<bool> stuck{false}, asked{false};
  std::thread asker([&] {
    for (int i = 0; i < 1000 && !stuck.load(); ++i) std::this_thread::sleep_for(10ms);
    std::this_thread::sleep_for(100ms);
    health = curl(admin, "/healthz");
    tasks = curl(admin, "/debug/tasks");
    asked = true;
  });
  rt.block_on([](std::atomic<bool>& stuck, std::atomic<bool>& asked) -> task<> {
    auto h = spawn(
        [](std::atomic<bool>& stuck, std::atomic<bool>& asked) -> task<> {
          (void)co_await sleep_for(1ms);
          stuck = true;
          for (int i = 0; i < 100 && !asked.load(); ++i) busy(100ms);
        }(stuck, asked),
        "stuck handler");
    (void)co_await h;
  }(stuck, asked));
  asker.join();
  stalls = curl(admin, "/debug/stalls");
  EXPECT_EQ(health.substr(0, 3), "503") << health;
  EXPECT_NE(health.find("stuck"), std::string::npos) << health;
  EXPECT_NE(tasks.find("STUCK"), std::string::npos) << tasks;
  EXPECT_NE(tasks.find("'stuck handler' running"), std::string::npos) << tasks;
  EXPECT_NE(stalls.find("'stuck handler'"), std::string::npos) << stalls;
  EXPECT_NE(stalls.find("busy"), std::string::npos) << stalls;
}

TEST(Admin, RefusesAnAddressInUse) {
  runtime rt({.shards = 1});
  admin_server a(rt, {.address = net::address::loopback_v4(0), .token = {}});
  EXPECT_THROW(admin_server(rt, {.address = a.address(), .token = {}}), std::system_error);
  // start_admin: the same as an error naming the address; none asked for, none started.
  auto taken = start_admin(rt, admin_options{.address = a.address(), .token = {}});
  ASSERT_FALSE(taken);
  EXPECT_EQ(taken.error().code(), std::errc::address_in_use);
  EXPECT_NE(taken.error().message().find(a.address().to_string()), std::string::npos)
      << taken.error().message();
  auto none = start_admin(rt, std::nullopt);
  ASSERT_TRUE(none);
  EXPECT_EQ(*none, nullptr);
}

}  // namespace
}  // namespace weir::debug
