// What the debugging examples share: an HTTP service on every shard plus the admin endpoint
// (weir::debug::admin_server), stopped by SIGINT / SIGTERM. Prints, once both listen:
//   listening on 127.0.0.1:PORT admin 127.0.0.1:ADMIN_PORT
#pragma once

#include <weir/core/runtime.hpp>
#include <weir/core/spawn.hpp>
#include <weir/debug/admin.hpp>
#include <weir/http/server.hpp>
#include <weir/io/signal.hpp>

#include <cstdio>
#include <optional>

namespace examples {

inline weir::task<int> serve_until_signal(weir::io::signal_set& sigs, weir::runtime& rt,
                                          weir::http::router routes, weir::http::server_options so,
                                          weir::net::address at, weir::net::address admin_at) {
  weir::http::server srv(std::move(routes), std::move(so));
  auto where = co_await srv.listen(at);
  if (!where) {
    std::fprintf(stderr, "cannot listen on %s: %s\n", at.to_string().c_str(),
                 where.error().message().c_str());
    co_return 1;
  }
  std::optional<weir::debug::admin_server> admin;
  try {
    admin.emplace(rt, weir::debug::admin_options{.address = admin_at, .token = {}});
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    co_return 1;
  }
  admin->add_metrics([&srv](weir::metrics::prometheus_writer& w) { srv.write_prometheus(w); });
  std::printf("listening on %s admin %s\n", where->to_string().c_str(),
              admin->address().to_string().c_str());
  std::fflush(stdout);
  auto stopper = weir::spawn(
      [](weir::io::signal_set& sigs, weir::http::server& srv) -> weir::task<> {
        (void)co_await sigs.wait();
        co_await srv.shutdown(std::chrono::seconds(2));
      }(sigs, srv),
      "signals");
  co_await srv.run();
  (void)co_await stopper;
  co_return 0;
}

}  // namespace examples
