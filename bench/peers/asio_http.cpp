// asio_http: the Boost.Asio peer of weir's HTTP hello benchmark (bench/http/run.sh).
//
//   asio_http PORT [WORKERS]   listens on 0.0.0.0:PORT, prints "ready" once listening, answers
//                              every request with 200 "Hello, World!" (text/plain), exits 0 on
//                              SIGINT or SIGTERM. WORKERS (default 1): threads.
//
// Written as asio_echo is (bench/echo/asio_echo.cpp): C++20 coroutines (co_spawn, awaitable), the
// executor type spelled concretely, errors through redirect_error, TCP_NODELAY. Each worker is
// one thread running its own io_context (concurrency hint 1) with its own acceptor bound to the
// port with SO_REUSEPORT, so the kernel spreads the connections over the workers and nothing is
// shared between them (like weir's shards). All acceptors are bound before "ready" is printed.
//
// HTTP/1.1, minimal but correct for what it serves: each connection reads into a fixed 8 KiB
// buffer, answers every complete request head ("\r\n\r\n") already in it (skipping a
// Content-Length body), in order, with all those answers batched into one write (pipelining),
// then reads again. Keep-alive by default in HTTP/1.1 and on "Connection: keep-alive" in
// HTTP/1.0; "Connection: close" closes after the answer. A head that does not fit in the
// buffer gets 431, a request with Transfer-Encoding or a malformed request line 400, and the
// connection is closed. The response carries Date (formatted once per second per thread),
// Content-Type, Content-Length, like nginx's, hyper's and Go's.
#include <strings.h>
#include <sys/socket.h>

#include <array>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

namespace asio = boost::asio;
using asio::ip::tcp;
using boost::system::error_code;

namespace {

using executor = asio::io_context::executor_type;
using socket_type = asio::basic_stream_socket<tcp, executor>;
using acceptor_type = asio::basic_socket_acceptor<tcp, executor>;
template <typename T = void>
using awaitable = asio::awaitable<T, executor>;
constexpr asio::use_awaitable_t<executor> use_awaitable;
using reuse_port = asio::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>;

constexpr std::string_view body = "Hello, World!";

// "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n", re-formatted when the second changes.
class date_header {
 public:
  std::string_view get() {
    std::time_t now = std::time(nullptr);
    if (now != last_) {
      last_ = now;
      std::tm tm;
      gmtime_r(&now, &tm);
      len_ = std::strftime(buf_, sizeof buf_, "Date: %a, %d %b %Y %H:%M:%S GMT\r\n", &tm);
    }
    return {buf_, len_};
  }

 private:
  std::time_t last_ = -1;
  char buf_[64];
  std::size_t len_ = 0;
};
thread_local date_header date;

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}

bool has_token(std::string_view value, std::string_view token) {  // "keep-alive, Upgrade"
  while (!value.empty()) {
    std::size_t comma = value.find(',');
    std::string_view item = value.substr(0, comma);
    while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
    while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
    if (iequals(item, token)) return true;
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return false;
}

struct request_info {
  bool ok = false;  // false: answer 400 and close
  bool keep_alive = false;
  bool http10 = false;
  std::size_t body_length = 0;
};

// head: from the request line to the end of the last header line (without the blank line).
request_info parse_head(std::string_view head) {
  request_info info;
  std::size_t eol = head.find("\r\n");
  std::string_view line = head.substr(0, eol);
  head = eol == std::string_view::npos ? std::string_view{} : head.substr(eol + 2);
  // "METHOD SP TARGET SP HTTP/1.x"
  std::size_t sp1 = line.find(' ');
  std::size_t sp2 = line.rfind(' ');
  if (sp1 == std::string_view::npos || sp2 == sp1 || sp1 == 0) return info;
  std::string_view version = line.substr(sp2 + 1);
  if (version == "HTTP/1.1") {
    info.keep_alive = true;
  } else if (version == "HTTP/1.0") {
    info.http10 = true;
  } else {
    return info;
  }
  while (!head.empty()) {
    eol = head.find("\r\n");
    line = head.substr(0, eol);
    head = eol == std::string_view::npos ? std::string_view{} : head.substr(eol + 2);
    std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) return info;
    std::string_view name = line.substr(0, colon);
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
      value.remove_prefix(1);
    if (iequals(name, "content-length")) {
      while (!value.empty() && (value.back() == ' ' || value.back() == '\t'))
        value.remove_suffix(1);
      auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), info.body_length);
      if (ec != std::errc{} || end != value.data() + value.size()) return info;
    } else if (iequals(name, "transfer-encoding")) {
      return info;  // chunked request bodies: not supported
    } else if (iequals(name, "connection")) {
      if (has_token(value, "close")) info.keep_alive = false;
      if (has_token(value, "keep-alive")) info.keep_alive = info.keep_alive || info.http10;
    }
  }
  info.ok = true;
  return info;
}

