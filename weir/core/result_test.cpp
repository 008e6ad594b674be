#include <weir/core/result.hpp>

#include <gtest/gtest.h>

#include <memory>
#include <string>

namespace weir {
namespace {

result<int> parse(const std::string& s) {
  if (s.empty()) return unexpected(errc::closed);
  return std::stoi(s);
}

TEST(Result, ValueAndError) {
  auto ok = parse("42");
  ASSERT_TRUE(ok);
  EXPECT_EQ(*ok, 42);
  EXPECT_EQ(ok.value(), 42);
  EXPECT_FALSE(ok.error());

  auto bad = parse("");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error(), errc::closed);
  EXPECT_EQ(bad.value_or(7), 7);
  EXPECT_THROW((void)bad.value(), std::system_error);
}

TEST(Result, MoveOnlyAndVoid) {
  result<std::unique_ptr<int>> r = std::make_unique<int>(5);
  auto moved = std::move(r);
  ASSERT_TRUE(moved);
  EXPECT_EQ(**moved, 5);
  std::unique_ptr<int> p = std::move(moved).value();
  EXPECT_EQ(*p, 5);

  result<void> v;
  EXPECT_TRUE(v);
  result<void> e = unexpected(errc::timed_out);
  EXPECT_FALSE(e);
  EXPECT_EQ(e.error(), errc::timed_out);
  EXPECT_THROW(e.value(), std::system_error);
}

TEST(Result, ErrorMessagesNameTheCondition) {
  EXPECT_EQ(std::error_code(errc::lost_wakeup).message(),
            "lost wake-up: the last handle that could resume the task died");
  EXPECT_STREQ(std::error_code(errc::cancelled).category().name(), "weir");
}

}  // namespace
}  // namespace weir
