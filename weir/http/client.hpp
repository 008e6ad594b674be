// weir::http::client — an HTTP/1.1 client with a keep-alive connection pool, over TCP or TLS.
//
//   http::client c({.request_timeout = 5s});
//   auto r = co_await c.get("http://127.0.0.1:8080/health");     // result<client_response>
//   if (r && r->status == 200) use(r->body);
//   http::client_request put{.verb = http::method::put, .url = "https://example.com/kv/a",
//                            .headers = {{"Content-Type", "text/plain"}}, .body = "v",
//                            .timeout = 500ms};
//   auto p = co_await c.request(std::move(put));
//   if (!p) log(p.error().message());  // "reading the response from 127.0.0.1:8080: ..."
//
// g++ 12: a braced temporary of an aggregate with strings inside a co_await expression, as in
// `co_await c.request({.url = u})`, is destroyed twice (a compiler bug with aggregate
// temporaries in coroutines; clang 16 is fine): name the request first, as above.
//
// Operations: request() sends one request and reads its whole response (body in memory, at
// most limits::body_bytes); get() and post() are shorthands. URLs are "http://host[:port]/path?q"
// and "https://..." (IPv6 literals in brackets: "http://[::1]:8080/"); or give host, port, tls
// and target separately. Host names are resolved with net::resolve (weir::blocking's pool); IP
// literals are not. The client adds Host, User-Agent and the body's framing (Content-Length, or
// Transfer-Encoding: chunked when the request asks for it); a Content-Length or
// Transfer-Encoding among the request's own headers is refused (the client owns the framing).
// An "Expect: 100-continue" request still sends its body at once (RFC 9110 §10.1.1 allows it);
// interim 1xx responses are skipped (101 is returned as the final response, its connection
// closed). Responses are framed by Content-Length, chunked coding (trailers kept), or the end
// of the connection, with http::response_parser and http::chunked_decoder (RFC 9112 §6.3).
//
// Connections: a pool per (scheme, host, port, TLS server name). After a complete response
// that allows it (its head keeps the connection alive, the request did not say
// "Connection: close", nothing more arrived after it), the connection goes back to its pool;
// the next request to that origin takes the most recently used one. Pooled connections idle
// longer than `idle_timeout` are closed when a request next looks at that pool (lazily: there
// is no timer; close_idle() drops them all), as is one whose peer has already closed it (a
// non-blocking peek before reuse). Each pool keeps at most `max_idle_per_host`. A pooled
// connection that turns out dead only after the request went out (the write fails, or the
// connection ends before any byte of the response) is retried once on a new connection when
// the request is idempotent (GET, HEAD, PUT, DELETE, OPTIONS, TRACE) or none of it was sent.
// There is no limit on connections per origin: concurrent requests each use their own.
//
// Pipelining: off by default (a connection carries one request at a time). With
// options.pipeline, an idempotent request without "Connection: close" may join a connection
// that came from the pool and still has requests in flight (at most max_pipeline): requests
// are written in the order they joined, and each reads its response in that order. Only
// connections that already delivered a keep-alive response are joined. When one request of a
// connection fails (timed out, cancelled, a bad response) or its response ends the connection,
// the connection takes no more: the requests behind it that have no response yet are retried
// once on a new connection (they are idempotent), and it is closed once the last one leaves.
// A slow response delays those behind it (head-of-line blocking), within their own deadlines.
//
// Deadlines: the whole exchange (resolving, connecting, TLS handshake, writing, reading the
// response) runs under the request's timeout (request_timeout when the request names none; 0:
// none), with_timeout's errc::timed_out when it fires; connecting and the TLS handshake also
// under connect_timeout (per address tried). A connection whose exchange did not complete
// (timed out, cancelled, failed) is closed (pipelined: once the requests on it have left),
// never pooled.
//
// Errors (result): connect and transport errors as the system gives them (ECONNREFUSED, ...),
// getaddrinfo's (net::resolve_category()), tls::errc (handshake, verification);
// errc::timed_out; errc::eof (the server closed the connection without answering);
// errc::truncated (closed in the middle of the response; also a TLS peer closing without
// close_notify there); std::errc::bad_message (a malformed response); errc::limit_exceeded (a
// response over `limits`: header bytes or count, status line, body); std::errc::invalid_argument
// (a malformed URL, header, or method). Each error's context tells the failure in words
// ("malformed response from 127.0.0.1:8080: invalid status code").
//
// TLS: https uses options.tls (a tls::context::client: trust store, verification on/off,
// client certificate, ALPN); when it is empty, the first https request builds one with the
// system's trust store (on weir::blocking's pool). The server's certificate is verified for
// the URL's host, or for client_request::tls_server_name when given (also the SNI name sent).
//
// Thread safety: shard-local. A client belongs to the shard that first uses it (one client
// per shard, like the server's per-shard state); its requests run on that shard, any number
// at once. stats() may be read from any thread (a racy snapshot of monotonic counters).
// Lifetime: the client must outlive its requests in flight, and be destroyed on its shard
// while the runtime is alive (it closes its pooled sockets).
#pragma once

