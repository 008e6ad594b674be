// weir::http::client: URLs, the request head, the pool, and one exchange on a connection.
#include <weir/http/client.hpp>

#include <weir/core/blocking.hpp>
#include <weir/core/error.hpp>
#include <weir/core/time.hpp>
#include <weir/io/transport.hpp>
#include <weir/net/address.hpp>
#include <weir/net/socket.hpp>
#include <weir/sync/notify.hpp>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>

#include <sys/socket.h>
#include <sys/uio.h>

namespace weir::http {

namespace detail {

// One connection: the socket, the TLS session over it (https), and the read side. Heap-held so
// the TLS session's and the transport's pointers to the socket stay valid while it is pooled.
struct client_connection {
  net::stream_socket sock;
  std::optional<tls::stream> tls;   // borrows `sock`
  std::optional<io::transport> io;  // reads from tls or sock; writes go to the stream directly
  clock::time_point idle_since{};
  std::string peer;  // for error messages

  // Pipelining: requests take tickets in the order they join; ticket k writes when
  // write_turn == k and reads its response when read_turn == k.
  std::uint64_t next_ticket = 0, write_turn = 0, read_turn = 0;
  std::size_t in_flight = 0;
  bool broken = false;  // takes no more requests; those without a response yet fail
  weir::notify turn;    // notify_all when a turn advances or the connection breaks

  io::byte_stream& stream() noexcept {
    return tls ? static_cast<io::byte_stream&>(*tls) : static_cast<io::byte_stream&>(sock);
  }
};

}  // namespace detail

namespace {

using conn = detail::client_connection;

std::string_view as_sv(io::transport::bytes b) noexcept {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

bool is_token(std::string_view s) noexcept {
  if (s.empty()) return false;
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f || std::strchr("\"(),/:;<=>?@[\\]{}", c)) return false;
  }
  return true;
}

// A field value we may send: no CR, LF or NUL (header injection), no other control byte but HTAB.
bool is_field_value(std::string_view s) noexcept {
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && c != '\t') || u == 0x7f) return false;
  }
  return true;
}

