// weir::http::server against the clients people use: curl, Python's http.client, wrk. Each test
// runs on both reactor backends. The server runs in its own runtime on a background thread; the
// clients are separate processes.
#include "support.hpp"

#include <weir/core/runtime.hpp>
#include <weir/core/time.hpp>
#include <weir/http/server.hpp>

#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <regex>
#include <string>
#include <thread>

#include <sys/wait.h>
#include <unistd.h>

namespace weir::http {
namespace {

using namespace std::chrono_literals;
using integration::parse_wrk;
using integration::resets_on_close;

task<> hello(request&, response& res) {
  res.content_type("text/plain");
  res.body("Hello, World!");
  co_return;
}

task<> echo(request& req, response& res) {
  auto b = co_await req.body();
  if (!b) co_return;  // the server answers the body's error
  res.content_type("application/octet-stream");
  res.body(*b);
}

task<> upload(request& req, response& res) {
  std::size_t n = 0;
  unsigned long sum = 0;
  for (;;) {
    auto r = co_await req.read_some();
    if (!r) co_return;
    if (r->empty()) break;
    n += r->size();
    for (char c : *r) sum += static_cast<unsigned char>(c);
  }
  res.body("bytes=" + std::to_string(n) + " sum=" + std::to_string(sum));
}

task<> stream(request& req, response& res) {
  int parts = std::stoi(std::string(req.query_param("parts", "5")));
  res.content_type("text/plain");
  for (int i = 0; i < parts; ++i)
    if (!co_await res.write("line " + std::to_string(i) + "\n")) co_return;
}

task<> slow(request& req, response& res) {
  int ms = std::stoi(std::string(req.query_param("ms", "100")));
  (void)co_await sleep_for(std::chrono::milliseconds(ms));
  res.body("slept");
}

router routes() {
  router r;
  r.get("/", hello);
  r.post("/echo", echo);
  r.put("/upload", upload);
  r.post("/upload", upload);
  r.get("/stream", stream);
  r.get("/slow", slow);
  return r;
}

struct command_result {
  int status = -1;
  std::string out;
};

command_result run(const std::string& cmd) {
  command_result r;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return r;
  std::array<char, 4096> buf;
  std::size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  int st = ::pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

bool have(const char* tool) {
  return run(std::string("command -v ") + tool + " >/dev/null 2>&1 && echo yes").out == "yes\n";
}

// A server on a runtime of its own, serving from a background thread.
class live_server {
 public:
  live_server(const char* backend, server_options o = {})
      : rt_({.shards = 1, .backend = backend}), srv_(routes(), std::move(o)) {
    auto at = rt_.block_on(srv_.listen(net::address::loopback_v4(0)));
    if (!at) throw std::runtime_error("listen: " + at.error().message());
    url_ = "http://127.0.0.1:" + std::to_string(at->port());
    thread_ = std::thread([this] { rt_.block_on(srv_.run()); });
  }
  ~live_server() { stop(); }
  void stop(std::chrono::milliseconds drain = 2s) {
    if (!thread_.joinable()) return;
    rt_.block_on(srv_.shutdown(drain));
    thread_.join();
  }
  const std::string& url() const { return url_; }
  server& srv() { return srv_; }

 private:
  runtime rt_;
  server srv_;
  std::string url_;
  std::thread thread_;
};

std::string temp_file(std::size_t bytes) {
  char path[] = "/tmp/weir-http-XXXXXX";
  int fd = ::mkstemp(path);
  std::string data(bytes, '\0');
  for (std::size_t i = 0; i < bytes; ++i) data[i] = static_cast<char>('a' + i % 26);
  (void)::write(fd, data.data(), data.size());
  ::close(fd);
  return path;
}

unsigned long byte_sum(std::size_t bytes) {
  unsigned long s = 0;
  for (std::size_t i = 0; i < bytes; ++i) s += static_cast<unsigned long>('a' + i % 26);
  return s;
}

class HttpClients : public ::testing::TestWithParam<const char*> {};

TEST_P(HttpClients, CurlKeepAliveHttp10AndErrors) {
  ASSERT_TRUE(have("curl"));
  live_server s(GetParam());
  // Two requests on one connection: the second opens none.
  auto r = run("curl -sS -w ' connects=%{num_connects}\\n' " + s.url() + "/ " + s.url() + "/");
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(r.out, "Hello, World! connects=1\nHello, World! connects=0\n");
  EXPECT_EQ(s.srv().stats().accepted, 1u);
  // HTTP/1.0.
  r = run("curl -sS --http1.0 -i " + s.url() + "/");
  EXPECT_NE(r.out.find("HTTP/1.1 200 OK"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Connection: close"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Hello, World!"), std::string::npos);
  // HEAD, 404, 405.
  r = run("curl -sS -I " + s.url() + "/");
  EXPECT_NE(r.out.find("Content-Length: 13"), std::string::npos) << r.out;
  r = run("curl -s -o /dev/null -w '%{http_code}' " + s.url() + "/nope");
  EXPECT_EQ(r.out, "404");
  r = run("curl -s -o /dev/null -w '%{http_code}' -X DELETE " + s.url() + "/");
  EXPECT_EQ(r.out, "405");
  // A streamed (chunked) response.
  r = run("curl -sS " + s.url() + "/stream?parts=3");
  EXPECT_EQ(r.out, "line 0\nline 1\nline 2\n");
}

TEST_P(HttpClients, CurlUploads) {
  ASSERT_TRUE(have("curl"));
  live_server s(GetParam(), {.limits = {.body_bytes = 8 << 20}});
  const std::size_t n = 3 << 20;
  const std::string file = temp_file(n);
  const std::string want = "bytes=" + std::to_string(n) + " sum=" + std::to_string(byte_sum(n));
  // curl sends "Expect: 100-continue" for a body this large: the server answers 100 when the
  // handler reads the body.
  auto r = run("curl -sS -v -X PUT --data-binary @" + file + " " + s.url() + "/upload 2>&1");
  EXPECT_NE(r.out.find("HTTP/1.1 100 Continue"), std::string::npos) << r.out.substr(0, 2000);
  EXPECT_NE(r.out.find(want), std::string::npos);
  // Without Expect.
  r = run("curl -sS -H 'Expect:' --data-binary @" + file + " " + s.url() + "/upload");
  EXPECT_EQ(r.out, want);
  // Chunked upload.
  r = run("curl -sS -H 'Transfer-Encoding: chunked' --data-binary @" + file + " " + s.url() +
          "/upload");
  EXPECT_EQ(r.out, want);
  // Echo round trip.
  r = run("curl -sS --data-binary 'hello world' " + s.url() + "/echo");
  EXPECT_EQ(r.out, "hello world");
  // Over the body limit: 413 before the body is read.
  const std::string big = temp_file(9 << 20);
  r = run("curl -s -o /dev/null -w '%{http_code}' -H 'Expect:' --data-binary @" + big + " " +
          s.url() + "/echo");
  EXPECT_EQ(r.out, "413");
  ::unlink(file.c_str());
  ::unlink(big.c_str());
}

TEST_P(HttpClients, PythonHttpClient) {
  ASSERT_TRUE(have("python3"));
  live_server s(GetParam(), {.header_timeout = 1s});
  const std::string port = s.url().substr(s.url().rfind(':') + 1);
  const std::string script = R"PY(
import http.client, socket, sys, time
port = int(sys.argv[1])
c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
out = []
for i in range(3):                                  # keep-alive: one connection
    c.request("GET", "/")
    r = c.getresponse()
    out.append("%d %s" % (r.status, r.read().decode()))
c.request("POST", "/echo", body=b"x" * 100000)
r = c.getresponse(); out.append("echo %d %d" % (r.status, len(r.read())))
c.request("GET", "/stream?parts=4")
r = c.getresponse(); out.append("stream %s %r" % (r.getheader("Transfer-Encoding"), r.read()))
c.request("HEAD", "/")
r = c.getresponse(); out.append("head %s %r" % (r.getheader("Content-Length"), r.read()))
c.request("POST", "/upload", body=iter([b"ab", b"cd"]), encode_chunked=True,
          headers={"Transfer-Encoding": "chunked"})
r = c.getresponse(); out.append("chunked " + r.read().decode())
c.close()
# A slow client: half a head, then silence: the header timeout answers 408.
s = socket.create_connection(("127.0.0.1", port))
s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
t0 = time.time()
data = s.recv(4096)
out.append("slow %s %.1f" % (data.split(b"\r\n")[0].decode(), time.time() - t0))
print("\n".join(out))
)PY";
  std::ofstream("/tmp/weir_http_client.py") << script;
  auto r = run("python3 /tmp/weir_http_client.py " + port + " 2>&1");
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("200 Hello, World!\n200 Hello, World!\n200 Hello, World!\n"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("echo 200 100000"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("stream chunked b'line 0\\nline 1\\nline 2\\nline 3\\n'"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("head 13 b''"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("chunked bytes=4 sum=394"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("slow HTTP/1.1 408 Request Timeout"), std::string::npos) << r.out;
  EXPECT_EQ(s.srv().stats().header_timeouts, 1u);
}

TEST_P(HttpClients, WrkLoadIsAnsweredCleanly) {
  ASSERT_TRUE(have("wrk"));
  live_server s(GetParam());
  auto r = run("wrk -t1 -c64 -d2s " + s.url() + "/ 2>&1");
  auto w = parse_wrk(r.out);
  EXPECT_GT(w.requests, 1000) << r.out;
  EXPECT_EQ(w.non2xx, 0) << r.out;
  EXPECT_EQ(w.read + w.write + w.timeout + w.connect, 0) << r.out;
}

// Graceful shutdown while wrk runs: every request the server read is answered and no
// connection is reset. Counted three ways: wrk's read errors and timeouts (a connection that
// ended without the answer to the request sent on it), the kernel's resets-on-close counters,
// and the server's own count. After the listener closes, wrk's reconnections are refused; wrk
// counts those as write errors (no request was sent on them) and the test reports them.
TEST_P(HttpClients, GracefulShutdownUnderWrkResetsNoRequest) {
  ASSERT_TRUE(have("wrk"));
  live_server s(GetParam());
  const std::string url = s.url();
  const long resets_before = resets_on_close();
  command_result r;
  std::thread load(
      [&r, url] { r = run("wrk -t1 -c64 -d3s --timeout 2s '" + url + "/slow?ms=5' 2>&1"); });
  std::this_thread::sleep_for(1500ms);
  s.stop(3s);
  const long resets = resets_on_close() - resets_before;
  load.join();
  auto w = parse_wrk(r.out);
  EXPECT_GT(w.requests, 100) << r.out;
  EXPECT_EQ(w.non2xx, 0) << r.out;
  EXPECT_EQ(w.read, 0) << r.out;
  EXPECT_EQ(w.timeout, 0) << r.out;
  EXPECT_EQ(resets, 0);
  EXPECT_EQ(s.srv().stats().killed_by_drain, 0u);
  std::printf(
      "shutdown under wrk: %ld requests answered, %ld connection resets, %ld refused "
      "reconnections after the listener closed\n",
      w.requests, resets, w.write + w.connect);
}

INSTANTIATE_TEST_SUITE_P(Backends, HttpClients, ::testing::Values("uring", "epoll"),
                         [](const auto& info) { return std::string(info.param); });

}  // namespace
}  // namespace weir::http
