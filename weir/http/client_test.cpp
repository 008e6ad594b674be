// The HTTP client against small servers written here with weir::net (they read raw bytes and
// answer canned responses, so the client is tested apart from weir's own server), over TCP and
// TLS, on both backends; and once against weir::http::server.
#include <weir/http/client.hpp>

#include <weir/core/runtime.hpp>
#include <weir/core/spawn.hpp>
#include <weir/core/time.hpp>
#include <weir/core/when_all.hpp>
#include <weir/http/server.hpp>
#include <weir/net/socket.hpp>
#include <weir/testing/co_assert.hpp>
#include <weir/testing/script_dir.hpp>
#include <weir/tls/tls.hpp>

#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace weir::http {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

// --- certificates (the openssl CLI, once per run) ---------------------------------------------

constexpr const char* kMakeCerts = R"(set -e
EC="-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
openssl req -x509 $EC -keyout ca.key -out ca.pem -subj "/CN=weir client test CA" -days 30 \
  -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
openssl req -x509 -CA ca.pem -CAkey ca.key $EC -keyout server.key -out server.pem \
  -subj "/CN=localhost" -days 30 -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
  -addext basicConstraints=CA:FALSE -addext extendedKeyUsage=serverAuth
openssl req -x509 -CA ca.pem -CAkey ca.key $EC -keyout client.key -out client.pem \
  -subj "/CN=weir test client" -days 30 -addext basicConstraints=CA:FALSE \
  -addext extendedKeyUsage=clientAuth
)";

using weir::testing::slurp;
std::string file(const std::string& name) { return weir::testing::script_file(name); }

[[maybe_unused]] auto* const g_env = ::testing::AddGlobalTestEnvironment(
    new weir::testing::script_dir("weir-http-client", kMakeCerts));

// --- a raw server -------------------------------------------------------------------------------

// What the server does with the n-th request it reads (over all its connections; the last step
// repeats).
struct step {
  enum class then { keep, close, drop, silent };
  std::string response;  // written after the whole request was read
  then after = then::keep;
  std::chrono::milliseconds delay{0};  // before answering
  bool echo = false;                   // answer 200 with the request-target as the body
  // keep: wait for the next request; close: half-close and end the connection after the
  // response; drop: close without answering; silent: answer nothing, wait for the peer to close.
};

struct raw_state {
  std::vector<step> script;
  std::vector<std::string> requests;  // as received, head and body
  int accepts = 0;
  tls::context tls;  // set: every connection is TLS
};

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Reads one request (a head, then a body framed by Content-Length or chunked coding) from `s`;
// `buf` keeps what arrived beyond it. False at the end of the stream or on an error.
task<bool> read_request(io::byte_stream& s, std::string& buf, std::string& out) {
  for (;;) {
    if (auto he = buf.find("\r\n\r\n"); he != std::string::npos) {
      const std::string head = lower(buf.substr(0, he + 4));
      std::size_t total = std::string::npos;
      if (head.find("transfer-encoding: chunked") != std::string::npos) {
        if (buf.compare(he + 4, 5, "0\r\n\r\n") == 0)
          total = he + 9;
        else if (auto e = buf.find("\r\n0\r\n\r\n", he + 4); e != std::string::npos)
          total = e + 7;
      } else if (auto cl = head.find("content-length: "); cl != std::string::npos) {
        total = he + 4 + std::stoul(head.substr(cl + 16));
      } else {
        total = he + 4;
      }
      if (total != std::string::npos && buf.size() >= total) {
        out = buf.substr(0, total);
        buf.erase(0, total);
        co_return true;
      }
    }
    std::byte tmp[4096];
    auto r = co_await s.read_some(tmp);
    if (!r || *r == 0) co_return false;
    buf.append(reinterpret_cast<const char*>(tmp), *r);
  }
}

task<result<void>> write_all(io::byte_stream& s, std::string_view data) {
  while (!data.empty()) {
    iovec v{const_cast<char*>(data.data()), data.size()};
    WEIR_CO_TRY_ASSIGN(const std::size_t n, co_await s.write_some({&v, 1}));
    data.remove_prefix(n);
  }
  co_return result<void>{};
}

task<> serve_raw(net::stream_socket sock, std::shared_ptr<raw_state> st) {
  std::optional<tls::stream> session;
  io::byte_stream* s = &sock;
  if (st->tls) {
    auto r = co_await with_timeout(10s, tls::stream::accept(st->tls, sock));
    if (!r) co_return;
    session.emplace(std::move(*r));
    s = &*session;
  }
  std::string buf, req;
  while (co_await read_request(*s, buf, req)) {
    const std::size_t n = st->requests.size();
    st->requests.push_back(req);
    const step& sp = st->script[std::min(n, st->script.size() - 1)];
    if (sp.after == step::then::drop) co_return;
    if (sp.after == step::then::silent) {
      std::byte tmp[512];
      for (;;) {
        auto r = co_await s->read_some(tmp);
        if (!r || *r == 0) co_return;
      }
    }
    if (sp.delay.count() > 0) (void)co_await sleep_for(sp.delay);
    std::string answer = sp.response;
    if (sp.echo) {
      const auto sp1 = req.find(' '), sp2 = req.find(' ', sp1 + 1);
      const std::string target = req.substr(sp1 + 1, sp2 - sp1 - 1);
      answer = "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(target.size()) + "\r\n\r\n" +
               target;
    }
    if (!co_await write_all(*s, answer)) co_return;
    if (sp.after == step::then::close) {
      (void)co_await s->shutdown_write();
      co_return;
    }
  }
}

