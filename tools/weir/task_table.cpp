#include "task_table.hpp"

#include <simdjson.h>
#include <utf8proc.h>

#include <algorithm>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <optional>

namespace weir::tool {
namespace {

namespace dom = simdjson::dom;

// ---- JSON fields: lenient readers (missing or of another type: empty / 0) ----

std::optional<dom::element> field(dom::object o, std::string_view key) {
  dom::element e;
  if (o.at_key(key).get(e) != simdjson::SUCCESS) return std::nullopt;
  return e;
}

double read_double(dom::object o, std::string_view key) {
  auto e = field(o, key);
  double d = 0;
  // NaN never comes out of JSON, but an inf can (1e999); both would break sorting.
  if (!e || e->get_double().get(d) != simdjson::SUCCESS || !std::isfinite(d)) return 0;
  return d;
}

std::uint64_t read_u64(dom::object o, std::string_view key) {
  auto e = field(o, key);
  if (!e) return 0;
  std::uint64_t u = 0;
  if (e->get_uint64().get(u) == simdjson::SUCCESS) return u;
  double d = 0;  // 1.5e3, or a negative number
  if (e->get_double().get(d) != simdjson::SUCCESS || !(d > 0)) return 0;
  return d >= 18446744073709551615.0 ? UINT64_MAX : static_cast<std::uint64_t>(d);
}

std::int64_t read_i64(dom::object o, std::string_view key) {
  auto e = field(o, key);
  if (!e) return 0;
  std::int64_t i = 0;
  if (e->get_int64().get(i) == simdjson::SUCCESS) return i;
  double d = 0;
  if (e->get_double().get(d) != simdjson::SUCCESS || !std::isfinite(d)) return 0;
  return static_cast<std::int64_t>(std::clamp(d, -9.2e18, 9.2e18));
}

std::string read_string(dom::object o, std::string_view key) {
  auto e = field(o, key);
  std::string_view s;
  if (!e || e->get_string().get(s) != simdjson::SUCCESS) return {};
  return std::string(s);
}

bool read_bool(dom::object o, std::string_view key) {
  auto e = field(o, key);
  bool b = false;
  return e && e->get_bool().get(b) == simdjson::SUCCESS && b;
}

// The objects of the array at `key`; anything else in it is skipped.
std::vector<dom::object> read_objects(dom::object o, std::string_view key) {
  std::vector<dom::object> out;
  auto e = field(o, key);
  dom::array a;
  if (!e || e->get_array().get(a) != simdjson::SUCCESS) return out;
  for (dom::element item : a) {
    dom::object obj;
    if (item.get_object().get(obj) == simdjson::SUCCESS) out.push_back(obj);
  }
  return out;
}

task_state state_from_name(std::string_view s) {
  if (s == "running") return task_state::running;
  if (s == "ready") return task_state::ready;
  if (s == "waiting") return task_state::waiting;
  return task_state::other;
}

// ---- display width ----

// Must not reach the terminal: controls (C0, DEL, C1), line and paragraph separators, and the
// bidi embeddings, overrides and isolates that reorder what follows them (CVE-2021-42574).
bool unsafe(utf8proc_int32_t cp) {
  const utf8proc_property_t* p = utf8proc_get_property(cp);
  switch (p->category) {
    case UTF8PROC_CATEGORY_CC:
    case UTF8PROC_CATEGORY_ZL:
    case UTF8PROC_CATEGORY_ZP: return true;
    default: break;
  }
  switch (p->bidi_class) {
    case UTF8PROC_BIDI_CLASS_LRE:
    case UTF8PROC_BIDI_CLASS_LRO:
    case UTF8PROC_BIDI_CLASS_RLE:
    case UTF8PROC_BIDI_CLASS_RLO:
    case UTF8PROC_BIDI_CLASS_PDF:
    case UTF8PROC_BIDI_CLASS_LRI:
    case UTF8PROC_BIDI_CLASS_RLI:
    case UTF8PROC_BIDI_CLASS_FSI:
    case UTF8PROC_BIDI_CLASS_PDI: return true;
    default: return false;
  }
}

// One unit of output: the bytes of a grapheme cluster (or "?" in place of an unsafe code point
// or a malformed byte) and the columns they take.
struct glyph {
  std::string_view bytes;
  std::size_t columns;
};

constexpr utf8proc_int32_t emoji_presentation = 0xfe0f;  // VARIATION SELECTOR-16

std::vector<glyph> glyphs(std::string_view s) {
  std::vector<glyph> out;
  out.reserve(s.size());
  // The cluster being gathered: it starts at `begin`, its last code point is `prev` (-1: none).
  std::size_t begin = 0;
  utf8proc_int32_t prev = -1;
  utf8proc_int32_t state = 0;  // utf8proc_grapheme_break_stateful's (emoji sequences, flags)
  std::size_t columns = 0;
  bool wide_form = false;
  auto close = [&](std::size_t end) {
    if (prev < 0) return;
    out.push_back(
        {s.substr(begin, end - begin), wide_form ? std::max<std::size_t>(columns, 2) : columns});
    prev = -1;
    columns = 0;
    wide_form = false;
  };
  std::size_t i = 0;
  while (i < s.size()) {
    utf8proc_int32_t cp = 0;
    const utf8proc_ssize_t n = utf8proc_iterate(reinterpret_cast<const utf8proc_uint8_t*>(&s[i]),
                                                static_cast<utf8proc_ssize_t>(s.size() - i), &cp);
    if (n <= 0 || unsafe(cp)) {  // a '?' of its own; a malformed sequence goes byte by byte
      close(i);
      state = 0;  // what follows starts afresh, as at the start of the text
      out.push_back({"?", 1});
      i += n > 0 ? static_cast<std::size_t>(n) : 1;
      continue;
    }
    if (prev >= 0 && utf8proc_grapheme_break_stateful(prev, cp, &state)) close(i);
    if (prev < 0) begin = i;
    prev = cp;
    columns += static_cast<std::size_t>(std::max(0, utf8proc_charwidth(cp)));
    wide_form |= cp == emoji_presentation;
    i += static_cast<std::size_t>(n);
  }
  close(s.size());
  return out;
}

constexpr std::string_view ellipsis = "…";

std::string pad_right(std::string s, std::size_t width) {
  const std::size_t w = display_width(s);
  if (w < width) s.append(width - w, ' ');
  return s;
}

std::string pad_left(std::string_view s, std::size_t width) {
  const std::size_t w = display_width(s);
  std::string out;
  if (w < width) out.append(width - w, ' ');
  out += s;
  return out;
}

void rtrim(std::string& s) {
  while (!s.empty() && s.back() == ' ') s.pop_back();
}

std::size_t digits(std::uint64_t n) {
  std::size_t d = 1;
  while (n >= 10) {
    n /= 10;
    ++d;
  }
  return d;
}

std::string plural(std::uint64_t n, std::string_view one) {
  std::string s = std::to_string(n) + " " + std::string(one);
  if (n != 1) s += 's';
  return s;
}

// ---- ordering ----

int state_rank(task_state s) {
  switch (s) {
    case task_state::waiting: return 0;
    case task_state::running: return 1;
    case task_state::ready: return 2;
    case task_state::other: break;
  }
  return 3;
}

// Whether `a` comes before `b` in the natural direction of `key`.
bool comes_before(const task_info& a, const task_info& b, sort_key key) {
  switch (key) {
    case sort_key::wait:
      if (state_rank(a.state) != state_rank(b.state))
        return state_rank(a.state) < state_rank(b.state);
      if (a.wait_ms != b.wait_ms) return a.wait_ms > b.wait_ms;
      break;
    case sort_key::busy:
      if (a.busy_ms != b.busy_ms) return a.busy_ms > b.busy_ms;
      break;
    case sort_key::runs:
      if (a.runs != b.runs) return a.runs > b.runs;
      break;
    case sort_key::id: break;
    case sort_key::name:
      if (a.name != b.name) return a.name < b.name;
      break;
  }
  if (a.id != b.id) return a.id < b.id;
  return a.shard < b.shard;
}

// ---- the lines of a frame ----

constexpr std::size_t state_cols = 7;  // "waiting"
constexpr std::size_t wait_cols = 7;   // format_duration
constexpr std::size_t runs_cols = 6;   // format_count
constexpr std::size_t busy_cols = 7;

// Column widths for the rows on screen: ids and shard numbers as wide as the widest shown, and
// an await-site column when the frame is wide enough to spare it.
struct row_layout {
  std::size_t id = 2;
  std::size_t shard = 2;
  std::size_t await = 0;  // 0: no column
};

row_layout plan_rows(const std::vector<const task_info*>& rows, std::size_t width) {
  row_layout l;
  for (const task_info* t : rows) {
    l.id = std::max(l.id, digits(t->id));
    l.shard = std::max(l.shard, digits(t->shard));
  }
  const std::size_t fixed =
      l.id + 2 + l.shard + 1 + state_cols + 1 + wait_cols + 1 + runs_cols + 1 + busy_cols + 2;
  if (width >= 100 && width > fixed) {
    const std::size_t free = width - fixed;
    const std::size_t await = std::clamp<std::size_t>(free / 2, 16, 40);
    if (free >= await + 2 + 16) l.await = await;  // leave the free text at least 16 columns
  }
  return l;
}

std::string row_prefix(const row_layout& l, std::string_view id, std::string_view shard,
                       std::string_view state, std::string_view wait, std::string_view runs,
                       std::string_view busy) {
  std::string s = pad_left(id, l.id) + "  " + pad_left(shard, l.shard) + " ";
  s += pad_right(fit(state, state_cols), state_cols) + " ";
  s += pad_left(wait, wait_cols) + " " + pad_left(runs, runs_cols) + " " +
       pad_left(busy, busy_cols) + "  ";
  return s;
}

std::string column_header(const row_layout& l, std::size_t width) {
  std::string s = row_prefix(l, "ID", "SH", "STATE", "WAIT", "RUNS", "BUSY");
  if (l.await) s += pad_right("AWAIT AT", l.await) + "  ";
  s += "NAME / WAITS ON / CONTEXT";
  return fit(s, width);
}

std::string task_row(const task_info& t, const row_layout& l, std::size_t width) {
  const std::string wait = t.state == task_state::waiting || t.wait_ms > 0
                               ? format_duration(t.wait_ms)
                               : std::string("-");
  std::string s = row_prefix(l, std::to_string(t.id), std::to_string(t.shard),
                             t.state_name.empty() ? std::string_view("?") : t.state_name, wait,
                             format_count(t.runs), format_duration(t.busy_ms));
  if (l.await) s += pad_right(fit_tail(t.await_site, l.await), l.await) + "  ";
  // The free text: empty parts are left out, but the name always leads.
  std::string text = t.name.empty() ? std::string("-") : t.name;
  for (const std::string* part : {&t.wait, &t.context})
    if (!part->empty()) text += " / " + *part;
  s += text;
  s = fit(s, width);
  rtrim(s);
  return s;
}

// Line 1. Drops the least useful parts until it fits: the "weir top —" prefix, then the pid,
// then the backend; the counts stay.
std::string title_line(const task_snapshot* snap, std::string_view address, std::size_t width) {
  const std::string prefix = "weir top — ";
  if (!snap) return fit(prefix + std::string(address) + "  waiting for the first reply", width);
  std::uint64_t run = 0, ready = 0, wait = 0;
  for (const task_info& t : snap->tasks) {
    run += t.state == task_state::running;
    ready += t.state == task_state::ready;
    wait += t.state == task_state::waiting;
  }
  const std::string pid = snap->pid ? "  pid " + std::to_string(snap->pid) : "";
  const std::string backend = snap->backend.empty() ? "" : "  " + snap->backend;
  const std::string rest = "  tasks " + std::to_string(snap->tasks.size()) + " (run " +
                           std::to_string(run) + ", ready " + std::to_string(ready) + ", wait " +
                           std::to_string(wait) + ")  lost " + std::to_string(snap->lost_wakeups) +
                           "  stalls " + std::to_string(snap->stalls);
  const std::string addr(address);
  for (const std::string& s :
       {prefix + addr + pid + backend + rest, addr + pid + backend + rest, addr + backend + rest}) {
    if (display_width(s) <= width) return fit(s, width);
  }
  return fit(addr + rest, width);
}

// Line 2: "shard 0: 12 tasks  shard 1: 3 tasks, STUCK 1.2 s in task 17". When that does not fit,
// stuck shards keep the long form and the others shrink to "tasks/shard 0:12 2:8".
screen_line shard_line(const task_snapshot* snap, std::size_t width) {
  if (!snap || snap->shards.empty()) return {};
  bool any_stuck = false;
  std::string all, stuck, compact;
  for (const shard_info& s : snap->shards) {
    std::string piece = "shard " + std::to_string(s.id) + ": " + plural(s.tasks, "task");
    if (s.stuck) {
      any_stuck = true;
      piece +=
          ", STUCK " + format_duration(s.run_ms) + " in task " + std::to_string(s.running_task);
      stuck += (stuck.empty() ? "" : "  ") + piece;
    } else {
      compact += " " + std::to_string(s.id) + ":" + std::to_string(s.tasks);
    }
    all += (all.empty() ? "" : "  ") + piece;
  }
  std::string text = all;
  if (display_width(all) > width) {
    text = stuck;
    if (!compact.empty()) text += (stuck.empty() ? "tasks/shard" : "  tasks/shard") + compact;
  }
  return {fit(text, width), any_stuck ? line_style::alert : line_style::plain};
}

screen_line status_line(const frame_state& f, std::size_t matched, std::size_t shown) {
  if (f.prompt) {
    const std::string label = "filter name: ";
    const std::size_t room = f.width > 0 ? f.width - 1 : 0;  // the cursor takes the last column
    const std::size_t label_w = display_width(label);
    if (room <= label_w) return {fit(label, room)};
    return {label + fit_tail(*f.prompt, room - label_w)};
  }
  std::vector<std::string> parts;
  if (!f.message.empty()) parts.emplace_back(f.message);
  if (f.paused) parts.emplace_back("PAUSED");
  const bool natural_desc = f.view.sort == sort_key::wait || f.view.sort == sort_key::busy ||
                            f.view.sort == sort_key::runs;
  parts.push_back("sort " + std::string(sort_key_name(f.view.sort)) +
                  (natural_desc != f.view.reverse ? " desc" : " asc"));
  if (!f.view.name_filter.empty()) parts.push_back("filter \"" + f.view.name_filter + "\"");
  if (f.view.waiting_only) parts.emplace_back("waiting only");
  if (f.snapshot)
    parts.push_back(std::to_string(shown) + " of " + std::to_string(matched) + " shown");
  std::string text;
  for (const std::string& p : parts) text += (text.empty() ? "" : "  ") + p;
  return {fit(text, f.width), f.message_is_error ? line_style::alert : line_style::plain};
}

}  // namespace

weir::result<task_snapshot> parse_task_snapshot(std::string_view json) {
  dom::parser parser;
  dom::element root;
  if (auto err = parser.parse(json.data(), json.size()).get(root); err != simdjson::SUCCESS)
    return weir::unexpected(errc::invalid_input,
                            std::string("bad JSON: ") + simdjson::error_message(err));
  dom::object top;
  if (root.get_object().get(top) != simdjson::SUCCESS)
    return weir::unexpected(errc::invalid_input, "bad JSON: not an object");
  task_snapshot snap;
  snap.pid = read_i64(top, "pid");
  snap.time_ms = read_i64(top, "time_ms");
  snap.backend = read_string(top, "backend");
  snap.lost_wakeups = read_u64(top, "lost_wakeups");
  snap.stalls = read_u64(top, "stalls");
  for (dom::object o : read_objects(top, "shards")) {
    shard_info s;
    s.id = read_u64(o, "id");
    s.stuck = read_bool(o, "stuck");
    s.running_task = read_u64(o, "running_task");
    s.run_ms = read_double(o, "run_ms");
    s.tasks = read_u64(o, "tasks");
    s.runs = read_u64(o, "runs");
    s.coop_yields = read_u64(o, "coop_yields");
    s.stalls = read_u64(o, "stalls");
    snap.shards.push_back(std::move(s));
  }
  for (dom::object o : read_objects(top, "tasks")) {
    task_info t;
    t.id = read_u64(o, "id");
    t.shard = read_u64(o, "shard");
    t.parent = read_u64(o, "parent");
    t.name = read_string(o, "name");
    t.state_name = read_string(o, "state");
    t.state = state_from_name(t.state_name);
    t.spawn = read_string(o, "spawn");
    t.await_site = read_string(o, "await");
    t.wait = read_string(o, "wait");
    t.wait_ms = read_double(o, "wait_ms");
    t.runs = read_u64(o, "runs");
    t.busy_ms = read_double(o, "busy_ms");
    t.context = read_string(o, "context");
    snap.tasks.push_back(std::move(t));
  }
  return snap;
}

sort_key next_sort_key(sort_key k) {
  switch (k) {
    case sort_key::wait: return sort_key::busy;
    case sort_key::busy: return sort_key::runs;
    case sort_key::runs: return sort_key::id;
    case sort_key::id: return sort_key::name;
    case sort_key::name: break;
  }
  return sort_key::wait;
}

std::string_view sort_key_name(sort_key k) {
  switch (k) {
    case sort_key::wait: return "wait";
    case sort_key::busy: return "busy";
    case sort_key::runs: return "runs";
    case sort_key::id: return "id";
    case sort_key::name: break;
  }
  return "name";
}

std::vector<const task_info*> select_tasks(const task_snapshot& snap, const view_options& view) {
  std::vector<const task_info*> out;
  for (const task_info& t : snap.tasks) {
    if (view.waiting_only && t.state != task_state::waiting) continue;
    if (!view.name_filter.empty() && t.name.find(view.name_filter) == std::string::npos) continue;
    out.push_back(&t);
  }
  std::sort(out.begin(), out.end(), [&view](const task_info* a, const task_info* b) {
    return view.reverse ? comes_before(*b, *a, view.sort) : comes_before(*a, *b, view.sort);
  });
  return out;
}

std::size_t display_width(std::string_view text) {
  std::size_t w = 0;
  for (const glyph& g : glyphs(text)) w += g.columns;
  return w;
}

std::string fit(std::string_view text, std::size_t width) {
  const std::vector<glyph> gs = glyphs(text);
  std::size_t total = 0;
  for (const glyph& g : gs) total += g.columns;
  const std::size_t budget = total <= width ? width : (width > 0 ? width - 1 : 0);
  std::string out;
  std::size_t used = 0;
  for (const glyph& g : gs) {
    if (used + g.columns > budget) break;
    out += g.bytes;
    used += g.columns;
  }
  if (total > width && width > 0) out += ellipsis;
  return out;
}

std::string fit_tail(std::string_view text, std::size_t width) {
  const std::vector<glyph> gs = glyphs(text);
  std::size_t total = 0;
  for (const glyph& g : gs) total += g.columns;
  if (total <= width) return fit(text, width);
  if (width == 0) return {};
  std::size_t used = 0, first = gs.size();
  while (first > 0 && used + gs[first - 1].columns <= width - 1) used += gs[--first].columns;
  std::string out(ellipsis);
  for (std::size_t i = first; i < gs.size(); ++i) out += gs[i].bytes;
  return out;
}

std::string format_duration(double ms) {
  if (!std::isfinite(ms)) return "?";
  if (!(ms > 0)) return "0";
  char buf[32];
  if (ms < 1) {
    std::snprintf(buf, sizeof buf, "%.2f ms", ms);
  } else if (ms < 10) {
    std::snprintf(buf, sizeof buf, "%.1f ms", ms);
  } else if (ms < 999.5) {
    std::snprintf(buf, sizeof buf, "%.0f ms", ms);
  } else if (ms < 59'950) {
    std::snprintf(buf, sizeof buf, "%.1f s", ms / 1000);
  } else if (ms < 3'600'000) {
    const auto s = static_cast<std::uint64_t>(ms / 1000);
    std::snprintf(buf, sizeof buf, "%" PRIu64 "m%02" PRIu64 "s", s / 60, s % 60);
  } else if (ms < 360'000'000) {
    const auto m = static_cast<std::uint64_t>(ms / 60'000);
    std::snprintf(buf, sizeof buf, "%" PRIu64 "h%02" PRIu64 "m", m / 60, m % 60);
  } else {
    std::snprintf(buf, sizeof buf, "%.0fh", ms / 3'600'000);
  }
  return buf;
}

std::string format_count(std::uint64_t n) {
  if (n < 1'000'000) return std::to_string(n);
  static constexpr char units[] = "MGTPE";
  double v = static_cast<double>(n) / 1e6;
  std::size_t u = 0;
  while (v >= 999.5 && u + 1 < sizeof units - 1) {
    v /= 1000;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf,
                v < 9.995   ? "%.2f%c"
                : v < 99.95 ? "%.1f%c"
                            : "%.0f%c",
                v, units[u]);
  return buf;
}

std::vector<screen_line> render_frame(const frame_state& f) {
  std::vector<screen_line> lines;
  if (f.height == 0) return lines;
  const std::size_t w = f.width;

  std::vector<const task_info*> rows;
  if (f.snapshot) rows = select_tasks(*f.snapshot, f.view);
  // Title, shards, keys and column header above the rows; the status line below.
  const std::size_t room = f.height > 5 ? f.height - 5 : 0;
  const std::size_t matched = rows.size();
  const std::size_t shown = std::min(matched, room);
  rows.resize(shown);
  const row_layout layout = plan_rows(rows, w);

  lines.push_back({title_line(f.snapshot, f.address, w)});
  lines.push_back(shard_line(f.snapshot, w));
  lines.push_back({fit(f.paused ? "q quit  s sort  r reverse  f filter  w waiting-only  p resume"
                                : "q quit  s sort  r reverse  f filter  w waiting-only  p pause",
                       w)});
  lines.push_back({column_header(layout, w), line_style::heading});
  for (const task_info* t : rows) lines.push_back({task_row(*t, layout, w)});

  lines.resize(f.height - 1);  // cut what does not fit, or fill with blank lines
  lines.push_back(status_line(f, matched, shown));
  return lines;
}

}  // namespace weir::tool
