// What the end-to-end tests of services share: a service started as a real process (its
// ports picked by the OS, read from its first line of stdout), one-shot HTTP GETs over raw
// sockets with a receive timeout, Prometheus values, and shell commands.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <regex>
#include <stdexcept>
#include <string>
#include <vector>

namespace integration {

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

// A service process started with its ports picked by the OS (port 0); reads the line
// "listening on 127.0.0.1:P admin 127.0.0.1:A" (or "admin off": admin 0) from its stdout, or
// any other line starting "listening on " (kept in first_line).
class service {
 public:
  // `stderr_path`: where the process's stderr goes (a file, truncated); empty: the test's.
  explicit service(std::vector<std::string> args, const std::string& stderr_path = "") {
    int out[2];
    if (pipe(out) != 0) throw std::runtime_error("pipe");
    pid_ = fork();
    if (pid_ == 0) {
      dup2(out[1], 1);
      if (!stderr_path.empty()) {
        const int e = ::open(stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        dup2(e, 2);
      }
      close(out[0]);
      close(out[1]);
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
    close(out[1]);
    // The first line within 60 s; else the child is asked for a task dump (SIGQUIT: weir's
    // runtime logs every task to its stderr, which is ours) and killed, and the test fails.
    pollfd pfd{out[0], POLLIN, 0};
    if (poll(&pfd, 1, 60'000) != 1) {
      kill(pid_, SIGQUIT);
      sleep(2);
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
      pid_ = -1;
      close(out[0]);
      throw std::runtime_error("no 'listening' line from " + args[0] +
                               " within 60 s (its task dump is above)");
    }
    FILE* f = fdopen(out[0], "r");
    char line[1024] = "";
    if (!fgets(line, sizeof line, f))
      throw std::runtime_error("no 'listening' line from " + args[0]);
    first_line = line;
    unsigned p = 0, a = 0;
    if (first_line.rfind("listening on ", 0) != 0)
      throw std::runtime_error(std::string("unexpected first line: ") + line);
    // taskd's form; other services' lines (logship's) are read from first_line.
    std::sscanf(line, "listening on 127.0.0.1:%u admin 127.0.0.1:%u", &p, &a);
    port = static_cast<std::uint16_t>(p);
    admin = static_cast<std::uint16_t>(a);
    out_ = f;
  }
  ~service() {
    if (pid_ > 0) stop(SIGTERM);
    if (out_) fclose(out_);
  }
  service(const service&) = delete;
  service& operator=(const service&) = delete;
  // Sends `sig` and waits for the process: its exit code, or 128 + the signal that ended it.
  int stop(int sig = SIGTERM) {
    if (pid_ <= 0) return -1;
    kill(pid_, sig);
    int st = 0;
    waitpid(pid_, &st, 0);
    pid_ = -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  }
  // The next line of its stdout ("" at EOF or after `timeout`).
  std::string line(std::chrono::milliseconds timeout) {
    pollfd p{fileno(out_), POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(timeout.count())) != 1) return "";
    char buf[2048];
    return fgets(buf, sizeof buf, out_) ? std::string(buf) : std::string();
  }
  // Waits for it to exit by itself: its exit code, 128 + the signal that ended it, or -1 when
  // it still runs after `timeout`.
  int wait(std::chrono::milliseconds timeout) {
    for (auto end = steady::now() + timeout;; usleep(20'000)) {
      int st = 0;
      if (waitpid(pid_, &st, WNOHANG) == pid_) {
        pid_ = -1;
        return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
      }
      if (steady::now() >= end) return -1;
    }
  }
  pid_t pid() const noexcept { return pid_; }
  std::uint16_t port = 0, admin = 0;
  std::string first_line;

 private:
  pid_t pid_ = -1;
  FILE* out_ = nullptr;
};

struct reply {
  int status = 0;  // 0: no answer within the timeout (a hung request), -1: connection error
  std::string body;
  std::chrono::microseconds took{0};
};

// A blocking TCP connection to 127.0.0.1:port, or -1.
inline int connect_loopback(std::uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// One GET over a new connection with a receive timeout.
inline reply get(std::uint16_t port, const std::string& path,
                 std::chrono::milliseconds timeout = 10s) {
  reply r;
  const auto t0 = steady::now();
  const int fd = connect_loopback(port);
  if (fd < 0) {
    r.status = -1;
    return r;
  }
  timeval tv{static_cast<time_t>(timeout.count() / 1000),
             static_cast<suseconds_t>(timeout.count() % 1000 * 1000)};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  const std::string req = "GET " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  (void)!write(fd, req.data(), req.size());
  std::string in;
  char buf[8192];
  for (;;) {
    const ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EAGAIN) {  // the timeout: the request hangs
      close(fd);
      r.status = 0;
      return r;
    }
    if (n <= 0) break;
    in.append(buf, static_cast<std::size_t>(n));
  }
  close(fd);
  r.took = std::chrono::duration_cast<std::chrono::microseconds>(steady::now() - t0);
  if (in.rfind("HTTP/1.1 ", 0) != 0) {
    r.status = -1;
    return r;
  }
  r.status = std::atoi(in.c_str() + 9);
  const auto end = in.find("\r\n\r\n");
  if (end != std::string::npos) r.body = in.substr(end + 4);
  return r;
}

// Prometheus counter value of a line starting with `name` (first match), or -1.
inline long long metric(const std::string& text, const std::string& name) {
  const auto at = text.find("\n" + name + " ");
  if (at == std::string::npos) return -1;
  return std::atoll(text.c_str() + at + name.size() + 2);
}

inline std::string shell(const std::string& cmd) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  char buf[4096];
  while (std::size_t n = std::fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  pclose(p);
  return out;
}

// wrk's summary: requests, non-2xx answers and socket errors.
struct wrk_summary {
  long requests = -1, non2xx = 0, connect = 0, read = 0, write = 0, timeout = 0;
};

inline wrk_summary parse_wrk(const std::string& out) {
  wrk_summary w;
  std::smatch m;
  if (std::regex_search(out, m, std::regex(R"((\d+) requests in)"))) w.requests = std::stol(m[1]);
  if (std::regex_search(out, m, std::regex(R"(Non-2xx or 3xx responses: (\d+))")))
    w.non2xx = std::stol(m[1]);
  if (std::regex_search(out, m,
                        std::regex(R"(connect (\d+), read (\d+), write (\d+), timeout (\d+))"))) {
    w.connect = std::stol(m[1]);
    w.read = std::stol(m[2]);
    w.write = std::stol(m[3]);
    w.timeout = std::stol(m[4]);
  }
  return w;
}

// The kernel's count of connections reset because the application closed them with unread
// data (a request it never answered) or on close: summed over the network namespace.
inline long resets_on_close() {
  std::string out = shell("nstat -asz TcpExtTCPAbortOnData TcpExtTCPAbortOnClose 2>/dev/null");
  long total = 0;
  std::smatch m;
  std::regex line(R"(TcpExt\w+\s+(\d+))");
  while (std::regex_search(out, m, line)) {
    total += std::stol(m[1]);
    out = m.suffix();
  }
  return total;
}

}  // namespace integration
