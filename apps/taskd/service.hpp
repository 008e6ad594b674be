// taskd::service — taskd's HTTP face: the routes, the per-shard request ids and queue
// senders, and the path of a request through the pipeline (pipeline.hpp).
//
//   taskd::service svc(opts, store, metrics);       // makes the task queue
//   http::server srv(svc.routes(), server_opts);
//   ... applier.run(svc.take_receiver()) on the applier's shard ...
//   co_await srv.run();  svc.close_queue();          // the applier drains what is queued, ends
//
// Routes:
//   POST /echo        {"kind":"create"|"delete","message":"..."} -> 200 text/plain
//                     `SUCCESS create "<message, Go %q>"`; 400 `failed to read request: ...`
//                     (malformed JSON, not an object, a field of the wrong type, invalid UTF-8,
//                     nesting deeper than 1024); 400 `failed to apply: unknown request kind
//                     "<kind>"`; 413 past max_body_bytes; other methods 405 (Allow: POST).
//   PUT /kv/{key}     body = value -> 200 {"key":..,"revision":N} (+ X-Taskd-Revision)
//   GET /kv/{key}     -> 200 the value (X-Taskd-Revision: its mod revision) | 404
//   DELETE /kv/{key}  -> 200 {"key":..,"deleted":0|1,"revision":N} (+ X-Taskd-Revision)
//   GET /kv?prefix=p&limit=n -> 200 {"revision":N,"count":c,"more":bool,"kvs":[{"key":..,
//                     "value":"<base64>","mod_revision":N}]} (values in base64, as etcd's JSON
//                     gateway gives them; limit 1..10000, default 100)
//   Keys are the percent-decoded path segment: 1..max_key_bytes of valid UTF-8 (else 400);
//   values up to max_value_bytes (else 413).
// Every request that goes through the queue gets X-Request-Id (its id, 16 hex digits), and
// waits at most request_timeout in all: for room in the queue (at most queue_wait of it, then
// 503 `queue full` with Retry-After), then for its result (504 `apply timeout`). After
// close_queue() the writes and echoes are answered 503 `shutting down`.
// Writes go through the applier (linearizable, acknowledged once durable); reads go straight to
// the store (store.hpp) and see every acknowledged write. A store that cannot be reached
// (etcd without quorum) gives 503 with Retry-After; another store error 500.
#pragma once

#include "id_gen.hpp"
#include "notifier.hpp"
#include "pipeline.hpp"
#include "store.hpp"

#include <weir/http/router.hpp>
#include <weir/http/server.hpp>
#include <weir/sync/channel.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace taskd {

struct service_options {
  unsigned shards = 1;
  std::size_t queue_capacity = 1024;
  std::chrono::milliseconds request_timeout{5000};
  std::chrono::milliseconds queue_wait{1000};
  std::size_t max_key_bytes = 1024;
  std::size_t max_value_bytes = 1 << 20;
  std::size_t max_body_bytes = 1 << 20;
};

class service {
 public:
  service(service_options o, store& s, pipeline_metrics& m);
  ~service();
  service(const service&) = delete;
  service& operator=(const service&) = delete;

  weir::http::router routes();
  // The queue's receiving end, for the applier (once).
  weir::receiver<op> take_receiver();
  // Drops the queue's senders: later requests get 503; the applier ends once it has applied
  // what is queued. Call after the HTTP server has drained.
  void close_queue() noexcept;

  notifier<reply>& notifications() noexcept { return ntf_; }
  // The queue, notifier and store gauges, then the pipeline's metrics, for the admin endpoint.
  void write_prometheus(weir::metrics::prometheus_writer& w) const;

 private:
  struct alignas(64) shard_ctx {
    explicit shard_ctx(unsigned k) : ids(static_cast<std::uint16_t>(k)) {}
    id_generator ids;
    std::optional<weir::sender<op>> tx;
  };

  weir::task<reply> submit(op o, std::uint64_t& id);
  weir::task<> echo(weir::http::request& q, weir::http::response& s);
  weir::task<> kv_put(weir::http::request& q, weir::http::response& s);
  weir::task<> kv_delete(weir::http::request& q, weir::http::response& s);
  weir::task<> kv_get(weir::http::request& q, weir::http::response& s);
  weir::task<> kv_list(weir::http::request& q, weir::http::response& s);
  // The decoded key of /kv/{key}, or answers 400 and returns false.
  bool key_of(weir::http::request& q, weir::http::response& s, std::string& key) const;
  // Answers the outcome of a submitted request that is not a success (false: it was one).
  bool answer_failure(weir::http::response& s, const reply& r, std::uint64_t id);
  static void answer_store_error(weir::http::response& s, const weir::error& e);

  service_options opt_;
  store& store_;
  pipeline_metrics& m_;
  notifier<reply> ntf_;
  std::vector<std::unique_ptr<shard_ctx>> shards_;
  std::optional<weir::receiver<op>> rx_;
};

}  // namespace taskd
