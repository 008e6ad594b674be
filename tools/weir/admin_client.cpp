#include "admin_client.hpp"

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <memory>

namespace weir::tool {
namespace {

using steady = std::chrono::steady_clock;

constexpr std::size_t max_reply_bytes = std::size_t{64} << 20;

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

std::string seconds_text(std::chrono::milliseconds d) {
  const auto ms = d.count();
  return ms % 1000 ? std::to_string(ms / 1000) + "." + std::to_string(ms % 1000 / 100) + " s"
                   : std::to_string(ms / 1000) + " s";
}

// Waits until `fd` reports one of `events` or `deadline` passes (false). Resumes after EINTR.
bool wait_for(int fd, short events, steady::time_point deadline) {
  for (;;) {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - steady::now());
    pollfd p{fd, events, 0};
    const int n = ::poll(&p, 1, left.count() > 0 ? static_cast<int>(left.count()) : 0);
    if (n > 0) return true;
    if (n == 0 && steady::now() >= deadline) return false;
    if (n < 0 && errno != EINTR) throw admin_error(std::string("poll: ") + std::strerror(errno));
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

// The next line of `in` from `pos`, without its CRLF (or bare LF, RFC 9112 §2.2); false when
// no line ends before the end of `in`.
bool next_line(std::string_view in, std::size_t& pos, std::string_view& line) {
  const std::size_t nl = in.find('\n', pos);
  if (nl == std::string_view::npos) return false;
  line = in.substr(pos, nl - pos);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  pos = nl + 1;
  return true;
}

// RFC 9112 §7.1: chunk-size [; ext] CRLF data CRLF ... 0 CRLF [trailers] CRLF.
std::string dechunk(std::string_view in) {
  std::string out;
  std::size_t pos = 0;
  for (;;) {
    std::string_view line;
    if (!next_line(in, pos, line)) throw admin_error("chunked body cut short");
    line = trim(line.substr(0, line.find(';')));
    std::uint64_t size = 0;
    const auto [end, ec] = std::from_chars(line.data(), line.data() + line.size(), size, 16);
    if (line.empty() || ec != std::errc() || end != line.data() + line.size())
      throw admin_error("bad chunk size '" + std::string(line.substr(0, 20)) + "'");
    if (size == 0) return out;  // trailers, if any, are of no use here
    if (size > in.size() - pos) throw admin_error("chunked body cut short");
    out.append(in.substr(pos, size));
    pos += size;
    if (in.substr(pos, 2) == "\r\n") {
      pos += 2;
    } else if (in.substr(pos, 1) == "\n") {
      pos += 1;
    } else {
      throw admin_error("chunked body cut short");
    }
  }
}

// The first line of an error body, printable, for a message.
std::string first_line(std::string_view body) {
  body = trim(body.substr(0, body.find('\n')));
  if (!body.empty() && body.back() == '\r') body.remove_suffix(1);
  std::string out(body.substr(0, 200));
  for (char& c : out)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  return out;
}

bool has_control(std::string_view s) {
  for (char c : s)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return true;
  return false;
}

}  // namespace

std::string_view http_reply::header(std::string_view name) const {
  for (const auto& [n, v] : headers)
    if (n == name) return v;
  return {};
}

http_reply parse_http_reply(std::string_view raw) {
  for (;;) {
    http_reply r;
    std::size_t pos = 0;
    std::string_view line;
    if (!next_line(raw, pos, line)) throw admin_error("no complete status line");
    // "HTTP/1.1 200 OK": version, status, reason (possibly empty).
    int status = 0;
    const char* digits = line.data() + 9;
    if (line.size() < 12 || line.substr(0, 7) != "HTTP/1." || line[8] != ' ' ||
        std::from_chars(digits, digits + 3, status).ptr != digits + 3 ||
        (line.size() > 12 && line[12] != ' '))
      throw admin_error("not HTTP: '" + first_line(line) + "'");
    r.status = status;
    r.reason = std::string(trim(line.substr(std::min<std::size_t>(13, line.size()))));
    for (;;) {
      if (!next_line(raw, pos, line)) throw admin_error("head cut short");
      if (line.empty()) break;
      const std::size_t colon = line.find(':');
      if (colon == std::string_view::npos || colon == 0)
        throw admin_error("bad header line '" + first_line(line) + "'");
      r.headers.emplace_back(lower(trim(line.substr(0, colon))),
                             std::string(trim(line.substr(colon + 1))));
    }
    raw.remove_prefix(pos);
    if (r.status >= 100 && r.status < 200 && r.status != 101) continue;  // interim: next one

    if (r.status == 204 || r.status == 304) return r;
    if (lower(r.header("transfer-encoding")).find("chunked") != std::string::npos) {
      r.body = dechunk(raw);
    } else if (const std::string_view cl = r.header("content-length"); !cl.empty()) {
      std::uint64_t len = 0;
      const auto [end, ec] = std::from_chars(cl.data(), cl.data() + cl.size(), len);
      if (ec != std::errc() || end != cl.data() + cl.size())
        throw admin_error("bad Content-Length '" + first_line(cl) + "'");
      if (raw.size() < len)
        throw admin_error("body cut short: " + std::to_string(raw.size()) + " of " +
                          std::to_string(len) + " bytes");
      r.body = std::string(raw.substr(0, len));
    } else {
      r.body = std::string(raw);  // framed by the end of the connection
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

admin_client::admin_client(std::string_view address, std::string token) : token_(std::move(token)) {
  const std::string given(address);
  auto bad = [&given](std::string_view why) {
    return admin_error("bad address '" + first_line(given) + "': " + std::string(why));
  };
  if (address.substr(0, 8) == "https://")
    throw bad("the admin endpoint speaks plain HTTP, not https");
  if (address.substr(0, 7) == "http://") address.remove_prefix(7);
  while (!address.empty() && address.back() == '/') address.remove_suffix(1);

  std::string_view host, port;
  if (!address.empty() && address.front() == '[') {
    const std::size_t close = address.find(']');
    if (close == std::string_view::npos || address.substr(close + 1, 1) != ":")
      throw bad("want [IPV6]:PORT");
    host = address.substr(1, close - 1);
    port = address.substr(close + 2);
  } else {
    const std::size_t colon = address.rfind(':');
    if (colon == std::string_view::npos) throw bad("want HOST:PORT");
    host = address.substr(0, colon);
    port = address.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) throw bad("IPv6 addresses go in brackets");
  }
  unsigned n = 0;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), n);
  if (port.empty() || ec != std::errc() || end != port.data() + port.size() || n == 0 || n > 65535)
    throw bad("the port must be a number from 1 to 65535");
  if (has_control(host) || host.find_first_of(" /?#@") != std::string_view::npos)
    throw bad("not a host name");
  if (host.empty()) host = "127.0.0.1";
  host_ = std::string(host);
  port_ = std::string(port);
  address_ =
      host_.find(':') != std::string::npos ? "[" + host_ + "]:" + port_ : host_ + ":" + port_;
  if (has_control(token_)) throw admin_error("the token contains control characters");
}

int admin_client::connect_socket() const {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* found = nullptr;
  if (const int rc = ::getaddrinfo(host_.c_str(), port_.c_str(), &hints, &found); rc != 0)
    throw admin_error("cannot resolve " + host_ + ": " +
                      (rc == EAI_SYSTEM ? std::strerror(errno) : ::gai_strerror(rc)));
  const std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> list(found, ::freeaddrinfo);

  // One deadline for all the addresses: the caller was promised 2 s, not 2 s per address.
  const auto deadline = steady::now() + connect_timeout_;
  std::string why = "no address";
  for (const addrinfo* ai = found; ai; ai = ai->ai_next) {
    unique_fd fd(
        ::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol));
    if (fd.get() < 0) {
      why = std::strerror(errno);
      continue;
    }
    if (::connect(fd.get(), ai->ai_addr, ai->ai_addrlen) == 0) return fd.release();
    if (errno != EINPROGRESS) {
      why = std::strerror(errno);
      continue;
    }
    if (!wait_for(fd.get(), POLLOUT, deadline)) {
      why = "timed out after " + seconds_text(connect_timeout_);
      break;
    }
    int err = 0;
    socklen_t len = sizeof err;
    if (::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
    if (err == 0) return fd.release();
    why = std::strerror(err);
  }
  throw admin_error("cannot connect to " + address_ + ": " + why);
}

http_reply admin_client::get(std::string_view path) const {
  if (has_control(path)) throw admin_error("bad path: control characters");
  const std::string where = address_ + std::string(path.substr(0, path.find('?')));
  unique_fd fd(connect_socket());

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
      if (!wait_for(fd.get(), POLLOUT, steady::now() + io_timeout_))
        throw admin_error(address_ + " accepts no request: timed out after " +
                          seconds_text(io_timeout_));
    } else if (errno != EINTR) {
      throw admin_error("cannot send to " + address_ + ": " + std::strerror(errno));
    }
  }