task<> accept_loop(net::listener l, std::shared_ptr<raw_state> st) {
  for (;;) {
    auto s = co_await l.accept();
    if (!s) co_return;
    ++st->accepts;
    spawn_detached(serve_raw(std::move(*s), st), "raw http connection");
  }
}

// A server on 127.0.0.1 (or [::1]) playing `script`. Lives in a test's task: its acceptor is
// cancelled when it is destroyed; its connections end when their peers close.
class raw_server {
 public:
  explicit raw_server(std::vector<step> script, tls::context tls = {},
                      net::address at = net::address::loopback_v4(0))
      : st_(std::make_shared<raw_state>()) {
    st_->script = std::move(script);
    st_->tls = std::move(tls);
    auto l = net::listener::bind(at);
    EXPECT_TRUE(l) << l.error().message();
    port_ = l->local_address().port();
    acceptor_ = spawn(accept_loop(std::move(*l), st_), "raw http accept");
  }
  ~raw_server() { acceptor_.cancel(); }

  std::uint16_t port() const { return port_; }
  std::string url(std::string_view path = "/", std::string_view host = "127.0.0.1") const {
    return std::string(st_->tls ? "https://" : "http://") + std::string(host) + ":" +
           std::to_string(port_) + std::string(path);
  }
  int accepts() const { return st_->accepts; }
  const std::vector<std::string>& requests() const { return st_->requests; }

 private:
  std::shared_ptr<raw_state> st_;
  std::uint16_t port_ = 0;
  join_handle<void> acceptor_;
};

step ok(std::string body, std::string extra = {}) {
  return {"HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) + "\r\n" + extra +
              "\r\n" + body,
          step::then::keep};
}

// --- tests ----------------------------------------------------------------------------------

TEST(HttpUrl, Parse) {
  auto u = parse_url("http://example.com:8080/a/b?x=1#frag");
  ASSERT_TRUE(u);
  EXPECT_FALSE(u->tls);
  EXPECT_EQ(u->host, "example.com");
  EXPECT_EQ(u->port, 8080);
  EXPECT_EQ(u->target, "/a/b?x=1");
  u = parse_url("HTTPS://example.com");
  ASSERT_TRUE(u);
  EXPECT_TRUE(u->tls);
  EXPECT_EQ(u->port, 443);
  EXPECT_EQ(u->target, "/");
  u = parse_url("http://[::1]:81?q");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->host, "::1");
  EXPECT_EQ(u->port, 81);
  EXPECT_EQ(u->target, "/?q");
  u = parse_url("http://10.0.0.1");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->port, 80);
  for (const char* bad :
       {"ftp://x/", "http://", "http:///a", "http://x:0/", "http://x:65536/", "http://x:/",
        "http://u:p@x/", "http://[::1/", "http://[x]/", "http://a b/", "http://x/a b",
        "http://x/\r\nEvil: 1", "example.com/a", "http://x:8a/"}) {
    EXPECT_FALSE(parse_url(bad)) << bad;
  }
}

class Client : public ::testing::TestWithParam<std::string> {
 protected:
  runtime_options opts() const { return {.shards = 1, .backend = GetParam()}; }
};

task<> content_length_response() {
  raw_server srv({ok("hello", "X-Thing: 1\r\n")});
  client c;
  auto r = co_await c.get(srv.url("/path?q=1"));
  CO_ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->reason, "OK");
  EXPECT_EQ(r->body, "hello");
  EXPECT_EQ(r->header("x-thing"), "1");
  EXPECT_EQ(r->header("content-length"), "5");
  EXPECT_EQ(r->header("nope"), "");
  CO_ASSERT_TRUE(srv.requests().size() == 1);
  const std::string& q = srv.requests()[0];
  EXPECT_TRUE(q.starts_with("GET /path?q=1 HTTP/1.1\r\n")) << q;
  EXPECT_NE(q.find("\r\nHost: 127.0.0.1:" + std::to_string(srv.port()) + "\r\n"), std::string::npos)
      << q;
  EXPECT_NE(q.find("\r\nUser-Agent: weir\r\n"), std::string::npos) << q;
  EXPECT_EQ(q.find("Content-Length"), std::string::npos) << q;  // GET without a body
  EXPECT_EQ(c.idle_connections(), 1u);
}

TEST_P(Client, ContentLengthResponse) {
  runtime rt(opts());
  rt.block_on(content_length_response());
}

task<> chunked_response() {
  raw_server srv(
      {{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        "5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-Checksum: 42\r\nX-Other: b\r\n\r\n"}});
  client c;
  auto r = co_await c.get(srv.url());
  CO_ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->body, "hello world");
  CO_ASSERT_TRUE(r->trailers.size() == 2);
  EXPECT_EQ(r->trailers[0].first, "X-Checksum");
  EXPECT_EQ(r->trailers[0].second, "42");
  EXPECT_EQ(c.idle_connections(), 1u);  // chunked: the connection is reusable
  auto again = co_await c.get(srv.url());
  CO_ASSERT_TRUE(again);
  EXPECT_EQ(again->body, "hello world");
  EXPECT_EQ(srv.accepts(), 1);
}

