#include <weir/http/server.hpp>

#include <weir/core/log.hpp>
#include <weir/core/on_shard.hpp>
#include <weir/core/runtime.hpp>
#include <weir/core/task_group.hpp>
#include <weir/core/time.hpp>
#include <weir/http/detail/connection.hpp>

#include <algorithm>
#include <cstdio>
#include <ctime>

namespace weir::http {

namespace detail {

namespace {
std::uint32_t ticks_for(std::chrono::milliseconds d, std::chrono::milliseconds tick) {
  auto n = (d.count() + tick.count() - 1) / tick.count();
  return static_cast<std::uint32_t>(std::clamp<long long>(n, 1, 0x7fffffff));
}
}  // namespace

shard_state::shard_state(server& s, unsigned k) : srv(s), shard(k), routes(s.route_meters_) {
  const auto& o = s.options();
  auto shortest = std::min(
      {o.idle_timeout, o.header_timeout, o.body_timeout, o.handler_timeout, o.write_timeout});
  tick_len = o.timeout_tick.count() > 0 ? o.timeout_tick
                                        : std::clamp(shortest / 10, std::chrono::milliseconds(1),
                                                     std::chrono::milliseconds(100));
  limits[std::size_t(phase::idle)] = ticks_for(o.idle_timeout, tick_len);
  limits[std::size_t(phase::header)] = ticks_for(o.header_timeout, tick_len);
  limits[std::size_t(phase::body)] = ticks_for(o.body_timeout, tick_len);
  limits[std::size_t(phase::handler)] = ticks_for(o.handler_timeout, tick_len);
  limits[std::size_t(phase::write)] = ticks_for(o.write_timeout, tick_len);
  idle_grace = o.test_drain_bug == 2 ? 0 : ticks_for(std::chrono::milliseconds(50), tick_len);
}

std::string_view shard_state::date_field() {
  std::time_t now = wall_time();
  if (now != date_sec) {
    date_sec = now;
    std::tm tm{};
    gmtime_r(&now, &tm);
    char d[40];
    std::strftime(d, sizeof d, "Date: %a, %d %b %Y %H:%M:%S GMT\r\n", &tm);
    date.clear();
    if (!srv.options().server_name.empty()) date += "Server: " + srv.options().server_name + "\r\n";
    date += d;
  }
  return date;
}

void shard_state::conn_started(conn_node& n) {
  conns.push_back(&n);
  ++active;
  if (!sweeping) {
    sweeping = true;
    spawn_detached(sweeper(shared_from_this()), "http timeouts");
  }
}

void shard_state::conn_ended(conn_node& n) {
  n.unlink();
  --active;
  changed.notify_one();
}

void shard_state::sweep() {
  const bool kill = draining && tick >= drain_deadline;
  conns.for_each([&](weir::detail::ilist_node* p) {
    auto& n = *static_cast<conn_node*>(p);
    for (timed_slot* s : {&n.inner, &n.outer}) {
      if (!s->scope || s->fired) continue;
      const std::uint32_t age = tick - s->start;
      if (age > s->limit) {
        s->fired = true;
        s->scope->cancel(errc::timed_out);
      } else if (kill || (draining && s->what == phase::idle && age >= idle_grace)) {
        if (kill && !n.killed && s->what != phase::idle) ++c.killed;
        if (kill) n.killed = true;
        s->scope->cancel(errc::shutdown);
      }
    }
  });
}

task<void> shard_state::sweeper(std::shared_ptr<shard_state> self) {
  while (self->active > 0) {
    (void)co_await sleep_for(self->tick_len);
    ++self->tick;
    self->sweep();
  }
  self->sweeping = false;
}

}  // namespace detail

server::server(http::router r, server_options o) : router_(std::move(r)), opt_(std::move(o)) {}

server::~server() = default;

namespace {

void ensure_shards(server& srv, std::vector<std::shared_ptr<detail::shard_state>>& shards,
                   std::vector<detail::route_meter>& meters) {
  if (!shards.empty()) return;
  const unsigned n = shard_count();
  meters.reserve(srv.routes().route_count());
  for (std::size_t i = 0; i < srv.routes().route_count(); ++i) meters.emplace_back(n);
  for (unsigned k = 0; k < n; ++k) shards.push_back(std::make_shared<detail::shard_state>(srv, k));
}

task<void> serve_accepted(net::stream_socket s, detail::shard_state* st) {
  auto addr = s.peer_address();
  std::string peer = addr ? addr->to_string() : std::string();
  const server_options& o = st->srv.options();
  if (!o.tls) {
    co_await detail::serve_stream(s, *st, std::move(peer));
    co_return;
  }
  ++st->handshaking;
  auto t = co_await with_timeout(o.header_timeout, tls::stream::accept(o.tls, s));
  --st->handshaking;
  if (!t) {
    ++st->c.tls_failed;
    log::debug("TLS handshake failed", {{"peer", peer}, {"error", t.error().message()}});
    st->changed.notify_one();
    co_return;
  }
  co_await detail::serve_stream(*t, *st, std::move(peer));
}

void start_connection(detail::shard_state& st, net::stream_socket s) {
  ++st.c.accepted;
  if (st.active >= st.srv.options().max_connections) {
    ++st.c.refused;
    return;  // closed here: the peer sees the connection refused before any request
  }
  spawn_detached(serve_accepted(std::move(s), &st), "http connection");
}

// Connections already in the backlog would be reset by close(): serve them (one request each,
// since the shard is draining), then close.
void close_listener(detail::shard_state& st) {
  if (!st.listener) return;
  while (auto s = st.listener->try_accept()) start_connection(st, std::move(*s));
  st.listener->close();
  st.listener.reset();
}

task<void> accept_loop(detail::shard_state* st) {
  for (;;) {
    auto s = co_await st->listener->accept();
    if (!s) {
      if (st->stopping || s.error() == errc::cancelled || s.error() == errc::shutdown) break;
      log::warn("http accept failed", {{"addr", st->listener->local_address().to_string()},
                                       {"error", s.error().message()}});
      (void)co_await sleep_for(std::chrono::milliseconds(10));
      continue;
    }
    start_connection(*st, std::move(*s));
  }
  close_listener(*st);
  st->accepting = false;
  st->accept_ended.notify_all();
}

}  // namespace

task<result<void>> server::listen_on_shard(net::address addr) {
  auto& st = *shards_[this_shard()];
  auto l = net::listener::bind(addr, {.backlog = opt_.backlog, .reuse_port = opt_.reuse_port});
  if (!l) co_return unexpected(std::move(l).error().with_context("listen on " + addr.to_string()));
  st.listener.emplace(std::move(*l));
  co_return result<void>{};
}

task<result<net::address>> server::listen(net::address addr) {
  ensure_shards(*this, shards_, route_meters_);
  WEIR_CO_TRY(co_await on_shard(
      0, [](server* s, net::address a) { return s->listen_on_shard(a); }, this, addr));
  net::address bound = shards_[0]->listener->local_address();
  for (unsigned k = 1; k < shards_.size(); ++k) {
    WEIR_CO_TRY(co_await on_shard(
        k, [](server* s, net::address a) { return s->listen_on_shard(a); }, this, bound));
  }
  co_return bound;
}

task<void> server::run_shard() {
  auto& st = *shards_[this_shard()];
  if (st.listener && !st.stopping) {
    st.accepting = true;
    st.acceptor.emplace(spawn(accept_loop(&st), "http accept"));
  }
  while (!(st.stopping && st.active == 0 && st.handshaking == 0))
    (void)co_await st.changed.notified();
  if (st.acceptor) {
    (void)co_await *st.acceptor;
    st.acceptor.reset();
  }
  // Connections taken from the backlog at the end.
  while (st.active > 0 || st.handshaking > 0) (void)co_await st.changed.notified();
}

task<void> server::run() {
  ensure_shards(*this, shards_, route_meters_);
  co_await with_task_group(
      [](task_group& g, server* s) -> task<> {
        for (unsigned k = 0; k < s->shards_.size(); ++k)
          g.spawn(on_shard(
                      k, [](server* srv) { return srv->run_shard(); }, s),
                  "http shard");
        co_return;
      },
      this);
}

void server::shutdown_shard(std::chrono::milliseconds drain) {
  auto& st = *shards_[this_shard()];
  if (st.draining) return;
  st.stopping = st.draining = true;
  st.drain_deadline = st.tick + detail::ticks_for(drain, st.tick_len);
  if (st.acceptor) st.acceptor->cancel();
  st.sweep();
  st.changed.notify_one();
}

// Every shard's listener is closed before any connection is told to close: a client that
// reconnects when its connection ends (wrk does at once) then finds no listener and is refused,
// instead of landing in the backlog of a shard about to close its listener, which the kernel
// would reset with the request unread.
task<void> server::shutdown(std::chrono::milliseconds drain) {
  ensure_shards(*this, shards_, route_meters_);
  // Each shard stops accepting; with test_drain_bug 1 (the old order, for the simulator's
  // teeth test) it also begins draining before the next shard stops accepting.
  const bool drain_each = opt_.test_drain_bug == 1;
  for (unsigned k = 0; k < shards_.size(); ++k)
    co_await on_shard(
        k,
        [](server* s, bool drain_each, std::chrono::milliseconds d) -> task<> {
          auto& st = *s->shards_[this_shard()];
          if (!st.stopping) {
            st.stopping = true;
            if (st.acceptor) st.acceptor->cancel();
            st.changed.notify_one();
          }
          while (st.accepting) (void)co_await st.accept_ended.notified();
          // Shut down before run() started accepting: no accept loop will close the listener,
          // and connections would wait in its backlog until the server is destroyed (found by
          // the sim backend's sweep, seed 3000 of HttpSim.ShutdownDuring...).
          close_listener(st);
          if (drain_each) s->shutdown_shard(d);
        },
        this, drain_each, drain);
  if (drain_each) co_return;
  for (unsigned k = 0; k < shards_.size(); ++k)
    co_await on_shard(
        k, [](server* s, std::chrono::milliseconds d) { s->shutdown_shard(d); }, this, drain);
}

task<void> server::serve(io::byte_stream& s, std::string peer) {
  ensure_shards(*this, shards_, route_meters_);
  co_await detail::serve_stream(s, *shards_[this_shard()], std::move(peer));
}

server_stats server::stats() const noexcept {
  server_stats out;
  for (const auto& p : shards_) {
    const auto& c = p->c;
    out.accepted += c.accepted.get();
    out.refused += c.refused.get();
    out.active += p->active;
    out.requests += c.requests.get();
    out.responses_5xx += c.r5xx.get();
    out.overloaded += c.overloaded.get();
    out.bad_requests += c.bad.get();
    out.idle_timeouts += c.idle_to.get();
    out.header_timeouts += c.header_to.get();
    out.body_timeouts += c.body_to.get();
    out.handler_timeouts += c.handler_to.get();
    out.write_timeouts += c.write_to.get();
    out.handler_errors += c.handler_err.get();
    out.closed_by_drain += c.drained.get();
    out.killed_by_drain += c.killed.get();
    out.tls_handshake_failures += c.tls_failed.get();
  }
  return out;
}

std::vector<route_stats> server::route_metrics() const {
  std::vector<route_stats> out(route_meters_.size());
  for (std::size_t i = 0; i < out.size(); ++i) {
    const detail::route_meter& m = route_meters_[i];
    route_stats& o = out[i];
    o.name = router_.route_name(i);
    o.status_2xx = m.responses.value(0);
    o.status_3xx = m.responses.value(1);
    o.status_4xx = m.responses.value(2);
    o.status_5xx = m.responses.value(3);
    o.latency = m.latency.read();
  }
  return out;
}

void server::write_prometheus(metrics::prometheus_writer& w) const {
  using metrics::type;
  const auto s = stats();
  w.write({"weir_http_connections_accepted_total", {}, type::counter}, {}, s.accepted);
  w.write({"weir_http_connections_refused_total", {}, type::counter}, {}, s.refused);
  w.write({"weir_http_connections_active", {}, type::gauge}, {}, s.active);
  w.write({"weir_http_requests_total", {}, type::counter}, {}, s.requests);
  w.write({"weir_http_overloaded_total", {}, type::counter}, {}, s.overloaded);
  w.write({"weir_http_bad_requests_total", {}, type::counter}, {}, s.bad_requests);
  w.write({"weir_http_handler_errors_total", {}, type::counter}, {}, s.handler_errors);
  if (options().tls)
    w.write({"weir_http_tls_handshake_failures_total", {}, type::counter}, {},
            s.tls_handshake_failures);
  constexpr metrics::family timeouts{"weir_http_timeouts_total", {}, type::counter};
  w.write(timeouts, {{"phase", "idle"}}, s.idle_timeouts);
  w.write(timeouts, {{"phase", "header"}}, s.header_timeouts);
  w.write(timeouts, {{"phase", "body"}}, s.body_timeouts);
  w.write(timeouts, {{"phase", "handler"}}, s.handler_timeouts);
  w.write(timeouts, {{"phase", "write"}}, s.write_timeouts);
  constexpr metrics::family duration{"weir_http_request_duration_seconds", {}, type::histogram};
  constexpr metrics::family responses{"weir_http_responses_total", {}, type::counter};
  w.declare(duration);
  w.declare(responses);
  for (const auto& r : route_metrics()) {
    if (r.latency.count() == 0) continue;
    w.write(duration, {{"route", r.name}}, r.latency);
    const std::pair<const char*, std::uint64_t> codes[] = {
        {"2xx", r.status_2xx}, {"3xx", r.status_3xx}, {"4xx", r.status_4xx}, {"5xx", r.status_5xx}};
    for (const auto& [code, n] : codes)
      if (n) w.write(responses, {{"route", r.name}, {"code", code}}, n);
  }
}

std::string format_access_log(const access_record& r) {
  char when[40];
  std::time_t now = wall_time();
  std::tm tm{};
  gmtime_r(&now, &tm);
  std::strftime(when, sizeof when, "%d/%b/%Y:%H:%M:%S +0000", &tm);
  char tail[96];
  std::snprintf(tail, sizeof tail, "\" %d %llu %.6f", r.status,
                static_cast<unsigned long long>(r.body_bytes),
                std::chrono::duration<double>(r.duration).count());
  std::string out;
  out.reserve(r.peer.size() + r.method.size() + r.target.size() + 80);
  out.append(r.peer.empty() ? std::string_view("-") : r.peer);
  out += " - - [";
  out += when;
  out += "] \"";
  out.append(r.method);
  out += ' ';
  out.append(r.target);
  out += r.version_minor == 0 ? " HTTP/1.0" : " HTTP/1.1";
  out += tail;
  return out;
}

}  // namespace weir::http
