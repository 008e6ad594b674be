// weir::http::server — an HTTP/1.1 server on every shard of the runtime.
//
//   http::router r;
//   r.get("/", [](http::request&, http::response& res) -> task<> {
//     res.body("Hello, World!");
//     co_return;
//   });
//   http::server srv(std::move(r), {.handler_timeout = 2s});
//   auto where = co_await srv.listen(net::address::loopback_v4(8080));  // every shard
//   spawn_detached(stop_on_signal(srv));                               // calls srv.shutdown()
//   co_await srv.run();                       // serves until shutdown() has drained
//
// Each shard accepts on its own SO_REUSEPORT listener and serves its connections with one
// task each: keep-alive, pipelined requests answered in order (the answers to requests that
// arrived together leave in one write), request bodies read on demand (Expect: 100-continue
// answered when the handler first reads), response bodies given whole or streamed (chunked
// when their length is unknown). A response is sent before the next request of the
// connection is read: a slow reader stops its connection, not the shard (D6).
//
// The five timeouts (seed 001): `idle` (waiting for the next request of a keep-alive
// connection: closed quietly), `header` (from a request's first byte to the end of its head:
// 408, close), `body` (the longest wait for the next piece of the body: 408, close),
// `handler` (the handler's awaits are cancelled with errc::timed_out; the client gets
// `handler_timeout_status` unless the response had started, then the connection closes), and
// `write` (the longest wait for the peer to take response bytes: close). They are enforced by
// a per-shard sweep every `timeout_tick`, so a timeout fires between its value and one tick
// later, at no clock read per request.
//
// TLS: with options.tls every connection begins with a handshake (under header_timeout);
// shutdown waits for handshakes in progress as for connections.
//
// Overload: beyond `max_connections` on a shard a new connection is closed at accept (counted);
// beyond `max_inflight` handlers running on a shard a request gets 503 with Retry-After.
// Memory per connection is bounded by the limits (read buffer up to the header limit, response
// bytes buffered up to `write_buffer`, body accumulated only when the handler asks for it
// whole, up to limits::body_bytes).
//
// shutdown(drain): stops accepting on every shard (each listener's backlog is served first, so
// the kernel resets no connection it had queued), then closes idle connections (one whose last
// answer allowed another request gets a 50 ms grace for a request already on its way), lets
// requests in progress finish (their responses carry `Connection: close`) until the drain
// deadline, then cancels what is left; run() returns when every connection is closed.
//
// Thread safety: listen(), run() and shutdown() are called from tasks (any shard). The
// handlers run on the shard of their connection. request and response belong to one handler.
#pragma once

#include <weir/core/metrics.hpp>
#include <weir/core/result.hpp>
#include <weir/core/task.hpp>
#include <weir/core/time.hpp>
#include <weir/http/parser.hpp>
#include <weir/http/router.hpp>
#include <weir/io/byte_stream.hpp>
#include <weir/net/address.hpp>
#include <weir/tls/tls.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace weir::http {

namespace detail {
class connection;
struct shard_state;
struct route_meter;
}  // namespace detail

// What a handler sees of its request. Views are valid until the handler returns.
class request {
 public:
  const request_head& head() const noexcept;
  method verb() const noexcept { return head().verb; }
  std::string_view target() const noexcept { return head().target; }
  std::string_view path() const noexcept { return head().path; }
  std::string_view query() const noexcept { return head().query; }
  std::string_view header(std::string_view name) const noexcept { return head().header(name); }
  // A router parameter ("key" for "/kv/{key}", "*" for a wildcard), or empty.
  std::string_view param(std::string_view name) const noexcept;
  // The raw value of a query parameter, or `fallback`.
  std::string_view query_param(std::string_view name, std::string_view fallback = {}) const;
  // The peer's address, "127.0.0.1:50412".
  std::string_view peer() const noexcept;

  bool has_body() const noexcept { return head().body != framing::none; }
  // The whole body (at most limits::body_bytes; errc::limit_exceeded past it), read if needed.
  // A view valid until the handler returns. Errors: timed_out (body timeout), truncated (the
  // peer closed early), limit_exceeded (413), std::errc::bad_message (a malformed chunked
  // body). After a body error the server answers it (408, 413 or 400) unless the handler's
  // response has started, and closes the connection.
  task<result<std::string_view>> body();
  // The next piece of the body (a view valid until the next call), empty at its end.
  task<result<std::string_view>> read_some();
  // Trailer fields of a chunked body, once it has been read to its end.
  std::span<const std::pair<std::string, std::string>> trailers() const noexcept;

 private:
  friend class detail::connection;
  explicit request(detail::connection* c) noexcept : c_(c) {}
  detail::connection* c_;
};

// What a handler answers. Defaults: 200, no extra fields, empty body. Give the body whole
// (body()) or stream it (write(), then optionally finish()); a body given whole gets a
// Content-Length, a streamed one is chunked unless content_length() was set first.
class response {
 public:
  void status(int code) noexcept;
  int status() const noexcept;
  // Appends a field. Throws std::invalid_argument for a name that is not a token or a value
  // with CR, LF or NUL (response splitting). Content-Length, Transfer-Encoding, Date and
  // Connection are the server's.
  void header(std::string_view name, std::string_view value);
  void content_type(std::string_view v);
  // The whole body (copied / moved in).
  void body(std::string_view data);
  void body(std::string&& data);
  void body(const char* data) { body(std::string_view(data)); }
  // Streaming: the length of the body, if known, before the first write.
  void content_length(std::uint64_t n);
  // Sends the head (first call) and `data`; waits while the peer is slow (write timeout).
  task<result<void>> write(std::string_view data);
  // Ends a streamed body (the server calls it when the handler returns without it).
  task<result<void>> finish();
  bool started() const noexcept;

