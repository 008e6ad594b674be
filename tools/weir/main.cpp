// weir — inspect a running weir service through its admin HTTP endpoint.
//
//   weir top [--interval SECONDS] [--once]     live task table, like top(1)
//   weir dump [--json] [--state S] [--min-wait-ms N] [--name SUBSTR]
//   common: --addr HOST:PORT ($WEIR_ADMIN, else 127.0.0.1:9901), --token T ($WEIR_ADMIN_TOKEN)
//
// This file: the two commands, and the key loop of `weir top`. The flags are command_line's
// (CLI11), what a frame shows task_table's job (pure, unit-tested), the HTTP exchange
// admin_client's, the terminal terminal's. Errors come back as values (weir::result) and end
// the program with "weir: <one line>" on stderr and status 1 (2 for a bad command line); once
// `weir top` is running, failed refreshes are shown in its status line and retried instead.
#include "admin_client.hpp"
#include "command_line.hpp"
#include "task_table.hpp"
#include "terminal.hpp"

#include <weir/core/result.hpp>

#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace weir::tool {
namespace {

using steady = std::chrono::steady_clock;

void print(std::FILE* f, std::string_view s) { std::fwrite(s.data(), 1, s.size(), f); }

weir::result<void> flush_stdout() {
  if (std::fflush(stdout) != 0 || std::ferror(stdout))
    return weir::unexpected(std::error_code(errno, std::system_category()),
                            "cannot write to stdout");
  return {};
}

// ---- weir dump ----

weir::result<void> run_dump(const admin_client& admin, const options& o) {
  std::vector<std::string> query;
  if (o.json) query.emplace_back("format=json");
  if (!o.state.empty()) query.push_back("state=" + o.state);
  if (!o.min_wait_ms.empty()) query.push_back("min_wait_ms=" + query_escape(o.min_wait_ms));
  if (!o.name.empty()) query.push_back("name=" + query_escape(o.name));
  std::string path = "/debug/tasks";
  for (std::size_t i = 0; i < query.size(); ++i) path += (i ? "&" : "?") + query[i];

  WEIR_TRY_ASSIGN(const std::string body, admin.fetch(path));
  print(stdout, body);
  return flush_stdout();
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

weir::result<task_snapshot> fetch_snapshot(const admin_client& admin) {
  WEIR_TRY_ASSIGN(const std::string body, admin.fetch(tasks_path));
  auto snap = parse_task_snapshot(body);
  if (!snap)
    return weir::unexpected(
        std::move(snap).error().with_context("bad reply from " + admin.address() + "/debug/tasks"));
  return snap;
}

// A refresh that fails keeps the last table and says why in the status line.
void refresh(const admin_client& admin, top_state& st) {
  auto snap = fetch_snapshot(admin);
  if (!snap) {
    st.message = "connection lost: " + error_text(snap.error()) + ", retrying";
    st.message_is_error = true;
    return;
  }
  st.snapshot = std::move(*snap);
  st.message = "updated " + clock_text(st.snapshot->time_ms);
  st.message_is_error = false;
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

weir::result<void> run_top(const admin_client& admin, const options& o) {
  top_state st;
  // The first reply must come, or the user gets an error at once: a wrong port or token is
  // better told than retried behind a full screen.
  WEIR_TRY_ASSIGN(st.snapshot, fetch_snapshot(admin));
  st.message = "updated " + clock_text(st.snapshot->time_ms);

  if (o.once) {
    for (const screen_line& l : frame(admin, st, terminal_size(STDOUT_FILENO))) {
      std::string text = l.text;
      while (!text.empty() && text.back() == ' ') text.pop_back();
      print(stdout, text + "\n");
    }
    return flush_stdout();
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
    WEIR_TRY(screen.paint(lines, size.cols, cursor,
                          screen.take_redraw() || std::exchange(st.repaint, false)));

    int timeout_ms = -1;
    if (!st.paused) {
      const auto left =
          std::chrono::ceil<std::chrono::milliseconds>(next_refresh - steady::now()).count();
      timeout_ms = static_cast<int>(std::max<long long>(0, left));
    }
    pollfd p{STDIN_FILENO, POLLIN, 0};
    const int n = ::poll(&p, keys_open ? 1 : 0, timeout_ms);
    if (n < 0 && errno != EINTR)
      return weir::unexpected(std::error_code(errno, std::system_category()), "poll");
    if (n > 0) {
      char buf[256];
      const ssize_t got = ::read(STDIN_FILENO, buf, sizeof buf);
      if (got > 0) {
        if (!handle_keys(st, std::string_view(buf, static_cast<std::size_t>(got)))) return {};
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

weir::result<void> run(const options& o) {
  WEIR_TRY_ASSIGN(const admin_client admin, admin_client::make(o.address, o.token));
  return o.command == "top" ? run_top(admin, o) : run_dump(admin, o);
}

}  // namespace
}  // namespace weir::tool

int main(int argc, char** argv) {
  const weir::tool::parse_outcome parsed = weir::tool::parse_command_line(argc, argv);
  if (!parsed.run) {
    std::fputs(parsed.text.c_str(), parsed.exit_code == 0 ? stdout : stderr);
    return parsed.exit_code;
  }
  if (auto r = weir::tool::run(*parsed.run); !r) {
    std::fprintf(stderr, "weir: %s\n", weir::tool::error_text(r.error()).c_str());
    return 1;
  }
  return 0;
}
