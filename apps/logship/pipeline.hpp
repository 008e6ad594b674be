// logship's pipeline: frames in, records out to the sink, and the accounting that proves
// nothing is lost. Inputs (inputs.hpp) hand it frames; it parses each (syslog.hpp), runs the
// rules (rules.hpp), renders the record (topic, key and header templates, the payload mode),
// and ships batches under one memory budget.
//
//   logship::pipeline p(opts, std::move(rules), sink);
//   auto& in = p.add_input("tcp 127.0.0.1:5140");
//   std::vector<logship::record> batch;
//   p.take(frame, truncated, in, batch);                   // parse, rules, render (or count)
//   co_await p.ship(std::move(batch), logship::when_full::wait);  // backpressure
//   ...
//   co_await p.drain(5s);                                  // every shipment delivered, or stopped
//
// Accounting, an invariant at every instant (checked by check_invariant()):
//   received + recovered = delivered + in_flight + spooled + quarantined + dropped{reason}
// (recovered: what the disk spool held at start, received by an earlier run)
// received counts frames taken; in_flight those taken and without an outcome yet (in a batch,
// waiting for the budget, in the sink); delivered counts records the sink delivered to their topic;
// quarantined those delivered to the quarantine topic (a frame that is not syslog, a rendered
// topic Kafka would refuse); dropped counts by reason (a rule's drop, a datagram over the
// budget, a record the broker refuses for good, a record still undelivered at exit).
// Truncated frames are delivered (with a `logship-truncated` header) and counted on the side.
//
// Memory budget: every record's bytes are taken from one semaphore before it is shipped and
// given back when it is delivered. A stream input waits for room (so it stops reading and the
// kernel's window pushes back on the sender); a datagram input cannot be pushed back and drops.
//
// Thread safety: one shard uses a pipeline; write_prometheus() and the counters may be read from
// any thread (the admin endpoint's).
#pragma once

#include "rules.hpp"
#include "sink.hpp"
#include "spool.hpp"
#include "syslog.hpp"
#include "template.hpp"

#include <weir/core/result.hpp>
#include <weir/core/task.hpp>
#include <weir/sync/semaphore.hpp>
#include <weir/sync/wait_group.hpp>

#include <array>
#include <atomic>
#include <deque>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace logship {

enum class payload_mode : std::uint8_t { raw, msg, json };
enum class when_full : std::uint8_t { wait, drop };

struct pipeline_options {
  payload_mode payload = payload_mode::raw;
  std::string key;                                           // a template; "" for no key
  std::vector<std::pair<std::string, std::string>> headers;  // name, value template
  std::string quarantine_topic = "syslog-unparsed";
  std::size_t memory_budget = 32u << 20;  // bytes across every queued record
  // The disk spool (optional, owned by the caller): records go there when the budget is full,
  // and once the spool holds any, every new record queues behind them there (order kept);
  // replay() sends them on. Undelivered records at shutdown go there too.
  logship::spool* spool = nullptr;
  class tap_hub* tap = nullptr;  // /debug/tap (optional, owned by the caller)
};

// The reasons a record is dropped (the label of logship_dropped_total).
enum class drop_reason : std::uint8_t {
  rule,           // a rule's drop action
  memory_budget,  // a datagram arrived with the budget full (streams wait instead)
  refused,        // the broker refused the record for good (too large, not authorized)
  shutdown,       // still undelivered when logship exited (no spool)
  count_
};
const char* drop_reason_name(drop_reason r) noexcept;

// One input's counters.
struct input_counters {
  std::string name;  // "tcp 127.0.0.1:5140"
  std::atomic<std::uint64_t> received{0}, bytes{0}, truncated{0}, framing_errors{0}, connections{0},
      connections_open{0}, connections_refused{0}, tls_handshake_failures{0}, kernel_drops{0};
};

class pipeline {
 public:
  // Compiles the key and header templates (errors name which).
  static weir::result<std::unique_ptr<pipeline>> create(pipeline_options o, rules r, sink& s);

  ~pipeline();
  input_counters& add_input(std::string name);

