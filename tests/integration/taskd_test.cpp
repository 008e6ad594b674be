// taskd end to end (issue 6): the real binary, driven over loopback by curl, weir's own HTTP
// client and wrk. Registered twice (ctest): on io_uring and on epoll (WEIR_BACKEND).
//   - the behaviour table of /echo and /kv, Go %q quoting of awkward messages included, through
//     curl and through weir::http::client;
//   - 10,000 concurrent requests (10,000 connections at once), each answered exactly once, with
//     unique request ids;
//   - a slowed applier (--test-apply-delay): 504 apply timeout, and the notifier back to empty;
//     a full queue: 503 with Retry-After;
//   - SIGTERM under wrk load: exit 0, no request reset;
//   - kill -9 during a write load, restart: every acknowledged write is there;
//   - bad inputs: huge body, slow body, invalid UTF-8, deep nesting, bad keys -> 4xx, no crash.
#include "support.hpp"

#include <weir/core/runtime.hpp>
#include <weir/core/spawn.hpp>
#include <weir/core/time.hpp>
#include <weir/http/client.hpp>
#include <weir/sync/wait_group.hpp>
#include <weir/testing/temp_dir.hpp>

#include <gtest/gtest.h>
#include <sys/resource.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <thread>

namespace {

using namespace integration;
namespace http = weir::http;

using data_dir = weir::testing::temp_dir;

std::unique_ptr<service> start_taskd(const std::string& dir, std::vector<std::string> extra = {}) {
  std::vector<std::string> args = {WEIR_TASKD, "--listen",    "127.0.0.1:0",
                                   "--admin",  "127.0.0.1:0", "--data-dir",
                                   dir,        "--log-level", "warn"};
  if (std::find(extra.begin(), extra.end(), "--shards") == extra.end())
    extra.insert(extra.end(), {"--shards", "2"});
  args.insert(args.end(), extra.begin(), extra.end());
  return std::make_unique<service>(args);
}

std::string url(const service& s, const std::string& path) {
  return "http://127.0.0.1:" + std::to_string(s.port) + path;
}

std::string metrics(const service& s) { return get(s.admin, "/metrics").body; }

std::string header_of(const http::client_response& r, std::string_view name) {
  for (const auto& [k, v] : r.headers)
    if (std::equal(k.begin(), k.end(), name.begin(), name.end(),
                   [](char a, char b) { return std::tolower(a) == std::tolower(b); }))
      return v;
  return {};
}

// Runs `body` as the main task of a one-shard runtime of the test process (weir's client).
template <class F>
void with_client(F body) {
  weir::runtime rt({.shards = 1});
  rt.block_on(body());
}

struct exchange {
  int status = 0;
  std::string headers, body;
};

// One request with curl (a real client): status, header block, body.
exchange curl(const std::string& method, const std::string& u, const std::string* body = nullptr,
              const std::string& extra = "") {
  std::string cmd = "curl -s -i --max-time 20 -X " + method + " " + extra;
  static int n = 0;
  std::string file;
  if (body) {
    file = "/tmp/taskd-it-body-" + std::to_string(getpid()) + "-" + std::to_string(++n);
    std::ofstream(file, std::ios::binary) << *body;
    cmd += " -H 'Content-Type: application/json' --data-binary @" + file;
  }
  const std::string out = shell(cmd + " '" + u + "'");
  if (!file.empty()) std::remove(file.c_str());
  exchange e;
  std::size_t at = 0;
  // Skip interim responses (100 Continue).
  while (out.compare(at, 9, "HTTP/1.1 ") == 0 && out.compare(at + 9, 1, "1") == 0) {
    const auto end = out.find("\r\n\r\n", at);
    if (end == std::string::npos) break;
    at = end + 4;
  }
  if (out.compare(at, 9, "HTTP/1.1 ") != 0) return e;
  e.status = std::atoi(out.c_str() + at + 9);
  const auto end = out.find("\r\n\r\n", at);
  if (end == std::string::npos) return e;
  e.headers = out.substr(at, end - at);
  e.body = out.substr(end + 4);
  return e;
}

struct table_row {
  std::string method, path, body;
  int status;
  std::string answer;  // the whole body, or its start when `prefix`
  bool prefix = false;
};

std::vector<table_row> behaviour_table() {
  const std::string deep =
      "{\"kind\":\"create\",\"x\":" + std::string(5000, '[') + std::string(5000, ']') + "}";
  return {
      {"POST", "/echo", R"({"kind":"create","message":"hello world"})", 200,
       R"(SUCCESS create "hello world")"},
      // Go's %q: quote and backslash escaped, \n \t \a, printable Unicode kept, U+00A0 and
      // U+200B escaped, an emoji kept.
      {"POST", "/echo", R"({"kind":"delete","message":"say \"hi\"\\ \n\t\u0007 é\u00a0\u200b 😀"})",
       200, "SUCCESS delete \"say \\\"hi\\\"\\\\ \\n\\t\\a é\\u00a0\\u200b 😀\""},
      {"POST", "/echo", R"({"kind":"create"})", 200, R"(SUCCESS create "")"},
      // Escapes of lone UTF-16 surrogates decode to U+FFFD, as Go's encoding/json does (and %q
      // prints U+FFFD as itself); a proper pair is one rune.
      {"POST", "/echo", R"({"kind":"create","message":"a\ud800b\udc00\ud83d\ude00"})", 200,
       "SUCCESS create \"a\xef\xbf\xbd"
       "b\xef\xbf\xbd😀\""},
      {"POST", "/echo", R"({"kind":"create","message":"x","extra":[1,{"y":null}],"n":2.5})", 200,
       R"(SUCCESS create "x")"},
      {"POST", "/echo", R"({"kind":"update","message":"x"})", 400,
       R"(failed to apply: unknown request kind "update")"},
      {"POST", "/echo", R"({"message":"x"})", 400, R"(failed to apply: unknown request kind "")"},
      {"POST", "/echo", R"({"kind":"create","message":5})", 400,
       R"(failed to read request: field "message" is not a string)"},
      {"POST", "/echo", R"(["create"])", 400,
       "failed to read request: the body is not a JSON object"},
      {"POST", "/echo", R"({"kind":"create",)", 400, "failed to read request: invalid JSON", true},
      {"POST", "/echo", "{\"kind\":\"create\",\"message\":\"\xff\xfe\"}", 400,
       "failed to read request: the body is not valid UTF-8"},
      {"POST", "/echo", deep, 400, "failed to read request: JSON nested deeper than 1024 levels"},
      {"POST", "/echo", "", 400, "failed to read request: empty body"},
      {"GET", "/echo", "", 405, "", true},
      {"GET", "/nowhere", "", 404, "", true},
      {"PUT", "/kv/table-key", "value one", 200, R"({"key":"table-key","revision":)", true},
      {"GET", "/kv/table-key", "", 200, "value one"},
      {"GET", "/kv/missing-key", "", 404, R"({"error":"key not found"})"},
      {"DELETE", "/kv/table-key", "", 200, R"({"key":"table-key","deleted":1,"revision":)", true},
      {"DELETE", "/kv/table-key", "", 200, R"({"key":"table-key","deleted":0,"revision":)", true},
      {"PUT", "/kv/%zz", "v", 400, R"({"error":"malformed percent-escape in the key"})"},
      {"PUT", "/kv/%ff", "v", 400, R"({"error":"the key is not valid UTF-8"})"},
      {"PUT", "/kv/" + std::string(1025, 'k'), "v", 400,
       R"({"error":"key longer than 1024 bytes"})"},
      {"GET", "/kv?limit=0", "", 400, R"({"error":"limit: expected an integer in [1, 10000]"})"},
  };
}

