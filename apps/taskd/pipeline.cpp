#include "pipeline.hpp"

#include "go_quote.hpp"

#include <weir/core/log.hpp>

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

namespace taskd {

namespace {
constexpr weir::metrics::bucket_bounds batch_bounds{
    {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096}};
}

pipeline_metrics::pipeline_metrics(unsigned shards)
    : queue_wait(weir::metrics::latency_seconds, shards),
      apply(weir::metrics::latency_seconds, shards),
      commit(weir::metrics::latency_seconds, shards),
      batch_ops(batch_bounds, shards),
      ops(shards),
      turns(shards),
      kv_writes(shards),
      fsyncs(shards),
      commit_errors(shards),
      queue_full(shards),
      apply_timeouts(shards),
      shutting_down(shards),
      queued(shards) {}

void pipeline_metrics::write(weir::metrics::prometheus_writer& w) const {
  using weir::metrics::type;
  constexpr weir::metrics::family stage{
      "taskd_stage_seconds", "Time spent in each stage of the pipeline.", type::histogram};
  w.write(stage, {{"stage", "queue"}}, queue_wait.read());
  w.write(stage, {{"stage", "apply"}}, apply.read());
  w.write(stage, {{"stage", "commit"}}, commit.read());
  w.write({"taskd_batch_ops", "Ops taken by one applier turn.", type::histogram}, {},
          batch_ops.read());
  const std::pair<weir::metrics::family, const weir::metrics::counter*> counters[] = {
      {{"taskd_ops_total", "Ops applied."}, &ops},
      {{"taskd_applier_turns_total", "Applier turns (batches taken from the queue)."}, &turns},
      {{"taskd_kv_writes_total", "Key-value writes committed (puts and deletes)."}, &kv_writes},
      {{"taskd_fsyncs_total", "Write batches committed with fsync."}, &fsyncs},
      {{"taskd_commit_errors_total", "Write batches the store refused."}, &commit_errors},
      {{"taskd_queue_full_total", "Requests answered 503: no room in the task queue in time."},
       &queue_full},
      {{"taskd_apply_timeouts_total", "Requests answered 504: no result within the timeout."},
       &apply_timeouts},
      {{"taskd_shutting_down_total", "Requests answered 503 during shutdown."}, &shutting_down},
  };
  for (const auto& [f, c] : counters) w.write(f, {}, c->value());
}

std::string echo_answer(op::kind k, std::string_view message) {
  std::string s = k == op::kind::echo_create ? "SUCCESS create " : "SUCCESS delete ";
  go_quote(s, message);
  return s;
}

weir::task<> applier::run(weir::receiver<op> rx) {
  std::vector<op> batch;
  std::vector<op*> writers;
  batch.reserve(std::min<std::size_t>(opt_.max_batch, 4096));
  for (;;) {
    auto first = co_await rx.recv();
    if (!first) break;  // closed: every sender is gone and the queue is drained
    batch.clear();
    batch.push_back(std::move(*first));
    while (batch.size() < opt_.max_batch) {
      auto more = rx.try_recv();
      if (!more) break;
      batch.push_back(std::move(*more));
    }
    m_.queued.sub(static_cast<std::int64_t>(batch.size()));
    const auto taken = weir::now();
    for (const op& o : batch) m_.queue_wait.observe(taken - o.enqueued);
    m_.batch_ops.observe(batch.size());
    m_.turns.inc();
    m_.ops.add(batch.size());
    if (opt_.test_delay.count() > 0) (void)co_await weir::sleep_for(opt_.test_delay);

    writers.clear();
    for (op& o : batch) {
      if (o.k == op::kind::put || o.k == op::kind::del) {
        writers.push_back(&o);
        continue;
      }
      // A trigger may find nobody: the request timed out or its client left (counted).
      (void)ntf_.trigger(o.id, reply{200, echo_answer(o.k, o.key), 0, false});
    }
    m_.apply.observe(weir::now() - taken);
    if (!writers.empty()) co_await commit_writes(writers);
  }
}

weir::task<> applier::commit_writes(std::vector<op*>& writers) {
  std::vector<write_op> ws;
  ws.reserve(writers.size());
  for (op* o : writers)
    ws.push_back(write_op{o->k == op::kind::put ? write_op::kind::put : write_op::kind::del, o->key,
                          o->value});
  const auto t0 = weir::now();
  weir::result<void> done = co_await store_.commit(ws, opt_.sync);
  m_.commit.observe(weir::now() - t0);
  const std::string err = done ? std::string() : done.error().message();
  const int status = done ? 200 : done.error() == unavailable ? 503 : 500;
  if (err.empty()) {
    const auto changed = std::count_if(ws.begin(), ws.end(), [](const write_op& w) {
      return w.k == write_op::kind::put || w.existed;
    });
    m_.kv_writes.add(static_cast<std::uint64_t>(changed));
    if (opt_.sync && changed > 0) m_.fsyncs.inc();
  } else {
    m_.commit_errors.inc();
    weir::log::error("commit failed", {{"writes", std::to_string(ws.size())}, {"error", err}});
  }
  for (std::size_t i = 0; i < ws.size(); ++i) {
    reply r = err.empty() ? reply{200, {}, ws[i].revision, ws[i].existed}
                          : reply{status, "storage error: " + err, 0, false};
    (void)ntf_.trigger(writers[i]->id, std::move(r));
  }
}

}  // namespace taskd