TEST_P(Client, ChunkedResponseWithTrailers) {
  runtime rt(opts());
  rt.block_on(chunked_response());
}

task<> until_close_response() {
  raw_server srv({{"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nall of it, to the end",
                   step::then::close},
                  {"HTTP/1.0 200 OK\r\n\r\nold style", step::then::close}});
  client c;
  auto r = co_await c.get(srv.url());
  CO_ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->body, "all of it, to the end");
  EXPECT_EQ(c.idle_connections(), 0u);  // delimited by the close: not reusable
  r = co_await c.get(srv.url());
  CO_ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->version_minor, 0u);
  EXPECT_EQ(r->body, "old style");
  EXPECT_EQ(srv.accepts(), 2);
}

TEST_P(Client, UntilCloseResponse) {
  runtime rt(opts());
  rt.block_on(until_close_response());
}

task<> head_has_no_body() {
  raw_server srv({{"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n"}, ok("after head")});
  client c;
  client_request q;
  q.verb = method::head;
  q.url = srv.url("/doc");
  auto r = co_await c.request(q);
  CO_ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->header("Content-Length"), "100");
  EXPECT_EQ(r->body, "");
  // The connection is in step: the next response is read from where HEAD's ended.
  auto g = co_await c.get(srv.url("/doc"));
  CO_ASSERT_TRUE(g) << g.error().message();
  EXPECT_EQ(g->body, "after head");
  EXPECT_EQ(srv.accepts(), 1);
  EXPECT_TRUE(srv.requests()[0].starts_with("HEAD /doc HTTP/1.1\r\n"));
}

TEST_P(Client, HeadHasNoBody) {
  runtime rt(opts());
  rt.block_on(head_has_no_body());
}

task<> interim_response_skipped() {
  raw_server srv(
      {{"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
        "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok"}});
  client c;
  client_request q;
  q.verb = method::post;
  q.url = srv.url("/upload");
  q.headers = {{"Expect", "100-continue"}, {"Content-Type", "text/plain"}};
  q.body = "payload";
  auto r = co_await c.request(q);
  CO_ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->status, 201);
  EXPECT_EQ(r->reason, "Created");
  EXPECT_EQ(r->body, "ok");
  EXPECT_EQ(r->header("Link"), "");  // the interim response's fields are not the final ones
  CO_ASSERT_TRUE(srv.requests().size() == 1);
  const std::string& req = srv.requests()[0];
  EXPECT_NE(req.find("\r\nContent-Length: 7\r\n"), std::string::npos) << req;
  EXPECT_TRUE(req.ends_with("\r\n\r\npayload")) << req;
  EXPECT_EQ(c.idle_connections(), 1u);
}

TEST_P(Client, InterimContinueIsSkipped) {
  runtime rt(opts());
  rt.block_on(interim_response_skipped());
}

task<> keep_alive_reuse() {
  raw_server srv({ok("one"), ok("two"), ok("three")});
  client c;
  auto a = co_await c.get(srv.url("/a"));
  CO_ASSERT_TRUE(a) << a.error().message();
  EXPECT_EQ(a->body, "one");
  // The same origin given as host, port and target: the same pool.
  client_request q;
  q.host = "127.0.0.1";
  q.port = srv.port();
  q.target = "/b";
  auto b = co_await c.request(q);
  CO_ASSERT_TRUE(b) << b.error().message();
  EXPECT_EQ(b->body, "two");
  auto p = co_await c.post(srv.url("/c"), "{}", "application/json");
  CO_ASSERT_TRUE(p) << p.error().message();
  EXPECT_EQ(p->body, "three");
  EXPECT_EQ(srv.accepts(), 1);
  const auto s = c.stats();
  EXPECT_EQ(s.requests, 3u);
  EXPECT_EQ(s.opened, 1u);
  EXPECT_EQ(s.reused, 2u);
  EXPECT_EQ(s.retries, 0u);
  EXPECT_EQ(s.failures, 0u);
  CO_ASSERT_TRUE(srv.requests().size() == 3);
  EXPECT_TRUE(srv.requests()[1].starts_with("GET /b HTTP/1.1\r\n"));
  EXPECT_NE(srv.requests()[2].find("\r\nContent-Type: application/json\r\n"), std::string::npos);
  EXPECT_TRUE(srv.requests()[2].ends_with("Content-Length: 2\r\n\r\n{}")) << srv.requests()[2];
}

TEST_P(Client, KeepAliveReusesOneConnection) {
  runtime rt(opts());
  rt.block_on(keep_alive_reuse());
}

