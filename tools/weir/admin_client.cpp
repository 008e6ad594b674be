#include "admin_client.hpp"

#include <weir/http/parser.hpp>

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <memory>
#include <system_error>

namespace weir::tool {
namespace {

using steady = std::chrono::steady_clock;

constexpr std::size_t max_reply_bytes = std::size_t{64} << 20;
constexpr int max_interim_replies = 32;

class unique_fd {
 public:
  explicit unique_fd(int fd) noexcept : fd_(fd) {}
  unique_fd(const unique_fd&) = delete;
  unique_fd& operator=(const unique_fd&) = delete;
  ~unique_fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const noexcept { return fd_; }
  int release() noexcept { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

// getaddrinfo()'s own codes (EAI_*), so that a failed look-up is an error_code like the rest.
class resolver_category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "getaddrinfo"; }
  std::string message(int ev) const override { return ::gai_strerror(ev); }
};

const std::error_category& resolver_errors() noexcept {
  static const resolver_category c;
  return c;
}

std::error_code last_system_error() noexcept { return {errno, std::system_category()}; }

std::string seconds_text(std::chrono::milliseconds d) {
  const auto ms = d.count();
  return ms % 1000 ? std::to_string(ms / 1000) + "." + std::to_string(ms % 1000 / 100) + " s"
                   : std::to_string(ms / 1000) + " s";
}

// Waits until `fd` reports one of `events`; errc::timed_out when `deadline` passes first.
// Resumes after EINTR.
weir::result<void> wait_for(int fd, short events, steady::time_point deadline) {
  for (;;) {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - steady::now());
    pollfd p{fd, events, 0};
    const int n = ::poll(&p, 1, left.count() > 0 ? static_cast<int>(left.count()) : 0);
    if (n > 0) return {};
    if (n == 0 && steady::now() >= deadline) return weir::unexpected(errc::timed_out);
    if (n < 0 && errno != EINTR) return weir::unexpected(last_system_error(), "poll");
  }
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// The first line of `text`, printable, for a message.
std::string first_line(std::string_view text) {
  text = trim(text.substr(0, text.find('\n')));
  if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
  std::string out(text.substr(0, 200));
  for (char& c : out)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  return out;
}

bool has_control(std::string_view s) {
  for (char c : s)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return true;
  return false;
}

weir::unexpected bad_reply(std::string_view why) {
  return weir::unexpected(errc::invalid_input, why);
}

// Why the head at the start of `raw` could not be read, the parser having said `s` (`more`
// at the end of the reply, or `error`). Something that does not even start like HTTP (an SSH
// or database port) is named so; an error in the status line quotes it.
weir::unexpected head_error(std::string_view raw, http::parse_status s,
                            const http::parse_error& e) {
  std::string_view start = raw;
  while (start.substr(0, 2) == "\r\n") start.remove_prefix(2);  // skipped by the parser too
  if (start.find('\n') == std::string_view::npos && s == http::parse_status::more)
    return bad_reply("no complete status line");
  if (!start.starts_with("HTTP/")) return bad_reply("not HTTP: '" + first_line(start) + "'");
  if (s == http::parse_status::more) return bad_reply("head cut short");
  // The status line alone, given to a parser of its own: refused too, the fault is in it.
  std::string line(start.substr(0, start.find('\n')));
  if (!line.empty() && line.back() == '\r') line.pop_back();
  line += "\r\n\r\n";
  http::response_parser alone;
  if (alone.parse(line, http::method::get) == http::parse_status::error)
    return bad_reply(std::string(e.reason) + ": '" + first_line(start) + "'");
  return bad_reply(e.reason);
}

// The chunked body at the start of `in` (RFC 9112 §7.1), decoded by weir::http's decoder.
weir::result<std::string> dechunk(std::string_view in, const http::limits& lim) {
  http::chunked_decoder d(lim);
  std::string out;
  for (;;) {
    const http::chunked_decoder::step s = d.decode(in);
    in.remove_prefix(s.consumed);
    switch (s.kind) {
      case http::chunk_event::data: out.append(s.data); break;
      case http::chunk_event::trailer: break;  // trailers are of no use here
      case http::chunk_event::done: return out;
      case http::chunk_event::more: return bad_reply("chunked body cut short");
      case http::chunk_event::error:
        if (d.error().status == 413)  // the decoder's words speak of a request
          return weir::unexpected(
              errc::limit_exceeded,
              "chunked body over " + std::to_string(lim.body_bytes >> 20) + " MiB");
        return bad_reply("chunked body: " + std::string(d.error().reason));
    }
  }
}

}  // namespace

std::string error_text(const weir::error& e) {
  if (e.category() == weir_category() && !e.context().empty()) return std::string(e.context());
  return e.message();
}

std::string_view http_reply::header(std::string_view name) const {
  for (const auto& [n, v] : headers)
    if (n == name) return v;
  return {};
}

weir::result<http_reply> parse_http_reply(std::string_view raw) {
  http::limits lim;
  lim.body_bytes = max_reply_bytes;
  for (int interim = 0;; ++interim) {
    http::response_parser p(lim);
    if (const auto s = p.parse(raw, http::method::get); s != http::parse_status::done)
      return head_error(raw, s, p.error());
    const http::response_head& h = p.head();
    if (h.status < 200 && h.status != 101) {  // interim: the final reply follows
      if (interim == max_interim_replies)
        return bad_reply("more than " + std::to_string(max_interim_replies) + " interim replies");
      raw.remove_prefix(p.head_size());
      continue;
    }
    http_reply r;
    r.status = h.status;
    r.reason = std::string(trim(h.reason));
    for (const http::header_field& f : h.headers)
      r.headers.emplace_back(lower(f.name), std::string(f.value));
    const std::string_view rest = raw.substr(p.head_size());
    switch (h.body) {
      case http::framing::none: break;
      case http::framing::length:
        if (rest.size() < h.content_length)
          return bad_reply("body cut short: " + std::to_string(rest.size()) + " of " +
                           std::to_string(h.content_length) + " bytes");
        r.body = std::string(rest.substr(0, h.content_length));
        break;
      case http::framing::chunked: {
        WEIR_TRY_ASSIGN(r.body, dechunk(rest, lim));
        break;
      }
      case http::framing::until_close: r.body = std::string(rest); break;
    }
    return r;
  }
}

std::string query_escape(std::string_view s) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += ch;
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

weir::result<admin_client> admin_client::make(std::string_view address, std::string token) {
  const std::string given(address);
  auto bad = [&given](std::string_view why) {
    return weir::unexpected(errc::invalid_input,
                            "bad address '" + first_line(given) + "': " + std::string(why));
  };
  if (address.substr(0, 8) == "https://")
    return bad("the admin endpoint speaks plain HTTP, not https");
  if (address.substr(0, 7) == "http://") address.remove_prefix(7);
  while (!address.empty() && address.back() == '/') address.remove_suffix(1);

  std::string_view host, port;
  if (!address.empty() && address.front() == '[') {
    const std::size_t close = address.find(']');
    if (close == std::string_view::npos || address.substr(close + 1, 1) != ":")
      return bad("want [IPV6]:PORT");
    host = address.substr(1, close - 1);
    port = address.substr(close + 2);
  } else {
    const std::size_t colon = address.rfind(':');
    if (colon == std::string_view::npos) return bad("want HOST:PORT");
    host = address.substr(0, colon);
    port = address.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) return bad("IPv6 addresses go in brackets");
  }
  unsigned n = 0;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), n);
  if (port.empty() || ec != std::errc() || end != port.data() + port.size() || n == 0 || n > 65535)
    return bad("the port must be a number from 1 to 65535");
  if (has_control(host) || host.find_first_of(" /?#@") != std::string_view::npos)
    return bad("not a host name");
  if (has_control(token))
    return weir::unexpected(errc::invalid_input, "the token contains control characters");

  admin_client c;
  c.host_ = host.empty() ? std::string("127.0.0.1") : std::string(host);
  c.port_ = std::string(port);
  c.address_ = c.host_.find(':') != std::string::npos ? "[" + c.host_ + "]:" + c.port_
                                                      : c.host_ + ":" + c.port_;
  c.token_ = std::move(token);
  return c;
}