void check_row(const table_row& row, int status, const std::string& body, const char* via) {
  EXPECT_EQ(status, row.status) << via << " " << row.method << " " << row.path << ": " << body;
  if (row.prefix)
    EXPECT_EQ(body.substr(0, row.answer.size()), row.answer) << via << " " << row.path;
  else
    EXPECT_EQ(body, row.answer) << via << " " << row.method << " " << row.path;
}

TEST(Taskd, BehaviourTableThroughCurl) {
  data_dir dir;
  auto svc = start_taskd(dir.path());
  for (const auto& row : behaviour_table()) {
    const bool has_body = row.method == "POST" || row.method == "PUT";
    auto e = curl(row.method, url(*svc, row.path), has_body ? &row.body : nullptr);
    check_row(row, e.status, e.body, "curl");
    if (row.status == 200 && row.path == "/echo") {
      EXPECT_NE(e.headers.find("Content-Type: text/plain; charset=utf-8"), std::string::npos);
      EXPECT_NE(e.headers.find("X-Request-Id: "), std::string::npos);
    }
    if (row.status == 405) {
      EXPECT_NE(e.headers.find("Allow: POST"), std::string::npos);
    }
    if (row.method == "PUT" && row.status == 200) {
      EXPECT_NE(e.headers.find("X-Taskd-Revision: "), std::string::npos);
    }
  }
  EXPECT_EQ(svc->stop(SIGTERM), 0);
}