task<> connection_close_not_pooled() {
  raw_server srv({ok("server says close", "Connection: close\r\n"), ok("x")});
  client c;
  auto a = co_await c.get(srv.url());
  CO_ASSERT_TRUE(a);
  EXPECT_EQ(c.idle_connections(), 0u);
  client_request q;
  q.url = srv.url();
  q.headers = {{"Connection", "close"}};
  auto b = co_await c.request(q);
  CO_ASSERT_TRUE(b);
  EXPECT_EQ(c.idle_connections(), 0u);  // the request said close
  EXPECT_EQ(srv.accepts(), 2);
}

TEST_P(Client, ConnectionCloseIsNotPooled) {
  runtime rt(opts());
  rt.block_on(connection_close_not_pooled());
}

// The server takes the second request on the pooled connection and closes it without an
// answer: the client sees the end of the stream before any response byte and retries the GET
// once on a new connection.
task<> stale_pooled_connection_retried() {
  raw_server srv({ok("first"), {"", step::then::drop}, ok("retried")});
  client c;
  auto a = co_await c.get(srv.url());
  CO_ASSERT_TRUE(a);
  auto b = co_await c.get(srv.url("/again"));
  CO_ASSERT_TRUE(b) << b.error().message();
  EXPECT_EQ(b->body, "retried");
  EXPECT_EQ(srv.accepts(), 2);
  const auto s = c.stats();
  EXPECT_EQ(s.retries, 1u);
  EXPECT_EQ(s.opened, 2u);
  EXPECT_EQ(s.reused, 1u);
  EXPECT_EQ(s.failures, 0u);
  CO_ASSERT_TRUE(srv.requests().size() == 3);
  EXPECT_TRUE(srv.requests()[2].starts_with("GET /again "));
}

TEST_P(Client, DeadPooledConnectionIsRetriedForGet) {
  runtime rt(opts());
  rt.block_on(stale_pooled_connection_retried());
}

task<> post_not_retried() {
  raw_server srv({ok("first"), {"", step::then::drop}, ok("must not be reached")});
  client c;
  auto a = co_await c.get(srv.url());
  CO_ASSERT_TRUE(a);
  auto b = co_await c.post(srv.url(), "not idempotent");
  CO_ASSERT_FALSE(b);
  EXPECT_EQ(b.error(), errc::eof) << b.error().message();
  EXPECT_NE(b.error().message().find("without answering"), std::string_view::npos)
      << b.error().message();
  EXPECT_EQ(c.stats().retries, 0u);
  EXPECT_EQ(srv.requests().size(), 2u);
}

TEST_P(Client, DeadPooledConnectionIsNotRetriedForPost) {
  runtime rt(opts());
  rt.block_on(post_not_retried());
}

// The server closes the idle connection; the client notices before sending (a peek), so the
// request goes on a new connection without a retry.
task<> closed_idle_connection_detected() {
  raw_server srv({{ok("first").response, step::then::close}, ok("second")});
  client c;
  auto a = co_await c.get(srv.url());
  CO_ASSERT_TRUE(a);
  EXPECT_EQ(c.idle_connections(), 1u);
  (void)co_await sleep_for(50ms);  // the FIN arrives
  auto b = co_await c.post(srv.url(), "safe: nothing was sent on the dead connection");
  CO_ASSERT_TRUE(b) << b.error().message();
  EXPECT_EQ(b->body, "second");
  const auto s = c.stats();
  EXPECT_EQ(s.opened, 2u);
  EXPECT_EQ(s.reused, 0u);
  EXPECT_EQ(s.retries, 0u);
  EXPECT_EQ(s.idle_closed, 1u);
}

TEST_P(Client, ClosedIdleConnectionIsDetectedBeforeSending) {
  runtime rt(opts());
  rt.block_on(closed_idle_connection_detected());
}

task<> idle_timeout_expires() {
  raw_server srv({ok("x")});
  client c({.idle_timeout = 30ms});
  CO_ASSERT_TRUE(co_await c.get(srv.url()));
  (void)co_await sleep_for(60ms);
  CO_ASSERT_TRUE(co_await c.get(srv.url()));
  EXPECT_EQ(c.stats().opened, 2u);
  EXPECT_EQ(c.stats().idle_closed, 1u);
  EXPECT_EQ(srv.accepts(), 2);
}

TEST_P(Client, IdleConnectionsExpire) {
  runtime rt(opts());
  rt.block_on(idle_timeout_expires());
}

task<> concurrent_requests() {
  raw_server srv({ok("x")});
  client c({.max_idle_per_host = 2});
  auto [a, b, d] = co_await when_all(c.get(srv.url()), c.get(srv.url()), c.get(srv.url()));
  CO_ASSERT_TRUE(a && b && d);
  EXPECT_EQ(srv.accepts(), 3);          // each in flight on its own connection
  EXPECT_EQ(c.idle_connections(), 2u);  // the cap
  EXPECT_EQ(c.stats().idle_closed, 1u);
  c.close_idle();
  EXPECT_EQ(c.idle_connections(), 0u);
}

TEST_P(Client, ConcurrentRequestsAndThePoolCap) {
  runtime rt(opts());
  rt.block_on(concurrent_requests());
}