weir::result<int> admin_client::connect_socket() const {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* found = nullptr;
  if (const int rc = ::getaddrinfo(host_.c_str(), port_.c_str(), &hints, &found); rc != 0)
    return weir::unexpected(
        rc == EAI_SYSTEM ? last_system_error() : std::error_code(rc, resolver_errors()),
        "cannot resolve " + host_);
  const std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> list(found, ::freeaddrinfo);

  // One deadline for all the addresses: the caller was promised 2 s, not 2 s per address.
  const auto deadline = steady::now() + connect_timeout_;
  const std::string what = "cannot connect to " + address_;
  std::error_code why = std::make_error_code(std::errc::address_not_available);
  for (const addrinfo* ai = found; ai; ai = ai->ai_next) {
    unique_fd fd(
        ::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol));
    if (fd.get() < 0) {
      why = last_system_error();
      continue;
    }
    if (::connect(fd.get(), ai->ai_addr, ai->ai_addrlen) == 0) return fd.release();
    if (errno != EINPROGRESS) {
      why = last_system_error();
      continue;
    }
    if (auto w = wait_for(fd.get(), POLLOUT, deadline); !w) {
      if (w.error() == errc::timed_out)
        return weir::unexpected(errc::timed_out,
                                what + ": no answer within " + seconds_text(connect_timeout_));
      return weir::unexpected(std::move(w).error().with_context(what));
    }
    int err = 0;
    socklen_t len = sizeof err;
    if (::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
    if (err == 0) return fd.release();
    why = std::error_code(err, std::system_category());
  }
  return weir::unexpected(why, what);
}

