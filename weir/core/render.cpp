#include <weir/core/render.hpp>

#include <fmt/chrono.h>
#include <fmt/format.h>

#include <ctime>
#include <iterator>

namespace weir {

namespace {

double ms(std::chrono::nanoseconds d) { return static_cast<double>(d.count()) / 1e6; }

// Whether the '<' at `i` belongs to a name ("operator<", "operator<<"), not an argument list.
bool is_operator_name(std::string_view s, std::size_t i) {
  while (i > 0 && s[i - 1] == '<') --i;
  return i >= 8 && s.substr(i - 8, 8) == "operator";
}

// `s` without its template argument lists (depth-aware).
std::string without_templates(std::string_view s) {
  std::string out;
  int depth = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    // "operator<" and "operator<<" are names, not argument lists.
    if (c == '<' && !is_operator_name(s, i)) {
      ++depth;
    } else if (c == '>' && depth > 0) {
      --depth;
    } else if (depth == 0) {
      out += c;
    }
  }
  return out;
}

}  // namespace

std::string site_text(const std::source_location& s) {
  if (!s.file_name() || !*s.file_name()) return "?";
  return fmt::format("{}:{}", s.file_name(), s.line());
}

std::string function_text(std::string_view name) {
  // The parameter list starts at the first '(' outside template arguments.
  int depth = 0;
  std::size_t open = std::string_view::npos;
  for (std::size_t i = 0; i < name.size(); ++i) {
    if (name[i] == '<' && !is_operator_name(name, i)) ++depth;
    if (name[i] == '>' && depth > 0) --depth;
    if (name[i] == '(' && depth == 0) {
      open = i;
      break;
    }
  }
  if (open == std::string_view::npos) return std::string(name);
  std::string head = without_templates(name.substr(0, open));
  // The return type ends at the last space of the head ("void ns::f", "const char* f").
  if (const auto sp = head.rfind(' '); sp != std::string::npos) head.erase(0, sp + 1);
  while (!head.empty() && (head.front() == '*' || head.front() == '&')) head.erase(0, 1);
  const std::string_view params = name.substr(open);
  const bool noise = params.find(".Frame*") != std::string_view::npos ||
                     params.find("::_Z") != std::string_view::npos || params.size() > 80;
  return noise ? head + "()" : head + without_templates(params);
}

std::string time_text(std::chrono::system_clock::time_point t) {
  const std::time_t secs = std::chrono::system_clock::to_time_t(t);
  return fmt::format("{:%Y-%m-%dT%H:%M:%S}Z", fmt::gmtime(secs));
}

std::string format_dump(const registry_snapshot& s) {
  std::size_t running = 0, ready = 0, waiting = 0;
  for (const auto& t : s.tasks) {
    const std::string_view st = t.state;
    running += st == "running";
    ready += st == "ready";
    waiting += st == "waiting";
  }
  std::string out;
  auto to = std::back_inserter(out);
  fmt::format_to(to,
                 "weir dump: pid {}, {}, {} shard(s), {} task(s) ({} running, {} ready, {} "
                 "waiting), lost wake-ups {}, stalls {}\n",
                 s.pid, s.backend, s.shards.size(), s.tasks.size(), running, ready, waiting,
                 s.lost_wakeups, s.stalls);
  for (const auto& sh : s.shards) {
    fmt::format_to(to, "shard {}: {} task(s), {} runs, {} budget yields, {} stalls", sh.id,
                   sh.tasks, sh.counters.runs, sh.counters.coop_yields, sh.counters.stalls);
    if (sh.stuck)
      fmt::format_to(to, " -- STUCK: running task {} for {:.1f} ms", sh.running_task,
                     ms(sh.run_for));
    out += '\n';
    for (const auto& t : s.tasks) {
      if (t.shard != sh.id) continue;
      fmt::format_to(to, "  task {} '{}' {}", t.id, t.name, t.state);
      const std::string_view st = t.state;
      if (st == "waiting")
        fmt::format_to(to, " {:.1f} ms on {}", ms(t.waiting), t.wait);
      else if (st == "running")
        fmt::format_to(to, " for {:.1f} ms", ms(t.waiting));
      fmt::format_to(to, "\n      at {}", site_text(t.await_site));
      if (t.await_site.function_name() && *t.await_site.function_name())
        fmt::format_to(to, " in {}", function_text(t.await_site.function_name()));
      fmt::format_to(to, "\n      spawned at {}, parent {}, runs {}, busy {:.3f} ms\n",
                     site_text(t.spawn_site), t.parent, t.runs, ms(t.busy));
      if (!t.context.empty()) fmt::format_to(to, "      context: {}\n", t.context);
    }
  }
  return out;
}

std::string format_stalls(const std::vector<stall_report>& v) {
  std::string out;
  auto to = std::back_inserter(out);
  fmt::format_to(to, "{} recent stall(s)\n", v.size());
  for (const auto& r : v) {
    fmt::format_to(to, "{} shard {}: task {} '{}' ran {} ms without yielding\n", time_text(r.when),
                   r.shard, r.task, r.name, r.ran_for.count() / 1'000'000);
    fmt::format_to(to, "    spawned at {}, last await {}\n", site_text(r.spawn_site),
                   site_text(r.await_site));
    if (!r.context.empty()) fmt::format_to(to, "    context: {}\n", r.context);
    for (const auto& f : r.backtrace) fmt::format_to(to, "      {}\n", f.text());
  }
  return out;
}

std::string format_lost(const std::vector<lost_wakeup_report>& v) {
  std::string out;
  auto to = std::back_inserter(out);
  fmt::format_to(to, "{} recent lost wake-up(s)\n", v.size());
  for (const auto& r : v) {
    fmt::format_to(to, "{} task {} '{}'", time_text(r.when), r.task, r.name);
    if (r.task)
      fmt::format_to(to, " waiting at {}", site_text(r.await_site));
    else
      out += " (not waiting yet)";
    fmt::format_to(to, "\n    {}\n    in {}\n", r.what, r.where);
    if (!r.context.empty()) fmt::format_to(to, "    context: {}\n", r.context);
    for (const auto& f : r.backtrace) fmt::format_to(to, "      {}\n", f.text());
  }
  return out;
}

}  // namespace weir
