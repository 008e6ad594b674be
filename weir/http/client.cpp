// weir::http::client: the pool, the retry loop, pipelining (client_head.cpp builds what is
// sent, client_exchange.cpp sends it and reads the answer).
#include <weir/http/detail/client.hpp>

#include <weir/core/blocking.hpp>
#include <weir/core/error.hpp>
#include <weir/core/time.hpp>
#include <weir/net/address.hpp>

#include <algorithm>
#include <cerrno>

#include <sys/socket.h>

namespace weir::http {

namespace {

using conn = detail::client_connection;
using detail::build_head;
using detail::host_field;
using detail::pool_key;
using detail::strip_brackets;

// RFC 9110 §9.2.2; the methods a client may repeat without changing the outcome.
bool idempotent(method m) noexcept {
  switch (m) {
    case method::get:
    case method::head:
    case method::put:
    case method::delete_:
    case method::options:
    case method::trace: return true;
    default: return false;
  }
}
// Is a pooled connection still open? A non-blocking peek at the socket: the end of the stream
// or an error means the server closed it while it idled. Bytes waiting on a plain connection
// cannot be a response to anything (no request is out): the server is confused, drop it. On a
// TLS connection they may be a session ticket or a key update, which the next read handles.
bool looks_alive(conn& c) {
  if (!c.io || !c.io->buffered().empty() || c.io->eof()) return false;
  switch (c.sock.peek()) {
    case net::stream_socket::peek_state::idle: return true;
    case net::stream_socket::peek_state::data: return c.tls.has_value();
    case net::stream_socket::peek_state::end: return false;
  }
  return false;
}
result<tls::context> make_default_tls() { return tls::context::client({}); }

}  // namespace

client::client(client_options o) : opt_(std::move(o)), tls_(opt_.tls) {}

client::~client() = default;

client_stats client::stats() const noexcept {
  client_stats s;
  s.requests = c_.requests.get();
  s.opened = c_.opened.get();
  s.reused = c_.reused.get();
  s.pipelined = c_.pipelined.get();
  s.retries = c_.retries.get();
  s.idle_closed = c_.idle_closed.get();
  s.timeouts = c_.timeouts.get();
  s.failures = c_.failures.get();
  return s;
}

std::size_t client::idle_connections() const noexcept {
  std::size_t n = 0;
  for (const auto& [k, v] : idle_) n += v.size();
  return n;
}

void client::close_idle() noexcept {
  for (auto& [k, v] : idle_) c_.idle_closed.add(v.size());
  idle_.clear();
}

client::conn_ptr client::take_idle(const std::string& key) {
  auto it = idle_.find(key);
  if (it == idle_.end()) return {};
  auto& v = it->second;
  const auto now = weir::now();
  while (!v.empty()) {
    conn_ptr c = std::move(v.back());
    v.pop_back();
    if (now - c->idle_since >= opt_.idle_timeout) {
      // The newest has expired, so have all the older ones.
      c_.idle_closed.add(v.size() + 1);
      v.clear();
      break;
    }
    if (looks_alive(*c)) return c;
    ++c_.idle_closed;
  }
  idle_.erase(it);
  return {};
}

void client::put_idle(const std::string& key, conn_ptr c) {
  if (opt_.max_idle_per_host == 0) {
    ++c_.idle_closed;
    return;
  }
  c->idle_since = weir::now();
  auto& v = idle_[key];
  if (v.size() >= opt_.max_idle_per_host) {
    v.erase(v.begin());  // the oldest
    ++c_.idle_closed;
  }
  v.push_back(std::move(c));
}

task<result<void>> client::ensure_tls_context() {
  if (tls_) co_return result<void>{};
  auto job = blocking(&make_default_tls);
  WEIR_CO_TRY_ASSIGN(auto r, co_await std::move(job));
  if (!r) co_return unexpected(r.error().with_context("https"));
  if (!tls_) tls_ = std::move(*r);
  co_return result<void>{};
}

task<result<client::conn_ptr>> client::open(plan& pl) {
  const url_parts& to = pl.to;
  pl.phase = "connecting";
  std::vector<net::address> addrs;
  if (auto a = net::address::from(to.host, to.port)) {
    addrs.push_back(*a);
  } else {
    pl.phase = "resolving the host name";
    auto r = co_await net::resolve(to.host, to.port);
    if (!r) co_return unexpected(r.error().with_context("resolving " + to.host));
    addrs = std::move(*r);
  }
  if (to.tls) {
    WEIR_CO_TRY(co_await ensure_tls_context());
  }
  pl.phase = "connecting";
  auto c = std::make_shared<conn>();
  weir::error last = std::make_error_code(std::errc::host_unreachable);
  bool connected = false;
  for (const auto& a : addrs) {
    result<net::stream_socket> s = unexpected(errc::cancelled);
    if (opt_.connect_timeout.count() > 0)
      s = co_await with_timeout(opt_.connect_timeout, net::stream_socket::connect(a));
    else
      s = co_await net::stream_socket::connect(a);
    if (s) {
      c->sock = std::move(*s);
      c->peer = a.to_string();
      connected = true;
      break;
    }
    last = s.error().with_context("connecting to " + a.to_string() + " (" + to.host + ")");
    if (s.error() == errc::cancelled || s.error() == errc::shutdown) break;
  }
  if (!connected) {
    if (addrs.empty()) last = std::move(last).with_context("no address for " + to.host);
    co_return unexpected(last);
  }
  if (to.tls) {
    pl.phase = "in the TLS handshake";
    result<tls::stream> s = unexpected(errc::cancelled);
    if (opt_.connect_timeout.count() > 0)
      s = co_await with_timeout(opt_.connect_timeout,
                                tls::stream::connect(tls_, c->sock, pl.server_name));
    else
      s = co_await tls::stream::connect(tls_, c->sock, pl.server_name);
    if (!s) co_return unexpected(s.error().with_context("TLS handshake with " + c->peer));
    c->tls.emplace(std::move(*s));
  }
  const std::size_t need = opt_.limits.header_bytes + 4096;  // a whole head fits
  c->io.emplace(c->stream(),
                io::transport_options{.read_buffer = opt_.read_buffer,
                                      .read_buffer_max = std::max(need, opt_.read_buffer),
                                      .write_buffer = 0});
  ++c_.opened;
  co_return c;
}

task<result<client_response>> client::get(std::string url) {
  client_request r;
  r.url = std::move(url);
  co_return co_await request(std::move(r));
}

task<result<client_response>> client::post(std::string url, std::string body,
                                           std::string content_type) {
  client_request r;
  r.verb = method::post;
  r.url = std::move(url);
  r.body = std::move(body);
  r.headers.emplace_back("Content-Type", std::move(content_type));
  co_return co_await request(std::move(r));
}

task<result<client_response>> client::request(client_request req) {
  affinity_.check("weir::http::client");
  ++c_.requests;
  url_parts to;
  if (!req.url.empty()) {
    auto u = parse_url(req.url);
    if (!u) {
      ++c_.failures;
      co_return unexpected(u.error().with_context("invalid URL \"" + req.url + "\""));
    }
    to = std::move(*u);
  } else {
    to.tls = req.tls;
    to.host = std::string(strip_brackets(req.host));
    to.port = req.port ? req.port : (req.tls ? 443 : 80);
    to.target = req.target.empty() ? "/" : req.target;
    bool ok = !to.host.empty() && (to.target.front() == '/' || to.target == "*");
    for (char c : to.target)
      if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) ok = false;
    if (!ok) {
      ++c_.failures;
      co_return unexpected(
          weir::error(std::make_error_code(std::errc::invalid_argument),
                      "invalid host or target: \"" + req.host + "\" \"" + req.target + "\""));
    }
  }
  plan pl;
  auto head = build_head(req, to, opt_.user_agent, pl.close);
  if (!head) {
    ++c_.failures;
    co_return unexpected(std::move(head).error());
  }
  pl.head = std::move(*head);
  pl.server_name = req.tls_server_name.empty() ? to.host : req.tls_server_name;
  pl.key = pool_key(to, pl.server_name);
  pl.to = std::move(to);
  const auto limit = req.timeout.value_or(opt_.request_timeout);
  result<client_response> r = unexpected(errc::cancelled);
  if (limit.count() > 0)
    r = co_await with_timeout(limit, exchange(req, pl));
  else
    r = co_await exchange(req, pl);
  if (!r) {
    ++c_.failures;
    if (r.error() == errc::timed_out) {
      ++c_.timeouts;
      const std::string_view phase = pl.phase;
      std::string what = "request to " + host_field(pl.to) + " timed out " + pl.phase +
                         " (request timeout " +
                         (limit.count() > 0 ? std::to_string(limit.count()) + " ms" : "none");
      if (phase == "connecting" || phase == "in the TLS handshake")
        what += ", connect timeout " + std::to_string(opt_.connect_timeout.count()) + " ms";
      what += ')';
      r = unexpected(std::move(r).error().with_context(what));
    } else if (r.error() == condition::cancellation) {
      r = unexpected(std::move(r).error().with_context("request to " + host_field(pl.to)));
    }
  }
  co_return r;
}

