#include "service.hpp"

#include "base64.hpp"
#include "go_quote.hpp"

#include <weir/core/runtime.hpp>
#include <weir/core/time.hpp>
#include <weir/http/json.hpp>

#include <simdjson.h>

#include <charconv>
#include <cstdio>

namespace taskd {

namespace http = weir::http;

namespace {

// A request's id as 16 hex digits (X-Request-Id).
std::string hex_id(std::uint64_t id) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(id));
  return buf;
}

void text(http::response& s, int status, std::string body) {
  s.status(status);
  s.content_type("text/plain; charset=utf-8");
  s.body(std::move(body));
}

bool valid_utf8(std::string_view s) { return simdjson::validate_utf8(s.data(), s.size()); }

// The echo request of a body, as Go's json.Decoder into EchoRequest would read it (a missing
// or null field is empty; unknown fields are ignored; the last of duplicate fields wins), but
// strict where Go is lax: the whole body must be one valid JSON object, valid UTF-8 included.
// Escapes of lone UTF-16 surrogates decode to U+FFFD, as in Go.
// Returns an empty string, or the reason for `failed to read request: <reason>`.
std::string parse_echo(std::string_view body, std::string& kind, std::string& message) {
  thread_local simdjson::dom::parser parser;  // one per shard; reuses its buffers
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) return "empty body";
  std::string rewritten;  // lone surrogate escapes read as Go reads them (U+FFFD)
  body = go_json_surrogates(body, rewritten);
  simdjson::dom::element doc;
  if (auto err = parser.parse(body.data(), body.size()).get(doc)) {
    if (err == simdjson::DEPTH_ERROR) return "JSON nested deeper than 1024 levels";
    if (err == simdjson::UTF8_ERROR) return "the body is not valid UTF-8";
    return std::string("invalid JSON: ") + simdjson::error_message(err);
  }
  simdjson::dom::object obj;
  if (doc.get(obj)) return "the body is not a JSON object";
  for (auto field : obj) {
    std::string* into = field.key == "kind" ? &kind : field.key == "message" ? &message : nullptr;
    if (!into) continue;
    if (field.value.is_null()) {
      into->clear();
      continue;
    }
    std::string_view v;
    if (field.value.get(v)) return "field \"" + std::string(field.key) + "\" is not a string";
    into->assign(v);
  }
  return {};
}

}  // namespace

service::service(service_options o, store& s, pipeline_metrics& m)
    : opt_(o), store_(s), m_(m), ntf_(o.shards, o.shards > 1) {
  auto [tx, rx] = weir::channel<op>(o.queue_capacity, weir::cross_shard);
  for (unsigned k = 0; k < o.shards; ++k) {
    shards_.push_back(std::make_unique<shard_ctx>(k));
    shards_.back()->tx.emplace(tx);
  }
  rx_.emplace(std::move(rx));
}

service::~service() = default;

weir::receiver<op> service::take_receiver() {
  weir::receiver<op> rx = std::move(*rx_);
  rx_.reset();
  return rx;
}

void service::close_queue() noexcept {
  for (auto& s : shards_) s->tx.reset();
}

http::router service::routes() {
  http::router r;
  r.post("/echo", [this](http::request& q, http::response& s) { return echo(q, s); });
  r.put("/kv/{key}", [this](http::request& q, http::response& s) { return kv_put(q, s); });
  r.get("/kv/{key}", [this](http::request& q, http::response& s) { return kv_get(q, s); });
  r.del("/kv/{key}", [this](http::request& q, http::response& s) { return kv_delete(q, s); });
  r.get("/kv", [this](http::request& q, http::response& s) { return kv_list(q, s); });
  return r;
}