bool has_token(std::string_view list, std::string_view token) noexcept {
  while (!list.empty()) {
    auto comma = list.find(',');
    auto elem = list.substr(0, comma);
    while (!elem.empty() && (elem.front() == ' ' || elem.front() == '\t')) elem.remove_prefix(1);
    while (!elem.empty() && (elem.back() == ' ' || elem.back() == '\t')) elem.remove_suffix(1);
    if (iequals(elem, token)) return true;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return false;
}

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

// A transport error that says the connection was gone (what a stale pooled connection gives).
bool is_connection_gone(std::error_code ec) noexcept {
  return ec == errc::eof || ec == std::errc::connection_reset || ec == std::errc::broken_pipe ||
         ec == std::errc::connection_aborted || ec == tls::errc::truncated;
}

void append_number(std::string& out, std::uint64_t n) {
  char num[24];
  auto r = std::to_chars(num, num + sizeof num, n);
  out.append(num, r.ptr);
}

void append_hex(std::string& out, std::uint64_t n) {
  char num[24];
  auto r = std::to_chars(num, num + sizeof num, n, 16);
  out.append(num, r.ptr);
}

std::string_view strip_brackets(std::string_view host) noexcept {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    return host.substr(1, host.size() - 2);
  return host;
}

// The Host field's value: the host (an IPv6 literal in brackets), and the port unless it is
// the scheme's default (RFC 9110 §7.2).
std::string host_field(const url_parts& u) {
  std::string out;
  if (u.host.find(':') != std::string::npos) {
    out += '[';
    out += u.host;
    out += ']';
  } else {
    out += u.host;
  }
  if (u.port != (u.tls ? 443 : 80)) {
    out += ':';
    append_number(out, u.port);
  }
  return out;
}

std::string pool_key(const url_parts& u, std::string_view server_name) {
  std::string k = u.tls ? "https " : "http ";
  k += u.host;
  k += ' ';
  append_number(k, u.port);
  if (u.tls) {
    k += ' ';
    k += server_name;
  }
  return k;
}

// Is a pooled connection still open? A non-blocking peek at the socket: the end of the stream
// or an error means the server closed it while it idled. Bytes waiting on a plain connection
// cannot be a response to anything (no request is out): the server is confused, drop it. On a
// TLS connection they may be a session ticket or a key update, which the next read handles.
bool looks_alive(conn& c) {
  if (!c.io || !c.io->buffered().empty() || c.io->eof()) return false;
  char b;
  const ssize_t n = ::recv(c.sock.handle().fd(), &b, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n == 0) return false;
  if (n > 0) return c.tls.has_value();
  return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
}

// Writes all of `iov` (several writes when the stream takes a part); counts what went out in
// *sent, so the caller knows whether any of the request may have reached the server.
task<result<void>> send_all(io::byte_stream& s, std::span<iovec> iov, std::size_t* sent) {
  std::size_t i = 0;
  for (;;) {
    while (i < iov.size() && iov[i].iov_len == 0) ++i;
    if (i == iov.size()) co_return result<void>{};
    auto w = co_await s.write_some(iov.subspan(i));
    if (!w) co_return unexpected(w.error());
    *sent += *w;
    std::size_t k = *w;
    while (i < iov.size() && k >= iov[i].iov_len) k -= iov[i++].iov_len;
    if (k > 0) {
      iov[i].iov_base = static_cast<char*>(iov[i].iov_base) + k;
      iov[i].iov_len -= k;
    }
  }
}

result<tls::context> make_default_tls() { return tls::context::client({}); }

// The request head: request line, Host, User-Agent, the caller's fields, the framing.
result<std::string> build_head(const client_request& req, const url_parts& to,
                               const std::string& user_agent, bool& close) {
  std::string_view name = to_string(req.verb);
  if (req.verb == method::other) {
    if (!is_token(req.method_name)) {
      return unexpected(std::errc::invalid_argument, "invalid method \"" + req.method_name + "\"");
    }
    name = req.method_name;
  }
  bool has_host = false, has_agent = false;
  for (const auto& [n, v] : req.headers) {
    if (!is_token(n) || !is_field_value(v)) {
      return unexpected(std::errc::invalid_argument, "invalid header field \"" + n + "\"");
    }
    if (iequals(n, "content-length") || iequals(n, "transfer-encoding")) {
      return unexpected(std::errc::invalid_argument,
                        "the request's framing is the client's: remove the " + n + " field");
    }
    if (iequals(n, "host"))
      has_host = true;
    else if (iequals(n, "user-agent"))
      has_agent = true;
    else if (iequals(n, "connection") && has_token(v, "close"))
      close = true;
  }
  std::string h;
  h.reserve(128 + to.target.size() + req.headers.size() * 32);
  h += name;
  h += ' ';
  h += to.target;
  h += " HTTP/1.1\r\n";
  if (!has_host) {
    h += "Host: ";
    h += host_field(to);
    h += "\r\n";
  }
  if (!has_agent && !user_agent.empty()) {
    h += "User-Agent: ";
    h += user_agent;
    h += "\r\n";
  }
  for (const auto& [n, v] : req.headers) {
    h += n;
    h += ": ";
    h += v;
    h += "\r\n";
  }
  if (req.chunked) {
    h += "Transfer-Encoding: chunked\r\n";
  } else if (!req.body.empty() || req.verb == method::post || req.verb == method::put ||
             req.verb == method::patch) {
    // RFC 9110 §8.6: a request whose method defines a body sends its length even when zero.
    h += "Content-Length: ";
    append_number(h, req.body.size());
    h += "\r\n";
  }
  h += "\r\n";
  if (req.chunked && !req.body.empty()) {  // the body goes as one chunk
    append_hex(h, req.body.size());
    h += "\r\n";
  }
  return h;
}

}  // namespace

// --- URLs and responses -----------------------------------------------------------------------

std::string_view client_response::header(std::string_view name) const noexcept {
  for (const auto& [n, v] : headers)
    if (iequals(n, name)) return v;
  return {};
}

