#include <weir/core/log.hpp>

#include <weir/core/runtime.hpp>
#include <weir/core/spawn.hpp>
#include <weir/core/time.hpp>

#include <gtest/gtest.h>

#include <stdexcept>

#include <filesystem>
#include <mutex>
#include <regex>
#include <string>
#include <vector>

namespace weir {
namespace {

TEST(Log, LogfmtQuotesOnlyWhatNeedsIt) {
  EXPECT_EQ(
      log::format(log::level::info, "listening", {{"addr", "127.0.0.1:2379"}, {"shards", "2"}}),
      "level=info msg=listening addr=127.0.0.1:2379 shards=2");
  EXPECT_EQ(log::format(log::level::error, "cannot open the store",
                        {{"error", "a \"b\"\n"}, {"empty", ""}, {"ctl", "\x01\t"}}),
            R"(level=error msg="cannot open the store" error="a \"b\"\n" empty="" ctl="\x01\t")");
  EXPECT_EQ(log::format(log::level::warn, "caf\xc3\xa9 ok", {}),
            "level=warn msg=\"caf\xc3\xa9 ok\"");
}

TEST(Log, Levels) {
  EXPECT_EQ(log::parse_level("warn"), log::level::warn);
  EXPECT_FALSE(log::parse_level("loud"));
  log::set_level(log::level::warn);
  EXPECT_FALSE(log::enabled(log::level::info));
  EXPECT_TRUE(log::enabled(log::level::error));
  log::set_level(log::level::info);
}

struct capture final : log::sink {
  std::mutex m;
  std::vector<std::string> lines;
  void write(const log::record& r) noexcept override {
    std::string line;
    log::append_logfmt(line, r, false);
    std::lock_guard lock(m);
    lines.push_back(std::move(line));
  }
};

TEST(Log, AServiceSinkSeesEveryLine) {
  auto c = std::make_shared<capture>();
  log::set_sink(c);
  log::info("one", {{"k", "v"}});
  log::debug("below the level");  // not formatted, not written
  log::error("two");
  log::set_sink(nullptr);
  log::info("back on stderr");
  ASSERT_EQ(c->lines.size(), 2u);
  EXPECT_EQ(c->lines[0], "level=info msg=one k=v");
  EXPECT_EQ(c->lines[1], "level=error msg=two");
}

task<> thrower() {
  throw std::runtime_error("the disk is on fire");
  co_return;
}

TEST(Log, TheRuntimeLogsThroughItsOptionsSink) {
  auto c = std::make_shared<capture>();
  {
    runtime rt({.shards = 1, .log_sink = c});
    rt.block_on([]() -> task<> {
      spawn_detached(thrower(), "arsonist");
      (void)co_await sleep_for(std::chrono::milliseconds(20));
    }());
  }
  log::set_sink(nullptr);
  bool seen = false;
  for (const std::string& l : c->lines)
    if (l.find("msg=\"detached task failed\"") != std::string::npos &&
        l.find("name=arsonist") != std::string::npos &&
        l.find("error=\"the disk is on fire\"") != std::string::npos &&
        l.find("spawned_at=weir/core/log_test.cpp:") != std::string::npos)
      seen = true;
  EXPECT_TRUE(seen) << testing::PrintToString(c->lines);
}

TEST(Log, NoThreadOfWeirOutlivesTheRuntimes) {
  auto threads = [] {
    std::size_t n = 0;
    for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/self/task"))
      ++n;
    return n;
  };
  const std::size_t before = threads();
  {
    runtime rt({.shards = 2});
    rt.block_on([]() -> task<> {
      log::info("from a shard");  // queued for the writer thread
      co_return;
    }());
  }
  EXPECT_EQ(threads(), before);  // a process with no runtime may fork (TSan, posix_spawn)
}

TEST(Log, DefaultSinkWritesTimestampedLinesToStderr) {
  testing::internal::CaptureStderr();
  log::info("hello", {{"peer", "127.0.0.1:9"}});
  log::flush();
  const std::string out = testing::internal::GetCapturedStderr();
  EXPECT_TRUE(std::regex_match(
      out,
      std::regex(
          R"(ts=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z level=info msg=hello peer=127\.0\.0\.1:9\n)")))
      << out;
}

}  // namespace
}  // namespace weir
