// The weir side of the HTTP hello benchmark: `GET /` -> 200 "Hello, World!" (text/plain).
// `weir_hello PORT [SHARDS]`; WEIR_BACKEND (uring | epoll) picks the backend. Prints "ready"
// once listening; on SIGINT / SIGTERM drains and exits 0.
#include <weir/core/runtime.hpp>
#include <weir/core/spawn.hpp>
#include <weir/http/server.hpp>
#include <weir/io/signal.hpp>

#include <csignal>
#include <cstdio>
#include <cstdlib>

namespace {

weir::task<> hello(weir::http::request&, weir::http::response& res) {
  res.content_type("text/plain");
  res.body(std::string_view("Hello, World!"));
  co_return;
}

weir::task<> stop_on_signal(weir::io::signal_set& sigs, weir::http::server& srv) {
  (void)co_await sigs.wait();
  co_await srv.shutdown(std::chrono::seconds(2));
}

weir::task<int> serve(std::uint16_t port, weir::io::signal_set& sigs) {
  weir::http::router r;
  r.get("/", hello);
  weir::http::server srv(std::move(r), {.route_metrics = false});
  auto where = co_await srv.listen(weir::net::address::any_v4(port));
  if (!where) {
    std::fprintf(stderr, "weir_hello: listen on port %u: %s\n", port,
                 where.error().message().c_str());
    co_return 1;
  }
  std::printf("ready\n");
  std::fflush(stdout);
  auto stopper = weir::spawn(stop_on_signal(sigs, srv), "signals");
  co_await srv.run();
  (void)co_await stopper;
  co_return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || argc > 3) {
    std::fprintf(stderr, "usage: weir_hello PORT [SHARDS]   (WEIR_BACKEND=uring|epoll)\n");
    return 2;
  }
  const auto port = static_cast<std::uint16_t>(std::atoi(argv[1]));
  const unsigned shards = argc == 3 ? static_cast<unsigned>(std::atoi(argv[2])) : 1;
  weir::io::signal_set sigs({SIGINT, SIGTERM});
  weir::runtime rt({.shards = shards});
  return rt.block_on(serve(port, sigs));
}
