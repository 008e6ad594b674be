// The pure part of `weir top`: the service's task list (GET /debug/tasks?format=json) parsed
// into structs, filtered and sorted, and laid out as the lines of one screen. No I/O, no
// terminal: main.cpp fetches the JSON and paints the lines (with ANSI escapes, or as plain
// text for --once), task_table_test.cpp checks the rest.
//
//   WEIR_TRY_ASSIGN(task_snapshot snap, parse_task_snapshot(body));  // errc::invalid_input
//   view_options view{.sort = sort_key::busy, .waiting_only = true};
//   auto lines = render_frame({.snapshot = &snap, .address = "127.0.0.1:9901", .view = view,
//                              .width = 80, .height = 24});   // 24 lines, none wider than 80
//
// Parsing is lenient as the contract asks: a missing field reads as empty or 0, unknown fields
// are ignored, a number where a string was expected reads as empty. Only a reply that is not
// JSON, or not an object at the top, is an error.
//
// Widths are display columns, not bytes, from Unicode's tables (libutf8proc): text is UTF-8,
// cut into grapheme clusters (UAX #29), which are never split; a cluster takes the columns of
// its code points (East Asian wide and emoji two, combining marks none), and at least two when
// it asks for emoji presentation (U+FE0F). Where terminals disagree (an emoji ZWJ sequence is
// two columns in some, one per emoji in others) the count errs wide: a line drawn narrower
// than counted leaves blanks, a wider one would wrap and break the screen. Control characters
// (C0, DEL, C1, line and paragraph separators, bidi embeddings, overrides and isolates) and
// invalid UTF-8 from the service (task names and contexts carry request text) are shown as '?',
// so nothing the service sends can move the cursor, reorder the line or inject an escape
// sequence. Truncated text ends in "…".
#pragma once

#include <weir/core/result.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace weir::tool {

enum class task_state : std::uint8_t { running, ready, waiting, other };

// One task as the service reports it. Durations are milliseconds.
struct task_info {
  std::uint64_t id = 0;  // may exceed 2^32 (the shard is in the high bits)
  std::uint64_t shard = 0;
  std::uint64_t parent = 0;  // 0: spawned by no task
  std::string name;
  task_state state = task_state::other;
  std::string state_name;  // as sent, so a state newer than this tool still shows
  std::string spawn;       // file:line of the spawn
  std::string await_site;  // file:line of the co_await it is suspended in
  std::string wait;        // what it waits on: "read fd 12 (127.0.0.1:50412)"
  double wait_ms = 0;
  std::uint64_t runs = 0;
  double busy_ms = 0;
  std::string context;  // what the task works on: "127.0.0.1:50412 GET /kv/a"
};

struct shard_info {
  std::uint64_t id = 0;
  bool stuck = false;  // a task has run without yielding for longer than the stall threshold
  std::uint64_t running_task = 0;
  double run_ms = 0;  // how long running_task has been running
  std::uint64_t tasks = 0;
  std::uint64_t runs = 0;
  std::uint64_t coop_yields = 0;
  std::uint64_t stalls = 0;
};

struct task_snapshot {
  std::int64_t pid = 0;
  std::int64_t time_ms = 0;  // the service's clock, ms since the Unix epoch
  std::string backend;       // "io_uring" or "epoll"
  std::vector<shard_info> shards;
  std::uint64_t lost_wakeups = 0;
  std::uint64_t stalls = 0;
  std::vector<task_info> tasks;
};

// Parses the body of GET /debug/tasks?format=json. The error is errc::invalid_input with a
// one-line reason ("bad JSON: not an object").
weir::result<task_snapshot> parse_task_snapshot(std::string_view json);

// Sort keys, in the order the `s` key cycles through them. Each has a natural direction:
// wait, busy and runs largest first; id and name ascending. `reverse` flips it.
enum class sort_key : std::uint8_t { wait, busy, runs, id, name };
sort_key next_sort_key(sort_key k);
std::string_view sort_key_name(sort_key k);

struct view_options {
  sort_key sort = sort_key::wait;
  bool reverse = false;
  bool waiting_only = false;
  std::string name_filter;  // tasks whose name contains it (case-sensitive, as the service's
                            // name= filter); empty: all
};

// The tasks of `snap` that pass the filters, in display order. sort_key::wait puts waiting
// tasks first, longest wait first, then running, ready and other ones; every order breaks ties
// by id, so rows do not jump between refreshes. The pointers point into `snap`.
std::vector<const task_info*> select_tasks(const task_snapshot& snap, const view_options& view);

// Columns `text` takes on a terminal (see the top of the file).
std::size_t display_width(std::string_view text);
// `text` made safe to print (controls and bad UTF-8 as '?') and cut to at most `width` columns,
// ending in "…" when cut. No padding.
std::string fit(std::string_view text, std::size_t width);
// Like fit(), but keeps the end of `text` ("…http/connection.cpp:310"): for file:line sites.
std::string fit_tail(std::string_view text, std::size_t width);

// "0", "0.42 ms", "7.5 ms", "310 ms", "2.1 s", "4m05s", "3h12m": at most 7 columns below 100 h.
std::string format_duration(double ms);
// "123456", then "1.23M", "45.6G": at most 6 columns.
std::string format_count(std::uint64_t n);

enum class line_style : std::uint8_t {
  plain,
  heading,  // the column header: shown in reverse video, across the whole width
  alert,    // a stuck shard, a lost connection: shown in bold red
};

struct screen_line {
  std::string text;  // never wider than the frame
  line_style style = line_style::plain;
};

// Everything one frame of `weir top` shows.
struct frame_state {
  const task_snapshot* snapshot = nullptr;  // the last good reply; null before the first
  std::string_view address;                 // HOST:PORT, for the title
  view_options view;
  bool paused = false;
  std::string_view message;  // starts the status line: "updated 12:00:01", or an error
  bool message_is_error = false;
  // The filter being typed after `f`: the bottom line becomes "filter name: <prompt>", ending
  // one column short of the width so the cursor fits after it.
  std::optional<std::string_view> prompt;
  std::size_t width = 80;
  std::size_t height = 24;
};

// The frame, exactly `height` lines: title, shard summary, key help, column header, task rows,
// blank filler, and the status line last. A frame too short for all that keeps the status line
// and as many of the others as fit, in that order. Rows show the await site in a column of its
// own from 100 columns on.
std::vector<screen_line> render_frame(const frame_state& f);

}  // namespace weir::tool
