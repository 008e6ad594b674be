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
// applied in queue order as one RocksDB write batch, fsynced on weir::blocking's pool, and
// answered only after the fsync: group commit. Requests that arrive during an fsync wait in the
// queue and form the next batch, so under load each fsync carries many writes, with no timer.
// max_batch = 1 gives one fsync per write (the baseline of bench/taskd).
#pragma once

#include "notifier.hpp"
#include "store.hpp"

#include <weir/core/task.hpp>
#include <weir/core/time.hpp>
#include <weir/sync/channel.hpp>

#include <array>
#include <atomic>
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

// A Prometheus histogram (the HTTP server's latency buckets); any thread.
class histogram {
 public:
  void observe(std::chrono::nanoseconds d) noexcept;
  void observe_value(double v) noexcept;  // for non-time histograms (bounds as given)
  // Appends `name{labels,le="..."}` bucket lines, _sum and _count.
  void write(std::string& out, std::string_view name, std::string_view labels) const;
  explicit histogram(const double* bounds = nullptr, std::size_t n = 0) noexcept;

 private:
  static constexpr std::size_t max_bounds = 16;
  std::array<double, max_bounds> bounds_{};
  std::size_t n_ = 0;
  std::array<std::atomic<std::uint64_t>, max_bounds + 1> buckets_{};
  std::atomic<std::uint64_t> count_{0};
  std::atomic<double> sum_{0};
};

struct pipeline_metrics {
  pipeline_metrics();
  histogram queue_wait;  // enqueued -> taken by the applier
  histogram apply;       // a turn's work on the shard (excluding the commit)
  histogram commit;      // one write batch with its fsync
  histogram batch_ops;   // ops per applier turn
  std::atomic<std::uint64_t> ops{0}, turns{0}, kv_writes{0}, fsyncs{0}, commit_errors{0},
      queue_full{0}, apply_timeouts{0}, shutting_down{0};
  std::atomic<std::int64_t> queued{0};  // ops in the task queue (sent, not yet taken)
  void write(std::string& out) const;
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
