// taskd's structured log: one logfmt line per event on stderr.
//
//   taskd::log::info("listening", {{"addr", "127.0.0.1:2379"}, {"shards", "2"}});
//   -> ts=2026-11-21T12:00:00.123Z level=info msg=listening addr=127.0.0.1:2379 shards=2
//
// Values with spaces, quotes, '=' or control characters are quoted with Go's %q rules. A line
// is written with one write(2), so lines from different shards do not interleave. Below the
// level set by set_level() nothing is formatted.
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace taskd::log {

enum class level { debug, info, warn, error };
using field = std::pair<std::string_view, std::string_view>;

void set_level(level l) noexcept;
bool enabled(level l) noexcept;
// "debug", "info", "warn", "error"; false for anything else.
bool parse_level(std::string_view s, level& out) noexcept;
void write(level l, std::string_view msg, std::initializer_list<field> fields = {});
// The line write() would print, without the time stamp (tests).
std::string format(level l, std::string_view msg, std::initializer_list<field> fields);

inline void debug(std::string_view m, std::initializer_list<field> f = {}) {
  if (enabled(level::debug)) write(level::debug, m, f);
}
inline void info(std::string_view m, std::initializer_list<field> f = {}) {
  if (enabled(level::info)) write(level::info, m, f);
}
inline void warn(std::string_view m, std::initializer_list<field> f = {}) {
  if (enabled(level::warn)) write(level::warn, m, f);
}
inline void error(std::string_view m, std::initializer_list<field> f = {}) {
  if (enabled(level::error)) write(level::error, m, f);
}

}  // namespace taskd::log
