#include <weir/core/spawn.hpp>

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
  std::fprintf(stderr, "weir: detached task %llu '%s' (spawned at %s:%u) failed: %s\n",
               static_cast<unsigned long long>(rec.id), rec.name, rec.spawn_site.file_name(),
               static_cast<unsigned>(rec.spawn_site.line()), what);
}

}  // namespace weir::detail