result<url_parts> parse_url(std::string_view url) {
  const auto bad = unexpected(std::make_error_code(std::errc::invalid_argument));
  url_parts u;
  auto scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return bad;
  std::string_view scheme = url.substr(0, scheme_end);
  if (iequals(scheme, "https"))
    u.tls = true;
  else if (!iequals(scheme, "http"))
    return bad;
  url.remove_prefix(scheme_end + 3);
  for (char c : url)
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return bad;
  const auto auth_end = url.find_first_of("/?#");
  std::string_view auth = url.substr(0, auth_end);
  std::string_view rest = auth_end == std::string_view::npos ? "" : url.substr(auth_end);
  if (auth.find('@') != std::string_view::npos) return bad;  // no user info
  std::string_view host, port;
  if (auth.starts_with('[')) {
    auto close = auth.find(']');
    if (close == std::string_view::npos || close == 1) return bad;
    host = auth.substr(1, close - 1);
    auto after = auth.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return bad;
      port = after.substr(1);
      if (port.empty()) return bad;
    }
    if (host.find(':') == std::string_view::npos) return bad;  // brackets are for IPv6 only
  } else {
    auto colon = auth.find(':');
    host = auth.substr(0, colon);
    if (colon != std::string_view::npos) {
      port = auth.substr(colon + 1);
      if (port.empty()) return bad;
    }
  }
  if (host.empty()) return bad;
  for (char c : host)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_' ||
          c == ':' || c == '%'))
      return bad;
  u.host = std::string(host);
  u.port = u.tls ? 443 : 80;
  if (!port.empty()) {
    unsigned v = 0;
    auto [p, ec] = std::from_chars(port.data(), port.data() + port.size(), v);
    if (ec != std::errc() || p != port.data() + port.size() || v == 0 || v > 65535) return bad;
    u.port = static_cast<std::uint16_t>(v);
  }
  rest = rest.substr(0, rest.find('#'));
  if (rest.empty() || rest.front() == '?') u.target = "/";
  u.target += rest;
  return u;
}

// --- client -----------------------------------------------------------------------------------

struct client::plan {
  url_parts to;
  std::string head;         // request line and fields (and a chunked body's size line)
  std::string server_name;  // https: verified and sent as SNI
  std::string key;          // of the pool
  bool close = false;       // the request says "Connection: close"
  const char* phase = "";   // what the exchange is doing, for the timeout's message
};

struct client::attempt {
  std::size_t sent = 0;  // request bytes the stream took
  bool gone = false;     // the connection was found closed before any response byte
  bool keep = false;     // the response allows another request on its connection
};

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
  auto r = co_await std::move(job);
  if (!r) co_return unexpected(r.error());
  if (!*r) co_return unexpected(r->error().with_context("https"));
  if (!tls_) tls_ = std::move(**r);
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
    if (auto t = co_await ensure_tls_context(); !t) co_return unexpected(t.error());
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
  if (opt_.pipeline && idempotent(req.verb) && !pl.close)
    co_return co_await exchange_pipelined(req, pl);
  for (int tries = 0;; ++tries) {
    conn_ptr c = tries == 0 ? take_idle(pl.key) : nullptr;
    const bool reused = c != nullptr;
    if (reused) {
      ++c_.reused;
    } else {
      auto o = co_await open(pl);
      if (!o) co_return unexpected(o.error());
      c = std::move(*o);
    }
    attempt at;
    result<client_response> r = unexpected(errc::cancelled);
    if (auto w = co_await send_request(*c, req, pl, at); !w)
      r = unexpected(w.error());
    else
      r = co_await read_response(*c, req, pl, at);
    if (r) {
      // Another request may follow only if nothing is left over (the server sent more than
      // the response: framing we cannot trust).
      if (at.keep && c->io->buffered().empty() && !c->io->eof()) put_idle(pl.key, std::move(c));
      co_return r;
    }
    // A pooled connection the server had closed (RFC 9112 §9.3.1: retry an idempotent request,
    // or one the server cannot have seen, on a new connection).
    if (reused && at.gone && tries == 0 && r.error() != condition::cancellation &&
        (idempotent(req.verb) || at.sent == 0)) {
      ++c_.retries;
      continue;
    }
    co_return r;
  }
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

