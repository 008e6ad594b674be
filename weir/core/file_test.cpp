#include <weir/core/file.hpp>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace {

namespace fs = std::filesystem;

class read_file_test : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("weir-file-test-" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) +
            "-" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string write(const std::string& name, const std::string& text) {
    const auto p = (dir_ / name).string();
    std::ofstream(p, std::ios::binary) << text;
    return p;
  }
  fs::path dir_;
};

TEST_F(read_file_test, reads_the_bytes_whole) {
  std::string big(100'000, 'x');
  big[5] = '\0';
  big.back() = '\n';
  auto r = weir::read_file(write("big", big), big.size());
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(*r, big);
  auto empty = weir::read_file(write("empty", ""), 0);
  ASSERT_TRUE(empty);
  EXPECT_EQ(*empty, "");
}

TEST_F(read_file_test, errors_name_the_file_and_say_what_is_wrong) {
  const auto missing = (dir_ / "nope").string();
  auto r = weir::read_file(missing, 100);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), std::errc::no_such_file_or_directory);
  EXPECT_EQ(r.error().context(), missing + ": no such file");

  r = weir::read_file(dir_.string(), 100);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), std::errc::is_a_directory);
  EXPECT_EQ(r.error().context(), dir_.string() + ": is a directory, not a file");

  const auto f = write("eleven", "0123456789\n");
  r = weir::read_file(f, 10);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), weir::errc::limit_exceeded);
  EXPECT_EQ(r.error().context(), f + ": too large (over 10 bytes)");
  EXPECT_TRUE(weir::read_file(f, 11));
}

}  // namespace
