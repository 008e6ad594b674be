#include <weir/core/spawn.hpp>

#include <weir/core/log.hpp>

#include <fmt/format.h>

#include <cstdio>

namespace weir::detail {

void report_detached_failure(const task_record& rec, std::exception_ptr e) noexcept {
  const char* what = "unknown exception";
  std::string msg;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    msg = ex.what();
    what = msg.c_str();
  } catch (...) {
  }
  log::error(
      "detached task failed",
      {{"task", std::to_string(rec.id)},
       {"name", rec.name},
       {"spawned_at", fmt::format("{}:{}", rec.spawn_site.file_name(), rec.spawn_site.line())},
       {"error", what}});
}

}  // namespace weir::detail