weir::task<reply> service::submit(op o, std::uint64_t& id) {
  shard_ctx& sh = *shards_[weir::this_shard()];
  if (!sh.tx) {
    m_.shutting_down.inc();
    co_return reply{503, "shutting down", 0, false};
  }
  id = sh.ids.next();
  o.id = id;
  auto t = ntf_.register_id(id);
  if (!t) co_return reply{500, "failed to register request: " + t.error().message(), 0, false};
  const auto now = weir::now();
  const auto deadline = now + opt_.request_timeout;
  const auto room_deadline = std::min(deadline, now + opt_.queue_wait);
  o.enqueued = now;
  // Room in the queue: at once when there is some, else wait within queue_wait.
  auto sent = sh.tx->try_send(std::move(o));
  if (!sent && sent.error() == weir::errc::full) {
    auto send = sh.tx->send(sent.take_value());  // try_send handed `o` back
    sent = co_await weir::with_deadline(room_deadline, std::move(send));
  }
  if (!sent) {
    if (sent.error() == weir::errc::timed_out && room_deadline < deadline) {
      m_.queue_full.inc();
      co_return reply{503, "queue full", 0, false};
    }
    if (sent.error() == weir::errc::timed_out) {
      m_.apply_timeouts.inc();
      co_return reply{504, "apply timeout", 0, false};
    }
    if (sent.error() == weir::errc::closed) {
      m_.shutting_down.inc();
      co_return reply{503, "shutting down", 0, false};
    }
    co_return reply{503, "failed to schedule: " + sent.error().message(), 0, false};
  }
  m_.queued.add(1);
  auto result = co_await weir::with_deadline(deadline, t->wait());
  if (!result) {
    if (result.error() == weir::errc::timed_out) {
      m_.apply_timeouts.inc();
      co_return reply{504, "apply timeout", 0, false};
    }
    co_return reply{503, "failed to apply: " + result.error().message(), 0, false};
  }
  co_return std::move(*result);
}

void service::answer_store_error(http::response& s, const weir::error& e) {
  if (e == unavailable) {
    s.header("Retry-After", "1");
    http::reply_error(s, 503, e.message());
    return;
  }
  http::reply_error(s, 500, e.message());
}

bool service::answer_failure(http::response& s, const reply& r, std::uint64_t id) {
  if (id) s.header("X-Request-Id", hex_id(id));
  if (r.status == 200) return false;
  if (r.status == 503) s.header("Retry-After", "1");
  text(s, r.status, r.text);
  return true;
}

weir::task<> service::echo(http::request& q, http::response& s) {
  if (const auto& h = q.head();
      h.body == http::framing::length && h.content_length > opt_.max_body_bytes) {
    text(s, 413,
         "failed to read request: body larger than " + std::to_string(opt_.max_body_bytes) +
             " bytes");
    co_return;
  }
  auto body = co_await q.body();
  if (!body) co_return;  // the server answers (408, 413, 400) and closes
  if (body->size() > opt_.max_body_bytes) {
    text(s, 413,
         "failed to read request: body larger than " + std::to_string(opt_.max_body_bytes) +
             " bytes");
    co_return;
  }
  std::string kind, message;
  if (std::string why = parse_echo(*body, kind, message); !why.empty()) {
    text(s, 400, "failed to read request: " + why);
    co_return;
  }
  op o;
  if (kind == "create") {
    o.k = op::kind::echo_create;
  } else if (kind == "delete") {
    o.k = op::kind::echo_delete;
  } else {
    std::string msg = "failed to apply: unknown request kind ";
    go_quote(msg, kind);
    text(s, 400, std::move(msg));
    co_return;
  }
  o.key = std::move(message);
  std::uint64_t id = 0;
  reply r = co_await submit(std::move(o), id);
  if (answer_failure(s, r, id)) co_return;
  text(s, 200, std::move(r.text));
}

bool service::key_of(http::request& q, http::response& s, std::string& key) const {
  if (!http::percent_decode(q.param("key"), key)) {
    http::reply_error(s, 400, "malformed percent-escape in the key");
    return false;
  }
  if (key.size() > opt_.max_key_bytes) {
    http::reply_error(s, 400, "key longer than " + std::to_string(opt_.max_key_bytes) + " bytes");
    return false;
  }
  if (!valid_utf8(key)) {
    http::reply_error(s, 400, "the key is not valid UTF-8");
    return false;
  }
  return true;
}

