#include "log.hpp"

#include "go_quote.hpp"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>

namespace taskd::log {

namespace {

std::atomic<level> g_level{level::info};
constexpr std::string_view names[] = {"debug", "info", "warn", "error"};

void append_value(std::string& out, std::string_view v) {
  bool plain = !v.empty();
  for (const char c : v)
    if (static_cast<unsigned char>(c) <= ' ' || c == '"' || c == '=' || c == '\\' || c == 0x7F)
      plain = false;
  if (plain)
    out += v;
  else
    go_quote(out, v);
}

void append_body(std::string& out, level l, std::string_view msg,
                 std::initializer_list<field> fields) {
  out += "level=";
  out += names[static_cast<int>(l)];
  out += " msg=";
  append_value(out, msg);
  for (const auto& [k, v] : fields) {
    out += ' ';
    out += k;
    out += '=';
    append_value(out, v);
  }
}

}  // namespace

void set_level(level l) noexcept { g_level.store(l, std::memory_order_relaxed); }
bool enabled(level l) noexcept { return l >= g_level.load(std::memory_order_relaxed); }

bool parse_level(std::string_view s, level& out) noexcept {
  for (int i = 0; i < 4; ++i)
    if (s == names[i]) {
      out = static_cast<level>(i);
      return true;
    }
  return false;
}

std::string format(level l, std::string_view msg, std::initializer_list<field> fields) {
  std::string out;
  append_body(out, l, msg, fields);
  return out;
}

void write(level l, std::string_view msg, std::initializer_list<field> fields) {
  const auto now = std::chrono::system_clock::now();
  const std::time_t t = std::chrono::system_clock::to_time_t(now);
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()) % 1000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char ts[48];
  std::snprintf(ts, sizeof ts, "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03dZ ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms.count()));
  std::string line = ts;
  append_body(line, l, msg, fields);
  line += '\n';
  std::size_t off = 0;
  while (off < line.size()) {
    const ssize_t n = ::write(2, line.data() + off, line.size() - off);
    if (n <= 0) break;
    off += static_cast<std::size_t>(n);
  }
}

}  // namespace taskd::log