weir::result<http_reply> admin_client::get(std::string_view path) const {
  if (has_control(path))
    return weir::unexpected(errc::invalid_input, "bad path: control characters");
  const std::string where = address_ + std::string(path.substr(0, path.find('?')));
  WEIR_TRY_ASSIGN(const int connected, connect_socket());
  unique_fd fd(connected);

  std::string request = "GET " + std::string(path) + " HTTP/1.1\r\nHost: " + address_ +
                        "\r\nUser-Agent: weir-tool\r\nAccept: */*\r\nConnection: close\r\n";
  if (!token_.empty()) request += "Authorization: Bearer " + token_ + "\r\n";
  request += "\r\n";
  std::string_view out = request;
  while (!out.empty()) {
    const ssize_t n = ::send(fd.get(), out.data(), out.size(), MSG_NOSIGNAL);
    if (n >= 0) {
      out.remove_prefix(static_cast<std::size_t>(n));
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      if (auto w = wait_for(fd.get(), POLLOUT, steady::now() + io_timeout_); !w) {
        if (w.error() == errc::timed_out)
          return weir::unexpected(errc::timed_out, address_ + " accepts no request within " +
                                                       seconds_text(io_timeout_));
        return weir::unexpected(std::move(w).error().with_context("sending to " + address_));
      }
    } else if (errno != EINTR) {
      return weir::unexpected(last_system_error(), "cannot send to " + address_);
    }
  }

  std::string raw;
  char buf[16384];
  for (;;) {
    const ssize_t n = ::recv(fd.get(), buf, sizeof buf, 0);
    if (n > 0) {
      raw.append(buf, static_cast<std::size_t>(n));
      if (raw.size() > max_reply_bytes)
        return weir::unexpected(errc::limit_exceeded, "the reply from " + where + " is over " +
                                                          std::to_string(max_reply_bytes >> 20) +
                                                          " MiB");
    } else if (n == 0) {
      break;
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      if (auto w = wait_for(fd.get(), POLLIN, steady::now() + io_timeout_); !w) {
        if (w.error() == errc::timed_out)
          return weir::unexpected(
              errc::timed_out, "no reply from " + where + " within " + seconds_text(io_timeout_));
        return weir::unexpected(std::move(w).error().with_context("reading from " + address_));
      }
    } else if (errno != EINTR) {
      return weir::unexpected(last_system_error(), "cannot read from " + address_);
    }
  }
  if (raw.empty())
    return weir::unexpected(errc::eof, address_ + " closed the connection without a reply");
  auto reply = parse_http_reply(raw);
  if (!reply)
    return weir::unexpected(std::move(reply).error().with_context("bad reply from " + where));
  return reply;
}

weir::result<std::string> admin_client::fetch(std::string_view path) const {
  WEIR_TRY_ASSIGN(http_reply r, get(path));
  if (r.status == 200) return std::move(r.body);
  const std::string what = std::to_string(r.status) + " from " + address_ +
                           std::string(path.substr(0, path.find('?'))) + ": ";
  if (r.status == 401 || r.status == 403)
    return weir::unexpected(errc::invalid_input, what + "bad or missing token (use --token)");
  if (r.status == 404)
    return weir::unexpected(errc::invalid_input,
                            what + "not found (is this a weir admin endpoint?)");
  std::string detail = first_line(r.body);
  if (detail.empty()) detail = r.reason.empty() ? "unexpected status" : first_line(r.reason);
  return weir::unexpected(errc::invalid_input, what + detail);
}

}  // namespace weir::tool