 private:
  friend class detail::connection;
  explicit response(detail::connection* c) noexcept : c_(c) {}
  detail::connection* c_;
};

// One line of the access log, given to server_options::access_log.
struct access_record {
  std::string_view peer, method, target;
  int status = 0;
  std::uint64_t body_bytes = 0;  // response body bytes
  std::chrono::nanoseconds duration{0};
  unsigned version_minor = 1;
};
// The record in the Combined Log Format's first fields plus the duration:
//   127.0.0.1:50412 - - [21/Nov/2026:09:39:08 +0000] "GET / HTTP/1.1" 200 13 0.000031
std::string format_access_log(const access_record& r);

struct server_options {
  http::limits limits;
  std::chrono::milliseconds idle_timeout{60'000};
  std::chrono::milliseconds header_timeout{10'000};
  std::chrono::milliseconds body_timeout{30'000};
  std::chrono::milliseconds handler_timeout{30'000};
  std::chrono::milliseconds write_timeout{30'000};
  int handler_timeout_status = 503;  // or 504
  // The sweep period of the timeouts; 0: a tenth of the shortest timeout, within [1, 100] ms.
  std::chrono::milliseconds timeout_tick{0};
  std::size_t max_connections = 10'000;  // per shard
  std::size_t max_inflight = 4'096;      // handlers running at once, per shard
  unsigned retry_after_seconds = 1;
  std::size_t read_buffer = 4 * 1024;    // initial; grows up to the header limit
  std::size_t write_buffer = 16 * 1024;  // response bytes gathered before a write
  std::string server_name = "weir";      // the Server field; empty: none
  bool route_metrics = true;  // per-route latency histogram and responses by status class
  // Called once per answered request, on the connection's shard (keep it cheap).
  std::function<void(const access_record&)> access_log;
  // Accept options
  int backlog = 4096;
  // SO_REUSEPORT (needed for a listener per shard). false makes a second server on the same
  // address fail to listen instead of sharing it; only with a one-shard runtime.
  bool reuse_port = true;
  // A server context (tls::context::server): every accepted connection is TLS. The handshake
  // runs under header_timeout; a failed one is logged at debug level, counted
  // (tls_handshake_failures) and closed. Empty: plain HTTP.
  tls::context tls;
  // Testing only: re-enables a drain bug fixed earlier, so that the simulator's sweep can show
  // it finds it (weir/http/sim_test.cpp). 1: each shard stops accepting and begins draining
  // before the next stops accepting (a client the drain closed reconnects to a shard still
  // listening); 2: idle connections close the instant draining begins (no grace for a request
  // already on its way). 0: neither.
  unsigned test_drain_bug = 0;
};

// Counters of one server, summed over shards (a racy snapshot of monotonic counters).
struct server_stats {
  std::uint64_t accepted = 0, refused = 0, active = 0, requests = 0, responses_5xx = 0,
                overloaded = 0, bad_requests = 0, idle_timeouts = 0, header_timeouts = 0,
                body_timeouts = 0, handler_timeouts = 0, write_timeouts = 0, handler_errors = 0,
                closed_by_drain = 0, killed_by_drain = 0, tls_handshake_failures = 0;
};

// One route's metrics, summed over shards.
struct route_stats {
  std::string name;  // "GET /kv/{key}"
  std::uint64_t status_2xx = 0, status_3xx = 0, status_4xx = 0, status_5xx = 0;
  metrics::histogram::snapshot latency;  // metrics::latency_seconds; count(): every request
};

class server {
 public:
  explicit server(router r, server_options o = {});
  ~server();
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  // Binds `addr` on every shard (port 0: the first shard picks one, the others share it).
  // Returns the bound address. Errors: the bind error, with the address in the log.
  task<result<net::address>> listen(net::address addr);
  // Accepts and serves on every shard until shutdown() has drained; then returns.
  task<void> run();
  // Serves one connection over any byte stream (a TLS session, a Unix socket, a test's fake
  // transport) on the current shard, until it closes. The server must outlive the call.
  task<void> serve(io::byte_stream& s, std::string peer = {});
  // Begins a graceful shutdown (idempotent) and returns at once; run() returns when done.
  task<void> shutdown(std::chrono::milliseconds drain = std::chrono::seconds(5));

  const server_options& options() const noexcept { return opt_; }
  const http::router& routes() const noexcept { return router_; }
  server_stats stats() const noexcept;
  std::vector<route_stats> route_metrics() const;
  // Writes stats() and route_metrics() as Prometheus families (weir_http_*). Any thread.
  void write_prometheus(metrics::prometheus_writer& w) const;

 private:
  friend class detail::connection;
  friend struct detail::shard_state;
  task<result<void>> listen_on_shard(net::address addr);
  task<void> run_shard();
  void shutdown_shard(std::chrono::milliseconds drain);

  http::router router_;
  server_options opt_;
  // Per route (router numbering), per shard cells; made with shards_, which point into it.
  std::vector<detail::route_meter> route_meters_;
  // Shared with each shard's timeout sweep, which may wake once more after the server is gone.
  std::vector<std::shared_ptr<detail::shard_state>> shards_;
};

}  // namespace weir::http
