// weir's renderings of what the registry knows, in one place: a site's file:line, a readable
// function name, the text dump (SIGQUIT, /debug/tasks), the text of stall and lost-wake-up
// reports (/debug/stalls, /debug/lost). The JSON of the admin endpoint (weir/debug/admin.cpp)
// and the Prometheus text (metrics.hpp's writer) use the same pieces.
//
//   std::string text = weir::format_dump(rt.snapshot());
//
// Paths are relative to the repository (the build maps its prefix away). Thread safety: pure
// functions of their arguments.
#pragma once

#include <weir/core/registry.hpp>

#include <chrono>
#include <source_location>
#include <string>
#include <string_view>
#include <vector>

namespace weir {

// "weir/http/server.cpp:120"; "?" when unknown.
std::string site_text(const std::source_location& s);
// The function a site is in, as a person reads it: no return type, no template arguments, and
// no parameters where the compiler's are noise (g++'s coroutine bodies are named
// "f(f()::_Z...Frame*)"): "void weir::with_task_group(with_task_group<...>(...)::_Z...Frame*)"
// reads "weir::with_task_group()", "authenticate(std::string)" stays as it is.
std::string function_text(std::string_view compiler_name);
// "2026-11-21T12:00:00Z".
std::string time_text(std::chrono::system_clock::time_point t);

// The text of a dump: one header line, then per shard its tasks, longest-waiting first.
std::string format_dump(const registry_snapshot& s);
// The most recent reports, as /debug/stalls and /debug/lost show them.
std::string format_stalls(const std::vector<stall_report>& v);
std::string format_lost(const std::vector<lost_wakeup_report>& v);

}  // namespace weir
