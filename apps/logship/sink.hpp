// logship's output side: a record (what one syslog line becomes: a topic, a key, headers, a
// payload) and the sink that delivers records, behind an interface so the pipeline and the
// rules are tested without Kafka (memory_sink) and run with it (kafka.hpp).
//
//   std::vector<logship::record> batch = ...;
//   co_await sink.deliver(batch);    // returns when every record is delivered or refused
//   for (auto& r : batch) if (r.refused) count_drop(r.refused);
//
// A sink never gives up on a record for a reason that time can mend (a broker down, a timeout,
// a leader election): it retries until the record is delivered or the sink is stopped
// (stop(): records not yet delivered come back with `undelivered` set, for the spool or the
// loss count). Only a reason that retrying cannot mend (a record larger than the broker takes)
// refuses a record, with a static reason string fit for a metric label.
//
// Thread safety: deliver() on the shard that built the sink; write_prometheus from any thread.
#pragma once

#include <weir/core/metrics.hpp>
#include <weir/core/task.hpp>
#include <weir/core/time.hpp>

#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace logship {

struct record {
  std::string topic;
  std::string key;  // empty: no key (the partitioner spreads)
  std::vector<std::pair<std::string, std::string>> headers;
  std::string payload;
  weir::clock::time_point received{};  // for the oldest undelivered message's age
  std::int64_t wall_ms = 0;            // when received, Unix ms: the Kafka timestamp (0: now)
  bool quarantined = false;            // to the quarantine topic (counted there once delivered)
  bool from_spool = false;             // replayed from the disk spool (still in its file)
  // Set by the sink: the permanent reason it refused the record, or that it was stopped first.
  const char* refused = nullptr;
  bool undelivered = false;

  // What a queued record costs besides its own bytes: the sink's message header and delivery
  // state (librdkafka's rd_kafka_msg_t, the completion and its token), measured as ~300 bytes.
  static constexpr std::size_t queue_overhead = 320;
  // The bytes the record holds (its share of the memory budget).
  std::size_t bytes() const noexcept {
    std::size_t n = sizeof(record) + queue_overhead + topic.size() + key.size() + payload.size();
    for (const auto& [k, v] : headers) n += sizeof(headers[0]) + k.size() + v.size();
    return n;
  }
};

class sink {
 public:
  virtual ~sink() = default;
  // Delivers every record of `batch` (see above); the records must stay where they are until
  // it returns.
  virtual weir::task<void> deliver(std::span<record> batch) = 0;
  // Whether the last delivery attempts succeeded (the spool replays only then).
  virtual bool healthy() const noexcept = 0;
  // Makes every deliver() in progress return soon, its undelivered records marked.
  virtual void stop() noexcept = 0;
  virtual void write_prometheus(weir::metrics::prometheus_writer&) const {}
};

// Delivers into a vector at once (tests, --test). `fail_next` makes that many attempts fail
// first (as a broker outage would), which deliver() retries after `retry_delay`.
class memory_sink final : public sink {
 public:
  weir::task<void> deliver(std::span<record> batch) override {
    for (record& r : batch) {
      while (fail_next > 0 && !stopped_) {
        --fail_next;
        ++retries;
        (void)co_await weir::sleep_for(retry_delay);
      }
      if (stopped_) {
        r.undelivered = true;
        continue;
      }
      delivered.push_back(r);
    }
  }
  bool healthy() const noexcept override { return fail_next == 0; }
  void stop() noexcept override { stopped_ = true; }

  std::vector<record> delivered;
  int fail_next = 0;
  int retries = 0;
  weir::clock::duration retry_delay = std::chrono::milliseconds(1);

 private:
  bool stopped_ = false;
};

}  // namespace logship
