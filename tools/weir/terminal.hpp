// The terminal side of `weir top`: its size, and a full-screen session that paints frames from
// task_table.hpp with ANSI escapes.
//
//   full_screen screen;                        // alternate screen, cursor hidden, keys unbuffered
//   for (;;) {
//     const term_size size = terminal_size(STDOUT_FILENO);
//     WEIR_TRY(screen.paint(render_frame({... .width = size.cols, .height = size.rows}),
//                           size.cols, 0, screen.take_redraw()));
//     ... poll(STDIN_FILENO), read keys ...
//   }                                          // ~full_screen puts the terminal back
//
// While a full_screen lives, stdin (when it is a terminal) has no line editing and no echo
// (ICANON, ECHO, IEXTEN off; ISIG stays on, so Ctrl-C is SIGINT and Ctrl-Z is SIGTSTP). The
// terminal is put back on every way out: the destructor (a return, an error returned, or an
// exception unwinding), and signal handlers for SIGINT, SIGTERM, SIGHUP and SIGQUIT, which
// restore and then die of the same signal so the shell sees it. SIGTSTP restores before
// stopping; SIGCONT re-enters and asks for a redraw, as does SIGWINCH. The handlers only call
// write(), tcsetattr() and sigaction() (async-signal-safe), so they may interrupt anything, a
// blocking connect() included.
//
// One full_screen at a time per process: the handlers work on process-wide state.
#pragma once

#include "task_table.hpp"

#include <weir/core/result.hpp>

#include <cstddef>
#include <vector>

namespace weir::tool {

struct term_size {
  std::size_t cols = 80;
  std::size_t rows = 24;
};

// The size of the terminal on `fd` (TIOCGWINSZ); 80x24 when `fd` is not a terminal.
term_size terminal_size(int fd);

class full_screen {
 public:
  full_screen();
  ~full_screen();
  full_screen(const full_screen&) = delete;
  full_screen& operator=(const full_screen&) = delete;

  // Whether the screen must be painted whole (first frame, window resized, process continued)
  // since the last call.
  bool take_redraw();

  // Paints `lines` from the top row, each cleared to the end of the line; heading lines in
  // reverse video across `cols`, alert lines in bold red. `cursor_col` (1-based) shows the
  // cursor there on the last line (for the filter prompt); 0 hides it. `clear` wipes the screen
  // first. The error is the system's when stdout cannot be written.
  weir::result<void> paint(const std::vector<screen_line>& lines, std::size_t cols,
                           std::size_t cursor_col, bool clear);
};

}  // namespace weir::tool