task<> request_timeout() {
  raw_server silent({{"", step::then::silent}});
  raw_server fine({ok("fine")});
  client c;
  client_request q;
  q.url = silent.url();
  q.timeout = 200ms;
  const auto t0 = std::chrono::steady_clock::now();
  auto r = co_await c.request(q);
  const auto took = std::chrono::steady_clock::now() - t0;
  CO_ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::timed_out) << r.error().message();
  EXPECT_GE(took, 190ms);
  EXPECT_LT(took, 2s);
  EXPECT_EQ(c.idle_connections(), 0u);  // the timed-out connection is closed
  EXPECT_EQ(c.stats().timeouts, 1u);
  EXPECT_NE(r.error().message().find("timed out waiting for the response"), std::string_view::npos)
      << r.error().message();
  // Again: a new connection (the first was not pooled), a shorter default timeout.
  client c2({.request_timeout = 100ms});
  auto r2 = co_await c2.get(silent.url());
  CO_ASSERT_FALSE(r2);
  EXPECT_EQ(r2.error(), errc::timed_out);
  EXPECT_EQ(silent.accepts(), 2);
  // The runtime and the client go on.
  auto f = co_await c.get(fine.url());
  CO_ASSERT_TRUE(f) << f.error().message();
  EXPECT_EQ(f->body, "fine");
}

TEST_P(Client, RequestTimeout) {
  runtime rt(opts());
  rt.block_on(request_timeout());
}

task<> malformed_response() {
  raw_server srv({{"HTTP/1.1 2x0 OK\r\nContent-Length: 0\r\n\r\n"},
                  {"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd"},
                  {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"},
                  {"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", step::then::close}});
  client c;
  auto r = co_await c.get(srv.url());
  CO_ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), std::errc::bad_message) << r.error().message();
  EXPECT_NE(r.error().message().find("invalid status code"), std::string_view::npos)
      << r.error().message();
  r = co_await c.get(srv.url());
  CO_ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), std::errc::bad_message);
  EXPECT_NE(r.error().message().find("differing Content-Length"), std::string_view::npos)
      << r.error().message();
  r = co_await c.get(srv.url());
  CO_ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), std::errc::bad_message);
  EXPECT_NE(r.error().message().find("chunk size"), std::string_view::npos) << r.error().message();
  r = co_await c.get(srv.url());
  CO_ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::truncated) << r.error().message();
  EXPECT_EQ(c.idle_connections(), 0u);
  EXPECT_EQ(c.stats().failures, 4u);
}

TEST_P(Client, MalformedResponses) {
  runtime rt(opts());
  rt.block_on(malformed_response());
}

task<> oversized_response() {
  raw_server srv(
      {{"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n" + std::string(5000, 'x')},
       {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        "320\r\n" +
        std::string(800, 'x') + "\r\n320\r\n" + std::string(800, 'y') + "\r\n0\r\n\r\n"},
       {"HTTP/1.1 200 OK\r\n\r\n" + std::string(2000, 'z'), step::then::close},
       {"HTTP/1.1 200 OK\r\nX-Big: " + std::string(1000, 'h') + "\r\nContent-Length: 0\r\n\r\n"},
       ok(std::string(1024, 'k'))});
  client_options o;
  o.limits.body_bytes = 1024;
  o.limits.header_bytes = 512;
  client c(o);
  for (int i = 0; i < 4; ++i) {
    auto r = co_await c.get(srv.url());
    CO_ASSERT_FALSE(r) << i;
    EXPECT_EQ(r.error(), errc::limit_exceeded) << i << ": " << r.error().message();
    EXPECT_NE(r.error().context().find("over the limits"), std::string_view::npos)
        << r.error().message();
  }
  auto r = co_await c.get(srv.url());  // exactly at the limit
  CO_ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->body.size(), 1024u);
}

TEST_P(Client, OversizedResponsesHitTheLimits) {
  runtime rt(opts());
  rt.block_on(oversized_response());
}

task<> chunked_request_body() {
  raw_server srv({ok("got it")});
  client c;
  client_request q;
  q.verb = method::put;
  q.url = srv.url("/kv/a");
  q.body = "hello chunked world";
  q.chunked = true;
  auto r = co_await c.request(q);
  CO_ASSERT_TRUE(r) << r.error().message();
  q.body.clear();
  r = co_await c.request(q);
  CO_ASSERT_TRUE(r) << r.error().message();
  CO_ASSERT_TRUE(srv.requests().size() == 2);
  const std::string& a = srv.requests()[0];
  EXPECT_TRUE(a.starts_with("PUT /kv/a HTTP/1.1\r\n")) << a;
  EXPECT_EQ(a.find("Content-Length"), std::string::npos) << a;
  EXPECT_TRUE(
      a.ends_with("\r\nTransfer-Encoding: chunked\r\n\r\n13\r\nhello chunked world\r\n"
                  "0\r\n\r\n"))
      << a;
  EXPECT_TRUE(srv.requests()[1].ends_with("Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"))
      << srv.requests()[1];
  EXPECT_EQ(srv.accepts(), 1);
}

TEST_P(Client, ChunkedRequestBody) {
  runtime rt(opts());
  rt.block_on(chunked_request_body());
}

