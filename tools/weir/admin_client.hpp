// A blocking HTTP/1.1 GET to a weir service's admin endpoint: one request per connection
// ("Connection: close"), read until the peer closes, plain TCP. Self-contained (POSIX sockets,
// no weir runtime), as `weir` must work against a service that is stuck.
//
//   admin_client admin("127.0.0.1:9901", token);          // throws admin_error if malformed
//   std::string body = admin.fetch("/debug/tasks?format=json");
//   // throws admin_error: "cannot connect to 127.0.0.1:9901: Connection refused",
//   // "401 from 127.0.0.1:9901/debug/tasks: bad or missing token (use --token)", ...
//
// Timeouts: connecting gives up after 2 s (over all the addresses a name resolves to); once
// connected, each wait for the peer gives up after 5 s of silence. Replies are framed by
// Content-Length, chunked coding (RFC 9112 §7.1; extensions and trailers are skipped), or the
// end of the connection; interim 1xx replies are skipped. A reply over 64 MiB is refused.
//
// Every error is an admin_error whose what() is one line that names the address, fit to print
// after "weir: ". Signals: an interrupted wait (EINTR) is resumed.
#pragma once

#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace weir::tool {

class admin_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct http_reply {
  int status = 0;
  std::string reason;
  std::vector<std::pair<std::string, std::string>> headers;  // names in lower case
  std::string body;                                          // de-chunked

  // The value of the first header called `name` (lower case), or "" when absent.
  std::string_view header(std::string_view name) const;
};

// Parses a whole reply as read until EOF. Throws admin_error with the reason ("body cut short:
// 10 of 42 bytes") when it is not HTTP/1.x or its body is cut short of its framing.
http_reply parse_http_reply(std::string_view raw);

// `s` percent-encoded for a query string value: all but RFC 3986 unreserved characters.
std::string query_escape(std::string_view s);

class admin_client {
 public:
  // `address` is HOST:PORT, or [IPV6]:PORT; an "http://" prefix and a trailing '/' are
  // accepted. `token`, when not empty, is sent as "Authorization: Bearer <token>".
  admin_client(std::string_view address, std::string token);

  // HOST:PORT as given, for messages and titles.
  const std::string& address() const noexcept { return address_; }

  // GETs `path` (with its query) and returns the reply, whatever its status.
  http_reply get(std::string_view path) const;
  // GETs `path` and returns the body of a 200 reply; any other status is an admin_error.
  std::string fetch(std::string_view path) const;

 private:
  int connect_socket() const;  // a connected, non-blocking socket; throws admin_error

  std::string address_;
  std::string host_;  // without brackets
  std::string port_;
  std::string token_;
  std::chrono::milliseconds connect_timeout_{2000};
  std::chrono::milliseconds io_timeout_{5000};
};

}  // namespace weir::tool
