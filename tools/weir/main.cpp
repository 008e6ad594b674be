// weir — inspect a running weir service through its admin HTTP endpoint.
//
//   weir top [--interval SECONDS] [--once]     live task table, like top(1)
//   weir dump [--json] [--state S] [--min-wait-ms N] [--name SUBSTR]
//   common: --addr HOST:PORT ($WEIR_ADMIN, else 127.0.0.1:9901), --token T ($WEIR_ADMIN_TOKEN)
//
// This file: arguments, the two commands, and the key loop of `weir top`. What a frame shows is
// task_table's job (pure, unit-tested), the HTTP exchange admin_client's, the terminal
// terminal's. Errors end the program with "weir: <one line>" on stderr and status 1; once
// `weir top` is running, failed refreshes are shown in its status line and retried instead.
#include "admin_client.hpp"
#include "task_table.hpp"
#include "terminal.hpp"

#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <exception>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace weir::tool {
namespace {

using steady = std::chrono::steady_clock;

constexpr std::string_view default_address = "127.0.0.1:9901";

constexpr std::string_view main_usage = R"(usage: weir <command> [options]

Inspects a running weir service through its admin HTTP endpoint.

commands:
  top     live table of the service's tasks, refreshed every second
  dump    print the service's task dump once (text, or JSON with --json)

options of every command:
  --addr HOST:PORT   admin endpoint (default: $WEIR_ADMIN, else 127.0.0.1:9901)
  --token T          bearer token for the endpoint (default: $WEIR_ADMIN_TOKEN)
  -h, --help         this help; `weir top --help`, `weir dump --help` for a command's

Exit status: 0 on success, 1 on an error (its reason on stderr).
)";

constexpr std::string_view top_usage =
    R"(usage: weir top [--interval SECONDS] [--once] [--addr HOST:PORT] [--token T]

A live table of the service's tasks, full screen, longest-waiting first.

  --interval SECONDS  time between refreshes (default 1; fractions allowed, at least 0.1)
  --once              print one frame to stdout and exit (no full screen, no keys; 80x24
                      unless stdout is a terminal)
  --addr, --token     as for every command (see `weir --help`)

keys:
  q  quit                         s  next sort key: wait, busy, runs, id, name
  r  reverse the order            f  filter by name (Enter applies, Esc cancels, empty clears)
  w  waiting tasks only (toggle)  p  pause / resume refreshing
  space  refresh now              Ctrl-L  repaint

The first request must succeed (a wrong address or token is reported at once). After that,
when the service goes away, the last table stays up, the status line says why, and weir top
retries at every interval.
)";

constexpr std::string_view dump_usage =
    R"(usage: weir dump [--json] [--state STATE] [--min-wait-ms N] [--name SUBSTR]
                 [--addr HOST:PORT] [--token T]

Prints the service's task dump (GET /debug/tasks) as the service writes it.

  --json             the JSON form (?format=json) instead of text
  --state STATE      only tasks in STATE: waiting, ready or running
  --min-wait-ms N    only tasks that have waited at least N ms
  --name SUBSTR      only tasks whose name contains SUBSTR
  --addr, --token    as for every command (see `weir --help`)
)";

// A mistake on the command line: reported with a pointer to --help.
class usage_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct options {
  std::string command;  // "top", "dump"; empty when none was given
  bool help = false;
  std::string address;
  std::string token;
  // top
  double interval_s = 1.0;
  bool once = false;
  // dump
  bool json = false;
  std::string state;
  std::string min_wait_ms;
  std::string name;
  // Options given, to check they belong to the command.
  std::vector<std::string> top_only, dump_only;
};

std::optional<double> parse_number(std::string_view s) {
  double v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size() || !std::isfinite(v))
    return std::nullopt;
  return v;
}

std::string env_or(const char* name, std::string_view fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::string(v) : std::string(fallback);
}

