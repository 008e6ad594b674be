// Internals of weir::http::server: the per-shard state and one connection. Not for users.
#pragma once

#include <weir/core/cancel.hpp>
#include <weir/core/detail/ilist.hpp>
#include <weir/core/detail/stat_counter.hpp>
#include <weir/core/metrics.hpp>
#include <weir/core/spawn.hpp>
#include <weir/http/server.hpp>
#include <weir/io/transport.hpp>
#include <weir/net/socket.hpp>
#include <weir/sync/notify.hpp>

#include <array>
#include <ctime>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace weir::http::detail {

using weir::detail::stat_counter;

enum class phase : std::uint8_t { none, idle, header, body, handler, write };

// One timed phase of a connection: the sweep cancels `scope` once `limit` ticks have passed
// since `start` (a phase nested in the handler, a body read or a streamed write, uses the
// inner slot while the handler's runs in the outer one).
struct timed_slot {
  cancel_state* scope = nullptr;
  std::uint32_t start = 0, limit = 0;
  phase what = phase::none;
  bool fired = false;
};

struct conn_node : weir::detail::ilist_node {
  timed_slot outer, inner;
  bool killed = false;  // the drain deadline passed: answer nothing more
};

// One route's metrics: every shard records into its own cells (weir/core/metrics.hpp).
struct route_meter {
  explicit route_meter(unsigned shards)
      : latency(metrics::latency_seconds, shards), responses(shards, 4) {}
  metrics::histogram latency;
  metrics::counter responses;  // series: 2xx, 3xx, 4xx, 5xx
};

struct shard_state : std::enable_shared_from_this<shard_state> {
  shard_state(server& s, unsigned k);

  server& srv;
  unsigned shard;
  std::optional<net::listener> listener;
  std::optional<join_handle<void>> acceptor;

  weir::detail::ilist conns;  // conn_node of every live connection
  std::size_t active = 0, inflight = 0;
  std::size_t handshaking = 0;  // TLS handshakes in progress (not yet connections)
  std::uint32_t tick = 0;
  std::array<std::uint32_t, 6> limits{};  // ticks per phase
  std::chrono::milliseconds tick_len{100};
  std::uint32_t idle_grace = 1;  // ticks a connection must have been idle to close it on drain
  bool sweeping = false, draining = false, stopping = false;
  std::uint32_t drain_deadline = 0;  // tick
  weir::notify changed;              // a connection ended, or shutdown began
  bool accepting = false;            // the accept loop runs (its listener is open)
  weir::notify accept_ended;         // the accept loop closed its listener

  // The Server and Date fields, formatted once per second.
  std::time_t date_sec = 0;
  std::string date;
  std::string_view date_field();

  struct {
    stat_counter accepted, refused, requests, r5xx, overloaded, bad, idle_to, header_to, body_to,
        handler_to, write_to, handler_err, drained, killed, tls_failed;
  } c;
  std::span<route_meter> routes;  // the server's, by route index

  void conn_started(conn_node& n);
  void conn_ended(conn_node& n);
  void arm(timed_slot& s, cancel_state& scope, phase p) noexcept {
    s.scope = &scope;
    s.start = tick;
    s.limit = limits[static_cast<std::size_t>(p)];
    s.what = p;
    s.fired = false;
  }
  static void disarm(timed_slot& s) noexcept { s.scope = nullptr; }
  void sweep();
  // Runs while the shard has connections; holds the state alive (the server may be destroyed
  // while it sleeps, once its last connection has ended).
  static task<void> sweeper(std::shared_ptr<shard_state> self);
};

// Serves one connection over `s` until it closes.
task<void> serve_stream(io::byte_stream& s, shard_state& st, std::string peer);

}  // namespace weir::http::detail
