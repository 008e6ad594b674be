// A blocking HTTP/1.1 GET to a weir service's admin endpoint: one request per connection
// ("Connection: close"), read until the peer closes, plain TCP. Self-contained (POSIX sockets,
// no weir runtime), as `weir` must work against a service that is stuck.
//
//   WEIR_TRY_ASSIGN(auto admin, admin_client::make("127.0.0.1:9901", token));
//   weir::result<std::string> body = admin.fetch("/debug/tasks?format=json");
//   if (!body) std::fprintf(stderr, "weir: %s\n", error_text(body.error()).c_str());
//   // "cannot connect to 127.0.0.1:9901: Connection refused",
//   // "401 from 127.0.0.1:9901/debug/tasks: bad or missing token (use --token)", ...
//
// Timeouts: connecting gives up after 2 s (over all the addresses a name resolves to); once
// connected, each wait for the peer gives up after 5 s of silence. Replies are read by
// weir::http's own parsers (weir/http/parser.hpp, the ones the server and the client use and
// the fuzzer runs), with their strictness: CRLF line ends, no obs-fold, one framing. A reply is
// framed by Content-Length, chunked coding (RFC 9112 §7.1; extensions and trailers are checked
// and skipped) or the end of the connection; interim 1xx replies are skipped. A reply over
// 64 MiB is refused.
//
// Errors are values (weir::result): weir's own codes (errc::invalid_input for a bad address, a
// malformed reply or a status other than 200; errc::timed_out, errc::eof, errc::limit_exceeded)
// carry words that say it all, system codes ("Connection refused") words that name the address.
// error_text() makes either one line, fit to print after "weir: ". Signals: an interrupted
// wait (EINTR) is resumed.
#pragma once

#include <weir/core/error.hpp>
#include <weir/core/result.hpp>

#include <chrono>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace weir::tool {

struct http_reply {
  int status = 0;
  std::string reason;
  std::vector<std::pair<std::string, std::string>> headers;  // names in lower case
  std::string body;                                          // de-chunked

  // The value of the first header called `name` (lower case), or "" when absent.
  std::string_view header(std::string_view name) const;
};

// Parses a whole reply as read until EOF. The error (errc::invalid_input) says why in its
// context: "not HTTP: 'SSH-2.0-OpenSSH_9.2'", "body cut short: 10 of 42 bytes", or the
// parser's reason ("bare LF line ending", "chunked body: invalid chunk size").
weir::result<http_reply> parse_http_reply(std::string_view raw);

// `s` percent-encoded for a query string value: all but RFC 3986 unreserved characters.
std::string query_escape(std::string_view s);

// The line `weir` prints for `e` after "weir: ": the context alone for weir's own codes (it
// says everything), "<context>: <the system's words>" for the others.
std::string error_text(const weir::error& e);

class admin_client {
 public:
  // `address` is HOST:PORT, or [IPV6]:PORT; an "http://" prefix and a trailing '/' are
  // accepted; an empty host is 127.0.0.1. `token`, when not empty, is sent as
  // "Authorization: Bearer <token>". errc::invalid_input when either is malformed.
  static weir::result<admin_client> make(std::string_view address, std::string token);

  // HOST:PORT as given, for messages and titles.
  const std::string& address() const noexcept { return address_; }

  // GETs `path` (with its query) and returns the reply, whatever its status.
  weir::result<http_reply> get(std::string_view path) const;
  // GETs `path` and returns the body of a 200 reply; any other status is an error.
  weir::result<std::string> fetch(std::string_view path) const;

 private:
  admin_client() = default;
  weir::result<int> connect_socket() const;  // a connected, non-blocking socket

  std::string address_;
  std::string host_;  // without brackets
  std::string port_;
  std::string token_;
  std::chrono::milliseconds connect_timeout_{2000};
  std::chrono::milliseconds io_timeout_{5000};
};

}  // namespace weir::tool