task<result<client_response>> client::exchange_pipelined(const client_request& req, plan& pl) {
  for (int tries = 0;; ++tries) {
    conn_ptr c;
    if (tries == 0) {
      if ((c = join_busy(pl.key))) {
        ++c_.pipelined;
      } else if ((c = take_idle(pl.key))) {
        busy_[pl.key].push_back(c);  // it has delivered a keep-alive response: open to joiners
      }
    }
    const bool reused = c != nullptr;
    if (reused) {
      ++c_.reused;
    } else {
      auto o = co_await open(pl);
      if (!o) co_return unexpected(o.error());
      c = std::move(*o);
    }
    attempt at;
    auto r = co_await pipelined_on(std::move(c), req, pl, at);
    if (r) co_return r;
    // The connection died, or another request on it failed, before this one's response began:
    // every pipelined request is idempotent, so retry it once on a new connection.
    if (reused && at.gone && tries == 0 && r.error() != condition::cancellation) {
      ++c_.retries;
      continue;
    }
    co_return r;
  }
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
  while (c.write_turn != ticket && !c.broken)
    if (auto n = co_await c.turn.notified(); !n) co_return unexpected(n.error());
  if (c.broken) co_return unexpected(broken());
  if (auto w = co_await send_request(c, req, pl, at); !w) co_return unexpected(w.error());
  ++c.write_turn;
  c.turn.notify_all();
  pl.phase = "waiting for the responses before its own";
  while (c.read_turn != ticket && !c.broken)
    if (auto n = co_await c.turn.notified(); !n) co_return unexpected(n.error());
  if (c.broken) co_return unexpected(broken());
  auto r = co_await read_response(c, req, pl, at);
  if (!r) co_return r;
  ++c.read_turn;
  if (!at.keep) c.broken = true;  // the server closes after this one: those behind retry
  m.failed = false;
  co_return r;
}

// --- one exchange -----------------------------------------------------------------------------

task<result<void>> client::send_request(conn& c, const client_request& req, plan& pl, attempt& at) {
  const std::string_view head = pl.head;
  static constexpr std::string_view last_chunk = "0\r\n\r\n";
  static constexpr std::string_view end_and_last_chunk = "\r\n0\r\n\r\n";
  iovec iov[3];
  std::size_t n = 0;
  iov[n++] = {const_cast<char*>(head.data()), head.size()};
  if (!req.body.empty()) iov[n++] = {const_cast<char*>(req.body.data()), req.body.size()};
  if (req.chunked) {
    auto tail = req.body.empty() ? last_chunk : end_and_last_chunk;
    iov[n++] = {const_cast<char*>(tail.data()), tail.size()};
  }
  pl.phase = "sending the request";
  if (auto w = co_await send_all(c.stream(), {iov, n}, &at.sent); !w) {
    at.gone = w.error() != condition::cancellation;
    co_return unexpected(w.error().with_context("sending the request to " + c.peer));
  }
  co_return result<void>{};
}