TEST(Taskd, BehaviourTableThroughWeirClient) {
  data_dir dir;
  auto svc = start_taskd(dir.path());
  with_client([&]() -> weir::task<> {
    http::client c;
    for (const auto& row : behaviour_table()) {
      http::client_request req;
      req.verb = row.method == "POST"  ? http::method::post
                 : row.method == "PUT" ? http::method::put
                 : row.method == "GET" ? http::method::get
                                       : http::method::delete_;
      req.url = url(*svc, row.path);
      req.body = row.body;
      if (row.method == "GET" || row.method == "DELETE") req.body.clear();
      auto r = co_await c.request(std::move(req));
      if (!r) {
        ADD_FAILURE() << row.path << ": " << r.error().message();
        continue;
      }
      check_row(row, r->status, r->body, "weir client");
    }
  });
  // A listing sees what the table left.
  auto list = curl("GET", url(*svc, "/kv?prefix=table"));
  EXPECT_EQ(list.status, 200);
  EXPECT_NE(list.body.find(R"("count":0)"), std::string::npos) << list.body;
  std::string v = "listed";
  (void)curl("PUT", url(*svc, "/kv/table-b"), &v);
  list = curl("GET", url(*svc, "/kv?prefix=table&limit=5"));
  EXPECT_NE(list.body.find(R"("kvs":[{"key":"table-b","value":"bGlzdGVk","mod_revision":)"),
            std::string::npos)
      << list.body;
}