  std::string raw;
  char buf[16384];
  for (;;) {
    const ssize_t n = ::recv(fd.get(), buf, sizeof buf, 0);
    if (n > 0) {
      raw.append(buf, static_cast<std::size_t>(n));
      if (raw.size() > max_reply_bytes)
        throw admin_error("reply from " + where + " is over " +
                          std::to_string(max_reply_bytes >> 20) + " MiB");
    } else if (n == 0) {
      break;
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      if (!wait_for(fd.get(), POLLIN, steady::now() + io_timeout_))
        throw admin_error("no reply from " + where + " within " + seconds_text(io_timeout_));
    } else if (errno != EINTR) {
      throw admin_error("cannot read from " + address_ + ": " + std::strerror(errno));
    }
  }
  if (raw.empty()) throw admin_error(address_ + " closed the connection without a reply");
  try {
    return parse_http_reply(raw);
  } catch (const admin_error& e) {
    throw admin_error("bad reply from " + where + ": " + e.what());
  }
}

std::string admin_client::fetch(std::string_view path) const {
  http_reply r = get(path);
  if (r.status == 200) return std::move(r.body);
  const std::string what = std::to_string(r.status) + " from " + address_ +
                           std::string(path.substr(0, path.find('?'))) + ": ";
  if (r.status == 401 || r.status == 403)
    throw admin_error(what + "bad or missing token (use --token)");
  if (r.status == 404) throw admin_error(what + "not found (is this a weir admin endpoint?)");
  std::string detail = first_line(r.body);
  if (detail.empty()) detail = r.reason.empty() ? "unexpected status" : first_line(r.reason);
  throw admin_error(what + detail);
}

}  // namespace weir::tool
