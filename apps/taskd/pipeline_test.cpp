#include "pipeline.hpp"

#include <weir/core/runtime.hpp>
#include <weir/core/spawn.hpp>
#include <weir/testing/co_assert.hpp>

#include <weir/testing/temp_dir.hpp>

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace {

using taskd::op;
using ntf_t = taskd::notifier<taskd::reply>;

struct fixture {
  weir::testing::temp_dir dir;
  std::unique_ptr<taskd::local_store> st;
  taskd::pipeline_metrics m{1};  // one shard
  fixture() {
    auto r = taskd::open_local_store("lmdb", dir.path(), {});
    st = std::move(r.value());
  }
};

TEST(Applier, EchoAnswersAsTheGoOriginal) {
  EXPECT_EQ(taskd::echo_answer(op::kind::echo_create, "hello"), R"(SUCCESS create "hello")");
  EXPECT_EQ(taskd::echo_answer(op::kind::echo_delete, "a\"b\n"), R"(SUCCESS delete "a\"b\n")");
}

// Writes queued while the applier is busy go into one batch with one fsync, in queue order.
weir::task<> group_commit(fixture& f, std::size_t max_batch, std::size_t writes) {
  ntf_t ntf(1, false);
  auto [tx, rx] = weir::channel<op>(1024, weir::cross_shard);
  std::vector<ntf_t::ticket> tickets;
  for (std::size_t i = 0; i < writes; ++i) {
    op o;
    o.k = op::kind::put;
    o.id = 100 + i;
    o.key = "k" + std::to_string(i % 10);  // overwrites too
    o.value = "v" + std::to_string(i);
    auto t = ntf.register_id(o.id);
    CO_ASSERT_TRUE(t.has_value());
    tickets.push_back(std::move(*t));
    CO_ASSERT_TRUE(tx.try_send(std::move(o)).has_value());
  }
  op e;
  e.k = op::kind::echo_create;
  e.id = 99;
  e.key = "tab\t";
  auto echo_ticket = ntf.register_id(99);
  CO_ASSERT_TRUE(echo_ticket.has_value());
  CO_ASSERT_TRUE(tx.try_send(std::move(e)).has_value());
  {
    auto drop = std::move(tx);  // the applier ends once it has applied what is queued
  }
  taskd::applier app(ntf, *f.st, f.m, {.max_batch = max_batch, .sync = true});
  auto running = weir::spawn(app.run(std::move(rx)), "applier");
  for (std::size_t i = 0; i < writes; ++i) {
    auto r = co_await tickets[i].wait();
    CO_ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->revision, i + 1) << "revisions follow the queue order";
  }
  auto er = co_await echo_ticket->wait();
  CO_ASSERT_TRUE(er.has_value());
  EXPECT_EQ(er->text, R"(SUCCESS create "tab\t")");
  (void)co_await running;
  EXPECT_EQ(ntf.pending(), 0u);
}

TEST(Applier, GroupCommitsWhatIsQueuedIntoOneFsync) {
  fixture f;
  weir::runtime rt({.shards = 1});
  rt.block_on(group_commit(f, 1024, 200));
  EXPECT_EQ(f.m.kv_writes.value(), 200u);
  EXPECT_EQ(f.m.fsyncs.value(), 1u);
  EXPECT_EQ(f.st->revision(), 200u);
  EXPECT_EQ(f.st->get_now("k9").value()->value, "v199");
}

TEST(Applier, MaxBatchOneIsOneFsyncPerWrite) {
  fixture f;
  weir::runtime rt({.shards = 1});
  rt.block_on(group_commit(f, 1, 50));
  EXPECT_EQ(f.m.kv_writes.value(), 50u);
  EXPECT_EQ(f.m.fsyncs.value(), 50u);
  EXPECT_EQ(f.m.turns.value(), 51u);  // and the echo
}

// The stage histograms keep the HTTP server's latency buckets, cumulative in the exposition.
TEST(PipelineMetrics, StageHistogramsArePrometheusCumulative) {
  taskd::pipeline_metrics m(1);
  m.queue_wait.observe(std::chrono::microseconds(50));
  m.queue_wait.observe(std::chrono::milliseconds(3));
  m.queue_wait.observe(std::chrono::seconds(20));
  m.batch_ops.observe(3);
  weir::metrics::prometheus_writer w;
  m.write(w);
  const std::string out = w.take();
  EXPECT_NE(out.find("taskd_stage_seconds_bucket{stage=\"queue\",le=\"0.0001\"} 1\n"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("taskd_stage_seconds_bucket{stage=\"queue\",le=\"0.005\"} 2\n"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("taskd_stage_seconds_bucket{stage=\"queue\",le=\"+Inf\"} 3\n"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("taskd_stage_seconds_count{stage=\"queue\"} 3\n"), std::string::npos) << out;
  EXPECT_NE(out.find("taskd_stage_seconds_sum{stage=\"queue\"} 20.003050000\n"), std::string::npos)
      << out;
  EXPECT_NE(out.find("taskd_batch_ops_bucket{le=\"2\"} 0\ntaskd_batch_ops_bucket{le=\"4\"} 1\n"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("taskd_batch_ops_sum 3\ntaskd_batch_ops_count 1\n"), std::string::npos) << out;
  EXPECT_EQ(out.find("# TYPE taskd_stage_seconds histogram"),
            out.rfind("# TYPE taskd_stage_seconds histogram"))
      << "one TYPE line for the three stages";
}

}  // namespace
