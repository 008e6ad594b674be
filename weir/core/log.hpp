// weir::log — one structured log for the library and the services built on it.
//
//   weir::log::info("listening", {{"addr", "127.0.0.1:2379"}, {"shards", "2"}});
//   -> ts=2026-11-21T12:00:00.123Z level=info msg=listening addr=127.0.0.1:2379 shards=2
//   weir::log::warn("accept failed", {{"addr", addr}, {"error", r.error().message()}});
//
// Every line weir prints (a detached task that threw, a listener out of descriptors, a handler
// that threw, stall and lost-wake-up reports, ...) goes through the process's one sink, so a
// service sees all of them and can send them elsewhere: set_sink(), or runtime_options::
// log_sink, which the runtime installs when it starts. The default sink writes logfmt lines
// to stderr. From a shard thread it never blocks on stderr: a line goes to a bounded queue
// that a writer thread drains (it runs while a runtime exists); when the queue is full the line
// is counted as dropped, and the count is logged once there is room again. Other threads write
// directly. flush() waits until queued lines are written (weir calls it before abort()).
//
// A record may carry a preformatted block (a task dump, a stall backtrace): the default sink
// prints it verbatim after the record's line, so dumps stay readable.
//
// Values are written bare when they are plain, else quoted with Go's %q conventions (\", \\,
// \n, \t, \xNN for other control bytes). Below the level set by set_level() nothing is
// formatted. Thread safety: every function may be called from any thread.
#pragma once

#include <chrono>
#include <initializer_list>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>

namespace weir::log {

enum class level : unsigned char { debug, info, warn, error };
using field = std::pair<std::string_view, std::string_view>;

struct record {
  std::chrono::system_clock::time_point time;
  log::level level;
  std::string_view msg;
  std::span<const field> fields;
  // Preformatted lines that belong to the record (a task dump, a backtrace), printed as they
  // are after its line; empty for most records.
  std::string_view block = {};
};

class sink {
 public:
  virtual ~sink() = default;
  // Called from any thread, concurrently. Must not block a shard thread for long.
  virtual void write(const record& r) noexcept = 0;
  // Returns once what was written before is out (best effort).
  virtual void flush() noexcept {}
};

// The default: logfmt lines on stderr (see above).
std::shared_ptr<sink> stderr_sink();
// Installs `s` for the whole process; nullptr restores the default.
void set_sink(std::shared_ptr<sink> s);

void set_level(level l) noexcept;
bool enabled(level l) noexcept;
// "debug", "info", "warn", "error"; nothing for anything else.
std::optional<level> parse_level(std::string_view s) noexcept;

void write(level l, std::string_view msg, std::initializer_list<field> fields = {});
void write(level l, std::string_view msg, std::span<const field> fields);
// A record with a preformatted multi-line block (see record::block).
void write_block(level l, std::string_view msg, std::initializer_list<field> fields,
                 std::string_view block);
void flush() noexcept;

// The logfmt line of a record, without its time stamp when !with_time, and without '\n'.
void append_logfmt(std::string& out, const record& r, bool with_time);
std::string format(level l, std::string_view msg, std::initializer_list<field> fields);

namespace detail {
// The runtime's constructor and destructor (after its shards stopped): the default sink's
// writer thread lives between the first start and the last stop.
void runtime_started();
void runtime_stopped();
}  // namespace detail

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

}  // namespace weir::log
