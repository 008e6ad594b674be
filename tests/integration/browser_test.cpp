// The admin endpoint's browser view (/ui) in a real browser: Debian's Chromium, headless,
// loads it from a running taskd under load and from the C-callback example losing wake-ups;
// the DOM it renders is checked (tasks by name, a lost wake-up report, plots with data) and a
// screenshot of each is kept (WEIR_ARTIFACTS) and checked not to be blank.
#include "support.hpp"

#include <weir/testing/temp_dir.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <regex>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;

namespace {

using namespace integration;

// Chromium headless on `url`: the DOM after the page's script ran (`--dump-dom`), or a
// screenshot into `png`. Its background services are off: this machine's network is closed.
std::string chromium(const std::string& url, const std::string& png = {}) {
  weir::testing::temp_dir profile("weir-chromium");
  std::string cmd =
      "timeout 90 chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run "
      "--disable-background-networking --disable-component-update --disable-sync "
      "--disable-dev-shm-usage --hide-scrollbars --user-data-dir=" +
      profile.path() + " --virtual-time-budget=6000 --window-size=1400,2200 ";
  cmd += png.empty() ? "--dump-dom '" + url + "'" : "--screenshot=" + png + " '" + url + "'";
  return shell(cmd + " 2>/dev/null");
}

// Distinct colours and the share of pixels that are not the most common one, from a PNG
// (8-bit RGB or RGBA, as Chromium writes them), by Python's zlib: "colours share".
std::string png_stats(const std::string& png) {
  const char* py = R"PY(
import struct, sys, zlib, collections
d = open(sys.argv[1], 'rb').read()
assert d[:8] == b'\x89PNG\r\n\x1a\n', 'not a PNG'
i, idat, w, h, ct = 8, b'', 0, 0, 0
while i < len(d):
    n, t = struct.unpack('>I4s', d[i:i+8]); body = d[i+8:i+8+n]; i += 12 + n
    if t == b'IHDR': w, h, bd, ct = struct.unpack('>IIBB', body[:10])
    if t == b'IDAT': idat += body
bpp = {2: 3, 6: 4}[ct]
raw, stride, prev, rows = zlib.decompress(idat), w * bpp, bytearray(w * bpp), []
for y in range(h):
    f, line = raw[y*(stride+1)], bytearray(raw[y*(stride+1)+1:(y+1)*(stride+1)])
    for x in range(stride):
        a = line[x-bpp] if x >= bpp else 0; b = prev[x]; c = prev[x-bpp] if x >= bpp else 0
        if f == 1: line[x] = (line[x] + a) & 255
        elif f == 2: line[x] = (line[x] + b) & 255
        elif f == 3: line[x] = (line[x] + (a + b) // 2) & 255
        elif f == 4:
            p = a + b - c; pa, pb, pc = abs(p-a), abs(p-b), abs(p-c)
            line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    rows.append(bytes(line)); prev = line
px = collections.Counter(r[x:x+3] for r in rows[::4] for x in range(0, stride, bpp * 4))
print(len(px), 1 - px.most_common(1)[0][1] / sum(px.values()))
)PY";
  const std::string script = png + ".py";
  std::ofstream(script) << py;
  return shell("python3 " + script + " " + png + " 2>&1");
}

void expect_not_blank(const std::string& png) {
  std::ifstream f(png, std::ios::binary);
  ASSERT_TRUE(f.good()) << "no screenshot at " << png;
  const std::string stats = png_stats(png);
  unsigned colours = 0;
  double ink = 0;
  ASSERT_EQ(std::sscanf(stats.c_str(), "%u %lf", &colours, &ink), 2) << stats;
  EXPECT_GT(colours, 20u) << png;  // text, tables, plot lines
  EXPECT_GT(ink, 0.02) << png;     // more than a background
}

std::string artifact(const std::string& name) {
  std::filesystem::create_directories(WEIR_ARTIFACTS);
  return std::string(WEIR_ARTIFACTS) + "/" + name;
}

// The number in data-points="N" of the plot named `family` (-1: no such plot).
long plot_points(const std::string& dom, const std::string& family) {
  std::smatch m;
  const std::regex re("<div class=\"plot\" data-name=\"" + family + "\" data-points=\"(\\d+)\"");
  return std::regex_search(dom, m, re) ? std::stol(m[1]) : -1;
}

TEST(Browser, TaskdUnderLoadShowsItsTasksAndPlots) {
  weir::testing::temp_dir dir("taskd-ui");
  service svc({WEIR_TASKD, "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--data-dir",
               dir.path(), "--log-level", "warn", "--shards", "2"});
  const std::string base = "http://127.0.0.1:" + std::to_string(svc.port);
  // Load for the whole test: writes through the applier, reads, and the scrapes under it.
  std::atomic<bool> stop{false};
  std::thread load([&] {
    for (int round = 0; round < 40 && !stop; ++round)
      shell("curl -s -o /dev/null -X PUT --data-binary v" + std::to_string(round) + " " + base +
            "/kv/k" + std::to_string(round) + " && wrk -t1 -c8 -d1s " + base +
            "/kv/k0 >/dev/null 2>&1");
  });
  std::this_thread::sleep_for(3s);  // a few samples in the admin endpoint's history

  const std::string ui = "http://127.0.0.1:" + std::to_string(svc.admin) + "/ui";
  const std::string dom = chromium(ui);
  EXPECT_NE(dom.find("data-loaded=\"1\""), std::string::npos) << dom.substr(0, 4000);
  // The task table as `weir top` has it: real rows, by name, with where they wait.
  EXPECT_NE(dom.find("<td>http accept</td>"), std::string::npos) << dom.substr(0, 4000);
  EXPECT_NE(dom.find("<td>accept fd "), std::string::npos) << "what it waits on, in words";
  EXPECT_TRUE(std::regex_search(dom, std::regex("<td class=\"site\">[a-z/_]+\\.(cpp|hpp):\\d+")))
      << dom.substr(0, 4000);
  // Shards, and plots that have data: the runtime's and the HTTP routes' latency.
  EXPECT_NE(dom.find("<table id=\"shards\">"), std::string::npos);
  EXPECT_GT(plot_points(dom, "weir_task_runs_total"), 0) << dom.substr(0, 4000);
  EXPECT_GT(plot_points(dom, "weir_http_request_duration_seconds"), 0) << dom.substr(0, 4000);
  EXPECT_NE(dom.find("taskd_"), std::string::npos) << "the service's own metrics";

  const std::string png = artifact("ui-taskd.png");
  chromium(ui, png);
  stop = true;
  load.join();
  expect_not_blank(png);
}

TEST(Browser, LostWakeupReportAppears) {
  service svc({WEIR_C_CALLBACK, "--port", "0", "--admin-port", "0", "--forget", "4"});
  // The library forgets only busy requests: concurrent load from wrk.
  shell("wrk -t1 -c16 -d2s 'http://127.0.0.1:" + std::to_string(svc.port) +
        "/login?user=alice' >/dev/null 2>&1");
  ASSERT_GT(metric(get(svc.admin, "/metrics").body, "weir_lost_wakeups_total"), 0);
  const std::string ui = "http://127.0.0.1:" + std::to_string(svc.admin) + "/ui";
  const std::string dom = chromium(ui);
  EXPECT_NE(dom.find("data-loaded=\"1\""), std::string::npos) << dom.substr(0, 4000);
  EXPECT_TRUE(std::regex_search(
      dom, std::regex("<summary>[^<]*task #\\d+ 'http connection' lost a wake-up: ")))
      << dom.substr(0, 6000);
  EXPECT_NE(dom.find("c_callback/main.cpp:"), std::string::npos) << "the await site";
  const std::string png = artifact("ui-lost-wakeup.png");
  chromium(ui, png);
  expect_not_blank(png);
}

TEST(Browser, TheTokenComesFromTheAddressFragment) {
  weir::testing::temp_dir dir("taskd-ui-token");
  const std::string token_file = dir.path() + "/admin.token";
  std::ofstream(token_file) << "s3cret-token\n";
  service svc({WEIR_TASKD, "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--data-dir",
               dir.path() + "/data", "--log-level", "warn", "--shards", "1", "--admin-token-file",
               token_file});
  EXPECT_EQ(get(svc.admin, "/debug/tasks").status, 401);  // the data needs the token
  const std::string ui = "http://127.0.0.1:" + std::to_string(svc.admin) + "/ui";
  // The page itself holds no data and loads without it; it says what it needs.
  std::string dom = chromium(ui);
  EXPECT_NE(dom.find("wants a bearer token"), std::string::npos) << dom.substr(0, 4000);
  EXPECT_EQ(dom.find("data-loaded"), std::string::npos);
  EXPECT_EQ(dom.find("<td>http accept</td>"), std::string::npos);
  dom = chromium(ui + "#token=s3cret-token");
  EXPECT_NE(dom.find("data-loaded=\"1\""), std::string::npos) << dom.substr(0, 4000);
  EXPECT_NE(dom.find("<td>http accept</td>"), std::string::npos);
  dom = chromium(ui + "#token=wrong");
  EXPECT_NE(dom.find("wants a bearer token"), std::string::npos);
}

TEST(Browser, ThePageMayOnlyTalkToItsOwnEndpoint) {
  service svc({WEIR_C_CALLBACK, "--port", "0", "--admin-port", "0"});
  const std::string head = shell(
      "curl -sS -D - -o /dev/null http://127.0.0.1:" + std::to_string(svc.admin) + "/ui/app.js");
  EXPECT_NE(head.find("HTTP/1.1 200"), std::string::npos) << head;
  EXPECT_NE(head.find("Content-Security-Policy: default-src 'none'; script-src 'self'"),
            std::string::npos)
      << head;
  EXPECT_NE(head.find("text/javascript"), std::string::npos) << head;
}

}  // namespace
