// taskd's pipeline after the HTTP handlers: what travels through the task queue (op), what
// comes back through the notifier (reply), the stage metrics, and the applier — the story's
// serialized state machine, on one shard.
//
//   auto [tx, rx] = weir::channel<taskd::op>(capacity, weir::cross_shard);  // the task queue
//   taskd::applier app(notifier, store, metrics, {.max_batch = 1024});
//   co_await app.run(std::move(rx));     // until every sender is gone and the queue is drained
//
// The applier takes what is queued, up to max_batch ops per turn. Echo ops are answered at
// once (the story's echoManager: `SUCCESS create %q`). The turn's writes (put, delete) are
// applied in queue order as one store batch (an LMDB or RocksDB transaction fsynced on
// weir::blocking's pool; one etcd Txn), and answered only after it is durable: group commit.
// Requests that arrive during a commit wait in the queue and form the next batch, so under
// load each commit carries many writes, with no timer. max_batch = 1 gives one commit per
// write (the baseline of bench/taskd). A store that cannot be reached answers the turn's
// writes 503 (Retry-After), other errors 500.
#pragma once

#include "notifier.hpp"
#include "store.hpp"

#include <weir/core/metrics.hpp>
#include <weir/core/task.hpp>
#include <weir/core/time.hpp>
#include <weir/sync/channel.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace taskd {

struct op {
  enum class kind : std::uint8_t { echo_create, echo_delete, put, del } k = kind::echo_create;
  std::uint64_t id = 0;
  std::string key;  // echo: the message
  std::string value;
  weir::clock::time_point enqueued{};
};

struct reply {
  int status = 200;
  std::string text;            // echo: the answer; an error's text
  std::uint64_t revision = 0;  // put, del
  bool existed = false;        // del
};

// The pipeline's metrics (weir::metrics: each shard records into its own cells; the admin
// endpoint's thread sums them). `shards`: the runtime's shard count.
struct pipeline_metrics {
  explicit pipeline_metrics(unsigned shards);
  // Stage latencies (metrics::latency_seconds).
  weir::metrics::histogram queue_wait;  // enqueued -> taken by the applier
  weir::metrics::histogram apply;       // a turn's work on the shard (excluding the commit)
  weir::metrics::histogram commit;      // one write batch with its fsync
  weir::metrics::histogram batch_ops;   // ops per applier turn
  weir::metrics::counter ops, turns, kv_writes, fsyncs, commit_errors;  // the applier's
  weir::metrics::counter queue_full, apply_timeouts, shutting_down;     // the handlers'
  weir::metrics::gauge queued;  // ops in the task queue (sent, not yet taken)
  // taskd_stage_seconds{stage}, taskd_batch_ops and the taskd_*_total counters.
  void write(weir::metrics::prometheus_writer& w) const;
};

struct applier_options {
  std::size_t max_batch = 1024;
  bool sync = true;
  std::chrono::milliseconds test_delay{0};  // testing only: sleep this long per turn
};

class applier {
 public:
  applier(notifier<reply>& n, store& s, pipeline_metrics& m, applier_options o) noexcept
      : ntf_(n), store_(s), m_(m), opt_(o) {}
  weir::task<> run(weir::receiver<op> rx);

 private:
  weir::task<> commit_writes(std::vector<op*>& writers);
  notifier<reply>& ntf_;
  store& store_;
  pipeline_metrics& m_;
  applier_options opt_;
};

// "SUCCESS create \"msg\"" (Go's %q quoting).
std::string echo_answer(op::kind k, std::string_view message);

}  // namespace taskd