task<result<client_response>> client::exchange(const client_request& req, plan& pl) {
  const bool pipelined = opt_.pipeline && idempotent(req.verb) && !pl.close;
  for (int tries = 0;; ++tries) {
    conn_ptr c = tries == 0 ? reuse(pl.key, pipelined) : nullptr;
    const bool reused = c != nullptr;
    if (reused) {
      ++c_.reused;
    } else {
      WEIR_CO_TRY_ASSIGN(c, co_await open(pl));
    }
    attempt at;
    result<client_response> r = unexpected(errc::cancelled);
    if (pipelined)
      r = co_await pipelined_on(std::move(c), req, pl, at);
    else
      r = co_await exchange_on(std::move(c), req, pl, at);
    if (r) co_return r;
    // A pooled connection the server had closed, or (pipelined) one that died or failed another
    // request before this one's response began (RFC 9112 §9.3.1): retry an idempotent request,
    // or one the server cannot have seen, once, on a new connection.
    if (reused && at.gone && tries == 0 && r.error() != condition::cancellation &&
        (idempotent(req.verb) || at.sent == 0)) {
      ++c_.retries;
      continue;
    }
    co_return r;
  }
}

client::conn_ptr client::reuse(const std::string& key, bool pipelined) {
  if (!pipelined) return take_idle(key);
  if (conn_ptr c = join_busy(key)) {
    ++c_.pipelined;
    return c;
  }
  conn_ptr c = take_idle(key);
  if (c) busy_[key].push_back(c);  // it has delivered a keep-alive response: open to joiners
  return c;
}

