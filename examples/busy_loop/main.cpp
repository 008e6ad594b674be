// hotdog's starvation (seed 003), prevented and blamed.
//
//   busy_loop [--port P] [--admin-port A] [--no-budget] [--stall-ms T]
//   GET /ping            -> "pong"
//   GET /crunch?ms=M     -> hotdog's loop for M ms: parse + route lines through a channel
//                           whose awaits are always ready, so they never suspend
//   GET /stall?ms=M      -> a CPU loop with no await at all for M ms (the "fluke" loop)
//
// One shard serves everything. /crunch's awaits complete at once, so without a budget it would
// keep the shard for its whole run (the bug hotdog fixed by hand with yield_now); weir's
// cooperative budget (runtime_options::coop_ops / coop_quota, 250 us) makes such an await
// yield, and /ping stays fast. /stall cannot be preempted by any cooperative runtime: the
// watchdog reports it while it runs (stderr and /debug/stalls on the admin port), naming the
// connection's task, its request and checksum_without_yielding() in the shard's backtrace.
// --no-budget sets the budget out of reach, to see the starvation it prevents.
#include "../common/service.hpp"

#include <weir/sync/channel.hpp>

#include <charconv>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

using clock_type = std::chrono::steady_clock;

std::uint64_t mix(std::uint64_t h, std::uint64_t v) {
  h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
  return h;
}

// About 20 us of CPU: "parsing" one log line.
std::uint64_t parse_line(std::uint64_t seed) {
  std::uint64_t h = seed;
  for (int i = 0; i < 4000; ++i) h = mix(h, static_cast<std::uint64_t>(i));
  return h;
}

unsigned ms_param(weir::http::request& req, unsigned fallback) {
  const std::string_view v = req.query_param("ms");
  unsigned ms = fallback;
  std::from_chars(v.data(), v.data() + v.size(), ms);
  return ms;
}

// hotdog's loop: every await is ready at once (the channel always has room and a line).
weir::task<> crunch(weir::http::request& req, weir::http::response& res) {
  const auto until = clock_type::now() + std::chrono::milliseconds(ms_param(req, 1000));
  auto [tx, rx] = weir::channel<std::uint64_t>(1024);
  std::uint64_t lines = 0, h = 0;
  while (clock_type::now() < until) {
    (void)co_await tx.send(parse_line(lines));
    auto v = co_await rx.recv();
    h = mix(h, *v);
    ++lines;
  }
  res.body("crunched " + std::to_string(lines) + " lines, checksum " + std::to_string(h % 1000) +
           "\n");
}

[[gnu::noinline]] std::uint64_t checksum_without_yielding(std::chrono::milliseconds d) {
  const auto until = clock_type::now() + d;
  std::uint64_t h = 0, n = 0;
  while (clock_type::now() < until) h = mix(h, parse_line(++n));
  return h;
}

weir::task<> stall(weir::http::request& req, weir::http::response& res) {
  const std::uint64_t h = checksum_without_yielding(std::chrono::milliseconds(ms_param(req, 100)));
  res.body("checksum " + std::to_string(h % 1000) + "\n");
  co_return;
}

weir::task<> ping(weir::http::request&, weir::http::response& res) {
  res.body(std::string_view("pong\n"));
  co_return;
}

int usage() {
  std::fprintf(stderr,
               "usage: busy_loop [--port P] [--admin-port A] [--no-budget] [--stall-ms T]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  unsigned port = 8080, admin_port = 9901, stall_ms = 20;
  bool budget = true;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--no-budget") {
      budget = false;
      continue;
    }
    if (i + 1 >= argc) return usage();
    const unsigned v = static_cast<unsigned>(std::atoi(argv[++i]));
    if (a == "--port")
      port = v;
    else if (a == "--admin-port")
      admin_port = v;
    else if (a == "--stall-ms")
      stall_ms = v;
    else
      return usage();
  }
  weir::io::signal_set sigs({SIGINT, SIGTERM});
  weir::runtime_options ro{.shards = 1};
  ro.stall_threshold = std::chrono::milliseconds(stall_ms);
  if (!budget) {
    ro.coop_ops = ~0u;
    ro.coop_quota = std::chrono::hours(1);
  }
  weir::runtime rt(ro);
  weir::http::router r;
  r.get("/ping", ping);
  r.get("/crunch", crunch);
  r.get("/stall", stall);
  weir::http::server_options so;
  so.handler_timeout = std::chrono::seconds(60);
  return rt.block_on(examples::serve_until_signal(
      sigs, rt, std::move(r), std::move(so),
      weir::net::address::loopback_v4(static_cast<std::uint16_t>(port)),
      weir::net::address::loopback_v4(static_cast<std::uint16_t>(admin_port))));
}