weir::task<> service::kv_put(http::request& q, http::response& s) {
  std::string key;
  if (!key_of(q, s, key)) co_return;
  const std::string too_big =
      "value larger than " + std::to_string(opt_.max_value_bytes) + " bytes";
  if (const auto& h = q.head();
      h.body == http::framing::length && h.content_length > opt_.max_value_bytes) {
    http::reply_error(s, 413, too_big);
    co_return;
  }
  auto body = co_await q.body();
  if (!body) co_return;
  if (body->size() > opt_.max_value_bytes) {
    http::reply_error(s, 413, too_big);
    co_return;
  }
  op o;
  o.k = op::kind::put;
  o.key = key;
  o.value.assign(*body);
  std::uint64_t id = 0;
  reply r = co_await submit(std::move(o), id);
  if (answer_failure(s, r, id)) co_return;
  s.header("X-Taskd-Revision", std::to_string(r.revision));
  http::json_writer w;
  w.begin_object().key("key").value(key).key("revision").value(r.revision).end_object();
  http::reply_json(s, 200, w.take());
}

weir::task<> service::kv_delete(http::request& q, http::response& s) {
  std::string key;
  if (!key_of(q, s, key)) co_return;
  op o;
  o.k = op::kind::del;
  o.key = key;
  std::uint64_t id = 0;
  reply r = co_await submit(std::move(o), id);
  if (answer_failure(s, r, id)) co_return;
  s.header("X-Taskd-Revision", std::to_string(r.revision));
  http::json_writer w;
  w.begin_object()
      .key("key")
      .value(key)
      .key("deleted")
      .value(r.existed ? 1 : 0)
      .key("revision")
      .value(r.revision)
      .end_object();
  http::reply_json(s, 200, w.take());
}

weir::task<> service::kv_get(http::request& q, http::response& s) {
  std::string key;
  if (!key_of(q, s, key)) co_return;
  auto done = co_await store_.get(key);
  if (!done) {
    answer_store_error(s, done.error());
    co_return;
  }
  std::optional<kv_entry>& got = *done;
  if (!got) {
    http::reply_error(s, 404, "key not found");
    co_return;
  }
  s.header("X-Taskd-Revision", std::to_string(got->mod_revision));
  s.content_type("application/octet-stream");
  s.body(std::move(got->value));
}

weir::task<> service::kv_list(http::request& q, http::response& s) {
  std::string prefix;
  if (!http::percent_decode(q.query_param("prefix"), prefix)) {
    http::reply_error(s, 400, "malformed percent-escape in prefix");
    co_return;
  }
  std::size_t limit = 100;
  if (const std::string_view l = q.query_param("limit"); !l.empty()) {
    auto [p, ec] = std::from_chars(l.data(), l.data() + l.size(), limit);
    if (ec != std::errc() || p != l.data() + l.size() || limit < 1 || limit > 10000) {
      http::reply_error(s, 400, "limit: expected an integer in [1, 10000]");
      co_return;
    }
  }
  auto listed = co_await store_.list(prefix, limit);
  if (!listed) {
    answer_store_error(s, listed.error());
    co_return;
  }
  const kv_page& page = *listed;
  http::json_writer w;
  w.begin_object()
      .key("revision")
      .value(page.revision)
      .key("count")
      .value(static_cast<std::uint64_t>(page.kvs.size()))
      .key("more")
      .value(page.more)
      .key("kvs")
      .begin_array();
  std::string b64;
  for (const kv_entry& e : page.kvs) {
    b64.clear();
    base64(b64, e.value);
    w.begin_object()
        .key("key")
        .value(e.key)
        .key("value")
        .value(b64)
        .key("mod_revision")
        .value(e.mod_revision)
        .end_object();
  }
  w.end_array().end_object();
  s.header("X-Taskd-Revision", std::to_string(page.revision));
  http::reply_json(s, 200, w.take());
}

void service::write_prometheus(weir::metrics::prometheus_writer& w) const {
  using weir::metrics::type;
  w.write({"taskd_queue_depth", "Ops in the task queue.", type::gauge}, {}, m_.queued.value());
  w.write({"taskd_queue_capacity", "Capacity of the task queue.", type::gauge}, {},
          opt_.queue_capacity);
  w.write(
      {"taskd_notifier_pending", "Requests registered and waiting for their result.", type::gauge},
      {}, ntf_.pending());
  w.write({"taskd_notifier_unknown_total", "Results for requests already gone.", type::counter}, {},
          ntf_.unknown_triggers());
  w.write({"taskd_revision", "The store's current revision.", type::gauge}, {}, store_.revision());
  store_.write_prometheus(w);
  m_.write(w);
}

}  // namespace taskd
