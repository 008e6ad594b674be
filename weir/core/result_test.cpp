#include <weir/core/result.hpp>

#include <gtest/gtest.h>

#include <memory>
#include <sstream>
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

TEST(Error, ContextNamesTheThing) {
  error plain = errc::limit_exceeded;
  EXPECT_EQ(plain.context(), "");
  EXPECT_EQ(plain.message(), "limit exceeded");

  error e(errc::limit_exceeded, "line 3: 70000 bytes over 65536");
  EXPECT_EQ(e, errc::limit_exceeded);
  EXPECT_EQ(e.message(), "line 3: 70000 bytes over 65536: limit exceeded");
  error outer = e.with_context("taskd.toml");
  EXPECT_EQ(outer.context(), "taskd.toml: line 3: 70000 bytes over 65536");
  EXPECT_EQ(e.context(), "line 3: 70000 bytes over 65536");  // the original is unchanged
  EXPECT_EQ(error(errc::closed).with_context("peer 10.0.0.1").message(),
            "peer 10.0.0.1: the other end is closed");

  error copy = outer;  // shares the text
  EXPECT_EQ(copy.context().data(), outer.context().data());
  error moved = std::move(copy);
  EXPECT_EQ(moved.message(), outer.message());

  std::ostringstream os;
  os << outer;
  EXPECT_EQ(os.str(), outer.message());
}

TEST(Error, ComparesCodesAndConditions) {
  error refused(std::make_error_code(std::errc::connection_refused), "connect 127.0.0.1:9");
  EXPECT_EQ(refused, std::errc::connection_refused);  // a condition of the generic category
  EXPECT_NE(refused, std::errc::timed_out);
  const std::error_code& code = refused;
  EXPECT_EQ(code, std::errc::connection_refused);

  EXPECT_EQ(error(errc::cancelled), condition::cancellation);
  EXPECT_EQ(error(errc::timed_out), condition::cancellation);
  EXPECT_EQ(error(errc::shutdown), condition::cancellation);
  EXPECT_NE(error(errc::closed), condition::cancellation);
  EXPECT_NE(refused, condition::cancellation);
  EXPECT_FALSE(error());
}

TEST(Error, ValueThrowsWithTheContext) {
  result<int> r = unexpected(errc::invalid_input, "flag --shards: expected a number");
  try {
    (void)r.value();
    FAIL();
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code(), errc::invalid_input);
    EXPECT_NE(std::string(e.what()).find("flag --shards"), std::string::npos) << e.what();
  }
}

result<int> half(int v) {
  if (v % 2) return unexpected(errc::invalid_input, "odd");
  return v / 2;
}

result<int> quarter(int v) {
  WEIR_TRY_ASSIGN(int h, half(v));
  WEIR_TRY(half(h));
  return h / 2;
}

TEST(Result, TryPropagates) {
  EXPECT_EQ(*quarter(8), 2);
  auto r = quarter(6);  // 6 / 2 = 3: the check fails
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().context(), "odd");
  EXPECT_EQ(quarter(5).error(), errc::invalid_input);
}

}  // namespace
}  // namespace weir
