// taskd — seed 004's TaskScheduler as a service: HTTP handlers on every shard, a request id and
// a notifier entry per request, one bounded task queue into a serialized applier, and a
// durable key-value state machine it group-commits to (LMDB or RocksDB in --data-dir, or an
// etcd cluster). See service.hpp for the
// routes, pipeline.hpp for the applier, config.hpp for the flags and the TOML file.
//
//   taskd                          # 127.0.0.1:2379, admin 127.0.0.1:9901, LMDB in ./taskd-data
//   taskd --config taskd.toml --shards 2
//   taskd --store etcd --etcd-endpoints http://10.0.0.1:2379,http://10.0.0.2:2379
//   taskd --tls-cert cert.pem --tls-key key.pem [--client-ca ca.pem] [--admin-tls]
//
// Prints "listening on ADDR admin ADDR|off" on stdout once it serves; logs (logfmt) on stderr.
// SIGINT / SIGTERM: stops accepting, answers every request already read (the applier drains
// the queue), closes idle connections, exits 0 within drain_timeout (1 past it).
#include "config.hpp"
#include "pipeline.hpp"
#include "service.hpp"
#include "etcd_store.hpp"
#include "store.hpp"

#include <weir/core/file.hpp>
#include <weir/core/log.hpp>
#include <weir/core/on_shard.hpp>
#include <weir/core/runtime.hpp>
#include <weir/core/spawn.hpp>
#include <weir/debug/admin.hpp>
#include <weir/http/server.hpp>
#include <weir/io/signal.hpp>
#include <weir/net/socket.hpp>

#include <cstdio>
#include <optional>
#include <variant>

