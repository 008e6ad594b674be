#include <weir/debug/history.hpp>

#include <gtest/gtest.h>

namespace weir::debug {
namespace {

TEST(MetricHistory, KeepsSeriesAlignedWithNullsWhereAScrapeLacksThem) {
  metric_history h(3, 100);
  h.add(1000,
        "# HELP weir_runs_total Task runs.\n"
        "# TYPE weir_runs_total counter\n"
        "weir_runs_total{shard=\"0\"} 5\n"
        "\n"
        "# TYPE http_request_seconds histogram\n"
        "http_request_seconds_bucket{route=\"/kv/{key} a\\\"b\",le=\"+Inf\"} 7\n");
  h.add(2000, "weir_runs_total{shard=\"0\"} 9\nweir_runs_total{shard=\"1\"} 1 1700000000000\n");
  EXPECT_EQ(h.samples(), 2u);
  EXPECT_EQ(h.series_count(), 3u);
  EXPECT_EQ(h.json(),
            "{\"t\":[1000,2000],\"types\":{\"http_request_seconds\":\"histogram\","
            "\"weir_runs_total\":\"counter\"},\"dropped_series\":0,\"series\":{"
            "\"http_request_seconds_bucket{route=\\\"/kv/{key} a\\\\\\\"b\\\",le=\\\"+Inf\\\"}\":"
            "[7,null],"
            "\"weir_runs_total{shard=\\\"0\\\"}\":[5,9],"
            "\"weir_runs_total{shard=\\\"1\\\"}\":[null,1]}}");
}

TEST(MetricHistory, IsBoundedInSamplesAndSeries) {
  metric_history h(2, 2);
  h.add(1, "a 1\nb 1\nc 1\n");
  h.add(2, "a 2\nb 2\nc 2\n");
  h.add(3, "a 3\nb 3\nnot a sample line\nd{unclosed=\"x} 4\ne{} x\n");
  EXPECT_EQ(h.samples(), 2u);
  EXPECT_EQ(h.series_count(), 2u);
  EXPECT_EQ(h.dropped_series(), 2u);  // c, twice
  EXPECT_EQ(h.json(),
            "{\"t\":[2,3],\"types\":{},\"dropped_series\":2,\"series\":{\"a\":[2,3],\"b\":[2,3]}}");
}

}  // namespace
}  // namespace weir::debug
