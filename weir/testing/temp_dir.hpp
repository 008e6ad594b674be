// weir::testing::temp_dir — a fresh directory under $TMPDIR (or /tmp), removed with its
// contents at scope end.
//
//   weir::testing::temp_dir dir("taskd-store");     // /tmp/taskd-store-XXXXXX
//   open_store(dir.path());
#pragma once

#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>

#include <stdlib.h>  // mkdtemp

namespace weir::testing {

class temp_dir {
 public:
  explicit temp_dir(const std::string& prefix = "weir-test") {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base && *base ? base : "/tmp") + "/" + prefix + "-XXXXXX";
    if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  const std::string& path() const noexcept { return path_; }

 private:
  std::string path_;
};

}  // namespace weir::testing
