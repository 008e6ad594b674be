#include <weir/core/metrics.hpp>

#include <weir/core/on_shard.hpp>
#include <weir/core/runtime.hpp>
#include <weir/core/time.hpp>
#include <weir/core/when_all.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;

namespace weir::metrics {
namespace {

// --- the metrics, on a thread that is not a shard (the shared block) --------------------------

TEST(Metrics, CounterSeriesAreIndependent) {
  counter c(2, 4);
  c.inc();
  c.add(5, 3);
  c.inc(3);
  EXPECT_EQ(c.value(), 1u);
  EXPECT_EQ(c.value(1), 0u);
  EXPECT_EQ(c.value(3), 6u);
  EXPECT_EQ(c.series(), 4u);
}

TEST(Metrics, GaugeGoesDownAndBelowZero) {
  gauge g(1);
  g.add(3);
  g.sub(5);
  EXPECT_EQ(g.value(), -2);
}

TEST(Metrics, MovedMetricKeepsItsCells) {
  std::vector<counter> v;
  v.emplace_back(2);
  v[0].add(7);
  v.emplace_back(2);  // reallocates: moves the first
  v[0].inc();
  EXPECT_EQ(v[0].value(), 8u);
  EXPECT_EQ(v[1].value(), 0u);
}

TEST(Metrics, BucketBoundsAreInclusiveUpperBounds) {
  static_assert(latency_seconds.size() == 16);
  EXPECT_EQ(latency_seconds.limit(0), 100'000u);  // ns
  EXPECT_EQ(latency_seconds.limit(1), 250'000u);
  EXPECT_EQ(latency_seconds.limit(15), 10'000'000'000u);
  EXPECT_EQ(latency_seconds.decimals(), 9u);
  EXPECT_EQ(latency_seconds.index(0), 0u);
  EXPECT_EQ(latency_seconds.index(100'000), 0u);  // le="0.0001" holds 100 µs
  EXPECT_EQ(latency_seconds.index(100'001), 1u);
  EXPECT_EQ(latency_seconds.index(10'000'000'000), 15u);
  EXPECT_EQ(latency_seconds.index(10'000'000'001), 16u);  // +Inf
  const bucket_bounds counts{{1, 2, 4}};
  EXPECT_EQ(counts.index(3), 2u);
  EXPECT_EQ(counts.decimals(), 0u);
}

TEST(Metrics, BucketBoundsRejectBadTables) {
  EXPECT_THROW(bucket_bounds({2, 1}), std::invalid_argument);
  EXPECT_THROW(bucket_bounds({1, 1}), std::invalid_argument);
  EXPECT_THROW(bucket_bounds({-1}), std::invalid_argument);
  EXPECT_THROW(bucket_bounds({1}, 1000 + 1), std::invalid_argument);
  EXPECT_THROW(bucket_bounds({1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17}),
               std::invalid_argument);
  EXPECT_THROW(counter(1, 0), std::invalid_argument);
}

TEST(Metrics, HistogramCountsBucketsAndSum) {
  histogram h(latency_seconds, 1);
  h.observe(50us);
  h.observe(3ms);
  h.observe(20s);
  h.observe(std::chrono::nanoseconds(-5));  // a clock that went back counts as 0
  const histogram::snapshot s = h.read();
  EXPECT_EQ(s.counts[0], 2u);
  EXPECT_EQ(s.counts[5], 1u);   // le="0.005"
  EXPECT_EQ(s.counts[16], 1u);  // +Inf
  EXPECT_EQ(s.count(), 4u);
  EXPECT_EQ(s.sum, 20'003'050'000u);
}

// --- the writer -------------------------------------------------------------------------------

TEST(PrometheusWriter, HistogramBucketsAreCumulative) {
  histogram h(latency_seconds, 1);
  h.observe(50us);
  h.observe(3ms);
  h.observe(20s);
  prometheus_writer w;
  w.write({"x_seconds", "", type::histogram}, {{"stage", "a"}}, h.read());
  const std::string out = w.take();
  EXPECT_NE(out.find("x_seconds_bucket{stage=\"a\",le=\"0.0001\"} 1\n"), std::string::npos) << out;
  EXPECT_NE(out.find("x_seconds_bucket{stage=\"a\",le=\"0.005\"} 2\n"), std::string::npos) << out;
  EXPECT_NE(out.find("x_seconds_bucket{stage=\"a\",le=\"+Inf\"} 3\n"), std::string::npos) << out;
  EXPECT_NE(out.find("x_seconds_count{stage=\"a\"} 3\n"), std::string::npos) << out;
}

TEST(PrometheusWriter, FractionalSample) {
  prometheus_writer w;
  w.write({"x_age_seconds", "Age.", type::gauge}, {}, 1.25);
  w.write({"x_age_seconds", "Age.", type::gauge}, {{"q", "b"}}, 0.0);
  EXPECT_EQ(w.take(),
            "# HELP x_age_seconds Age.\n# TYPE x_age_seconds gauge\nx_age_seconds 1.25\n"
            "x_age_seconds{q=\"b\"} 0\n");
}

// The exposition of the latency buckets, byte for byte (what /metrics has always shown).
TEST(PrometheusWriter, LatencyHistogramText) {
  histogram h(latency_seconds, 1);
  h.observe(50us);
  prometheus_writer w;
  w.write({"weir_http_request_duration_seconds", "", type::histogram}, {{"route", "GET /"}},
          h.read());
  std::string want = "# TYPE weir_http_request_duration_seconds histogram\n";
  for (const char* le : {"0.0001", "0.00025", "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025",
                         "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf"})
    want += std::string("weir_http_request_duration_seconds_bucket{route=\"GET /\",le=\"") + le +
            "\"} 1\n";
  want +=
      "weir_http_request_duration_seconds_sum{route=\"GET /\"} 0.000050000\n"
      "weir_http_request_duration_seconds_count{route=\"GET /\"} 1\n";
  EXPECT_EQ(w.take(), want);
}

TEST(PrometheusWriter, UnlabelledHistogramOfCounts) {
  histogram h(bucket_bounds{{1, 4096}}, 1);
  h.observe(3);
  h.observe(5000);
  prometheus_writer w;
  w.write({"ops", "Ops per turn.", type::histogram}, {}, h.read());
  EXPECT_EQ(w.take(),
            "# HELP ops Ops per turn.\n# TYPE ops histogram\n"
            "ops_bucket{le=\"1\"} 0\nops_bucket{le=\"4096\"} 1\nops_bucket{le=\"+Inf\"} 2\n"
            "ops_sum 5003\nops_count 2\n");
}

TEST(PrometheusWriter, HelpAndTypeOncePerFamilyAndFamiliesStayWhole) {
  prometheus_writer w;
  const family a{"a_total", "A.", type::counter};
  const family b{"b", "B.", type::gauge};
  w.write(a, {{"k", "1"}}, 1u);
  w.write(b, {}, -3);
  w.write(a, {{"k", "2"}}, 2);  // after b: still written with a
  w.declare({"c_seconds", "", type::histogram});
  w.write(b, {{"x", "y"}, {"z", "w"}}, true);
  EXPECT_EQ(w.take(),
            "# HELP a_total A.\n# TYPE a_total counter\na_total{k=\"1\"} 1\na_total{k=\"2\"} 2\n"
            "# HELP b B.\n# TYPE b gauge\nb -3\nb{x=\"y\",z=\"w\"} 1\n"
            "# TYPE c_seconds histogram\n");
  EXPECT_EQ(w.take(), "");  // take() empties the writer
}

TEST(PrometheusWriter, EscapesLabelValuesAndHelp) {
  prometheus_writer w;
  w.write({"m", "a \\ b\nc \"q\"", type::gauge}, {{"path", "C:\\x \"y\"\nz"}}, 1);
  EXPECT_EQ(w.take(),
            "# HELP m a \\\\ b\\nc \"q\"\n# TYPE m gauge\n"
            "m{path=\"C:\\\\x \\\"y\\\"\\nz\"} 1\n");
}

TEST(PrometheusWriter, ExactSumsOfSeconds) {
  histogram h(latency_seconds, 1);
  h.observe(std::chrono::nanoseconds(12'345'678'901'234));  // 3.4 hours
  prometheus_writer w;
  w.write({"s", "", type::histogram}, {}, h.read());
  EXPECT_NE(w.take().find("s_sum 12345.678901234\n"), std::string::npos);
}

// --- across threads (TSan runs these: label `threads`) ----------------------------------------

constexpr unsigned shards = 4;
constexpr std::uint64_t per_writer = 50'000;

struct test_metrics {
  counter requests{shards, 2};
  gauge inflight{shards};
  histogram latency{latency_seconds, shards};
};

task<> record_on_this_shard(test_metrics* m) {
  EXPECT_EQ(detail::tl_slot, this_shard());  // its own block
  for (std::uint64_t i = 0; i < per_writer; ++i) {
    m->inflight.add(1);
    m->requests.inc(i & 1);
    m->latency.observe(std::chrono::microseconds(i % 2000));
    m->inflight.sub(1);
    if (i % 4096 == 0) co_await yield_now();  // let the shard breathe
  }
}

task<> record_on_every_shard(test_metrics* m) {
  std::vector<task<>> all;
  for (unsigned k = 0; k < shards; ++k)
    all.push_back(on_shard(
        k, [](test_metrics* s) { return record_on_this_shard(s); }, m));
  co_await when_all(std::move(all));
}

// Every shard writes its own cells while another thread scrapes: no lost count, counters never
// go back, and the exposition is whole at every scrape.
TEST(MetricsThreads, ShardsRecordWhileAnotherThreadScrapes) {
  runtime rt({.shards = shards});
  test_metrics m;
  std::atomic<bool> done{false};
  std::atomic<std::uint64_t> scrapes{0};
  std::thread scraper([&] {
    std::uint64_t last = 0;
    while (!done.load() || scrapes.load() == 0) {
      const std::uint64_t v = m.requests.value(0) + m.requests.value(1);
      EXPECT_GE(v, last);
      last = v;
      const histogram::snapshot s = m.latency.read();
      EXPECT_LE(s.count(), shards * per_writer);
      EXPECT_LE(m.inflight.value(), static_cast<std::int64_t>(shards));
      prometheus_writer w;
      w.write({"req_total", "", type::counter}, {}, v);
      w.write({"lat_seconds", "", type::histogram}, {}, s);
      const std::string text = w.take();
      EXPECT_NE(text.find("lat_seconds_count "), std::string::npos);
      ++scrapes;
    }
  });
  // The scraper has scraped once before the shards record: on a loaded machine its thread may
  // start late, and a run with no scrape at all checks nothing of the concurrent reads.
  while (scrapes.load() == 0) std::this_thread::yield();
  rt.block_on(record_on_every_shard(&m));
  done = true;
  scraper.join();
  EXPECT_GE(scrapes.load(), 1u);
  EXPECT_EQ(m.requests.value(0), shards * per_writer / 2);
  EXPECT_EQ(m.requests.value(1), shards * per_writer / 2);
  EXPECT_EQ(m.inflight.value(), 0);
  const histogram::snapshot s = m.latency.read();
  EXPECT_EQ(s.count(), shards * per_writer);
  std::uint64_t want_sum = 0;
  for (std::uint64_t i = 0; i < per_writer; ++i) want_sum += (i % 2000) * 1000;
  EXPECT_EQ(s.sum, shards * want_sum);
}

// Threads that are not shards share one block, with atomic adds: no count is lost either.
TEST(MetricsThreads, OtherThreadsShareOneBlock) {
  test_metrics m;
  std::vector<std::thread> ts;
  for (int t = 0; t < 4; ++t)
    ts.emplace_back([&m] {
      for (std::uint64_t i = 0; i < per_writer; ++i) {
        m.requests.inc();
        m.latency.observe(std::chrono::microseconds(1));
      }
    });
  for (auto& t : ts) t.join();
  EXPECT_EQ(m.requests.value(), 4 * per_writer);
  EXPECT_EQ(m.latency.read().counts[0], 4 * per_writer);
}

}  // namespace
}  // namespace weir::metrics
