#include <weir/http/server.hpp>

#include <weir/core/runtime.hpp>
#include <weir/core/spawn.hpp>
#include <weir/core/time.hpp>
#include <weir/net/socket.hpp>
#include <weir/testing/co_assert.hpp>
#include <weir/testing/fake_transport.hpp>

#include <gtest/gtest.h>

#include <regex>
#include <stdexcept>
#include <string>

namespace weir::http {
namespace {

using namespace std::chrono_literals;

// --- handlers -----------------------------------------------------------------------------

task<> hello(request&, response& res) {
  res.content_type("text/plain");
  res.body(std::string_view("Hello, World!"));
  co_return;
}

task<> echo(request& req, response& res) {
  auto b = co_await req.body();
  if (!b) {
    res.status(499);
    co_return;
  }
  std::string out(*b);
  for (const auto& [k, v] : req.trailers()) out += "|" + k + "=" + v;
  res.body(std::move(out));
}

task<> kv(request& req, response& res) {
  res.header("X-Key", req.param("key"));
  res.body("key=" + std::string(req.param("key")) + " q=" + std::string(req.query_param("q", "-")));
  co_return;
}

task<> stream(request&, response& res) {
  for (int i = 0; i < 3; ++i)
    if (!co_await res.write("part" + std::to_string(i) + ";")) co_return;
}

task<> slow(request&, response& res) {
  auto r = co_await sleep_for(10s);
  res.body(r ? "slept" : "interrupted");
}

task<> stuck_stream(request&, response& res) {
  (void)co_await res.write("first;");
  (void)co_await sleep_for(10s);
}

task<> thrower(request&, response&) {
  throw std::runtime_error("boom");
  co_return;
}

task<> upload_count(request& req, response& res) {
  std::size_t n = 0;
  for (;;) {
    auto r = co_await req.read_some();
    if (!r) {
      res.status(499);
      co_return;
    }
    if (r->empty()) break;
    n += r->size();
  }
  res.body("got " + std::to_string(n));
}

router make_router() {
  router r;
  r.get("/", hello);
  r.post("/echo", echo);
  r.put("/kv/{key}", kv);
  r.get("/kv/{key}", kv);
  r.get("/stream", stream);
  r.get("/slow", slow);
  r.get("/stuck", stuck_stream);
  r.get("/throw", thrower);
  r.post("/upload", upload_count);
  return r;
}

std::string strip_date(std::string s) {
  static const std::regex date("Date: [^\r]*\r\n");
  return std::regex_replace(s, date, "");
}

// --- sans-I/O: the whole connection over a scripted transport ----------------------------------

task<std::string> serve_pieces(server* srv, std::vector<std::string_view> pieces) {
  testing::fake_transport f;
  f.chunks(pieces);
  co_await srv->serve(f, "test");
  co_return f.written();
}

TEST(HttpServerSansIo, PipelinedCorpusGivesTheSameAnswersForEverySplit) {
  const std::string corpus =
      "GET / HTTP/1.1\r\nHost: a\r\n\r\n"
      "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc"
      "PUT /kv/k1?q=2 HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nxy\r\n0\r\n\r\n"
      "GET /stream HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
  const std::string want =
      "HTTP/1.1 200 OK\r\nServer: weir\r\nContent-Length: 13\r\nContent-Type: text/plain\r\n\r\n"
      "Hello, World!"
      "HTTP/1.1 200 OK\r\nServer: weir\r\nContent-Length: 3\r\n\r\nabc"
      "HTTP/1.1 200 OK\r\nServer: weir\r\nContent-Length: 10\r\nX-Key: k1\r\n\r\nkey=k1 q=2"
      "HTTP/1.1 200 OK\r\nServer: weir\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
      "6\r\npart0;\r\n6\r\npart1;\r\n6\r\npart2;\r\n0\r\n\r\n";
  runtime rt({.shards = 1});
  server srv(make_router());
  std::size_t splits = 0, failures = 0;
  rt.block_on([](server* s, const std::string* in, const std::string* want, std::size_t* splits,
                 std::size_t* failures) -> task<> {
    std::vector<std::vector<std::string_view>> all;
    testing::for_each_split(*in, [&](const std::vector<std::string_view>& p) { all.push_back(p); });
    for (const auto& pieces : all) {
      ++*splits;
      std::string got = strip_date(co_await serve_pieces(s, pieces));
      if (got != *want && ++*failures <= 3) {
        std::string where;
        for (auto p : pieces) where += "<" + std::string(p) + ">";
        ADD_FAILURE() << "split " << where << " answered\n" << got;
      }
    }
  }(&srv, &corpus, &want, &splits, &failures));
  EXPECT_EQ(failures, 0u);
  EXPECT_GT(splits, corpus.size() * 10);
  EXPECT_EQ(srv.stats().requests, 4 * splits);
}

// A server serves on one runtime (its per-shard state belongs to that runtime's shards): each
// test keeps one for all its calls.
runtime& test_runtime() {
  static runtime rt({.shards = 1});
  return rt;
}

std::string serve_once(server& srv, std::string in) {
  runtime& rt = test_runtime();
  std::vector<std::string_view> pieces{in};
  return strip_date(rt.block_on(serve_pieces(&srv, pieces)));
}

TEST(HttpServerSansIo, BadRequestsGetTheirStatusAndClose) {
  server srv(make_router());
  struct {
    std::string in;
    const char* status_line;
  } cases[] = {
      {"GET / HTTP/1.1\r\n\r\n", "HTTP/1.1 400 Bad Request"},
      {"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
       "HTTP/1.1 400 Bad Request"},
      {"GET /" + std::string(9000, 'a') + " HTTP/1.1\r\nHost: a\r\n\r\n",
       "HTTP/1.1 414 URI Too Long"},
      {"GET / HTTP/1.1\r\nHost: a\r\nX: " + std::string(70000, 'v') + "\r\n\r\n",
       "HTTP/1.1 431 Request Header Fields Too Large"},
      {"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 2000000\r\n\r\n",
       "HTTP/1.1 413 Content Too Large"},
      {"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
       "HTTP/1.1 501 Not Implemented"},
      {"GET / HTTP/3.0\r\nHost: a\r\n\r\n", "HTTP/1.1 505 HTTP Version Not Supported"},
      {"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
       "HTTP/1.1 400 Bad Request"},
      // A chunk size followed by whitespace (no extension): RFC 9112 §7.1.1 has none there.
      {"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5 "
       "\r\nhello\r\n0\r\n\r\n",
       "HTTP/1.1 400 Bad Request"},
  };
  for (const auto& c : cases) {
    std::string out = serve_once(srv, c.in + "GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    EXPECT_EQ(out.substr(0, std::strlen(c.status_line)), c.status_line) << out.substr(0, 200);
    EXPECT_NE(out.find("Connection: close\r\n"), std::string::npos);
    // The connection closed after the error: the request behind it got no answer.
    EXPECT_EQ(out.find("Hello"), std::string::npos);
  }
  EXPECT_EQ(srv.stats().bad_requests, 7u);  // the chunked ones fail in the handler's body read
}

// RFC 9112 §2.2: a server should ignore at least one empty line before a request line (a
// client's stray CRLF after a body): first on a connection, and between keep-alive requests.
TEST(HttpServerSansIo, EmptyLinesBeforeARequestAreIgnored) {
  server srv(make_router());
  const std::string out = serve_once(
      srv, "\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n");
  std::size_t answers = 0;
  for (std::size_t at = 0; (at = out.find("HTTP/1.1 200 OK", at)) != std::string::npos; ++at)
    ++answers;
  EXPECT_EQ(answers, 2u) << out;
  EXPECT_EQ(out.find("400"), std::string::npos) << out;
}

TEST(HttpServerSansIo, RoutingHeadAndErrors) {
  server srv(make_router());
  auto out = serve_once(srv,
                        "GET /nope HTTP/1.1\r\nHost: a\r\n\r\n"
                        "DELETE /kv/x HTTP/1.1\r\nHost: a\r\n\r\n"
                        "HEAD / HTTP/1.1\r\nHost: a\r\n\r\n"
                        "GET /throw HTTP/1.1\r\nHost: a\r\n\r\n"
                        "GET /kv/a%20b HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
                        "GET / HTTP/1.0\r\n\r\n"
                        "GET / HTTP/1.1\r\nHost: a\r\n\r\n");
  EXPECT_NE(out.find("HTTP/1.1 404 Not Found\r\n"), std::string::npos) << out;
  EXPECT_NE(out.find("HTTP/1.1 405 Method Not Allowed\r\n"), std::string::npos);
  EXPECT_NE(out.find("Allow: GET, HEAD, PUT\r\n"), std::string::npos);
  // HEAD: the GET handler's head, its Content-Length, no body.
  EXPECT_NE(out.find("Content-Length: 13\r\nContent-Type: text/plain\r\n\r\nHTTP/1.1 500"),
            std::string::npos);
  EXPECT_NE(out.find("HTTP/1.1 500 Internal Server Error\r\n"), std::string::npos);
  EXPECT_NE(out.find("X-Key: a%20b\r\nConnection: keep-alive\r\n\r\nkey=a%20b q=-"),
            std::string::npos);
  // The HTTP/1.0 request without keep-alive is the last one answered.
  EXPECT_NE(out.find("Connection: close\r\n\r\nHello, World!"), std::string::npos);
  EXPECT_EQ(out.find("Hello, World!"), out.rfind("Hello, World!"));  // the last GET: unanswered
  EXPECT_EQ(srv.stats().handler_errors, 1u);
}

TEST(HttpServerSansIo, ExpectContinueIsAnsweredWhenTheBodyIsRead) {
  server srv(make_router());
  auto out = serve_once(srv,
                        "POST /echo HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n"
                        "Content-Length: 2\r\n\r\nhi");
  EXPECT_EQ(out.substr(0, 25), "HTTP/1.1 100 Continue\r\n\r\n");
  EXPECT_NE(out.find("HTTP/1.1 200 OK\r\n"), std::string::npos);
  EXPECT_EQ(out.substr(out.size() - 2), "hi");
  // A handler that does not read the body: no 100, and the connection closes.
  auto out2 = serve_once(srv,
                         "POST /nope HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n"
                         "Content-Length: 2\r\n\r\n");
  EXPECT_EQ(out2.find("100 Continue"), std::string::npos);
  EXPECT_NE(out2.find("404"), std::string::npos);
  EXPECT_NE(out2.find("Connection: close"), std::string::npos);
}

TEST(HttpServerSansIo, ResponseFieldsAreChecked) {
  server srv(make_router());
  router r;
  r.get("/bad", [](request&, response& res) -> task<> {
    res.header("X-Evil", "a\r\nSet-Cookie: x");
    co_return;
  });
  server srv2(std::move(r));
  auto out = serve_once(srv2, "GET /bad HTTP/1.1\r\nHost: a\r\n\r\n");
  EXPECT_NE(out.find("HTTP/1.1 500"), std::string::npos);
  EXPECT_EQ(out.find("Set-Cookie"), std::string::npos);
}

// --- real sockets, both backends ---------------------------------------------------------------

class HttpServer : public ::testing::TestWithParam<const char*> {
 protected:
  runtime_options rt_opts() const { return {.shards = 1, .backend = GetParam()}; }
};

// Connects, writes `raw` (then half-closes if `shut`), reads until the server closes.
task<std::string> exchange(net::address at, std::string raw, bool shut = false,
                           std::chrono::milliseconds limit = 5s) {
  auto s = co_await net::tcp_stream::connect(at);
  if (!s) co_return "connect failed";
  if (!co_await s->write_all(std::as_bytes(std::span(raw)))) co_return "write failed";
  if (shut) (void)s->shutdown(SHUT_WR);
  std::string out;
  std::byte buf[4096];
  for (;;) {
    auto n = co_await with_timeout(limit, s->read(buf));
    if (!n) {
      out += "<" + n.error().message() + ">";
      break;
    }
    if (*n == 0) break;
    out.append(reinterpret_cast<const char*>(buf), *n);
  }
  co_return strip_date(out);
}

// Runs `body(srv, address)` against a listening server, then shuts it down and waits for run().
template <class F>
void with_server(runtime& rt, server& srv, F body) {
  rt.block_on([](server* s, F* f) -> task<> {
    auto at = co_await s->listen(net::address::loopback_v4(0));
    CO_ASSERT_TRUE(at.has_value());
    auto runner = spawn(s->run(), "server");
    co_await (*f)(s, *at);
    co_await s->shutdown(1s);
    (void)co_await runner;
  }(&srv, &body));
}

TEST_P(HttpServer, KeepAliveAndPipelining) {
  runtime rt(rt_opts());
  server srv(make_router());
  with_server(rt, srv, [](server*, net::address at) -> task<> {
    std::string req;
    for (int i = 0; i < 20; ++i) req += "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
    req += "GET /kv/last HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
    auto out = co_await exchange(at, req);
    std::size_t n = 0;
    for (auto p = out.find("Hello, World!"); p != std::string::npos; p = out.find("Hello", p + 1))
      ++n;
    EXPECT_EQ(n, 20u);
    EXPECT_NE(out.find("key=last q=-"), std::string::npos);
  });
  EXPECT_EQ(srv.stats().accepted, 1u);
  EXPECT_EQ(srv.stats().requests, 21u);
}

TEST_P(HttpServer, LargeUploadsStreamThroughABoundedBuffer) {
  runtime rt(rt_opts());
  server srv(make_router(), {.limits = {.body_bytes = 8 << 20}});
  with_server(rt, srv, [](server*, net::address at) -> task<> {
    const std::size_t n = 3 << 20;
    std::string req = "POST /upload HTTP/1.1\r\nHost: a\r\nConnection: close\r\nContent-Length: " +
                      std::to_string(n) + "\r\n\r\n" + std::string(n, 'x');
    auto out = co_await exchange(at, req);
    EXPECT_NE(out.find("got 3145728"), std::string::npos) << out.substr(0, 300);
    // Chunked, in many chunks.
    std::string chunked =
        "POST /upload HTTP/1.1\r\nHost: a\r\nConnection: close\r\n"
        "Transfer-Encoding: chunked\r\n\r\n";
    for (int i = 0; i < 1000; ++i) chunked += "400\r\n" + std::string(1024, 'y') + "\r\n";
    chunked += "0\r\n\r\n";
    out = co_await exchange(at, chunked);
    EXPECT_NE(out.find("got 1024000"), std::string::npos) << out.substr(0, 300);
  });
}

TEST_P(HttpServer, IdleTimeoutClosesQuietly) {
  runtime rt(rt_opts());
  server srv(make_router(), {.idle_timeout = 200ms, .timeout_tick = 20ms});
  with_server(rt, srv, [](server*, net::address at) -> task<> {
    auto t0 = now();
    auto out = co_await exchange(at, "GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    auto took = now() - t0;
    EXPECT_NE(out.find("Hello, World!"), std::string::npos);
    EXPECT_EQ(out.find("408"), std::string::npos);  // idle: no answer, just the close
    EXPECT_GE(took, 200ms);
    EXPECT_LT(took, 3s);
  });
  EXPECT_EQ(srv.stats().idle_timeouts, 1u);
}

TEST_P(HttpServer, HeaderTimeoutAnswers408) {
  runtime rt(rt_opts());
  server srv(make_router(), {.header_timeout = 200ms, .timeout_tick = 20ms});
  with_server(rt, srv, [](server*, net::address at) -> task<> {
    auto out = co_await exchange(at, "GET / HTTP/1.1\r\nHost: a\r\n");  // never ends
    EXPECT_EQ(out.substr(0, 30), "HTTP/1.1 408 Request Timeout\r\n") << out;
  });
  EXPECT_EQ(srv.stats().header_timeouts, 1u);
}

TEST_P(HttpServer, BodyTimeoutAnswers408) {
  runtime rt(rt_opts());
  server srv(make_router(), {.body_timeout = 200ms, .timeout_tick = 20ms});
  with_server(rt, srv, [](server*, net::address at) -> task<> {
    auto out =
        co_await exchange(at, "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc");
    EXPECT_EQ(out.substr(0, 30), "HTTP/1.1 408 Request Timeout\r\n") << out;
  });
  EXPECT_EQ(srv.stats().body_timeouts, 1u);
}

TEST_P(HttpServer, HandlerTimeoutCancelsTheHandler) {
  runtime rt(rt_opts());
  server srv(make_router(),
             {.handler_timeout = 200ms, .handler_timeout_status = 504, .timeout_tick = 20ms});
  with_server(rt, srv, [](server*, net::address at) -> task<> {
    auto out = co_await exchange(at, "GET /slow HTTP/1.1\r\nHost: a\r\n\r\n");
    EXPECT_EQ(out.substr(0, 30), "HTTP/1.1 504 Gateway Timeout\r\n") << out;
    EXPECT_EQ(out.find("slept"), std::string::npos);
    // A streamed response that stalls is cut: the peer sees the connection close.
    out = co_await exchange(at, "GET /stuck HTTP/1.1\r\nHost: a\r\n\r\n");
    EXPECT_NE(out.find("first;"), std::string::npos);
    EXPECT_EQ(out.find("0\r\n\r\n"), std::string::npos);
  });
  EXPECT_EQ(srv.stats().handler_timeouts, 2u);
}

TEST_P(HttpServer, WriteTimeoutDropsAReaderThatStopped) {
  runtime rt(rt_opts());
  router r;
  r.get("/big", [](request&, response& res) -> task<> {
    for (int i = 0; i < 1000; ++i)
      if (!co_await res.write(std::string(64 * 1024, 'z'))) co_return;
  });
  server srv(std::move(r), {.write_timeout = 300ms, .timeout_tick = 20ms});
  with_server(rt, srv, [](server* s, net::address at) -> task<> {
    auto c = co_await net::tcp_stream::connect(at);
    CO_ASSERT_TRUE(c.has_value());
    std::string req = "GET /big HTTP/1.1\r\nHost: a\r\n\r\n";
    (void)co_await c->write_all(std::as_bytes(std::span(req)));
    // Never read: the server's writes stop, and the write timeout ends the connection.
    for (int i = 0; i < 300 && s->stats().active > 0; ++i) (void)co_await sleep_for(20ms);
    EXPECT_EQ(s->stats().active, 0u) << "write timeouts " << s->stats().write_timeouts;
  });
  EXPECT_GE(srv.stats().write_timeouts, 1u);
}

TEST_P(HttpServer, OverloadGets503WithRetryAfter) {
  runtime rt(rt_opts());
  server srv(make_router(), {.max_inflight = 1, .retry_after_seconds = 7});
  with_server(rt, srv, [](server*, net::address at) -> task<> {
    auto busy = spawn(exchange(at, "GET /slow HTTP/1.1\r\nHost: a\r\n\r\n", false, 300ms), "busy");
    (void)co_await sleep_for(50ms);
    auto out = co_await exchange(at, "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
    EXPECT_EQ(out.substr(0, 34), "HTTP/1.1 503 Service Unavailable\r\n") << out;
    EXPECT_NE(out.find("Retry-After: 7\r\n"), std::string::npos);
    busy.cancel();
    (void)co_await busy;
  });
  EXPECT_EQ(srv.stats().overloaded, 1u);
}

TEST_P(HttpServer, ConnectionCapRefusesAtAccept) {
  runtime rt(rt_opts());
  server srv(make_router(), {.max_connections = 1});
  with_server(rt, srv, [](server* s, net::address at) -> task<> {
    auto first = co_await net::tcp_stream::connect(at);
    CO_ASSERT_TRUE(first.has_value());
    for (int i = 0; i < 100 && s->stats().active == 0; ++i) (void)co_await sleep_for(5ms);
    auto out = co_await exchange(at, "GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    EXPECT_EQ(out.find("Hello"), std::string::npos) << out;
  });
  EXPECT_EQ(srv.stats().refused, 1u);
}

TEST_P(HttpServer, GracefulShutdownFinishesRequestsInProgress) {
  runtime rt(rt_opts());
  router r;
  r.get("/work", [](request&, response& res) -> task<> {
    (void)co_await sleep_for(300ms);
    res.body(std::string_view("done"));
  });
  server srv(std::move(r));
  rt.block_on([](server* s) -> task<> {
    auto at = co_await s->listen(net::address::loopback_v4(0));
    CO_ASSERT_TRUE(at.has_value());
    auto runner = spawn(s->run(), "server");
    auto inflight = spawn(exchange(*at, "GET /work HTTP/1.1\r\nHost: a\r\n\r\n"), "in flight");
    auto idle = co_await net::tcp_stream::connect(*at);  // an idle keep-alive connection
    CO_ASSERT_TRUE(idle.has_value());
    (void)co_await sleep_for(100ms);
    auto t0 = now();
    co_await s->shutdown(5s);
    (void)co_await runner;
    auto out = (co_await inflight).value();
    EXPECT_NE(out.find("HTTP/1.1 200 OK\r\n"), std::string::npos) << out;
    EXPECT_NE(out.find("Connection: close\r\n"), std::string::npos);
    EXPECT_NE(out.find("done"), std::string::npos);
    EXPECT_LT(now() - t0, 3s);
    // The idle connection was closed, and new connections are refused.
    std::byte b[16];
    auto n = co_await with_timeout(2s, idle->read(b));
    EXPECT_TRUE(!n || *n == 0);
    auto again = co_await net::tcp_stream::connect(*at);
    EXPECT_FALSE(again.has_value());
  }(&srv));
  EXPECT_EQ(srv.stats().active, 0u);
}

TEST_P(HttpServer, DrainDeadlineCancelsWhatIsLeft) {
  runtime rt(rt_opts());
  server srv(make_router(), {.timeout_tick = 20ms});
  rt.block_on([](server* s) -> task<> {
    auto at = co_await s->listen(net::address::loopback_v4(0));
    CO_ASSERT_TRUE(at.has_value());
    auto runner = spawn(s->run(), "server");
    auto inflight = spawn(exchange(*at, "GET /slow HTTP/1.1\r\nHost: a\r\n\r\n"), "in flight");
    (void)co_await sleep_for(50ms);
    auto t0 = now();
    co_await s->shutdown(200ms);
    (void)co_await runner;
    EXPECT_LT(now() - t0, 3s);
    auto out = (co_await inflight).value();
    EXPECT_NE(out.find("503"), std::string::npos) << out;
  }(&srv));
  EXPECT_EQ(srv.stats().killed_by_drain, 1u);
}

TEST_P(HttpServer, MetricsAndAccessLog) {
  runtime rt(rt_opts());
  std::vector<std::string> log;
  server_options o;
  o.access_log = [&log](const access_record& r) { log.push_back(format_access_log(r)); };
  server srv(make_router(), o);
  with_server(rt, srv, [](server*, net::address at) -> task<> {
    (void)co_await exchange(at,
                            "GET /kv/a HTTP/1.1\r\nHost: a\r\n\r\nGET /nope HTTP/1.1\r\nHost: "
                            "a\r\nConnection: close\r\n\r\n");
  });
  ASSERT_EQ(log.size(), 2u);
  EXPECT_NE(log[0].find("\"GET /kv/a HTTP/1.1\" 200 9 "), std::string::npos) << log[0];
  EXPECT_NE(log[1].find("\"GET /nope HTTP/1.1\" 404"), std::string::npos) << log[1];
  metrics::prometheus_writer w;
  srv.write_prometheus(w);
  const std::string prom = w.take();
  EXPECT_NE(prom.find("weir_http_request_duration_seconds_count{route=\"GET /kv/{key}\"} 1"),
            std::string::npos)
      << prom;
  EXPECT_NE(prom.find("weir_http_responses_total{route=\"unrouted\",code=\"4xx\"} 1"),
            std::string::npos);
  EXPECT_NE(prom.find("weir_http_requests_total 2"), std::string::npos);
  // Each family whole, under one TYPE line (responses_total used to come between histograms).
  EXPECT_NE(prom.find("# TYPE weir_http_responses_total counter\nweir_http_responses_total{"),
            std::string::npos)
      << prom;
  EXPECT_EQ(
      prom.find("weir_http_request_duration_seconds", prom.find("weir_http_responses_total{")),
      std::string::npos)
      << prom;
}

INSTANTIATE_TEST_SUITE_P(Backends, HttpServer, ::testing::Values("uring", "epoll"),
                         [](const auto& info) { return std::string(info.param); });

}  // namespace
}  // namespace weir::http
