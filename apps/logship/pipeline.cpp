#include "pipeline.hpp"

#include "tap.hpp"

#include <weir/core/blocking.hpp>
#include <weir/core/log.hpp>
#include <weir/core/registry.hpp>
#include <weir/core/spawn.hpp>
#include <weir/core/time.hpp>
#include <weir/http/json.hpp>

#include <fmt/format.h>

#include <unistd.h>

#include <algorithm>
#include <chrono>

namespace logship {

namespace {

constexpr std::size_t kMaxTopicSeries = 1000;
constexpr std::size_t kAnnounceRulesFrom = 4096;  // bytes: see take()

std::int64_t ns_since_epoch(weir::clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

// The parsed fields as one JSON object (--payload json).
void to_json(const syslog_message& m, std::string& out) {
  out += "{\"facility\":\"";
  out += facility_name(m.facility);
  out += "\",\"severity\":\"";
  out += severity_name(m.severity);
  out += '"';
  auto field = [&](const char* name, std::string_view v) {
    if (v.empty()) return;
    out += ",\"";
    out += name;
    out += "\":";
    weir::http::json_escape(out, v);
  };
  if (m.timestamp.present) field("timestamp", m.timestamp.iso8601());
  field("hostname", m.hostname);
  field("appname", m.appname);
  field("procid", m.procid);
  field("msgid", m.msgid);
  if (!m.sd.empty()) {
    out += ",\"sd\":{";
    for (std::size_t i = 0; i < m.sd.size(); ++i) {
      if (i) out += ',';
      weir::http::json_escape(out, m.sd[i].id);
      out += ":{";
      for (std::size_t j = 0; j < m.sd[i].params.size(); ++j) {
        if (j) out += ',';
        weir::http::json_escape(out, m.sd[i].params[j].name);
        out += ':';
        weir::http::json_escape(out, m.sd[i].params[j].value());
      }
      out += '}';
    }
    out += '}';
  }
  out += ",\"msg\":";
  weir::http::json_escape(out, m.msg);
  out += '}';
}

// The pipeline's counters have one writer, its shard (readers are the admin thread): a relaxed
// load and store, no locked read-modify-write per record.
void bump(std::atomic<std::uint64_t>& c, std::uint64_t n = 1) noexcept {
  c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}
void unbump(std::atomic<std::uint64_t>& c, std::uint64_t n = 1) noexcept {
  c.store(c.load(std::memory_order_relaxed) - n, std::memory_order_relaxed);
}

// A trailing LF (CR LF) inside a frame is dropped, as rsyslog does on reception
// (parser.dropTrailingLFOnReception): its omfwd puts one inside octet-counted frames.
std::string_view without_trailing_lf(std::string_view frame) {
  while (!frame.empty() && (frame.back() == '\n' || frame.back() == '\r')) frame.remove_suffix(1);
  return frame;
}

}  // namespace

const char* drop_reason_name(drop_reason r) noexcept {
  switch (r) {
    case drop_reason::rule: return "rule";
    case drop_reason::memory_budget: return "memory_budget";
    case drop_reason::refused: return "refused";
    case drop_reason::shutdown: return "shutdown";
    case drop_reason::count_: break;
  }
  return "?";
}

// The records of one batch on their way, and their share of the budget.
struct pipeline::shipment {
  std::vector<record> records;
  weir::semaphore_permit permit;
  weir::clock::time_point oldest;
  weir::wait_group* delivered = nullptr;
};

pipeline::pipeline(pipeline_options o, rules r, sink& s)
    : opts_(std::move(o)),
      rules_(std::move(r)),
      sink_(s),
      budget_(opts_.memory_budget),
      rule_matches_(rules_.size()) {}

pipeline::~pipeline() = default;

weir::result<std::unique_ptr<pipeline>> pipeline::create(pipeline_options o, rules r, sink& s) {
  if (!valid_topic(o.quarantine_topic))
    return weir::unexpected(weir::errc::invalid_input,
                            "quarantine topic \"" + o.quarantine_topic +
                                "\": expected 1-249 characters of [A-Za-z0-9._-]");
  if (o.memory_budget < 64 * 1024)
    return weir::unexpected(weir::errc::invalid_input, "memory budget: expected at least 65536");
  std::unique_ptr<pipeline> p(new pipeline(std::move(o), std::move(r), s));
  if (p->opts_.spool) {  // what an earlier run left: received then, to be delivered now
    p->recovered_ = p->opts_.spool->records();
    p->spooled_ = p->opts_.spool->records();
  }
  if (!p->opts_.key.empty()) {
    auto k = template_text::compile(p->opts_.key, is_syslog_variable);
    if (!k)
      return weir::unexpected(weir::errc::invalid_input,
                              "key template: " + std::string(k.error().context()));
    p->key_ = std::move(*k);
  }
  for (const auto& [name, text] : p->opts_.headers) {
    auto t = template_text::compile(text, is_syslog_variable);
    if (!t)
      return weir::unexpected(weir::errc::invalid_input, "header \"" + name + "\" template: " +
                                                             std::string(t.error().context()));
    p->headers_.emplace_back(name, std::move(*t));
  }
  return p;
}

input_counters& pipeline::add_input(std::string name) {
  input_counters& c = inputs_.emplace_back();
  c.name = std::move(name);
  return c;
}

void pipeline::render(const syslog_message& m, std::string_view frame, const rules::outcome& o,
                      bool truncated, record& r) const {
  r.topic = o.topic;
  if (o.rewritten) {
    r.payload = o.payload;
  } else {
    switch (opts_.payload) {
      case payload_mode::raw: r.payload.assign(frame); break;
      case payload_mode::msg: r.payload.assign(m.msg); break;
      case payload_mode::json: to_json(m, r.payload); break;
    }
  }
  auto lookup = [&m](std::string_view n, std::string& out) { return syslog_variable(m, n, out); };
  if (key_) key_->render(r.key, lookup);
  for (const auto& [name, t] : headers_) {
    std::string v;
    t.render(v, lookup);
    r.headers.emplace_back(name, std::move(v));
  }
  if (truncated) r.headers.emplace_back("logship-truncated", "true");
}

void pipeline::quarantine(std::string_view frame, const char* why, bool truncated,
                          std::string_view input, record& r) const {
  r.topic = opts_.quarantine_topic;
  r.payload.assign(frame);
  r.quarantined = true;
  r.headers.emplace_back("logship-reason", why);
  r.headers.emplace_back("logship-input", input);
  if (truncated) r.headers.emplace_back("logship-truncated", "true");
}

void pipeline::take(std::string_view frame, bool truncated, input_counters& in,
                    std::vector<record>& out) {
  frame = without_trailing_lf(frame);
  bump(received_);
  bump(in.received);
  bump(in.bytes, frame.size());
  if (truncated) {
    bump(truncated_);
    bump(in.truncated);
  }
  record& r = out.emplace_back();
  // One clock reading per batch (a batch is one read of a stream: the same instant); only the
  // first record's receive time is used (the shipment's age).
  if (out.size() == 1) {
    r.received = weir::now();
    wall_now_ = weir::wall_now();
  }
  r.wall_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(wall_now_.time_since_epoch()).count();
  bump(in_flight_);  // from here on, until an outcome
  if (const char* why = parse_syslog(frame, scratch_)) {
    quarantine(frame, why, truncated, in.name, r);
    if (opts_.tap && opts_.tap->active()) offer_to_tap(r.topic, frame);
    return;
  }
  // A rule's time is linear in the line (RE2, JMESPath), so only a long line can make one stall
  // the shard: for those, the task's context names the rule running ("rule slow"), and a stall
  // report says which. Short lines skip it (it takes the registry's lock).
  struct announce final : rules::observer {
    const rules* set;
    explicit announce(const rules* s) : set(s) {}
    void entering(unsigned rule) noexcept override {
      weir::set_task_context_detail("rule", set->name(rule));
    }
  } named(&rules_);
  const bool long_line = frame.size() >= kAnnounceRulesFrom && rules_.size() > 0;
  rules_.apply(scratch_, wall_now_, outcome_, long_line ? &named : nullptr);
  if (long_line) weir::set_task_context_detail("", "");
  for (unsigned i : outcome_.matched) bump(rule_matches_[i]);
  if (opts_.tap && opts_.tap->active())
    offer_to_tap(outcome_.dropped ? "(dropped)" : outcome_.topic,
                 outcome_.rewritten ? std::string_view(outcome_.payload) : frame);
  if (outcome_.dropped) {
    out.pop_back();
    bump(dropped_[static_cast<std::size_t>(drop_reason::rule)]);
    unbump(in_flight_);
    return;
  }
  if (!valid_topic(outcome_.topic)) {
    quarantine(frame, "invalid topic", truncated, in.name, r);
    r.headers.emplace_back("logship-topic", outcome_.topic);
    return;
  }
  render(scratch_, frame, outcome_, truncated, r);
}

void pipeline::offer_to_tap(std::string_view topic, std::string_view payload) const {
  std::vector<std::string_view> names;
  for (unsigned i : outcome_.matched) names.push_back(rules_.name(i));
  opts_.tap->offer(topic, payload, names);
}

void pipeline::explain(std::string_view frame, bool truncated, trace& t) const {
  frame = without_trailing_lf(frame);
  constexpr std::string_view test_input = "test";
  t = trace();
  if ((t.refused = parse_syslog(frame, t.message))) {
    quarantine(frame, t.refused, truncated, test_input, t.rec);
    return;
  }
  rules::outcome o;
  rules_.apply(t.message, weir::wall_now(), o);
  t.matched = o.matched;
  t.dropped = o.dropped;
  if (o.dropped) return;
  if (!valid_topic(o.topic)) {
    quarantine(frame, "invalid topic", truncated, test_input, t.rec);
    t.rec.headers.emplace_back("logship-topic", o.topic);
    return;
  }
  render(t.message, frame, o, truncated, t.rec);
}

weir::task<bool> pipeline::to_spool(const std::vector<record>& batch) {
  auto appended = opts_.spool->append(batch);
  if (!appended) {
    if (spool_errors_.fetch_add(1, std::memory_order_relaxed) == 0)  // first: log
      weir::log::error("spool: cannot write; records wait in memory instead",
                       {{"error", appended.error().message()}});
    co_return false;
  }
  if (!*appended) co_return false;  // full
  bump(spooled_, batch.size());
  unbump(in_flight_, batch.size());
  if (opts_.spool->sync_due()) co_await sync_spool();
  co_return true;
}

weir::task<void> pipeline::sync_spool() {
  const int fd = opts_.spool->sync_begin();
  if (fd < 0) co_return;
  auto job = weir::blocking([fd] {  // fdatasync takes milliseconds: off the shard
    const int rc = ::fdatasync(fd);
    ::close(fd);
    return rc;
  });
  auto rc = co_await std::move(job);
  if (!rc || *rc != 0) bump(spool_errors_);
}

weir::task<void> pipeline::ship(std::vector<record> batch, when_full full,
                                weir::wait_group* delivered) {
  if (batch.empty()) {
    if (delivered) delivered->done();
    co_return;
  }
  std::size_t bytes = 0;
  for (const record& r : batch) bytes += r.bytes();
  bytes = std::min(bytes, opts_.memory_budget);  // one batch larger than the budget still goes
  const bool replayed = batch.front().from_spool;
  // Behind records already spooled, new ones queue on disk too: order is kept.
  const bool behind = opts_.spool && !replayed && opts_.spool->records() > 0;
  std::optional<weir::semaphore_permit> permit;
  if (!behind) permit = budget_.try_acquire(bytes);
  if (!permit && opts_.spool && !replayed && co_await to_spool(batch)) co_return;
  if (!permit) {
    if (full == when_full::drop) {
      bump(dropped_[static_cast<std::size_t>(drop_reason::memory_budget)], batch.size());
      unbump(in_flight_, batch.size());
      if (delivered) delivered->done();
      co_return;
    }
    auto got = co_await budget_.acquire(bytes);
    if (!got) {  // cancelled while waiting: nothing was shipped
      bump(dropped_[static_cast<std::size_t>(drop_reason::shutdown)], batch.size());
      unbump(in_flight_, batch.size());
      if (delivered) delivered->done();
      co_return;
    }
    permit = std::move(*got);
  }
  const weir::clock::time_point oldest = batch.front().received;
  auto it = in_flight_list_.insert(
      in_flight_list_.end(), shipment{std::move(batch), std::move(*permit), oldest, delivered});
  if (it == in_flight_list_.begin()) oldest_ns_.store(ns_since_epoch(oldest));
  shipping_.add();
  weir::spawn_detached(deliver(it), "logship delivery");
}

weir::task<void> pipeline::replay() {
  spool* sp = opts_.spool;
  if (!sp) co_return;
  while (!replay_stopping_) {
    if (sp->records() == 0 || !sink_.healthy()) {
      (void)co_await weir::sleep_for(std::chrono::milliseconds(100));
      continue;
    }
    std::vector<record> batch;
    auto n = sp->read(batch, 512);
    if (!n) {
      weir::log::error("spool: cannot read; replay paused", {{"error", n.error().message()}});
      bump(spool_errors_);
      (void)co_await weir::sleep_for(std::chrono::seconds(1));
      continue;
    }
    const weir::clock::time_point now = weir::now();
    for (record& r : batch) {
      r.from_spool = true;
      r.received = now;
    }
    bump(in_flight_, *n);
    unbump(spooled_, *n);
    weir::wait_group done;
    done.add();
    co_await ship(std::move(batch), when_full::wait, &done);
    (void)co_await done.wait();
    if (replay_stopping_) break;  // what was not delivered stays in its segment
    if (auto c = sp->consumed(); !c)
      weir::log::error("spool: cannot delete a replayed segment", {{"error", c.error().message()}});
  }
}

void pipeline::count_delivered(std::span<const std::pair<std::string_view, std::uint64_t>> n) {
  std::lock_guard lk(topics_mu_);
  for (const auto& [topic, count] : n) {
    auto it = delivered_by_topic_.find(topic);
    if (it == delivered_by_topic_.end()) {
      if (delivered_by_topic_.size() >= kMaxTopicSeries)
        it = delivered_by_topic_.try_emplace("other", 0).first;
      else
        it = delivered_by_topic_.emplace(std::string(topic), 0).first;
    }
    it->second += count;
  }
}

weir::task<void> pipeline::deliver(std::list<shipment>::iterator it) {
  co_await sink_.deliver(it->records);
  std::vector<record> undelivered;  // stopped first: to the spool if there is one
  std::vector<std::pair<std::string_view, std::uint64_t>> by_topic;  // a batch has few topics
  for (record& r : it->records) {
    if (r.refused) {
      bump(dropped_[static_cast<std::size_t>(drop_reason::refused)]);
    } else if (r.undelivered && r.from_spool) {
      bump(spooled_);  // still in its segment
    } else if (r.undelivered && opts_.spool) {
      r.undelivered = false;
      undelivered.push_back(std::move(r));
      continue;  // counted below
    } else if (r.undelivered) {
      bump(dropped_[static_cast<std::size_t>(drop_reason::shutdown)]);
    } else if (r.quarantined) {
      bump(quarantined_);
      std::lock_guard lk(topics_mu_);
      ++quarantined_by_reason_[r.headers.front().second];
    } else {
      bump(delivered_);
      auto t = std::find_if(by_topic.begin(), by_topic.end(),
                            [&](const auto& e) { return e.first == r.topic; });
      if (t == by_topic.end())
        by_topic.emplace_back(r.topic, 1);
      else
        ++t->second;
    }
    unbump(in_flight_);
  }
  count_delivered(by_topic);
  if (!undelivered.empty() && !co_await to_spool(undelivered)) {
    bump(dropped_[static_cast<std::size_t>(drop_reason::shutdown)], undelivered.size());
    unbump(in_flight_, undelivered.size());
  }
  weir::wait_group* delivered = it->delivered;
  const bool was_oldest = it == in_flight_list_.begin();
  in_flight_list_.erase(it);  // gives the budget back
  if (was_oldest)
    oldest_ns_.store(in_flight_list_.empty() ? 0 : ns_since_epoch(in_flight_list_.front().oldest));
  if (delivered) delivered->done();
  shipping_.done();
}

weir::task<bool> pipeline::drain(weir::clock::duration deadline) {
  auto done = co_await weir::with_timeout(deadline, shipping_.wait());
  if (done) co_return true;
  sink_.stop();
  (void)co_await shipping_.wait();  // the sink returns what it holds, marked undelivered
  co_return false;
}

pipeline::totals pipeline::counts() const noexcept {
  totals t{};
  // Read the outcomes before received: a frame taken in between makes received larger, never
  // smaller, than the sum, so a torn read is recognisable as such (see check_invariant()).
  t.recovered = recovered_.load();
  t.delivered = delivered_.load();
  t.quarantined = quarantined_.load();
  t.spooled = spooled_.load();
  t.dropped = 0;
  for (const auto& d : dropped_) t.dropped += d.load();
  t.in_flight = in_flight_.load();
  t.received = received_.load();
  return t;
}

std::string pipeline::check_invariant() const {
  const totals t = counts();
  const std::uint64_t sum = t.delivered + t.in_flight + t.spooled + t.quarantined + t.dropped;
  if (t.received + t.recovered == sum) return "";
  return fmt::format(
      "received {} + recovered {} != delivered {} + in_flight {} + spooled {} + quarantined {} + "
      "dropped {}",
      t.received, t.recovered, t.delivered, t.in_flight, t.spooled, t.quarantined, t.dropped);
}

void pipeline::write_prometheus(weir::metrics::prometheus_writer& w) const {
  using weir::metrics::type;
  const totals t = counts();
  w.write({"logship_received_total", "Frames received from every input.", type::counter}, {},
          t.received);
  w.write({"logship_delivered_total", "Records delivered to their topic.", type::counter}, {},
          t.delivered);
  w.write({"logship_in_flight", "Records accepted and not yet delivered.", type::gauge}, {},
          t.in_flight);
  w.write({"logship_spooled", "Records in the disk spool.", type::gauge}, {}, t.spooled);
  w.write({"logship_quarantined_total",
           "Records delivered to the quarantine topic (not syslog, or an invalid topic).",
           type::counter},
          {}, t.quarantined);
  for (std::size_t i = 0; i < dropped_.size(); ++i)
    w.write({"logship_dropped_total", "Records dropped, by reason.", type::counter},
            {{"reason", drop_reason_name(static_cast<drop_reason>(i))}}, dropped_[i].load());
  w.write({"logship_recovered_total",
           "Records found in the disk spool at start (received by an earlier run).", type::counter},
          {}, t.recovered);
  w.write({"logship_accounting_difference",
           "received + recovered - (delivered + in_flight + spooled + quarantined + dropped): 0 "
           "always.",
           type::gauge},
          {},
          static_cast<std::int64_t>(t.received + t.recovered) -
              static_cast<std::int64_t>(t.delivered + t.in_flight + t.spooled + t.quarantined +
                                        t.dropped));
  if (const spool* sp = opts_.spool) {
    w.write({"logship_spool_bytes", "Bytes in the disk spool's segments.", type::gauge}, {},
            sp->bytes());
    w.write({"logship_spool_corrupt_bytes_total",
             "Bytes cut off spool segments at start (a write cut by a crash).", type::counter},
            {}, sp->corrupt_bytes());
    w.write(
        {"logship_spool_errors_total", "Spool writes, reads or syncs that failed.", type::counter},
        {}, spool_errors_.load());
  }
  w.write({"logship_truncated_total", "Frames cut at the maximum message size (delivered).",
           type::counter},
          {}, truncated_.load());
  const std::int64_t oldest = oldest_ns_.load();
  w.write({"logship_oldest_undelivered_seconds",
           "Age of the oldest record not yet delivered (0 when none).", type::gauge},
          {}, oldest ? static_cast<double>(ns_since_epoch(weir::now()) - oldest) / 1e9 : 0.0);
  w.write({"logship_memory_budget_bytes", "The memory budget.", type::gauge}, {},
          opts_.memory_budget);
  w.write(
      {"logship_memory_used_bytes", "Bytes of records queued (against the budget).", type::gauge},
      {}, opts_.memory_budget - budget_.available());
  for (std::size_t i = 0; i < rule_matches_.size(); ++i)
    w.write({"logship_rule_matches_total", "Lines each rule matched.", type::counter},
            {{"rule", rules_.name(static_cast<unsigned>(i))}}, rule_matches_[i].load());
  {
    std::lock_guard lk(topics_mu_);
    for (const auto& [topic, n] : delivered_by_topic_)
      w.write({"logship_topic_delivered_total", "Records delivered, by topic.", type::counter},
              {{"topic", topic}}, n);
    for (const auto& [reason, n] : quarantined_by_reason_)
      w.write(
          {"logship_quarantined_by_reason_total", "Quarantined records, by reason.", type::counter},
          {{"reason", reason}}, n);
  }
  for (const input_counters& in : inputs_) {
    const weir::metrics::label l{"input", in.name};
    auto c = [&](const char* name, const char* help, const std::atomic<std::uint64_t>& v) {
      w.write({name, help, type::counter}, {l}, v.load());
    };
    c("logship_input_received_total", "Frames received.", in.received);
    c("logship_input_bytes_total", "Frame bytes received.", in.bytes);
    c("logship_input_truncated_total", "Frames cut at the maximum message size.", in.truncated);
    c("logship_input_framing_errors_total",
      "Streams closed on a framing error (strict octet counting).", in.framing_errors);
    c("logship_input_connections_total", "Connections accepted.", in.connections);
    c("logship_input_connections_refused_total", "Connections refused (max_connections).",
      in.connections_refused);
    c("logship_input_tls_handshake_failures_total", "TLS handshakes that failed.",
      in.tls_handshake_failures);
    c("logship_input_kernel_drops_total",
      "Datagrams the kernel dropped before logship read them (SO_RXQ_OVFL).", in.kernel_drops);
    w.write({"logship_input_connections_open", "Connections open.", type::gauge}, {l},
            in.connections_open.load());
  }
  sink_.write_prometheus(w);
}

}  // namespace logship