  // Parses `frame` and appends what it becomes to `out`: a record for its topic, one for the
  // quarantine topic, or nothing (a rule dropped it: counted).
  void take(std::string_view frame, bool truncated, input_counters& in, std::vector<record>& out);
  // Hands `batch` to the sink under the memory budget: to the spool when there is one and the
  // budget is full (or the spool is not empty), else waits for room or drops the batch
  // (counted), as `full` says. Returns once the batch is on its way (its delivery is a task;
  // `delivered`, when given, is done() once the sink is through with it).
  weir::task<void> ship(std::vector<record> batch, when_full full,
                        weir::wait_group* delivered = nullptr);
  // Sends what the spool holds, oldest first, as the budget lets it; returns once
  // stop_replay() was called and the batch in progress is through.
  weir::task<void> replay();
  void stop_replay() noexcept { replay_stopping_ = true; }
  // Waits until every shipment is delivered; at `deadline` stops the sink (what it holds is
  // then counted dropped{shutdown}). Returns whether everything was delivered.
  weir::task<bool> drain(weir::clock::duration deadline);

  // The invariant's terms (recovered: records found in the spool at start, received by an
  // earlier run).
  struct totals {
    std::uint64_t received, recovered, delivered, in_flight, spooled, quarantined, dropped;
  };
  totals counts() const noexcept;
  std::uint64_t dropped(drop_reason r) const noexcept {
    return dropped_[static_cast<std::size_t>(r)].load(std::memory_order_relaxed);
  }
  // "" when the invariant holds, else the terms.
  std::string check_invariant() const;
  void write_prometheus(weir::metrics::prometheus_writer& w) const;
  const rules& rule_set() const noexcept { return rules_; }
  std::size_t budget_available() const noexcept { return budget_.available(); }

  // What take() made of a frame, for --test: the parse, the rules that matched, the record.
  struct trace {
    const char* refused = nullptr;  // not syslog: why
    syslog_message message;
    std::vector<unsigned> matched;
    bool dropped = false;
    record rec;
  };
  void explain(std::string_view frame, bool truncated, trace& t) const;

 private:
  pipeline(pipeline_options o, rules r, sink& s);
  struct shipment;
  weir::task<void> deliver(std::list<shipment>::iterator it);
  weir::task<bool> to_spool(const std::vector<record>& batch);
  weir::task<void> sync_spool();
  void render(const syslog_message& m, std::string_view frame, const rules::outcome& o,
              bool truncated, record& r) const;
  void quarantine(std::string_view frame, const char* why, bool truncated, std::string_view input,
                  record& r) const;
  void count_delivered(std::span<const std::pair<std::string_view, std::uint64_t>> n);
  void offer_to_tap(std::string_view topic, std::string_view payload) const;

  pipeline_options opts_;
  rules rules_;
  sink& sink_;
  std::optional<template_text> key_;
  std::vector<std::pair<std::string, template_text>> headers_;
  weir::semaphore budget_;
  weir::wait_group shipping_;
  std::list<shipment> in_flight_list_;  // oldest first
  std::deque<input_counters> inputs_;
  syslog_message scratch_;
  rules::outcome outcome_;
  std::chrono::system_clock::time_point wall_now_{};  // the batch's time, for {{iso8601}}

  std::atomic<std::uint64_t> received_{0}, recovered_{0}, delivered_{0}, in_flight_{0}, spooled_{0},
      quarantined_{0}, truncated_{0}, spool_errors_{0};
  bool replay_stopping_ = false;
  std::array<std::atomic<std::uint64_t>, static_cast<std::size_t>(drop_reason::count_)> dropped_{};
  std::atomic<std::int64_t> oldest_ns_{0};  // receive time of the oldest record in flight
  std::vector<std::atomic<std::uint64_t>> rule_matches_;
  // Per topic (bounded: past 1,000 topics the rest count as "other").
  mutable std::mutex topics_mu_;
  std::map<std::string, std::uint64_t, std::less<>> delivered_by_topic_;
  std::map<std::string, std::uint64_t, std::less<>> quarantined_by_reason_;
};

}  // namespace logship