task<> ipv6_literal() {
  raw_server srv({ok("six")}, {}, net::address::loopback_v6(0));
  client c;
  auto r = co_await c.get("http://[::1]:" + std::to_string(srv.port()) + "/v6");
  CO_ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->body, "six");
  CO_ASSERT_TRUE(srv.requests().size() == 1);
  EXPECT_NE(srv.requests()[0].find("\r\nHost: [::1]:" + std::to_string(srv.port()) + "\r\n"),
            std::string::npos)
      << srv.requests()[0];
}

TEST_P(Client, Ipv6Literal) {
  runtime rt(opts());
  rt.block_on(ipv6_literal());
}

task<> invalid_requests_and_connect_errors() {
  client c;
  auto r = co_await c.get("ftp://127.0.0.1/");
  CO_ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), std::errc::invalid_argument);
  client_request q;
  q.url = "http://127.0.0.1:1/";
  q.headers = {{"X-Evil", "a\r\nInjected: 1"}};
  r = co_await c.request(q);
  CO_ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), std::errc::invalid_argument);
  q.headers = {{"Content-Length", "3"}};
  r = co_await c.request(q);
  CO_ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), std::errc::invalid_argument);
  q.headers.clear();
  q.verb = method::other;
  q.method_name = "BAD METHOD";
  r = co_await c.request(q);
  CO_ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), std::errc::invalid_argument);
  EXPECT_EQ(c.stats().opened, 0u);

  // Nothing listens on a port we bound and closed.
  std::uint16_t port = 0;
  {
    auto l = net::listener::bind(net::address::loopback_v4(0));
    CO_ASSERT_TRUE(l);
    port = l->local_address().port();
  }
  r = co_await c.get("http://127.0.0.1:" + std::to_string(port) + "/");
  CO_ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), std::errc::connection_refused) << r.error().message();
  EXPECT_NE(r.error().message().find("connecting to 127.0.0.1:"), std::string_view::npos)
      << r.error().message();
  r = co_await c.get("http://no-such-host.invalid/");
  CO_ASSERT_FALSE(r);
  EXPECT_EQ(&r.error().category(), &net::resolve_category()) << r.error().message();
}

TEST_P(Client, InvalidRequestsAndConnectErrors) {
  runtime rt(opts());
  rt.block_on(invalid_requests_and_connect_errors());
}

task<> method_other() {
  raw_server srv({{"HTTP/1.1 207 Multi-Status\r\nContent-Length: 0\r\n\r\n"},
                  {"HTTP/1.1 204 No Content\r\nContent-Length: 99\r\n\r\n"},
                  ok("after 204")});
  client c;
  client_request q;
  q.verb = method::other;
  q.method_name = "PROPFIND";
  q.url = srv.url("/dav");
  q.headers = {{"Depth", "1"}};
  auto r = co_await c.request(q);
  CO_ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->status, 207);
  EXPECT_TRUE(srv.requests()[0].starts_with("PROPFIND /dav HTTP/1.1\r\n"));
  // (Named first: g++ 12 destroys a braced temporary argument of a co_await twice.)
  client_request del{.verb = method::delete_, .url = srv.url("/x")};
  auto d = co_await c.request(std::move(del));
  CO_ASSERT_TRUE(d) << d.error().message();
  EXPECT_EQ(d->status, 204);  // no body whatever Content-Length says
  auto g = co_await c.get(srv.url());
  CO_ASSERT_TRUE(g) << g.error().message();
  EXPECT_EQ(g->body, "after 204");
  EXPECT_EQ(srv.accepts(), 1);
}

TEST_P(Client, OtherMethodsAnd204) {
  runtime rt(opts());
  rt.block_on(method_other());
}

// --- pipelining ------------------------------------------------------------------------------

task<> pipelined_requests() {
  step echo;
  echo.echo = true;
  raw_server srv({echo});
  client c({.pipeline = true});
  auto warm = co_await c.get(srv.url("/warm"));  // a keep-alive connection in the pool
  CO_ASSERT_TRUE(warm) << warm.error().message();
  auto [a, b, d, p] = co_await when_all(c.get(srv.url("/1")), c.get(srv.url("/2")),
                                        c.get(srv.url("/3")), c.post(srv.url("/4"), "x"));
  CO_ASSERT_TRUE(a && b && d && p)
      << a.error().message() << b.error().message() << d.error().message() << p.error().message();
  EXPECT_EQ(a->body, "/1");  // each response to its own request, in order
  EXPECT_EQ(b->body, "/2");
  EXPECT_EQ(d->body, "/3");
  EXPECT_EQ(p->body, "/4");
  EXPECT_EQ(srv.accepts(), 2);  // the GETs on the pooled connection; the POST on its own
  const auto s = c.stats();
  EXPECT_EQ(s.pipelined, 2u);
  EXPECT_EQ(s.opened, 2u);
  EXPECT_EQ(c.idle_connections(), 2u);  // both back in the pool when done
  // The pooled connection still works, one request at a time.
  auto again = co_await c.get(srv.url("/5"));
  CO_ASSERT_TRUE(again);
  EXPECT_EQ(again->body, "/5");
  // Off (the default): concurrent requests each take a connection.
  client one_each;
  auto [x, y] = co_await when_all(one_each.get(srv.url("/x")), one_each.get(srv.url("/y")));
  CO_ASSERT_TRUE(x && y);
  EXPECT_EQ(one_each.stats().opened, 2u);
  EXPECT_EQ(one_each.stats().pipelined, 0u);
}

