// logship's Kafka sink (librdkafka) and the in-process mock cluster behind --embedded-kafka.
//
//   auto k = logship::kafka_sink::create({.brokers = "127.0.0.1:9092", .queue_bytes = budget});
//   co_await (*k)->deliver(batch);
//
// The producer is idempotent with acks=all, so librdkafka's own retries never duplicate or
// reorder within a partition. message.timeout.ms is 0 (never): a broker outage of any length
// is waited out, not turned into a loss; a delivery that fails anyway (the cluster was replaced
// and the producer fenced, a fatal idempotence error) is produced again, on a new producer when
// the old one is fatally broken: such a resend may duplicate a record the old cluster did
// store, and is counted (logship_kafka_resent_total).
// Each record's delivery report completes it through weir's C-callback bridge (D8): its token
// is the message's opaque; a report that never comes is a reported lost wake-up and the record
// is produced again. librdkafka's threads and the thread that polls its reports stay off the
// shards.
//
// Thread safety: deliver() from one shard; the rest from any thread.
#pragma once

#include "sink.hpp"

#include <weir/core/completion.hpp>
#include <weir/core/result.hpp>

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

struct rd_kafka_s;
struct rd_kafka_mock_cluster_s;

namespace logship {

struct kafka_options {
  std::string brokers;                // "host:port,host:port"
  std::string compression = "lz4";    // none, gzip, snappy, lz4, zstd
  int linger_ms = 5;                  // linger.ms
  int batch_bytes = 1000000;          // batch.size
  std::size_t queue_bytes = 1 << 30;  // librdkafka's queue (above logship's memory budget)
  // Any other librdkafka property, passed through (after the above: it may override them).
  std::vector<std::pair<std::string, std::string>> properties;
  // Tests only: raise a fatal producer error (rd_kafka_test_fatal_error) after this many
  // produce calls, as a fenced or replaced cluster would (0: never). logship reads it from
  // LOGSHIP_TEST_FATAL_AFTER.
  std::uint64_t test_fatal_after = 0;
};

class kafka_sink final : public sink {
 public:
  // Checks every property with librdkafka (errors name the key) and starts the producer.
  static weir::result<std::unique_ptr<kafka_sink>> create(kafka_options o);
  ~kafka_sink() override;

  weir::task<void> deliver(std::span<record> batch) override;
  bool healthy() const noexcept override { return healthy_.load(std::memory_order_relaxed); }
  void stop() noexcept override;
  void write_prometheus(weir::metrics::prometheus_writer& w) const override;

  struct handle;  // a producer and its poller thread (kafka.cpp)
  void on_report(int err) noexcept;
  void on_stats(std::string json);

 private:
  explicit kafka_sink(kafka_options o) : opts_(std::move(o)) {}
  weir::result<void> start_producer();
  std::shared_ptr<handle> current() const;
  weir::task<weir::completion<int>> send(record& r, std::shared_ptr<handle>& h);
  void replace_broken(const std::shared_ptr<handle>& broken);

  kafka_options opts_;
  mutable std::mutex mu_;
  std::shared_ptr<handle> h_;
  std::atomic<bool> healthy_{true};
  std::atomic<bool> stopped_{false};
  // Written on the shard and by the poller thread: plain atomics, relaxed.
  std::atomic<std::uint64_t> produced_{0}, delivered_{0}, failed_attempts_{0}, resent_{0},
      queue_full_waits_{0}, producers_started_{0}, lost_reports_{0};
  std::string stats_json_;                  // librdkafka's last statistics (under mu_)
  std::atomic<std::uint64_t> replaced_{0};  // producers started: a send sees a new one
  std::uint64_t seen_replacements_ = 0;     // the shard's last look
};

// librdkafka's mock cluster (3 brokers by default) on loopback ports, for --embedded-kafka and
// the tests. Topics are created on first use.
class mock_cluster {
 public:
  static weir::result<std::unique_ptr<mock_cluster>> start(int brokers = 3);
  ~mock_cluster();
  const std::string& bootstrap() const noexcept { return bootstrap_; }
  // Takes broker `id` (1-based) down or up: its connections are closed and new ones refused.
  void set_down(int id, bool down);
  int brokers() const noexcept { return brokers_; }

 private:
  mock_cluster() = default;
  rd_kafka_s* rk_ = nullptr;
  rd_kafka_mock_cluster_s* mc_ = nullptr;
  std::string bootstrap_;
  int brokers_ = 0;
};

}  // namespace logship
