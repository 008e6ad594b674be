// weir::testing::script_dir — a temporary directory filled once per test binary by a shell
// script (test certificates made with the openssl CLI), removed at the end.
//
//   [[maybe_unused]] auto* const env = ::testing::AddGlobalTestEnvironment(
//       new weir::testing::script_dir("weir-tls", kMakeCerts));
//   auto ctx = tls::context::server({.cert_file = weir::testing::script_file("server.crt")});
//
// The script runs in the directory; its output goes to make.log, shown if it fails.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <stdlib.h>

namespace weir::testing {

inline std::string& script_dir_path() {
  static std::string dir;
  return dir;
}

// A file of the directory.
inline std::string script_file(const std::string& name) { return script_dir_path() + "/" + name; }

// The whole content of a file (empty if it cannot be read).
inline std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class script_dir : public ::testing::Environment {
 public:
  script_dir(std::string prefix, std::string script)
      : prefix_(std::move(prefix)), script_(std::move(script)) {}
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / (prefix_ + "-XXXXXX")).string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    script_dir_path() = tmpl;
    std::ofstream(script_file("make.sh")) << script_;
    const std::string cmd = "cd '" + tmpl + "' && sh make.sh > make.log 2>&1";
    ASSERT_EQ(std::system(cmd.c_str()), 0) << "the test setup script failed:\n"
                                           << slurp(script_file("make.log"));
  }
  void TearDown() override {
    std::error_code ec;
    if (!script_dir_path().empty()) std::filesystem::remove_all(script_dir_path(), ec);
  }

 private:
  std::string prefix_, script_;
};

}  // namespace weir::testing