TEST_P(Client, PipelinedRequests) {
  runtime rt(opts());
  rt.block_on(pipelined_requests());
}

// The head of a pipeline times out: the connection is closed, and the requests queued behind
// it are retried on new connections.
task<> pipeline_head_times_out() {
  step slow, echo;
  slow.echo = echo.echo = true;
  slow.delay = 300ms;
  raw_server srv({ok("warm"), slow, echo});
  client c({.pipeline = true});
  auto warm = co_await c.get(srv.url());
  CO_ASSERT_TRUE(warm) << warm.error().message();
  client_request head;
  head.url = srv.url("/slow");
  head.timeout = 100ms;
  auto [a, b, d] =
      co_await when_all(c.request(std::move(head)), c.get(srv.url("/b")), c.get(srv.url("/d")));
  CO_ASSERT_FALSE(a);
  EXPECT_EQ(a.error(), errc::timed_out);
  CO_ASSERT_TRUE(b && d) << b.error().message() << d.error().message();
  EXPECT_EQ(b->body, "/b");
  EXPECT_EQ(d->body, "/d");
  const auto s = c.stats();
  EXPECT_EQ(s.pipelined, 2u);
  EXPECT_EQ(s.retries, 2u);
  EXPECT_EQ(srv.accepts(), 3);  // the first, and one each for the two retried requests
}

TEST_P(Client, PipelineHeadTimeoutRetriesTheRest) {
  runtime rt(opts());
  rt.block_on(pipeline_head_times_out());
}

// --- TLS --------------------------------------------------------------------------------------

