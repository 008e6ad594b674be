#include "kafka.hpp"

#include <weir/core/c_callback.hpp>
#include <weir/core/log.hpp>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <simdjson.h>

#include <algorithm>
#include <chrono>

namespace logship {

using namespace std::chrono_literals;

// A producer and the thread that polls its delivery reports. Destroying it (off the shards:
// rd_kafka_destroy blocks) purges what it still holds, so every report comes, then ends.
struct kafka_sink::handle {
  kafka_sink* owner = nullptr;
  rd_kafka_t* rk = nullptr;
  std::thread poller;
  std::atomic<bool> quit{false};

  ~handle() {
    quit.store(true, std::memory_order_relaxed);
    if (poller.joinable()) poller.join();
    if (!rk) return;
    // Whatever is left gets its report (ERR__PURGE_*): its task produces it again elsewhere or
    // marks it undelivered; no token is left armed.
    rd_kafka_purge(rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    for (int i = 0; i < 100 && rd_kafka_outq_len(rk) > 0; ++i) rd_kafka_poll(rk, 50);
    rd_kafka_destroy(rk);
  }
};

namespace {

void on_delivery(rd_kafka_t* rk, const rd_kafka_message_t* m, void* opaque) {
  (void)rk;
  auto* h = static_cast<kafka_sink::handle*>(opaque);
  h->owner->on_report(static_cast<int>(m->err));
  weir::c_callback_fire<int>(m->_private, static_cast<int>(m->err));
  weir::c_callback_release(m->_private);
}

void on_error(rd_kafka_t* rk, int err, const char* reason, void* opaque) {
  (void)opaque;
  const auto e = static_cast<rd_kafka_resp_err_t>(err);
  // Brokers going away is the outage logship waits out: worth a line, not an error.
  const bool fatal = e == RD_KAFKA_RESP_ERR__FATAL;
  auto lvl = fatal ? weir::log::level::error : weir::log::level::warn;
  std::string why = reason;
  if (fatal) {
    char buf[512];
    rd_kafka_fatal_error(rk, buf, sizeof buf);
    why = buf;
  }
  weir::log::write(lvl, "kafka", {{"error", rd_kafka_err2name(e)}, {"reason", why}});
}

int on_statistics(rd_kafka_t* rk, char* json, size_t len, void* opaque) {
  (void)rk;
  static_cast<kafka_sink::handle*>(opaque)->owner->on_stats(std::string(json, len));
  return 0;  // librdkafka frees json
}

// Reasons retrying cannot mend: the record is refused, with this label.
const char* permanent(int err) {
  switch (static_cast<rd_kafka_resp_err_t>(err)) {
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE: return "kafka_message_too_large";
    case RD_KAFKA_RESP_ERR_INVALID_MSG_SIZE: return "kafka_message_too_large";
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED: return "kafka_topic_not_authorized";
    case RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION: return "kafka_invalid_topic";
    case RD_KAFKA_RESP_ERR__INVALID_ARG: return "kafka_invalid_record";
    default: return nullptr;
  }
}

weir::clock::duration backoff(int attempt) {
  return std::min<weir::clock::duration>(100ms * (1 << std::min(attempt, 6)), 5s);
}

}  // namespace

weir::result<std::unique_ptr<kafka_sink>> kafka_sink::create(kafka_options o) {
  std::unique_ptr<kafka_sink> k(new kafka_sink(std::move(o)));
  WEIR_TRY(k->start_producer());
  return k;
}

weir::result<void> kafka_sink::start_producer() {
  auto h = std::make_shared<handle>();
  h->owner = this;
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char err[512];
  std::vector<std::pair<std::string, std::string>> props = {
      {"bootstrap.servers", opts_.brokers},
      {"enable.idempotence", "true"},
      {"acks", "all"},
      {"message.timeout.ms", "0"},  // never expire: an outage is waited out
      {"compression.type", opts_.compression},
      {"linger.ms", std::to_string(opts_.linger_ms)},
      {"batch.size", std::to_string(opts_.batch_bytes)},
      {"queue.buffering.max.messages", "10000000"},
      {"queue.buffering.max.kbytes",
       std::to_string(std::clamp<std::size_t>(opts_.queue_bytes / 1024 + 1, 1024, 2097151))},
      {"statistics.interval.ms", "5000"},
      {"log.connection.close", "false"},
  };
  props.insert(props.end(), opts_.properties.begin(), opts_.properties.end());
  for (const auto& [key, value] : props)
    if (rd_kafka_conf_set(conf, key.c_str(), value.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      return weir::unexpected(weir::errc::invalid_input,
                              "kafka property " + key + "=\"" + value + "\": " + err);
    }
  rd_kafka_conf_set_dr_msg_cb(conf, &on_delivery);
  rd_kafka_conf_set_error_cb(conf, &on_error);
  rd_kafka_conf_set_stats_cb(conf, &on_statistics);
  rd_kafka_conf_set_opaque(conf, h.get());
  h->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  if (!h->rk) {
    rd_kafka_conf_destroy(conf);
    return weir::unexpected(weir::errc::invalid_input, std::string("kafka producer: ") + err);
  }
  handle* raw = h.get();
  h->poller = std::thread([raw] {
    while (!raw->quit.load(std::memory_order_relaxed)) rd_kafka_poll(raw->rk, 100);
  });
  ++producers_started_;
  std::lock_guard lk(mu_);
  h_ = std::move(h);
  replaced_.fetch_add(1, std::memory_order_release);
  return {};
}

kafka_sink::~kafka_sink() {
  stopped_.store(true);
  std::shared_ptr<handle> h;
  {
    std::lock_guard lk(mu_);
    h = std::move(h_);
  }
  h.reset();  // joins the poller, purges, destroys
}

std::shared_ptr<kafka_sink::handle> kafka_sink::current() const {
  std::lock_guard lk(mu_);
  return h_;
}

void kafka_sink::on_report(int err) noexcept {
  if (err == 0) {
    ++delivered_;
    healthy_.store(true, std::memory_order_relaxed);
  } else {
    ++failed_attempts_;
    if (err != RD_KAFKA_RESP_ERR__PURGE_QUEUE && err != RD_KAFKA_RESP_ERR__PURGE_INFLIGHT)
      healthy_.store(false, std::memory_order_relaxed);
  }
}

void kafka_sink::on_stats(std::string json) {
  std::lock_guard lk(mu_);
  stats_json_ = std::move(json);
}

// Every record librdkafka holds comes back at once (ERR__PURGE_*), and deliver() marks what is
// not delivered instead of producing it again.
void kafka_sink::stop() noexcept {
  stopped_.store(true);
  if (std::shared_ptr<handle> h = current())
    rd_kafka_purge(
        h->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT | RD_KAFKA_PURGE_F_NON_BLOCKING);
}

// A producer with a fatal error (the idempotence state broken: the cluster was replaced, the
// producer fenced) delivers nothing more: start a new one, and let the old one go on a thread
// of its own (its destruction blocks), purging what it held back to their tasks.
void kafka_sink::replace_broken(const std::shared_ptr<handle>& broken) {
  {
    std::lock_guard lk(mu_);
    if (h_ != broken) return;  // another task replaced it already
  }
  weir::log::warn("kafka producer failed for good; starting a new one", {});
  std::shared_ptr<handle> old;
  {
    std::lock_guard lk(mu_);
    old = h_;
  }
  if (auto r = start_producer(); !r) {
    weir::log::error("cannot start a new kafka producer", {{"error", r.error().message()}});
    return;
  }
  std::thread([o = std::move(old)]() mutable { o.reset(); }).detach();
}

// `h`: the producer the caller saw last (one look per batch, not per record); a newer one is
// taken when it was replaced.
weir::task<weir::completion<int>> kafka_sink::send(record& r, std::shared_ptr<handle>& h) {
  for (;;) {
    auto [token, done] = weir::make_c_callback<int>("kafka delivery report");
    if (stopped_.load()) {  // stopped: nothing new goes to librdkafka (it would wait there)
      weir::c_callback_fire<int>(token, static_cast<int>(RD_KAFKA_RESP_ERR__PURGE_QUEUE));
      weir::c_callback_release(token);
      co_return std::move(done);
    }
    if (replaced_.load(std::memory_order_acquire) != seen_replacements_) {
      h = current();
      seen_replacements_ = replaced_.load(std::memory_order_acquire);
    }
    rd_kafka_headers_t* hdrs = nullptr;
    if (!r.headers.empty()) {
      hdrs = rd_kafka_headers_new(r.headers.size());
      for (const auto& [k, v] : r.headers)
        rd_kafka_header_add(hdrs, k.data(), static_cast<ssize_t>(k.size()), v.data(),
                            static_cast<ssize_t>(v.size()));
    }
    // The receive time is the Kafka timestamp (else librdkafka reads the clock per message).
    rd_kafka_resp_err_t err;
    if (r.key.empty())
      err = rd_kafka_producev(h->rk, RD_KAFKA_V_TOPIC(r.topic.c_str()),
                              RD_KAFKA_V_VALUE(r.payload.data(), r.payload.size()),
                              RD_KAFKA_V_TIMESTAMP(r.wall_ms), RD_KAFKA_V_HEADERS(hdrs),
                              RD_KAFKA_V_OPAQUE(token), RD_KAFKA_V_END);
    else
      err = rd_kafka_producev(h->rk, RD_KAFKA_V_TOPIC(r.topic.c_str()),
                              RD_KAFKA_V_VALUE(r.payload.data(), r.payload.size()),
                              RD_KAFKA_V_KEY(r.key.data(), r.key.size()),
                              RD_KAFKA_V_TIMESTAMP(r.wall_ms), RD_KAFKA_V_HEADERS(hdrs),
                              RD_KAFKA_V_OPAQUE(token), RD_KAFKA_V_END);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      if (++produced_ == opts_.test_fatal_after)
        rd_kafka_test_fatal_error(h->rk, RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER,
                                  "LOGSHIP_TEST_FATAL_AFTER");
      co_return std::move(done);
    }
    if (hdrs) rd_kafka_headers_destroy(hdrs);  // not taken on failure
    // Not queued: complete the token ourselves, so the table holds no armed token.
    weir::c_callback_fire<int>(token, static_cast<int>(err));
    weir::c_callback_release(token);
    if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL && !stopped_.load()) {
      ++queue_full_waits_;
      (void)co_await weir::sleep_for(5ms);
      continue;
    }
    if (err == RD_KAFKA_RESP_ERR__FATAL) replace_broken(h);
    co_return std::move(done);
  }
}

weir::task<void> kafka_sink::deliver(std::span<record> batch) {
  std::vector<std::optional<weir::completion<int>>> waits(batch.size());
  std::shared_ptr<handle> h = current();
  for (std::size_t i = 0; i < batch.size(); ++i) waits[i].emplace(co_await send(batch[i], h));
  for (std::size_t i = 0; i < batch.size(); ++i) {
    record& r = batch[i];
    for (int attempt = 0;; ++attempt) {
      weir::result<int> got = co_await *waits[i];
      int err = got ? *got : static_cast<int>(RD_KAFKA_RESP_ERR__FAIL);
      if (!got) ++lost_reports_;  // reported by the runtime as a lost wake-up; produced again
      if (err == RD_KAFKA_RESP_ERR_NO_ERROR) break;
      if (const char* why = permanent(err)) {
        r.refused = why;
        break;
      }
      if (stopped_.load()) {
        r.undelivered = true;
        break;
      }
      h = current();
      if (h && rd_kafka_fatal_error(h->rk, nullptr, 0) != RD_KAFKA_RESP_ERR_NO_ERROR)
        replace_broken(h);
      // Purged by a replaced producer: at once; otherwise after a back-off.
      if (err != RD_KAFKA_RESP_ERR__PURGE_QUEUE && err != RD_KAFKA_RESP_ERR__PURGE_INFLIGHT)
        (void)co_await weir::sleep_for(backoff(attempt));
      ++resent_;
      waits[i].reset();
      waits[i].emplace(co_await send(r, h));
    }
  }
}

void kafka_sink::write_prometheus(weir::metrics::prometheus_writer& w) const {
  using weir::metrics::type;
  auto c = [](const std::atomic<std::uint64_t>& a) { return a.load(std::memory_order_relaxed); };
  w.write({"logship_kafka_produced_total", "Produce calls librdkafka accepted (resends included).",
           type::counter},
          {}, c(produced_));
  w.write({"logship_kafka_delivery_failures_total",
           "Delivery reports with an error (each is retried unless permanent).", type::counter},
          {}, c(failed_attempts_));
  w.write({"logship_kafka_resent_total",
           "Records produced again after a failed, purged or lost delivery (possible duplicates).",
           type::counter},
          {}, c(resent_));
  w.write({"logship_kafka_queue_full_waits_total",
           "Times a record waited for room in librdkafka's queue.", type::counter},
          {}, c(queue_full_waits_));
  w.write({"logship_kafka_producers_started_total",
           "Producers started (more than one: a fatal error replaced one).", type::counter},
          {}, c(producers_started_));
  w.write({"logship_kafka_lost_reports_total",
           "Delivery reports that never came (lost wake-ups; the record was produced again).",
           type::counter},
          {}, c(lost_reports_));
  w.write({"logship_kafka_healthy", "1 when the last delivery report was a success.", type::gauge},
          {}, healthy() ? 1 : 0);
  std::string json;
  {
    std::lock_guard lk(mu_);
    json = stats_json_;
  }
  if (json.empty()) return;
  simdjson::dom::parser p;
  simdjson::dom::element doc;
  if (p.parse(json).get(doc) != simdjson::SUCCESS) return;
  static constexpr std::pair<const char*, const char*> fields[] = {
      {"msg_cnt", "Messages in librdkafka's queues (librdkafka statistics)."},
      {"msg_size", "Bytes of messages in librdkafka's queues."},
      {"txmsgs", "Messages transmitted to brokers (total)."},
      {"txmsg_bytes", "Message bytes transmitted to brokers (total)."},
      {"tx", "Requests sent to brokers (total)."},
      {"rx", "Responses received from brokers (total)."},
  };
  for (const auto& [name, help] : fields) {
    std::int64_t v = 0;
    if (doc[name].get(v) != simdjson::SUCCESS) continue;
    const std::string metric = std::string("logship_rdkafka_") + name;
    w.write({metric, help, type::gauge}, {}, v);
  }
  std::int64_t up = 0;
  simdjson::dom::object brokers;
  if (doc["brokers"].get(brokers) == simdjson::SUCCESS)
    for (auto [k, b] : brokers) {
      std::string_view state;
      if (b["state"].get(state) == simdjson::SUCCESS && state == "UP") ++up;
    }
  w.write({"logship_rdkafka_brokers_up", "Brokers librdkafka is connected to.", type::gauge}, {},
          up);
}

// --- mock cluster ---------------------------------------------------------------------------

weir::result<std::unique_ptr<mock_cluster>> mock_cluster::start(int brokers) {
  std::unique_ptr<mock_cluster> m(new mock_cluster());
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  // The mock cluster needs a client instance to live in; this one produces nothing.
  (void)rd_kafka_conf_set(conf, "log.connection.close", "false", err, sizeof err);
  m->rk_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  if (!m->rk_) {
    rd_kafka_conf_destroy(conf);
    return weir::unexpected(weir::errc::invalid_input, std::string("mock cluster: ") + err);
  }
  m->mc_ = rd_kafka_mock_cluster_new(m->rk_, brokers);
  if (!m->mc_)
    return weir::unexpected(weir::errc::invalid_input, "mock cluster: cannot start its brokers");
  m->bootstrap_ = rd_kafka_mock_cluster_bootstraps(m->mc_);
  m->brokers_ = brokers;
  return m;
}

mock_cluster::~mock_cluster() {
  if (mc_) rd_kafka_mock_cluster_destroy(mc_);
  if (rk_) rd_kafka_destroy(rk_);
}

void mock_cluster::set_down(int id, bool down) {
  if (down)
    rd_kafka_mock_broker_set_down(mc_, id);
  else
    rd_kafka_mock_broker_set_up(mc_, id);
}

}  // namespace logship
