// weir::debug::admin_server — the admin HTTP endpoint of a service (docs/architecture.md D7).
//
//   weir::runtime rt;
//   weir::debug::admin_server admin(rt, {.token = "s3cret"});   // 127.0.0.1:9901
//   admin.add_metrics([&](weir::metrics::prometheus_writer& w) { srv.write_prometheus(w); });
//
// It serves on a thread of its own (a one-shard runtime), and reads `target`'s registry
// without its shards' help, so it answers while a shard is stuck:
//   GET /debug/tasks       every task, longest-waiting first (text; ?format=json; filters
//                          ?state=running|ready|waiting, ?min_wait_ms=N, ?name=substring of the
//                          name or context)
//   GET /debug/stalls      recent stalls with the stuck thread's backtrace (?format=json)
//   GET /debug/lost        recent lost wake-ups with both sites (?format=json)
//   GET /metrics           Prometheus text: the runtime's counters (write_runtime_metrics)
//                          and every add_metrics() source (per-route HTTP latency, ...)
//   GET /healthz           200 "ok", or 503 naming a shard stuck longer than the threshold
//   GET <route>            each of admin_options::routes (a service's own)
// With a token, every request needs `Authorization: Bearer <token>` (else 401).
// `weir top` and `weir dump` (tools/weir) are its clients.
//
// Thread safety: construct and destroy on any non-shard thread or in a task; add_metrics()
// from any thread; metric sources run on the admin thread (they must be safe to call from
// another thread: http::server::write_prometheus is). Destroy it before `target`.
#pragma once

#include <weir/core/metrics.hpp>
#include <weir/core/runtime.hpp>
#include <weir/core/task.hpp>
#include <weir/net/address.hpp>
#include <weir/tls/tls.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace weir::http {
class request;
class response;
}  // namespace weir::http

namespace weir::debug {

// A service's own GET route on the admin endpoint (logship's /debug/tap): token-protected as
// the rest; its handler runs on the admin thread, so it must be safe there.
struct admin_route {
  std::string path;
  std::function<task<void>(http::request&, http::response&)> handler;
};

struct admin_options {
  net::address address = net::address::loopback_v4(9901);
  std::string token;  // empty: no authentication (keep the address on loopback then)
  std::vector<admin_route> routes;
  tls::context tls;  // a server context: the endpoint speaks HTTPS only; empty: plain HTTP
};

// A service's admin settings as its flags give them: `address` ("HOST:PORT"; "off" or "": no
// admin endpoint, nullopt) and `token_file` (the bearer token on its first line, no spaces;
// "": no token). Errors name the address or the file.
result<std::optional<admin_options>> admin_options_from(std::string_view address,
                                                        const std::string& token_file);

class admin_server {
 public:
  // Binds and starts serving; throws std::system_error naming the address when it cannot bind.
  explicit admin_server(runtime& target, admin_options o = {});
  ~admin_server();
  admin_server(const admin_server&) = delete;
  admin_server& operator=(const admin_server&) = delete;

  // The bound address (the port the OS picked when options().address had port 0).
  const net::address& address() const noexcept;
  // Adds a source of metrics to /metrics: it writes its families into the scrape's one writer
  // (weir/core/metrics.hpp), after the runtime's.
  void add_metrics(std::function<void(metrics::prometheus_writer&)> source);

  struct state;

 private:
  std::unique_ptr<state> s_;
};

// Starts the admin endpoint a service's flags asked for (nullopt: none, nullptr): the server,
// or the error naming the address — for services' coroutines, which cannot catch around a
// co_return.
result<std::unique_ptr<admin_server>> start_admin(runtime& target, std::optional<admin_options> o);

}  // namespace weir::debug