#include <weir/core/detail/stat_counter.hpp>
#include <weir/core/result.hpp>
#include <weir/core/task.hpp>
#include <weir/http/parser.hpp>
#include <weir/sync/detail/shard_affinity.hpp>
#include <weir/tls/tls.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace weir::http {

namespace detail {
struct client_connection;
}

using field_list = std::vector<std::pair<std::string, std::string>>;

struct client_options {
  // Limits on responses: status line, header section (bytes, fields; trailers too), body.
  http::limits limits{.request_line = 8 * 1024,
                      .header_bytes = 64 * 1024,
                      .header_count = 100,
                      .body_bytes = std::uint64_t(64) << 20};
  std::size_t max_idle_per_host = 16;                 // pooled connections kept per origin
  std::chrono::milliseconds idle_timeout{30'000};     // a pooled connection idle longer is closed
  std::chrono::milliseconds connect_timeout{5'000};   // TCP connect + TLS handshake, per address
  std::chrono::milliseconds request_timeout{30'000};  // default per request; 0: none
  std::string user_agent = "weir";                    // empty: no User-Agent field
  tls::context tls;  // for https; empty: one with the system's trust store, built on first use
  std::size_t read_buffer = 16 * 1024;  // initial read buffer per connection (grows for a head)
  // Pipelining (RFC 9112 §9.3.2): idempotent requests may be sent on a pooled connection that
  // still has requests in flight, up to `max_pipeline` of them; responses come back in order.
  bool pipeline = false;
  std::size_t max_pipeline = 8;
};

struct client_request {
  method verb = method::get;
  std::string url;  // "http://host:port/path?q", "https://[::1]/"; empty: host, port, tls, target
  field_list headers;
  std::string body;
  std::optional<std::chrono::milliseconds> timeout;  // the whole exchange; none: request_timeout
  bool chunked = false;  // send the body with chunked coding instead of Content-Length

  // Without a url: the origin and the request-target.
  std::string host;        // name or IP literal ("::1", brackets optional)
  std::uint16_t port = 0;  // 0: 80, or 443 with tls
  bool tls = false;
  std::string target = "/";

  std::string method_name;      // the method's token when verb == method::other ("PROPFIND")
  std::string tls_server_name;  // https: the name to verify and send as SNI; empty: the host
};

struct client_response {
  int status = 0;
  std::string reason;
  unsigned version_minor = 1;
  field_list headers;
  std::string body;
  field_list trailers;  // of a chunked body

  // The first header field named `name` (ASCII case-insensitive), or an empty view.
  std::string_view header(std::string_view name) const noexcept;
};

// The parts of an http(s) URL. target is "/" when the URL has no path, and never holds the
// fragment; host is without brackets.
struct url_parts {
  bool tls = false;
  std::string host;
  std::uint16_t port = 0;  // the scheme's default when the URL names none
  std::string target;
};
// Parses "http://host[:port][/path][?query][#fragment]" (scheme case-insensitive, "https"
// too). No user info, no spaces or control bytes. Errors: std::errc::invalid_argument.
result<url_parts> parse_url(std::string_view url);

struct client_stats {
  std::uint64_t requests = 0;     // request() calls
  std::uint64_t opened = 0;       // connections established (TCP, and TLS when https)
  std::uint64_t reused = 0;       // requests sent on a pooled connection
  std::uint64_t pipelined = 0;    // requests sent on a connection with others in flight
  std::uint64_t retries = 0;      // requests retried after a pooled connection proved dead
  std::uint64_t idle_closed = 0;  // pooled connections closed: expired, dead, or over the cap
  std::uint64_t timeouts = 0;     // requests that ended with errc::timed_out
  std::uint64_t failures = 0;     // requests that ended with any error (timeouts included)
};

class client {
 public:
  explicit client(client_options o = {});
  ~client();
  client(const client&) = delete;
  client& operator=(const client&) = delete;

  // Sends `req` and reads its response (see the errors above).
  //
  // Resumes on the calling shard (the client's). Cancellation (the caller's token, when_any,
  // an enclosing with_timeout) ends the request with the reason at its next await; the
  // connection it was using is closed (pipelined: taken out of service, the requests behind
  // it retried), so no partial exchange reaches a later request, but the server may have
  // received the request. Destroyed while suspended (runtime shutdown): likewise, and the pool
  // is untouched. Call from a task on the client's shard.
  task<result<client_response>> request(client_request req);
  // GET `url`; POST `body` to `url` with a Content-Type. As request().
  task<result<client_response>> get(std::string url);
  task<result<client_response>> post(std::string url, std::string body,
                                     std::string content_type = "application/octet-stream");

  // Closes every pooled connection (they are idle: nothing is in flight on them).
  void close_idle() noexcept;
  // Pooled connections, over all origins.
  std::size_t idle_connections() const noexcept;
  client_stats stats() const noexcept;
  const client_options& options() const noexcept { return opt_; }

 private:
  // Shared: with pipelining, the requests in flight on a connection all hold it.
  using conn_ptr = std::shared_ptr<detail::client_connection>;
  struct plan;     // a request made ready to send: origin, head, pool key
  struct attempt;  // what one try on one connection found out
  struct member;   // a pipelined request's place on its connection

  task<result<client_response>> exchange(const client_request& req, plan& p);
  conn_ptr reuse(const std::string& key, bool pipelined);
  task<result<client_response>> exchange_on(conn_ptr c, const client_request& req, plan& p,
                                            attempt& at);
  task<result<client_response>> pipelined_on(conn_ptr c, const client_request& req, plan& p,
                                             attempt& at);
  task<result<void>> send_request(detail::client_connection& c, const client_request& req, plan& p,
                                  attempt& at);
  task<result<client_response>> read_response(detail::client_connection& c,
                                              const client_request& req, plan& p, attempt& at);
  task<result<conn_ptr>> open(plan& p);
  task<result<void>> ensure_tls_context();
  conn_ptr take_idle(const std::string& key);
  conn_ptr join_busy(const std::string& key);
  void put_idle(const std::string& key, conn_ptr c);
  void leave(const std::string& key, const conn_ptr& c, bool failed);

  client_options opt_;
  tls::context tls_;
  std::unordered_map<std::string, std::vector<conn_ptr>> idle_;  // oldest first
  std::unordered_map<std::string, std::vector<conn_ptr>> busy_;  // pipelining: open to joiners
  weir::detail::shard_affinity affinity_;
  struct counters {
    weir::detail::stat_counter requests, opened, reused, pipelined, retries, idle_closed, timeouts,
        failures;
  } c_;
};

}  // namespace weir::http