// 10,000 requests in flight at once, each on its own connection.
TEST(Taskd, TenThousandConcurrentRequestsEachAnsweredOnceWithUniqueIds) {
  rlimit r{};
  getrlimit(RLIMIT_NOFILE, &r);
  r.rlim_cur = r.rlim_max;
  setrlimit(RLIMIT_NOFILE, &r);
  ASSERT_GE(r.rlim_cur, 10'300u) << "this test needs 10,000 descriptors (ulimit -n)";
  data_dir dir;
  auto svc = start_taskd(dir.path());
  constexpr int n = 10'000;
  std::vector<int> status(n, 0);
  std::vector<std::string> ids(n), bodies(n);
  with_client([&]() -> weir::task<> {
    http::client c({.max_idle_per_host = 0,
                    .connect_timeout = std::chrono::seconds(30),
                    .request_timeout = std::chrono::seconds(60)});
    weir::wait_group wg;
    for (int i = 0; i < n; ++i) {
      wg.add(1);
      weir::spawn_detached(
          [](http::client& c, std::string u, int i, int& st, std::string& id, std::string& body,
             weir::wait_group& wg) -> weir::task<> {
            auto r =
                co_await c.post(u, R"({"kind":"create","message":"m)" + std::to_string(i) + R"("})",
                                "application/json");
            if (r) {
              st = r->status;
              id = header_of(*r, "X-Request-Id");
              body = std::move(r->body);
            } else {
              st = -1;
              body = r.error().message();
            }
            wg.done();
          }(c, url(*svc, "/echo"), i, status[i], ids[i], bodies[i], wg),
          "request");
    }
    (void)co_await wg.wait();
  });
  std::set<std::string> unique;
  int ok = 0;
  for (int i = 0; i < n; ++i) {
    if (status[i] == 200 && bodies[i] == "SUCCESS create \"m" + std::to_string(i) + "\"") {
      ++ok;
    } else if (ok + 5 > i) {  // the first few failures
      ADD_FAILURE() << "request " << i << ": " << status[i] << " " << bodies[i];
    }
    unique.insert(ids[i]);
  }
  EXPECT_EQ(ok, n);
  EXPECT_EQ(unique.size(), static_cast<std::size_t>(n)) << "request ids must be unique";
  const std::string m = metrics(*svc);
  EXPECT_EQ(metric(m, "taskd_ops_total"), n) << "each request applied exactly once";
  EXPECT_EQ(metric(m, "taskd_notifier_pending"), 0);
  EXPECT_EQ(svc->stop(SIGTERM), 0);
}

TEST(Taskd, SlowApplierTimesOutWith504AndLeavesNoNotifierEntry) {
  data_dir dir;
  auto svc = start_taskd(dir.path(), {"--test-apply-delay", "400ms", "--request-timeout", "150ms"});
  const std::string body = R"({"kind":"create","message":"slow"})";
  auto e = curl("POST", url(*svc, "/echo"), &body);
  EXPECT_EQ(e.status, 504);
  EXPECT_EQ(e.body, "apply timeout");
  std::this_thread::sleep_for(700ms);  // the applier gets to it, finds nobody
  const std::string m = metrics(*svc);
  EXPECT_EQ(metric(m, "taskd_notifier_pending"), 0) << m;
  EXPECT_EQ(metric(m, "taskd_notifier_unknown_total"), 1) << m;
  EXPECT_EQ(metric(m, "taskd_apply_timeouts_total"), 1) << m;
  EXPECT_EQ(svc->stop(SIGTERM), 0);
}

TEST(Taskd, FullQueueAnswers503WithRetryAfter) {
  data_dir dir;
  auto svc = start_taskd(dir.path(), {"--shards", "1", "--queue-capacity", "1", "--queue-wait",
                                      "50ms", "--test-apply-delay", "300ms"});
  int ok = 0, full = 0, retry_after = 0;
  with_client([&]() -> weir::task<> {
    http::client c;
    std::vector<weir::join_handle<weir::result<http::client_response>>> hs;
    const auto post = [&] {
      hs.push_back(
          weir::spawn(c.post(url(*svc, "/echo"), R"({"kind":"create"})", "application/json")));
    };
    post();  // the applier takes it and sleeps 300 ms
    (void)co_await weir::sleep_for(100ms);
    for (int i = 0; i < 5; ++i) post();  // one fits in the queue, the rest wait 50 ms for room
    for (auto& h : hs) {
      auto r = co_await h;
      if (!r || !*r) continue;
      if ((*r)->status == 200) ++ok;
      if ((*r)->status == 503 && (*r)->body == "queue full") ++full;
      if (header_of(**r, "Retry-After") == "1") ++retry_after;
    }
  });
  EXPECT_GE(ok, 2);  // the one being applied and the one queued
  EXPECT_GE(full, 1);
  EXPECT_EQ(retry_after, full);
  EXPECT_EQ(metric(metrics(*svc), "taskd_queue_full_total"), full);
  EXPECT_EQ(svc->stop(SIGTERM), 0);
}

TEST(Taskd, SigtermUnderWrkLoadResetsNoRequestAndExitsZero) {
  ASSERT_NE(shell("command -v wrk"), "");
  data_dir dir;
  auto svc = start_taskd(dir.path());
  const std::string lua = "/tmp/taskd-it-post-" + std::to_string(getpid()) + ".lua";
  std::ofstream(lua) << "wrk.method = \"POST\"\n"
                        "wrk.body = '{\"kind\":\"create\",\"message\":\"hello\"}'\n"
                        "wrk.headers[\"Content-Type\"] = \"application/json\"\n";
  const long resets_before = resets_on_close();
  std::string out;
  std::thread load([&] {
    out = shell("wrk -t1 -c64 -d3s --timeout 2s -s " + lua + " " + url(*svc, "/echo") + " 2>&1");
  });
  std::this_thread::sleep_for(1500ms);
  const int code = svc->stop(SIGTERM);
  const long resets = resets_on_close() - resets_before;
  load.join();
  std::remove(lua.c_str());
  auto w = parse_wrk(out);
  EXPECT_EQ(code, 0);
  EXPECT_GT(w.requests, 100) << out;
  EXPECT_EQ(w.non2xx, 0) << out;
  EXPECT_EQ(w.read, 0) << out;
  EXPECT_EQ(w.timeout, 0) << out;
  EXPECT_EQ(resets, 0);
  std::printf("taskd shutdown under wrk: %ld requests answered, %ld resets, %ld refused after\n",
              w.requests, resets, w.write + w.connect);
}

// Writers keep PUTting unique keys; the server is killed (SIGKILL) mid-load and restarted on
// the same directory: every write that was answered 200 is there, with its value.
// kill -9 in the middle of a write load on the store `engine`, restart, every acknowledged write
// read back.
void kill_nine_loses_nothing(const std::string& engine) {
  data_dir dir;
  std::map<std::string, std::string> acked;
  std::uint64_t max_revision = 0;
  {
    auto svc = start_taskd(dir.path(), {"--store", engine});
    const pid_t pid = svc->pid();
    std::thread killer([pid] {
      std::this_thread::sleep_for(1200ms);
      kill(pid, SIGKILL);
    });
    with_client([&]() -> weir::task<> {
      http::client c({.request_timeout = std::chrono::seconds(5)});
      weir::wait_group wg;
      for (int w = 0; w < 32; ++w) {
        wg.add(1);
        weir::spawn_detached(
            [](http::client& c, std::string base, int w, std::map<std::string, std::string>& acked,
               std::uint64_t& max_rev, weir::wait_group& wg) -> weir::task<> {
              for (int i = 0;; ++i) {
                const std::string key = "w" + std::to_string(w) + "-" + std::to_string(i);
                http::client_request req;
                req.verb = http::method::put;
                req.url = base + key;
                req.body = "value of " + key + std::string(static_cast<std::size_t>(i % 200), '.');
                const std::string value = req.body;
                auto r = co_await c.request(std::move(req));
                if (!r || r->status != 200) break;  // the server is gone
                acked[key] = value;
                max_rev = std::max<std::uint64_t>(max_rev,
                                                  std::stoull(header_of(*r, "X-Taskd-Revision")));
              }
              wg.done();
            }(c, url(*svc, "/kv/"), w, acked, max_revision, wg),
            "writer");
      }
      (void)co_await wg.wait();
    });
    killer.join();
    EXPECT_EQ(svc->stop(SIGKILL), 128 + SIGKILL);
  }
  ASSERT_GT(acked.size(), 100u) << "the load did not get going";
  auto svc = start_taskd(dir.path(), {"--store", engine});
  EXPECT_GE(metric(metrics(*svc), "taskd_revision"), static_cast<long long>(max_revision));
  std::size_t found = 0;
  with_client([&]() -> weir::task<> {
    http::client c;
    for (const auto& [k, v] : acked) {
      auto r = co_await c.get(url(*svc, "/kv/" + k));
      if (r && r->status == 200 && r->body == v)
        ++found;
      else
        ADD_FAILURE() << "acknowledged write " << k
                      << " lost: " << (r ? std::to_string(r->status) : r.error().message());
    }
  });
  EXPECT_EQ(found, acked.size());
  std::printf("kill -9 (%s): %zu acknowledged writes, all present after restart (revision >= "
              "%llu)\n",
              engine.c_str(), acked.size(), static_cast<unsigned long long>(max_revision));
}

TEST(Taskd, KillNineDuringWritesLosesNoAcknowledgedWriteLmdb) { kill_nine_loses_nothing("lmdb"); }

TEST(Taskd, KillNineDuringWritesLosesNoAcknowledgedWriteRocksdb) {
  kill_nine_loses_nothing("rocksdb");
}

// HTTPS on the API and the admin endpoint, with real clients: curl and openssl s_client. With
// --client-ca, a client without a certificate is refused.
TEST(Taskd, TlsWithCurlAndOpensslSClient) {
  data_dir dir;
  const std::string d = dir.path();
  const std::string make =
      "cd " + d +
      " && EC='-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes'"
      " && openssl req -x509 $EC -keyout ca.key -out ca.pem -subj '/CN=taskd test CA' -days 2"
      "    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign"
      " && openssl req -x509 -CA ca.pem -CAkey ca.key $EC -keyout server.key -out server.pem"
      "    -subj /CN=localhost -days 2 -addext subjectAltName=DNS:localhost,IP:127.0.0.1"
      "    -addext extendedKeyUsage=serverAuth"
      " && openssl req -x509 -CA ca.pem -CAkey ca.key $EC -keyout client.key -out client.pem"
      "    -subj /CN=client -days 2 -addext extendedKeyUsage=clientAuth"
      " && echo s3cret > token 2>&1 && echo made";
  ASSERT_EQ(shell("(" + make + ") 2>/dev/null | tail -n 1"), "made\n");
  const std::string tls_args = " --cacert " + d + "/ca.pem ";
  {
    auto svc = start_taskd(d + "/data", {"--tls-cert", d + "/server.pem", "--tls-key",
                                         d + "/server.key", "--admin-tls", "--admin-token-file",
                                         d + "/token"});
    const std::string base = "https://localhost:" + std::to_string(svc->port);
    const std::string body = R"({"kind":"create","message":"over tls"})";
    auto e = curl("POST", base + "/echo", &body, tls_args);
    EXPECT_EQ(e.status, 200);
    EXPECT_EQ(e.body, R"(SUCCESS create "over tls")");
    const std::string v = "secret value";
    EXPECT_EQ(curl("PUT", base + "/kv/t", &v, tls_args).status, 200);
    EXPECT_EQ(curl("GET", base + "/kv/t", nullptr, tls_args).body, v);
    // Plain HTTP to the TLS listener gets no HTTP answer; an untrusted client refuses.
    EXPECT_EQ(curl("GET", "http://127.0.0.1:" + std::to_string(svc->port) + "/kv/t").status, 0);
    EXPECT_EQ(curl("GET", base + "/kv/t").status, 0);  // the system's CAs do not know ours
    // openssl s_client: the handshake verifies, and a request typed through it is answered.
    const std::string s = shell(
        "printf 'GET /kv/t HTTP/1.1\\r\\nHost: localhost\\r\\nConnection: close\\r\\n\\r\\n' | "
        "timeout 20 openssl s_client -connect 127.0.0.1:" + std::to_string(svc->port) +
        " -servername localhost -verify_return_error -CAfile " + d + "/ca.pem -quiet 2>&1");
    EXPECT_NE(s.find("HTTP/1.1 200 OK"), std::string::npos) << s;
    EXPECT_NE(s.find(v), std::string::npos) << s;
    const std::string st = shell("timeout 20 openssl s_client -connect 127.0.0.1:" +
                                 std::to_string(svc->port) + " -servername localhost -CAfile " +
                                 d + "/ca.pem -brief </dev/null 2>&1");
    EXPECT_NE(st.find("Verification: OK"), std::string::npos) << st;
    EXPECT_NE(st.find("Protocol version: TLSv1.3"), std::string::npos) << st;
    // The admin endpoint: HTTPS, and the token.
    const std::string admin = "https://localhost:" + std::to_string(svc->admin);
    EXPECT_EQ(curl("GET", admin + "/metrics", nullptr, tls_args).status, 401);
    auto m = curl("GET", admin + "/metrics", nullptr, tls_args + "-H 'Authorization: Bearer s3cret'");
    EXPECT_EQ(m.status, 200);
    EXPECT_NE(m.body.find("weir_http_tls_handshake_failures_total"), std::string::npos);
    EXPECT_EQ(curl("GET", "http://127.0.0.1:" + std::to_string(svc->admin) + "/metrics").status, 0);
    EXPECT_EQ(svc->stop(SIGTERM), 0);
  }
  // Client certificates required.
  auto svc = start_taskd(d + "/data", {"--tls-cert", d + "/server.pem", "--tls-key",
                                       d + "/server.key", "--client-ca", d + "/ca.pem"});
  const std::string base = "https://localhost:" + std::to_string(svc->port);
  EXPECT_EQ(curl("GET", base + "/kv/t", nullptr, tls_args).status, 0);
  auto ok = curl("GET", base + "/kv/t", nullptr,
                 tls_args + "--cert " + d + "/client.pem --key " + d + "/client.key ");
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(ok.body, "secret value");
  EXPECT_EQ(svc->stop(SIGTERM), 0);
  // A bad certificate file: a clear error naming it, exit 2.
  const std::string bad = shell(std::string(WEIR_TASKD) + " --listen 127.0.0.1:0 --admin off " +
                                "--data-dir " + d + "/data --tls-cert " + d + "/nope.pem " +
                                "--tls-key " + d + "/server.key 2>&1; echo \"exit $?\"");
  EXPECT_NE(bad.find("nope.pem"), std::string::npos) << bad;
  EXPECT_NE(bad.find("exit 2"), std::string::npos) << bad;
}

TEST(Taskd, BadInputsGetTheRight4xxAndTheServerLivesOn) {
  data_dir dir;
  auto svc = start_taskd(dir.path(), {"--request-timeout", "500ms", "--max-value-bytes", "1000"});
  const std::string huge(2 << 20, 'x');
  EXPECT_EQ(curl("POST", url(*svc, "/echo"), &huge).status, 413);
  const std::string big_value(1001, 'v');
  auto e = curl("PUT", url(*svc, "/kv/big"), &big_value);
  EXPECT_EQ(e.status, 413);
  EXPECT_EQ(e.body, R"({"error":"value larger than 1000 bytes"})");
  const std::string fits(1000, 'v');
  EXPECT_EQ(curl("PUT", url(*svc, "/kv/fits"), &fits).status, 200);
  // A slow body: 10 of 100 bytes, then nothing -> 408 once the body timeout passes.
  {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(svc->port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
    const std::string head =
        "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"kind\":\"";
    ASSERT_EQ(write(fd, head.data(), head.size()), static_cast<ssize_t>(head.size()));
    timeval tv{5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char buf[512];
    const ssize_t got = read(fd, buf, sizeof buf);
    close(fd);
    ASSERT_GT(got, 12);
    EXPECT_EQ(std::string(buf, 12), "HTTP/1.1 408");
  }
  // A body of random bytes, a NUL in the middle, a JSON number too big to hold.
  for (const std::string& bad :
       {std::string("\x00\x01\x02{}", 5), std::string("{\"kind\":1e999999}"),
        std::string("{\"kind\":\"create\"} trailing")}) {
    auto r = curl("POST", url(*svc, "/echo"), &bad);
    EXPECT_EQ(r.status, 400) << r.body;
    EXPECT_EQ(r.body.rfind("failed to read request: ", 0), 0u) << r.body;
  }
  // Still serving, and nothing was lost along the way.
  EXPECT_EQ(curl("GET", url(*svc, "/kv/fits")).body, fits);
  EXPECT_EQ(svc->stop(SIGTERM), 0);
}

}  // namespace