namespace {

using namespace std::chrono_literals;
namespace http = weir::http;

std::string ms(std::chrono::milliseconds d) { return std::to_string(d.count()) + "ms"; }

// The store the config names: opened (local) or set up (etcd: no I/O until the first call).
weir::result<std::unique_ptr<taskd::store>> open_store(const taskd::config& c) {
  if (c.store != "etcd") {
    WEIR_TRY_ASSIGN(auto local, taskd::open_local_store(c.store, c.data_dir,
                                                        {.lmdb_map_size = c.lmdb_map_size}));
    return std::unique_ptr<taskd::store>(std::move(local));
  }
  taskd::etcd_options o;
  for (std::size_t at = 0; at <= c.etcd_endpoints.size();) {
    const std::size_t comma = std::min(c.etcd_endpoints.find(',', at), c.etcd_endpoints.size());
    o.endpoints.push_back(c.etcd_endpoints.substr(at, comma - at));
    at = comma + 1;
  }
  o.prefix = c.etcd_prefix;
  o.timeout = c.etcd_timeout;
  o.retry = c.etcd_retry;
  o.max_txn_ops = c.etcd_max_txn_ops;
  if (!c.etcd_cacert.empty() || !c.etcd_cert.empty()) {
    WEIR_TRY_ASSIGN(o.tls, weir::tls::context::client({.ca_file = c.etcd_cacert,
                                                        .cert_file = c.etcd_cert,
                                                        .key_file = c.etcd_key}));
  }
  return taskd::open_etcd_store(std::move(o));
}

// serve(), then the store's own shutdown (etcd: its connections) while the runtime still runs.
weir::task<int> serve_and_close(weir::task<int> serving, taskd::store& st) {
  const int rc = co_await std::move(serving);
  co_await st.close();
  co_return rc;
}

weir::task<> run_applier(unsigned shard, taskd::applier* app, weir::receiver<taskd::op> rx) {
  co_await weir::on_shard(
      shard, [app](weir::receiver<taskd::op> r) { return app->run(std::move(r)); }, std::move(rx));
}

weir::task<> stop_on_signal(weir::io::signal_set& sigs, http::server& srv,
                            std::chrono::milliseconds drain) {
  auto sig = co_await sigs.wait();
  weir::log::info("stopping", {{"signal", sig ? (*sig == SIGINT ? "SIGINT" : "SIGTERM") : "?"},
                               {"drain_limit", ms(drain)}});
  co_await srv.shutdown(drain);
}

weir::task<int> serve(const taskd::config& c, weir::runtime& rt, weir::io::signal_set& sigs,
                      taskd::store& st, weir::net::address at, weir::tls::context tls,
                      std::optional<weir::debug::admin_options> admin_opts) {
  taskd::pipeline_metrics metrics(rt.shard_count());
  taskd::service svc({.shards = rt.shard_count(),
                      .queue_capacity = c.queue_capacity,
                      .request_timeout = c.request_timeout,
                      .queue_wait = c.queue_wait,
                      .max_key_bytes = c.max_key_bytes,
                      .max_value_bytes = c.max_value_bytes,
                      .max_body_bytes = c.max_body_bytes},
                     st, metrics);
  http::server_options so;
  // The service answers its own timeouts (504 apply timeout); the server's is a backstop.
  so.handler_timeout = c.request_timeout + 1s;
  so.handler_timeout_status = 504;
  // A client that sends its request slower than that is answered 408 and closed.
  so.header_timeout = c.request_timeout;
  so.body_timeout = c.request_timeout;
  so.limits.body_bytes = std::max(c.max_body_bytes, c.max_value_bytes);
  so.server_name = "taskd";
  if (c.access_log)
    so.access_log = [](const http::access_record& r) {
      weir::log::info("request", {{"peer", r.peer},
                                  {"method", r.method},
                                  {"target", r.target},
                                  {"status", std::to_string(r.status)},
                                  {"bytes", std::to_string(r.body_bytes)},
                                  {"us", std::to_string(r.duration.count() / 1000)}});
    };
  so.tls = tls;
  http::server srv(svc.routes(), std::move(so));
  auto where = co_await srv.listen(at);
  if (!where) {
    weir::log::error("cannot listen", {{"addr", c.listen}, {"error", where.error().message()}});
    co_return 1;
  }
  auto started = weir::debug::start_admin(rt, std::move(admin_opts));
  if (!started) {
    weir::log::error("cannot start the admin endpoint", {{"error", started.error().message()}});
    co_await srv.shutdown(0ms);
    co_await srv.run();
    co_return 1;
  }
  std::unique_ptr<weir::debug::admin_server> admin = std::move(*started);
  if (admin) {
    admin->add_metrics([&srv](weir::metrics::prometheus_writer& w) { srv.write_prometheus(w); });
    admin->add_metrics([&svc](weir::metrics::prometheus_writer& w) { svc.write_prometheus(w); });
  }

  taskd::applier app(svc.notifications(), st, metrics,
                     {.max_batch = c.max_batch, .sync = true, .test_delay = c.test_apply_delay});
  const unsigned applier_shard = rt.shard_count() - 1;
  auto applying = weir::spawn(run_applier(applier_shard, &app, svc.take_receiver()), "applier");

  const std::string admin_text = admin ? admin->address().to_string() : "off";
  std::printf("listening on %s admin %s\n", where->to_string().c_str(), admin_text.c_str());
  std::fflush(stdout);
  weir::log::info("listening", {{"addr", where->to_string()},
                                {"admin", admin_text},
                                {"shards", std::to_string(rt.shard_count())},
                                {"reactor", rt.backend_name()},
                                {"store", st.describe()},
                                {"tls", tls ? "on" : "off"},
                                {"revision", std::to_string(st.revision())},
                                {"applier_shard", std::to_string(applier_shard)}});

  auto stopper = weir::spawn(stop_on_signal(sigs, srv, c.drain_timeout), "signals");
  const auto t0 = weir::now();
  co_await srv.run();
  // Every connection is closed: no request waits any more. The applier applies what is queued
  // (nothing, normally: every queued op belonged to a request that was answered) and ends.
  svc.close_queue();
  const auto left = std::max<weir::clock::duration>(c.drain_timeout - (weir::now() - t0), 100ms);
  auto ended = co_await weir::with_timeout(left, std::move(applying));
  (void)co_await stopper;
  const auto stats = srv.stats();
  if (!ended) {
    weir::log::error("the applier did not finish within the drain limit",
                     {{"error", ended.error().message()}});
    co_return 1;
  }
  weir::log::info("stopped", {{"requests", std::to_string(stats.requests)},
                              {"killed_by_drain", std::to_string(stats.killed_by_drain)},
                              {"revision", std::to_string(st.revision())}});
  co_return stats.killed_by_drain ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  taskd::parse_outcome parsed = taskd::parse_command_line(argc, argv);
  if (!parsed.cfg) {
    std::fputs(parsed.message.c_str(), parsed.exit_code == 0 ? stdout : stderr);
    if (!parsed.message.empty() && parsed.message.back() != '\n')
      std::fputc('\n', parsed.exit_code == 0 ? stdout : stderr);
    return parsed.exit_code;
  }
  const taskd::config& c = *parsed.cfg;
  weir::log::set_level(weir::log::parse_level(c.log_level).value_or(weir::log::level::info));

  const auto at = weir::net::address::parse(c.listen);
  if (!at) {
    weir::log::error("bad listen address", {{"error", at.error().message()}});
    return 2;
  }
  auto admin = weir::debug::admin_options_from(c.admin, c.admin_token_file);
  if (!admin) {
    weir::log::error("bad admin settings", {{"error", admin.error().message()}});
    return 2;
  }
  weir::net::raise_fd_limit();
  weir::io::signal_set sigs({SIGINT, SIGTERM});  // before the runtime: its threads inherit
  weir::tls::context tls;
  if (!c.tls_cert.empty()) {
    auto ctx = weir::tls::context::server({.cert_file = c.tls_cert,
                                           .key_file = c.tls_key,
                                           .client_ca_file = c.client_ca,
                                           .require_client_cert = !c.client_ca.empty()});
    if (!ctx) {
      weir::log::error("bad TLS settings", {{"error", ctx.error().message()}});
      return 2;
    }
    tls = std::move(*ctx);
    if (admin && *admin && c.admin_tls) (*admin)->tls = tls;
  }
  auto opened = open_store(c);
  if (!opened) {
    weir::log::error("cannot open the store", {{"error", opened.error().message()}});
    return 1;
  }
  std::unique_ptr<taskd::store> st = std::move(*opened);
  int rc;
  {
    weir::runtime_options ro;
    ro.shards = c.shards;
    ro.backend = c.reactor == "auto" ? "" : c.reactor;
    weir::runtime rt(std::move(ro));
    rc = rt.block_on(serve_and_close(serve(c, rt, sigs, *st, *at, tls, std::move(*admin)), *st),
                     "taskd");
  }
  return rc;
}