options parse_args(int argc, char** argv) {
  options o;
  o.address = env_or("WEIR_ADMIN", default_address);
  o.token = env_or("WEIR_ADMIN_TOKEN", "");
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      o.help = true;
      continue;
    }
    if (arg.substr(0, 2) != "--") {
      if (arg.substr(0, 1) == "-") throw usage_error("unknown option '" + std::string(arg) + "'");
      if (!o.command.empty()) throw usage_error("unexpected argument '" + std::string(arg) + "'");
      o.command = arg;
      continue;
    }
    // --name value, or --name=value
    std::string_view name = arg;
    std::optional<std::string> value;
    if (const std::size_t eq = arg.find('='); eq != std::string_view::npos) {
      name = arg.substr(0, eq);
      value = std::string(arg.substr(eq + 1));
    }
    auto take_value = [&]() -> std::string {
      if (value) return *value;
      if (i + 1 >= argc) throw usage_error(std::string(name) + " wants a value");
      return argv[++i];
    };
    auto no_value = [&] {
      if (value) throw usage_error(std::string(name) + " takes no value");
    };
    if (name == "--addr") {
      o.address = take_value();
    } else if (name == "--token") {
      o.token = take_value();
    } else if (name == "--interval") {
      const std::string v = take_value();
      const auto s = parse_number(v);
      if (!s || *s < 0.1)
        throw usage_error("--interval wants seconds, at least 0.1 (got '" + v + "')");
      o.interval_s = *s;
      o.top_only.emplace_back(name);
    } else if (name == "--once") {
      no_value();
      o.once = true;
      o.top_only.emplace_back(name);
    } else if (name == "--json") {
      no_value();
      o.json = true;
      o.dump_only.emplace_back(name);
    } else if (name == "--state") {
      o.state = take_value();
      if (o.state != "waiting" && o.state != "ready" && o.state != "running")
        throw usage_error("--state wants waiting, ready or running (got '" + o.state + "')");
      o.dump_only.emplace_back(name);
    } else if (name == "--min-wait-ms") {
      o.min_wait_ms = take_value();
      const auto ms = parse_number(o.min_wait_ms);
      if (!ms || *ms < 0)
        throw usage_error("--min-wait-ms wants a number of milliseconds (got '" + o.min_wait_ms +
                          "')");
      o.dump_only.emplace_back(name);
    } else if (name == "--name") {
      o.name = take_value();
      o.dump_only.emplace_back(name);
    } else {
      throw usage_error("unknown option '" + std::string(name) + "'");
    }
  }
  if (!o.command.empty() && o.command != "top" && o.command != "dump")
    throw usage_error("unknown command '" + o.command + "'");
  if (o.command != "top" && !o.top_only.empty())
    throw usage_error(o.top_only.front() + " is an option of 'weir top'");
  if (o.command != "dump" && !o.dump_only.empty())
    throw usage_error(o.dump_only.front() + " is an option of 'weir dump'");
  return o;
}

void print(std::FILE* f, std::string_view s) { std::fwrite(s.data(), 1, s.size(), f); }

// ---- weir dump ----

int run_dump(const admin_client& admin, const options& o) {
  std::vector<std::string> query;
  if (o.json) query.emplace_back("format=json");
  if (!o.state.empty()) query.push_back("state=" + o.state);
  if (!o.min_wait_ms.empty()) query.push_back("min_wait_ms=" + query_escape(o.min_wait_ms));
  if (!o.name.empty()) query.push_back("name=" + query_escape(o.name));
  std::string path = "/debug/tasks";
  for (std::size_t i = 0; i < query.size(); ++i) path += (i ? "&" : "?") + query[i];

  const std::string body = admin.fetch(path);
  print(stdout, body);
  if (std::fflush(stdout) != 0 || std::ferror(stdout))
    throw std::system_error(errno, std::generic_category(), "cannot write to stdout");
  return 0;
}

// ---- weir top ----

constexpr std::string_view tasks_path = "/debug/tasks?format=json";

struct top_state {
  std::optional<task_snapshot> snapshot;
  view_options view;
  bool paused = false;
  std::string message;  // start of the status line
  bool message_is_error = false;
  std::optional<std::string> prompt;  // the filter being typed after `f`
  bool refresh_now = false;
  bool repaint = false;
};

// HH:MM:SS of the service's clock (ms since the epoch), or of ours when it sent none.
std::string clock_text(std::int64_t time_ms) {
  const std::time_t t = time_ms > 0 ? static_cast<std::time_t>(time_ms / 1000) : std::time(nullptr);
  std::tm tm{};
  char buf[16] = "";
  if (::localtime_r(&t, &tm)) std::strftime(buf, sizeof buf, "%H:%M:%S", &tm);
  return buf;
}

task_snapshot fetch_snapshot(const admin_client& admin) {
  const std::string body = admin.fetch(tasks_path);
  std::string error;
  auto snap = parse_task_snapshot(body, error);
  if (!snap) throw admin_error("bad reply from " + admin.address() + "/debug/tasks: " + error);
  return std::move(*snap);
}

// A refresh that fails keeps the last table and says why in the status line.
void refresh(const admin_client& admin, top_state& st) {
  try {
    st.snapshot = fetch_snapshot(admin);
    st.message = "updated " + clock_text(st.snapshot->time_ms);
    st.message_is_error = false;
  } catch (const admin_error& e) {
    st.message = std::string("connection lost: ") + e.what() + ", retrying";
    st.message_is_error = true;
  }
}

std::vector<screen_line> frame(const admin_client& admin, const top_state& st, term_size size) {
  frame_state f;
  f.snapshot = st.snapshot ? &*st.snapshot : nullptr;
  f.address = admin.address();
  f.view = st.view;
  f.paused = st.paused;
  f.message = st.message;
  f.message_is_error = st.message_is_error;
  if (st.prompt) f.prompt = *st.prompt;
  f.width = size.cols;
  f.height = size.rows;
  return render_frame(f);
}

