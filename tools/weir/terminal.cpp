#include "terminal.hpp"

#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <string>
#include <system_error>

namespace weir::tool {
namespace {

// Process-wide, as signal handlers see it. Written before the handlers are installed and after
// they are removed, except for the sig_atomic_t flags.
termios saved_termios;           // stdin's settings before the session
termios session_termios;         // and during it
bool stdin_is_terminal = false;  // else there is nothing to set or restore on stdin
volatile std::sig_atomic_t active = 0;
volatile std::sig_atomic_t redraw = 0;

constexpr char enter_seq[] = "\x1b[?1049h\x1b[?25l";         // alternate screen, hide cursor
constexpr char leave_seq[] = "\x1b[0m\x1b[?25h\x1b[?1049l";  // plain text, show cursor, back

constexpr int fatal_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};

// Both async-signal-safe.
void enter_screen() noexcept {
  if (stdin_is_terminal) ::tcsetattr(STDIN_FILENO, TCSANOW, &session_termios);
  [[maybe_unused]] auto n = ::write(STDOUT_FILENO, enter_seq, sizeof enter_seq - 1);
}

void leave_screen() noexcept {
  [[maybe_unused]] auto n = ::write(STDOUT_FILENO, leave_seq, sizeof leave_seq - 1);
  // TCSAFLUSH: keys typed but not read are dropped rather than handed to the shell.
  if (stdin_is_terminal) ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_termios);
}

void set_handler(int sig, void (*handler)(int)) noexcept {
  struct sigaction sa {};
  sa.sa_handler = handler;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: poll() on stdin returns EINTR, and the loop redraws
  ::sigaction(sig, &sa, nullptr);
}

// Restores, then dies of `sig`: with the default action back, the raised signal is delivered
// as soon as the handler returns (it is blocked while the handler runs).
extern "C" void on_fatal_signal(int sig) {
  if (active) leave_screen();
  active = 0;  // a SIGCONT handled before the process dies must not enter again
  set_handler(sig, SIG_DFL);
  ::raise(sig);
}

// Ctrl-Z: restore, then stop by the default action; on_continue picks up from there.
extern "C" void on_stop(int) {
  const int saved_errno = errno;
  if (active) leave_screen();
  set_handler(SIGTSTP, SIG_DFL);
  ::raise(SIGTSTP);
  errno = saved_errno;
}

extern "C" void on_continue(int) {
  const int saved_errno = errno;
  set_handler(SIGTSTP, on_stop);
  if (active) enter_screen();
  redraw = 1;
  errno = saved_errno;
}

extern "C" void on_resize(int) { redraw = 1; }

bool write_all(std::string_view s) {
  while (!s.empty()) {
    const ssize_t n = ::write(STDOUT_FILENO, s.data(), s.size());
    if (n < 0 && errno == EINTR) continue;
    if (n == 0) errno = EIO;  // no progress and no reason given
    if (n <= 0) return false;
    s.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

}  // namespace

term_size terminal_size(int fd) {
  winsize ws{};
  if (::ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 && ws.ws_row > 0) {
    return {ws.ws_col, ws.ws_row};
  }
  return {};
}

full_screen::full_screen() {
  stdin_is_terminal = ::isatty(STDIN_FILENO) && ::tcgetattr(STDIN_FILENO, &saved_termios) == 0;
  if (stdin_is_terminal) {
    session_termios = saved_termios;
    session_termios.c_lflag &= ~static_cast<tcflag_t>(ICANON | ECHO | IEXTEN);
    session_termios.c_cc[VMIN] = 1;
    session_termios.c_cc[VTIME] = 0;
  }
  // Handlers first: a signal between entering and installing them would leave the terminal
  // raw. They do nothing until `active` is set.
  for (int sig : fatal_signals) set_handler(sig, on_fatal_signal);
  set_handler(SIGTSTP, on_stop);
  set_handler(SIGCONT, on_continue);
  set_handler(SIGWINCH, on_resize);
  redraw = 1;
  enter_screen();
  active = 1;
}

full_screen::~full_screen() {
  active = 0;
  for (int sig : fatal_signals) set_handler(sig, SIG_DFL);
  for (int sig : {SIGTSTP, SIGCONT, SIGWINCH}) set_handler(sig, SIG_DFL);
  leave_screen();
}

bool full_screen::take_redraw() {
  if (!redraw) return false;
  redraw = 0;
  return true;
}

weir::result<void> full_screen::paint(const std::vector<screen_line>& lines, std::size_t cols,
                                      std::size_t cursor_col, bool clear) {
  // One write per frame, positioned line by line: no scrolling, no flicker. A line as wide as
  // the screen gets no "erase to end of line": with the cursor parked on the last column, that
  // would erase the last character.
  std::string out = "\x1b[?25l";
  if (clear) out += "\x1b[2J";
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const screen_line& l = lines[i];
    const std::size_t w = display_width(l.text);
    out += "\x1b[" + std::to_string(i + 1) + ";1H";
    if (l.style == line_style::heading) out += "\x1b[7m";
    if (l.style == line_style::alert) out += "\x1b[1;31m";
    out += l.text;
    if (l.style == line_style::heading && w < cols) out.append(cols - w, ' ');
    if (l.style != line_style::plain) out += "\x1b[0m";
    if (w < cols && l.style != line_style::heading) out += "\x1b[K";
  }
  if (cursor_col > 0 && !lines.empty())
    out += "\x1b[" + std::to_string(lines.size()) + ";" + std::to_string(cursor_col) + "H\x1b[?25h";
  if (!write_all(out))
    return weir::unexpected(std::error_code(errno, std::system_category()), "writing the screen");
  return {};
}

}  // namespace weir::tool