task<result<client_response>> client::read_response(conn& c, const client_request& req, plan& pl,
                                                    attempt& at) {
  // --- the head (skipping interim 1xx responses) ------------------------------------------------
  io::transport& t = *c.io;
  response_parser p(opt_.limits);
  const auto malformed = [&](const parse_error& e, std::string_view what) {
    const bool limit =
        e.status == 413 || e.status == 431 || std::string_view(e.reason) == "status line too long";
    // The chunked decoder's 413 speaks of a request body: say what it means here.
    const std::string why = e.status == 413 ? "body over limits.body_bytes (" +
                                                  std::to_string(opt_.limits.body_bytes) + ")"
                                            : std::string(e.reason);
    return weir::error(
        limit ? make_error_code(errc::limit_exceeded)
              : std::make_error_code(std::errc::bad_message),
        std::string(limit ? "response over the limits from " : "malformed response from ") +
            c.peer + ": " + std::string(what) + why);
  };
  pl.phase = "waiting for the response";
  bool any_byte = false;
  client_response out;
  const response_head* h = nullptr;
  for (int interim = 0;; ++interim) {
    for (;;) {
      const auto b = t.buffered();
      const auto s = p.parse(as_sv(b), req.verb);
      if (s == parse_status::done) break;
      if (s == parse_status::error) co_return unexpected(malformed(p.error(), ""));
      auto f = co_await t.fill(b.size() + 1);
      if (!f) {
        at.gone = !any_byte && b.empty() && is_connection_gone(f.error());
        if (f.error() == condition::cancellation) co_return unexpected(f.error());
        if (f.error() == tls::errc::truncated) {  // closed without close_notify
          if (at.gone)
            co_return unexpected(
                weir::error(make_error_code(errc::eof),
                            "the server " + c.peer + " closed the connection without answering"));
          co_return unexpected(weir::error(make_error_code(errc::truncated),
                                           "connection closed in a response head from " + c.peer));
        }
        co_return unexpected(f.error().with_context("reading the response from " + c.peer));
      }
      if (f->size() <= b.size()) {  // the end of the stream
        if (!any_byte && b.empty()) {
          at.gone = true;
          co_return unexpected(
              weir::error(make_error_code(errc::eof),
                          "the server " + c.peer + " closed the connection without answering"));
        }
        co_return unexpected(weir::error(make_error_code(errc::truncated),
                                         "connection closed in a response head from " + c.peer));
      }
      any_byte = true;
    }
    any_byte = true;
    h = &p.head();
    if (h->status >= 200 || h->status == 101) break;
    if (interim == 32)
      co_return unexpected(
          weir::error(std::make_error_code(std::errc::bad_message),
                      "malformed response from " + c.peer + ": more than 32 interim responses"));
    t.consume(p.head_size());
    p.reset();
  }
  out.status = h->status;
  out.reason = std::string(h->reason);
  out.version_minor = h->version_minor;
  out.headers.reserve(h->headers.size());
  for (const auto& f : h->headers) out.headers.emplace_back(f.name, f.value);
  const framing body = h->status == 101 ? framing::none : h->body;
  const std::uint64_t length = h->content_length;
  const bool keep_alive = h->keep_alive && h->status != 101;
  t.consume(p.head_size());  // h is invalid from here

  pl.phase = "reading the response body";
  // --- the body -------------------------------------------------------------------------------
  const auto truncated = [&] {
    return weir::error(make_error_code(errc::truncated),
                       "connection closed in a response body from " + c.peer);
  };
  const auto read_error = [&](const weir::error& ec) {
    if (ec == condition::cancellation) return ec;
    if (ec == tls::errc::truncated) return truncated();
    return ec.with_context("reading the response from " + c.peer);
  };
  const std::uint64_t max_body = opt_.limits.body_bytes;
  if (body == framing::length) {
    if (length > max_body) {
      co_return unexpected(weir::error(make_error_code(errc::limit_exceeded),
                                       "response over the limits from " + c.peer + ": a body of " +
                                           std::to_string(length) + " bytes (limits.body_bytes " +
                                           std::to_string(max_body) + ")"));
    }
    // Reserved up to 4 MiB: a server announcing a large body must send it to make us hold it.
    out.body.reserve(static_cast<std::size_t>(std::min<std::uint64_t>(length, 4 << 20)));
    std::uint64_t left = length;
    while (left > 0) {
      auto f = co_await t.fill(1);
      if (!f) co_return unexpected(read_error(f.error()));
      if (f->empty()) co_return unexpected(truncated());
      const auto k = static_cast<std::size_t>(std::min<std::uint64_t>(f->size(), left));
      out.body.append(as_sv(f->first(k)));
      t.consume(k);
      left -= k;
    }
  } else if (body == framing::chunked) {
    chunked_decoder d(opt_.limits);
    for (bool done = false; !done;) {
      const auto s = d.decode(as_sv(t.buffered()));
      switch (s.kind) {
        case chunk_event::data: out.body.append(s.data); break;
        case chunk_event::trailer: out.trailers.emplace_back(s.field.name, s.field.value); break;
        case chunk_event::done: done = true; break;
        case chunk_event::error: {
          t.consume(s.consumed);
          co_return unexpected(malformed(d.error(), "chunked body: "));
        }
        case chunk_event::more: {
          t.consume(s.consumed);
          const std::size_t have = t.buffered().size();
          auto f = co_await t.fill(have + 1);
          if (!f) co_return unexpected(read_error(f.error()));
          if (f->size() <= have) co_return unexpected(truncated());
          continue;
        }
      }
      t.consume(s.consumed);
    }
  } else if (body == framing::until_close) {
    for (;;) {
      auto f = co_await t.fill(1);
      if (!f) co_return unexpected(read_error(f.error()));
      if (f->empty()) break;  // the end of the body
      if (out.body.size() + f->size() > max_body)
        co_return unexpected(weir::error(make_error_code(errc::limit_exceeded),
                                         "response over the limits from " + c.peer +
                                             ": a body over limits.body_bytes (" +
                                             std::to_string(max_body) + ")"));
      out.body.append(as_sv(*f));
      t.consume(f->size());
    }
  }
  at.keep = keep_alive && body != framing::until_close && !pl.close;
  co_return out;
}

}  // namespace weir::http