// Applies the keys in `in`; false when one of them is `q`.
bool handle_keys(top_state& st, std::string_view in) {
  for (std::size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    if (c == '\x1b') {
      // A sequence (arrows: ESC [ A, or ESC O A) is skipped up to its final byte (0x40-0x7e,
      // ECMA-48 §5.4); a lone ESC is the Esc key.
      if (i + 1 < in.size() && (in[i + 1] == '[' || in[i + 1] == 'O')) {
        i += 2;
        while (i < in.size() && !(in[i] >= 0x40 && in[i] <= 0x7e)) ++i;
      } else {
        st.prompt.reset();
      }
      continue;
    }
    if (st.prompt) {
      std::string& p = *st.prompt;
      if (c == '\r' || c == '\n') {
        st.view.name_filter = p;  // empty clears
        st.prompt.reset();
      } else if (c == 0x7f || c == '\b') {
        // Drop the last code point: its continuation bytes, then its lead byte.
        while (!p.empty()) {
          const auto b = static_cast<unsigned char>(p.back());
          p.pop_back();
          if ((b & 0xc0) != 0x80) break;
        }
      } else if (c == 0x15) {  // Ctrl-U
        p.clear();
      } else if (static_cast<unsigned char>(c) >= 0x20 && p.size() < 200) {
        p += c;
      }
      continue;
    }
    switch (c) {
      case 'q':
      case 'Q': return false;
      case 's': st.view.sort = next_sort_key(st.view.sort); break;
      case 'r': st.view.reverse = !st.view.reverse; break;
      case 'f': st.prompt.emplace(); break;
      case 'w': st.view.waiting_only = !st.view.waiting_only; break;
      case 'p':
        st.paused = !st.paused;
        st.refresh_now = !st.paused;
        break;
      case ' ': st.refresh_now = true; break;
      case 0x0c: st.repaint = true; break;  // Ctrl-L
      default: break;
    }
  }
  return true;
}

int run_top(const admin_client& admin, const options& o) {
  top_state st;
  // The first reply must come, or the user gets an error at once: a wrong port or token is
  // better told than retried behind a full screen.
  st.snapshot = fetch_snapshot(admin);
  st.message = "updated " + clock_text(st.snapshot->time_ms);

  if (o.once) {
    for (const screen_line& l : frame(admin, st, terminal_size(STDOUT_FILENO))) {
      std::string text = l.text;
      while (!text.empty() && text.back() == ' ') text.pop_back();
      print(stdout, text + "\n");
    }
    return std::fflush(stdout) == 0 ? 0 : 1;
  }

  const auto interval =
      std::chrono::duration_cast<steady::duration>(std::chrono::duration<double>(o.interval_s));
  auto next_refresh = steady::now() + interval;
  bool keys_open = true;  // stdin gave EOF or an error: only the refreshes go on
  full_screen screen;
  for (;;) {
    const term_size size = terminal_size(STDOUT_FILENO);
    const auto lines = frame(admin, st, size);
    const std::size_t cursor = st.prompt ? display_width(lines.back().text) + 1 : 0;
    screen.paint(lines, size.cols, cursor,
                 screen.take_redraw() || std::exchange(st.repaint, false));

    int timeout_ms = -1;
    if (!st.paused) {
      const auto left =
          std::chrono::ceil<std::chrono::milliseconds>(next_refresh - steady::now()).count();
      timeout_ms = static_cast<int>(std::max<long long>(0, left));
    }
    pollfd p{STDIN_FILENO, POLLIN, 0};
    const int n = ::poll(&p, keys_open ? 1 : 0, timeout_ms);
    if (n < 0 && errno != EINTR) throw std::system_error(errno, std::generic_category(), "poll");
    if (n > 0) {
      char buf[256];
      const ssize_t got = ::read(STDIN_FILENO, buf, sizeof buf);
      if (got > 0) {
        if (!handle_keys(st, std::string_view(buf, static_cast<std::size_t>(got)))) return 0;
      } else if (got == 0 || (errno != EINTR && errno != EAGAIN)) {
        keys_open = false;
      }
    }
    if (std::exchange(st.refresh_now, false)) next_refresh = steady::now();
    if (!st.paused && steady::now() >= next_refresh) {
      refresh(admin, st);
      next_refresh = steady::now() + interval;
    }
  }
}

int run(int argc, char** argv) {
  const options o = parse_args(argc, argv);
  if (o.help || o.command.empty()) {
    const std::string_view usage = o.command == "top"    ? top_usage
                                   : o.command == "dump" ? dump_usage
                                                         : main_usage;
    print(o.help ? stdout : stderr, usage);
    return o.help ? 0 : 1;
  }
  const admin_client admin(o.address, o.token);
  return o.command == "top" ? run_top(admin, o) : run_dump(admin, o);
}

}  // namespace
}  // namespace weir::tool

int main(int argc, char** argv) {
  try {
    return weir::tool::run(argc, argv);
  } catch (const weir::tool::usage_error& e) {
    std::fprintf(stderr, "weir: %s (see weir --help)\n", e.what());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "weir: %s\n", e.what());
  }
  return 1;
}