task<result<client_response>> client::exchange_on(conn_ptr c, const client_request& req, plan& pl,
                                                  attempt& at) {
  WEIR_CO_TRY(co_await send_request(*c, req, pl, at));
  auto r = co_await read_response(*c, req, pl, at);
  // Another request may follow only if nothing is left over (the server sent more than the
  // response: framing we cannot trust).
  if (r && at.keep && c->io->buffered().empty() && !c->io->eof()) put_idle(pl.key, std::move(c));
  co_return r;
}

// --- pipelining -------------------------------------------------------------------------------

// A pipelined request's membership of its connection, left however the request ends (a value,
// an error, or its frame destroyed).
struct client::member {
  client* self;
  const std::string* key;
  conn_ptr c;
  bool failed = true;
  ~member() { self->leave(*key, c, failed); }
};

client::conn_ptr client::join_busy(const std::string& key) {
  auto it = busy_.find(key);
  if (it == busy_.end()) return {};
  for (const conn_ptr& c : it->second)
    if (!c->broken && c->in_flight < opt_.max_pipeline) return c;
  return {};
}

void client::leave(const std::string& key, const conn_ptr& c, bool failed) {
  if (failed) c->broken = true;
  --c->in_flight;
  c->turn.notify_all();
  if (c->in_flight > 0) return;
  if (auto it = busy_.find(key); it != busy_.end()) {
    auto& v = it->second;
    v.erase(std::remove(v.begin(), v.end(), c), v.end());
    if (v.empty()) busy_.erase(it);
  }
  if (!c->broken && c->io->buffered().empty() && !c->io->eof()) put_idle(key, c);
}

task<result<client_response>> client::pipelined_on(conn_ptr cp, const client_request& req, plan& pl,
                                                   attempt& at) {
  conn& c = *cp;
  member m{this, &pl.key, std::move(cp)};
  const std::uint64_t ticket = c.next_ticket++;
  ++c.in_flight;
  const auto broken = [&] {
    at.gone = true;
    return weir::error(make_error_code(errc::eof), "the pipelined connection to " + c.peer +
                                                       " failed before this request's turn");
  };
  pl.phase = "waiting for its turn to send";
  while (c.write_turn != ticket && !c.broken) WEIR_CO_TRY(co_await c.turn.notified());
  if (c.broken) co_return unexpected(broken());
  WEIR_CO_TRY(co_await send_request(c, req, pl, at));
  ++c.write_turn;
  c.turn.notify_all();
  pl.phase = "waiting for the responses before its own";
  while (c.read_turn != ticket && !c.broken) WEIR_CO_TRY(co_await c.turn.notified());
  if (c.broken) co_return unexpected(broken());
  auto r = co_await read_response(c, req, pl, at);
  if (!r) co_return r;
  ++c.read_turn;
  if (!at.keep) c.broken = true;  // the server closes after this one: those behind retry
  m.failed = false;
  co_return r;
}

}  // namespace weir::http
