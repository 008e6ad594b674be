#include "log.hpp"

#include <gtest/gtest.h>

TEST(Log, LogfmtQuotesOnlyWhatNeedsIt) {
  EXPECT_EQ(taskd::log::format(taskd::log::level::info, "listening",
                               {{"addr", "127.0.0.1:2379"}, {"shards", "2"}}),
            "level=info msg=listening addr=127.0.0.1:2379 shards=2");
  EXPECT_EQ(taskd::log::format(taskd::log::level::error, "cannot open the store",
                               {{"error", "a \"b\"\n"}, {"empty", ""}}),
            R"(level=error msg="cannot open the store" error="a \"b\"\n" empty="")");
}

TEST(Log, Levels) {
  taskd::log::level l{};
  EXPECT_TRUE(taskd::log::parse_level("warn", l));
  EXPECT_EQ(l, taskd::log::level::warn);
  EXPECT_FALSE(taskd::log::parse_level("loud", l));
  taskd::log::set_level(taskd::log::level::warn);
  EXPECT_FALSE(taskd::log::enabled(taskd::log::level::info));
  EXPECT_TRUE(taskd::log::enabled(taskd::log::level::error));
  taskd::log::set_level(taskd::log::level::info);
}