void append_response(std::string& out, bool keep_alive, bool http10) {
  out += "HTTP/1.1 200 OK\r\n";
  out += date.get();
  out += "Content-Type: text/plain\r\nContent-Length: 13\r\n";
  if (!keep_alive) {
    out += "Connection: close\r\n";
  } else if (http10) {
    out += "Connection: keep-alive\r\n";
  }
  out += "\r\n";
  out += body;
}

void append_error(std::string& out, std::string_view status) {
  out += "HTTP/1.1 ";
  out += status;
  out += "\r\n";
  out += date.get();
  out += "Content-Length: 0\r\nConnection: close\r\n\r\n";
}

awaitable<> session(socket_type socket) {
  std::array<char, 8192> in;
  std::size_t have = 0;  // bytes in `in`
  std::size_t scan = 0;  // where the search for "\r\n\r\n" resumes
  std::string out;
  out.reserve(2048);
  error_code ec;
  for (;;) {
    std::size_t n = co_await socket.async_read_some(
        asio::buffer(in.data() + have, in.size() - have), asio::redirect_error(use_awaitable, ec));
    if (ec) co_return;  // eof or reset: the client is done with this connection
    have += n;
    std::string_view data(in.data(), have);
    std::size_t pos = 0;  // start of the first unanswered request
    bool close = false;
    for (;;) {
      std::size_t end = data.find("\r\n\r\n", scan > pos + 3 ? scan - 3 : pos);
      if (end == std::string_view::npos) {
        scan = have;
        break;
      }
      request_info info = parse_head(data.substr(pos, end - pos));
      if (!info.ok) {
        append_error(out, "400 Bad Request");
        close = true;
        break;
      }
      std::size_t next = end + 4 + info.body_length;
      if (next > have) {  // the body is not all here yet
        if (next - pos > in.size()) {
          append_error(out, "413 Content Too Large");
          close = true;
        }
        scan = end;  // re-parse this head once more bytes came
        break;
      }
      append_response(out, info.keep_alive, info.http10);
      pos = scan = next;
      if (!info.keep_alive) {
        close = true;
        break;
      }
    }
    if (!close && pos == 0 && have == in.size()) {  // a head larger than the buffer
      append_error(out, "431 Request Header Fields Too Large");
      close = true;
    }
    if (!out.empty()) {
      co_await asio::async_write(socket, asio::buffer(out),
                                 asio::redirect_error(use_awaitable, ec));
      out.clear();
      if (ec) co_return;
    }
    if (close) {
      socket.shutdown(tcp::socket::shutdown_send, ec);
      co_return;
    }
    if (pos > 0) {  // keep the partial request at the start of the buffer
      std::memmove(in.data(), in.data() + pos, have - pos);
      have -= pos;
      scan -= pos;
    }
  }
}

awaitable<> serve(acceptor_type acceptor) {
  for (;;) {
    error_code ec;
    socket_type socket = co_await acceptor.async_accept(asio::redirect_error(use_awaitable, ec));
    if (ec == asio::error::operation_aborted) co_return;
    if (ec) continue;  // e.g. EMFILE or a connection reset before it was accepted
    socket.set_option(tcp::no_delay(true), ec);
    asio::co_spawn(acceptor.get_executor(), session(std::move(socket)), asio::detached);
  }
}

}  // namespace

int main(int argc, char** argv) {
  unsigned short port = 0;
  unsigned workers = 1;
  if (argc < 2 || argc > 3 ||
      std::from_chars(argv[1], argv[1] + std::strlen(argv[1]), port).ec != std::errc{} ||
      (argc == 3 &&
       std::from_chars(argv[2], argv[2] + std::strlen(argv[2]), workers).ec != std::errc{}) ||
      workers < 1) {
    std::fprintf(stderr, "usage: asio_http PORT [WORKERS]\n");
    return 2;
  }
  std::vector<std::unique_ptr<asio::io_context>> contexts;
  try {
    for (unsigned i = 0; i < workers; ++i) {
      auto& ctx = *contexts.emplace_back(std::make_unique<asio::io_context>(1));
      acceptor_type acceptor(ctx.get_executor());
      tcp::endpoint endpoint(tcp::v4(), port);
      acceptor.open(endpoint.protocol());
      acceptor.set_option(asio::socket_base::reuse_address(true));
      if (workers > 1) acceptor.set_option(reuse_port(true));
      acceptor.bind(endpoint);
      acceptor.listen(asio::socket_base::max_listen_connections);
      asio::co_spawn(ctx, serve(std::move(acceptor)), asio::detached);
    }
  } catch (const boost::system::system_error& e) {
    std::fprintf(stderr, "asio_http: port %u: %s\n", port, e.what());
    return 1;
  }
  asio::signal_set signals(*contexts[0], SIGINT, SIGTERM);
  signals.async_wait([&contexts](const error_code&, int) {
    for (auto& ctx : contexts) ctx->stop();
  });
  std::puts("ready");
  std::fflush(stdout);
  std::vector<std::thread> threads;
  for (unsigned i = 1; i < workers; ++i) threads.emplace_back([&ctx = *contexts[i]] { ctx.run(); });
  contexts[0]->run();
  for (auto& t : threads) t.join();
  return 0;
}
