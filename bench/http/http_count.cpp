// http_count: the fixed-work HTTP client of bench/http/run.sh's instruction-count pass. One
// thread, no weir, no Boost.
//
//   http_count --port P --conns C --requests N [--host 127.0.0.1] [--seconds LIMIT]
//
// Opens C keep-alive connections (TCP_NODELAY) and has each send exactly N requests
// "GET / HTTP/1.1" one after the other: the next request of a connection goes out once the whole
// response to the previous one has arrived (status line, headers up to "\r\n\r\n", then
// Content-Length bytes of body). A response that is not "HTTP/1.x 200", has no Content-Length,
// or whose body is not "Hello, World!" counts as an error and closes its connection, as does a
// connection the server closes early. The connections then close and the program prints one line
// of JSON:
//   {"conns":C,"requests_per_conn":N,"requests":COMPLETED,"errors":E,"seconds":S}
// and exits 0 when every connection completed its N requests, 1 otherwise (or after LIMIT
// seconds, default 600).
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace {

struct connection {
  int fd = -1;
  long remaining = 0;  // requests still to send, the one in flight included
  std::string in;
  std::size_t sent = 0;  // bytes of the current request written
  bool failed = false;
};

constexpr std::string_view expected_body = "Hello, World!";

// Returns the size of the complete response at the start of `in`, 0 when more bytes are needed,
// -1 when the response is not the expected one.
long parse_response(std::string_view in) {
  std::size_t end = in.find("\r\n\r\n");
  if (end == std::string_view::npos) return in.size() > 65536 ? -1 : 0;
  std::string_view head = in.substr(0, end + 2);
  if (!(head.starts_with("HTTP/1.1 200 ") || head.starts_with("HTTP/1.0 200 "))) return -1;
  long length = -1;
  std::size_t pos = head.find("\r\n") + 2;
  while (pos < head.size()) {
    std::size_t eol = head.find("\r\n", pos);
    std::string_view line = head.substr(pos, eol - pos);
    pos = eol + 2;
    std::size_t colon = line.find(':');
    if (colon == 14 && strncasecmp(line.data(), "content-length", 14) == 0) {
      std::string_view value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
      while (!value.empty() && value.back() == ' ') value.remove_suffix(1);
      if (std::from_chars(value.data(), value.data() + value.size(), length).ec != std::errc{})
        return -1;
    }
  }
  if (length < 0) return -1;  // chunked or close-delimited: not what the peers send
  std::size_t total = end + 4 + static_cast<std::size_t>(length);
  if (in.size() < total) return 0;
  if (in.substr(end + 4, length) != expected_body) return -1;
  return static_cast<long>(total);
}

[[noreturn]] void usage() {
  std::fprintf(stderr,
               "usage: http_count --port P --conns C --requests N [--host ADDR] [--seconds S]\n");
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  std::string host = "127.0.0.1";
  int port = 0;
  long conns = 0, requests = 0;
  double limit = 600;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string_view opt = argv[i];
    const char* v = argv[i + 1];
    if (opt == "--port")
      port = std::atoi(v);
    else if (opt == "--conns")
      conns = std::atol(v);
    else if (opt == "--requests")
      requests = std::atol(v);
    else if (opt == "--host")
      host = v;
    else if (opt == "--seconds")
      limit = std::atof(v);
    else
      usage();
  }
  if (argc % 2 == 0 || port <= 0 || port > 65535 || conns <= 0 || requests <= 0) usage();
  std::signal(SIGPIPE, SIG_IGN);
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }

  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  if (inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1) usage();
  const std::string request = "GET / HTTP/1.1\r\nHost: " + host + ":" + std::to_string(port) +
                              "\r\nUser-Agent: http_count\r\nAccept: */*\r\n\r\n";

  int ep = epoll_create1(EPOLL_CLOEXEC);
  std::vector<connection> cs(conns);
  long errors = 0, completed = 0, live = 0;
  auto fail = [&](connection& c) {
    if (c.failed || c.fd < 0) return;
    c.failed = true;
    ++errors;
    --live;
    close(c.fd);  // also removes it from the epoll set
    c.fd = -1;
  };
  auto t0 = std::chrono::steady_clock::now();
  for (long i = 0; i < conns; ++i) {
    connection& c = cs[i];
    c.fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c.fd < 0 || connect(c.fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      std::fprintf(stderr, "http_count: connect: %s\n", std::strerror(errno));
      if (c.fd >= 0) close(c.fd);
      c.fd = -1;
      c.failed = true;
      ++errors;
      continue;
    }
    int one = 1;
    setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    fcntl(c.fd, F_SETFL, fcntl(c.fd, F_GETFL) | O_NONBLOCK);
    c.remaining = requests;
    c.in.reserve(4096);
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT;  // EPOLLOUT: send the first request
    ev.data.u64 = static_cast<std::uint64_t>(i);
    epoll_ctl(ep, EPOLL_CTL_ADD, c.fd, &ev);
    ++live;
  }

  std::vector<epoll_event> events(256);
  char buf[16384];
  while (live > 0) {
    double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (elapsed > limit) {
      std::fprintf(stderr, "http_count: time limit of %g s reached\n", limit);
      for (auto& c : cs) fail(c);
      break;
    }
    int n = epoll_wait(ep, events.data(), static_cast<int>(events.size()), 1000);
    if (n < 0 && errno != EINTR) {
      std::perror("http_count: epoll_wait");
      return 1;
    }
    for (int k = 0; k < n; ++k) {
      connection& c = cs[events[k].data.u64];
      if (c.fd < 0) continue;
      if (events[k].events & EPOLLOUT) {  // (the rest of) the current request
        while (c.sent < request.size()) {
          ssize_t w = send(c.fd, request.data() + c.sent, request.size() - c.sent, MSG_NOSIGNAL);
          if (w < 0) {
            if (errno != EAGAIN) fail(c);
            break;
          }
          c.sent += static_cast<std::size_t>(w);
        }
        if (c.fd < 0) continue;
        if (c.sent == request.size()) {
          epoll_event ev{};
          ev.events = EPOLLIN;
          ev.data.u64 = events[k].data.u64;
          epoll_ctl(ep, EPOLL_CTL_MOD, c.fd, &ev);
        }
      }
      if (events[k].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
        ssize_t r = recv(c.fd, buf, sizeof buf, 0);
        if (r <= 0) {
          if (r < 0 && errno == EAGAIN) continue;
          std::fprintf(stderr, "http_count: connection closed early (%s)\n",
                       r < 0 ? std::strerror(errno) : "eof");
          fail(c);
          continue;
        }
        c.in.append(buf, static_cast<std::size_t>(r));
        long size = parse_response(c.in);
        if (size < 0) {
          std::fprintf(stderr, "http_count: unexpected response: %.80s\n", c.in.c_str());
          fail(c);
          continue;
        }
        if (size == 0) continue;
        if (static_cast<std::size_t>(size) != c.in.size() || c.sent != request.size()) {
          std::fprintf(stderr, "http_count: response before its request, or unrequested bytes\n");
          fail(c);
          continue;
        }
        c.in.clear();
        ++completed;
        if (--c.remaining == 0) {
          close(c.fd);
          c.fd = -1;
          --live;
          continue;
        }
        c.sent = 0;
        ssize_t w = send(c.fd, request.data(), request.size(), MSG_NOSIGNAL);
        if (w < 0 && errno != EAGAIN) {
          fail(c);
          continue;
        }
        c.sent = w < 0 ? 0 : static_cast<std::size_t>(w);
        if (c.sent < request.size()) {
          epoll_event ev{};
          ev.events = EPOLLIN | EPOLLOUT;
          ev.data.u64 = events[k].data.u64;
          epoll_ctl(ep, EPOLL_CTL_MOD, c.fd, &ev);
        }
      }
    }
  }
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf(
      "{\"conns\":%ld,\"requests_per_conn\":%ld,\"requests\":%ld,\"errors\":%ld,"
      "\"seconds\":%.3f}\n",
      conns, requests, completed, errors, seconds);
  return completed == conns * requests && errors == 0 ? 0 : 1;
}