task<> https_requests() {
  auto sctx =
      tls::context::server({.cert_file = file("server.pem"), .key_file = file("server.key")});
  CO_ASSERT_TRUE(sctx) << sctx.error().message();
  auto cctx = tls::context::client({.ca_file = file("ca.pem")});
  CO_ASSERT_TRUE(cctx) << cctx.error().message();
  raw_server srv({ok("secret one"),
                  {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\ntwo\r\n0\r\n\r\n"},
                  ok("three")},
                 *sctx);
  client c({.tls = *cctx});
  auto a = co_await c.get(srv.url("/a", "localhost"));  // a name, resolved
  CO_ASSERT_TRUE(a) << a.error().message();
  EXPECT_EQ(a->body, "secret one");
  auto b = co_await c.get(srv.url("/b", "localhost"));
  CO_ASSERT_TRUE(b) << b.error().message();
  EXPECT_EQ(b->body, "two");
  EXPECT_EQ(srv.accepts(), 1);  // keep-alive over TLS
  EXPECT_EQ(c.stats().reused, 1u);
  // An IP literal, verified against the certificate's IP address.
  auto d = co_await c.get(srv.url("/c"));
  CO_ASSERT_TRUE(d) << d.error().message();
  EXPECT_EQ(d->body, "three");
  CO_ASSERT_TRUE(srv.requests().size() == 3);
  EXPECT_NE(srv.requests()[0].find("\r\nHost: localhost:" + std::to_string(srv.port())),
            std::string::npos);
  // The name to verify, given: the certificate is not for it.
  client_request q;
  q.url = srv.url("/d");
  q.tls_server_name = "wrong.example";
  auto e = co_await c.request(q);
  CO_ASSERT_FALSE(e);
  EXPECT_EQ(e.error(), tls::errc::hostname_mismatch) << e.error().message();
  EXPECT_NE(e.error().message().find("TLS handshake"), std::string_view::npos)
      << e.error().message();
  // Without a context, the client builds one with the system's trust store: our CA is not
  // in it.
  client plain;
  auto f = co_await plain.get(srv.url("/e", "localhost"));
  CO_ASSERT_FALSE(f);
  EXPECT_EQ(f.error(), tls::errc::untrusted_certificate) << f.error().message();
}

// A TLS server closes the pooled connection as the second request arrives (no close_notify):
// the GET is retried on a new connection.
task<> https_dead_pooled_connection() {
  auto sctx =
      tls::context::server({.cert_file = file("server.pem"), .key_file = file("server.key")});
  CO_ASSERT_TRUE(sctx) << sctx.error().message();
  auto cctx = tls::context::client({.ca_file = file("ca.pem")});
  CO_ASSERT_TRUE(cctx) << cctx.error().message();
  raw_server srv({ok("first"), {"", step::then::drop}, ok("retried")}, *sctx);
  client c({.tls = *cctx});
  auto a = co_await c.get(srv.url());
  CO_ASSERT_TRUE(a) << a.error().message();
  auto b = co_await c.get(srv.url());
  CO_ASSERT_TRUE(b) << b.error().message();
  EXPECT_EQ(b->body, "retried");
  EXPECT_EQ(c.stats().retries, 1u);
  EXPECT_EQ(srv.accepts(), 2);
}

TEST_P(Client, HttpsDeadPooledConnectionIsRetried) {
  runtime rt(opts());
  rt.block_on(https_dead_pooled_connection());
}

TEST_P(Client, Https) {
  runtime rt(opts());
  rt.block_on(https_requests());
}

// --- against weir::http::server ----------------------------------------------------------------

task<> against_weir_server() {
  router routes;
  routes.get("/hello", [](request&, response& res) -> task<> {
    res.content_type("text/plain");
    res.body("Hello, World!");
    co_return;
  });
  routes.post("/echo", [](request& req, response& res) -> task<> {
    auto b = co_await req.body();
    if (!b) {
      res.status(400);
      co_return;
    }
    res.body(std::string(*b));
  });
  server srv(std::move(routes));
  auto where = co_await srv.listen(net::address::loopback_v4(0));
  CO_ASSERT_TRUE(where) << where.error().message();
  auto running = spawn(srv.run(), "http server");
  const std::string base = "http://" + where->to_string();
  {
    client c;
    auto g = co_await c.get(base + "/hello");
    CO_ASSERT_TRUE(g) << g.error().message();
    EXPECT_EQ(g->status, 200);
    EXPECT_EQ(g->body, "Hello, World!");
    EXPECT_EQ(g->header("content-type"), "text/plain");
    auto p = co_await c.post(base + "/echo", std::string(100'000, 'e'));
    CO_ASSERT_TRUE(p) << p.error().message();
    EXPECT_EQ(p->status, 200);
    EXPECT_EQ(p->body, std::string(100'000, 'e'));
    client_request q;
    q.verb = method::post;
    q.url = base + "/echo";
    q.body = "chunked to weir";
    q.chunked = true;
    auto pc = co_await c.request(q);
    CO_ASSERT_TRUE(pc) << pc.error().message();
    EXPECT_EQ(pc->body, "chunked to weir");
    auto nf = co_await c.get(base + "/nope");
    CO_ASSERT_TRUE(nf);
    EXPECT_EQ(nf->status, 404);
    client_request h;
    h.verb = method::head;
    h.url = base + "/hello";
    auto hd = co_await c.request(h);
    CO_ASSERT_TRUE(hd) << hd.error().message();
    EXPECT_EQ(hd->status, 200);
    EXPECT_EQ(hd->body, "");
    const auto s = c.stats();
    EXPECT_EQ(s.opened, 1u);  // all on one keep-alive connection
    EXPECT_EQ(s.reused, 4u);
    EXPECT_EQ(srv.stats().accepted, 1u);
  }
  co_await srv.shutdown(1s);
  (void)co_await running;
}

TEST_P(Client, AgainstWeirServer) {
  runtime rt(opts());
  rt.block_on(against_weir_server());
}

// weir::http::server with options.tls: keep-alive over TLS, a client that is not TLS is
// counted and closed, a client certificate required by client_ca, and shutdown.
task<> against_weir_tls_server() {
  auto sctx = tls::context::server({.cert_file = file("server.pem"),
                                    .key_file = file("server.key"),
                                    .client_ca_file = file("ca.pem"),
                                    .require_client_cert = true});
  CO_ASSERT_TRUE(sctx) << sctx.error().message();
  router routes;
  routes.get("/hello", [](request&, response& res) -> task<> {
    res.body("Hello, TLS!");
    co_return;
  });
  server_options so;
  so.tls = *sctx;
  so.header_timeout = 2s;
  server srv(std::move(routes), std::move(so));
  auto where = co_await srv.listen(net::address::loopback_v4(0));
  CO_ASSERT_TRUE(where) << where.error().message();
  auto running = spawn(srv.run(), "http server");
  const std::string base = "https://localhost:" + std::to_string(where->port());
  {
    auto cctx = tls::context::client(
        {.ca_file = file("ca.pem"), .cert_file = file("client.pem"), .key_file = file("client.key")});
    CO_ASSERT_TRUE(cctx) << cctx.error().message();
    client c({.tls = *cctx});
    for (int i = 0; i < 3; ++i) {
      auto g = co_await c.get(base + "/hello");
      CO_ASSERT_TRUE(g) << g.error().message();
      EXPECT_EQ(g->status, 200);
      EXPECT_EQ(g->body, "Hello, TLS!");
    }
    EXPECT_EQ(c.stats().opened, 1u);
    // Without a client certificate: refused by the handshake.
    auto anon = tls::context::client({.ca_file = file("ca.pem")});
    CO_ASSERT_TRUE(anon);
    client a({.tls = *anon});
    auto r = co_await a.get(base + "/hello");
    EXPECT_FALSE(r && r->status == 200);
    // Plain HTTP to a TLS listener: no answer, a handshake failure counted.
    client p;
    auto q = co_await p.get("http://" + where->to_string() + "/hello");
    EXPECT_FALSE(q);
    for (int i = 0; i < 200 && srv.stats().tls_handshake_failures < 2; ++i)
      (void)co_await sleep_for(10ms);
    EXPECT_EQ(srv.stats().tls_handshake_failures, 2u);
    EXPECT_EQ(srv.stats().requests, 3u);
  }
  co_await srv.shutdown(1s);
  (void)co_await running;
}

TEST_P(Client, AgainstWeirTlsServer) {
  runtime rt(opts());
  rt.block_on(against_weir_tls_server());
}

INSTANTIATE_TEST_SUITE_P(Backends, Client, ::testing::Values("uring", "epoll"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace weir::http
