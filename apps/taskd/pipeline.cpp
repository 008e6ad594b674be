#include "pipeline.hpp"

#include "go_quote.hpp"
#include "log.hpp"

#include <weir/core/blocking.hpp>
#include <weir/http/server.hpp>

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

namespace taskd {

namespace {
constexpr double batch_bounds[] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096};
}

histogram::histogram(const double* bounds, std::size_t n) noexcept {
  if (!bounds) {
    bounds = weir::http::latency_buckets.data();
    n = weir::http::latency_buckets.size();
  }
  n_ = std::min(n, max_bounds);
  std::copy(bounds, bounds + n_, bounds_.begin());
}

void histogram::observe_value(double v) noexcept {
  const std::size_t i = static_cast<std::size_t>(
      std::lower_bound(bounds_.begin(), bounds_.begin() + static_cast<std::ptrdiff_t>(n_), v) -
      bounds_.begin());
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
}

void histogram::observe(std::chrono::nanoseconds d) noexcept {
  observe_value(std::chrono::duration<double>(d).count());
}

void histogram::write(std::string& out, std::string_view name, std::string_view labels) const {
  char line[256];
  std::uint64_t cum = 0;
  const std::string sep = labels.empty() ? "" : ",";
  for (std::size_t i = 0; i <= n_; ++i) {
    cum += buckets_[i].load(std::memory_order_relaxed);
    if (i < n_)
      std::snprintf(line, sizeof line, "%.*s_bucket{%.*s%sle=\"%g\"} %llu\n",
                    static_cast<int>(name.size()), name.data(), static_cast<int>(labels.size()),
                    labels.data(), sep.c_str(), bounds_[i], static_cast<unsigned long long>(cum));
    else
      std::snprintf(line, sizeof line, "%.*s_bucket{%.*s%sle=\"+Inf\"} %llu\n",
                    static_cast<int>(name.size()), name.data(), static_cast<int>(labels.size()),
                    labels.data(), sep.c_str(), static_cast<unsigned long long>(cum));
    out += line;
  }
  const std::string lb = labels.empty() ? "" : "{" + std::string(labels) + "}";
  std::snprintf(line, sizeof line, "%.*s_sum%s %.9g\n%.*s_count%s %llu\n",
                static_cast<int>(name.size()), name.data(), lb.c_str(),
                sum_.load(std::memory_order_relaxed), static_cast<int>(name.size()), name.data(),
                lb.c_str(),
                static_cast<unsigned long long>(count_.load(std::memory_order_relaxed)));
  out += line;
}

pipeline_metrics::pipeline_metrics() : batch_ops(batch_bounds, std::size(batch_bounds)) {}

void pipeline_metrics::write(std::string& out) const {
  out +=
      "# HELP taskd_stage_seconds Time spent in each stage of the pipeline.\n"
      "# TYPE taskd_stage_seconds histogram\n";
  queue_wait.write(out, "taskd_stage_seconds", "stage=\"queue\"");
  apply.write(out, "taskd_stage_seconds", "stage=\"apply\"");
  commit.write(out, "taskd_stage_seconds", "stage=\"commit\"");
  out +=
      "# HELP taskd_batch_ops Ops taken by one applier turn.\n# TYPE taskd_batch_ops histogram\n";
  batch_ops.write(out, "taskd_batch_ops", "");
  const auto counter = [&out](const char* name, const char* help,
                              const std::atomic<std::uint64_t>& v) {
    char line[320];
    std::snprintf(line, sizeof line, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", name, help, name,
                  name, static_cast<unsigned long long>(v.load(std::memory_order_relaxed)));
    out += line;
  };
  counter("taskd_ops_total", "Ops applied.", ops);
  counter("taskd_applier_turns_total", "Applier turns (batches taken from the queue).", turns);
  counter("taskd_kv_writes_total", "Key-value writes committed (puts and deletes).", kv_writes);
  counter("taskd_fsyncs_total", "Write batches committed with fsync.", fsyncs);
  counter("taskd_commit_errors_total", "Write batches the store refused.", commit_errors);
  counter("taskd_queue_full_total", "Requests answered 503: no room in the task queue in time.",
          queue_full);
  counter("taskd_apply_timeouts_total", "Requests answered 504: no result within the timeout.",
          apply_timeouts);
  counter("taskd_shutting_down_total", "Requests answered 503 during shutdown.", shutting_down);
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
    m_.queued.fetch_sub(static_cast<std::int64_t>(batch.size()), std::memory_order_relaxed);
    const auto taken = weir::now();
    for (const op& o : batch) m_.queue_wait.observe(taken - o.enqueued);
    m_.batch_ops.observe_value(static_cast<double>(batch.size()));
    m_.turns.fetch_add(1, std::memory_order_relaxed);
    m_.ops.fetch_add(batch.size(), std::memory_order_relaxed);
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
  auto job = weir::blocking(
      [](store* s, std::vector<write_op>* w, bool sync) { return s->commit(*w, sync); }, &store_,
      &ws, opt_.sync);
  weir::result<std::string> done = co_await std::move(job);
  m_.commit.observe(weir::now() - t0);
  std::string err = done ? std::move(*done) : "cannot run the commit: " + done.error().message();
  if (err.empty()) {
    const auto changed = std::count_if(ws.begin(), ws.end(), [](const write_op& w) {
      return w.k == write_op::kind::put || w.existed;
    });
    m_.kv_writes.fetch_add(static_cast<std::uint64_t>(changed), std::memory_order_relaxed);
    if (opt_.sync && changed > 0) m_.fsyncs.fetch_add(1, std::memory_order_relaxed);
  } else {
    m_.commit_errors.fetch_add(1, std::memory_order_relaxed);
    log::error("commit failed", {{"writes", std::to_string(ws.size())}, {"error", err}});
  }
  for (std::size_t i = 0; i < ws.size(); ++i) {
    reply r = err.empty() ? reply{200, {}, ws[i].revision, ws[i].existed}
                          : reply{500, "storage error: " + err, 0, false};
    (void)ntf_.trigger(writers[i]->id, std::move(r));
  }
}

}  // namespace taskd
